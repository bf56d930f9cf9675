#!/bin/bash
# flow-token.sh: flow tokens (RFC 5626 5.2, 5.3; docs/servers.md, "Flow
# tokens: in-dialog NAT and the cluster"), on loopback, bounded.
#  - in-dialog NAT: a sipp caller behind a simulated NAT (its Via and Contact
#    name a port nothing listens on; uac-nat-bye.xml) calls a sipp callee
#    (uas-bye.xml) through the proxy, which Record-Routes with a flow token;
#    the callee hangs up: its BYE, Request-URI the caller's dead Contact,
#    reaches the caller at the port its INVITE came from; the same with a
#    NATed caller over TCP: the BYE comes back over its connection;
#  - a forged or altered token in a Route gets 403 "Invalid Flow Token" and
#    nothing is relayed (a listener at the address a forged token names gets
#    nothing), from a trusted source too;
#  - the TCP caller's Record-Route token once its connection is closed: 430
#    Flow Failed, and no connection is made (listeners bound at the address
#    the token names, its port taken by another program, and at the Contact
#    get none); a Record-Route token of one dialog in another dialog's Route:
#    403 Invalid Flow Token;
#  - registrar.cluster=true, one proxy: a phone registered over TCP gets this
#    node with a Path token as its first Path hop (location dump); an INVITE
#    for it comes over its connection without that Route (the self-hop
#    stripped); the same INVITE sent as another node would send it (Route:
#    the Path hop) reaches it too; a phone behind NAT over UDP is called
#    through its source;
#  - a Path token for a TCP connection made before a restart (same secret):
#    430 Flow Failed, no connection made;
#  - registrar.cluster off (the default): no Path is recorded.
. "$(dirname "$0")/lib.sh"
need_sipp
SCEN=$(cd "$(dirname "$0")/sipp" && pwd)
SIPCAT="$(dirname "$0")/sipcat.py"

# tcp_listen NAME ADDR PORT: a TCP listener at ADDR:PORT (SO_REUSEADDR: a
# port a closed connection left in TIME_WAIT) that writes each connection it
# accepts to $T/NAME.acc; $T/NAME.up once it listens, $T/NAME.stop ends it.
tcp_listen() {
  timeout 30 python3 - "$T/$1" "$2" "$3" <<'PY' &
import os, socket, sys, time
base, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
# a port whose connection is closing is free once the other end closed too
for attempt in range(100):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((addr, port))
        break
    except OSError:
        s.close()
        time.sleep(0.05)
else:
    sys.exit(1)
s.listen(8)
s.settimeout(0.1)
open(base + ".up", "w").write("up")
end = time.time() + 25
while time.time() < end and not os.path.exists(base + ".stop"):
    try:
        c, a = s.accept()
        open(base + ".acc", "a").write("accepted from %s:%d\n" % a)
        c.close()
    except socket.timeout:
        pass
PY
  PIDS+=($!)
  eval "LPID_$1=$!"
  for i in $(seq 80); do [ -e "$T/$1.up" ] && return 0; sleep 0.1; done
  return 1
}
# tcp_listen_end NAME: stops it; true when it accepted nothing.
tcp_listen_end() {
  local pid
  eval "pid=\$LPID_$1"
  touch "$T/$1.stop"
  wait "$pid" 2>/dev/null
  [ ! -s "$T/$1.acc" ]
}

dead_port() {
  local p
  while :; do
    p=$((20000 + (RANDOM % 20000)))
    udp_bound "$p" || break
  done
  echo "$p"
}
ctl() { "$SIPFLOW" ctl "$T/$1.sock" "${@:2}"; }

# ---- in-dialog NAT ----
start px proxy.xml --listen tcp:127.0.0.1:0 --set proxy.trusted=127.0.0.0/8 --set location.backend=memory --set sip.t1_ms=50 --log-level error \
  --control "$T/px.sock" || exit 1
sipp_server callee -sf "$SCEN/uas-bye.xml" -m 1 -trace_msg -message_file "$T/callee.log" ||
  fail "the callee did not start"
