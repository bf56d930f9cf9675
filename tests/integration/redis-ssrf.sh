#!/bin/bash
# redis-ssrf.sh: the location store's Redis is not a SIP target.  A
# registrant writes its Contact freely; one naming the Redis server over TCP
# would make the proxy open a connection to Redis and send it the INVITE,
# whose lines Redis takes as inline commands (an unknown "INVITE ..." or
# "Via: ..." is only an error to it; a body line "SET key value" is run), so
# whoever may register could rewrite every binding of the shared store.
# Two layers, each checked on a Redis of the test's own (no users file, so a
# REGISTER needs no credentials, as the documented setup without
# registrar.users):
#  - a redis store without a password does not start (location.uri and
#    registrar.users), the error naming the key that allows it; with
#    requirepass Redis answers an injected line NOAUTH;
#  - allowed (location.redis_without_password = true): a REGISTER whose
#    Contact or Path names the Redis (its address, another loopback one,
#    localhost, the IPv4-mapped IPv6 form, the short and numeric IPv4 forms
#    getaddrinfo takes, a maddr naming it) gets 403 and no key appears; an
#    INVITE for the address-of-record, its body "SET sipflow:pwned yes",
#    relays nothing into Redis.
. "$(dirname "$0")/lib.sh"
need_redis

REDIS_PASS= redis_start r "" || { fail "redis-server did not start" "$(tail -3 "$T/r.events")"; exit 1; }
RPORT=$RPORT_r
RPASS=
rcli() { REDIS_PASS=$RPASS rcli_to "$RPORT" "$@"; }

# ---- no password: refused at start ----
refused_start() { # refused_start DESC KEY ARGS...: sipflow run proxy.xml ARGS exits non-zero, naming KEY
  local desc=$1 key=$2
  shift 2
  timeout 10 "$SIPFLOW" run proxy.xml --listen udp:127.0.0.1:0 "$@" </dev/null >"$T/refused.out" 2>"$T/refused.err"
  local rc=$?
  [ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -q -- "$key = true" "$T/refused.err" &&
    grep -q "a Redis without a password" "$T/refused.err" && pass "$desc (exit $rc), naming $key" ||
    fail "$desc: exit $rc" "$(cat "$T/refused.err")"
}
refused_start "location.backend = redis without a password: the start is refused" location.redis_without_password \
  --set location.backend=redis --set "location.uri=redis://127.0.0.1:$RPORT/0"
refused_start "registrar.users = redis:// without a password: the start is refused" registrar.users_without_password \
  --set location.backend=memory --set "registrar.users=redis://127.0.0.1:$RPORT/1"

# send SRC_PORT FILE: one datagram from 127.0.0.1:SRC_PORT to the proxy, the first final response's status line
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
# register N CONTACT [PATH]: a REGISTER for mallory, Call-ID ssrf-N, the status line of its answer
register() {
  crlf >"$T/reg$1" <<EOF
REGISTER sip:sipflow.test SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:$CP;branch=z9hG4bKssrfreg$1;rport
From: <sip:mallory@sipflow.test>;tag=ssrf$1
To: <sip:mallory@sipflow.test>
Call-ID: ssrf-$1
CSeq: 1 REGISTER
Contact: $2${3:+
Path: $3}
Expires: 600
Max-Forwards: 70
Content-Length: 0

EOF
  send "$CP" "$T/reg$1"
}

attack() { # attack WHAT ARGS...: a proxy with ARGS, REGISTERs naming the Redis refused, nothing relayed
  local what=$1
  shift
  rm -f "$T/px.in"
  start px proxy.xml --listen tcp:127.0.0.1:0 --set sip.t1_ms=100 --set location.backend=redis \
    --set "location.uri=redis://127.0.0.1:$RPORT/0" --set location.timeout_ms=1000 "$@" || exit 1
  local i=0 c r
  for c in "<sip:x@127.0.0.1:$RPORT;transport=tcp>" "<sip:x@localhost:$RPORT;transport=tcp>" \
    "<sip:x@127.0.0.2:$RPORT;transport=tcp>" "<sip:x@[::ffff:127.0.0.1]:$RPORT;transport=tcp>" \
    "<sip:x@localhost.:$RPORT;transport=tcp>" "<sip:x@127.1:$RPORT;transport=tcp>" \
    "<sip:x@2130706433:$RPORT;transport=tcp>" "<sip:x@redis.invalid:$RPORT;maddr=127.0.0.1;transport=tcp>"; do
    i=$((i + 1))
    r=$(register "$what$i" "$c")
    [ "$r" = "SIP/2.0 403 Contact Is Our Redis Store" ] && pass "$what: Contact $c: $r" || fail "$what: Contact $c: $r"
  done
  r=$(register "${what}p" "<sip:x@192.0.2.1:5060>" "<sip:127.0.0.1:$RPORT;transport=tcp;lr>")
  [ "$r" = "SIP/2.0 403 Path Is Our Redis Store" ] && pass "$what: a Path hop naming it: $r" || fail "$what: Path: $r"
  r=$(register "${what}ok" "<sip:x@127.0.0.1:$((RPORT == 65535 ? 65534 : RPORT + 1));transport=tcp>")
  [ "$r" = "SIP/2.0 200 OK" ] && pass "$what: another port of the same host is taken: $r" || fail "$what: another port: $r"
  # the INVITE for mallory: to the one binding taken, never to Redis
  body=$'\r\nSET sipflow:pwned yes\r\nQUIT\r\n'
  {
    crlf <<EOF
INVITE sip:mallory@sipflow.test SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:$CP;branch=z9hG4bKssrfinv$what;rport
From: <sip:eve@192.0.2.9>;tag=ssrfinv
To: <sip:mallory@sipflow.test>
Call-ID: ssrf-inv-$what
CSeq: 1 INVITE
Contact: <sip:eve@127.0.0.1:$CP>
Max-Forwards: 70
Content-Type: text/plain
Content-Length: ${#body}

EOF
    printf '%s' "$body"
  } >"$T/inv"
  r=$(send "$CP" "$T/inv")
  echo "# INVITE: $r"
  [ "$(rcli GET sipflow:pwned)" = "" ] && pass "$what: Redis ran no command out of a relayed SIP request" ||
    fail "$what: the proxy relayed an INVITE into the location store's Redis, which ran its body: SET sipflow:pwned" \
      "$(grep -m3 'branch_forward' "$T/px.events")"
  rcli DEL sipflow:loc:sip:mallory@sipflow.test >/dev/null
  [ "$(rcli DBSIZE)" = 0 ] && pass "$what: no key in Redis" || fail "$what: keys in Redis: $(rcli KEYS '*')"
  stop px || fail "$what: px did not exit cleanly" "$(err_report "$T/px.err")"
}

attack no-password --set location.redis_without_password=true
rcli CONFIG SET requirepass s3cret-of-redis >/dev/null
RPASS=s3cret-of-redis
echo "# with requirepass"
attack password --set location.password=$RPASS
kill "$PID_r"
wait "$PID_r" 2>/dev/null
summary redis-ssrf.sh
