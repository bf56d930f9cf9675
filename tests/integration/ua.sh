#!/bin/bash
# ua.sh: three user agents built from xml/ua.xml (alice, bob, carol) on loopback
# call each other through every path of the flow: answer and hang-up from either
# side, reject, busy, cancel before the answer, the no-answer timeout, redirect
# (302 followed), hold and resume (the SDP directions checked), 404 for another
# user, 486 past max_calls, 488 for a bad offer, a redirect loop, the outbound
# proxy as the first hop, a call over IPv6.  Every wait is on an event line,
# bounded; T1 is 100 ms so transactions end quickly.
. "$(dirname "$0")/lib.sh"

# Signalling tests run with the null media backend; section 16 carries real audio.
common=(--set sip.t1_ms=100 --set media.rtp_ports=41000-41999 --set media.backend=null)
start alice ua.xml "${common[@]}" --set ua.uri=sip:alice@127.0.0.1 --set ua.display_name=Alice \
  --set ua.no_answer_timeout=2 || exit 1
start bob ua.xml "${common[@]}" --set ua.uri=sip:bob@127.0.0.1 --set ua.max_calls=1 || exit 1
start carol ua.xml "${common[@]}" --set ua.uri=sip:carol@127.0.0.1 --set ua.auto_answer=0 || exit 1
BOB=sip:bob@127.0.0.1:$PORT_bob
CAROL=sip:carol@127.0.0.1:$PORT_carol

# ring_bob: alice calls bob and waits for bob's incoming call; sets A (alice's
# handle) and B (bob's), B empty when bob did not ring.
A=; B=
ring_bob() {
  local r i
  r=$(count alice '"event":"reply","command":"call"')
  i=$(count bob '"event":"incoming"')
  cmd alice call "$BOB"
  A=; B=
  wait_ev alice '"event":"reply","command":"call"' 5 $((r + 1)) &&
    A=$(grep '"command":"call"' "$T/alice.events" | tail -1 | sed 's/.*"call":"\([a-z0-9]*\)".*/\1/')
  wait_ev bob '"event":"incoming"' 5 $((i + 1)) && B=$(last_call bob)
  return 0
}
ended() { # ended NAME CALL REGEX: NAME's call_end for CALL matches REGEX
  wait_ev "$1" "\"event\":\"call_end\".*\"call\":\"$2\"" 10 && grep "\"event\":\"call_end\".*\"call\":\"$2\"" "$T/$1.events" | grep -q -E -- "$3"
}

# 1. answer, hang-up by the caller
ring_bob
[ -n "$B" ] && pass "bob rings (180) for alice's call $A" || fail "no incoming call at bob" "$(tail -3 "$T/alice.err")"
cmd bob answer
wait_ev alice "\"call\":\"$A\".*\"to\":\"InCall\"" 5 && wait_ev bob '"to":"InCall"' 5 &&
  pass "answer: both in InCall" || fail "answer: not both in call" "alice: $(states alice "$A")" "bob: $(states bob "$B")"
wait_ev alice '"event":"media".*"codec":"PCMU".*"dir":"sendrecv"' 5 &&
  pass "alice's media: PCMU, sendrecv (the answer in the 200 taken)" || fail "alice media" "$(grep '"media"' "$T/alice.events")"
cmd alice hangup
ended alice "$A" '"reason":"local_bye","status":200' && ended bob "$B" '"reason":"remote_bye","status":200' &&
  pass "hang-up by the caller: local_bye / remote_bye" || fail "hang-up 1" "$(grep call_end "$T"/{alice,bob}.events)"
[ "$(states alice "$A")" = "Trying RingBack InCall HangingUp CallEnded " ] &&
  pass "alice: Trying RingBack InCall HangingUp CallEnded" || fail "alice states" "$(states alice "$A")"
[ "$(states bob "$B")" = "Ringing Answered InCall CallEnded " ] && pass "bob: Ringing Answered InCall CallEnded" ||
  fail "bob states" "$(states bob "$B")"

