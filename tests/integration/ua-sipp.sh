#!/bin/bash
# ua-sipp.sh: the user agent (xml/ua.xml) against sipp, on loopback, bounded:
#  - sipp's built-in uac calls our UA (auto-answer at once): 100 calls, all successful;
#  - the same with -lost 10: at least 95% on sipp's side, retransmissions seen, and
#    every call that reached our UA ended there;
#  - the same over TCP, 20 calls;
#  - our UA calls sipp's built-in uas ten times (call, InCall, hangup);
#  - a UAS that challenges the INVITE (401, verifyauth): answered once; a wrong
#    password fails after one try;
#  - a forked INVITE answered twice: the second 2xx gets its ACK and a BYE;
#  - a 302 with two Contacts: the better q is tried first; OPTIONS gets 200;
#  - an answer listing G722 beside PCMU: PCMU used, the call has media (RFC 3264 6.1);
#  - a 200 without SDP to our offer, and an ACK without the answer to the offer
#    in our 200: the call ends with a BYE, call_end reason sdp_failed with a detail;
#  - early media (RFC 3960): a 183 with SDP starts the stream to its port; the 200
#    with the same SDP keeps it, with another port moves it;
#  - registration against a sipp registrar that challenges every REGISTER
#    (tests/integration/sipp/registrar.xml, sipp's verifyauth): registered,
#    refreshed before the 4 s it grants run out, removed with Expires: 0.
. "$(dirname "$0")/lib.sh"
need_sipp
SCEN=$(cd "$(dirname "$0")/sipp" && pwd)

# ended_all NAME: every incoming call of NAME has its call_end (bounded wait).
ended_all() {
  local inc
  inc=$(count "$1" '"event":"incoming"')
  wait_ev "$1" '"event":"call_end"' 30 "$inc" && [ "$(count "$1" '"event":"call_end"')" -ge "$inc" ]
}

# ---- sipp uac -> our UA, 100 calls ----
start bob ua.xml --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:bob@127.0.0.1 --set ua.auto_answer=0 --set ua.max_calls=200 || exit 1
sipp_run uac "127.0.0.1:$PORT_bob" -sn uac -s bob -m 100 -r 50
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 100 ] && pass "sipp uac: 100 of 100 calls to the UA successful" ||
  fail "sipp uac: exit $SIPP_RC, ${OK:-0} successful, ${FAILED:-?} failed" "$(tail -5 "$T/uac.out")"
ended_all bob && [ "$(count bob '"event":"call_end".*"reason":"remote_bye","status":200')" = 100 ] &&
  pass "our UA: 100 calls answered, each ended by sipp's BYE" || fail "our UA's call_end events" "$(count bob call_end)"
stop bob || fail "bob exit" "$(err_report "$T/bob.err")"

# ---- the same with 10% loss ----
start bob2 ua.xml --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:bob@127.0.0.1 --set ua.auto_answer=0 --set ua.max_calls=200 || exit 1
sipp_run lost "127.0.0.1:$PORT_bob2" -sn uac -s bob -m 100 -r 50 -lost 10
if [ "${OK:-0}" -ge 95 ]; then pass "loss: ${OK} of 100 calls successful on sipp's side (>= 95%)"; else
  fail "loss: only ${OK:-0} successful (sipp exit $SIPP_RC)" "$(tail -5 "$T/lost.out")"; fi
[ "${RETRANS:-0}" -gt 0 ] && pass "loss: sipp retransmitted (${RETRANS})" || fail "loss: no retransmission seen"
ended_all bob2 && pass "loss: every call that reached our UA ended ($(count bob2 '"event":"call_end"'))" ||
  fail "loss: calls left" "incoming $(count bob2 '"event":"incoming"'), ended $(count bob2 '"event":"call_end"')"
cmd bob2 status
wait_ev bob2 '"event":"reply","command":"status"' 5 && grep '"command":"status"' "$T/bob2.events" | tail -1 | grep -q '"calls":\[\]' &&
  pass "loss: status shows no call left" || fail "loss: status" "$(grep '"command":"status"' "$T/bob2.events" | tail -1)"
stop bob2 || fail "bob2 exit" "$(err_report "$T/bob2.err")"

