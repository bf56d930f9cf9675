#!/bin/bash
# flow-token-relay.sh: a Path token reaches the flow it names and nothing else
# (docs/security.md, "Flow tokens"), on loopback, bounded.  One node with
# registrar.cluster=true and no trusted source; a phone behind a simulated NAT
# registers over UDP (its Path hop, this node with a Path token, read with
# `sipflow ctl location dump` as a node sharing the store would read it).
# Whoever holds that token (it never expires and is stored in the clear) sends
# an INVITE from outside for a foreign number, its Route the Path hop followed
# by a Route of its own choosing:
#  - the proxy admits it (a good Path token is a target of ours) and must send
#    it over the flow the token names (RFC 5626 5.3: the token says where the
#    request goes), never to the Route after it: a listener at that Route's
#    address gets nothing, the phone's source gets the INVITE.
. "$(dirname "$0")/lib.sh"
SIPCAT="$(dirname "$0")/sipcat.py"
ctl() { "$SIPFLOW" ctl "$T/$1.sock" "${@:2}"; }
dead_port() {
  local p
  while :; do
    p=$((20000 + (RANDOM % 20000)))
    udp_bound "$p" || break
  done
  echo "$p"
}

start cl proxy.xml --set registrar.cluster=true --set location.backend=memory --set sip.t1_ms=50 --log-level error \
  --control "$T/cl.sock" || exit 1

# the attacker's chosen next hop: a listener that records what reaches it
timeout 40 python3 "$SIPCAT" listen "$T/evil.port" "$T/evil.got" --seconds 30 &
EVIL_PID=$!
PIDS+=("$EVIL_PID")
for i in $(seq 50); do [ -s "$T/evil.port" ] && break; sleep 0.1; done
EVIL=$(cat "$T/evil.port")

# the phone: REGISTER from PPORT naming NDEAD (a NAT), then listens on PPORT
PPORT=$(dead_port)
NDEAD=$(dead_port)
timeout 40 python3 - "$PPORT" "$NDEAD" "$PORT_cl" "$T/phone.got" <<'PY' &
import socket, sys, time, uuid
port, dead, proxy, out = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", port))
s.settimeout(1)
msg = ("REGISTER sip:127.0.0.1:%d SIP/2.0\r\n"
       "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport\r\n"
       "From: <sip:phone@sipflow.test>;tag=nat1\r\nTo: <sip:phone@sipflow.test>\r\n"
       "Call-ID: %s\r\nCSeq: 1 REGISTER\r\nContact: <sip:phone@127.0.0.1:%d>\r\n"
       "Expires: 600\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
       % (proxy, dead, uuid.uuid4().hex, uuid.uuid4().hex, dead)).encode()
for attempt in range(5):
    s.sendto(msg, ("127.0.0.1", proxy))
    try:
        data = s.recv(65535).decode(errors="replace")
        break
    except socket.timeout:
        continue
else:
    sys.exit(1)
if not data.startswith("SIP/2.0 200"):
    sys.exit(1)
open(out + ".registered", "w").write("yes\n")
end = time.time() + 25
while time.time() < end:
    try:
        d = s.recv(65535)
    except socket.timeout:
        continue
    open(out, "ab").write(d + b"\r\n=====\r\n")
PY
PHONE_PID=$!
PIDS+=("$PHONE_PID")
wait_ev cl '"event":"bindings".*"aor":"sip:phone@sipflow.test"' 10 &&
  pass "the NATed phone registered over UDP" || fail "no registration"
expect_rc "ctl location dump" 0 ctl cl location dump sip:phone@sipflow.test
HOP=$(sed -n 's/.*"path":"\(<[^"]*sff=p[^"]*>\)".*/\1/p' "$T/out")
[ -n "$HOP" ] && pass "its Path hop carries a Path token" || fail "no Path token" "$(head -c 600 "$T/out")"

cat >"$T/relay.sip" <<SIP
INVITE sip:premium@127.0.0.1:$EVIL SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{cid};rport
Route: $HOP, <sip:127.0.0.1:$EVIL;lr>
From: <sip:eve@example.net>;tag=e{cid}
To: <sip:premium@127.0.0.1:$EVIL>
Call-ID: {cid}
CSeq: 1 INVITE
Contact: <sip:eve@127.0.0.1:{port}>
Max-Forwards: 70
Content-Length: 0

SIP
got=$(timeout 20 python3 "$SIPCAT" send "127.0.0.1:$PORT_cl" "$T/relay.sip" --timeout 3)
echo "# the attacker got: $got"
wait_ev cl '"event":"branch_forward"' 10 || fail "no branch_forward"
grep '"event":"branch_forward"' "$T/cl.events" | tail -1 | sed 's/^/# /'
# the INVITE was handed to the transport when branch_forward was written; the
# sipcat listener had the 3 s above to get it
! grep -q '^INVITE ' "$T/evil.got" 2>/dev/null &&
  pass "a Path token with a Route after it relays nothing to that Route's address" ||
  fail "a Path token made the proxy relay an outside INVITE to the Route the sender appended (open relay)" \
    "$(head -3 "$T/evil.got")"
kill "$PHONE_PID" 2>/dev/null
wait "$PHONE_PID" 2>/dev/null
grep -q "^INVITE sip:premium@127.0.0.1:$EVIL " "$T/phone.got" 2>/dev/null &&
  pass "... it went over the flow the token names (the phone's source)" ||
  fail "... the phone's source did not get it" "$(head -3 "$T/phone.got" 2>/dev/null)"
kill "$EVIL_PID" 2>/dev/null
stop cl
exit $((fails > 0))
