#!/bin/bash
# digest-replay.sh: digest replay protection of xml/proxy.xml (issue 13 item 3,
# RFC 7616 3.3 and 3.4, RFC 3261 22.4) and the "auth failed" log line (item 11),
# on loopback, bounded.  A python3 client (raw UDP, hashlib) plays both sides:
#  - alice registers through a 401 (SHA-256, qop=auth, nc=00000001): 200; her
#    REGISTER with Authorization is captured;
#  - the capture replayed at once, as a new transaction: 401, not 200;
#  - mallory, a user of his own, floods the server: 100 challenges each answered
#    (200), far more than auth.nonce_slots=16;
#  - the capture replayed again: 401 with stale=true (the response verifies, its
#    slot belongs to a newer nonce now), never 200;
#  - a wrong password: 401; alice registers again from scratch: 200;
#  - the stats event says nonce_slots_used 16 (the table's size bounds it);
#  - stderr has one "auth failed" line per refused credentials (the replays and
#    the wrong password, not the first challenges nor the stale one), with the
#    client's address, and neither password nor digest response;
#  - the server runs at the default log level (warning): the "auth failed"
#    lines are written all the same (auth.log_failures defaults to true);
#  - credentials for made-up users with a made-up nonce (nonce="0", and 80 hex
#    digits under no HMAC of ours), as a spoofed packet would carry: 403, and
#    no line;
#  - a decoy source bursts credentials for an unknown user with a genuine nonce
#    (at least 100, 403 each): at most 20 lines a second for it; a guesser on
#    another address, one failure every 25 of the decoy's, gets every one of
#    its lines written (the budget is per source); a summary line names the
#    one source cut.
. "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || { echo "not ok - python3 is not installed (scripts/setup-deps installs it)"; exit 1; }

printf 'alice:wonderland\nmallory:evil-but-valid\n' >"$T/users"
start px proxy.xml --set "registrar.users=$T/users" --set auth.nonce_slots=16 --set auth.algorithms=SHA-256 \
  --set sip.t1_ms=100 || exit 1

cat >"$T/client.py" <<'EOF'
import hashlib, os, re, socket, sys, time

server = ("127.0.0.1", int(sys.argv[1]))
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
sock.settimeout(5)  # bounded: a lost answer fails the test instead of hanging
lport = sock.getsockname()[1]
print("port=%d" % lport, flush=True)
ruri = "sip:sipflow.test"

def rand():
    return os.urandom(6).hex()

def request(user, call_id, cseq, auth=None):
    lines = ["REGISTER %s SIP/2.0" % ruri,
             "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport" % (lport, rand()),
             "Max-Forwards: 70",
             "From: <sip:%s@sipflow.test>;tag=%s" % (user, rand()),
             "To: <sip:%s@sipflow.test>" % user,
             "Call-ID: %s" % call_id,
             "CSeq: %d REGISTER" % cseq,
             "Contact: <sip:%s@127.0.0.1:%d>" % (user, lport),
             "Expires: 600"]
    if auth is not None:
        lines.append(auth)
    lines.append("Content-Length: 0")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()

def send(msg):
    """Sends a request, returns (status, headers text) of its final response."""
    branch = re.search(rb"branch=([^;\r]+)", msg).group(1)
    sock.sendto(msg, server)
    while True:
        data, _ = sock.recvfrom(65536)
        if branch not in data:
            continue  # a late answer to an earlier request
        status = int(data.split(b" ", 2)[1])
        if status >= 200:
            return status, data.decode(errors="replace")

def param(challenge, name):
    m = re.search(name + r'="?([^",]*)"?', challenge)
    return m.group(1) if m else None

def authorization(resp_text, user, password, nc=1):
    ch = re.search(r"^WWW-Authenticate: *Digest (.*)$", resp_text, re.M | re.I).group(1)
    alg = param(ch, "algorithm") or "MD5"
    h = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}[alg]
    H = lambda s: h(s.encode()).hexdigest()
    realm, nonce = param(ch, "realm"), param(ch, "nonce")
    cnonce, ncs = rand(), "%08x" % nc
    resp = H("%s:%s:%s:%s:auth:%s" % (H("%s:%s:%s" % (user, realm, password)), nonce, ncs, cnonce,
                                      H("REGISTER:" + ruri)))
    return ('Authorization: Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", '
            'algorithm=%s, cnonce="%s", qop=auth, nc=%s' % (user, realm, nonce, ruri, resp, alg, cnonce, ncs)), resp

