#!/bin/bash
# prack.sh: reliable provisional responses (RFC 3262) in both roles of the UA
# (xml/ua.xml, operators/ua/sf-op-prack.c) against sipp, on loopback, bounded.
# The sipp scenarios (tests/integration/sipp/*100rel*, *rel183*) check what our
# UA sends with regexp actions (check_it); our events say what it did.
#  - sipp calls with Require: 100rel and an offer: our 180 is reliable (Require,
#    RSeq, the answer); the UA answers at once but its 200 waits (OpHoldAnswer)
#    for sipp's PRACK, sent 600 ms late; 200 to the PRACK, then to the INVITE;
#  - Supported: 100rel and an offer to xml/examples/ivr.xml: its 183 with early
#    media is reliable, PRACKed, then 480 after flow.timeout;
#  - an offer-less INVITE with Require: 100rel: our reliable 180 carries the
#    offer, sipp's PRACK the answer (200), the 200 repeats the offer, the ACK
#    has no SDP: the call is up with media; the same with a PRACK without
#    answer: 200 to the PRACK, 488 to the INVITE, call_end sdp_failed; a
#    PRACK carrying a new offer gets the answer in its 200;
#  - no PRACK: the 180 retransmitted (T1 doubling), then 500 after 64*T1,
#    call_end no_prack;
#  - PRACKs that match nothing: 481 (another CSeq in RAck), 400 (bad RAck, no RAck);
#  - ua.100rel = required: an INVITE without 100rel gets 421 with Require: 100rel;
#    one that requires it rings reliably; a bad ua.100rel stops the start;
#  - our UA calls sipp: its INVITE says Supported: 100rel; a reliable 183 with
#    SDP sent twice gets one PRACK (RAck: 1000 1 INVITE), then 200, ACK, BYE;
#  - forking: two reliable 183s from two To tags get a PRACK each, in their
#    own early dialogs; the first fork answers, the call is up, hung up;
#  - 421 to our INVITE under ua.100rel = off (which names no 100rel), 420
#    under required (whose INVITE says Require: 100rel): call_end
#    extension_required or bad_extension;
#  - ua.late_offer: our INVITE without SDP; the offer of a reliable 183 is
#    answered in our PRACK, the offer of a 200 in our ACK;
#  - attack: an offer-less INVITE requiring 100rel when our offer cannot be
#    made (media.srtp = require over UDP): 488 at once, the call ends.
# (ua.sh keeps the 420 to Require: 100rel with ua.100rel = off.)
. "$(dirname "$0")/lib.sh"
need_sipp
SCEN=$(cd "$(dirname "$0")/sipp" && pwd)
EX=$(cd "$(dirname "$0")/../../xml/examples" && pwd)
common=(--set media.backend=null --set sip.t1_ms=100 --set ua.auto_answer=0 --set ua.max_calls=20)

# scenario NAME FILE: one call of sipp's FILE to bob; passes when sipp saw it succeed.
scenario() {
  sipp_run "$1" "127.0.0.1:$PORT_bob" -sf "$SCEN/$2" -s "${SVC:-bob}" -m 1
  [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ]
}

# ---- our UA as callee: default ua.100rel = supported ----
start bob ua.xml "${common[@]}" --set ua.uri=sip:bob@127.0.0.1 || exit 1

scenario req uac-100rel.xml &&
  pass "Require: 100rel: reliable 180 (Require, RSeq, the answer); the 200 waited for the late PRACK" ||
  fail "Require: 100rel: sipp exit $SIPP_RC" "$(tail -5 "$T/req.out")"
# the answer (timer:answer at once) held by OpHoldAnswer: Ringing is left only after the PRACK's 200
wait_ev bob '"event":"call_end".*"reason":"remote_bye","status":200' 5 &&
  awk '/"event":"prack".*"dir":"in","status":200/ && !p { p = NR } /"from":"Ringing","to":"Answered"/ && !a { a = NR }
    END { exit !(p && a > p) }' "$T/bob.events" && grep -q '"to":"Ringing","trigger":"sip:INVITE","ops":\["OpRing"\]' "$T/bob.events" &&
  pass "... bob: the answer held until the PRACK (answered 200), the call ended by sipp's BYE" ||
  fail "bob's events" "$(grep -E 'prack|call_end|"to":"' "$T/bob.events")"

