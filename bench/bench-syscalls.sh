#!/bin/bash
# bench-syscalls.sh: system calls, context switches and CPU time of the proxy
# (xml/proxy.xml, INVITE..BYE through Record-Route as bench-proxy.sh) per
# call, counted by perf on the sipflow process while sipp runs CALLS calls
# at RATE/s from a socket per call (-t un: the kernel spreads them over the
# workers' sockets).  The counts of write(2) and read(2) are mostly the main
# contexts' wake-up descriptors (and the event lines' writes); poll(2) is a
# turn of a loop that slept.  Counts do not depend on the machine's load as
# CPU time does (user and sys, from /proc, in 1/100 s ticks: indicative).
# At WORKERS > 1 with core.worker_source=own, as bench-proxy.sh.
# Needs perf (with the syscalls tracepoints: root or perf_event_paranoid <= 1)
# and sipp.
# Usage: bench/bench-syscalls.sh SIPFLOW [WORKERS [CALLS [RATE]]]   (defaults 1, 3000, 1000)
set -u
SIPFLOW=${1:?usage: bench-syscalls.sh SIPFLOW [WORKERS [CALLS [RATE]]]}
W=${2:-1}
CALLS=${3:-3000}
RATE=${4:-1000}
HERE=$(cd "$(dirname "$0")/.." && pwd)
SCEN=$HERE/tests/integration/sipp
command -v perf >/dev/null || { echo "bench-syscalls: perf is not installed" >&2; exit 1; }
command -v sipp >/dev/null || { echo "bench-syscalls: sipp is not installed" >&2; exit 1; }
. "$(dirname "$0")/lib.sh"
bench_init

uport=$(free_port)
sipp -sf "$SCEN/uas-rr.xml" -p "$uport" -i 127.0.0.1 -nostdin -timeout 600 >/dev/null 2>&1 &
PIDS+=($!)
sipflow_start proxy.xml --listen udp:127.0.0.1:0 --set proxy.trusted=127.0.0.0/8 --set "core.workers=$W" \
  --set core.worker_source=own --log-level error
[ -n "$SF_PORT" ] || { echo "bench-syscalls: sipflow did not start" >&2; tail -5 "$T/err" >&2; exit 1; }
ev=task-clock,context-switches
for s in poll write read futex recvmmsg sendto sendmsg; do ev=$ev,syscalls:sys_enter_$s; done
perf stat -x, -e "$ev" -p "$SF" -o "$T/perf" 2>/dev/null &
pp=$!
for _ in $(seq 50); do [ -s "$T/perf" ] && break; sleep 0.1; done # perf has attached when it wrote its header
read -r -a st0 <"/proc/$SF/stat"
sipp "127.0.0.1:$SF_PORT" -sf "$SCEN/uac-rr.xml" -p "$(free_port)" -i 127.0.0.1 -nostdin -timeout 600 -t un -max_socket 2000 \
  -s callee -key uas "127.0.0.1:$uport" -m "$CALLS" -r "$RATE" >/dev/null 2>&1
read -r -a st1 <"/proc/$SF/stat"
kill -INT "$pp"
wait "$pp"
echo quit >&3
exec 3>&-
wait "$SF"
echo "workers $W, $CALLS calls at $RATE/s: user $(((st1[13] - st0[13]) * 10000 / CALLS)) ms, sys $(((st1[14] - st0[14]) * 10000 / CALLS)) ms per 1000 calls (ticks of 10 ms)"
awk -F, -v c="$CALLS" '!/^#/ && NF > 2 { sub(/^syscalls:sys_enter_/, "", $3); printf "  %-18s %8.2f per call\n", $3, $1 / c }' "$T/perf"
