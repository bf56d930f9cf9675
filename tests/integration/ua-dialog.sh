#!/bin/bash
# ua-dialog.sh: the user agent's dialog conformance (issue 14), against sipp
# scenarios (tests/integration/sipp/) and a raw listener, on loopback, bounded:
#  - a strict router in the route set (RFC 3261 8.1.2, 12.2.1.1): the ACK and the
#    BYE go to it (their Request-URI), not to the last Route;
#  - a 2xx without To tag (12.1.2: a null tag) is ACKed (without tag) and the
#    call is up; a 2xx without Contact is ACKed, then ended with a BYE (13.2.2.4);
#  - a BYE from the callee on the early dialog (12.2.2, 15.1.2): 200; the 487 that
#    follows is ACKed; with no final response the INVITE is CANCELled (9.1);
#  - an ACK with another To tag is not the ACK (12.2.2): a right one after it
#    completes the call; with none the UA hangs up after 64*T1 (13.3.1.4);
#  - OPTIONS inside the dialog: 200 with Allow (11); INFO: 405 with the
#    same Allow (21.4.6).
. "$(dirname "$0")/lib.sh"
need_sipp
SCEN=$(cd "$(dirname "$0")/sipp" && pwd)
SRC=$(cd "$(dirname "$0")/../.." && pwd)
UA=(ua.xml --set media.backend=null --set sip.t1_ms=100)

# ---- item 1: a strict router ----
timeout 60 python3 "$SRC/tests/integration/sipcat.py" listen "$T/router.port" "$T/router.sip" --answer 200 --seconds 50 &
PIDS+=($!)
for i in $(seq 50); do [ -s "$T/router.port" ] && break; sleep 0.1; done # bounded: the listener's port file
STRICT=$(cat "$T/router.port" 2>/dev/null)
if [ -n "$STRICT" ] && sipp_server strict -sf "$SCEN/uas-strict.xml" -m 1 -set strict "$STRICT"; then
  start ann "${UA[@]}" --set ua.uri=sip:ann@127.0.0.1 || exit 1
  cmd ann call "sip:callee@127.0.0.1:$SIPP_PORT"
  wait_ev ann '"to":"InCall"' 10 || fail "strict: no InCall" "$(tail -3 "$T/ann.err")"
  cmd ann hangup
  # the strict router (the listener) answers the BYE 200
  wait_ev ann '"event":"call_end".*"reason":"local_bye","status":200' 10 &&
    grep -q "^ACK sip:127.0.0.1:$STRICT SIP/2.0" "$T/router.sip" && grep -q "^BYE sip:127.0.0.1:$STRICT SIP/2.0" "$T/router.sip" &&
    grep -q "^Route: <sip:callee@127.0.0.1:$SIPP_PORT>" "$T/router.sip" &&
    pass "strict router: ACK and BYE sent to it, Request-URI the router, the callee's Contact the last Route" ||
    fail "strict router" "$(grep -E '^(ACK|BYE|Route)' "$T/router.sip" 2>&1)" "$(grep call_end "$T/ann.events")"
  sipp_server_wait strict
  stop ann || fail "ann exit"
else
  fail "strict: listener or sipp did not start" "$(tail -3 "$T/strict.out")"
fi

