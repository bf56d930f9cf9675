#!/bin/bash
# proxy-security.sh: attacks on xml/proxy.xml (registrar.users set,
# proxy.trusted unset), each run against the running proxy on loopback and
# bounded (docs/security.md).  "outside" is a host that is not ours: a UDP
# listener (sipcat.py listen) that records what reaches it and answers 200.
#  - in-dialog forgeries: a made-up To tag with our Route, to a foreign host
#    and to a local user; a forged Record-Route token, another Call-ID's
#    token, a token with neither tag; a preloaded Route to a foreign host;
#  - an ACK without a To tag and with a body: absorbed, never relayed;
#  - a REGISTER for another domain: 403;
#  - authenticated as alice with From: bob: 403 Auth User Mismatch;
#  - the caller's credentials for our realm are not forwarded;
#  - a real dialog's BYE with its token goes through, also after the proxy
#    restarted (the secret is kept in the state directory).
. "$(dirname "$0")/lib.sh"
SRC=${SF_SRCDIR:-$PWD}
sipcat() { timeout 30 python3 "$SRC/tests/integration/sipcat.py" "$@"; }
command -v python3 >/dev/null || { echo "not ok - python3 is not installed (scripts/setup-deps installs it)"; exit 1; }

printf 'alice:secret\nbob:hunter2\n' >"$T/users"
pxargs=(proxy.xml --set "registrar.users=$T/users" --set sip.t1_ms=100 --set "core.state_dir=$T/state")
start px "${pxargs[@]}" || exit 1
PX=127.0.0.1:$PORT_px

# the outside host: answers 200 to whatever reaches it
sipcat listen "$T/out.port" "$T/out.msgs" --answer 200 --seconds 120 &
OUTPID=$!
PIDS+=("$OUTPID")
for _ in $(seq 50); do [ -s "$T/out.port" ] && break; sleep 0.1; done # bounded: the listener's socket
OUT=$(cat "$T/out.port")
reached() { cat "$T/out.msgs" 2>/dev/null | grep -c -- "$1"; }

# refused N: the proxy's stats show at least N requests refused by policy
refused() {
  local before
  before=$(count px '"event":"stats"')
  cmd px status
  wait_ev px '"event":"stats"' 5 $((before + 1)) || return 1
  local r
  r=$(grep '"event":"stats"' "$T/px.events" | tail -1 | grep -o '"requests_refused":[0-9]*' | cut -d: -f2)
  [ "${r:-0}" -ge "$1" ]
}

msg() { # msg NAME: the message text on stdin goes to $T/NAME.sip
  cat >"$T/$1.sip"
}

# bob's binding points at the outside host (REGISTER with digest)
msg reg <<EOF
REGISTER sip:sipflow.test SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKreg{cid};rport
Max-Forwards: 70
From: <sip:bob@sipflow.test>;tag=reg1
To: <sip:bob@sipflow.test>
Call-ID: reg-{cid}
CSeq: 1 REGISTER
Contact: <sip:bob@127.0.0.1:$OUT>
Expires: 600

EOF
[ "$(sipcat send "$PX" "$T/reg.sip" --auth bob:hunter2)" = 200 ] && pass "bob registers (401, digest) with a contact at the outside host" ||
  fail "bob's registration" "$(tail -3 "$T/px.err")"

# 1. a made-up To tag and our Route, unauthenticated, to a foreign host (toll fraud)
msg forged <<EOF
INVITE sip:+19005550100@127.0.0.1:$OUT SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKf{cid};rport
Route: <sip:$PX;lr>
Max-Forwards: 70
From: <sip:alice@sipflow.test>;tag=a1
To: <sip:+19005550100@127.0.0.1>;tag=madeup
Call-ID: forged-{cid}
CSeq: 1 INVITE
Content-Type: application/sdp

v=0
EOF
[ "$(sipcat send "$PX" "$T/forged.sip")" = 403 ] && pass "a made-up To tag with our Route, to a foreign host: 403" ||
  fail "forged in-dialog INVITE to a foreign host" "$(sipcat send "$PX" "$T/forged.sip")"
# the same to a local user, "from alice"
sed -e "s|^INVITE .*|INVITE sip:bob@sipflow.test SIP/2.0|" "$T/forged.sip" >"$T/forged-local.sip"
[ "$(sipcat send "$PX" "$T/forged-local.sip")" = 403 ] && pass "a made-up To tag with our Route, to a local user: 403" ||
  fail "forged in-dialog INVITE to a local user"

# a preloaded Route past us to a foreign host, out of a dialog, unauthenticated
msg preload <<EOF
INVITE sip:bob@sipflow.test SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKp{cid};rport
Route: <sip:$PX;lr>, <sip:127.0.0.1:$OUT;lr>
Max-Forwards: 70
From: <sip:mallory@example.net>;tag=m1
To: <sip:bob@sipflow.test>
Call-ID: preload-{cid}
CSeq: 1 INVITE

EOF
[ "$(sipcat send "$PX" "$T/preload.sip")" = 403 ] && pass "a Route past us to a foreign host, unauthenticated: 403" ||
  fail "preloaded Route relayed"

