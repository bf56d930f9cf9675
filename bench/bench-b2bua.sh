#!/bin/bash
# bench-b2bua.sh: what a call through xml/b2bua.xml costs (issue 24's benchmark).
#  - signalling (default): sipp (tests/integration/sipp/b2b-uac.xml) calls
#    through the B2BUA (b2bua.media = pass) to sipp (b2b-uas.xml), CALLS calls
#    at RATE calls/s; beside it the same sipps' record-routing pair
#    (uac-rr.xml, uas-rr.xml) through xml/proxy.xml.  Three runs of each,
#    alternated; each figure is the server's CPU (user+sys, /proc/PID/stat)
#    per 1000 calls, the median of the three, and the B2BUA/proxy ratio.  A
#    B2BUA call is three instances (a bridge, two legs) and twice the
#    transactions of a proxied one.
#  - media N SECS: N calls between two sipflow UAs (xml/ua.xml, GStreamer,
#    PCMU 20 ms, a tone each way, sink none) through the B2BUA with
#    b2bua.media = anchor, all up, then the B2BUA's CPU over a SECS window:
#    per call-second, and the packets the callee received per call-second
#    (50 each way per call: 100 relayed per call-second) and lost.
# A benchmark, not a test: not in make check; figures in bench/README.md.
# Usage: bench/bench-b2bua.sh SIPFLOW [CALLS [RATE]] [media N SECS]   (defaults 5000, 500)
set -u
export SIPFLOW=${1:?usage: bench-b2bua.sh SIPFLOW [CALLS [RATE]] [media N SECS]}
shift
CALLS=5000 RATE=500 MEDIA= N=1 SECS=10
[ $# -gt 0 ] && [ "$1" != media ] && { CALLS=$1; shift; }
[ $# -gt 0 ] && [ "$1" != media ] && { RATE=$1; shift; }
if [ "${1:-}" = media ]; then MEDIA=1 N=${2:-1} SECS=${3:-10}; fi
. "$(dirname "$0")/../tests/integration/lib.sh"
SCEN=$(cd "$(dirname "$0")/../tests/integration/sipp" && pwd)
HZ=$(getconf CLK_TCK)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }

if [ -n "$MEDIA" ]; then
  m=(--set media.codecs=PCMU --set media.sink=none --set ua.max_calls=1000 --log-level error)
  start callee xml/ua.xml "${m[@]}" --set media.rtp_ports=30000-33998 --set ua.uri=sip:b@127.0.0.1 \
    --set ua.auto_answer=0 --set media.source=tone:440 || exit 1
  start b2b xml/b2bua.xml --log-level error --set media.rtp_ports=34000-37998 --set b2bua.media=anchor \
    --set "b2bua.target=sip:b@127.0.0.1:$PORT_callee" || exit 1
  start caller xml/ua.xml "${m[@]}" --set media.rtp_ports=38000-39998 --set ua.uri=sip:a@127.0.0.1 \
    --set media.source=tone:1000 || exit 1
  for i in $(seq "$N"); do cmd caller call "sip:b@127.0.0.1:$PORT_b2b"; done
  wait_ev caller '"event":"media".*"dir":"sendrecv"' 60 "$N" || { echo "not all $N calls came up"; exit 1; }
  b=$(ticks "$PID_b2b")
  sleep "$SECS" # the measurement window (a benchmark, not a test)
  a=$(ticks "$PID_b2b")
  for c in $(grep -o '"event":"reply","command":"call","ok":true,"call":"c[0-9]*"' "$T/caller.events" | cut -d'"' -f14); do
    cmd caller hangup "$c"
  done
  wait_ev callee '"event":"call_end"' 60 "$N"
  recv=$(grep '"event":"call_end"' "$T/callee.events" | sed 's/.*"packets_received":\([0-9]*\).*/\1/' | paste -sd+ | bc)
  lost=$(grep '"event":"call_end"' "$T/callee.events" | sed 's/.*"packets_lost":\([0-9]*\).*/\1/' | paste -sd+ | bc)
  dur=$(grep '"event":"call_end"' "$T/callee.events" | sed 's/.*"duration_s":\([0-9.]*\).*/\1/' | paste -sd+ | bc)
  cpu=$(echo "($a - $b) / $HZ" | bc -l)
  printf 'anchored, %d call(s), %d s window: B2BUA CPU %.2f s (%.1f%% of a core), %.2f ms per call-second\n' "$N" "$SECS" \
    "$cpu" "$(echo "$cpu * 100 / $SECS" | bc -l)" "$(echo "$cpu * 1000 / ($N * $SECS)" | bc -l)"
  printf '  the callee received %s packets through the relay (%.1f per call-second, 50 expected each way), lost %s\n' \
    "$recv" "$(echo "$recv / $dur" | bc -l)" "$lost"
  stop caller
  stop b2b
  stop callee
  exit 0
fi

# once KIND: one signalling run through a new server of KIND (b2bua|proxy);
# prints the server's ms CPU per 1000 calls, or "fail"
once() {
  local kind=$1 name=$1$RUN uac uas
  if [ "$kind" = b2bua ]; then uac=b2b-uac.xml uas=b2b-uas.xml; else uac=uac-rr.xml uas=uas-rr.xml; fi
  sipp_server "$name-uas" -sf "$SCEN/$uas" -m "$CALLS" || { echo fail; return; }
  local upid=$SIPP_PID uport=$SIPP_PORT
  if [ "$kind" = b2bua ]; then
    start "$name" xml/b2bua.xml --log-level error --set b2bua.media=pass --set "b2bua.target=sip:callee@127.0.0.1:$uport" ||
      { echo fail; return; }
  else
    start "$name" xml/proxy.xml --log-level error --set proxy.trusted=127.0.0.0/8 || { echo fail; return; }
  fi
  local pid port b a
  eval "pid=\$PID_$name port=\$PORT_$name"
  b=$(ticks "$pid")
  sipp_run "$name-uac" "127.0.0.1:$port" -sf "$SCEN/$uac" -s callee -key uas "127.0.0.1:$uport" -m "$CALLS" -r "$RATE" \
    -l "$RATE"
  a=$(ticks "$pid")
  SIPP_PID=$upid
  sipp_server_wait "$name-uas"
  stop "$name" >/dev/null
  if [ "${OK:-0}" = "$CALLS" ]; then printf '%.0f\n' "$(echo "($a - $b) * 1000000 / $HZ / $CALLS" | bc -l)"; else echo fail; fi
}

B=() P=()
for RUN in 1 2 3; do
  B+=("$(once b2bua)")
  P+=("$(once proxy)")
done
echo "b2bua runs (ms CPU per 1000 calls): ${B[*]}"
echo "proxy runs (ms CPU per 1000 calls): ${P[*]}"
case "${B[*]} ${P[*]}" in *fail*) echo "a run lost calls: no median"; exit 1 ;; esac
mb=$(median "${B[@]}") mp=$(median "${P[@]}")
printf '%d calls at %d/s: B2BUA (media pass) %.1f ms CPU per 1000 calls, proxy %.1f, ratio %.2f\n' "$CALLS" "$RATE" \
  "$mb" "$mp" "$(echo "$mb / $mp" | bc -l)"
