#!/bin/bash
# bench-uas.sh: CPU time per call of xml/examples/uas-answer.xml under sipp's
# built-in uac at a fixed rate (issue 4's benchmark).  The server's user+sys
# time comes from /proc/PID/stat (fields 14 and 15) before and after the run.
# Usage: bench/bench-uas.sh SIPFLOW [CALLS [RATE [udp|tcp]]]   (defaults 5000, 500, udp)
set -eu
SIPFLOW=${1:?usage: bench-uas.sh SIPFLOW [CALLS [RATE [udp|tcp]]]}
CALLS=${2:-5000}
RATE=${3:-500}
PROTO=${4:-udp}
T=$(mktemp -d)
export XDG_STATE_HOME="$T/state" # its own location database and secret
trap 'kill $PID 2>/dev/null; rm -rf "$T"' EXIT
mkfifo "$T/in"
"$SIPFLOW" run examples/uas-answer.xml --listen "$PROTO:127.0.0.1:0" --log-level error <"$T/in" >"$T/events" 2>"$T/err" &
PID=$!
exec 3>"$T/in"
for _ in $(seq 100); do grep -q '"listening"' "$T/events" 2>/dev/null && break; sleep 0.05; done
PORT=$(sed -n 's/.*"listening".*"port":\([0-9]*\).*/\1/p' "$T/events" | head -1)
ticks() { awk '{ print $14 + $15 }' "/proc/$PID/stat"; }
HZ=$(getconf CLK_TCK)
before=$(ticks)
start=$(date +%s.%N)
tflag=
[ "$PROTO" = tcp ] && tflag="-t t1"
sipp "127.0.0.1:$PORT" -sn uac -m "$CALLS" -r "$RATE" -p $((20000 + RANDOM % 20000)) -i 127.0.0.1 $tflag \
  -nostdin -timeout 300 -timeout_error -trace_stat -stf "$T/s.csv" >/dev/null 2>&1 || true
end=$(date +%s.%N)
after=$(ticks)
ok=$(awk -F';' 'NR==1 { for (i = 1; i <= NF; i++) if ($i == "SuccessfulCall(C)") c = i } END { print $c }' "$T/s.csv")
cpu=$(echo "($after - $before) / $HZ" | bc -l)
printf 'uas-answer %s: %s calls at %s/s, %s successful, wall %.1f s, server CPU %.2f s = %.3f ms per call\n' \
  "$PROTO" "$CALLS" "$RATE" "$ok" "$(echo "$end - $start" | bc -l)" "$cpu" "$(echo "$cpu * 1000 / $CALLS" | bc -l)"
echo quit >&3
wait $PID 2>/dev/null || true