scenario nooffer uac-100rel-nooffer.xml &&
  pass "offer-less INVITE: our reliable 180 carried the offer, the PRACK the answer, the 200 no new offer" ||
  fail "offer-less INVITE: sipp exit $SIPP_RC" "$(tail -5 "$T/nooffer.out")"
wait_ev bob '"event":"call_end".*"reason":"remote_bye","status":200' 5 2 &&
  [ "$(count bob '"reason":"sdp_failed"')" = 0 ] && grep -q '"event":"media".*"codec":"PCMU' "$T/bob.events" &&
  pass "... bob: the answer in the PRACK taken (media PCMU), the call ended by sipp's BYE" ||
  fail "offer-less: bob's events" "$(grep -E 'media|call_end' "$T/bob.events")"

scenario poffer uac-100rel-prack-offer.xml &&
  pass "a PRACK with a new offer (sendonly): its 200 carries the answer (recvonly); then the 200 to the INVITE" ||
  fail "offer in the PRACK: sipp exit $SIPP_RC" "$(tail -5 "$T/poffer.out")"
wait_ev bob '"event":"call_end".*"reason":"remote_bye","status":200' 5 3 &&
  pass "... bob: that call ended by sipp's BYE" || fail "offer in the PRACK: bob's events" "$(grep call_end "$T/bob.events")"

scenario noanswer uac-100rel-noanswer.xml &&
  pass "a PRACK without the answer to our offer: 200 to the PRACK, 488 to the INVITE" ||
  fail "PRACK without answer: sipp exit $SIPP_RC" "$(tail -5 "$T/noanswer.out")"
wait_ev bob '"event":"call_end".*"reason":"sdp_failed",.*"status":488' 5 &&
  grep '"event":"call_end".*"reason":"sdp_failed"' "$T/bob.events" | grep -q '"detail":"the PRACK has no SDP answer' &&
  pass "... call_end sdp_failed 488 with its detail" || fail "no answer: bob's call_end" "$(grep call_end "$T/bob.events")"

scenario badrack uac-100rel-badrack.xml &&
  pass "PRACKs matching nothing: 481 (RAck of another CSeq), 400 naming RAck, 400 without RAck; the right one: 200" ||
  fail "bad RAck: sipp exit $SIPP_RC" "$(tail -5 "$T/badrack.out")"
[ "$(count bob '"event":"prack".*"dir":"in","status":481')" = 1 ] && [ "$(count bob '"event":"prack".*"dir":"in","status":400')" = 2 ] &&
  pass "... bob's prack events: one 481, two 400" || fail "bad RAck events" "$(grep '"event":"prack"' "$T/bob.events")"

sipp_run noprack "127.0.0.1:$PORT_bob" -sf "$SCEN/uac-100rel-noprack.xml" -s bob -m 1
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "no PRACK: 500 to the INVITE after 64*T1" ||
  fail "no PRACK: sipp exit $SIPP_RC" "$(tail -5 "$T/noprack.out")"
# T1 = 100 ms: sends at 0, then 100, 300, 700, 1500, 3100 ms (the next, 6300, is
# before the 6400 ms guard too): 6 retransmissions of the last 180
wait_ev bob '"event":"call_end".*"reason":"no_prack","status":500' 5 &&
  last=$(grep '"event":"rel1xx"' "$T/bob.events" | tail -1 | sed 's/.*"retransmission":\([0-9]*\).*/\1/') &&
  [ "$last" -ge 5 ] && [ "$last" -le 6 ] &&
  pass "... the 180 retransmitted $last times, T1 doubling; call_end no_prack 500" ||
  fail "no PRACK: bob's events" "$(grep -E 'rel1xx|call_end' "$T/bob.events" | tail -3)"
