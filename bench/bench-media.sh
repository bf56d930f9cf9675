#!/bin/bash
# bench-media.sh: CPU time per second of call with RTP audio (issue 6's
# benchmark).  Two user agents (xml/ua.xml) on loopback, GStreamer media, PCMU
# 20 ms, a tone each way, sink none: the caller places CALLS calls, all are up,
# then for SECONDS the CPU of both processes (user+sys, /proc/PID/stat) is
# measured; the calls are hung up and their call_end stats summed (packets
# received and lost) to show whether the audio still arrived at that load.
# Usage: bench/bench-media.sh SIPFLOW [CALLS [SECONDS [CODEC]]]  (defaults 1, 10, PCMU)
set -u
export SIPFLOW=${1:?usage: bench-media.sh SIPFLOW [CALLS [SECONDS [CODEC]]]}
CALLS=${2:-1}
SECS=${3:-10}
CODEC=${4:-PCMU}
. "$(dirname "$0")/../tests/integration/lib.sh"
HZ=$(getconf CLK_TCK)
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

m=(--set "media.codecs=$CODEC" --set media.sink=none --set media.rtp_ports=30000-39998 --set ua.max_calls=1000
   --log-level error)
start callee xml/ua.xml "${m[@]}" --set ua.uri=sip:b@127.0.0.1 --set ua.auto_answer=0 --set media.source=tone:440 || exit 1
start caller xml/ua.xml "${m[@]}" --set ua.uri=sip:a@127.0.0.1 --set media.source=tone:1000 || exit 1
for i in $(seq "$CALLS"); do cmd caller call "sip:b@127.0.0.1:$PORT_callee"; done
wait_ev caller '"event":"media".*"dir":"sendrecv"' 60 "$CALLS" || { echo "not all $CALLS calls came up"; exit 1; }
b1=$(ticks "$PID_caller")
b2=$(ticks "$PID_callee")
sleep "$SECS" # the measurement window (a benchmark, not a test)
a1=$(ticks "$PID_caller")
a2=$(ticks "$PID_callee")
for c in $(grep -o '"event":"reply","command":"call","ok":true,"call":"c[0-9]*"' "$T/caller.events" | cut -d'"' -f14); do
  cmd caller hangup "$c"
done
wait_ev callee '"event":"call_end"' 60 "$CALLS"
recv=$(grep '"event":"call_end"' "$T/callee.events" | sed 's/.*"packets_received":\([0-9]*\).*/\1/' | paste -sd+ | bc)
lost=$(grep '"event":"call_end"' "$T/callee.events" | sed 's/.*"packets_lost":\([0-9]*\).*/\1/' | paste -sd+ | bc)
dur=$(grep '"event":"call_end"' "$T/callee.events" | sed 's/.*"duration_s":\([0-9.]*\).*/\1/' | paste -sd+ | bc)
cpu1=$(echo "($a1 - $b1) / $HZ" | bc -l)
cpu2=$(echo "($a2 - $b2) / $HZ" | bc -l)
printf '%s, %d call(s), %d s window: caller CPU %.2f s (%.1f%% of a core), callee CPU %.2f s (%.1f%%)\n' "$CODEC" "$CALLS" \
  "$SECS" "$cpu1" "$(echo "$cpu1 * 100 / $SECS" | bc -l)" "$cpu2" "$(echo "$cpu2 * 100 / $SECS" | bc -l)"
printf '  per second of call, one side: %.2f ms CPU; callee received %s packets (%.1f per call-second, 50 expected), lost %s\n' \
  "$(echo "($cpu1 + $cpu2) * 1000 / 2 / ($CALLS * $SECS)" | bc -l)" "$recv" "$(echo "$recv / $dur" | bc -l)" "$lost"
stop caller
stop callee