# an ACK without a To tag and a 1,000-byte body: never relayed
{
  printf 'ACK sip:x@127.0.0.1:%s SIP/2.0\n' "$OUT"
  printf 'Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKack{cid};rport\nRoute: <sip:%s;lr>\nMax-Forwards: 70\n' "$PX"
  printf 'From: <sip:alice@sipflow.test>;tag=a2\nTo: <sip:x@127.0.0.1>\nCall-ID: ack-{cid}\nCSeq: 1 ACK\n'
  printf 'Content-Type: text/plain\n\n%s\n' "$(head -c 1000 /dev/zero | tr '\0' 'A')"
} >"$T/ack.sip"
[ "$(sipcat send "$PX" "$T/ack.sip" --timeout 0)" = "sent 1, responses 0" ] &&
  refused 4 && [ "$(reached 'Call-ID: ack-')" = 0 ] && [ "$(reached 'Call-ID: forged')" = 0 ] && [ "$(reached 'Call-ID: preload')" = 0 ] &&
  pass "an ACK without a To tag and with a body is absorbed; nothing of the above reached the outside host" ||
  fail "stateless ACK relay" "$(grep -c . "$T/out.msgs" 2>/dev/null)"

# a REGISTER for another domain
sed -e 's|^REGISTER .*|REGISTER sip:evil.example SIP/2.0|' -e 's|sip:bob@sipflow.test|sip:bob@evil.example|g' "$T/reg.sip" >"$T/reg-foreign.sip"
[ "$(sipcat send "$PX" "$T/reg-foreign.sip")" = 403 ] && pass "a REGISTER for another domain: 403, not proxied" ||
  fail "foreign REGISTER"

# authenticated as alice, From bob: 403 (item 4)
msg spoof <<EOF
INVITE sip:carol@127.0.0.1:$OUT SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKs{cid};rport
Max-Forwards: 70
From: <sip:bob@sipflow.test>;tag=s1
To: <sip:carol@127.0.0.1>
Call-ID: spoof-{cid}
CSeq: 1 INVITE

EOF
sipcat send "$PX" "$T/spoof.sip" --auth alice:secret --show >"$T/spoof.out"
[ "$(head -1 "$T/spoof.out")" = 403 ] && grep -q '^SIP/2.0 403 Auth User Mismatch' "$T/spoof.out" &&
  pass "authenticated as alice with From: bob: 403 Auth User Mismatch" || fail "auth user mismatch" "$(head -3 "$T/spoof.out")"

# a real dialog: alice (authenticated) calls bob, whose contact is the outside host
msg call <<EOF
INVITE sip:bob@sipflow.test SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKc{cid};rport
Max-Forwards: 70
From: <sip:alice@sipflow.test>;tag=alicetag
To: <sip:bob@sipflow.test>
Call-ID: dialog-1
CSeq: 1 INVITE
Contact: <sip:alice@127.0.0.1:{port}>

EOF
sipcat send "$PX" "$T/call.sip" --auth alice:secret --show >"$T/call.out"
rr=$(grep -i '^Record-Route:' "$T/call.out" | head -1 | tr -d '\r' | sed 's/^[^:]*: *//')
token=$(printf '%s' "$rr" | grep -o 'sft=[0-9a-f]*' | cut -d= -f2)
[ "$(head -1 "$T/call.out")" = 200 ] && [ -n "$token" ] && pass "alice calls bob through the proxy: 200, Record-Route with a token ($rr)" ||
  fail "the real call" "$(cat "$T/call.out")"
[ "$(reached 'Call-ID: dialog-1')" -ge 1 ] && ! awk '/Call-ID: dialog-1/,/=====/' "$T/out.msgs" | grep -q 'realm="sipflow.test"' &&
  ! grep -q 'realm="sipflow.test"' "$T/out.msgs" &&
  pass "the INVITE reached bob without the credentials for our realm" || fail "credentials forwarded"

bye() { # bye NAME CALLID FROMTAG TOTAG ROUTE
  msg "$1" <<EOF
BYE sip:out@127.0.0.1:$OUT SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKb{cid};rport
Route: $5
Max-Forwards: 70
From: <sip:alice@sipflow.test>;tag=$3
To: <sip:bob@sipflow.test>;tag=$4
Call-ID: $2
CSeq: 2 BYE

EOF
  sipcat send "$PX" "$T/$1.sip"
}
[ "$(bye bye-forged dialog-1 alicetag out1 "<sip:$PX;lr;sft=0123456789abcdef0123456789abcdef>")" = 403 ] &&
  pass "a forged token: 403" || fail "forged token"
[ "$(bye bye-cid other-call alicetag out1 "$rr")" = 403 ] && pass "the token of another Call-ID: 403" || fail "other Call-ID's token"
[ "$(bye bye-tags dialog-1 nottheone out1 "$rr")" = 403 ] && pass "a token whose tag is neither From's nor To's: 403" || fail "tag mismatch"
before=$(reached 'BYE sip:out')
[ "$(bye bye-ok dialog-1 alicetag out1 "$rr")" = 200 ] && [ "$(reached 'BYE sip:out')" = $((before + 1)) ] &&
  pass "the dialog's BYE with its token goes through" || fail "the real BYE"