# an OPTIONS (11.2): the answer lists 100rel as supported
sipcat() { timeout 60 python3 "${SF_SRCDIR:-$PWD}/tests/integration/sipcat.py" "$@"; }
printf 'OPTIONS sip:bob@127.0.0.1:%s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{cid}\nMax-Forwards: 70\nFrom: <sip:probe@127.0.0.1>;tag=p{n}\nTo: <sip:bob@127.0.0.1>\nCall-ID: {cid}\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n' \
  "$PORT_bob" >"$T/options.sip"
out=$(sipcat send "127.0.0.1:$PORT_bob" "$T/options.sip" --show | tr -d '\r' | grep -i -E '^(SIP/2.0 |Supported:|Allow:)' | tr '\n' '|')
[ "$out" = "SIP/2.0 200 OK|Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, PRACK, UPDATE, MESSAGE, SUBSCRIBE, NOTIFY, REFER|Supported: 100rel, timer, replaces|" ] &&
  pass "OPTIONS: 200 with Allow listing PRACK and Supported: 100rel (and timer, replaces)" || fail "OPTIONS" "$out"
stop bob || fail "bob exit" "$(err_report "$T/bob.err")"
# a composed flow without the PRACK and session-timer operators (screening.xml)
# does not claim what it cannot do: Require: 100rel, timer gets 420 naming both
# (sf_ua_flow_binds), where ua.xml rings
start scr "$EX/screening.xml" --set media.backend=null --set ua.uri=sip:scr@127.0.0.1 || exit 1
printf 'INVITE sip:scr@127.0.0.1:%s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{cid}\nMax-Forwards: 70\nFrom: <sip:probe@127.0.0.1>;tag=p{n}\nTo: <sip:scr@127.0.0.1>\nCall-ID: {cid}\nCSeq: 1 INVITE\nContact: <sip:probe@127.0.0.1:{port}>\nRequire: 100rel, timer\nContent-Length: 0\n\n' \
  "$PORT_scr" >"$T/req.sip"
out=$(sipcat send "127.0.0.1:$PORT_scr" "$T/req.sip" --show | tr -d '\r' | grep -i -E '^(SIP/2.0 |Unsupported:)' | tr '\n' '|')
[ "$out" = "SIP/2.0 420 Bad Extension|Unsupported: 100rel, timer|" ] &&
  pass "screening.xml (no PRACK or refresh operators): Require: 100rel, timer gets 420 naming both" || fail "screening.xml's 420" "$out"
stop scr || fail "scr exit" "$(err_report "$T/scr.err")"

# ---- the IVR's early media (OpEarlyMedia): Supported: 100rel makes its 183 reliable ----
start ivr "$EX/ivr.xml" --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:ivr@127.0.0.1 \
  --set "flow.prompt=$T/none.wav" --set flow.timeout=1s || exit 1
sipp_run early "127.0.0.1:$PORT_ivr" -sf "$SCEN/uac-100rel-early.xml" -s ivr -m 1
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && wait_ev ivr '"event":"prack".*"dir":"in","status":200' 5 &&
  wait_ev ivr '"event":"call_end".*"status":480' 5 &&
  pass "Supported: 100rel to ivr.xml: reliable 183 with the answer, PRACKed (200), 480 after flow.timeout" ||
  fail "ivr: sipp exit $SIPP_RC" "$(tail -5 "$T/early.out")" "$(grep -E 'prack|call_end' "$T/ivr.events")"
stop ivr || fail "ivr exit" "$(err_report "$T/ivr.err")"

# ---- ua.100rel = required ----
start rose ua.xml "${common[@]}" --set ua.uri=sip:rose@127.0.0.1 --set ua.100rel=required || exit 1
sipp_run need "127.0.0.1:$PORT_rose" -sf "$SCEN/uac-100rel-421.xml" -s rose -m 1
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && wait_ev rose '"event":"call_end".*"reason":"extension_required","status":421' 5 &&
  pass "required: an INVITE without 100rel gets 421 with Require: 100rel (call_end extension_required)" ||
  fail "421: sipp exit $SIPP_RC" "$(tail -5 "$T/need.out")" "$(grep call_end "$T/rose.events")"
PORT_bob=$PORT_rose SVC=rose
scenario reqd uac-100rel.xml && pass "required: an INVITE requiring 100rel: reliable 180, PRACK, 200" ||
  fail "required, Require: 100rel: sipp exit $SIPP_RC" "$(tail -5 "$T/reqd.out")"