# ---- item 3: a 2xx without To tag; a 2xx without Contact ----
if sipp_server notag -sf "$SCEN/uas-notag.xml" -m 1; then
  start bea "${UA[@]}" --set ua.uri=sip:bea@127.0.0.1 || exit 1
  cmd bea call "sip:callee@127.0.0.1:$SIPP_PORT"
  wait_ev bea '"to":"InCall"' 10 && pass "200 without To tag: taken (a null remote tag, 12.1.2), the call is up" ||
    fail "no To tag" "$(grep -E 'dialog|call_end' "$T/bea.events")" "$(tail -3 "$T/bea.err")"
  cmd bea hangup
  wait_ev bea '"event":"call_end".*"reason":"local_bye","status":200' 10 || fail "no To tag: hangup" "$(grep call_end "$T/bea.events")"
  sipp_server_wait notag
  [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "sipp: the ACK came (no To tag in it), then the BYE" ||
    fail "sipp notag: exit $SIPP_RC" "$(tail -5 "$T/notag.out")"
  stop bea || fail "bea exit"
else
  fail "sipp uas-notag did not start"
fi
if sipp_server nocontact -sf "$SCEN/uas-nocontact.xml" -m 1; then
  start cid "${UA[@]}" --set ua.uri=sip:cid@127.0.0.1 || exit 1
  cmd cid call "sip:callee@127.0.0.1:$SIPP_PORT"
  wait_ev cid '"event":"call_end".*"reason":"bad_2xx","status":200' 10 &&
    grep -q '"dialog_state":"unusable"' "$T/cid.events" && ! grep -q '"to":"InCall"' "$T/cid.events" &&
    pass "200 without Contact: ACKed, then BYE; call_end reason bad_2xx" ||
    fail "no Contact" "$(grep -E 'dialog|call_end' "$T/cid.events")" "$(tail -3 "$T/cid.err")"
  sipp_server_wait nocontact
  [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "sipp: the ACK, then the BYE" ||
    fail "sipp nocontact: exit $SIPP_RC" "$(tail -5 "$T/nocontact.out")"
  stop cid || fail "cid exit"
else
  fail "sipp uas-nocontact did not start"
fi

# ---- item 4: a BYE on the early dialog of our INVITE ----
for v in 487 cancel; do
  if sipp_server "early$v" -sf "$SCEN/uas-early-bye-$v.xml" -m 1; then
    start "dee$v" "${UA[@]}" --set ua.uri=sip:dee@127.0.0.1 || exit 1
    cmd "dee$v" call "sip:callee@127.0.0.1:$SIPP_PORT"
    wait_ev "dee$v" '"event":"call_end".*"reason":"remote_bye","status":487' 10 &&
      grep -q '"dialog_state":"early"' "$T/dee$v.events" &&
      pass "early BYE ($v): 200 to the BYE, the 487 taken, call_end remote_bye" ||
      fail "early BYE ($v)" "$(grep -E 'dialog|state|call_end' "$T/dee$v.events" | tail -8)" "$(tail -3 "$T/dee$v.err")"
    sipp_server_wait "early$v"
    [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] &&
      pass "sipp ($v): 200 for its BYE$([ $v = cancel ] && echo ', the CANCEL'), the ACK of its 487" ||
      fail "sipp early $v: exit $SIPP_RC" "$(tail -5 "$T/early$v.out")"
    stop "dee$v" || fail "dee$v exit"
  else
    fail "sipp uas-early-bye-$v did not start"
  fi
done

# ---- items 6, 7: ACKs with another To tag; OPTIONS and INFO in the dialog ----
start eva "${UA[@]}" --set ua.uri=sip:eva@127.0.0.1 --set ua.auto_answer=0 || exit 1
sipp_run dialog "127.0.0.1:$PORT_eva" -sf "$SCEN/uac-dialog.xml" -s eva -m 1
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] &&
  pass "in the dialog: OPTIONS 200 with Allow and Accept, INFO 405 with the same Allow, BYE 200" ||
  fail "sipp dialog: exit $SIPP_RC" "$(tail -30 "$T/dialog.out")"
wait_ev eva '"event":"call_end".*"reason":"remote_bye"' 10 && grep -q '"to":"InCall"' "$T/eva.events" &&
  pass "a wrong-tag ACK then the right one: the call went up, ended by the BYE" ||
  fail "eva" "$(grep -E 'state|call_end' "$T/eva.events" | tail -5)"
sipp_run wrongack "127.0.0.1:$PORT_eva" -sf "$SCEN/uac-wrong-ack.xml" -s eva -m 1
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && wait_ev eva '"event":"call_end".*"reason":"no_ack"' 10 &&
  [ "$(count eva '"to":"InCall"')" = 1 ] &&
  pass "only a wrong-tag ACK: not taken; 200 retransmitted, BYE after 64*T1 (no_ack)" ||
  fail "wrong ACK: sipp exit $SIPP_RC" "$(tail -5 "$T/wrongack.out")" "$(grep -E 'state|call_end' "$T/eva.events" | tail -5)"
cmd eva status
stop eva || fail "eva exit"
grep -q '"stray_acks":[1-9]' "$T/eva.events" && pass "the wrong ACKs counted (stray_acks)" ||
  fail "stray_acks" "$(grep -o '"stray_acks":[0-9]*' "$T/eva.events")"

for u in ann bea cid dee487 deecancel eva; do
  [ -f "$T/$u.err" ] && ! grep -q -E 'CRITICAL|runtime error|AddressSanitizer|LeakSanitizer' "$T/$u.err" &&
    pass "$u: no critical log, no sanitizer report" ||
    fail "$u stderr" "$(grep -E 'CRITICAL|runtime error|Sanitizer' "$T/$u.err" 2>&1 | head -3)"
done
summary ua-dialog
