#!/bin/bash
# proxy.sh: xml/proxy.xml (stateful proxy, registrar, digest) with user agents
# built from xml/ua.xml, on loopback, bounded:
#  - alice and bob register through 401 digest; alice calls bob through the
#    proxy (407, then credentials), bob rings and answers, the BYE goes through
#    the Record-Route;
#  - a CANCEL through the proxy; 480 for a user without binding, 404 for one we
#    do not know;
#  - forking: bob's two devices ring, one answers, the other gets CANCEL;
#  - proxy.fork=sequential with Timer C: the first device is cancelled when
#    Timer C fires, then the second rings and answers;
#  - 16.7: two forks to two proxies that challenge: one 407 with both
#    challenges; 603 cancels the other fork; 486 beats 503; 503 goes up as 500;
#  - forking by q: the q=1.0 binding first, the q=0.5 one after its 486;
#  - a stray response forwarded statelessly; a strict router's request;
#  - 16.3: 483 (Max-Forwards 0), 416 (tel: Request-URI), 420 (Proxy-Require), 482 (loop).
. "$(dirname "$0")/lib.sh"

printf 'alice:secret\nbob:hunter2\ncarol:pw\n' >"$T/users"
start px proxy.xml --set "registrar.users=$T/users" --set sip.t1_ms=100 || exit 1
PX=127.0.0.1:$PORT_px
ua=(--set media.backend=null --set sip.t1_ms=100 --set "ua.registrar=sip:$PX" --set "ua.outbound_proxy=sip:$PX")

start alice ua.xml "${ua[@]}" --set ua.uri=sip:alice@sipflow.test --set ua.password=secret || exit 1
start bob ua.xml "${ua[@]}" --set ua.uri=sip:bob@sipflow.test --set ua.password=hunter2 || exit 1
wait_ev alice '"event":"registration".*"state":"registered"' 10 && wait_ev bob '"event":"registration".*"state":"registered"' 10 &&
  grep -q '"event":"registration".*"state":"challenged".*"status":401' "$T/alice.events" &&
  pass "alice and bob register at the proxy through a 401 digest challenge" ||
  fail "registration" "$(grep registration "$T/alice.events" "$T/bob.events")" "$(tail -3 "$T/px.err")"

cmd alice call sip:bob@sipflow.test
wait_ev bob '"event":"incoming"' 10 && wait_ev alice '"to":"RingBack"' 5 &&
  grep -E -q '"event":"(challenge|stateless_answer)".*"status":407' "$T/px.events" &&
  pass "alice calls bob through the proxy: 407, credentials, bob rings, alice hears 180" ||
  fail "call through the proxy" "$(grep -E 'call_end|challenge' "$T/alice.events")" "$(grep -E 'proxy_|branch_' "$T/px.events" | tail -5)"
cmd bob answer
wait_ev alice '"to":"InCall"' 5 && wait_ev bob '"to":"InCall"' 5 && pass "bob answers: both in call" ||
  fail "answer" "$(grep -E 'proxy_|branch_' "$T/px.events" | tail -5)"
wait_ev px '"event":"state","machine":"proxy".*"trigger":"sip:ACK"' 5 && pass "the ACK for the 2xx came through the proxy (Route)" ||
  fail "ACK via Record-Route" "$(grep -c ACK "$T/px.events")"
cmd alice hangup
wait_ev bob '"event":"call_end".*"reason":"remote_bye"' 5 &&
  wait_ev px '"event":"state","machine":"proxy".*"to":"Routing".*"trigger":"sip:BYE"' 5 &&
  pass "alice hangs up: the BYE goes through the Record-Route" || fail "BYE via Record-Route" "$(grep call_end "$T/bob.events")"

