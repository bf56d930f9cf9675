#!/bin/bash
# ws.sh: SIP over WebSocket (RFC 7118) at the proxy and registrar, with a raw
# WebSocket client (wssip.py, Debian's python3-websockets) speaking as JsSIP
# does; on loopback, every wait bounded.  The certificates come from a
# throwaway CA (lib.sh).
#  - a REGISTER over WSS gets 401, then 200 with digest (xml/proxy.xml, a
#    users file);
#  - a sipflow UA (UDP) calls the user registered over WSS: the INVITE reaches
#    the client over its connection, with Via SIP/2.0/WSS on top and a double
#    Record-Route (RFC 5658: the WSS side, then the UDP side); 200, ACK and
#    BYE complete;
#  - the connection closed, its binding is removed, and a call to that user
#    gets 480 (its binding's flow
#    is gone: not a target);
#  - a WSS client calls another through the proxy: two Record-Route values on
#    the one transport, each naming the other party's flow, so that ACK and
#    BYE reach the callee over its connection (its Contact is .invalid);
#  - a text frame that is not UTF-8 is closed 1007, a SIP message that does not
#    parse is answered 400, a message over 64 KiB is closed 1009 (one frame
#    over it: closed); an upgrade
#    without the `sip` subprotocol (none, or another) is refused 400, one from
#    an Origin not in ws.origins 403 (counted in ws_refused);
#  - the TCP limits hold: past sip.tcp_max_per_source a connection is refused,
#    one that never upgrades is closed after sip.tcp_stall;
#  - plain ws: on another port: the same client registers.
#  - a peer that floods pings and never reads is closed once 1 MiB of
#    pongs waits (our output to it bounded as over TCP);
#  - a peer gone mid-transaction (a callee at the INVITE, a caller before
#    its 407): the call ends, the proxy runs on; two SIP messages in one
#    frame, half of one, a head cut short: never two, never waited on;
#    two AORs over one connection both go when it closes, a binding
#    refreshed over a new connection stays when the old one closes.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3 # Debian's, where python3-websockets is
command -v openssl >/dev/null || { fail "openssl is missing"; summary ws; exit 1; }
"$PY" -c 'import websockets' 2>/dev/null || { fail "python3-websockets is missing (scripts/setup-deps)"; summary ws; exit 1; }
WSSIP=$(dirname "$0")/wssip.py
free_ports 100 || { fail "no free ports"; summary ws; exit 1; } # the UAs' RTP ports: tests run side by side
common=(--set sip.t1_ms=100 --set sip.t4_ms=200 --set "media.rtp_ports=$BASE-$((BASE + 99))" --set media.backend=null --log-level warning)

mkca ca && mkcert server ca DNS:localhost IP:127.0.0.1 ||
  { fail "openssl could not make the certificates"; summary ws; exit 1; }

port_of() { grep "\"event\":\"listening\".*\"transport\":\"$2\"" "$T/$1.events" | head -1 | sed 's/.*"port":\([0-9]*\).*/\1/'; }

printf 'carol:pw\ndave:pw\nerin:pw\n' >"$T/users"
conf px server "[ws]" "origins = https://phone.sipflow.test"
LISTEN=wss:127.0.0.1:0 start px proxy.xml -c "$T/px.conf" --listen udp:127.0.0.1:0 --listen ws:127.0.0.1:0 \
  --set "registrar.users=$T/users" --set sip.t1_ms=100 --set sip.tcp_stall=3 --set sip.tcp_max_per_source=8 \
  --messages full --log-level warning || exit 1
WSS=wss://127.0.0.1:$(port_of px wss)
WS=ws://127.0.0.1:$(port_of px ws)
PXU=127.0.0.1:$(port_of px udp)
[ -n "$(port_of px wss)" ] && [ -n "$(port_of px ws)" ] && pass "the proxy listens on wss: and ws:" || fail "listening" "$(cat "$T/px.events")"

