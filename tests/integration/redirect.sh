#!/bin/bash
# redirect.sh: xml/redirect.xml (registrar and redirect server) with user agents
# built from xml/ua.xml, on loopback, bounded:
#  - alice registers through digest (MD5 alone, the default), bob calls her
#    through the server: 302 with her contact, followed, the call is up;
#  - a user not in the users file: 404; a known user without binding: 480;
#  - a wrong password: challenged again, no binding;
#  - auth.algorithms=MD5,SHA-256: SHA-256 offered first all the same (sipp, which
#    reads only the first challenge, stops at it); a UA registers with SHA-256;
#  - a binding that is not refreshed expires (registrar.max_expires = 2);
#  - sipp: 200 registrations with [authentication], each first 401 stateless
#    (the registrar's gate); 5000 INVITEs at 1000 calls/s
#    redirected (302, ACK); Contact: * clears the bindings.
. "$(dirname "$0")/lib.sh"

printf 'alice:secret\nbob:hunter2\ncarol:pw\nsipp:sippass\n# a comment\n' >"$T/users"
start srv redirect.xml --set "registrar.users=$T/users" || exit 1
SRV=127.0.0.1:$PORT_srv
ua=(--set sip.t1_ms=100 --set "ua.registrar=sip:$SRV")

start alice ua.xml --set media.backend=null "${ua[@]}" --set ua.uri=sip:alice@127.0.0.1 --set ua.password=secret --set ua.auto_answer=0 || exit 1
wait_ev alice '"event":"registration".*"state":"registered"' 10 &&
  grep -q '"event":"registration".*"state":"challenged".*"status":401' "$T/alice.events" &&
  pass "alice registered through a 401 digest challenge" ||
  fail "alice registration" "$(grep registration "$T/alice.events")" "$(grep -E 'challenge|bindings' "$T/srv.events")"
wait_ev srv '"event":"bindings","machine":"redirect".*"aor":"sip:alice@127.0.0.1","bindings":1' 5 &&
  pass "the server holds one binding for sip:alice@127.0.0.1" || fail "server bindings" "$(grep bindings "$T/srv.events")"

start bob ua.xml --set media.backend=null "${ua[@]}" --set ua.uri=sip:bob@127.0.0.1 --set ua.password=hunter2 || exit 1
wait_ev bob '"event":"registration".*"state":"registered"' 10 || fail "bob registration"
cmd bob call "sip:alice@$SRV"
wait_ev bob '"event":"redirect".*"status":302' 5 && wait_ev bob '"to":"InCall"' 5 && wait_ev alice '"to":"InCall"' 5 &&
  pass "bob calls alice at the server: 302, followed, alice answers" ||
  fail "redirect call" "$(grep -E 'redirect|call_end' "$T/bob.events")" "$(grep redirect "$T/srv.events")"
cmd bob hangup
wait_ev alice '"event":"call_end".*"reason":"remote_bye"' 5 || fail "hangup"

cmd bob call "sip:nobody@$SRV"
wait_ev bob '"event":"call_end".*"status":404' 5 && pass "a user the server does not know: 404" ||
  fail "404" "$(grep call_end "$T/bob.events" | tail -1)"
cmd bob call "sip:carol@$SRV"
wait_ev bob '"event":"call_end".*"status":480' 5 && pass "a known user without binding: 480" ||
  fail "480" "$(grep call_end "$T/bob.events" | tail -1)"

start eve ua.xml --set media.backend=null "${ua[@]}" --set ua.uri=sip:carol@127.0.0.1 --set ua.password=wrong || exit 1
wait_ev eve '"event":"registration".*"state":"failed".*"status":401' 10 &&
  ! grep -q '"aor":"sip:carol@127.0.0.1","bindings":[1-9]' "$T/srv.events" &&
  pass "a wrong password: 401 again, no binding" || fail "wrong password" "$(grep registration "$T/eve.events")"

# SHA-256 written last is offered first (RFC 8760 2.4): sipp, which answers
# only the first challenge and only MD5, gives up at it
start srv2 redirect.xml --set "registrar.users=$T/users" --set auth.algorithms=MD5,SHA-256 || exit 1
need_sipp
sipp_run sha "127.0.0.1:$PORT_srv2" -sf "$(dirname "$0")/sipp/uac-register.xml" -s sipp -au sipp -ap sippass -m 1 -timeout 10
[ "$SIPP_RC" != 0 ] && grep -q "authentication must use MD5" "$T/sha.out" "$T"/sha*_errors.log 2>/dev/null &&
  pass "auth.algorithms=MD5,SHA-256: the SHA-256 challenge comes first (sipp stops at it)" ||
  fail "SHA-256 not first: sipp exit $SIPP_RC" "$(tail -3 "$T/sha.out")"
start dave ua.xml --set media.backend=null --set sip.t1_ms=100 --set "ua.registrar=sip:127.0.0.1:$PORT_srv2" --set ua.uri=sip:bob@127.0.0.1 \
  --set ua.password=hunter2 || exit 1