# CANCEL through the proxy: bob rings, alice gives up
cmd alice call sip:bob@sipflow.test
wait_ev bob '"event":"incoming"' 10 2 && wait_ev alice '"to":"RingBack"' 5 2 || fail "second call does not ring"
cmd alice hangup
wait_ev bob '"event":"call_end".*"reason":"cancelled"' 5 && wait_ev alice '"event":"call_end".*"status":487' 5 &&
  wait_ev px '"event":"proxy_cancel"' 5 && wait_ev px '"event":"branch_cancel"' 5 &&
  pass "alice cancels: the CANCEL goes through the proxy to bob, 487 comes back" ||
  fail "CANCEL through the proxy" "$(grep call_end "$T/alice.events" "$T/bob.events" | tail -2)"

cmd alice call sip:carol@sipflow.test
wait_ev alice '"event":"call_end".*"status":480' 5 && pass "a user without binding: 480" ||
  fail "480" "$(grep call_end "$T/alice.events" | tail -1)"
cmd alice call sip:nobody@sipflow.test
wait_ev alice '"event":"call_end".*"status":404' 5 && pass "a user the proxy does not know: 404" ||
  fail "404" "$(grep call_end "$T/alice.events" | tail -1)"

# forking: bob's two devices register at a second proxy that trusts 127.0.0.1
# (no 407); one answers, the other gets CANCEL
start px2 proxy.xml --set "registrar.users=$T/users" --set proxy.trusted=127.0.0.1/32 || exit 1
PX2=127.0.0.1:$PORT_px2
ua2=(--set media.backend=null --set sip.t1_ms=100 --set "ua.registrar=sip:$PX2" --set "ua.outbound_proxy=sip:$PX2")
start bob1 ua.xml "${ua2[@]}" --set ua.uri=sip:bob@sipflow.test --set ua.password=hunter2 || exit 1
start bob2 ua.xml "${ua2[@]}" --set ua.uri=sip:bob@sipflow.test --set ua.password=hunter2 || exit 1
start dave ua.xml "${ua2[@]}" --set ua.uri=sip:alice@sipflow.test --set ua.password=secret || exit 1
wait_ev bob1 '"state":"registered"' 10 && wait_ev bob2 '"state":"registered"' 10 && wait_ev dave '"state":"registered"' 10 ||
  fail "forking: registrations" "$(tail -3 "$T/px2.err")"
wait_ev px2 '"event":"bindings".*"aor":"sip:bob@sipflow.test","bindings":2' 5 || fail "px2 does not hold two bindings for bob"
cmd dave call sip:bob@sipflow.test
wait_ev bob1 '"event":"incoming"' 10 && wait_ev bob2 '"event":"incoming"' 10 &&
  pass "forking: both of bob's devices ring" || fail "forking: ringing" "$(grep -E 'branch_' "$T/px2.events")"
! grep -E -q '"event":"(challenge|stateless_answer)".*"status":407' "$T/px2.events" && pass "proxy.trusted: no 407 for a trusted source" ||
  fail "trusted source challenged"
grep -E -q '"event":"(challenge|stateless_answer)".*"status":401' "$T/px2.events" && pass "proxy.trusted: REGISTER is challenged (401) all the same" ||
  fail "REGISTER from a trusted source not challenged"
cmd bob2 answer
wait_ev dave '"to":"InCall"' 5 && wait_ev bob1 '"event":"call_end".*"reason":"cancelled"' 5 &&
  pass "bob's second device answers; the first gets CANCEL" ||
  fail "forking: answer and CANCEL" "$(grep call_end "$T/bob1.events")" "$(grep -E 'proxy_|branch_' "$T/px2.events" | tail -6)"
cmd dave hangup
wait_ev bob2 '"event":"call_end".*"reason":"remote_bye"' 5 && pass "the forked call ends with a BYE through the proxy" ||
  fail "forking: BYE"

# proxy.fork=sequential and Timer C (proxy.timer_c=1): bob's first device rings
# alone; nobody answers it, so Timer C cancels it after 1 s, and only then does
# the second device ring; it answers
start px3 proxy.xml --set "registrar.users=$T/users" --set proxy.trusted=127.0.0.1/32 --set proxy.fork=sequential \
  --set proxy.timer_c=1 || exit 1