# 1. carol registers over WSS and takes a call from dave (UDP)
touch "$T/carol.events"
timeout 60 "$PY" "$WSSIP" "$WSS" "$CERTS/ca.pem" "$T/carol.events" phone carol pw sipflow.test 2>"$T/carol.err" &
PIDS+=($!)
wait_ev carol '"event":"register_1".*SIP/2.0 401' 10 && pass "a REGISTER over WSS gets 401" ||
  fail "REGISTER 401" "$(cat "$T/carol.events")" "$(tail -3 "$T/carol.err")" "$(tail -3 "$T/px.err")"
wait_ev carol '"event":"register_2".*SIP/2.0 200' 10 && pass "and 200 with digest credentials" ||
  fail "REGISTER 200" "$(cat "$T/carol.events")" "$(tail -3 "$T/carol.err")"
grep '"event":"register_2"' "$T/carol.events" | grep -q 'transport=ws' && pass "the 200 lists the binding (;transport=ws)" ||
  fail "binding" "$(grep register_2 "$T/carol.events")"
grep '"event":"sip_in"' "$T/px.events" | grep '"start":"REGISTER ' | grep -q '"proto":"wss"' &&
  pass "the proxy saw the REGISTER over wss" || fail "proto" "$(grep '"start":"REGISTER ' "$T/px.events" | head -1)"

start dave ua.xml "${common[@]}" --messages full --set ua.uri=sip:dave@sipflow.test --set ua.password=pw \
  --set "ua.outbound_proxy=sip:$PXU" || exit 1
cmd dave call sip:carol@sipflow.test
wait_ev carol '"event":"invite"' 10 && pass "the INVITE from a UDP UA reaches the WSS client over its connection" ||
  fail "INVITE at carol" "$(tail -3 "$T/dave.err")" "$(tail -5 "$T/px.err")"
inv=$(grep '"event":"invite"' "$T/carol.events")
echo "$inv" | grep -q -E '"via":\["SIP/2.0/WSS 127.0.0.1:[0-9]+;branch' &&
  pass "the proxy's Via on it is SIP/2.0/WSS" || fail "Via" "$inv"
echo "$inv" | grep -q -E "\"record_route\":\[\"<sip:127.0.0.1:[0-9]+;lr;transport=wss;sft=[^>]*>, <sip:$PXU;lr;sft=[^>]*>\"\]" &&
  pass "double Record-Route (RFC 5658): the WSS side, then the UDP side" || fail "Record-Route" "$inv"
wait_ev dave '"to":"InCall"' 10 && pass "the WSS client's 200 reaches the caller: up" ||
  fail "dave InCall" "$(tail -3 "$T/dave.err")"
wait_ev carol '"event":"ack"' 10 && pass "the ACK reaches the WSS client" || fail "ACK" "$(cat "$T/carol.events")"
cmd dave hangup
wait_ev carol '"event":"bye"' 10 && wait_ev dave '"event":"call_end".*"reason":"local_bye","status":200' 10 &&
  pass "the BYE reaches it and its 200 comes back" || fail "BYE" "$(grep call_end "$T/dave.events")"

# 2. the connection closed: the binding's flow is gone, and so is the binding (RFC 7118)
wait_ev carol '"event":"closed"' 10 || fail "client close"
cmd px location dump sip:carol@sipflow.test
wait_ev px '"event":"reply","command":"location","ok":true,"bindings":\[\],"listed":0' 10 &&
  pass "the connection closed, its binding is removed (location dump: none)" ||
  fail "binding after close" "$(grep '"event":"reply"' "$T/px.events" | tail -1)"
ends=$(count dave '"event":"call_end"')
cmd dave call sip:carol@sipflow.test
wait_ev dave '"event":"call_end"' 10 $((ends + 1)) && grep '"event":"call_end"' "$T/dave.events" | tail -1 | grep -q '"status":480' &&
  pass "the connection closed, a call to the user gets 480 (its flow is gone)" ||
  fail "call after close" "$(grep call_end "$T/dave.events" | tail -1)"