# 2. hang-up by the callee
ring_bob
cmd bob answer
wait_ev bob "\"call\":\"$B\".*\"to\":\"InCall\"" 5
cmd bob hangup
ended bob "$B" '"reason":"local_bye"' && ended alice "$A" '"reason":"remote_bye"' &&
  pass "hang-up by the callee" || fail "hang-up 2" "$(grep call_end "$T"/{alice,bob}.events | tail -2)"

# 3. reject 603 and busy 486
ring_bob
cmd bob reject 603
ended alice "$A" '"reason":"failed","status":603' && pass "reject 603: alice's call fails with 603 (Error)" ||
  fail "reject" "$(grep call_end "$T/alice.events" | tail -1)"
ring_bob
cmd bob reject
ended alice "$A" '"reason":"busy","status":486' && [ "$(states alice "$A" | awk '{print $NF}')" = Busy ] &&
  pass "reject: 486, alice in Busy" || fail "busy" "$(states alice "$A")"

# 4. cancel before the answer
ring_bob
cmd alice hangup
ended alice "$A" '"reason":"cancelled","status":487' && ended bob "$B" '"reason":"cancelled","status":487' &&
  pass "cancel: CANCEL, 200, 487 on both sides" || fail "cancel" "$(grep call_end "$T"/{alice,bob}.events | tail -2)"

# 5. no answer within ua.no_answer_timeout (2 s): cancelled
ring_bob
ended alice "$A" '"reason":"no_answer","status":487' && pass "no answer in 2 s: cancelled (487)" ||
  fail "no answer" "$(grep call_end "$T/alice.events" | tail -1)"

# 6. redirect: bob answers 302 to carol, alice follows it, carol answers (auto_answer=0)
ring_bob
cmd bob redirect "$CAROL"
wait_ev alice '"event":"redirect"' 5 && wait_ev carol '"to":"InCall"' 5 && wait_ev alice "\"call\":\"$A\".*\"to\":\"InCall\"" 5 &&
  pass "redirect: 302 followed, carol answered at once" || fail "redirect" "$(states alice "$A")" "$(tail -3 "$T/alice.err")"
ended bob "$B" '"reason":"redirected","status":302' && pass "bob's call ended redirected (302)" || fail "bob redirect end"

# 7. hold and resume (alice and carol are in the call)
C=$(last_call carol)
cmd alice hold
wait_ev alice "\"call\":\"$A\".*\"to\":\"Onhold\"" 5 && wait_ev carol '"event":"media".*"why":"held".*"dir":"recvonly"' 5 &&
  pass "hold: alice Onhold (sendonly offered), carol answers recvonly" ||
  fail "hold" "$(states alice "$A")" "$(grep '"media"' "$T/carol.events")"
grep -q "\"event\":\"media\".*\"call\":\"$A\".*\"dir\":\"sendonly\"" "$T/alice.events" &&
  pass "alice's media: sendonly while holding" || fail "alice hold media" "$(grep '"media"' "$T/alice.events" | tail -2)"
cmd alice resume
wait_ev alice "\"call\":\"$A\".*\"from\":\"ResumePending\",\"to\":\"InCall\"" 5 &&
  wait_ev carol '"event":"media".*"why":"reinvite".*"dir":"sendrecv"' 5 &&
  pass "resume: sendrecv on both sides" || fail "resume" "$(states alice "$A")" "$(grep '"media"' "$T/carol.events")"
cmd carol hangup
ended alice "$A" '"reason":"remote_bye"' && ended carol "$C" '"reason":"local_bye"' && pass "carol hangs up" ||
  fail "carol hangup"

# 8. a user bob is not: 404 (8.2.2.1)
cmd alice call "sip:nobody@127.0.0.1:$PORT_bob"
wait_ev alice '"event":"call_end".*"status":404' 5 && pass "a call for another user: 404" ||
  fail "404" "$(grep call_end "$T/alice.events" | tail -1)"

# 9. ua.max_calls=1 at bob: the second call at once gets 486
ring_bob
first=$A
cmd alice call "$BOB"
wait_ev alice '"event":"call_end".*"reason":"busy","status":486' 5 2 && pass "max_calls=1: the second call gets 486" ||
  fail "max_calls" "$(grep call_end "$T/alice.events" | tail -1)"