def stale(text):
    return "stale=true" in text

def register(user, password):
    """The whole exchange: (final status, the Authorization line sent, its response)."""
    call_id, cseq = rand(), 1
    status, text = send(request(user, call_id, cseq))
    if status != 401:
        return status, None, None
    auth, resp = authorization(text, user, password)
    status, _ = send(request(user, call_id, cseq + 1, auth))
    return status, auth, resp

status, captured, resp = register("alice", "wonderland")
print("alice=%d" % status)
print("response=%s" % resp)
status, text = send(request("alice", rand(), 7, captured))
print("replay_now=%d stale=%s" % (status, stale(text)))
ok = 0
for i in range(100):
    s, _, _ = register("mallory", "evil-but-valid")
    ok += s == 200
print("flood_ok=%d" % ok)
status, text = send(request("alice", rand(), 9, captured))
print("replay_after=%d stale=%s" % (status, stale(text)))
s, _, _ = register("mallory", "a guess")
print("wrong=%d" % s)
s, _, _ = register("alice", "wonderland")
print("alice_again=%d" % s)
# A made-up user with a made-up nonce (what a spoofed packet can carry): 403, not logged.
def bogus(user, nonce):
    return ('Authorization: Digest username="%s", realm="sipflow.test", nonce="%s", uri="%s", '
            'response="0", algorithm=SHA-256, cnonce="0", qop=auth, nc=00000001' % (user, nonce, ruri))
made_up = "%048x%s" % (int(time.time()), "0" * 32)
codes = [send(request("trunk1", rand(), 1, bogus("trunk1", "0")))[0],
         send(request("trunk2", rand(), 1, bogus("trunk2", made_up)))[0]]
print("forged=%s" % ",".join(map(str, codes)))
# A genuine nonce (from a first challenge), then a burst of credentials for a
# user the server does not know from this address (the decoy), and from another
# (the guesser) one every 25 of the decoy's.
_, text = send(request("nobody", rand(), 1))
nonce = param(re.search(r"^WWW-Authenticate: *Digest (.*)$", text, re.M | re.I).group(1), "nonce")
guesser = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
guesser.bind(("127.0.0.2", 0))
guesser.settimeout(5)
print("guesser_port=%d" % guesser.getsockname()[1], flush=True)
def send_from(s, msg):
    global sock
    saved, sock = sock, s
    try:
        return send(msg)
    finally:
        sock = saved
# n failures within t seconds touch at most int(t) + 2 seconds: more than
# 20 * (int(t) + 2) of them (at least 100, at most 400) must lose lines.
start, codes, n, g = time.monotonic(), set(), 0, 0
while n < 400 and (n < 100 or n <= 20 * (int(time.monotonic() - start) + 2) + 4):
    codes.add(send(request("nobody", rand(), 1, bogus("nobody", nonce)))[0])
    n += 1
    if n % 25 == 0:
        codes.add(send_from(guesser, request("guesser", rand(), 1, bogus("guesser", nonce)))[0])
        g += 1
print("burst=%s %d %.3f %d" % (",".join(map(str, sorted(codes))), n, time.monotonic() - start, g))
time.sleep(1.2)  # a later second: the next failure writes the summary of the burst's last
codes = send_from(guesser, request("guesser", rand(), 1, bogus("guesser", nonce)))[0]
print("after=%d" % codes)
EOF

timeout 60 python3 "$T/client.py" "$PORT_px" >"$T/client.out" 2>&1
out() { sed -n "s/^$1=//p" "$T/client.out"; }
[ "$(out alice)" = 200 ] && pass "alice registers through a SHA-256 challenge" || fail "alice" "$(cat "$T/client.out")"
[ "$(out replay_now)" = "401 stale=False" ] && pass "her captured REGISTER replayed at once: 401 (no stale)" ||
  fail "replay at once" "$(out replay_now)"
[ "$(out flood_ok)" = 100 ] && pass "mallory's 100 challenges answered: 100 times 200 (16 slots)" ||
  fail "flood" "$(out flood_ok)" "$(tail -3 "$T/client.out")"
[ "$(out replay_after)" = "401 stale=True" ] &&
  pass "the capture replayed after the table wrapped: 401 stale=true (slot reused), not 200" ||
  fail "replay after the flood" "$(out replay_after)"