# 3. refusals
touch "$T/bad.events"
timeout 60 "$PY" "$WSSIP" "$WSS" "$CERTS/ca.pem" "$T/bad.events" refusals 2>"$T/bad.err"
r() { grep "\"event\":\"$1\"" "$T/bad.events"; }
r bad_utf8 | grep -q '"code":1007' && pass "a text frame that is not UTF-8: closed 1007" || fail "bad utf8" "$(r bad_utf8)"
r bad_sip | grep -q '"start":"SIP/2.0 400' && pass "a SIP message that does not parse: 400" || fail "bad sip" "$(r bad_sip)"
r oversize | grep -q '"code":1009' && pass "a message over 64 KiB (fragmented): closed 1009" || fail "oversize" "$(r oversize)"
# one frame announcing more: closed at its header (the close frame may be
# lost to the reset the unread rest causes)
r oversize_frame | grep -q '"result":"closed"' && pass "a frame over 64 KiB: closed" || fail "oversize frame" "$(r oversize_frame)"
r oversize_flood | grep -q '"result":"closed"' && pass "640 KB of fragments: closed before it is all read" ||
  fail "oversize flood" "$(r oversize_flood)"
[ "$(stat_of px sip_dropped)" -ge 3 ] && [ "$(stat_of px sip_bad_requests)" -ge 1 ] &&
  pass "the frames refused counted in dropped, the 400 in bad_requests" ||
  fail "counters: dropped $(stat_of px sip_dropped), bad_requests $(stat_of px sip_bad_requests)"
r no_subprotocol | grep -q '"status":400' && pass "no sip subprotocol: refused 400 at the upgrade" ||
  fail "no subprotocol" "$(r no_subprotocol)"
r other_subprotocol | grep -q '"status":400' && pass "another subprotocol only: refused 400" ||
  fail "other subprotocol" "$(r other_subprotocol)"
r foreign_origin | grep -q '"status":403' && pass "an Origin not in ws.origins: refused 403" ||
  fail "origin" "$(r foreign_origin)"
[ "$(stat_of px ws_refused)" = 3 ] && pass "three upgrades counted in ws_refused" || fail "ws_refused $(stat_of px ws_refused)"

# 4. browser to browser: erin (WSS) calls carol (WSS again), both flows of the proxy's
touch "$T/carol2.events" "$T/erin.events"
timeout 60 "$PY" "$WSSIP" "$WSS" "$CERTS/ca.pem" "$T/carol2.events" phone carol pw sipflow.test 2>"$T/carol2.err" &
PIDS+=($!)
wait_ev carol2 '"event":"register_2".*SIP/2.0 200' 10 || fail "carol registers again" "$(cat "$T/carol2.events")"
timeout 60 "$PY" "$WSSIP" "$WSS" "$CERTS/ca.pem" "$T/erin.events" caller erin pw sipflow.test carol 2>"$T/erin.err" &
PIDS+=($!)
wait_ev erin '"event":"invite_1".*SIP/2.0 407' 10 && wait_ev erin '"event":"invite_2".*SIP/2.0 200' 10 &&
  pass "a WSS client calls another through the proxy (407, then 200)" ||
  fail "erin to carol" "$(cat "$T/erin.events")" "$(tail -3 "$T/erin.err")" "$(tail -3 "$T/px.err")"
rr=$(grep '"event":"invite_2"' "$T/erin.events")
echo "$rr" | grep -q -E '"record_route":\["<sip:127.0.0.1:[0-9]+;lr;transport=wss;sft=[^;>]*;sff=r[wx][^>]*>","<sip:127.0.0.1:[0-9]+;lr;transport=wss;sft=[^;>]*;sff=r[wx][^>]*>"\]' &&
  [ "$(echo "$rr" | grep -o 'sff=[^>]*' | sort -u | wc -l)" = 2 ] &&
  pass "two Record-Route values on one transport, each with the other party's flow token" || fail "Record-Route" "$rr"
wait_ev carol2 '"event":"ack"' 10 && pass "the caller's ACK reaches the callee over its connection" ||
  fail "ACK at carol" "$(cat "$T/carol2.events")"
wait_ev carol2 '"event":"bye"' 10 && wait_ev erin '"event":"bye_final".*SIP/2.0 200' 10 &&
  pass "the BYE too, and its 200 comes back" || fail "BYE" "$(cat "$T/erin.events")" "$(cat "$T/carol2.events")"

# 4. the TCP limits hold for WebSocket: sip.tcp_max_per_source=8 (one more is
# closed when accepted), a connection that never upgrades is closed after
# sip.tcp_stall
"$PY" - "$(port_of px ws)" <<'PY'
import socket, sys, time
socks = [socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=8) for _ in range(9)]
for s in socks:
    try:
        s.recv(1)
    except OSError:
        pass