DEAD=$(dead_port)
sipp_run caller "127.0.0.1:$PORT_px" -sf "$SCEN/uac-nat-bye.xml" -s callee -key uas "127.0.0.1:$SIPP_PORT" -key dead "$DEAD" \
  -m 1 -trace_msg -message_file "$T/caller.log"
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] &&
  pass "the NATed caller's call completes and the callee's BYE reaches it at the port its INVITE came from" ||
  fail "the caller's call failed (sipp exit $SIPP_RC)" "$(tail -5 "$T/caller.out")"
sipp_server_wait callee
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "the callee's BYE got its 200 back through the proxy" ||
  fail "the callee's call failed (sipp exit $SIPP_RC)" "$(tail -5 "$T/callee.out")"
RR=$(grep -m1 '^Record-Route:' "$T/callee.log" | sed 's/^Record-Route: *//; s/\r$//')
case "$RR" in
  *";sff=r"*) pass "the proxy's Record-Route carries a flow token ($RR)" ;;
  *) fail "no flow token in the Record-Route" "$RR" ;;
esac
grep -q "^BYE sip:caller@127.0.0.1:$DEAD " "$T/caller.log" &&
  pass "the BYE's Request-URI is still the caller's Contact (sip:caller@127.0.0.1:$DEAD)" ||
  fail "the BYE's Request-URI" "$(grep -m1 '^BYE' "$T/caller.log")"
grep -q "\"event\":\"branch_forward\".*\"request_uri\":\"sip:caller@127.0.0.1:$DEAD\".*\"next_hop\":\"sip:127.0.0.1:[0-9]*;transport=udp\"" \
  "$T/px.events" && ! grep -q "\"next_hop\":\"sip:127.0.0.1:$DEAD;" "$T/px.events" &&
  pass "the proxy says so: branch_forward with next_hop the caller's source, not its Contact" ||
  fail "no branch_forward with the flow as next_hop" "$(grep branch_forward "$T/px.events")"

# over TCP: a caller behind NAT (Via and Contact name 127.0.0.2, a port
# nothing listens on) calls over a connection; the callee's BYE comes back
# over that connection
PX_TCP=$(grep '"event":"listening".*"transport":"tcp"' "$T/px.events" | head -1 | sed 's/.*"port":\([0-9]*\).*/\1/')
sipp_server callee2 -sf "$SCEN/uas-bye.xml" -m 1 || fail "the second callee did not start"
TCDEAD=$(dead_port)
timeout 30 python3 - "$PX_TCP" "$TCDEAD" "$SIPP_PORT" "$T" <<'PY' &&
import socket, sys, uuid, sipstream
proxy, dead, callee, t = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
# SO_REUSEADDR: its port, left in TIME_WAIT, can be bound by a listener later
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.settimeout(25)
s.connect(("127.0.0.1", proxy))
read_msg = sipstream.Stream(s).read
hdr = sipstream.hdr
cid = uuid.uuid4().hex
open(t + "/tcaller.cid", "w").write(cid)
open(t + "/tcaller.src", "w").write(str(s.getsockname()[1]))
base = ("From: <sip:tcaller@example.org>;tag=tc1\r\nCall-ID: %s\r\nMax-Forwards: 70\r\n" % cid)
s.sendall(("INVITE sip:callee@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.2:%d;branch=z9hG4bK%s\r\n%s"
           "To: <sip:callee@127.0.0.1:%d>\r\nCSeq: 1 INVITE\r\nContact: <sip:tcaller@127.0.0.2:%d;transport=tcp>\r\n"
           "Content-Length: 0\r\n\r\n" % (callee, dead, uuid.uuid4().hex, base, callee, dead)).encode())
while True:
    m = read_msg()
    if m.startswith("SIP/2.0 200"):
        break
    if not m.startswith("SIP/2.0 1"):
        sys.exit(1)
rr = ", ".join(hdr(m, "record-route")).split(", ")
open(t + "/tcaller.rr", "w").write(", ".join(rr))
route = ", ".join(reversed(rr))
target = hdr(m, "contact")[0].strip("<>")
to = hdr(m, "to")[0]
s.sendall(("ACK %s SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.2:%d;branch=z9hG4bK%s\r\nRoute: %s\r\n%sTo: %s\r\n"
           "CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n" % (target, dead, uuid.uuid4().hex, route, base, to)).encode())
m = read_msg()
if not m.startswith("BYE sip:tcaller@127.0.0.2:%d;transport=tcp " % dead):
    sys.exit(1)