PX3=127.0.0.1:$PORT_px3
ua3=(--set media.backend=null --set sip.t1_ms=100 --set "ua.registrar=sip:$PX3" --set "ua.outbound_proxy=sip:$PX3")
start bob3 ua.xml "${ua3[@]}" --set ua.uri=sip:bob@sipflow.test --set ua.password=hunter2 || exit 1
start bob4 ua.xml "${ua3[@]}" --set ua.uri=sip:bob@sipflow.test --set ua.password=hunter2 || exit 1
start erin ua.xml "${ua3[@]}" --set ua.uri=sip:alice@sipflow.test --set ua.password=secret || exit 1
wait_ev bob3 '"state":"registered"' 10 && wait_ev bob4 '"state":"registered"' 10 && wait_ev erin '"state":"registered"' 10 ||
  fail "sequential: registrations"
cmd erin call sip:bob@sipflow.test
wait_ev px3 '"event":"branch_forward"' 10 || fail "sequential: no branch"
first=bob3 second=bob4
grep -m1 '"event":"branch_forward"' "$T/px3.events" | grep -q ":$PORT_bob4[;\">]" && first=bob4 second=bob3
wait_ev "$first" '"event":"incoming"' 5 && [ "$(count "$second" '"event":"incoming"')" = 0 ] &&
  pass "proxy.fork=sequential: only the first device rings" || fail "sequential: first device" "$(grep branch_ "$T/px3.events")"
wait_ev px3 '"event":"branch_timer_c"' 5 && wait_ev "$first" '"event":"call_end".*"reason":"cancelled"' 5 &&
  pass "Timer C (1 s): the unanswered branch is cancelled" || fail "Timer C" "$(grep -E 'branch_|proxy_' "$T/px3.events")"
wait_ev "$second" '"event":"incoming"' 5 && pass "then the second device rings" || fail "sequential: second device"
cmd "$second" answer
wait_ev erin '"to":"InCall"' 5 && pass "the second device answers: the call is up" ||
  fail "sequential: answer" "$(grep call_end "$T/erin.events")"
cmd erin hangup
wait_ev "$second" '"event":"call_end".*"reason":"remote_bye"' 5 || fail "sequential: BYE"

# quit while a forwarded INVITE rings: the proxy cancels the branch, the caller
# hears 487, and the proxy exits cleanly
e3=$(count bob3 '"event":"incoming"') e4=$(count bob4 '"event":"incoming"')
cmd erin call sip:bob@sipflow.test
wait_ev px3 '"event":"branch_forward"' 10 3 || fail "shutdown: no branch"
ringer=bob3 before=$e3
grep '"event":"branch_forward"' "$T/px3.events" | tail -1 | grep -q ":$PORT_bob4[;\">]" && ringer=bob4 before=$e4
wait_ev "$ringer" '"event":"incoming"' 5 $((before + 1)) || fail "shutdown: not ringing"
stop px3 && wait_ev erin '"event":"call_end".*"status":487' 5 && wait_ev "$ringer" '"event":"call_end".*"reason":"cancelled"' 5 &&
  pass "quit while an INVITE rings: the branch is cancelled, the caller hears 487, the proxy exits 0" ||
  fail "shutdown" "$(grep call_end "$T/erin.events" | tail -1)" "$(tail -3 "$T/px3.err")"

# sip.advertise=localhost: Via and Record-Route name the proxy "localhost:PORT";
# the callee's BYE comes back by that name (resolved from /etc/hosts) and the
# proxy knows the Route as its own
start px4 proxy.xml --set sip.advertise=localhost --set sip.t1_ms=100 || exit 1
ua4=(--set media.backend=null --set sip.t1_ms=100 --set "ua.registrar=sip:127.0.0.1:$PORT_px4" --set "ua.outbound_proxy=sip:127.0.0.1:$PORT_px4")
start carol ua.xml "${ua4[@]}" --set ua.uri=sip:carol@sipflow.test --set ua.auto_answer=0 || exit 1
start hank ua.xml "${ua4[@]}" --set ua.uri=sip:hank@sipflow.test || exit 1
wait_ev carol '"state":"registered"' 10 && wait_ev hank '"state":"registered"' 10 || fail "advertise: registrations"
cmd hank call sip:carol@sipflow.test
wait_ev carol '"event":"incoming"' 10 && cmd carol answer && wait_ev hank '"to":"InCall"' 5 || fail "advertise: call"
cmd carol hangup
wait_ev hank '"event":"call_end".*"reason":"remote_bye"' 5 &&
  wait_ev px4 '"event":"state","machine":"proxy".*"to":"Routing".*"trigger":"sip:BYE"' 5 &&
  pass "sip.advertise=localhost: the BYE comes back through the proxy by its advertised name" ||
  fail "advertise" "$(grep call_end "$T/hank.events")" "$(grep -E 'BYE|branch_' "$T/px4.events" | tail -3)"