stop rose || fail "rose exit" "$(err_report "$T/rose.err")"
expect_rc "ua.100rel = maybe: refused at start" 1 timeout 10 "$SIPFLOW" run ua.xml --listen udp:127.0.0.1:0 --set ua.100rel=maybe
grep -q "100rel" "$T/err" && pass "... the error names ua.100rel" || fail "ua.100rel error" "$(cat "$T/err")"

# ---- attack: our reliable 1xx cannot carry the offer it must (media.srtp = require over UDP) ----
# An INVITE without offer that requires 100rel: our 180 must carry our offer,
# and media.srtp = require puts no SDES keys on a UDP hop.  OpRing once failed
# (ERROR): no answer until the transaction's guard, the call's instance left in
# Idle for good (one per such INVITE).  Now 488 at once, and the call ends.
start sec ua.xml "${common[@]}" --set ua.uri=sip:sec@127.0.0.1 --set media.srtp=require || exit 1
printf 'INVITE sip:sec@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{cid}\nMax-Forwards: 70\nFrom: <sip:probe@127.0.0.1>;tag=p{n}\nTo: <sip:sec@127.0.0.1>\nCall-ID: {cid}\nCSeq: 1 INVITE\nContact: <sip:probe@127.0.0.1:{port}>\nRequire: 100rel\nContent-Length: 0\n\n' >"$T/nooffer.sip"
out=$(sipcat send "127.0.0.1:$PORT_sec" "$T/nooffer.sip" --timeout 3)
[ "$out" = 488 ] && wait_ev sec '"event":"call_end".*"status":488' 5 &&
  pass "attack: no offer to put in our reliable 180 (media.srtp = require over UDP): 488 at once, call_end" ||
  fail "reliable 1xx without an offer to make" "$out" "$(grep -E 'call_end|state' "$T/sec.events" | tail -3)" "$(tail -2 "$T/sec.err")"
! grep -q 'failed in' "$T/sec.err" && pass "... no operator failed" || fail "operator failure" "$(grep 'failed in' "$T/sec.err")"
stop sec || fail "sec exit" "$(err_report "$T/sec.err")"

# ---- our UA as caller ----
if sipp_server rel183 -sf "$SCEN/uas-rel183.xml" -m 1; then
  start alice ua.xml "${common[@]}" --set ua.uri=sip:alice@127.0.0.1 || exit 1
  cmd alice call "sip:service@127.0.0.1:$SIPP_PORT"
  wait_ev alice '"to":"InCall"' 10 && [ "$(count alice '"event":"prack".*"dir":"out","status":0,"rseq":1000,"cseq":1')" = 1 ] &&
    wait_ev alice '"event":"prack".*"dir":"answered","status":200' 5 &&
    pass "a reliable 183 sent twice: one PRACK (RAck: 1000 1 INVITE) answered 200; the 200 took the call up" ||
    fail "reliable 183" "$(grep -E 'prack|call_end|"to":' "$T/alice.events")" "$(tail -3 "$T/alice.err")"
  grep -q '"event":"media".*"state":"early"' "$T/alice.events" && pass "... the 183's SDP started early media" ||
    fail "no early media" "$(grep media "$T/alice.events")"
  cmd alice hangup
  wait_ev alice '"event":"call_end".*"reason":"local_bye","status":200' 5 && pass "... hung up (BYE, 200)" ||
    fail "hangup" "$(grep call_end "$T/alice.events")"
  sipp_server_wait rel183
  [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] &&
    pass "sipp: Supported: 100rel in our INVITE, RAck and the PRACK's target checked, no second PRACK" ||
    fail "sipp rel183: exit $SIPP_RC" "$(tail -5 "$T/rel183.out")"
  stop alice || fail "alice exit" "$(err_report "$T/alice.err")"
else
  fail "sipp uas-rel183 did not start" "$(tail -3 "$T/rel183.out")"
fi