keep = [l for l in m.split("\r\n")[1:] if l.split(":", 1)[0].strip().lower() in ("via", "from", "to", "call-id", "cseq")]
s.sendall(("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) + "\r\nContent-Length: 0\r\n\r\n").encode())
PY
  pass "over TCP: the NATed caller's call completes, and the callee's BYE comes back over its connection" ||
  fail "over TCP: the NATed caller's call failed" "$(cat "$T/tcaller.rr" 2>/dev/null)"
grep -q ';sff=rt7f000001' "$T/tcaller.rr" && pass "over TCP: the Record-Route carries a token naming the connection" ||
  fail "over TCP: no flow token" "$(cat "$T/tcaller.rr" 2>/dev/null)"
sipp_server_wait callee2
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "over TCP: the callee's BYE got its 200" ||
  fail "over TCP: the callee's call failed (sipp exit $SIPP_RC)" "$(tail -5 "$T/callee2.out")"

# ---- a TCP flow that is gone; a Record-Route token in another dialog ----
# the TCP caller's connection is closed: its port taken by another program,
# and a listener at its Contact; the callee's BYE with the dialog's own Route
TSFF=$(sed 's/.*;sff=\(rt[0-9a-f]*\).*/\1/' "$T/tcaller.rr")
TSFT=$(sed 's/.*;sft=\([0-9a-f]*\).*/\1/' "$T/tcaller.rr")
TCID=$(cat "$T/tcaller.cid")
TSRC=$(cat "$T/tcaller.src")
tcp_listen oldport 127.0.0.1 "$TSRC" || fail "no listener at the caller's old port $TSRC" "$(ss -tan | grep ":$TSRC ")"
tcp_listen contact 127.0.0.2 "$TCDEAD" || fail "no listener at the caller's Contact"
cat >"$T/bye-gone.sip" <<SIP
BYE sip:tcaller@127.0.0.2:$TCDEAD;transport=tcp SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{cid};rport
Route: <sip:127.0.0.1:$PORT_px;lr;sft=$TSFT;sff=$TSFF>
From: <sip:callee@127.0.0.1>;tag=g{cid}
To: <sip:tcaller@example.org>;tag=tc1
Call-ID: $TCID
CSeq: 7 BYE
Max-Forwards: 70
Content-Length: 0

SIP
got=$(timeout 20 python3 "$SIPCAT" send "127.0.0.1:$PORT_px" "$T/bye-gone.sip" --timeout 5 --show)
case "$got" in
  "430"*"SIP/2.0 430 Flow Failed"*) pass "a BYE over the TCP caller's flow, its connection closed: 430 Flow Failed" ;;
  *) fail "a BYE toward a closed TCP flow: got '$(printf '%s' "$got" | head -2 | tr '\r\n' '  ')'" ;;
esac
tcp_listen_end oldport && tcp_listen_end contact &&
  pass "... no connection made: neither to the address the token names (its port now another program's) nor to the Contact" ||
  fail "a connection was made" "$(cat "$T/oldport.acc" "$T/contact.acc" 2>/dev/null)"
# the UDP caller's token (its first dialog) in the TCP caller's dialog
cat >"$T/bye-other.sip" <<SIP
BYE sip:tcaller@127.0.0.2:$TCDEAD;transport=tcp SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{cid};rport
Route: <sip:127.0.0.1:$PORT_px;lr;sft=$TSFT;sff=$(printf '%s' "$RR" | sed 's/.*;sff=\([0-9a-z]*\).*/\1/')>
From: <sip:callee@127.0.0.1>;tag=o{cid}
To: <sip:tcaller@example.org>;tag=tc1
Call-ID: $TCID
CSeq: 8 BYE
Max-Forwards: 70
Content-Length: 0

SIP
got=$(timeout 20 python3 "$SIPCAT" send "127.0.0.1:$PORT_px" "$T/bye-other.sip" --timeout 5 --show)
case "$got" in
  "403"*"SIP/2.0 403 Invalid Flow Token"*) pass "another dialog's Record-Route token in a Route: 403 Invalid Flow Token (the token names its Call-ID)" ;;
  *) fail "another dialog's token: got '$(printf '%s' "$got" | head -2 | tr '\r\n' '  ')'" ;;
esac