# forking to two downstream proxies (16.7 steps 6, 7): bob@sipflow.test is bound at
# px0 to one address at pxa and one at pxb; both challenge (407, realms a.test and
# b.test): px0's 407 upstream carries both challenges
printf 'alice:secret\n' >"$T/users-ab"
PX0_SECRET=5f66757a7a2d70726f787920736563726574207265706c6179206f6e6c792121
( umask 077 && echo "$PX0_SECRET" >"$T/px0.secret" )
start px0 proxy.xml --set sip.t1_ms=100 --set proxy.trusted=127.0.0.1 --set "core.secret_file=$T/px0.secret" || exit 1
start pxa proxy.xml --set sip.t1_ms=100 --set "registrar.users=$T/users-ab" --set registrar.realm=a.test \
  --set registrar.domains=sipflow.test,a.test || exit 1
start pxb proxy.xml --set sip.t1_ms=100 --set "registrar.users=$T/users-ab" --set registrar.realm=b.test \
  --set registrar.domains=sipflow.test,b.test || exit 1
PX0=127.0.0.1:$PORT_px0
cat >"$T/reg2.xml" <<SCEN
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="two contacts">
<send retrans="500"><![CDATA[
REGISTER sip:$PX0 SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
Max-Forwards: 70
From: <sip:bob@sipflow.test>;tag=[pid]reg
To: <sip:bob@sipflow.test>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: <sip:bob@127.0.0.1:$PORT_pxa>, <sip:bob@127.0.0.1:$PORT_pxb>
Expires: 600
Content-Length: 0

]]></send>
<recv response="200"/>
</scenario>
SCEN
cat >"$T/inv407.xml" <<SCEN
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="407 aggregated">
<send retrans="500" start_txn="invite"><![CDATA[
INVITE sip:bob@sipflow.test SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
Max-Forwards: 70
From: <sip:alice@sipflow.test>;tag=[pid]inv
To: <sip:bob@sipflow.test>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:alice@[local_ip]:[local_port]>
Content-Length: 0

]]></send>
<recv response="100" optional="true" response_txn="invite"/>
<recv response="407" response_txn="invite">
  <action>
    <ereg regexp="Proxy-Authenticate: Digest realm=.a[.]test" search_in="msg" check_it="true" assign_to="a"/>
    <ereg regexp="Proxy-Authenticate: Digest realm=.b[.]test" search_in="msg" check_it="true" assign_to="b"/>
    <log message="challenges: [\$a] [\$b]"/>
  </action>
</recv>
<send ack_txn="invite"><![CDATA[
ACK sip:bob@sipflow.test SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-3]
Max-Forwards: 70
From: <sip:alice@sipflow.test>;tag=[pid]inv
To: <sip:bob@sipflow.test>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Content-Length: 0

]]></send>
</scenario>
SCEN
sipp_run reg2 "$PX0" -sf "$T/reg2.xml" -m 1 -timeout 10
[ "$SIPP_RC" = 0 ] && wait_ev px0 '"event":"bindings".*"aor":"sip:bob@sipflow.test","bindings":2' 5 ||
  fail "two contacts for bob at px0" "$(tail -3 "$T/reg2.out")"