cmd alice hangup "$first"
ended alice "$first" '"reason":"cancelled"' || fail "cancel after max_calls"

# 10. a bad offer: 488, and bob's flow says why
# (written to a file first: cat sends it as one datagram, bash's printf would not)
printf 'INVITE sip:bob@127.0.0.1:%s SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKbad488\r\nMax-Forwards: 70\r\nFrom: <sip:x@127.0.0.1>;tag=1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: bad488@127.0.0.1\r\nCSeq: 1 INVITE\r\nContact: <sip:x@127.0.0.1:9>\r\nContent-Type: application/sdp\r\nContent-Length: 20\r\n\r\nv=0\r\nm=audio x RTP\r\n' "$PORT_bob" >"$T/bad.sip"
cat "$T/bad.sip" >/dev/udp/127.0.0.1/"$PORT_bob"
wait_ev bob '"event":"call_end".*"reason":"bad_offer","status":488' 5 && pass "a malformed offer: 488" ||
  fail "488" "$(grep -E 'sdp_refused|call_end' "$T/bob.events" | tail -2)"

# 11. a redirect back to the URI just called: a loop, not followed (the 302 ends the call)
ring_bob
cmd bob redirect "$BOB"
wait_ev alice '"event":"call_end".*"reason":"failed","status":302' 5 && [ "$(count alice '"event":"redirect"')" = 1 ] &&
  pass "a 302 to the URI just tried: not followed, the call fails with 302" ||
  fail "redirect loop" "$(grep -E 'redirect|call_end' "$T/alice.events" | tail -2)"

# 12. ua.outbound_proxy: the INVITE for bob goes to the proxy's address (carol
# stands in for it: her UA refuses a call for bob with 404) with Route: <...;lr>
start dave ua.xml "${common[@]}" --set ua.uri=sip:dave@127.0.0.1 --set "ua.outbound_proxy=sip:127.0.0.1:$PORT_carol" || exit 1
cmd dave call "$BOB"
wait_ev dave '"event":"call_end".*"status":404' 5 && wait_ev carol '"event":"call_end".*"reason":"not_found"' 5 &&
  pass "outbound_proxy: the INVITE went to the proxy, not to the Request-URI" ||
  fail "outbound proxy" "$(grep call_end "$T/dave.events")"

# 13. IPv6: two UAs on ::1 (c=IN IP6 in both SDP bodies)
LISTEN='udp:[::1]:0' start erin ua.xml "${common[@]}" --set ua.uri=sip:erin@[::1] || exit 1
LISTEN='udp:[::1]:0' start frank ua.xml "${common[@]}" --set ua.uri=sip:frank@[::1] --set ua.auto_answer=0 || exit 1
cmd erin call "sip:frank@[::1]:$PORT_frank"
wait_ev erin '"to":"InCall"' 5 && wait_ev erin '"event":"media".*"remote":"\[::1\]:' 5 &&
  pass "IPv6: a call over ::1, the SDP answer's address [::1]" ||
  fail "IPv6" "$(grep -E 'media|call_end' "$T/erin.events")" "$(tail -3 "$T/erin.err")"
cmd erin hangup
wait_ev frank '"event":"call_end".*"reason":"remote_bye"' 5 && pass "IPv6: hung up" || fail "IPv6 hangup"

# 15. a target that does not resolve (.invalid, RFC 2606): the call fails at once, unreachable
cmd alice call "sip:nobody@host.invalid"
wait_ev alice '"event":"call_end".*"reason":"unreachable","status":503' 10 &&
  pass "an unresolvable target: the INVITE's transport error ends the call (Error, unreachable)" ||
  fail "unresolvable" "$(grep call_end "$T/alice.events" | tail -1)"

# 16. real audio (GStreamer): DTMF over RTP and the RTP stats in call_end
audio=(--set sip.t1_ms=100 --set media.rtp_ports=42000-42999 --set media.backend=gstreamer)
start mia ua.xml "${audio[@]}" --set ua.uri=sip:mia@127.0.0.1 --set media.source=tone:1000 \
  --set "media.sink=file:$T/mia-{call}.wav" || exit 1
