#!/bin/bash
# bench-syscalls.sh: system calls, context switches, page faults and CPU time
# of a server per call, counted by perf on the server's processes (every
# thread; Kamailio's forked children too) while sipp runs CALLS calls at
# RATE/s.  The job (JOB, default proxy):
#  - proxy: xml/proxy.xml, INVITE..BYE through Record-Route as bench-proxy.sh,
#    sipp's caller from a socket per call (-t un: the kernel spreads them
#    over the workers' sockets); 6 datagrams in and 6 out a call;
#  - register: xml/redirect.xml, REGISTER with digest as bench-redirect.sh
#    (memory location): REGISTER, 401, REGISTER, 200; 2 in, 2 out;
#  - redirect: the same server, one registration first, then INVITE, 302,
#    ACK; 2 in, 1 out.
# SIPFLOW "kamailio" runs Kamailio 5.6 on the same job instead
# (bench/kamailio-proxy.cfg, bench/kamailio-registrar.cfg with the memory
# usrloc), with WORKERS UDP children: its counts beside sipflow's.
# At WORKERS > 1 the proxy forwards with core.worker_source=own, as
# bench-proxy.sh.
# The counts of write(2) and read(2) are sipflow's event lines and the main
# contexts' wake-up descriptors; poll(2) is a turn of a loop that slept
# (Kamailio's children block in recvfrom).  Counts do not depend on the
# machine's load as CPU time does (user and sys, from /proc, in 1/100 s
# ticks: indicative).  Needs perf (the syscalls tracepoints: root or
# perf_event_paranoid <= 1) and sipp.
# WARM=S (seconds) measures a steady state instead: sipp runs S*RATE calls
# more, the counts start after S seconds and last CALLS/RATE seconds, and
# "per call" is per RATE calls a second of that window.  Transactions live 32
# s after their last response (Timer J, 64*T1) and a run shorter than that
# sees the heap grow and no timer fire; WARM=40 sees them end as fast as they
# start (sipp's one address then holds 32,000 live transactions at 1000/s:
# sip.max_per_source is off, as sip.rate_limit is; a proxied call holds
# three for 32 s, more than sip.max_instances' 50,000 at 1000 calls a second:
# raised for the proxy).
# Usage: [JOB=proxy|register|redirect] [WARM=S] bench/bench-syscalls.sh SIPFLOW|kamailio [WORKERS [CALLS [RATE]]]
#        (defaults 1, 3000, 1000)
set -u
SIPFLOW=${1:?usage: bench-syscalls.sh SIPFLOW|kamailio [WORKERS [CALLS [RATE]]]}
W=${2:-1}
CALLS=${3:-3000}
RATE=${4:-1000}
JOB=${JOB:-proxy}
WARM=${WARM:-0}
HERE=$(cd "$(dirname "$0")/.." && pwd)
SCEN=$HERE/tests/integration/sipp
command -v perf >/dev/null || { echo "bench-syscalls: perf is not installed" >&2; exit 1; }
command -v sipp >/dev/null || { echo "bench-syscalls: sipp is not installed" >&2; exit 1; }
. "$(dirname "$0")/lib.sh"
bench_init

# the server: PORT, SRVPIDS (what perf counts and /proc sums)
case $JOB in
  proxy)
    uport=$(free_port)
    sipp -sf "$SCEN/uas-rr.xml" -p "$uport" -i 127.0.0.1 -nostdin -timeout 600 >/dev/null 2>&1 &
    PIDS+=($!)
    if [ "$SIPFLOW" = kamailio ]; then
      KWORKERS=$W kamailio_start kamailio-proxy.cfg $((RATE * 150 / 1000 + 64)) -A "KCHILDREN=$W" || exit 1
    else
      sipflow_start proxy.xml --listen udp:127.0.0.1:0 --set proxy.trusted=127.0.0.0/8 --set "core.workers=$W" \
        --set sip.max_instances=500000 --set core.worker_source=own --log-level error
    fi
    ;;
  register | redirect)
    printf 'sipp:sippass\n' >"$T/users"
    if [ "$SIPFLOW" = kamailio ]; then
      KWORKERS=$W kamailio_start kamailio-registrar.cfg $((RATE * 70 / 1000 + 64)) || exit 1
    else
      sipflow_start redirect.xml --listen udp:127.0.0.1:0 --set "registrar.users=$T/users" --set auth.algorithms=MD5 \
        --set sip.rate_limit=0 --set sip.max_per_source=0 --set location.backend=memory --set "core.workers=$W" \
        --log-level error
    fi
    ;;
  *) echo "bench-syscalls: JOB is proxy, register or redirect" >&2; exit 2 ;;
esac
if [ "$SIPFLOW" = kamailio ]; then
  # shellcheck disable=SC2153 # KPORT: set by kamailio_start
  PORT=$KPORT
  SRVPIDS="$K $(pgrep -P "$K" | tr '\n' ' ')"
else
  [ -n "$SF_PORT" ] || { echo "bench-syscalls: sipflow did not start" >&2; tail -5 "$T/err" >&2; exit 1; }
  PORT=$SF_PORT
  SRVPIDS=$SF