# ---- forged and altered tokens ----
sff=$(printf '%s' "$RR" | sed 's/.*;sff=\([0-9a-z]*\).*/\1/')
sft=$(printf '%s' "$RR" | sed 's/.*;sft=\([0-9a-f]*\).*/\1/')
timeout 30 python3 "$SIPCAT" listen "$T/lport" "$T/listener.log" --answer 200 --seconds 25 &
LPID=$!
PIDS+=("$LPID")
for i in $(seq 50); do [ -s "$T/lport" ] && break; sleep 0.1; done
LPORT=$(cat "$T/lport")
# a token naming the listener, its MAC made up; the real one with one digit of
# its port changed; the real one with its MAC's last digit changed
forged=$(printf 'ru7f000001%04x%032d' "$LPORT" 0)
altered=$(printf '%s' "$sff" | python3 -c 'import sys; t=sys.stdin.read(); p=int(t[10:14],16); print(t[:10]+"%04x"%('"$LPORT"')+t[14:])')
flipped=$(printf '%s' "$sff" | python3 -c 'import sys; t=sys.stdin.read(); print(t[:-1]+("0" if t[-1]!="0" else "1"))')
for kind in forged altered flipped; do
  eval "tok=\$$kind"
  cat >"$T/bye-$kind.sip" <<SIP
BYE sip:caller@127.0.0.1:$LPORT SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{cid};rport
Route: <sip:127.0.0.1:$PORT_px;lr;sft=$sft;sff=$tok>
From: <sip:callee@127.0.0.1>;tag=b{cid}
To: <sip:caller@example.org>;tag=a{cid}
Call-ID: {cid}
CSeq: 1 BYE
Max-Forwards: 70
Content-Length: 0

SIP
  got=$(timeout 20 python3 "$SIPCAT" send "127.0.0.1:$PORT_px" "$T/bye-$kind.sip" --timeout 5 --show)
  case "$got" in
    "403"*"SIP/2.0 403 Invalid Flow Token"*) pass "a BYE with a $kind token in its Route: 403 Invalid Flow Token" ;;
    *) fail "a $kind token: got '$(printf '%s' "$got" | head -2 | tr '\r\n' '  ')'" ;;
  esac
done
cat >"$T/invite-forged.sip" <<SIP
INVITE sip:x@127.0.0.1:$LPORT SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{cid};rport
Route: <sip:127.0.0.1:$PORT_px;lr;sff=$(printf 'pu7f000001%04x%032d' "$LPORT" 0)>
From: <sip:mallory@example.org>;tag=m{cid}
To: <sip:x@127.0.0.1:$LPORT>
Call-ID: {cid}
CSeq: 1 INVITE
Max-Forwards: 70
Content-Length: 0

SIP
got=$(timeout 20 python3 "$SIPCAT" send "127.0.0.1:$PORT_px" "$T/invite-forged.sip" --timeout 5 --show)
case "$got" in
  "403"*"SIP/2.0 403 Invalid Flow Token"*) pass "an INVITE with a forged Path token in its Route: 403 Invalid Flow Token" ;;
  *) fail "a forged Path token: got '$(printf '%s' "$got" | head -2 | tr '\r\n' '  ')'" ;;
esac
kill "$LPID" 2>/dev/null
wait "$LPID" 2>/dev/null
[ ! -s "$T/listener.log" ] && pass "nothing was relayed to the address the tokens named" ||
  fail "the listener got something" "$(head -3 "$T/listener.log")"
expect_rc "cluster off: ctl location count" 0 ctl px location count
stop px

# ---- registrar.cluster=true, one node ----
start cl proxy.xml --listen tcp:127.0.0.1:0 --set registrar.cluster=true --set proxy.trusted=127.0.0.0/8 \
  --set location.backend=memory --set sip.t1_ms=50 --log-level error --control "$T/cl.sock" || exit 1
