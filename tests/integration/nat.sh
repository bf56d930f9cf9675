#!/bin/bash
# nat.sh: a phone behind a simulated NAT (docs/servers.md, "Behind NAT"), on
# loopback, bounded.  The phone (tests/integration/sipp/uas-nat.xml) registers
# at xml/proxy.xml a Contact naming a port nothing listens on, with a Via that
# names the same port and asks for rport, sent from the port it does listen on
# (what a NAT makes of a phone's REGISTER); a caller (sipp, uac-rr.xml) calls
# the address-of-record through the proxy.
#  - registrar.nat=auto (the default): the INVITE goes to the address and port
#    the REGISTER came from, its Request-URI still the registered Contact; the
#    call completes (200, ACK, BYE); the phone's 200 names its private address
#    as Contact too, and the caller's ACK and BYE reach it through the flow
#    token in the proxy's Record-Route; the 200 to the REGISTER lists the
#    Contact as registered;
#  - a CANCEL (python3 phone and caller) goes where the INVITE went, the
#    source; so does the ACK for the 487;
#  - registrar.nat=off: the INVITE goes to the Contact, where nothing answers:
#    the caller gets 408 after Timer B (sip.t1_ms=50: 3.2 s);
#  - over TCP (a python3 phone): the INVITE comes over the connection the
#    REGISTER came on, its Request-URI the Contact; the phone's 486 reaches
#    the caller and is ACKed.
. "$(dirname "$0")/lib.sh"
need_sipp
SCEN=$(cd "$(dirname "$0")/sipp" && pwd)

# dead_port: a loopback UDP port nothing listens on.
dead_port() {
  local p
  while :; do
    p=$((20000 + (RANDOM % 20000)))
    udp_bound "$p" || break
  done
  echo "$p"
}

# register PORT DEAD PROXYPORT OUT: a REGISTER for sip:phone@sipflow.test
# from 127.0.0.1:PORT whose Via and Contact name 127.0.0.1:DEAD (rport asked),
# as a phone behind a NAT sends it; the response in OUT; exit 0 on 200.
register() {
  timeout 10 python3 - "$@" <<'PY'
import socket, sys, uuid
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
    except socket.timeout:
        continue
    open(out, "w").write(data)
    sys.exit(0 if data.startswith("SIP/2.0 200") else 1)
sys.exit(1)
PY
}