sipp_run inv407 "$PX0" -sf "$T/inv407.xml" -m 1 -timeout 10
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && [ "$(count px0 '"event":"branch_forward"')" = 2 ] &&
  wait_ev px0 '"event":"proxy_final".*"status":407' 1 &&
  pass "two forks challenged by two proxies: one 407 upstream with both challenges (a.test, b.test)" ||
  fail "407 aggregation: sipp exit $SIPP_RC" "$(tail -3 "$T/inv407.out")" "$(grep -E 'proxy_|branch_' "$T/px0.events")"

# 16.7 step 6 with bob's two devices at px2: a 6xx cancels the other branch and
# goes upstream; of 486 and 503, the lower class wins; a 503 goes up as 500
reject_test() { # reject_test CODE1 CODE2 EXPECTED WHAT
  local e1 e2 ed
  e1=$(count bob1 '"event":"incoming"') e2=$(count bob2 '"event":"incoming"') ed=$(count dave '"event":"call_end"')
  cmd dave call sip:bob@sipflow.test
  wait_ev bob1 '"event":"incoming"' 5 $((e1 + 1)) && wait_ev bob2 '"event":"incoming"' 5 $((e2 + 1)) || return 1
  cmd bob1 reject "$1"
  [ "$2" != - ] && { wait_ev px2 "\"event\":\"proxy_branch_final\".*\"status\":$1" 5 && cmd bob2 reject "$2"; }
  wait_ev dave '"event":"call_end"' 5 $((ed + 1)) && grep '"event":"call_end"' "$T/dave.events" | tail -1 | grep -q "\"status\":$3"
}
c2=$(count bob2 '"event":"call_end".*"reason":"cancelled"')
reject_test 603 - 603 && wait_ev bob2 '"event":"call_end".*"reason":"cancelled"' 5 $((c2 + 1)) &&
  pass "a 603 from one device: the other is cancelled, 603 upstream" || fail "6xx" "$(grep -E 'proxy_' "$T/px2.events" | tail -4)"
reject_test 486 503 486 && pass "486 and 503: the lower class (486) goes upstream" ||
  fail "best response" "$(grep -E 'proxy_' "$T/px2.events" | tail -4)"
reject_test 503 503 500 && pass "503 from both: 500 upstream (16.7 step 6)" ||
  fail "503 as 500" "$(grep -E 'proxy_' "$T/px2.events" | tail -4)"

# forking by q (proxy.fork=q, 16.6): qtest@sipflow.test is bound at px0 to bob2's
# device with q=1.0 and bob1's with q=0.5; bob2 rings alone, rejects (486), then
# bob1 rings and rejects (480): the caller gets the first of two 4xx, 486
sed -e 's/REGISTER sip:/REGISTER sip:/' -e 's/bob@sipflow.test/qtest@sipflow.test/g' \
  -e "s|^Contact: .*|Contact: <sip:bob@127.0.0.1:$PORT_bob1>;q=0.5, <sip:bob@127.0.0.1:$PORT_bob2>;q=1.0|" "$T/reg2.xml" >"$T/regq.xml"
sipp_run regq "$PX0" -sf "$T/regq.xml" -m 1 -timeout 10
[ "$SIPP_RC" = 0 ] || fail "q bindings at px0" "$(tail -3 "$T/regq.out")"
start gina ua.xml --set media.backend=null --set sip.t1_ms=100 --set "ua.outbound_proxy=sip:$PX0" --set ua.uri=sip:gina@example.net || exit 1
e1=$(count bob1 '"event":"incoming"') e2=$(count bob2 '"event":"incoming"')
cmd gina call sip:qtest@sipflow.test
wait_ev bob2 '"event":"incoming"' 5 $((e2 + 1)) && [ "$(count bob1 '"event":"incoming"')" = "$e1" ] &&
  pass "q order: the q=1.0 device rings alone" || fail "q order: first" "$(grep branch_forward "$T/px0.events" | tail -2)"