TCP_PORT=$(grep '"event":"listening".*"transport":"tcp"' "$T/cl.events" | head -1 | sed 's/.*"port":\([0-9]*\).*/\1/')
TDEAD=$(dead_port)
# the phone: registers over TCP (Via and Contact naming 127.0.0.2), answers
# each INVITE on that connection with 486, ends after the second ACK
timeout 30 python3 - "$TCP_PORT" "$TDEAD" "$T" <<'PY' &
import socket, sys, uuid, sipstream
proxy, dead, t = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = socket.create_connection(("127.0.0.1", proxy), timeout=25)
read_msg = sipstream.Stream(s).read
s.sendall(("REGISTER sip:127.0.0.1:%d;transport=tcp SIP/2.0\r\n"
           "Via: SIP/2.0/TCP 127.0.0.2:%d;branch=z9hG4bK%s\r\n"
           "From: <sip:tphone@sipflow.test>;tag=tnat\r\nTo: <sip:tphone@sipflow.test>\r\n"
           "Call-ID: %s\r\nCSeq: 1 REGISTER\r\nContact: <sip:tphone@127.0.0.2:%d;transport=tcp>\r\n"
           "Expires: 600\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
           % (proxy, dead, uuid.uuid4().hex, uuid.uuid4().hex, dead)).encode())
if not read_msg().startswith("SIP/2.0 200"):
    sys.exit(1)
acks = 0
while acks < 2:
    m = read_msg()
    if m.startswith("INVITE "):
        open(t + "/tphone.invites", "a").write(m + "\r\n=====\r\n")
        keep = [l for l in m.split("\r\n")[1:] if l.split(":", 1)[0].strip().lower() in ("via", "v", "from", "f", "call-id", "i", "cseq")]
        to = [l for l in m.split("\r\n") if l.split(":", 1)[0].strip().lower() in ("to", "t")][0]
        s.sendall(("SIP/2.0 486 Busy Here\r\n" + "\r\n".join(keep) + "\r\n" + to + ";tag=busy\r\nContent-Length: 0\r\n\r\n").encode())
    elif m.startswith("ACK "):
        acks += 1
PY
TPHONE_PID=$!
PIDS+=("$TPHONE_PID")
wait_ev cl '"event":"bindings".*"aor":"sip:tphone@sipflow.test"' 10 &&
  pass "cluster: the phone registered over TCP" || fail "cluster: no TCP registration"
expect_rc "cluster: ctl location dump" 0 ctl cl location dump sip:tphone@sipflow.test
grep -q "\"path\":\"<sip:127.0.0.1:$TCP_PORT;lr;transport=tcp;sff=pt7f000001[0-9a-f]*>\"" "$T/out" &&
  pass "... its first Path hop is this node with a Path token for its connection" ||
  fail "... no Path hop of ours" "$(head -c 600 "$T/out")"
HOP=$(sed 's/.*"path":"\(<[^"]*>\)".*/\1/' "$T/out")
cat >"$T/invite.sip" <<SIP
INVITE sip:tphone@sipflow.test SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{cid};rport
From: <sip:caller@example.org>;tag=c{cid}
To: <sip:tphone@sipflow.test>
Call-ID: {cid}
CSeq: 1 INVITE
Contact: <sip:caller@127.0.0.1:{port}>
Max-Forwards: 70
Content-Length: 0

SIP
got=$(timeout 20 python3 "$SIPCAT" send "127.0.0.1:$PORT_cl" "$T/invite.sip" --timeout 10)
[ "$got" = 486 ] && pass "cluster: the INVITE reached the phone over its own connection; its 486 came back" ||
  fail "cluster: the caller got '$got'" "$(grep branch_forward "$T/cl.events")"
! grep -qi '^Route:' "$T/tphone.invites" 2>/dev/null && grep -q "^INVITE sip:tphone@127.0.0.2:$TDEAD;transport=tcp " "$T/tphone.invites" &&
  pass "cluster: ... without a Route (the self-hop stripped), the Request-URI the Contact" ||
  fail "cluster: the INVITE as the phone got it" "$(head -12 "$T/tphone.invites" 2>/dev/null)"
# as another node sharing the store would send it: the Path hop as its Route
cat >"$T/invite-node.sip" <<SIP
INVITE sip:tphone@127.0.0.2:$TDEAD;transport=tcp SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{cid};rport
Route: $HOP
From: <sip:caller@example.org>;tag=n{cid}
To: <sip:tphone@sipflow.test>
Call-ID: {cid}
CSeq: 1 INVITE
Contact: <sip:caller@127.0.0.1:{port}>
Max-Forwards: 70
Content-Length: 0