# the callee's direction: bob (the outside host) sends a BYE to alice's Contact
# along the Record-Route he got in the INVITE (its token made for alice's Contact)
inv=$(awk '/^INVITE sip:bob@127.0.0.1/,/^=====/' "$T/out.msgs" | tr -d '\r')
rr_callee=$(printf '%s\n' "$inv" | grep -i -m1 '^Record-Route:' | sed 's/^[^:]*: *//')
alice_contact=$(printf '%s\n' "$inv" | grep -i -m1 '^Contact:' | sed 's/^[^<]*<\([^>]*\)>.*/\1/')
msg bye-rev <<EOF
BYE $alice_contact SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKr{cid};rport
Route: $rr_callee
Max-Forwards: 70
From: <sip:bob@sipflow.test>;tag=out1
To: <sip:alice@sipflow.test>;tag=alicetag
Call-ID: dialog-1
CSeq: 1 BYE

EOF
res=$(sipcat send "$PX" "$T/bye-rev.sip" --timeout 2)
[ -n "$rr_callee" ] && [ "$rr_callee" != "$rr" ] && [ "$res" != 403 ] &&
  pass "the callee's BYE along its own Record-Route (a token for alice's Contact) goes through ($res)" ||
  fail "the callee's direction" "rr_callee=$rr_callee contact=$alice_contact res=$res"
# the caller's token used toward another target: 403
sed -e "s|^BYE .*|BYE sip:somebody-else@127.0.0.1:$OUT SIP/2.0|" "$T/bye-ok.sip" >"$T/bye-elsewhere.sip"
[ "$(sipcat send "$PX" "$T/bye-elsewhere.sip")" = 403 ] && pass "a dialog's token toward another target: 403" ||
  fail "token used toward another target"

# an outside caller harvests a token by calling a local user (bob rings and
# answers at the outside host), then uses it to call a foreign number as alice
msg harvest <<EOF
INVITE sip:bob@sipflow.test SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKh{cid};rport
Max-Forwards: 70
From: <sip:mallory@evil.example>;tag=evilF
To: <sip:bob@sipflow.test>
Call-ID: harvest-1@evil.example
CSeq: 1 INVITE
Contact: <sip:mallory@127.0.0.1:{port}>

EOF
sipcat send "$PX" "$T/harvest.sip" --show >"$T/harvest.out"
hrr=$(grep -i '^Record-Route:' "$T/harvest.out" | head -1 | tr -d '\r' | sed 's/^[^:]*: *//')
msg fraud <<EOF
INVITE sip:+19005550100@127.0.0.1:$OUT SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKt{cid};rport
Route: $hrr
Max-Forwards: 70
From: "Alice" <sip:alice@sipflow.test>;tag=whatever
To: <sip:+19005550100@pstn.example>;tag=evilF
Call-ID: harvest-1@evil.example
CSeq: 100 INVITE

EOF
sed -e 's|^From: .*|From: <sip:mallory@evil.example>;tag=evilF|' -e 's|^To: .*|To: <sip:+19005550100@pstn.example>;tag=out1|' "$T/fraud.sip" >"$T/fraud2.sip"
[ "$(head -1 "$T/harvest.out")" = 200 ] && [ -n "$hrr" ] && [ "$(sipcat send "$PX" "$T/fraud.sip")" = 403 ] &&
  [ "$(sipcat send "$PX" "$T/fraud2.sip")" = 403 ] && [ "$(reached '+19005550100')" = 0 ] &&
  pass "a token harvested by calling a local user reaches no other target, as alice or as the caller: 403" ||
  fail "harvested token" "$(head -1 "$T/harvest.out") $hrr"

# the proxy restarts on the same port with the same state directory: the dialog still routes
stop px || fail "px exit" "$(err_report "$T/px.err")"
LISTEN=udp:$PX start px2 "${pxargs[@]}" || exit 1
[ "$(bye bye-restart dialog-1 alicetag out1 "$rr")" = 200 ] && pass "after a restart, the dialog's BYE with its token still goes through" ||
  fail "BYE after restart" "$(tail -3 "$T/px2.err")"
[ "$(bye bye-restart-forged dialog-1 alicetag out1 "<sip:$PX;lr;sft=0123456789abcdef0123456789abcdef>")" = 403 ] &&
  pass "after a restart, a forged token is still refused" || fail "forged token after restart"

stop px2 || fail "px2 exit" "$(err_report "$T/px2.err")"
kill "$OUTPID" 2>/dev/null
for u in px px2; do
  ! grep -q -E 'CRITICAL|runtime error|AddressSanitizer|LeakSanitizer' "$T/$u.err" && pass "$u: no critical, no sanitizer report" ||
    fail "$u stderr" "$(grep -E 'CRITICAL|runtime error|Sanitizer' "$T/$u.err" | head -3)"
done
summary proxy-security