start max ua.xml "${audio[@]}" --set ua.uri=sip:max@127.0.0.1 --set ua.auto_answer=0 --set media.source=tone:440 || exit 1
cmd mia call "sip:max@127.0.0.1:$PORT_max"
wait_ev mia '"event":"media".*"dir":"sendrecv"' 10 && wait_ev max '"event":"media".*"dir":"sendrecv"' 10 ||
  fail "audio call" "$(tail -3 "$T/mia.err")"
cmd mia dtmf 123#
if wait_ev max '"event":"dtmf","machine":"ua".*"direction":"received"' 10 4; then
  digits=$(grep '"event":"dtmf".*"direction":"received"' "$T/max.events" | sed 's/.*"digits":"\([^"]*\)".*/\1/' | tr -d '\n')
  [ "$digits" = "123#" ] && pass "DTMF 123# from mia reaches max's flow in order (RFC 4733 over RTP)" ||
    fail "DTMF order" "$digits"
else
  fail "DTMF" "$(grep -E 'dtmf|media_event' "$T/max.events" "$T/mia.events")"
fi
cmd mia status
wait_ev mia '"command":"status".*"media":\{"packets_sent":[1-9]' 5 && pass "status shows the call's RTP stats" ||
  fail "status media" "$(grep '"command":"status"' "$T/mia.events")"
cmd mia hangup
wait_ev mia '"event":"call_end"' 10 && grep '"event":"call_end"' "$T/mia.events" | grep -q '"packets_sent":[1-9][0-9]*,"packets_received":[1-9]' &&
  pass "call_end carries the RTP stats: packets sent and received" ||
  fail "media stats" "$(grep '"event":"call_end"' "$T/mia.events")"
# media.sink=file:$T/mia-{call}.wav: mia's recording of this call is named by its handle
# (max's 440 Hz: mia's own stream is mostly the DTMF, which replaces its audio meanwhile)
M=$(grep '"event":"call_end"' "$T/mia.events" | tail -1 | sed 's/.*"call":"\([a-z0-9]*\)".*/\1/')
"$SIPFLOW" tone "$T/mia-$M.wav" 440 >"$T/tone.out" 2>&1 &&
  pass "media.sink with {call}: mia-$M.wav holds max's 440 Hz ($(cat "$T/tone.out"))" ||
  fail "per-call recording" "$(ls "$T" | grep mia-)" "$(cat "$T/tone.out")"

# 17. Require (8.2.2.3): with ua.100rel = off the UA supports no extension, so an INVITE that
# requires one (100rel, or several, on one line or two) gets 420 Bad Extension
# with Unsupported naming them all, and no call; Supported alone obliges
# nothing: that INVITE rings.  Raw INVITEs from sipcat.  (100rel on: tests/integration/prack.sh.)
sipcat() { timeout 60 python3 "${SF_SRCDIR:-$PWD}/tests/integration/sipcat.py" "$@"; }
start rita ua.xml "${common[@]}" --set ua.uri=sip:rita@127.0.0.1 --set ua.100rel=off || exit 1
RITA=127.0.0.1:$PORT_rita
invite_with() { # invite_with NAME HEADER-LINES...: an INVITE for rita in $T/NAME.sip
  local f="$T/$1.sip"; shift
  {
    printf 'INVITE sip:rita@%s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{cid}\n' "$RITA"
    printf 'Max-Forwards: 70\nFrom: <sip:probe@127.0.0.1>;tag=p{n}\nTo: <sip:rita@127.0.0.1>\n'
    printf 'Call-ID: {cid}\nCSeq: 1 INVITE\nContact: <sip:probe@127.0.0.1:{port}>\n'
    for h in "$@"; do printf '%s\n' "$h"; done
    printf 'Content-Length: 0\n\n'
  } >"$f"
}
invite_with req100rel 'Require: 100rel'
invite_with reqtwo 'Require: foo, bar'
invite_with reqlines 'Require: foo' 'Require: bar, baz'
unsup() { sipcat send "$RITA" "$T/$1.sip" --show | tr -d '\r' | grep -i -E '^(SIP/2.0 |Unsupported:)' | tr '\n' '|'; }
out=$(unsup req100rel)
[ "$out" = "SIP/2.0 420 Bad Extension|Unsupported: 100rel|" ] && pass "Require: 100rel: 420, Unsupported: 100rel" ||
  fail "Require: 100rel" "$out"