SIP
got=$(timeout 20 python3 "$SIPCAT" send "127.0.0.1:$PORT_cl" "$T/invite-node.sip" --timeout 10)
[ "$got" = 486 ] && pass "cluster: an INVITE routed by the Path hop (as another node sends it) goes over the connection" ||
  fail "cluster: by the Path hop, the caller got '$got'" "$(grep branch_forward "$T/cl.events" | tail -1)"
timeout 10 tail --pid="$TPHONE_PID" -f /dev/null
wait "$TPHONE_PID" && pass "cluster: the phone got both INVITEs and both ACKs" || fail "cluster: the TCP phone script failed"

# UDP behind NAT: REGISTER from PPORT naming NDEAD; sipp answers there
PPORT=$(dead_port)
NDEAD=$(dead_port)
timeout 10 python3 - "$PPORT" "$NDEAD" "$PORT_cl" <<'PY' && pass "cluster: the NATed phone registered over UDP" || fail "cluster: no UDP registration"
import socket, sys, uuid
port, dead, proxy = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
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
    except socket.timeout:
        continue
    sys.exit(0 if data.startswith("SIP/2.0 200") else 1)
sys.exit(1)
PY
timeout 60 sipp -p "$PPORT" -i 127.0.0.1 -nostdin -timeout 50 -timeout_error -sf "$SCEN/uas-nat.xml" -key dead "$NDEAD" -m 1 \
  -trace_stat -stf "$T/uphone.csv" -trace_msg -message_file "$T/uphone.log" >"$T/uphone.out" 2>&1 &
SIPP_PID=$!
PIDS+=("$SIPP_PID")
for i in $(seq 50); do udp_bound "$PPORT" && break; sleep 0.1; done
expect_rc "cluster: ctl location dump (UDP)" 0 ctl cl location dump sip:phone@sipflow.test
grep -q "\"path\":\"<sip:127.0.0.1:$PORT_cl;lr;sff=pu7f000001$(printf '%04x' "$PPORT")[0-9a-f]*>\"" "$T/out" &&
  pass "... its first Path hop is this node with a Path token for its source" ||
  fail "... no Path hop of ours" "$(head -c 600 "$T/out")"
sipp_run ucaller "127.0.0.1:$PORT_cl" -sf "$SCEN/uac-rr.xml" -s phone -key uas sipflow.test -m 1
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "cluster: the call to the NATed phone completes" ||
  fail "cluster: the call failed (sipp exit $SIPP_RC)" "$(tail -5 "$T/ucaller.out")"
sipp_server_wait uphone
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "cluster: the phone got the INVITE at its source, without a Route" ||
  fail "cluster: the phone's call failed (sipp exit $SIPP_RC)" "$(tail -5 "$T/uphone.out")"
! grep -A12 '^INVITE' "$T/uphone.log" | grep -qi '^Route:' || fail "cluster: the phone's INVITE has a Route"
grep -q "\"request_uri\":\"sip:phone@127.0.0.1:$NDEAD\".*\"next_hop\":\"sip:127.0.0.1:$PPORT;transport=udp\"" "$T/cl.events" &&
  pass "cluster: branch_forward: the Contact as Request-URI, next_hop the source" ||
  fail "cluster: branch_forward" "$(grep branch_forward "$T/cl.events")"
# a TCP phone whose Contact is its connection's own address (its source
# port), the connection then closed: its Contact would reach whoever holds
# that port now, so it is no target (480), and nothing connects there
SDEAD=$(dead_port)
timeout 10 python3 - "$TCP_PORT" "$SDEAD" <<'PY' && pass "cluster: a phone whose Contact is its source registered over TCP" ||
import socket, sys, uuid
proxy, src = int(sys.argv[1]), int(sys.argv[2])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.2", src))
s.settimeout(8)
s.connect(("127.0.0.1", proxy))
s.sendall(("REGISTER sip:127.0.0.1:%d;transport=tcp SIP/2.0\r\n"
           "Via: SIP/2.0/TCP 127.0.0.2:%d;branch=z9hG4bK%s\r\n"
           "From: <sip:sphone@sipflow.test>;tag=s1\r\nTo: <sip:sphone@sipflow.test>\r\n"
           "Call-ID: %s\r\nCSeq: 1 REGISTER\r\nContact: <sip:sphone@127.0.0.2:%d;transport=tcp>\r\n"
           "Expires: 600\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
           % (proxy, src, uuid.uuid4().hex, uuid.uuid4().hex, src)).encode())