# phone NAME PROXY: the NATed phone registers at PROXY from a free port, then
# sipp answers one call on that port; sets DEAD, PHONE_PORT, PHONE_PID.
phone() {
  local name=$1 i
  PHONE_PORT=$(dead_port)
  DEAD=$(dead_port)
  register "$PHONE_PORT" "$DEAD" "$(eval echo "\$PORT_$2")" "$T/$name.reg" || return 1
  timeout 150 sipp -p "$PHONE_PORT" -i 127.0.0.1 -nostdin -timeout 60 -timeout_error -sf "$SCEN/uas-nat.xml" -key dead "$DEAD" -m 1 \
    -trace_stat -stf "$T/$name.csv" -trace_msg -message_file "$T/$name.log" >"$T/$name.out" 2>&1 &
  PHONE_PID=$!
  PIDS+=("$PHONE_PID")
  for i in $(seq 50); do # bounded: 5 s for the socket to appear
    udp_bound "$PHONE_PORT" && return 0
    kill -0 "$PHONE_PID" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# auto: reached through the REGISTER's source
start px proxy.xml --set proxy.trusted=127.0.0.0/8 --set location.backend=memory --set sip.t1_ms=50 --log-level error ||
  exit 1
phone phone px && pass "the NATed phone registered (Contact 127.0.0.1:$DEAD, sent from 127.0.0.1:$PHONE_PORT)" ||
  fail "the phone did not register" "$(tail -5 "$T/phone.out")"
sipp_run caller "127.0.0.1:$PORT_px" -sf "$SCEN/uac-rr.xml" -s phone -key uas sipflow.test -m 1
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "registrar.nat=auto: the call to the NATed phone completes (200, ACK, BYE)" ||
  fail "auto: the call failed (sipp exit $SIPP_RC)" "$(tail -5 "$T/caller.out")"
SIPP_PID=$PHONE_PID
sipp_server_wait phone
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "the phone got the INVITE at the port its REGISTER came from, and the BYE" ||
  fail "the phone's call failed (sipp exit $SIPP_RC)" "$(tail -5 "$T/phone.out")"
grep -q "^INVITE sip:phone@127.0.0.1:$DEAD " "$T/phone.log" &&
  pass "the INVITE's Request-URI is the Contact as registered (sip:phone@127.0.0.1:$DEAD)" ||
  fail "Request-URI not the registered Contact" "$(grep -m1 '^INVITE' "$T/phone.log")"
grep -q "\"event\":\"branch_forward\".*\"request_uri\":\"sip:phone@127.0.0.1:$DEAD\".*\"next_hop\":\"sip:127.0.0.1:$PHONE_PORT;transport=udp\"" \
  "$T/px.events" && pass "the proxy says so: branch_forward with the Contact and next_hop the REGISTER's source" ||
  fail "no branch_forward with next_hop" "$(grep -m1 branch_forward "$T/px.events")"
grep -q "\"event\":\"branch_forward\".*\"request_uri\":\"sip:127.0.0.1:$DEAD;transport=UDP\".*\"next_hop\":\"sip:127.0.0.1:$PHONE_PORT;transport=udp\"" \
  "$T/px.events" && pass "in the dialog: the caller's BYE, to the phone's private Contact, went to its source (the Record-Route's flow token)" ||
  fail "the in-dialog BYE's branch_forward" "$(grep branch_forward "$T/px.events")"
grep -q '^Record-Route: <sip:127.0.0.1:[0-9]*;lr;sft=[0-9a-f]*;sff=ru7f000001' "$T/phone.log" &&
  pass "the phone's INVITE carries the proxy's Record-Route with a flow token naming its source" ||
  fail "no flow token in the phone's Record-Route" "$(grep -m1 '^Record-Route' "$T/phone.log")"
grep -q "^Contact: <sip:phone@127.0.0.1:$DEAD>;expires=" "$T/phone.reg" &&
  pass "the REGISTER's 200 (sent to its source, rport) lists the Contact as registered" ||
  fail "the 200's Contact" "$(cat "$T/phone.reg")"

# CANCEL (9.1): it goes where the INVITE went, the source, not the Contact.
# The phone (python3, UDP) registers from its port as above, answers the
# INVITE with 180 only, then the CANCEL with 200 and the INVITE with 487.
CPORT=$(dead_port)
CDEAD=$(dead_port)
timeout 20 python3 - "$CPORT" "$CDEAD" "$PORT_px" "$T" <<'PY' &
import socket, sys, uuid
port, dead, proxy, t = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", port))
s.settimeout(15)
s.sendto(("REGISTER sip:127.0.0.1:%d SIP/2.0\r\n"
          "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport\r\n"
          "From: <sip:callee@sipflow.test>;tag=nat2\r\nTo: <sip:callee@sipflow.test>\r\n"
          "Call-ID: %s\r\nCSeq: 1 REGISTER\r\nContact: <sip:callee@127.0.0.1:%d>\r\n"
          "Expires: 600\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
          % (proxy, dead, uuid.uuid4().hex, uuid.uuid4().hex, dead)).encode(), ("127.0.0.1", proxy))
def answer(msg, status, tag):
    lines = msg.split("\r\n\r\n", 1)[0].split("\r\n")[1:]
    keep = [l for l in lines if l.split(":", 1)[0].strip().lower() in ("via", "from", "call-id", "cseq")]
    to = [l for l in lines if l.split(":", 1)[0].strip().lower() == "to"][0]
    return ("SIP/2.0 %s\r\n" % status + "\r\n".join(keep) + "\r\n" + to + tag + "\r\nContent-Length: 0\r\n\r\n").encode()
invite = None
while True:
    data, src = s.recvfrom(65535)
    m = data.decode(errors="replace")
    open(t + "/cphone.log", "a").write(m + "=====\n")
    if m.startswith("INVITE ") and invite is None:
        invite = m
        s.sendto(answer(m, "180 Ringing", ";tag=ring"), src)
    elif m.startswith("CANCEL ") and invite is not None:
        s.sendto(answer(m, "200 OK", ";tag=ring"), src)
        s.sendto(answer(invite, "487 Request Terminated", ";tag=ring"), src)
    elif m.startswith("ACK ") and invite is not None:
        sys.exit(0)
PY
CPHONE_PID=$!
PIDS+=("$CPHONE_PID")
wait_ev px '"event":"bindings".*"aor":"sip:callee@sipflow.test"' 10 || fail "CANCEL: the phone did not register"
# the caller: INVITE, CANCEL once the 180 came, ACK for the 487
got=$(timeout 20 python3 - "$PORT_px" <<'PY'
import socket, sys, uuid
proxy = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(5)
port, cid = s.getsockname()[1], uuid.uuid4().hex
def req(method, cseq_method):
    return ("%s sip:callee@sipflow.test SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport\r\n"
            "From: <sip:caller@sipflow.test>;tag=c1\r\nTo: <sip:callee@sipflow.test>%s\r\nCall-ID: %s\r\n"
            "CSeq: 1 %s\r\nContact: <sip:caller@127.0.0.1:%d>\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            % (method, port, cid, "%s", cid, cseq_method, port))
inv = req("INVITE", "INVITE")
s.sendto((inv % "").encode(), ("127.0.0.1", proxy))
seen = []
while True:
    m = s.recv(65535).decode(errors="replace")
    status = m.split(" ", 2)[1]
    seen.append(status + ("/CANCEL" if "CANCEL\r\n" in m else ""))
    if status == "180":
        s.sendto((req("CANCEL", "CANCEL") % "").encode(), ("127.0.0.1", proxy))
    elif status == "487":
        tag = [l for l in m.split("\r\n") if l.lower().startswith("to:")][0].split(";tag=")[1]
        s.sendto((req("ACK", "ACK") % (";tag=" + tag)).encode(), ("127.0.0.1", proxy))
        break
print(" ".join(x for x in seen if x != "100"))
PY
)
case "$got" in
  *"180"*"200/CANCEL"*487* | *"180"*"487"*"200/CANCEL"*)
    pass "CANCEL: the phone got the CANCEL at its source; the caller saw 180, 200 to the CANCEL, 487" ;;
  *) fail "CANCEL: the caller saw '$got'" "$(grep -c '^CANCEL' "$T/cphone.log" 2>/dev/null) CANCEL at the phone" ;;