cmd bob2 reject 486
wait_ev bob1 '"event":"incoming"' 5 $((e1 + 1)) && pass "q order: after its 486, the q=0.5 device rings" || fail "q order: second"
cmd bob1 reject 480
wait_ev gina '"event":"call_end".*"status":486' 5 && pass "q order: both refused; the first 4xx, 486, goes upstream" ||
  fail "q order: final" "$(grep call_end "$T/gina.events")"

# 16.7, 16.11: a response that matches no transaction but carries our Via on top
# is forwarded statelessly to the next Via, when its branch is one of ours (the
# branch's MAC, made with px0's key, checks); a forged one is dropped (no
# reflector). px0's secret is known to the test (core.secret_file): the MAC is
# the top 32 bits of SipHash-2-4 of HEAD under the first 16 bytes of
# HMAC-SHA-256(secret, "sipflow branch").
head=0123456789abcdef.00000000
# SipHash-2-4, the reference algorithm, for the branch MAC and the loop hash
cat >"$T/siphash.py" <<'PY'
import struct
def siphash24(k, m):
    k0, k1 = struct.unpack("<QQ", k)
    v = [k0 ^ 0x736f6d6570736575, k1 ^ 0x646f72616e646f6d, k0 ^ 0x6c7967656e657261, k1 ^ 0x7465646279746573]
    M = (1 << 64) - 1
    rotl = lambda x, b: ((x << b) | (x >> (64 - b))) & M
    def rnd():
        v[0] = (v[0] + v[1]) & M; v[1] = rotl(v[1], 13) ^ v[0]; v[0] = rotl(v[0], 32)
        v[2] = (v[2] + v[3]) & M; v[3] = rotl(v[3], 16) ^ v[2]
        v[0] = (v[0] + v[3]) & M; v[3] = rotl(v[3], 21) ^ v[0]
        v[2] = (v[2] + v[1]) & M; v[1] = rotl(v[1], 17) ^ v[2]; v[2] = rotl(v[2], 32)
    whole = len(m) - len(m) % 8
    for i in range(0, whole, 8):
        w, = struct.unpack("<Q", m[i:i + 8]); v[3] ^= w; rnd(); rnd(); v[0] ^= w
    b = (len(m) << 56) & M
    for j, c in enumerate(m[whole:]):
        b |= c << (8 * j)
    v[3] ^= b; rnd(); rnd(); v[0] ^= b; v[2] ^= 0xff
    for _ in range(4):
        rnd()
    return v[0] ^ v[1] ^ v[2] ^ v[3]
PY
mac=$(PYTHONPATH=$T python3 - "$PX0_SECRET" "$head" <<'PY'
import hashlib, hmac, sys
from siphash import siphash24
key = hmac.new(bytes.fromhex(sys.argv[1]), b"sipflow branch", hashlib.sha256).digest()[:16]
print("%08x" % (siphash24(key, sys.argv[2].encode()) >> 32))
PY
)
stray() { # stray NAME BRANCH
  cat >"$T/$1.sip" <<MSG
SIP/2.0 200 OK
Via: SIP/2.0/UDP $PX0;branch=$2
Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKupstream
From: <sip:a@example.net>;tag=1
To: <sip:b@example.net>;tag=2
Call-ID: $1-{cid}
CSeq: 1 INVITE

MSG
  python3 "$SF_SRCDIR/tests/integration/sipcat.py" send "$PX0" "$T/$1.sip" --timeout 0 >/dev/null
}
px0_stat() { # px0_stat FIELD: from a fresh stats event
  local before
  before=$(count px0 '"event":"stats"')
  cmd px0 status
  wait_ev px0 '"event":"stats"' 5 $((before + 1)) || return 1
  grep '"event":"stats"' "$T/px0.events" | tail -1 | grep -o "\"$1\":[0-9]*" | cut -d: -f2
}
sl0=$(px0_stat stateless_answers) st0=$(px0_stat stray_responses)
stray forged "z9hG4bKsfp$head""00000000"
stray genuine "z9hG4bKsfp$head$mac"
for _ in $(seq 50); do [ "$(px0_stat stray_responses)" -ge $((st0 + 2)) ] && break; done # bounded: both seen
sl1=$(px0_stat stateless_answers)
[ "$sl1" = $((sl0 + 1)) ] && pass "a stray response with our Via and branch is forwarded to the next Via; a forged branch is not" ||
  fail "stray response: stateless_answers $sl0 -> $sl1"