fi
SRVLIST=$(echo "$SRVPIDS" | xargs | tr ' ' ,) # perf's -p
if [ "$JOB" = redirect ]; then
  sipp "127.0.0.1:$PORT" -sf "$SCEN/uac-register.xml" -p "$(free_port)" -i 127.0.0.1 -nostdin -timeout 30 \
    -s sipp -au sipp -ap sippass -m 1 >/dev/null 2>&1
fi

# ticks: user and sys ticks summed over SRVPIDS and their threads
ticks2() {
  local p u=0 s=0 st
  for p in $SRVPIDS; do
    for st in /proc/"$p"/task/*/stat; do
      read -r -a f <"$st" 2>/dev/null || continue
      u=$((u + f[13]))
      s=$((s + f[14]))
    done
  done
  echo "$u $s"
}
# nvcsw: nonvoluntary context switches summed over SRVPIDS' threads (the
# times the scheduler took the CPU from a server thread that could still run:
# a peer woken by our send preempting us, say); perf's context-switches count
# both kinds
nvcsw() {
  local p n=0 k v st
  for p in $SRVPIDS; do
    for st in /proc/"$p"/task/*/status; do
      while read -r k v; do [ "$k" = nonvoluntary_ctxt_switches: ] && n=$((n + v)); done <"$st" 2>/dev/null
    done
  done
  echo "$n"
}

ev=task-clock,context-switches,cpu-migrations,page-faults
for s in poll epoll_wait write read futex recvfrom recvmmsg sendto sendmsg sendmmsg brk madvise; do ev=$ev,syscalls:sys_enter_$s; done
ev=$ev,raw_syscalls:sys_enter
# the loop's waits: polls that may sleep (a timeout not 0), and polls that
# found nothing (nothing ready at a poll(0), or a wait ended by its timeout: a
# timer or the event lines' flush)
waits=(-e syscalls:sys_enter_poll --filter 'timeout_msecs != 0' -e syscalls:sys_exit_poll --filter 'ret == 0')
case $JOB in
  proxy) job=(-sf "$SCEN/uac-rr.xml" -t un -max_socket 2000 -s callee -key uas "127.0.0.1:$uport") ;;
  register) job=(-sf "$SCEN/uac-register.xml" -s sipp -au sipp -ap sippass) ;;
  redirect) job=(-sf "$SCEN/uac-302.xml" -s sipp) ;;
esac
sipp_job() {
  sipp "127.0.0.1:$PORT" -p "$(free_port)" -i 127.0.0.1 -nostdin -timeout 600 "${job[@]}" -m "$1" -r "$RATE" \
    -trace_stat -stf "$T/stat.csv" >/dev/null 2>&1
}
if [ "$WARM" -gt 0 ]; then
  sipp_job $((CALLS + WARM * RATE)) &
  sp=$!
  sleep "$WARM"
  read -r u0 s0 < <(ticks2)
  nv0=$(nvcsw)
  perf stat -x, -e "$ev" "${waits[@]}" -p "$SRVLIST" -o "$T/perf" -- sleep "$(echo "$CALLS / $RATE" | bc -l)" 2>/dev/null
  read -r u1 s1 < <(ticks2)
  nv1=$(nvcsw)
  wait "$sp"
else
  perf stat -x, -e "$ev" "${waits[@]}" -p "$SRVLIST" -o "$T/perf" 2>/dev/null &
  pp=$!
  for _ in $(seq 50); do [ -s "$T/perf" ] && break; sleep 0.1; done # perf has attached when it wrote its header
  read -r u0 s0 < <(ticks2)
  nv0=$(nvcsw)
  sipp_job "$CALLS"
  read -r u1 s1 < <(ticks2)
  nv1=$(nvcsw)
  kill -INT "$pp"
  wait "$pp"
fi
when=
[ "$WARM" -gt 0 ] && when=", counted after $WARM s"
ok=$(awk -F';' 'NR==1 { for (i = 1; i <= NF; i++) { if ($i == "SuccessfulCall(C)") c = i; if ($i == "Retransmissions(C)") r = i } }
  END { print $c + 0, $r + 0 }' "$T/stat.csv" 2>/dev/null)
if [ "$SIPFLOW" = kamailio ]; then
  kill "$K"
  wait "$K" 2>/dev/null
else
  echo quit >&3
  exec 3>&-
  wait "$SF"
fi
echo "$(basename "$SIPFLOW") $JOB, workers $W, $CALLS calls at $RATE/s$when (${ok% *} successful, ${ok#* } retransmissions):" \
  "user $(((u1 - u0) * 10000 / CALLS)) ms, sys $(((s1 - s0) * 10000 / CALLS)) ms per 1000 calls (ticks of 10 ms)"
awk -F, -v c="$CALLS" '!/^#/ && NF > 2 && $1 ~ /^[0-9.]+$/ {
  if ($3 == "syscalls:sys_enter_poll" && seen++) $3 = "poll that may sleep"
  if ($3 == "syscalls:sys_exit_poll") $3 = "poll found nothing"
  sub(/^syscalls:sys_enter_/, "", $3); sub(/^raw_syscalls:sys_enter$/, "all syscalls", $3)
  if ($3 == "task-clock") printf "  %-20s %8.3f ms per call\n", $3, $1 / c
  else printf "  %-20s %8.2f per call\n", $3, $1 / c }' "$T/perf"
awk -v n=$((nv1 - nv0)) -v c="$CALLS" 'BEGIN { printf "  %-20s %8.2f per call\n", "nonvoluntary cs", n / c }'
