#!/bin/bash
# message.sh: MESSAGE (RFC 3428) in the user agent (xml/ua.xml), on loopback, bounded:
#  - two sipflow UAs exchange MESSAGEs both ways: the message event carries from,
#    to, content_type and the body (quotes, a line break, a backslash, UTF-8) as an
#    escaped JSON string; message_sent says 200; each instance ends at once;
#  - the same inside a call's dialog, both ways (message CALL TEXT): the events
#    carry the call's handle and in_dialog true, the call goes on;
#  - the control command refuses a MESSAGE without text or over 1300 bytes;
#  - a MESSAGE to a port where nothing answers: message_sent 408 or 503;
#  - a sipp UAC (sipp/uac-message.xml): 200 without Contact or body, 415 with
#    Accept for a non-text type and for ISO-8859-1, 413 past 1300 bytes, 404 for
#    another user, 420 with Unsupported for Require: foo; the UA's events say so;
#  - a sipp UAC inside a call's dialog (sipp/uac-message-dialog.xml): 200, 500 for
#    a CSeq out of order, 481 for another To tag, 415; the call ends by BYE;
#  - our MESSAGE to a sipp UAS that challenges (sipp/uas-message-auth.xml): sent
#    again with credentials sipp verifies, 200; a wrong password: 403 reported;
#  - our MESSAGE through ua.outbound_proxy (a sipp answering 404, checking the
#    loose Route): message_sent says 404;
#  - through a sipflow proxy (xml/proxy.xml, users): the proxy's 407 answered,
#    the MESSAGE delivered to the registered UA, 200; to a user without binding: 404.
. "$(dirname "$0")/lib.sh"
need_sipp
SCEN=$(cd "$(dirname "$0")/sipp" && pwd)
UA=(--set media.backend=null --set sip.t1_ms=100)

# sent NAME REGEX: NAME's message_sent event matching REGEX, waited for.
sent() { wait_ev "$1" "\"event\":\"message_sent\".*$2" 10; }

start bob ua.xml "${UA[@]}" --set ua.uri=sip:bob@127.0.0.1 --set ua.auto_answer=0 || exit 1
start alice ua.xml "${UA[@]}" --set ua.uri=sip:alice@127.0.0.1 || exit 1

# ---- alice -> bob, bob -> alice ----
cmd alice "message sip:bob@127.0.0.1:$PORT_bob He said \"hi\"\\nsecond line: café ✓ back\\\\slash"
if wait_ev bob '"event":"message"' 5 &&
  grep -F '"from":"sip:alice@127.0.0.1","to":"sip:bob@127.0.0.1:'"$PORT_bob"'","content_type":"text/plain;charset=UTF-8"' "$T/bob.events" |
  grep -qF '"in_dialog":false,"body":"He said \"hi\"\nsecond line: café ✓ back\\slash"'; then
  pass "alice -> bob: message event with from, to, content_type and the body escaped (quotes, line break, backslash, UTF-8)"
else fail "alice -> bob" "$(grep '"event":"message"' "$T/bob.events")"; fi
sent alice '"status":200,"in_dialog":false' && pass "alice: message_sent 200" ||
  fail "alice message_sent" "$(grep -E 'message_sent|MessageSent' "$T/alice.events")"
wait_ev bob '"event":"instance_end".*"state":"Queried"' 5 && wait_ev alice '"event":"instance_end".*"state":"MessageSent"' 5 &&
  pass "both instances ended at once (Queried, MessageSent)" || fail "instances" "$(grep instance_end "$T/bob.events")"
cmd bob "message sip:alice@127.0.0.1:$PORT_alice tab\\there, <b>not html</b> & \"quoted\""
wait_ev alice '"event":"message".*"body":"tab\\there, <b>not html</b> & \\"quoted\\""' 5 && sent bob '"status":200' &&
  pass "bob -> alice: a tab and markup kept as data, 200" || fail "bob -> alice" "$(grep '"event":"message"' "$T/alice.events")"

# ---- the command's bounds ----
cmd alice "message sip:bob@127.0.0.1:$PORT_bob"
wait_ev alice '"event":"error","command":"message".*usage' 5 && pass "message without text: refused (usage)" ||
  fail "message without text" "$(grep '"command":"message"' "$T/alice.events" | tail -1)"
