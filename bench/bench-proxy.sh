#!/bin/bash
# bench-proxy.sh: CPU time of xml/proxy.xml as a stateful record-routing proxy
# under sipp at a fixed rate, and of Kamailio set up for the same job
# (bench/kamailio-proxy.cfg) when it is installed, against the same called
# party:
#  - a sipp UAS that copies Record-Route into its 180 and 200
#    (tests/integration/sipp/uas-rr.xml);
#  - sipp calls through the proxy: INVITE to sip:callee@UAS, 100, 180, 200,
#    then ACK and BYE to the 200's Contact with the recorded Route, 200
#    (tests/integration/sipp/uac-rr.xml): per call the proxy receives six
#    messages and sends seven (its own 100 included): an INVITE and a BYE
#    transaction, and the ACK for the 2xx, which passes statelessly.
# Proxy CPU is user+sys from /proc/PID/stat (fields 14, 15), summed over the
# proxy's processes (Kamailio forks), before and after each run; the two sipps
# are not counted.
# With "max", each proxy runs CALLS calls at each rate of RATES (default
# "500 1000 2000 3000 4000") in turn, until a run is not clean, and the highest
# clean rate is printed (RATE is then not used): clean is every call successful,
# no retransmission on sipp's side, and a wall time within 20% + 1 s of
# CALLS/RATE (a slower run means sipp or the proxy could not keep the rate).
# WORKERS=N (default 1) runs sipflow with core.workers=N (and
# core.worker_source=own: each worker forwards from a port of its own, so the
# callee's responses come back to it; sipp answers to the Via) and Kamailio with
# N children (KWORKERS, default 2, wins for Kamailio when set); SOURCES=many
# has the caller use a socket per call (sipp -t un), so that the kernel
# spreads the calls over the workers' SO_REUSEPORT sockets (docs/workers.md);
# the default, one, is one source port, the worst case for them.  Each
# sipflow run prints its workers' handed_out per call (messages read by one
# worker and run by another).
# KARGS adds options to Kamailio's command line: KARGS="-x tlsf -X tlsf" runs
# it with its TLSF allocator instead of q_malloc, Debian's default (q_malloc's
# free-list search is about half of Kamailio's CPU on this job).
# Usage: bench/bench-proxy.sh SIPFLOW [CALLS [RATE]] [max]   (defaults 5000, 500)
set -u
SIPFLOW=${1:?usage: bench-proxy.sh SIPFLOW [CALLS [RATE]] [max]}
shift
MODE=
ARGS=()
for a in "$@"; do
  if [ "$a" = max ]; then MODE=max; else ARGS+=("$a"); fi
done
CALLS=${ARGS[0]:-5000}
RATE=${ARGS[1]:-500}
if [ "$MODE" = max ]; then RATES=${RATES:-500 1000 2000 3000 4000}; else RATES=$RATE; fi
TOP=$(printf '%s\n' $RATES | sort -n | tail -1)
LOW=$(printf '%s\n' $RATES | sort -n | head -1)
HERE=$(cd "$(dirname "$0")/.." && pwd)
SCEN=$HERE/tests/integration/sipp
. "$(dirname "$0")/lib.sh"
bench_init
HZ=$(getconf CLK_TCK)
KWORKERS=${KWORKERS:-${WORKERS:-2}}
WORKERS=${WORKERS:-1}
SRC=()
[ "${SOURCES:-one}" = many ] && SRC=(-t un -max_socket 2000)

# run NAME PORT SCENARIO ARGS...: one sipp run, stopped if the proxy $WATCH
# exits; prints "successful wall retransmissions"
run() {
  local name=$1 port=$2 scen=$3
  shift 3
  local start end ok
  start=$(date +%s.%N)
  sipp "127.0.0.1:$port" -sf "$scen" -p $((20000 + RANDOM % 20000)) -i 127.0.0.1 -nostdin -timeout "$BOUND" -timeout_error \
    -trace_stat -stf "$T/$name.csv" "${SRC[@]}" "$@" >/dev/null 2>&1 &
  local s=$!
  # a proxy that dies stops the run (not minutes of retransmissions)
  while alive "$s"; do
    alive "$WATCH" || kill "$s" 2>/dev/null
    sleep 0.1
  done
  wait "$s"
  end=$(date +%s.%N)
  ok=$(awk -F';' 'NR==1 { for (i = 1; i <= NF; i++) if ($i == "SuccessfulCall(C)") c = i } END { print $c }' "$T/$name.csv" 2>/dev/null)
  re=$(awk -F';' 'NR==1 { for (i = 1; i <= NF; i++) if ($i == "Retransmissions(C)") c = i } END { print $c }' "$T/$name.csv" 2>/dev/null)
  echo "${ok:-0} $(echo "$end - $start" | bc -l) ${re:-0}"
}