buf = b""
while b"\r\n\r\n" not in buf:
    d = s.recv(65535)
    if not d:
        sys.exit(1)
    buf += d
s.close()
sys.exit(0 if buf.startswith(b"SIP/2.0 200") else 1)
PY
  fail "cluster: the phone whose Contact is its source did not register"
tcp_listen sport 127.0.0.2 "$SDEAD" || fail "no listener at the phone's old source port"
sed 's/tphone/sphone/g' "$T/invite.sip" >"$T/invite-s.sip"
got=$(timeout 20 python3 "$SIPCAT" send "127.0.0.1:$PORT_cl" "$T/invite-s.sip" --timeout 10)
[ "$got" = 480 ] && pass "cluster: its flow gone and its Contact that flow's address: 480, not a target" ||
  fail "cluster: the caller got '$got'" "$(grep -E 'branch_forward|sphone' "$T/cl.events" | tail -3)"
tcp_listen_end sport && pass "... and no connection to its old port" || fail "a connection was made" "$(cat "$T/sport.acc")"
stop cl

# ---- a Path token from before a restart ----
# the same node (its state, so its secret) again, trusting nobody: the TCP
# phone's Path token names a connection of the process before; its Route
# rewritten to name the new TCP port (the token does not name the node)
start cl2 proxy.xml --listen tcp:127.0.0.1:0 --set core.state_dir="$T/cl.state/sipflow" --set registrar.cluster=true \
  --set location.backend=memory --set sip.t1_ms=50 --log-level error || exit 1
TCP2=$(grep '"event":"listening".*"transport":"tcp"' "$T/cl2.events" | head -1 | sed 's/.*"port":\([0-9]*\).*/\1/')
tcp_listen rcontact 127.0.0.2 "$TDEAD" || fail "no listener at the phone's Contact"
sed "s/^Route: .*/Route: $(printf '%s' "$HOP" | sed "s/127.0.0.1:$TCP_PORT;/127.0.0.1:$TCP2;/")/" "$T/invite-node.sip" >"$T/invite-restart.sip"
got=$(timeout 20 python3 "$SIPCAT" send "127.0.0.1:$PORT_cl2" "$T/invite-restart.sip" --timeout 5 --show)
case "$got" in
  "430"*"SIP/2.0 430 Flow Failed"*) pass "after a restart, the TCP phone's Path token (its MAC still good): 430 Flow Failed" ;;
  *) fail "a Path token from before a restart: got '$(printf '%s' "$got" | head -2 | tr '\r\n' '  ')'" "$(grep -m1 Route "$T/invite-restart.sip")" ;;
esac
tcp_listen_end rcontact && pass "... and no connection to the phone's Contact" || fail "a connection was made" "$(cat "$T/rcontact.acc")"
stop cl2

# ---- cluster off: no Path ----
start off proxy.xml --listen tcp:127.0.0.1:0 --set location.backend=memory --log-level error --control "$T/off.sock" || exit 1
OTCP=$(grep '"event":"listening".*"transport":"tcp"' "$T/off.events" | head -1 | sed 's/.*"port":\([0-9]*\).*/\1/')
timeout 10 python3 - "$OTCP" <<'PY' || fail "off: no registration"
import socket, sys, uuid
proxy = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", proxy), timeout=5)
s.sendall(("REGISTER sip:127.0.0.1:%d;transport=tcp SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.2:5099;branch=z9hG4bK%s\r\n"
           "From: <sip:o@sipflow.test>;tag=o\r\nTo: <sip:o@sipflow.test>\r\nCall-ID: %s\r\nCSeq: 1 REGISTER\r\n"
           "Contact: <sip:o@127.0.0.2:5099;transport=tcp>\r\nExpires: 600\r\nContent-Length: 0\r\n\r\n"
           % (proxy, uuid.uuid4().hex, uuid.uuid4().hex)).encode())
sys.exit(0 if s.recv(65535).startswith(b"SIP/2.0 200") else 1)
PY
expect_rc "off: ctl location dump" 0 ctl off location dump sip:o@sipflow.test
has "registrar.cluster off: no Path recorded for a TCP binding" "$T/out" '"path":null'
stop off
summary flow-token.sh