# ---- sipp uac -> our UA over TCP, 20 calls ----
LISTEN=tcp:127.0.0.1:0 start tina ua.xml --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:bob@127.0.0.1 --set ua.auto_answer=0 || exit 1
sipp_run tcp "127.0.0.1:$PORT_tina" -sn uac -s bob -m 20 -r 10 -t t1
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 20 ] && wait_ev tina '"event":"call_end".*"reason":"remote_bye","status":200' 10 20 &&
  pass "TCP: sipp uac to the UA, 20 of 20 calls, each ended by sipp's BYE" ||
  fail "TCP: sipp exit $SIPP_RC, ${OK:-0} successful" "$(tail -3 "$T/tcp.out")"
stop tina || fail "tina exit"

# ---- Require inside a call (8.2.2.3): a BYE with two Require lines gets 420
# with Unsupported naming both, the call goes on; the plain BYE ends it ----
start rhea ua.xml --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:bob@127.0.0.1 --set ua.auto_answer=0 || exit 1
sipp_run reqbye "127.0.0.1:$PORT_rhea" -sf "$SCEN/uac-require-bye.xml" -s bob -m 1
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "a BYE with Require: foo and Require: timer: 420, Unsupported: foo (timer is supported, RFC 4028)" ||
  fail "Require in a BYE: sipp exit $SIPP_RC" "$(tail -5 "$T/reqbye.out")"
wait_ev rhea '"event":"call_end".*"reason":"remote_bye","status":200' 5 &&
  pass "... the call went on, and the BYE without Require ended it (200)" || fail "rhea call_end" "$(grep call_end "$T/rhea.events")"
stop rhea || fail "rhea exit" "$(err_report "$T/rhea.err")"

# ---- our UA -> sipp uas, ten calls ----
if sipp_server uas -sn uas -m 10; then
  start alice ua.xml --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:alice@127.0.0.1 || exit 1
  good=0
  for i in $(seq 10); do
    cmd alice call "sip:service@127.0.0.1:$SIPP_PORT"
    wait_ev alice '"to":"InCall"' 5 "$i" || break
    cmd alice hangup
    wait_ev alice '"event":"call_end".*"reason":"local_bye","status":200' 5 "$i" || break
    good=$i
  done
  [ "$good" = 10 ] && pass "our UA called sipp's uas 10 times: InCall, BYE, call_end" ||
    fail "our UA -> sipp uas: $good calls" "$(grep call_end "$T/alice.events" | tail -1)" "$(tail -3 "$T/alice.err")"
  sipp_server_wait uas
  [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 10 ] && pass "sipp uas: 10 of 10 calls successful" ||
    fail "sipp uas: exit $SIPP_RC, ${OK:-0} successful" "$(tail -5 "$T/uas.out")"
  stop alice || fail "alice exit"
else
  fail "sipp uas did not start" "$(tail -3 "$T/uas.out")"
fi

# ---- registration: challenged, refreshed, removed ----
if sipp_server reg -sf "$SCEN/registrar.xml" -m 2; then
  start carol ua.xml --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:alice@127.0.0.1 --set ua.password=secret \
    --set "ua.registrar=sip:127.0.0.1:$SIPP_PORT" || exit 1
  wait_ev carol '"event":"registration".*"state":"registered".*"expires":4' 10 &&
    grep -q '"event":"registration".*"state":"challenged","registrar":[^,]*,"aor":"sip:alice@127.0.0.1","status":401' "$T/carol.events" &&
    pass "registration: 401 answered, registered for the 4 s granted" ||
    fail "registration" "$(grep registration "$T/carol.events")" "$(tail -3 "$T/carol.err")"
  wait_ev carol '"event":"registration".*"state":"registered"' 10 2 && pass "registration: refreshed before expiry" ||
    fail "no refresh" "$(grep registration "$T/carol.events" | tail -2)"
  cmd carol status
  wait_ev carol '"command":"status".*"registration":\{"instance":"r1","state":"Registered"\}' 5 &&
    pass "status shows the registration: Registered" || fail "status registration" "$(grep '"command":"status"' "$T/carol.events")"
  cmd carol unregister
  wait_ev carol '"event":"registration".*"state":"unregistered"' 10 && pass "unregister: Expires: 0 accepted" ||
    fail "unregister" "$(grep registration "$T/carol.events" | tail -2)"
  stop carol || fail "carol exit"
  # a second binding (a new Call-ID: sipp's second call), removed by quit rather than unregister
  start carol2 ua.xml --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:alice@127.0.0.1 --set ua.password=secret \
    --set "ua.registrar=sip:127.0.0.1:$SIPP_PORT" || exit 1
  wait_ev carol2 '"event":"registration".*"state":"registered"' 10 2 || fail "carol2: no refresh"
  stop carol2 && grep -q '"event":"registration".*"state":"unregistered"' "$T/carol2.events" &&
    pass "quit: the binding removed (Expires: 0) before the exit" || fail "quit unregister" "$(grep registration "$T/carol2.events" | tail -2)"
  sipp_server_wait reg
  [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 2 ] && pass "sipp registrar: every credential verified, both removals seen" ||
    fail "sipp registrar: exit $SIPP_RC, ${OK:-0} successful" "$(tail -5 "$T/reg.out")"