if sipp_server fork -sf "$SCEN/uas-rel183-fork.xml" -m 1; then
  start fred ua.xml "${common[@]}" --set ua.uri=sip:fred@127.0.0.1 || exit 1
  cmd fred call "sip:service@127.0.0.1:$SIPP_PORT"
  wait_ev fred '"to":"InCall"' 10 && [ "$(count fred '"event":"prack".*"dir":"out","status":0,"rseq":10,')" = 1 ] &&
    [ "$(count fred '"event":"prack".*"dir":"out","status":0,"rseq":20,')" = 1 ] &&
    pass "forking: two reliable 183s from two To tags, one PRACK each (RSeq 10, 20)" ||
    fail "forking" "$(grep -E 'prack|call_end|"to":' "$T/fred.events")" "$(tail -3 "$T/fred.err")"
  cmd fred hangup
  wait_ev fred '"event":"call_end".*"reason":"local_bye","status":200' 5 && pass "... the first fork's call hung up" ||
    fail "fork hangup" "$(grep call_end "$T/fred.events")"
  sipp_server_wait fork
  [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "sipp: each PRACK had its RAck and went to its fork's Contact" ||
    fail "sipp fork: exit $SIPP_RC" "$(tail -5 "$T/fork.out")"
  stop fred || fail "fred exit" "$(err_report "$T/fred.err")"
else
  fail "sipp uas-rel183-fork did not start" "$(tail -3 "$T/fork.out")"
fi

# ---- 421 and 420 to our INVITE end the call with a clear reason ----
refused() { # refused NAME SCENARIO 100REL REASON STATUS
  if sipp_server "$1" -sf "$SCEN/$2" -m 1; then
    start "r$1" ua.xml "${common[@]}" --set ua.uri=sip:rene@127.0.0.1 --set "ua.100rel=$3" || return 1
    cmd "r$1" call "sip:service@127.0.0.1:$SIPP_PORT"
    wait_ev "r$1" "\"event\":\"call_end\".*\"reason\":\"$4\",\"status\":$5" 10 && sipp_server_wait "$1" &&
      [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && stop "r$1"
  else
    return 1
  fi
}
refused u421 uas-421.xml off extension_required 421 &&
  pass "ua.100rel = off: our INVITE names no 100rel; 421 ends the call (call_end extension_required 421)" ||
  fail "421 to our INVITE" "$(tail -5 "$T/u421.out")" "$(grep call_end "$T/ru421.events")"
refused u420 uas-420.xml required bad_extension 420 &&
  pass "ua.100rel = required: our INVITE says Require: 100rel; 420 ends the call (call_end bad_extension 420)" ||
  fail "420 to our INVITE" "$(tail -5 "$T/u420.out")" "$(grep call_end "$T/ru420.events")"

# ---- ua.late_offer: our INVITE without SDP ----
late() { # late NAME SCENARIO: our UA with ua.late_offer calls sipp's SCENARIO, hangs up
  if sipp_server "$1" -sf "$SCEN/$2" -m 1; then
    start "l$1" ua.xml "${common[@]}" --set ua.uri=sip:lena@127.0.0.1 --set ua.late_offer=true || return 1
    cmd "l$1" call "sip:service@127.0.0.1:$SIPP_PORT"
    wait_ev "l$1" '"to":"InCall"' 10 && grep -q '"event":"media".*"codec":"PCMU' "$T/l$1.events" && cmd "l$1" hangup &&
      wait_ev "l$1" '"event":"call_end".*"reason":"local_bye","status":200' 5 && sipp_server_wait "$1" &&
      [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && stop "l$1"
  else
    return 1
  fi
}
late lrel uas-rel183-late.xml &&
  pass "late offer: the reliable 183's offer answered in our PRACK, the 200 repeated it, the ACK without SDP; media PCMU" ||
  fail "late offer, reliable 183" "$(tail -5 "$T/lrel.out")" "$(grep -E 'prack|media|call_end' "$T/llrel.events")"
late l2xx uas-late-2xx.xml &&
  pass "late offer: the 200's offer answered in our ACK; media PCMU" ||
  fail "late offer, 2xx" "$(tail -5 "$T/l2xx.out")" "$(grep -E 'media|call_end' "$T/ll2xx.events")"

summary prack
