#!/bin/bash
# examples.sh: the flows of xml/examples/ that are written in the flow language
# alone (no C, no controller), driven by sipp on loopback, bounded:
#  - screening.xml: a caller in the list file gets 603 Decline; a call not
#    answered within flow.no_answer is redirected (302) to flow.fallback; a call
#    answered in time is a call (200, ACK, BYE); a name added to the list file is
#    declined from the next look at the file on (the flow reads it again).
. "$(dirname "$0")/lib.sh"
need_sipp
SCEN=$(cd "$(dirname "$0")/sipp" && pwd)
EX=$(cd "$(dirname "$0")/../../xml/examples" && pwd)

# ---- call screening ----
# A copy beside its list file, so the test can change the list.
cp "$EX/screening.xml" "$EX/screening-blocked.txt" "$T/"
start scr "$T/screening.xml" --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:bob@127.0.0.1 \
  --set flow.no_answer=300ms --set flow.fallback=sip:voicemail@127.0.0.1:5999 || exit 1
sipp_run s603 "127.0.0.1:$PORT_scr" -sf "$SCEN/uac-screen-603.xml" -s bob -key caller mallory -m 3 -r 10
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 3 ] && pass "screening: three calls from mallory (in the list file) declined 603" ||
  fail "screening 603: sipp exit $SIPP_RC, ${OK:-0} successful" "$(tail -5 "$T/s603.out")"
wait_ev scr '"event":"call_end".*"status":603' 5 3 && [ "$(count scr '"event":"incoming"')" = 0 ] &&
  pass "... none of them rang (no incoming event), each call_end says 603" ||
  fail "screening 603: call_end" "$(grep -E 'call_end|incoming' "$T/scr.events" | head -3)"
sipp_run s302 "127.0.0.1:$PORT_scr" -sf "$SCEN/uac-screen-302.xml" -s bob -key caller alice -m 2 -r 10
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 2 ] && pass "screening: two calls from alice rang, unanswered: 302 to flow.fallback" ||
  fail "screening 302: sipp exit $SIPP_RC, ${OK:-0} successful" "$(tail -5 "$T/s302.out")"
wait_ev scr '"event":"redirected".*"status":302,"contact":"<sip:voicemail@127.0.0.1:5999>"' 5 2 &&
  [ "$(count scr '"event":"incoming"')" = 2 ] && pass "... both rang first (incoming), then the flow redirected them" ||
  fail "screening 302: events" "$(grep -E 'redirected|incoming' "$T/scr.events" | head -3)"
# The list file changes: trent is declined from the next look at it (once a second at most).
sipp_run trent0 "127.0.0.1:$PORT_scr" -sf "$SCEN/uac-screen-302.xml" -s bob -key caller trent -m 1
[ "${OK:-0}" = 1 ] && pass "screening: trent, not in the list, rings and is redirected" ||
  fail "screening: trent before the change" "$(tail -3 "$T/trent0.out")"
printf 'mallory\ntrent\n' >"$T/screening-blocked.txt"
touch -d '+2 seconds' "$T/screening-blocked.txt"
declined=0
for try in 1 2 3 4 5 6 7 8; do # bounded: the file is looked at once a second; each try takes a 302 or a 603
  sipp_run trent "127.0.0.1:$PORT_scr" -sf "$SCEN/uac-screen-603.xml" -s bob -key caller trent -m 1
  [ "${OK:-0}" = 1 ] && { declined=1; break; }
done
[ "$declined" = 1 ] && wait_ev scr '"event":"call_end".*"status":603' 5 4 &&
  pass "screening: after the list file changed, trent is declined 603 (after $try tries)" ||
  fail "screening: trent after the change ($try tries)" "$(tail -3 "$T/trent.out")"
stop scr || fail "scr exit" "$(tail -3 "$T/scr.err")"

# Answered in time: auto-answer at once, sipp's built-in uac (200, ACK, BYE).
start scr2 "$T/screening.xml" --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:bob@127.0.0.1 \
  --set ua.auto_answer=0 --set flow.no_answer=5s || exit 1
sipp_run ans "127.0.0.1:$PORT_scr2" -sn uac -s bob -m 5 -r 10
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 5 ] && wait_ev scr2 '"event":"call_end".*"reason":"remote_bye","status":200' 5 5 &&
  [ "$(count scr2 '"event":"redirected"')" = 0 ] &&
  pass "screening: five calls answered in time are calls (200, ACK, BYE), none redirected" ||
  fail "screening answered: sipp exit $SIPP_RC, ${OK:-0} successful" "$(tail -3 "$T/ans.out")"
stop scr2 || fail "scr2 exit" "$(tail -3 "$T/scr2.err")"

summary examples.sh