else
  fail "sipp registrar did not start" "$(tail -3 "$T/reg.out")"
fi

# ---- a challenged INVITE: 401 answered with credentials, once ----
if sipp_server auth -sf "$SCEN/uas-auth.xml" -m 2; then
  start dave ua.xml --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:alice@127.0.0.1 --set ua.password=secret || exit 1
  cmd dave call "sip:service@127.0.0.1:$SIPP_PORT"
  wait_ev dave '"to":"InCall"' 10 && grep -q '"event":"authenticating".*"status":401' "$T/dave.events" &&
    pass "401: the INVITE sent again with Authorization, verified, call up" ||
    fail "401" "$(grep -E 'authenticating|call_end' "$T/dave.events")" "$(tail -3 "$T/dave.err")"
  cmd dave hangup
  wait_ev dave '"event":"call_end".*"reason":"local_bye","status":200' 10 && pass "401: the call hung up" ||
    fail "401 hangup"
  stop dave || fail "dave exit"
  # the same with a wrong password: the second 401 carries the nonce answered: the call fails
  start eve ua.xml --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:alice@127.0.0.1 --set ua.password=wrong || exit 1
  cmd eve call "sip:service@127.0.0.1:$SIPP_PORT"
  wait_ev eve '"event":"call_end".*"reason":"failed","status":401' 10 &&
    [ "$(count eve '"event":"authenticating"')" = 1 ] && pass "wrong password: answered once, then the call fails with 401" ||
    fail "wrong password" "$(grep -E 'authenticating|call_end' "$T/eve.events")"
  stop eve || fail "eve exit"
  sipp_server_wait auth
  [ "${OK:-0}" = 2 ] && pass "sipp: both challenged calls went as scripted" ||
    fail "sipp auth: exit $SIPP_RC, ${OK:-0} successful" "$(tail -5 "$T/auth.out")"
else
  fail "sipp uas-auth did not start" "$(tail -3 "$T/auth.out")"
fi