cmd alice "message sip:bob@127.0.0.1:$PORT_bob $(printf 'x%.0s' $(seq 1301))"
wait_ev alice '"event":"error","command":"message".*1301 bytes' 5 && pass "message over 1300 bytes: refused" ||
  fail "message too long" "$(grep '"command":"message"' "$T/alice.events" | tail -1)"

# ---- nobody answers: Timer F (64*T1 = 6.4 s) or ICMP ----
cmd alice "message sip:nobody@127.0.0.1:9 anyone?"
sent alice '"status":(408|503)' && pass "a MESSAGE nobody answers: message_sent 408 or 503" ||
  fail "no answer" "$(grep message_sent "$T/alice.events")"

# ---- inside a call's dialog, both ways ----
cmd alice "call sip:bob@127.0.0.1:$PORT_bob"
if wait_ev alice '"to":"InCall"' 10 && wait_ev bob '"to":"InCall"' 10; then
  ac=$(grep '"to":"InCall"' "$T/alice.events" | head -1 | sed 's/.*"call":"\([a-z0-9]*\)".*/\1/')
  bc=$(last_call bob)
  cmd alice "message $ac in the call"
  wait_ev bob "\"event\":\"message\",\"machine\":\"ua\",\"call\":\"$bc\".*\"in_dialog\":true,\"body\":\"in the call\"" 5 &&
    sent alice "\"call\":\"$ac\".*\"status\":200,\"in_dialog\":true" &&
    pass "alice -> bob in the call's dialog: the event on bob's call $bc, message_sent 200" ||
    fail "in-dialog alice -> bob" "$(grep -E '"event":"message' "$T/bob.events" "$T/alice.events" | tail -3)"
  cmd bob "message $bc and back"
  wait_ev alice "\"event\":\"message\",\"machine\":\"ua\",\"call\":\"$ac\".*\"in_dialog\":true,\"body\":\"and back\"" 5 &&
    sent bob "\"call\":\"$bc\".*\"status\":200,\"in_dialog\":true" && pass "bob -> alice in the dialog: 200" ||
    fail "in-dialog bob -> alice" "$(grep -E '"event":"message' "$T/alice.events" | tail -2)"
  cmd alice "hangup $ac"
  wait_ev alice '"event":"call_end".*"reason":"local_bye","status":200' 5 &&
    pass "the call went on, and ended by our BYE" || fail "call after messages" "$(grep call_end "$T/alice.events")"
else
  fail "alice -> bob call" "$(grep -E 'call_end' "$T/alice.events")"
fi
stop alice || fail "alice exit" "$(err_report "$T/alice.err")"

# ---- a sipp UAC outside a dialog ----
sipp_run uac "127.0.0.1:$PORT_bob" -sf "$SCEN/uac-message.xml" -s bob -m 1
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] &&
  pass "sipp: 200 (To tag, no Contact, no body), 415 with Accept, 413, 404, 420 with Unsupported, 415 for ISO-8859-1" ||
  fail "sipp uac-message: exit $SIPP_RC" "$(tail -5 "$T/uac.out")"
grep '"event":"message"' "$T/bob.events" | grep -F '"from":"sip:sipp@127.0.0.1:' | grep -F '"to":"sip:bob@127.0.0.1:' |
  grep -qF '"body":"He said \"hi\"\r\nnext line: café ✓"' && pass "bob: sipp's message, CRLF and UTF-8 escaped" ||
  fail "bob's message from sipp" "$(grep '"event":"message"' "$T/bob.events" | tail -1)"
for st in 415 413 404 420; do
  wait_ev bob "\"event\":\"message_refused\".*\"status\":$st" 5 || break
done && [ "$(count bob '"event":"message_refused".*"status":415')" = 2 ] &&
  pass "bob: message_refused 415 (twice), 413, 404, 420" || fail "message_refused" "$(grep message_refused "$T/bob.events")"

# ---- a sipp UAC in a call's dialog ----
sipp_run dlg "127.0.0.1:$PORT_bob" -sf "$SCEN/uac-message-dialog.xml" -s bob -m 1
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "sipp in the dialog: 200 without Contact, 500 (CSeq), 481 (To tag), 415, BYE 200" ||
  fail "sipp uac-message-dialog: exit $SIPP_RC" "$(tail -5 "$T/dlg.out")"
