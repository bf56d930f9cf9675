#!/bin/bash
# flow-attacks.sh: the flow language's actions and conditions against requests
# written by an attacker (loopback, bounded; the flows are tests/flows/attack/):
#  - OpProxyForward with a target reading ${ruri.user}: a user part carrying
#    "%20sip:victim@HOST" stays in the one target's user part (escaped); the
#    proxy never sends to the victim (no relay);
#  - OpReply: a Request-URI user part that closes the Contact and adds two more,
#    and a From user carrying CR LF "Via: ...", stay inside their one header line
#    (escaped);
#  - OpRedirectCall with sip:${ruri.user}@host: one Contact, the same host;
#  - OpLog: a %0A in a logged value cannot forge a log line (fail2ban);
#  - a regular expression that backtracks catastrophically, on 60 KB bodies: no
#    stall (the value is bounded, the steps too), and a short body still matches;
#  - a request whose method is "response" is no sip:response (501, no event).
. "$(dirname "$0")/lib.sh"
FLOWS=$(cd "$(dirname "$0")/../flows/attack" && pwd)
sipcat() { timeout 60 python3 "$(dirname "$0")/sipcat.py" "$@"; }

# ---- OpProxyForward: no relay through the user part ----
sipcat listen "$T/gw.port" "$T/gw.msgs" --answer 486 --seconds 60 & PIDS+=($!)
sipcat listen "$T/evil.port" "$T/evil.msgs" --answer 486 --seconds 60 & PIDS+=($!)
for _ in $(seq 50); do [ -s "$T/gw.port" ] && [ -s "$T/evil.port" ] && break; sleep 0.1; done # bounded: 5 s to bind
GW=$(cat "$T/gw.port"); EVIL=$(cat "$T/evil.port")
start px "$FLOWS/forward-relay.xml" --set registrar.domains=sipflow.test --set "flow.gwport=$GW" --set sip.t1_ms=100 || exit 1
cat >"$T/relay.sip" <<EOM
INVITE sip:1%20sip%3Avictim%40127.0.0.1%3A$EVIL%20@sipflow.test SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{cid};rport
Max-Forwards: 70
From: <sip:attacker@outside.example>;tag=a1
To: <sip:1@sipflow.test>
Call-ID: {cid}
CSeq: 1 INVITE
Contact: <sip:attacker@127.0.0.1:{port}>

EOM
final=$(sipcat send "127.0.0.1:$PORT_px" "$T/relay.sip" --timeout 5)
wait_ev px '"event":"proxy_forward"' 5 &&
  grep -q '"targets":"sip:1%20sip%3Avictim%40127.0.0.1%3A[0-9]*%20@127.0.0.1:'"$GW"'"' "$T/px.events" &&
  pass "forward: the user part stays the user part of the one target, escaped ($final from the gateway)" ||
  fail "forward: the targets" "$(grep proxy_forward "$T/px.events")"
grep -aq "^INVITE sip:1%20sip%3Avictim" "$T/gw.msgs" && [ ! -s "$T/evil.msgs" ] &&
  pass "... the gateway got it; nothing reached the victim's port (no relay)" ||
  fail "forward: who got the INVITE" "gw: $(grep -ac '^INVITE' "$T/gw.msgs" 2>/dev/null), victim: $(grep -ac '^INVITE' "$T/evil.msgs" 2>/dev/null)"
stop px || fail "px exit" "$(err_report "$T/px.err")"

# ---- a UA-side policy flow ----
start ua "$FLOWS/policy.xml" --set media.backend=null --set sip.t1_ms=100 --set core.log_level=message || exit 1
cat >"$T/rep.sip" <<'EOM'
INVITE sip:x%40vm.example%3E,%20%3Csip%3Aevil%40evil.example%3E,%20%3Csip%3Ay@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{cid};rport
Max-Forwards: 70
From: <sip:bob%0D%0AVia%3A%20SIP%2F2.0%2FUDP%20evil@127.0.0.1>;tag=b1
To: <sip:alice@127.0.0.1>
Call-ID: {cid}
CSeq: 1 INVITE
Contact: <sip:bob@127.0.0.1:{port}>

EOM
sipcat send "127.0.0.1:$PORT_ua" "$T/rep.sip" --timeout 5 --show >"$T/rep.out"
has "OpReply: 302" "$T/rep.out" "SIP/2.0 302"
contact=$(grep '^Contact:' "$T/rep.out" | tr -d '\r')
[ "$(grep -c '^Contact:' "$T/rep.out")" = 1 ] && [ "$(printf '%s' "$contact" | tr -cd '<' | wc -c)" = 1 ] &&
  [ "$contact" = 'Contact: <sip:x@vm.example%3E%2C %3Csip:evil@evil.example%3E%2C %3Csip:y@vm.example>' ] &&
  pass "... one Contact, one value: what the Request-URI carried is escaped inside it" ||
  fail "OpReply: the Contact" "$(grep -i '^contact' "$T/rep.out")"