PY
[ "$(stat_of px tcp_refused)" -ge 1 ] && pass "past sip.tcp_max_per_source a WebSocket connection is refused (tcp_refused)" ||
  fail "tcp_refused $(stat_of px tcp_refused)"
[ "$(stat_of px tcp_closed_stalled)" -ge 1 ] && pass "one that never upgrades is closed after sip.tcp_stall" ||
  fail "tcp_closed_stalled $(stat_of px tcp_closed_stalled)"

# 4. plain ws:
touch "$T/plain.events"
timeout 30 "$PY" "$WSSIP" "$WS" "" "$T/plain.events" phone dave pw sipflow.test 2>"$T/plain.err" &
PIDS+=($!)
wait_ev plain '"event":"register_2".*SIP/2.0 200' 10 && pass "over plain ws: registered too" ||
  fail "ws register" "$(cat "$T/plain.events")" "$(tail -3 "$T/plain.err")"

# 5. a peer that pings and never reads: libsoup answers every ping, and what
# the peer does not read stays bounded (SF_SIP_TCP_MAX_PENDING): the
# connection is closed
flood=$("$PY" - "$(port_of px ws)" <<'PY'
import base64, os, socket, struct, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n" % key).encode())
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(1)
if b" 101 " not in head.split(b"\r\n")[0]:
    print("no upgrade"); sys.exit()
def frame(op, payload):
    mask = os.urandom(4)
    return bytes([0x80 | op, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
ping = frame(9, b"p" * 125)
empty = frame(1, b"")  # a message now and then: the unread-input budget starts again
chunk = ping * 1000 + empty
result = "open"
try:
    for _ in range(120):  # 16 MB of pings, 16 MB of pongs
        s.sendall(chunk)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if not s.recv(65536):
            result = "closed"; break
except OSError:
    result = "closed"
print(result)
PY
)
[ "$flood" = closed ] && pass "a ping flood never read: closed once 1 MiB of pongs waits" || fail "ping flood: $flood"

# 6. a connection gone while a transaction refers to it: erin registers, and
# drops her connection (no close frame) at dave's INVITE; dave cancels at once:
# the proxy's CANCEL and its answer to dave meet a closed flow, no crash
touch "$T/van.events"
timeout 30 "$PY" "$WSSIP" "$WSS" "$CERTS/ca.pem" "$T/van.events" vanish erin pw sipflow.test 2>"$T/van.err" &
PIDS+=($!)
wait_ev van '"event":"register_2".*SIP/2.0 200' 10 || fail "erin registers" "$(cat "$T/van.events")"
ends=$(count dave '"event":"call_end"')
cmd dave call sip:erin@sipflow.test
wait_ev van '"event":"closed"' 10 || fail "erin vanishes" "$(cat "$T/van.events")" "$(tail -3 "$T/van.err")"
cmd dave hangup
wait_ev dave '"event":"call_end"' 10 $((ends + 1)) && pass "a callee's connection gone mid-INVITE: the call ends ($(grep '"event":"call_end"' "$T/dave.events" | tail -1 | grep -o '"status":[0-9]*'))" ||
  fail "call to a vanished callee" "$(grep call_end "$T/dave.events" | tail -1)" "$(tail -5 "$T/px.err")"
# a caller that sends INVITE and drops at once: the 407 meets a closed connection
"$PY" - "$(port_of px ws)" <<'PY'
import base64, os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=8)
key = base64.b64encode(os.urandom(16)).decode()
s.sendall(("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: sip\r\n\r\n" % key).encode())
head = b""
while b"\r\n\r\n" not in head:
    head += s.recv(1)
inv = ("INVITE sip:carol@sipflow.test SIP/2.0\r\nVia: SIP/2.0/WS v.invalid;branch=z9hG4bKvan1\r\nMax-Forwards: 70\r\n"
       "To: <sip:carol@sipflow.test>\r\nFrom: <sip:v@sipflow.test>;tag=1\r\nCall-ID: vanish-caller\r\n"
       "CSeq: 1 INVITE\r\nContact: <sip:v@v.invalid;transport=ws>\r\nContent-Length: 0\r\n\r\n").encode()
mask = os.urandom(4)
hdr = bytes([0x81, 0x80 | 126]) + len(inv).to_bytes(2, "big") if len(inv) > 125 else bytes([0x81, 0x80 | len(inv)])
s.sendall(hdr + mask + bytes(b ^ mask[i & 3] for i, b in enumerate(inv)))
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")  # RST
s.close()
PY
cmd px location dump sip:erin@sipflow.test
wait_ev px '"event":"reply","command":"location","ok":true,"bindings":\[\]' 10 &&
  pass "a caller gone before its answer: the proxy answers commands still, erin's binding is gone" ||
  fail "proxy after vanished peers" "$(tail -5 "$T/px.err")"

# 7. RFC 7118: one SIP message per frame; two in one, half of one, or a head
# without its end: 400 or dropped, never two requests, never waited on
touch "$T/frm.events"
timeout 60 "$PY" "$WSSIP" "$WSS" "$CERTS/ca.pem" "$T/frm.events" framing 2>"$T/frm.err"
f() { grep "\"event\":\"framing_$1\"" "$T/frm.events"; }
f two | grep -q 'two-b' && fail "two messages in one frame: the second was parsed" "$(f two)" ||
  { f two | grep -q 'marker-two' && pass "two SIP messages in one frame: not parsed as two ($(f two | grep -o '"seen":.*'))" ||
    fail "two in a frame" "$(cat "$T/frm.events")" "$(tail -3 "$T/frm.err")"; }
f half | grep -q '"seen":\["half 400","marker-half' && pass "half a message (Content-Length past the frame): 400, not waited on" ||
  fail "half a message" "$(f half)" "$(tail -3 "$T/frm.err")"
f cut | grep -q 'marker-cut' && pass "a head without its end: not waited on ($(f cut | grep -o '"seen":.*'))" ||
  fail "a cut head" "$(f cut)" "$(tail -3 "$T/frm.err")"

# 8. flow_closed: two AORs over one connection both go when it closes; a
# binding refreshed over a new connection stays when the old one closes
touch "$T/two.events" "$T/re.events"
timeout 30 "$PY" "$WSSIP" "$WSS" "$CERTS/ca.pem" "$T/two.events" two_aors carol,erin pw sipflow.test 2>"$T/two.err"
wait_ev two '"event":"closed"' 10 || fail "two AORs" "$(cat "$T/two.events")" "$(tail -3 "$T/two.err")"
nl=$(count px '"event":"reply","command":"location"')
cmd px location dump sip:carol@sipflow.test
cmd px location dump sip:erin@sipflow.test
wait_ev px '"event":"reply","command":"location"' 10 $((nl + 2)) &&
  [ "$(grep '"event":"reply","command":"location"' "$T/px.events" | tail -2 | grep -c '"bindings":\[\]')" = 2 ] &&
  pass "two AORs registered over one connection: both removed when it closes" ||
  fail "two AORs" "$(grep '"event":"reply","command":"location"' "$T/px.events" | tail -2)"
timeout 30 "$PY" "$WSSIP" "$WSS" "$CERTS/ca.pem" "$T/re.events" reconnect carol pw sipflow.test 2>"$T/re.err" &
rpid=$!
PIDS+=($rpid)
wait_ev re '"event":"first_closed"' 10 || fail "reconnect" "$(cat "$T/re.events")" "$(tail -3 "$T/re.err")"
# the old connection's close reaches the proxy: a command after it runs after it
nl=$(count px '"event":"reply","command":"location"')
cmd px location dump sip:carol@sipflow.test
wait_ev px '"event":"reply","command":"location"' 10 $((nl + 1)) &&
  grep '"event":"reply","command":"location"' "$T/px.events" | tail -1 | grep -q '"listed":1' &&
  pass "a binding refreshed over a new connection stays when the old one closes" ||
  fail "refreshed binding" "$(grep '"event":"reply","command":"location"' "$T/px.events" | tail -1)"
kill "$rpid" 2>/dev/null

stop dave
stop px && pass "the proxy stops cleanly" || fail "proxy exit"
summary ws