bc=$(last_call bob)
grep -q "\"event\":\"message\",\"machine\":\"ua\",\"call\":\"$bc\".*\"in_dialog\":true,\"body\":\"in the call\"" "$T/bob.events" &&
  wait_ev bob "\"event\":\"call_end\",\"machine\":\"ua\",\"call\":\"$bc\".*\"reason\":\"remote_bye\"" 5 &&
  pass "bob: the message on call $bc, which sipp's BYE ended" || fail "bob in-dialog" "$(grep "\"call\":\"$bc\"" "$T/bob.events" | grep -v trace | tail -3)"
# ---- 50 rounds of the six MESSAGEs at 50 a second: every instance ends at once ----
sipp_run flood "127.0.0.1:$PORT_bob" -sf "$SCEN/uac-message.xml" -s bob -m 50 -r 50
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 50 ] && pass "300 MESSAGEs in 50 rounds: every answer as expected" ||
  fail "flood: sipp exit $SIPP_RC, ${OK:-0} ok" "$(tail -5 "$T/flood.out")"
cmd bob status
wait_ev bob '"event":"reply","command":"status"' 5 && grep '"command":"status"' "$T/bob.events" | tail -1 | grep -q '"calls":\[\]' &&
  pass "... and no instance is left (status: no call)" || fail "flood: status" "$(grep '"command":"status"' "$T/bob.events" | tail -1)"
stop bob || fail "bob exit" "$(err_report "$T/bob.err")"

# ---- our MESSAGE to a UAS that challenges ----
if sipp_server auth -sf "$SCEN/uas-message-auth.xml" -m 2; then
  start carol ua.xml "${UA[@]}" --set ua.uri=sip:alice@127.0.0.1 --set ua.password=secret || exit 1
  cmd carol "message sip:service@127.0.0.1:$SIPP_PORT secret plans"
  sent carol '"status":200' && grep -q '"event":"authenticating".*"status":401,"method":"MESSAGE"' "$T/carol.events" &&
    pass "401: the MESSAGE again with credentials sipp verified, 200" ||
    fail "401" "$(grep -E 'authenticating|message_sent' "$T/carol.events")" "$(tail -3 "$T/carol.err")"
  stop carol || fail "carol exit"
  start eve ua.xml "${UA[@]}" --set ua.uri=sip:alice@127.0.0.1 --set ua.password=wrong || exit 1
  cmd eve "message sip:service@127.0.0.1:$SIPP_PORT guess"
  sent eve '"status":403' && pass "a wrong password: message_sent 403" || fail "wrong password" "$(grep message_sent "$T/eve.events")"
  stop eve || fail "eve exit"
  sipp_server_wait auth
  [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 2 ] && pass "sipp uas: both MESSAGEs as expected (Content-Type, no Contact, CSeq 1 then 2)" ||
    fail "sipp uas-message-auth: exit $SIPP_RC, ${OK:-0} ok" "$(tail -5 "$T/auth.out")"
else
  fail "sipp uas-message-auth did not start" "$(tail -3 "$T/auth.out")"
fi