wait_ev dave '"event":"registration".*"state":"registered"' 10 && pass "SHA-256 offered first: a UA registers with it" ||
  fail "SHA-256" "$(grep registration "$T/dave.events")"

# expiry: a 2 s binding not refreshed (the UA is killed) is gone 2 s later.  The
# server's T1 is 40 ms, so each REGISTER transaction ends 2.56 s (Timer J) after
# its response: once all have ended, the last binding has expired.
start srv3 redirect.xml --set "registrar.users=$T/users" --set registrar.max_expires=2 --set registrar.min_expires=1 \
  --set sip.t1_ms=40 || exit 1
start frank ua.xml --set media.backend=null --set sip.t1_ms=100 --set "ua.registrar=sip:127.0.0.1:$PORT_srv3" --set ua.uri=sip:carol@127.0.0.1 \
  --set ua.password=pw || exit 1
wait_ev frank '"event":"registration".*"state":"registered".*"expires":2' 10 && pass "registrar.max_expires=2: granted 2 s" ||
  fail "max_expires" "$(grep registration "$T/frank.events")"
kill -KILL "$PID_frank"
wait "$PID_frank" 2>/dev/null
nists=$(count srv3 '"event":"state","machine":"nist".*"from":"Start"')
wait_ev srv3 '"event":"instance_end","machine":"nist"' 10 "$nists" || fail "srv3: REGISTER transactions still alive"
ends=$(count bob '"event":"call_end"')
cmd bob call "sip:carol@127.0.0.1:$PORT_srv3"
wait_ev bob '"event":"call_end"' 5 $((ends + 1)) && grep '"event":"call_end"' "$T/bob.events" | tail -1 | grep -q '"status":480' &&
  pass "the binding expired on time: 480" || fail "expiry" "$(grep -E 'call_end|redirect' "$T/bob.events" | tail -2)"

# sipp: 200 registrations through digest ([authentication], MD5 first), then
# 5000 INVITEs at 1000 calls/s, each 302 and ACK; then Contact: * clears
need_sipp
SCEN=$(cd "$(dirname "$0")/sipp" && pwd)
sipp_run reg "$SRV" -sf "$SCEN/uac-register.xml" -s sipp -au sipp -ap sippass -m 200 -r 200
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 200 ] && pass "sipp: 200 registrations in a row through digest" ||
  fail "sipp registrations: exit $SIPP_RC, ${OK:-0} successful" "$(tail -5 "$T/reg.out")"
# the first challenge of each is the registrar gate's, stateless: no transaction, no instance
[ "$(count srv '"event":"stateless_answer","status":401,"reason":"Unauthorized","method":"REGISTER"')" -ge 200 ] &&
  ! grep -q '"event":"challenge".*"reason":"no credentials"' "$T/srv.events" &&
  pass "each first 401 is answered statelessly (the registrar's gate)" ||
  fail "stateless 401s" "$(grep -c stateless_answer "$T/srv.events")" "$(grep -m1 '"event":"challenge"' "$T/srv.events")"
sipp_run inv302 "$SRV" -sf "$SCEN/uac-302.xml" -s sipp -m 5000 -r 1000
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 5000 ] && pass "sipp: 5000 INVITEs at 1000/s, each 302 with the binding, ACKed" ||
  fail "sipp 302 run: exit $SIPP_RC, ${OK:-0} successful, ${FAILED:-?} failed" "$(tail -5 "$T/inv302.out")"
sipp_run star "$SRV" -sf "$SCEN/uac-unregister-all.xml" -s sipp -au sipp -ap sippass -m 1
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "sipp: Contact: * with Expires: 0 accepted" ||
  fail "sipp Contact: *: exit $SIPP_RC" "$(tail -5 "$T/star.out")"
sipp_run require "$SRV" -sf "$SCEN/uac-require.xml" -s sipp -m 1
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "Require: gruu, foo gets 420 with Unsupported: gruu, foo" ||
  fail "420: sipp exit $SIPP_RC" "$(tail -5 "$T/require.out")"
ends=$(count bob '"event":"call_end"')
cmd bob call "sip:sipp@$SRV"
wait_ev bob '"event":"call_end"' 5 $((ends + 1)) && grep '"event":"call_end"' "$T/bob.events" | tail -1 | grep -q '"status":480' &&
  pass "after Contact: *, the user has no binding: 480" || fail "Contact: *" "$(grep call_end "$T/bob.events" | tail -1)"

for u in alice bob eve dave; do stop "$u" || fail "$u exit"; done
for u in srv srv2 srv3; do stop "$u" || fail "$u exit" "$(err_report "$T/$u.err")"; done
for u in srv srv2 srv3 alice bob eve dave; do
  [ -f "$T/$u.err" ] && ! grep -q -E 'CRITICAL|runtime error|AddressSanitizer|LeakSanitizer' "$T/$u.err" &&
    pass "$u: no critical log, no sanitizer report" ||
    fail "$u stderr" "$(grep -E 'CRITICAL|runtime error|Sanitizer' "$T/$u.err" 2>&1 | head -3)"
done
summary redirect