out=$(unsup reqtwo)
[ "$out" = "SIP/2.0 420 Bad Extension|Unsupported: foo, bar|" ] && pass "Require: foo, bar: 420, Unsupported: foo, bar" ||
  fail "Require: foo, bar" "$out"
out=$(unsup reqlines)
[ "$out" = "SIP/2.0 420 Bad Extension|Unsupported: foo, bar, baz|" ] &&
  pass "two Require lines: 420, Unsupported: foo, bar, baz" || fail "two Require lines" "$out"
[ "$(count rita '"event":"incoming"')" = 0 ] && [ "$(count rita '"reason":"bad_extension","status":420')" = 3 ] &&
  pass "rita: no call rang; three call_end bad_extension 420" || fail "rita's events" "$(grep call_end "$T/rita.events")"
invite_with sup100rel 'Supported: 100rel'
sipcat send "$RITA" "$T/sup100rel.sip" --timeout 10 >"$T/sup100rel.out" &
cat_pid=$!
wait_ev rita '"event":"incoming"' 5 && pass "Supported: 100rel alone: rita rings" || fail "Supported: 100rel" "$(tail -3 "$T/rita.events")"
cmd rita reject
wait "$cat_pid"
[ "$(cat "$T/sup100rel.out")" = 486 ] && pass "... and rejecting it gives 486" || fail "Supported: 100rel final" "$(cat "$T/sup100rel.out")"

# 14. bob quits while ringing: the INVITE gets 480 through its transaction (the
# transactions outlive the shutdown's first step)
ring_bob
stop bob && pass "bob quits with a call ringing" || fail "bob exit" "$(err_report "$T/bob.err")"
wait_ev alice "\"event\":\"call_end\".*\"call\":\"$A\".*\"status\":480" 5 &&
  pass "quit while ringing: the caller gets 480" || fail "480 at quit" "$(grep call_end "$T/alice.events" | tail -1)"

# 18. nobody answers within ua.ring_timeout (1 s): the caller gets 480 and the
# callee's instance ends (a caller that never cancels holds no call slot)
start ringo ua.xml "${common[@]}" --set ua.uri=sip:ringo@127.0.0.1 --set ua.ring_timeout=1 || exit 1
r=$(count alice '"event":"reply","command":"call"')
cmd alice call "sip:ringo@127.0.0.1:$PORT_ringo"
wait_ev alice '"event":"reply","command":"call"' 5 $((r + 1)) &&
  A=$(grep '"command":"call"' "$T/alice.events" | tail -1 | sed 's/.*"call":"\([a-z0-9]*\)".*/\1/')
wait_ev ringo '"event":"incoming"' 5 && R=$(last_call ringo)
ended alice "$A" '"status":480' && ended ringo "$R" '"reason":"no_answer","status":480' &&
  pass "ua.ring_timeout 1 s: nobody answered, 480 to the caller, call_end no_answer at the callee" ||
  fail "ring_timeout" "$(grep call_end "$T/alice.events" | tail -1)" "$(grep call_end "$T/ringo.events" | tail -1)"
cmd ringo status
wait_ev ringo '"command":"status"' 5 && ! grep '"command":"status"' "$T/ringo.events" | grep -q "\"$R\"" &&
  pass "... and ringo's status lists no call" || fail "ringo status" "$(grep '"command":"status"' "$T/ringo.events")"

for u in alice carol dave erin frank mia max rita ringo; do
  stop "$u" && pass "$u quits cleanly" || fail "$u exit" "$(err_report "$T/$u.err")"
done
for u in alice bob carol dave erin frank mia max rita; do
  [ -f "$T/$u.err" ] && ! grep -q -E 'CRITICAL|runtime error|AddressSanitizer|LeakSanitizer' "$T/$u.err" &&
    pass "$u: no critical log, no sanitizer report" || fail "$u stderr" "$(grep -E 'CRITICAL|runtime error|Sanitizer' "$T/$u.err" | head -3)"
done
summary ua