# ---- through the outbound proxy: 404 ----
if sipp_server nf -sf "$SCEN/uas-message-404.xml" -m 1; then
  start dan ua.xml "${UA[@]}" --set ua.uri=sip:dan@127.0.0.1 --set "ua.outbound_proxy=sip:127.0.0.1:$SIPP_PORT" || exit 1
  cmd dan "message sip:nobody@example.invalid are you there"
  sent dan '"status":404,"in_dialog":false,"reason":"Not Found"' && pass "via ua.outbound_proxy: message_sent 404" ||
    fail "404" "$(grep -E 'message_sent' "$T/dan.events")" "$(tail -3 "$T/dan.err")"
  stop dan || fail "dan exit"
  sipp_server_wait nf
  [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "sipp: the MESSAGE came with the loose Route and text/plain" ||
    fail "sipp uas-message-404: exit $SIPP_RC" "$(tail -5 "$T/nf.out")"
else
  fail "sipp uas-message-404 did not start" "$(tail -3 "$T/nf.out")"
fi

# ---- our MESSAGE pending at the shutdown: message_sent 0 (a socket that never answers) ----
exec {hole}< <(exec python3 -c 'import socket,time
s = socket.socket (socket.AF_INET, socket.SOCK_DGRAM); s.bind (("127.0.0.1", 0))
print (s.getsockname ()[1], flush=True); time.sleep (60)')
HOLE_PID=$!
PIDS+=("$HOLE_PID")
read -r -t 5 HOLE <&$hole
start fay ua.xml "${UA[@]}" --set ua.uri=sip:fay@127.0.0.1 || exit 1
cmd fay "message sip:hole@127.0.0.1:$HOLE into the void"
wait_ev fay '"to":"MessagePending"' 5 && cmd fay status &&
  wait_ev fay '"event":"reply","command":"status".*"state":"MessagePending"' 5 &&
  pass "status while our MESSAGE waits: its instance in MessagePending" || fail "status pending" "$(grep '"command":"status"' "$T/fay.events")"
stop fay || fail "fay exit" "$(err_report "$T/fay.err")"
grep -q '"event":"message_sent".*"status":0,"in_dialog":false,"reason":"shutdown"' "$T/fay.events" &&
  pass "quit while it waits: message_sent 0 (shutdown), sipflow exits 0" || fail "shutdown pending" "$(grep message_sent "$T/fay.events")"
kill "$HOLE_PID" 2>/dev/null

# ---- through a sipflow proxy (xml/proxy.xml) to a registered UA: 407 answered ----
printf 'alice:secret\nbob:hunter2\n' >"$T/users"
start px proxy.xml --set "registrar.users=$T/users" "${UA[@]:2}" || exit 1
PXUA=(--set "ua.registrar=sip:127.0.0.1:$PORT_px" --set "ua.outbound_proxy=sip:127.0.0.1:$PORT_px")
start ann ua.xml "${UA[@]}" "${PXUA[@]}" --set ua.uri=sip:alice@sipflow.test --set ua.password=secret || exit 1
start ben ua.xml "${UA[@]}" "${PXUA[@]}" --set ua.uri=sip:bob@sipflow.test --set ua.password=hunter2 || exit 1
if wait_ev ann '"event":"registration".*"state":"registered"' 10 && wait_ev ben '"event":"registration".*"state":"registered"' 10; then
  cmd ann "message sip:bob@sipflow.test via the proxy"
  wait_ev ben '"event":"message".*"from":"sip:alice@sipflow.test","to":"sip:bob@sipflow.test".*"body":"via the proxy"' 10 &&
    sent ann '"status":200' && grep -q '"event":"authenticating".*"status":407,"method":"MESSAGE"' "$T/ann.events" &&
    pass "through the proxy: 407 answered, delivered to the registered bob, 200" ||
    fail "through the proxy" "$(grep -E 'authenticating|message_sent' "$T/ann.events")" "$(grep -E '"event":"message' "$T/ben.events")"
  cmd ben "message sip:nobody@sipflow.test anyone?"
  sent ben '"status":404' && pass "through the proxy to a user without binding: 404" ||
    fail "proxy 404" "$(grep -E 'message_sent' "$T/ben.events")"
else
  fail "registration at the proxy" "$(grep registration "$T/ann.events" "$T/ben.events")"
fi
stop ann || fail "ann exit"
stop ben || fail "ben exit"
stop px || fail "px exit" "$(err_report "$T/px.err")"

# ---- the attacker's second reading ----
start gil ua.xml "${UA[@]}" --set ua.uri=sip:gil@127.0.0.1 --set ua.max_calls=1 || exit 1
# raw NAME HEADERS BODY: a MESSAGE to gil in $T/NAME.sip (one Call-ID and From tag for all, its own branch)
raw() {
  printf 'MESSAGE sip:gil@127.0.0.1:%s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-%s-{n}\nMax-Forwards: 70\nFrom: <sip:eve@127.0.0.1>;tag=same\nTo: <sip:gil@127.0.0.1>\nCall-ID: %s@attack\nCSeq: {n} MESSAGE\n%s\n\n%s' \
    "$PORT_gil" "$1" "$1" "$2" "$3" >"$T/$1.sip"
}
SIPCAT=(python3 "$(dirname "$0")/sipcat.py" send "127.0.0.1:$PORT_gil")
# five MESSAGEs with one Call-ID and From tag at once (RFC 3428 allows a series of them): the first
# instance ended while the next ones were queued to it, they were dropped, answered 500 by the guard
raw burst 'Content-Type: text/plain' 'hello'
out=$("${SIPCAT[@]}" "$T/burst.sip" --count 5 --timeout 0)
[ "$out" = "sent 5, responses 5" ] && wait_ev gil '"event":"message".*"call_id":"burst@attack"' 5 5 &&
  pass "5 MESSAGEs with one Call-ID and From tag at once: 5 answers, 5 message events" ||
  fail "burst: $out" "$(grep -c '"event":"message".*burst@attack' "$T/gil.events") events"
# the same for OPTIONS (OpOptions ends its instance at once too): 1 answer of 5 before
sed -e '1s/^MESSAGE /OPTIONS /' -e 's/^CSeq: {n} MESSAGE/CSeq: {n} OPTIONS/' -e 's/burst@attack/optburst@attack/' "$T/burst.sip" >"$T/optburst.sip"
out=$("${SIPCAT[@]}" "$T/optburst.sip" --count 5 --timeout 0)
[ "$out" = "sent 5, responses 5" ] && pass "5 OPTIONS with one Call-ID and From tag at once: 5 answers" || fail "OPTIONS burst: $out"
# and for SUBSCRIBE (refused at once, OpSubscribeRefused: its instance ends too) and a NOTIFY
# without To tag (no subscription: 481, OpNoSubscription)
sed -e '1s/^MESSAGE /SUBSCRIBE /' -e 's/^CSeq: {n} MESSAGE/CSeq: {n} SUBSCRIBE/' -e 's/burst@attack/subburst@attack/' \
  -e 's/^Content-Type: text\/plain/Event: presence/' -e 's/^hello$//' "$T/burst.sip" >"$T/subburst.sip"
out=$("${SIPCAT[@]}" "$T/subburst.sip" --count 5 --timeout 0)
[ "$out" = "sent 5, responses 5" ] && pass "5 SUBSCRIBEs with one Call-ID and From tag at once: 5 answers" || fail "SUBSCRIBE burst: $out"
sed -e '1s/^SUBSCRIBE /NOTIFY /' -e 's/^CSeq: {n} SUBSCRIBE/CSeq: {n} NOTIFY/' -e 's/subburst@attack/notburst@attack/' \
  -e 's/^Event: presence/Event: presence\nSubscription-State: active/' "$T/subburst.sip" >"$T/notburst.sip"
out=$("${SIPCAT[@]}" "$T/notburst.sip" --count 5 --timeout 0)
[ "$out" = "sent 5, responses 5" ] && pass "5 NOTIFYs without To tag, one Call-ID and From tag, at once: 5 answers" || fail "NOTIFY burst: $out"
# a CANCEL of a MESSAGE already answered (9.1 says not to send one): its transaction
# is there, answered, so the CANCEL has no effect: 200 (9.2); a CANCEL matching nothing: 481
out=$(timeout 20 python3 - "$PORT_gil" <<'PY'
import socket, sys
port = int(sys.argv[1]); s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); s.settimeout(5)
me = s.getsockname()[1]
def req(method, branch, body=""):
    return (f"{method} sip:gil@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{me};branch={branch}\r\n"
            f"Max-Forwards: 70\r\nFrom: <sip:eve@127.0.0.1>;tag=c1\r\nTo: <sip:gil@127.0.0.1>\r\nCall-ID: cancel@attack\r\n"
            f"CSeq: 1 {method}\r\n" + ("Content-Type: text/plain\r\n" if body else "") +
            f"Content-Length: {len(body)}\r\n\r\n{body}").encode()
out = []
for m, b, body in (("MESSAGE", "z9hG4bKcm1", "hi"), ("CANCEL", "z9hG4bKcm1", ""), ("CANCEL", "z9hG4bKnone", "")):
    s.sendto(req(m, b, body), ("127.0.0.1", port))
    out.append(s.recv(65535).decode().split(" ")[1])
print(" ".join(out))
PY
)
[ "$out" = "200 200 481" ] && pass "a CANCEL of an answered MESSAGE: 200, no effect (9.2); one matching nothing: 481" ||
  fail "CANCEL of a MESSAGE" "$out"
# a Content-Encoding list or a second header: gzip is not applied, so 415 (RFC 3261 8.2.3, 20.12)
raw enc1 $'Content-Type: text/plain\nContent-Encoding: identity, gzip' 'hello'
raw enc2 $'Content-Type: text/plain\nContent-Encoding: identity\nContent-Encoding: gzip' 'hello'
[ "$("${SIPCAT[@]}" "$T/enc1.sip")" = 415 ] && [ "$("${SIPCAT[@]}" "$T/enc2.sip")" = 415 ] &&
  pass "Content-Encoding: identity, gzip (one header or two): 415" || fail "Content-Encoding list" "$("${SIPCAT[@]}" "$T/enc1.sip") $("${SIPCAT[@]}" "$T/enc2.sip")"
# a Request-URI user gil%00evil is not gil (RFC 3261 19.1.4: compared unescaped, all of it): 404,
# not taken as gil's (the NUL ended the comparison)
raw nul 'Content-Type: text/plain' 'for gil?'
sed -i '1s/sip:gil@/sip:gil%00evil@/' "$T/nul.sip"
[ "$("${SIPCAT[@]}" "$T/nul.sip")" = 404 ] && pass "a MESSAGE to gil%00evil: 404" ||
  fail "gil%00evil" "$("${SIPCAT[@]}" "$T/nul.sip")"
# OpCheckCallee's rule, which OpMessage's copies: an INVITE to gil%00evil, 404 too
printf 'INVITE sip:gil%%00evil@127.0.0.1:%s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-inv-{n}\nMax-Forwards: 70\nFrom: <sip:eve@127.0.0.1>;tag=inv\nTo: <sip:gil@127.0.0.1>\nCall-ID: {cid}\nCSeq: 1 INVITE\nContact: <sip:eve@127.0.0.1:{port}>\n\n' \
  "$PORT_gil" >"$T/nulinv.sip"
[ "$("${SIPCAT[@]}" "$T/nulinv.sip")" = 404 ] && pass "an INVITE to gil%00evil: 404" ||
  fail "INVITE gil%00evil" "$("${SIPCAT[@]}" "$T/nulinv.sip")"
# our MESSAGE waiting for an answer (up to Timer F, 3 times over with challenges) is no call:
# it took gil's only ua.max_calls slot, and an INVITE got 486 Busy Here meanwhile
exec {hole2}< <(exec python3 -c 'import socket,time
s = socket.socket (socket.AF_INET, socket.SOCK_DGRAM); s.bind (("127.0.0.1", 0))
print (s.getsockname ()[1], flush=True); time.sleep (60)')
HOLE2_PID=$!
PIDS+=("$HOLE2_PID")
read -r -t 5 HOLE2 <&$hole2
start hal ua.xml "${UA[@]}" --set ua.uri=sip:hal@127.0.0.1 || exit 1
cmd gil "message sip:hole@127.0.0.1:$HOLE2 still there?"
if wait_ev gil '"to":"MessagePending"' 5; then
  cmd hal "call sip:gil@127.0.0.1:$PORT_gil"
  wait_ev gil '"event":"incoming"' 5 && ! grep -q '"event":"call_end".*"status":486' "$T/hal.events" &&
    pass "ua.max_calls 1 and our MESSAGE pending: an INVITE still rings" ||
    fail "max_calls taken by a MESSAGE" "$(grep -E 'call_end' "$T/hal.events" "$T/gil.events")"
else
  fail "gil: no MessagePending" "$(grep message_sent "$T/gil.events")"
fi
stop hal || fail "hal exit" "$(err_report "$T/hal.err")"
stop gil || fail "gil exit" "$(err_report "$T/gil.err")"
kill "$HOLE2_PID" 2>/dev/null
for u in alice bob carol eve dan fay gil hal ann ben px; do
  [ -f "$T/$u.err" ] && ! grep -q -E 'CRITICAL|runtime error|AddressSanitizer|LeakSanitizer' "$T/$u.err" &&
    pass "$u: no critical log, no sanitizer report" || fail "$u: critical log or sanitizer report" "$(grep -m3 -E 'CRITICAL|runtime error|Sanitizer' "$T/$u.err")"
done

summary message.sh