esac
timeout 10 tail --pid="$CPHONE_PID" -f /dev/null
wait "$CPHONE_PID" && pass "CANCEL: the 487's ACK reached the phone at its source too" || fail "CANCEL: the phone script failed"
stop px

# off: to the Contact, where nothing listens
start off proxy.xml --set proxy.trusted=127.0.0.0/8 --set location.backend=memory --set sip.t1_ms=50 --set registrar.nat=off \
  --log-level error || exit 1
phone phone2 off || fail "the phone did not register (off)" "$(tail -5 "$T/phone2.out")"
sipp_run caller2 "127.0.0.1:$PORT_off" -sf "$SCEN/uac-timeout.xml" -s phone -key uas sipflow.test -m 1
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "registrar.nat=off: the INVITE goes to the dead Contact, the caller gets 408 (Timer B)" ||
  fail "off: no 408 (sipp exit $SIPP_RC)" "$(tail -5 "$T/caller2.out")"
grep -q "\"event\":\"branch_forward\".*\"request_uri\":\"sip:phone@127.0.0.1:$DEAD\"" "$T/off.events" &&
  ! grep -q '"next_hop"' "$T/off.events" && pass "off: the branch went to the Contact, no next_hop" ||
  fail "off: branch_forward" "$(grep -m1 branch_forward "$T/off.events")"
! grep -q "^INVITE" "$T/phone2.log" && pass "off: the phone never saw the INVITE" || fail "off: the phone got an INVITE"
kill "$PHONE_PID" 2>/dev/null
wait "$PHONE_PID" 2>/dev/null
stop off