[ "$(out wrong)" = 401 ] && pass "a wrong password: 401" || fail "wrong password" "$(out wrong)"
[ "$(out alice_again)" = 200 ] && pass "alice registers again after the flood" || fail "alice again" "$(out alice_again)"

cmd px status
wait_ev px '"event":"stats"' 10 && grep '"event":"stats"' "$T/px.events" | tail -1 | grep -q '"nonce_slots_used":16[,}]' &&
  pass "stats: nonce_slots_used is 16, the table's size" || fail "stats" "$(grep '"event":"stats"' "$T/px.events" | tail -1)"

stop px || fail "px exit" "$(err_report "$T/px.err")"
port=$(out port)
grep -q "auth failed: user \"alice\" from 127.0.0.1:$port: nonce count replayed\$" "$T/px.err" &&
  grep -q "auth failed: user \"mallory\" from 127.0.0.1:$port: wrong credentials\$" "$T/px.err" &&
  pass "log: auth failed lines with user, source address and reason" ||
  fail "auth failed lines" "$(grep 'auth failed' "$T/px.err" | head -3)"
[ "$(grep -c -E 'auth failed: user "(alice|mallory)"' "$T/px.err")" = 2 ] &&
  pass "log: only the refused credentials (not the first challenges, not the stale replay)" ||
  fail "auth failed count" "$(grep 'auth failed' "$T/px.err")"
[ "$(out forged)" = 403,403 ] && ! grep -q -E 'auth failed: user "trunk[12]"' "$T/px.err" &&
  pass "made-up users with a made-up nonce (spoofable): 403, not logged" ||
  fail "forged nonce" "$(out forged)" "$(grep 'trunk' "$T/px.err" | head -2)"
# N failures within S seconds touch at most floor(S) + 2 seconds.
read -r codes sent secs g <<<"$(out burst)"
nobody=$(grep -c 'auth failed: user "nobody" from 127.0.0.1:[0-9]*: unknown user$' "$T/px.err")
lines=$(grep -c 'auth failed: user ".*" from 127.0.0.1:' "$T/px.err") # alice's and mallory's too: the same source
bound=$((20 * (${secs%.*} + 2)))
[ "$codes" = 403 ] && [ "$nobody" -ge 1 ] && [ "$lines" -ge 20 ] && [ "$lines" -le "$bound" ] && [ "$bound" -lt "$sent" ] &&
  pass "log: a decoy's burst of $sent unknown-user 403s (genuine nonce) in ${secs}s writes $nobody lines (127.0.0.1: $lines, 20 a second)" ||
  fail "log rate" "codes $codes, $lines lines for $sent in ${secs}s (bound $bound)"
gport=$(out guesser_port)
glines=$(grep -c "auth failed: user \"guesser\" from 127.0.0.2:$gport: unknown user\$" "$T/px.err")
[ "$(out after)" = 403 ] && [ "$g" -ge 4 ] && [ "$glines" = $((g + 1)) ] &&
  pass "log: the guesser on another address gets all its $glines lines during the decoy's burst (per-source budget)" ||
  fail "per-source budget" "guesser sent $g + 1, $glines lines"
grep -q -E '^sipflow: message: auth failures not logged: [0-9]+ \(1 sources over 20 a second, 0 failures from sources past the 1024 tracked a second\)$' "$T/px.err" &&
  pass "log: the summary line counts the one source cut" ||
  fail "summary line" "$(grep 'not logged' "$T/px.err" | head -3)"
grep -q '^sipflow: message: auth failed: ' "$T/px.err" &&
  pass "log: the lines are written at the default log level (warning), format unchanged" ||
  fail "default level" "$(head -3 "$T/px.err")"
resp=$(out response)
[ -n "$resp" ] && ! grep -q -e wonderland -e evil-but-valid -e "a guess" -e "$resp" "$T/px.err" &&
  pass "log: no password, no digest response" || fail "secrets in the log" "$(grep -e wonderland -e "$resp" "$T/px.err" | head -2)"
! grep -q -E 'CRITICAL|WARNING|warning|runtime error|AddressSanitizer|LeakSanitizer' "$T/px.err" &&
  pass "px: no warning, no sanitizer report" || fail "px stderr" "$(grep -E 'CRITICAL|WARNING|warning|Sanitizer' "$T/px.err" | head -3)"

summary digest-replay