# ---- a forked INVITE answered twice (13.2.2.4) ----
if sipp_server fork -sf "$SCEN/uas-fork.xml" -m 1; then
  start fred ua.xml --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:fred@127.0.0.1 || exit 1
  cmd fred call "sip:service@127.0.0.1:$SIPP_PORT"
  wait_ev fred '"event":"fork_ended"' 10 && wait_ev fred '"to":"InCall"' 5 &&
    pass "two 2xx from two forks: the first is the call, the second gets its ACK and a BYE" ||
    fail "fork" "$(grep -E 'dialog|fork|call_end' "$T/fred.events")" "$(tail -3 "$T/fred.err")"
  cmd fred hangup
  wait_ev fred '"event":"call_end".*"reason":"local_bye","status":200' 10 && pass "fork: the call hung up" ||
    fail "fork hangup" "$(grep call_end "$T/fred.events")"
  sipp_server_wait fork
  [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "sipp: two ACKs, the BYE of fork2, then the BYE of fork1" ||
    fail "sipp fork: exit $SIPP_RC" "$(tail -5 "$T/fork.out")"
  stop fred || fail "fred exit"
else
  fail "sipp uas-fork did not start" "$(tail -3 "$T/fork.out")"
fi

# ---- a 302 with two Contacts: the best q is tried first ----
start gina ua.xml --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:gina@127.0.0.1 --set ua.auto_answer=0 || exit 1
if sipp_server moved -sf "$SCEN/uas-302.xml" -m 1 -set good "sip:gina@127.0.0.1:$PORT_gina" \
  -set bad "sip:nobody@127.0.0.1:$PORT_gina"; then
  start hank ua.xml --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:hank@127.0.0.1 || exit 1
  cmd hank call "sip:service@127.0.0.1:$SIPP_PORT"
  wait_ev hank '"to":"InCall"' 10 && [ "$(count hank '"event":"redirect"')" = 1 ] &&
    grep -q "\"event\":\"redirect\".*\"target\":\"sip:gina@127.0.0.1:$PORT_gina\"" "$T/hank.events" &&
    pass "302 with q=0.1 and q=0.9 Contacts: the q=0.9 one first (method and headers dropped), the call is up" ||
    fail "302 q order" "$(grep -E 'redirect|call_end' "$T/hank.events")"
  cmd hank hangup
  wait_ev gina '"event":"call_end".*"reason":"remote_bye"' 10 || fail "gina: no end"
  sipp_server_wait moved
  [ "${OK:-0}" = 1 ] && pass "sipp: 302 sent, ACK received" || fail "sipp 302: exit $SIPP_RC" "$(tail -5 "$T/moved.out")"
  stop hank || fail "hank exit"
else
  fail "sipp uas-302 did not start" "$(tail -3 "$T/moved.out")"
fi
sipp_run options "127.0.0.1:$PORT_gina" -sf "$SCEN/uac-options.xml" -s gina -m 1
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "OPTIONS: 200 with Allow and Accept (11.2)" ||
  fail "OPTIONS: sipp exit $SIPP_RC" "$(tail -5 "$T/options.out")"
stop gina || fail "gina exit"

# ---- an answer listing a format we did not offer (RFC 3264 6.1) ----
if sipp_server extra -sf "$SCEN/uas-extra-fmt.xml" -m 1; then
  start ivan ua.xml --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:ivan@127.0.0.1 || exit 1
  cmd ivan call "sip:service@127.0.0.1:$SIPP_PORT"
  wait_ev ivan '"event":"media".*"why":"InCall".*"codec":"PCMU","remote":"127.0.0.1:6000"' 10 &&
    pass "an answer with G722 beside PCMU: the call has media, PCMU to the answer's port" ||
    fail "extra format" "$(grep -E 'media|call_end' "$T/ivan.events")" "$(tail -3 "$T/ivan.err")"
  cmd ivan hangup
  wait_ev ivan '"event":"call_end".*"reason":"local_bye","status":200' 10 && pass "extra format: the call hung up" ||
    fail "extra format hangup" "$(grep call_end "$T/ivan.events")"
  sipp_server_wait extra
  [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "sipp: ACK, then our BYE" || fail "sipp extra: exit $SIPP_RC" "$(tail -5 "$T/extra.out")"
  stop ivan || fail "ivan exit"
else
  fail "sipp uas-extra-fmt did not start" "$(tail -3 "$T/extra.out")"
fi

# ---- a 200 without the answer to our offer: ACK, then BYE ----
if sipp_server noans -sf "$SCEN/uas-no-answer.xml" -m 1; then
  start judy ua.xml --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:judy@127.0.0.1 || exit 1
  cmd judy call "sip:service@127.0.0.1:$SIPP_PORT"
  wait_ev judy '"event":"call_end".*"reason":"sdp_failed","detail":"the 200 has no SDP answer to our offer","status":200' 10 &&
    pass "a 200 without SDP: call_end sdp_failed with the detail" ||
    fail "no answer" "$(grep -E 'state|call_end' "$T/judy.events")" "$(tail -3 "$T/judy.err")"
  [ "$(count judy '"event":"media"')" = 0 ] && grep -q '"to":"HangingUp"' "$T/judy.events" && ! grep -q '"to":"InCall"' "$T/judy.events" &&
    pass "no answer: no media, never InCall, hung up" || fail "no answer: states" "$(grep -E '"to"|media' "$T/judy.events")"
  sipp_server_wait noans
  [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "sipp: the ACK, then the BYE" || fail "sipp noans: exit $SIPP_RC" "$(tail -5 "$T/noans.out")"
  stop judy || fail "judy exit"
else
  fail "sipp uas-no-answer did not start" "$(tail -3 "$T/noans.out")"
fi

# ---- an ACK without the answer to the offer in our 200: BYE ----
start kate ua.xml --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:kate@127.0.0.1 --set ua.auto_answer=0 || exit 1
sipp_run ackno "127.0.0.1:$PORT_kate" -sf "$SCEN/uac-ack-no-answer.xml" -s kate -m 1
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "sipp: an offer-less INVITE, an ACK without answer, then our BYE" ||
  fail "sipp ackno: exit $SIPP_RC" "$(tail -5 "$T/ackno.out")"
wait_ev kate '"event":"call_end".*"reason":"sdp_failed","detail":"the ACK has no SDP answer to the offer in our 2xx"' 10 &&
  pass "ACK without an answer: call_end sdp_failed with the detail" || fail "ackno call_end" "$(grep -E '"to"|call_end' "$T/kate.events")"
stop kate || fail "kate exit"

# ---- early media (RFC 3960): a 183 with SDP, then the 200 with the same SDP or another port ----
for v in kept:6000:1 moved:6002:2; do
  what=${v%%:*}; rest=${v#*:}; port2=${rest%%:*}; version=${rest#*:}
  if sipp_server "early$what" -sf "$SCEN/uas-early.xml" -m 1 -set second "$port2" -set version "$version"; then
    u=early$what
    start "$u" ua.xml --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:liz@127.0.0.1 || exit 1
    cmd "$u" call "sip:service@127.0.0.1:$SIPP_PORT"
    wait_ev "$u" '"event":"media".*"why":"RingBack","state":"early","stream":"started".*"remote":"127.0.0.1:6000"' 10 &&
      wait_ev "$u" '"to":"InCall"' 10 &&
      [ "$(grep -n '"state":"early"' "$T/$u.events" | head -1 | cut -d: -f1)" -lt "$(grep -n '"to":"InCall"' "$T/$u.events" | head -1 | cut -d: -f1)" ] &&
      pass "$what: the 183's SDP starts early media to its port, before the 200" ||
      fail "$what: early media" "$(grep -E 'media|"to"' "$T/$u.events")" "$(tail -3 "$T/$u.err")"
    wait_ev "$u" '"event":"media".*"why":"InCall","state":"confirmed","stream":"updated".*"remote":"127.0.0.1:'"$port2"'"' 10 &&
      [ "$(count "$u" '"stream":"started"')" = 1 ] &&
      pass "$what: the 200 keeps the stream, remote 127.0.0.1:$port2" ||
      fail "$what: after the 200" "$(grep -E 'media|"to"' "$T/$u.events")"
    cmd "$u" hangup
    wait_ev "$u" '"event":"call_end".*"reason":"local_bye","status":200' 10 && pass "$what: hung up" ||
      fail "$what: hangup" "$(grep call_end "$T/$u.events")"
    sipp_server_wait "early$what"
    [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "sipp early $what: ACK, BYE" || fail "sipp early $what: exit $SIPP_RC" "$(tail -5 "$T/early$what.out")"
    stop "$u" || fail "$u exit"
  else
    fail "sipp uas-early did not start" "$(tail -3 "$T/early$what.out")"
  fi
done

for u in bob bob2 tina alice carol carol2 dave eve fred gina hank ivan judy kate earlykept earlymoved; do
  [ -f "$T/$u.err" ] && ! grep -q -E 'CRITICAL|runtime error|AddressSanitizer|LeakSanitizer' "$T/$u.err" &&
    pass "$u: no critical log, no sanitizer report" ||
    fail "$u stderr" "$(grep -E 'CRITICAL|runtime error|Sanitizer' "$T/$u.err" 2>&1 | head -3)"
done
summary ua-sipp