# 16.3: requests the proxy refuses before forwarding (sipp sends one each)
need_sipp
probe() { # probe NAME CODE RURI MAXFWD EXTRA-HEADER-LINE...
  local name=$1 code=$2 ruri=$3 mf=$4
  shift 4
  {
    printf '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="%s">\n<send><![CDATA[\n' "$name"
    printf '%s %s SIP/2.0\n' "${METHOD:-OPTIONS}" "$ruri"
    printf 'Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]\n'
    [ $# -gt 0 ] && printf '%s\n' "$@"
    printf 'Max-Forwards: %s\nFrom: <sip:probe@example.net>;tag=probetag\nTo: <sip:x@example.net>\n' "$mf"
    printf 'Call-ID: [call_id]\nCSeq: 1 %s\nContent-Length: 0\n\n]]></send>\n' "${METHOD:-OPTIONS}"
    printf '<recv response="100" optional="true"/>\n<recv response="%s"/>\n</scenario>\n' "$code"
  } >"$T/$name.xml"
  sipp_run "$name" "${TARGET:-$PX}" -sf "$T/$name.xml" -m 1 -cid_str "$name@probe" -timeout "${PROBE_TIMEOUT:-10}"
  [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ]
}
probe mf0 483 sip:x@127.0.0.1:9 0 && pass "Max-Forwards 0: 483" || fail "483" "$(tail -3 "$T/mf0.out")"
probe tel 416 tel:+15551234 70 && pass "a tel: Request-URI: 416" || fail "416" "$(tail -3 "$T/tel.out")"
probe preq 420 sip:x@127.0.0.1:9 70 'Proxy-Require: foo' && grep -E -q '"event":"(proxy_answer|stateless_answer)".*"status":420' "$T/px.events" &&
  pass "Proxy-Require: 420" || fail "420" "$(tail -3 "$T/preq.out")"
# an INVITE refused or challenged before any state (stateless 483, 407; 8.2.7)
# and its CANCEL: the CANCEL matches no transaction, 481 (9.2), and nothing is
# forwarded
invcancel() { # invcancel NAME MAXFWD CODE
  cat >"$T/$1.xml" <<SCEN
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="$1">
<send><![CDATA[
INVITE sip:bob@sipflow.test SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK$1[call_number]
Max-Forwards: $2
From: <sip:alice@sipflow.test>;tag=[pid]$1
To: <sip:bob@sipflow.test>
Call-ID: [call_id]
CSeq: 1 INVITE
Content-Length: 0

]]></send>
<recv response="$3"/>
<send><![CDATA[
CANCEL sip:bob@sipflow.test SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=z9hG4bK$1[call_number]
Max-Forwards: 70
From: <sip:alice@sipflow.test>;tag=[pid]$1
To: <sip:bob@sipflow.test>
Call-ID: [call_id]
CSeq: 1 CANCEL
Content-Length: 0

]]></send>
<recv response="481"/>
</scenario>
SCEN
  sipp_run "$1" "$PX" -sf "$T/$1.xml" -m 1 -cid_str "$1@probe" -timeout 10
  [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ]
}
invcancel ic483 0 483 && pass "INVITE (Max-Forwards 0) answered 483 statelessly; its CANCEL matches nothing: 481" ||
  fail "INVITE 483 + CANCEL" "$(tail -3 "$T/ic483.out")"
invcancel icauth 70 407 && ! grep -q '"event":"branch_forward".*"call_id":"icauth@probe"' "$T/px.events" &&
  pass "INVITE without credentials challenged statelessly, then CANCEL: 481, nothing forwarded" ||
  fail "INVITE + CANCEL before routing" "$(tail -3 "$T/icauth.out")" "$(grep icauth "$T/px.events" | grep -E 'proxy_|branch_')"

# px has users: a request from outside (From not ours) to outside is refused
probe relay 403 sip:x@127.0.0.1:9 70 && pass "neither From nor Request-URI ours: 403, no open relay" ||
  fail "relay" "$(tail -3 "$T/relay.out")"
# px0 has no users file: no authentication, and it forwards anything
# a strict router's request (16.4): our Record-Route as Request-URI, the real
# one as the last Route: forwarded to it (port 9: Timer F, then 408)
METHOD=INVITE TARGET=$PX0 probe strict 408 "sip:$PX0;lr" 70 "Route: <sip:strict@127.0.0.1:9>" &&
  grep -q '"event":"branch_forward".*"request_uri":"sip:strict@127.0.0.1:9"' "$T/px0.events" &&
  pass "a strict router's request: the last Route becomes the Request-URI again" ||
  fail "strict router" "$(grep branch_forward "$T/px0.events" | tail -1)"
# a loop (16.3 step 4): the request carries our own Via with the branch we would
# compute for it (docs/proxy.md gives the hash: SipHash-2-4 under the key
# "sipflow-hash-key")
hash=$(PYTHONPATH=$T python3 -c 'from siphash import siphash24; print("%016x" % siphash24(b"sipflow-hash-key", b"sip:x@127.0.0.1:9|probetag||loop@probe|1|"))')
probe loop 482 sip:x@127.0.0.1:9 70 "Via: SIP/2.0/UDP $PX;branch=z9hG4bKsfp$hash.00000000;rport" &&
  pass "a request that comes back unchanged: 482 Loop Detected" || fail "482" "$(tail -3 "$T/loop.out")"
# the same request with another branch hash in our Via is a spiral: forwarded
# (to port 9, where no one answers: Timer F, 64*T1 = 6.4 s, then 408 upstream)
METHOD=INVITE TARGET=$PX0 probe spiral 408 sip:x@127.0.0.1:9 70 "Via: SIP/2.0/UDP $PX0;branch=z9hG4bKsfp0000000000000000.00000000;rport" &&
  grep -q '"event":"branch_forward".*"request_uri":"sip:x@127.0.0.1:9"' "$T/px0.events" &&
  pass "a spiral is forwarded; its branch times out: 408" || fail "spiral" "$(tail -3 "$T/spiral.out")"
# RFC 4320: an OPTIONS that times out downstream gets no 408: nothing at all
PROBE_TIMEOUT=8 TARGET=$PX0 probe nof 408 sip:nof@127.0.0.1:9 70 && fail "RFC 4320: an OPTIONS got 408"
grep -q '"event":"proxy_final_none".*"call_id":"nof@probe"\|"call_id":"nof@probe".*"event":"proxy_final_none"' "$T/px0.events" ||
  wait_ev px0 '"proxy_final_none"' 5
grep '"call_id":"nof@probe"' "$T/px0.events" | grep -q '"proxy_final_none"' &&
  ! grep '"call_id":"nof@probe"' "$T/px0.events" | grep -q '"event":"proxy_final"' &&
  pass "RFC 4320: an OPTIONS that timed out downstream gets no 408" || fail "RFC 4320" "$(grep nof@probe "$T/px0.events" | tail -2)"

for u in alice bob bob1 bob2 dave bob3 bob4 erin gina carol hank; do stop "$u" || fail "$u exit"; done
for u in px px2 px0 pxa pxb px4; do stop "$u" || fail "$u exit" "$(err_report "$T/$u.err")"; done
for u in px px2 px3 px0 pxa pxb px4 alice bob bob1 bob2 dave bob3 bob4 erin gina carol hank; do
  ! grep -q -E 'CRITICAL|WARNING|runtime error|AddressSanitizer|LeakSanitizer' "$T/$u.err" &&
    pass "$u: no warning, no sanitizer report" ||
    fail "$u stderr" "$(grep -E 'CRITICAL|WARNING|runtime error|Sanitizer' "$T/$u.err" 2>&1 | head -3)"
done
summary proxy
