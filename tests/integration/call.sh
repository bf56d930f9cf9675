#!/bin/bash
# call.sh: a real call between two sipflow processes built from XML flows, on
# loopback: xml/examples/uac-call.xml calls xml/examples/uas-answer.xml; INVITE,
# 180 (no 100: it rings at once, 17.2.1), 200 (the UAC's dialog from it), ACK, two seconds of call, BYE, 200.
# T1 is 100 ms on both sides so that their transactions end within 6.4 s and
# --exit-when-idle lets each exit by itself; every wait is bounded.
set -u
SIPFLOW=${SIPFLOW:-$PWD/sipflow}
T=$(mktemp -d)
export XDG_STATE_HOME="$T/state" # its own location database and secret
UAS_PID=
trap '[ -n "$UAS_PID" ] && kill "$UAS_PID" 2>/dev/null; rm -rf "$T"' EXIT
n=0
fails=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; [ $# -gt 1 ] && printf '    %s\n' "${@:2}"; }

coproc UAS { exec "$SIPFLOW" run examples/uas-answer.xml --listen udp:127.0.0.1:0 --set sip.t1_ms=100 --exit-when-idle 2>"$T/uas.err"; }
UAS_PID=$!
exec {OUT}<&"${UAS[0]}" {IN}>&"${UAS[1]}"
eval "exec ${UAS[0]}<&- ${UAS[1]}>&-"
PORT=
while IFS= read -r -t 10 line <&"$OUT"; do
  case "$line" in *'"event":"listening"'*) PORT=$(echo "$line" | sed 's/.*"port":\([0-9]*\).*/\1/'); break ;; esac
done
if [ -z "$PORT" ]; then
  fail "the UAS did not start" "$(cat "$T/uas.err")"
  echo "call: $n checks, $fails failed"
  exit 1
fi
cat <&"$OUT" >"$T/uas.events" &
CAT=$!
pass "the UAS listens on udp port $PORT"

printf 'call sip:bob@127.0.0.1:%s\n' "$PORT" |
  timeout 30 "$SIPFLOW" run examples/uac-call.xml --listen udp:127.0.0.1:0 --set sip.t1_ms=100 --exit-when-idle \
    >"$T/uac.events" 2>"$T/uac.err"
rc=$?
[ "$rc" = 0 ] && pass "the UAC called, hung up and exited by itself" || fail "UAC exit $rc" "$(err_report "$T/uac.err")"
states=$(grep '"machine":"uac-call"' "$T/uac.events" | grep -o '"to":"[A-Za-z]*"' | tr '\n' ' ')
[ "$states" = '"to":"Calling" "to":"Ringback" "to":"InCall" "to":"HangingUp" "to":"CallEnded" ' ] &&
  pass "UAC: Calling, Ringback, InCall, HangingUp, CallEnded" || fail "UAC states" "$states"
grep -q '"machine":"ict".*"to":"Accepted"' "$T/uac.events" && pass "the UAC's INVITE transaction took the 2xx to Accepted (RFC 6026)" ||
  fail "no ICT Accepted"
dialog=$(grep -o '"dialog_state":"[a-z]*"' "$T/uac.events" | tr '\n' ' ')
[ "$dialog" = '"dialog_state":"early" "dialog_state":"confirmed" ' ] &&
  pass "the UAC's dialog: early from the 180, confirmed by the 200 (12.1.2)" || fail "UAC dialog" "$dialog"

exec {IN}>&- # the UAS exits once its call and transactions are over
( sleep 30; kill "$UAS_PID" 2>/dev/null ) &
WD=$!
wait "$UAS_PID" 2>/dev/null
kill "$WD" 2>/dev/null
wait "$CAT" 2>/dev/null
UAS_PID=
states=$(grep '"machine":"uas-answer"' "$T/uas.events" | grep -o '"to":"[A-Za-z]*"' | tr '\n' ' ')
[ "$states" = '"to":"Ringing" "to":"Answered" "to":"InCall" "to":"CallEnded" ' ] &&
  pass "UAS: Ringing, Answered, InCall, CallEnded (the BYE came through the UAC's dialog)" || fail "UAS states" "$states"
stats=$(grep '"event":"stats"' "$T/uas.events" | tail -1)
echo "$stats" | grep -q '"calls_answered":1,"calls_ended":1' && pass "UAS stats: one call answered and ended" ||
  fail "UAS stats" "$stats"

echo "call: $n checks, $fails failed"
[ "$fails" = 0 ]