# measure LABEL PORT RATE PIDS: calls through the proxy; prints the figures,
# returns 0 when every call succeeded
measure() {
  local label=$1 port=$2 rate=$3
  shift 3
  local b a res ok wall re
  WATCH=$1
  b=$(ticks "$@")
  res=$(run "$label-$rate" "$port" "$SCEN/uac-rr.xml" -s callee -key uas "127.0.0.1:$UPORT" -m "$CALLS" -r "$rate")
  a=$(ticks "$@")
  read -r ok wall re <<<"$res"
  if alive "$WATCH"; then
    printf '%-9s INVITE..BYE via Record-Route: %s of %s at %s/s, wall %.1f s, %s retransmissions, proxy CPU %.2f s = %.1f ms per 1000\n' \
      "$label" "$ok" "$CALLS" "$rate" "$wall" "$re" "$(echo "($a - $b) / $HZ" | bc -l)" "$(echo "($a - $b) * 1000000 / $HZ / $CALLS" | bc -l)"
  else
    printf '%-9s INVITE..BYE via Record-Route: %s of %s at %s/s, wall %.1f s, proxy CPU unknown (it exited)\n' "$label" \
      "$ok" "$CALLS" "$rate" "$wall"
  fi
  # clean: every call, no retransmission, and the calls placed at the rate asked
  # (wall within 20% + 1 s of CALLS/RATE: past that sipp or the proxy lags)
  [ "$label" = sipflow ] && [ "$WORKERS" -gt 1 ] && sf_handed "$CALLS"
  [ "$ok" = "$CALLS" ] && [ "$re" = 0 ] && [ "$(echo "$wall <= $CALLS / $rate * 1.2 + 1" | bc -l)" = 1 ]
}

# measure_all LABEL PORT PIDS: one run at each rate (stops at the first
# unclean one in max mode)
measure_all() {
  local label=$1 port=$2 best='' r
  shift 2
  for r in $RATES; do
    if ! alive "$1"; then
      echo "$label: the proxy has exited: no more runs"
      break
    fi
    measure "$label" "$port" "$r" "$@" || break
    best=$r
  done
  [ "$MODE" = max ] || return 0
  if [ -n "$best" ]; then
    printf '%-9s highest clean rate: %s/s (every one of %s calls, no retransmission, on time)\n' "$label" "$best" "$CALLS"
  else
    printf '%-9s highest clean rate: none (calls lost at %s/s)\n' "$label" "$LOW"
  fi
}

# each sipp caller run is bounded: the calls at the lowest rate, and a minute
# and a half for the last ones (an INVITE retransmitted to its end is 64 s)
BOUND=$((CALLS / LOW + 90))

# ---- the called party, for both proxies ----
for _ in 1 2 3 4 5; do
  UPORT=$((20000 + RANDOM % 20000))
  bound "$UPORT" && continue
  sipp -sf "$SCEN/uas-rr.xml" -p "$UPORT" -i 127.0.0.1 -nostdin -timeout $((2 * BOUND * $(echo $RATES | wc -w) + 120)) \
    >"$T/uas.out" 2>&1 &
  U=$!
  for _ in $(seq 100); do bound "$UPORT" && break; alive "$U" || break; sleep 0.05; done
  sleep 0.1
  if alive "$U"; then PIDS+=("$U"); break; fi
  U=
done
if [ -z "${U:-}" ]; then
  echo "sipp uas-rr.xml did not start:"
  tail -5 "$T/uas.out"
  exit 1
fi

# ---- sipflow ----
sipflow_start proxy.xml --listen udp:127.0.0.1:0 --set proxy.trusted=127.0.0.0/8 --set "core.workers=$WORKERS" \
  --set core.worker_source=own --log-level error
PORT=$SF_PORT
if [ -n "$PORT" ] && alive "$SF"; then
  measure_all sipflow "$PORT" "$SF"
  if ! alive "$SF"; then
    echo "sipflow: exited during the runs:"
    tail -5 "$T/err" | sed 's/^/  /'
  fi
else
  if alive "$SF"; then
    echo "sipflow: no \"listening\" event within 5 s: not measured"
  else
    wait "$SF"
    echo "sipflow: did not start (exit status $?): not measured"
  fi
  tail -5 "$T/err" | sed 's/^/  /'
fi
(echo quit >&3) 2>/dev/null
exec 3>&-

# ---- Kamailio, set up for the same job (bench/kamailio-proxy.cfg, docs/testing.md) ----
if ! command -v kamailio >/dev/null; then
  echo "kamailio: not installed (Debian package kamailio): no comparison"
  exit 0
fi
# shared memory: about 150 KB per call/s (transactions are kept 5 s)
if ! KWORKERS=$KWORKERS kamailio_start kamailio-proxy.cfg $((TOP * 150 / 1000 + 64)) -A "KCHILDREN=$KWORKERS"; then
  echo "kamailio: did not start: not measured"
  exit 1
fi
echo "kamailio: $KWORKERS children"
measure_all kamailio "$KPORT" "$K"
if grep -q -i 'out of mem' "$T/k.out"; then
  echo "kamailio: ran out of shared memory (raise -m): its figures measure retransmissions"
fi