# TCP: the phone (python3) registers over a connection, its Via and Contact
# naming 127.0.0.2 (a loopback address it does not use); the INVITE comes back
# over that same connection, and the phone answers 486 (a response going back
# is all this part needs).
start tpx proxy.xml --listen tcp:127.0.0.1:0 --set proxy.trusted=127.0.0.0/8 --set location.backend=memory \
  --set sip.t1_ms=50 --log-level error || exit 1
TCP_PORT=$(grep '"event":"listening".*"transport":"tcp"' "$T/tpx.events" | head -1 | sed 's/.*"port":\([0-9]*\).*/\1/')
TDEAD=$(dead_port)
timeout 20 python3 - "$TCP_PORT" "$TDEAD" "$T" <<'PY' &
import socket, sys, uuid, sipstream
proxy, dead, t = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
s = socket.create_connection(("127.0.0.1", proxy), timeout=15)
read_msg = sipstream.Stream(s).read
s.sendall(("REGISTER sip:127.0.0.1:%d;transport=tcp SIP/2.0\r\n"
           "Via: SIP/2.0/TCP 127.0.0.2:%d;branch=z9hG4bK%s\r\n"
           "From: <sip:phone@sipflow.test>;tag=tnat\r\nTo: <sip:phone@sipflow.test>\r\n"
           "Call-ID: %s\r\nCSeq: 1 REGISTER\r\nContact: <sip:phone@127.0.0.2:%d;transport=tcp>\r\n"
           "Expires: 600\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
           % (proxy, dead, uuid.uuid4().hex, uuid.uuid4().hex, dead)).encode())
reg = read_msg()
open(t + "/tphone.reg", "w").write(reg)
if not reg.startswith("SIP/2.0 200"):
    sys.exit(1)
while True:
    m = read_msg()
    if m.startswith("INVITE "):
        break
open(t + "/tphone.invite", "w").write(m)
keep = [l for l in m.split("\r\n")[1:] if l.split(":", 1)[0].strip().lower() in ("via", "v", "from", "f", "call-id", "i", "cseq")]
to = [l for l in m.split("\r\n") if l.split(":", 1)[0].strip().lower() in ("to", "t")][0]
s.sendall(("SIP/2.0 486 Busy Here\r\n" + "\r\n".join(keep) + "\r\n" + to + ";tag=busy\r\nContent-Length: 0\r\n\r\n").encode())
while not read_msg().startswith("ACK "):
    pass
PY
TPHONE_PID=$!
PIDS+=("$TPHONE_PID")
wait_ev tpx '"event":"bindings".*"aor":"sip:phone@sipflow.test"' 10 &&
  pass "TCP: the NATed phone registered over its connection (Contact 127.0.0.2:$TDEAD)" || fail "TCP: no registration"
cat >"$T/invite.sip" <<SIP
INVITE sip:phone@sipflow.test SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK-{cid};rport
From: <sip:caller@sipflow.test>;tag=c{cid}
To: <sip:phone@sipflow.test>
Call-ID: {cid}
CSeq: 1 INVITE
Contact: <sip:caller@127.0.0.1:{port}>
Max-Forwards: 70
Content-Length: 0

SIP
got=$(timeout 20 python3 "$(dirname "$0")/sipcat.py" send "127.0.0.1:$PORT_tpx" "$T/invite.sip" --timeout 10)
[ "$got" = 486 ] && pass "TCP: the INVITE reached the phone over the connection its REGISTER came on; its 486 came back" ||
  fail "TCP: the caller got '$got'" "$(grep branch_forward "$T/tpx.events")"
grep -q "^INVITE sip:phone@127.0.0.2:$TDEAD;transport=tcp " "$T/tphone.invite" 2>/dev/null &&
  pass "TCP: its Request-URI is the Contact as registered" ||
  fail "TCP: Request-URI" "$(head -1 "$T/tphone.invite" 2>/dev/null)"
timeout 10 tail --pid="$TPHONE_PID" -f /dev/null
wait "$TPHONE_PID" && pass "TCP: the phone got the ACK for its 486" || fail "TCP: the phone script failed"
stop tpx
summary nat.sh