[ "$(grep -c '^Via:' "$T/rep.out")" = 1 ] && grep -q '^X-Caller: bob%0D%0AVia: SIP/2.0/UDP evil' "$T/rep.out" &&
  pass "... CR LF in the From user stays inside X-Caller (one Via in the response)" ||
  fail "OpReply: header injection" "$(grep -iE '^(via|x-caller)' "$T/rep.out")"
grep -aq '^sipflow: message: c1 Idle: call for x@vm.example>, <sip:evil@evil.example>, <sip:y' "$T/ua.err" &&
  pass "OpLog wrote the value as it is, on its one line" || fail "OpLog line" "$(grep 'call for' "$T/ua.err")"

cat >"$T/redir.sip" <<'EOM'
INVITE sip:1%0Asipflow%3A%20message%3A%20auth%20failed%3A%20user%20%22alice%22%20from%20192.0.2.9%0A@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{cid};rport
Max-Forwards: 70
From: <sip:bob@127.0.0.1>;tag=b2
To: <sip:alice@127.0.0.1>
Call-ID: {cid}
CSeq: 1 INVITE
X-Test: redirect
Contact: <sip:bob@127.0.0.1:{port}>

EOM
sipcat send "127.0.0.1:$PORT_ua" "$T/redir.sip" --timeout 5 --show >"$T/redir.out"
has "OpRedirectCall: 302" "$T/redir.out" "SIP/2.0 302"
[ "$(grep -c '^Contact:' "$T/redir.out")" = 1 ] &&
  grep -q '^Contact: <sip:1%0Asipflow%3A%20message%3A%20auth%20failed%3A%20user%20%22alice%22%20from%20192.0.2.9%0A@voicemail.example>' "$T/redir.out" &&
  pass "... one Contact on the flow's host, the request's user part escaped" ||
  fail "OpRedirectCall: the Contact" "$(grep -i '^contact' "$T/redir.out")"
! grep -aq '^sipflow: message: auth failed' "$T/ua.err" && grep -aq 'call for 1\\nsipflow: message: auth failed' "$T/ua.err" &&
  pass "the log: a line feed a request carried is written as \\n, it forges no line" ||
  fail "log injection" "$(grep -a 'auth failed' "$T/ua.err")"

# Catastrophic backtracking on big bodies: bounded, answered at once (302: false).
python3 - "$T/big.sip" <<'PY'
import sys
body = ""
while len(body) < 59998:
    body += "1" * 11 + "y"
body = body[:59998] + "yx"
open(sys.argv[1], "w").write("INVITE sip:alice@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{cid};rport\n"
  "Max-Forwards: 70\nFrom: <sip:mallory@example.org>;tag=m{n}\nTo: <sip:alice@127.0.0.1>\nCall-ID: {cid}\n"
  "CSeq: 1 INVITE\nContact: <sip:mallory@127.0.0.1:{port}>\nContent-Type: text/plain\n\n" + body)
PY
out=$(sipcat send "127.0.0.1:$PORT_ua" "$T/big.sip" --count 5 --timeout 2)
[ "$(echo "$out" | grep -c '^302')" = 5 ] &&
  pass "five INVITEs with 60 KB bodies against (\\d+)+x: each answered within 2 s (no stall; the value is too long: false)" ||
  fail "regex on big bodies" "$out"
printf 'INVITE sip:alice@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{cid};rport\nMax-Forwards: 70\nFrom: <sip:m@example.org>;tag=s1\nTo: <sip:alice@127.0.0.1>\nCall-ID: {cid}\nCSeq: 1 INVITE\nContact: <sip:m@127.0.0.1:{port}>\nContent-Type: text/plain\n\n12345x' >"$T/small.sip"
[ "$(sipcat send "127.0.0.1:$PORT_ua" "$T/small.sip" --timeout 5)" = 488 ] &&
  pass "... a short body that matches still matches (488)" || fail "regex on a short body"

# A request whose method is "response".
printf 'response sip:alice@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{cid};rport\nMax-Forwards: 70\nFrom: <sip:m@example.org>;tag=r1\nTo: <sip:alice@127.0.0.1>\nCall-ID: {cid}\nCSeq: 1 response\n\n' >"$T/resp.sip"
[ "$(sipcat send "127.0.0.1:$PORT_ua" "$T/resp.sip" --timeout 5)" = 501 ] && ! grep -q '"event":"got_response"' "$T/ua.events" &&
  pass "a request with the method 'response' is no sip:response: 501, no got_response event" ||
  fail "method response" "$(grep got_response "$T/ua.events")"
stop ua || fail "ua exit" "$(err_report "$T/ua.err")"

summary flow-attacks.sh
