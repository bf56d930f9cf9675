#!/bin/bash
# redis-ssrf.sh: the location store's Redis is not a SIP target.  A
# registrant writes its Contact freely; one naming the Redis server over TCP
# would make the proxy open a connection to Redis and send it the INVITE,
# whose lines Redis takes as inline commands (an unknown "INVITE ..." or
# "Via: ..." is only an error to it; a body line "SET key value" is run), so
# whoever may register could rewrite every binding of the shared store.
# The attack, bounded: a proxy on a Redis of the test's own (no users file, so
# a REGISTER needs no credentials, as the documented setup without
# registrar.users), a REGISTER whose Contact is the Redis's address over TCP,
# an INVITE for it whose body holds "SET sipflow:pwned yes"; the key must not
# appear in Redis.  Then the same with requirepass (location.password): Redis
# answers each injected line NOAUTH, so a password is what stops it today.
. "$(dirname "$0")/lib.sh"
command -v redis-server >/dev/null && command -v redis-cli >/dev/null || {
  echo "not ok - redis-server is not installed (Debian package redis-server; scripts/setup-deps installs it)"
  exit 1
}

tcp_bound() { grep -q -i "^ *[0-9]*: 0100007F:$(printf '%04X' "$1") " /proc/net/tcp; }
RPORT=
for try in 1 2 3 4 5; do
  port=$((20000 + (RANDOM % 20000)))
  tcp_bound "$port" && continue
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no >"$T/r.events" 2>&1 &
  RPID=$!
  PIDS+=("$RPID")
  if wait_ev r 'Ready to accept connections' 10; then RPORT=$port; break; fi
  kill "$RPID" 2>/dev/null
done
[ -n "$RPORT" ] || { fail "redis-server did not start" "$(tail -3 "$T/r.events")"; exit 1; }
rcli() { timeout 5 redis-cli -p "$RPORT" ${RPASS:+-a "$RPASS" --no-auth-warning} "$@"; }

attack() {
rm -f "$T/px.in"
start px proxy.xml --listen tcp:127.0.0.1:0 --set sip.t1_ms=100 --set location.backend=redis \
  --set "location.uri=redis://127.0.0.1:$RPORT/0" --set location.timeout_ms=1000 ${RPASS:+--set "location.password=$RPASS"} || exit 1

# send SRC_PORT FILE: one datagram from 127.0.0.1:SRC_PORT to the proxy, the first response's status line
send() {
  timeout 10 python3 - "$1" "$PORT_px" "$2" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.settimeout(5)
s.sendto(open(sys.argv[3], "rb").read(), ("127.0.0.1", int(sys.argv[2])))
while True:
    try:
        d = s.recv(65536)
    except socket.timeout:
        print("timeout"); break
    line = d.split(b"\r\n", 1)[0].decode()
    if not line.startswith("SIP/2.0 100"):
        print(line); break
PY
}
CP=$((40000 + (RANDOM % 20000)))
crlf() { sed 's/$/\r/'; }
crlf >"$T/reg" <<EOF
REGISTER sip:sipflow.test SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:$CP;branch=z9hG4bKssrfreg1;rport
From: <sip:mallory@sipflow.test>;tag=ssrf1
To: <sip:mallory@sipflow.test>
Call-ID: ssrf-reg-${RPASS:-1}
CSeq: 1 REGISTER
Contact: <sip:x@127.0.0.1:$RPORT;transport=tcp>
Expires: 600
Max-Forwards: 70
Content-Length: 0

EOF
body=$'\r\nSET sipflow:pwned yes\r\nQUIT\r\n'
{
  crlf <<EOF
INVITE sip:mallory@sipflow.test SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:$CP;branch=z9hG4bKssrfinv1;rport
From: <sip:eve@192.0.2.9>;tag=ssrf2
To: <sip:mallory@sipflow.test>
Call-ID: ssrf-inv-${RPASS:-1}
CSeq: 1 INVITE
Contact: <sip:eve@127.0.0.1:$CP>
Max-Forwards: 70
Content-Type: text/plain
Content-Length: ${#body}

EOF
  printf '%s' "$body"
} >"$T/inv"

r=$(send "$CP" "$T/reg")
case "$r" in
  "SIP/2.0 200"*)
    pass "a REGISTER whose Contact is the store's Redis (TCP) is taken: $r"
    r=$(send "$CP" "$T/inv")
    echo "# INVITE: $r"
    ;;
  *) pass "a REGISTER whose Contact is the store's Redis is refused: $r" ;;
esac
# the INVITE, had it been sent, was sent before its final response came back
[ "$(rcli GET sipflow:pwned)" = "" ] && pass "Redis ran no command out of a relayed SIP request" ||
  fail "the proxy relayed an INVITE into the location store's Redis, which ran its body: SET sipflow:pwned" \
    "$(grep -m3 'branch_forward' "$T/px.events")"
cmd px quit
wait "$PID_px"
}

RPASS= attack
rcli CONFIG SET requirepass s3cret-of-redis >/dev/null
RPASS=s3cret-of-redis
rcli DEL sipflow:pwned >/dev/null
echo "# with requirepass"
attack
exit $((fails > 0))
