#!/bin/bash
# cluster.sh: two proxies behind one name sharing one Redis (docs/servers.md,
# "Two nodes"), on loopback, bounded.  A listens on 127.0.0.1, B on
# 127.0.0.2 (UDP and TCP each), with digest (a users file), each trusting
# the other, registrar.cluster left at auto (on: the store is Redis).  The
# phones (127.0.0.3) and callers (127.0.0.4) are small python programs
# ($T/cl.py): a phone holds its TCP connection or its UDP socket.
#  - a phone registered over TCP through A, its Contact a port it does not
#    listen on, is called through B: B routes by the Path (A's hop, a token
#    for the connection), A sends over the connection; the call completes and
#    the BYE works from either side (branch_forward on both nodes);
#  - a phone behind a simulated NAT registered over UDP through A is called
#    through B and reached at its source through A;
#  - a UDP phone with a reachable Contact registered through B is called
#    through A straight to its Contact (no Path: no detour);
#  - A calls its own TCP phone over the connection, no Route (its hop
#    stripped);
#  - a TCP phone that closed the connection it registered on (its Contact a
#    socket it listens on) is reached at its Contact, through B and A and
#    through A alone;
#  - a forged Path token sent to A: 403 Invalid Flow Token, nothing relayed;
#  - A killed (SIGKILL): B's call to the TCP phone registered through A fails
#    at once with 500 (the connection to A's hop is refused: a 503 for the
#    branch, forwarded as 500), B stays up and still serves its own phone;
#  - registrar.cluster: a value neither auto nor a boolean stops the program.
. "$(dirname "$0")/lib.sh"
SIPCAT="$(dirname "$0")/sipcat.py"
need_redis
# dead_port: a UDP port nothing on 127.0.0.1 listens on
dead_port() {
  local p
  while :; do
    p=$((20000 + (RANDOM % 20000)))
    udp_bound "$p" || break
  done
  echo "$p"
}
tcp_port() { grep '"event":"listening".*"transport":"tcp"' "$T/$1.events" | head -1 | sed 's/.*"port":\([0-9]*\).*/\1/'; }

# ---- the redis-server: a free loopback port, no persistence, requirepass, stopped by PID ----
redis_start redis || { fail "redis-server did not start" "$(tail -3 "$T/redis.events")"; exit 1; }
RPORT=$RPORT_redis
rcli() { rcli_to "$RPORT" "$@"; }

# ---- the SIP programs: phones and callers ----
cat >"$T/cl.py" <<'PY'
"""cl.py: phones and callers for cluster.sh (loopback, bounded by the caller's timeout).

  cl.py phone tcp|udp|nat SERVER USER PASS LOG CALLS [HANGUP...]
      registers USER at SERVER (host:port) with digest, from 127.0.0.3: tcp
      over one connection, its Via and Contact naming a port it does not
      listen on (reachable only over the connection); nat over UDP, its Via
      (rport) and Contact naming such a port (a NAT moved it); udp over UDP,
      its Contact its own socket.  Then answers CALLS calls with 200 and ends;
      on call number K in HANGUP it sends the BYE after the ACK (else waits for
      the caller's).  Every message received is appended to LOG.
  cl.py call SERVER USER PASS AOR LOG caller|callee|EXPECT
      calls AOR through SERVER over UDP from 127.0.0.4 as USER (digest when
      challenged; USER - : from an outside domain); caller/callee: the call is
      answered, and that side hangs up; a number: that final status is
      expected.  Prints the final status and the milliseconds it took.
  cl.py phone tcpclose SERVER USER PASS LOG CALLS
      registers over TCP with a Contact it listens on, closes that connection
      (prints "closed" once the proxy closed its end), then answers CALLS
      INVITEs coming over new connections with 486.
"""
import hashlib, os, re, socket, sys, time, uuid

REALM_USERS = "sipflow.test"


def parse(data):
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.decode(errors="replace"), rest


def hdrs(m, name):
    out = []
    for l in m.split("\r\n")[1:]:
        k, _, v = l.partition(":")
        if k.strip().lower() == name:
            out.append(v.strip())
    return out


def hdr(m, name):
    h = hdrs(m, name)
    return h[0] if h else None


def digest(m, method, uri, user, password, nc):
    ch = hdr(m, "www-authenticate") or hdr(m, "proxy-authenticate")
    p = dict(re.findall(r'(\w+)="?([^",]*)"?', ch[len("Digest"):]))
    ha1 = hashlib.md5(("%s:%s:%s" % (user, p["realm"], password)).encode()).hexdigest()
    ha2 = hashlib.md5(("%s:%s" % (method, uri)).encode()).hexdigest()
    cnonce = uuid.uuid4().hex[:16]
    if "auth" in p.get("qop", "").split(","):
        resp = hashlib.md5(("%s:%s:%08x:%s:auth:%s" % (ha1, p["nonce"], nc, cnonce, ha2)).encode()).hexdigest()
        extra = ', qop=auth, nc=%08x, cnonce="%s"' % (nc, cnonce)
    else:
        resp = hashlib.md5(("%s:%s:%s" % (ha1, p["nonce"], ha2)).encode()).hexdigest()
        extra = ""
    name = "Authorization" if m.startswith("SIP/2.0 401") else "Proxy-Authorization"
    return '%s: Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s", algorithm=MD5%s' % (
        name, user, p["realm"], p["nonce"], uri, resp, extra)


class Sock:
    """One UDP socket or one TCP connection toward SERVER, messages in and out."""

    def __init__(self, proto, server, bind):
        host, port = server.rsplit(":", 1)
        self.dest = (host, int(port))
        self.tcp = proto == "tcp"
        if self.tcp:
            self.s = socket.create_connection(self.dest, timeout=25, source_address=(bind, 0))
        else:
            self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.s.bind((bind, 0))
        self.buf = b""
        self.port = self.s.getsockname()[1]
        self.last_from = self.dest

    def send(self, text, to=None):
        head, _, body = text.partition("\r\n\r\n")
        data = (head + "\r\nContent-Length: %d\r\n\r\n" % len(body) + body).encode()
        if self.tcp:
            self.s.sendall(data)
        else:
            self.s.sendto(data, to or self.dest)

    def recv(self, timeout):
        """The next message (its head), or None past TIMEOUT seconds; over TCP, exits at EOF."""
        self.s.settimeout(timeout)
        try:
            if not self.tcp:
                data, self.last_from = self.s.recvfrom(65535)
                return parse(data)[0]
            while b"\r\n\r\n" not in self.buf:
                d = self.s.recv(65535)
                if not d:
                    sys.exit(3)
                self.buf += d
            head, rest = parse(self.buf)
            n = int(hdr(head, "content-length") or hdr(head, "l") or 0)
            while len(rest) < n:
                rest += self.s.recv(65535)
            self.buf = rest[n:]
            return head
        except socket.timeout:
            return None


def log(path, m):
    with open(path, "a") as f:
        f.write(m + "\r\n=====\r\n")


def request(sock, text, want, path, retrans=True, deadline=20):
    """Sends TEXT until a final response to it (1xx skipped; UDP retransmitted); returns it."""
    cseq = re.search(r"\r\nCSeq: (\d+ \w+)", text).group(1)
    end = time.time() + deadline
    sock.send(text)
    while time.time() < end:
        m = sock.recv(0.5)
        if m is None:
            if retrans and not sock.tcp:
                sock.send(text)
            continue
        log(path, m)
        if m.startswith("SIP/2.0 ") and hdr(m, "cseq") == cseq and not m.startswith("SIP/2.0 1"):
            return m
        if m.startswith("SIP/2.0 1") and hdr(m, "cseq") == cseq:
            retrans = False
        elif not m.startswith("SIP/2.0"):
            want(m)
    print("timeout")
    sys.exit(1)


def answer(sock, m, code, extra=""):
    keep = [l for l in m.split("\r\n")[1:]
            if l.partition(":")[0].strip().lower() in ("via", "from", "call-id", "cseq", "record-route")]
    to = hdr(m, "to")
    if ";tag=" not in to:
        to += ";tag=%s" % uuid.uuid4().hex[:8]
    sock.send("SIP/2.0 %s\r\n%s\r\nTo: %s\r\n%s\r\n" % (code, "\r\n".join(keep), to, extra), sock.last_from)


def serve_486(listener, path, calls):
    """Answers CALLS INVITEs that come over connections to LISTENER with 486, each ACK read."""
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    bufs, acks, end = {}, 0, time.time() + 30
    while acks < calls and time.time() < end:
        for key, _ in sel.select(1):
            if key.fileobj is listener:
                c, _ = listener.accept()
                bufs[c] = b""
                sel.register(c, selectors.EVENT_READ)
                continue
            c = key.fileobj
            d = c.recv(65535)
            if not d:
                sel.unregister(c)
                continue
            bufs[c] += d
            while b"\r\n\r\n" in bufs[c]:
                head, rest = parse(bufs[c])
                bufs[c] = rest[int(hdr(head, "content-length") or 0):]
                log(path, head)
                if head.startswith("INVITE "):
                    keep = [l for l in head.split("\r\n")[1:]
                            if l.partition(":")[0].strip().lower() in ("via", "from", "call-id", "cseq")]
                    c.sendall(("SIP/2.0 486 Busy Here\r\n%s\r\nTo: %s;tag=busy\r\nContent-Length: 0\r\n\r\n"
                               % ("\r\n".join(keep), hdr(head, "to"))).encode())
                elif head.startswith("ACK "):
                    acks += 1
    sys.exit(0 if acks == calls else 1)


def phone(argv):
    kind, server, user, password, path, calls = argv[:6]
    listener = None
    if kind == "tcpclose":
        # registers over a connection it then closes; its Contact a socket it listens on
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.3", 0))
        listener.listen(8)
        kind = "tcp"
    hangups = set(int(k) for k in argv[6:])
    sock = Sock("tcp" if kind == "tcp" else "udp", server, "127.0.0.3")
    if kind == "udp":
        at, via = "127.0.0.3:%d" % sock.port, "SIP/2.0/UDP 127.0.0.3:%d" % sock.port
    elif listener is not None:
        at = "127.0.0.3:%d" % listener.getsockname()[1]
        via = "SIP/2.0/TCP %s" % at
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.3", 0))
        dead = s.getsockname()[1]
        s.close()  # a port nothing listens on
        at = "127.0.0.3:%d" % dead
        via = "SIP/2.0/TCP %s" % at if kind == "tcp" else "SIP/2.0/UDP %s;rport" % at
    contact = "<sip:%s@%s%s>" % (user, at, ";transport=tcp" if kind == "tcp" else "")
    cid = uuid.uuid4().hex
    uri = "sip:%s%s" % (server, ";transport=tcp" if kind == "tcp" else "")
    auth = ""
    for cseq in (1, 2):
        reg = ("REGISTER %s SIP/2.0\r\nVia: %s;branch=z9hG4bK%s\r\nFrom: <sip:%s@%s>;tag=p%s\r\n"
               "To: <sip:%s@%s>\r\nCall-ID: %s\r\nCSeq: %d REGISTER\r\nContact: %s\r\nExpires: 600\r\n"
               "Max-Forwards: 70\r\n%s\r\n" % (uri, via, uuid.uuid4().hex, user, REALM_USERS, cid[:8], user,
                                               REALM_USERS, cid, cseq, contact, auth))
        m = request(sock, reg, lambda m: None, path)
        if m.startswith("SIP/2.0 200"):
            break
        if not m.startswith("SIP/2.0 401"):
            print("REGISTER: " + m.split("\r\n")[0])
            sys.exit(1)
        auth = digest(m, "REGISTER", uri, user, password, 1) + "\r\n"
    else:
        sys.exit(1)
    if listener is not None:
        # closed from this side; the proxy's end closed too once it answers with its own FIN
        sock.s.shutdown(socket.SHUT_WR)
        while sock.s.recv(65535):
            pass
        print("closed", flush=True)
        serve_486(listener, path, int(calls))
    done, n, invites = 0, 0, {}
    while done < int(calls):
        m = sock.recv(30)
        if m is None:
            print("no call")
            sys.exit(1)
        log(path, m)
        callid = hdr(m, "call-id")
        if m.startswith("INVITE "):
            if callid not in invites:
                n += 1
                tag = uuid.uuid4().hex[:8]
                invites[callid] = (n, m, tag)
                with open("%s.inv%d" % (path, n), "w") as f:
                    f.write(m)
            n_, inv, tag = invites[callid]
            keep = [l for l in inv.split("\r\n")[1:]
                    if l.partition(":")[0].strip().lower() in ("via", "from", "call-id", "cseq", "record-route")]
            sock.send("SIP/2.0 200 OK\r\n%s\r\nTo: %s;tag=%s\r\nContact: %s\r\n\r\n"
                      % ("\r\n".join(keep), hdr(inv, "to"), tag, contact), sock.last_from)
        elif m.startswith("ACK ") and callid in invites:
            k, inv, tag = invites[callid]
            if k in hangups:
                rr = hdrs(inv, "record-route")
                route = "Route: %s\r\n" % ", ".join(rr) if rr else ""
                target = hdr(inv, "contact").split(">")[0].lstrip("<")
                bye = ("BYE %s SIP/2.0\r\nVia: %s;branch=z9hG4bK%s\r\n%sFrom: %s;tag=%s\r\nTo: %s\r\n"
                       "Call-ID: %s\r\nCSeq: 1 BYE\r\nMax-Forwards: 70\r\n\r\n"
                       % (target, via, uuid.uuid4().hex, route, hdr(inv, "to"), tag, hdr(inv, "from"), callid))
                r = request(sock, bye, lambda m: None, path)
                if not r.startswith("SIP/2.0 200"):
                    print("BYE: " + r.split("\r\n")[0])
                    sys.exit(1)
                done += 1
        elif m.startswith("BYE "):
            answer(sock, m, "200 OK")
            done += 1
        elif not m.startswith("SIP/2.0"):
            answer(sock, m, "200 OK")
    print("ok")


def call(argv):
    server, user, password, aor, path, how = argv[:6]
    sock = Sock("udp", server, "127.0.0.4")
    me = "127.0.0.4:%d" % sock.port
    who = (user, REALM_USERS) if user != "-" else ("caller", "example.org")
    frm = "<sip:%s@%s>;tag=c%s" % (who + (uuid.uuid4().hex[:8],))
    cid = uuid.uuid4().hex
    start = time.time()
    auth = ""
    for cseq in (1, 2):
        branch = "z9hG4bK" + uuid.uuid4().hex
        inv = ("INVITE %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=%s;rport\r\nFrom: %s\r\nTo: <%s>\r\nCall-ID: %s\r\n"
               "CSeq: %d INVITE\r\nContact: <sip:caller@%s>\r\nMax-Forwards: 70\r\n%s\r\n"
               % (aor, me, branch, frm, aor, cid, cseq, me, auth))
        m = request(sock, inv, lambda m: None, path)
        code = m.split(" ")[1]
        if code not in ("200", "407") or (code == "407" and cseq == 2):
            # 17.1.1.3: the ACK for a non-2xx, hop by hop
            sock.send("ACK %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=%s;rport\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\n"
                      "CSeq: %d ACK\r\nMax-Forwards: 70\r\n\r\n" % (aor, me, branch, frm, hdr(m, "to"), cid, cseq))
            print("%s %d" % (code, (time.time() - start) * 1000))
            sys.exit(0 if code == how else 1)
        if code == "200":
            break
        sock.send("ACK %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=%s;rport\r\nFrom: %s\r\nTo: %s\r\nCall-ID: %s\r\n"
                  "CSeq: %d ACK\r\nMax-Forwards: 70\r\n\r\n" % (aor, me, branch, frm, hdr(m, "to"), cid, cseq))
        auth = digest(m, "INVITE", aor, user, password, 1) + "\r\n"
    print("200 %d" % ((time.time() - start) * 1000))
    rr = hdrs(m, "record-route")
    route = "Route: %s\r\n" % ", ".join(reversed(", ".join(rr).split(", "))) if rr else ""
    target = hdr(m, "contact").split(">")[0].lstrip("<")
    to = hdr(m, "to")
    dialog = "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nMax-Forwards: 70\r\n" % (frm, to, cid)
    sock.send("ACK %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%s;rport\r\n%s%sCSeq: %d ACK\r\n\r\n"
              % (target, me, uuid.uuid4().hex, route, dialog, cseq))
    if how == "caller":
        bye = ("BYE %s SIP/2.0\r\nVia: SIP/2.0/UDP %s;branch=z9hG4bK%s;rport\r\n%s%sCSeq: %d BYE\r\n\r\n"
               % (target, me, uuid.uuid4().hex, route, dialog, cseq + 1))
        r = request(sock, bye, lambda m: None, path)
        print("BYE " + r.split(" ")[1])
        sys.exit(0 if r.startswith("SIP/2.0 200") else 1)
    end = time.time() + 20
    while time.time() < end:
        m = sock.recv(1)
        if m is None:
            continue
        log(path, m)
        if m.startswith("BYE "):
            answer(sock, m, "200 OK")
            print("BYE received")
            sys.exit(0)
    sys.exit(1)


if __name__ == "__main__":
    {"phone": phone, "call": call}[sys.argv[1]](sys.argv[2:])
PY
CL="python3 $T/cl.py"

# ---- the two nodes ----
printf 'tp:pw-t\nnp:pw-n\nup:pw-u\ncp:pw-c\ntc:pw-tc\n' >"$T/users"
common=(proxy.xml --set "registrar.users=$T/users" --set location.backend=redis --set "location.uri=redis://127.0.0.1:$RPORT/0"
  --set "location.password=$REDIS_PASS"
  --set location.timeout_ms=500 --set sip.t1_ms=100 --set "core.secret_file=$T/secret" --log-level error)
# A writes each message it gets and sends in its events (core.messages=full)
LISTEN=udp:127.0.0.1:0 start a "${common[@]}" --listen tcp:127.0.0.1:0 --set sip.advertise=127.0.0.1 --set core.messages=full \
  --set proxy.trusted=127.0.0.2 --control "$T/a.sock" || exit 1
LISTEN=udp:127.0.0.2:0 start b "${common[@]}" --listen tcp:127.0.0.2:0 --set sip.advertise=127.0.0.2 \
  --set proxy.trusted=127.0.0.1 --control "$T/b.sock" || exit 1
A=127.0.0.1:$PORT_a
B=127.0.0.2:$PORT_b
A_TCP=$(tcp_port a)
B_TCP=$(tcp_port b)

# ---- a TCP phone registered through A, called through B ----
timeout 60 $CL phone tcp "127.0.0.1:$A_TCP" tp pw-t "$T/tp.log" 3 2 >"$T/tp.out" 2>&1 &
TP=$!
PIDS+=("$TP")
wait_ev a '"event":"bindings".*"aor":"sip:tp@sipflow.test"' 10 &&
  pass "tp registered over TCP through A with digest" || fail "tp did not register" "$(cat "$T/tp.out")"
rcli HGETALL sipflow:loc:sip:tp@sipflow.test >"$T/tp.hash"
grep -q "\"path\":\"<sip:127.0.0.1:$A_TCP;lr;transport=tcp;sff=pt7f000003[0-9a-f]*>\"" "$T/tp.hash" &&
  grep -q "\"node\":\"127.0.0.1:$A_TCP\"" "$T/tp.hash" &&
  pass "registrar.cluster auto with redis: the binding in Redis has A's Path hop with a token, and its node" ||
  fail "the binding in Redis" "$(cat "$T/tp.hash")"

$CL call "$B" cp pw-c sip:tp@sipflow.test "$T/c1.log" caller >"$T/c1.out" 2>&1 &&
  pass "a caller authenticated at B calls tp: answered, the caller's BYE answered 200 ($(tr '\n' ' ' <"$T/c1.out"))" ||
  fail "the call through B to tp" "$(cat "$T/c1.out")" "$(grep branch_forward "$T/b.events" | tail -2)"
# B: the binding's Contact as target, no next hop of its own (the Path is the
# Route); A, the same call: by the Request-URI over the phone's connection
CID1=$(grep -m1 '"event":"branch_forward".*"target":"sip:tp@' "$T/b.events" | sed 's/.*"call_id":"\([^"]*\)".*/\1/')
grep '"event":"branch_forward"' "$T/b.events" | grep -F "\"call_id\":\"$CID1\"" >"$T/b.fw1"
grep '"event":"branch_forward"' "$T/a.events" | grep -F "\"call_id\":\"$CID1\"" >"$T/a.fw1"
[ -n "$CID1" ] && grep -q '"request_uri":"sip:tp@127.0.0.3:[0-9]*;transport=tcp"' "$T/b.fw1" && ! grep -q next_hop "$T/b.fw1" &&
  pass "B's branch_forward: the Contact as Request-URI, routed by the Path (no next hop of its own)" ||
  fail "B's branch_forward" "$(cat "$T/b.fw1")"
grep '"event":"sip_in"' "$T/a.events" | grep -F "$CID1" | grep -F 'INVITE sip:tp@127.0.0.3:' |
  grep -q "Route: <sip:127.0.0.1:$A_TCP;lr;transport=tcp;sff=pt7f000003[0-9a-f]*>" &&
  pass "A got B's INVITE with A's Path hop as its Route" ||
  fail "the INVITE A got from B" "$(grep '"event":"sip_in"' "$T/a.events" | grep -F "$CID1" | head -c 800)"
grep -q '"target":"(Request-URI)","request_uri":"sip:tp@127.0.0.3:[0-9]*;transport=tcp".*"next_hop":"sip:127.0.0.3:[0-9]*;transport=tcp"' \
  "$T/a.fw1" && pass "A's branch_forward for the same call: over the phone's connection (its own Route popped)" ||
  fail "A's branch_forward" "$(cat "$T/a.fw1")"
! grep -qi '^Route:' "$T/tp.log.inv1" && grep -q "^Record-Route: .*127.0.0.2" "$T/tp.log.inv1" &&
  grep -q "^Record-Route: .*127.0.0.1" "$T/tp.log.inv1" &&
  pass "the phone got the INVITE over its connection, no Route left, both nodes in the Record-Route" ||
  fail "the INVITE as the phone got it" "$(head -20 "$T/tp.log.inv1")"
grep -q '^ACK ' "$T/tp.log" && grep -q '^BYE ' "$T/tp.log" && pass "... the caller's ACK and BYE reached it through both nodes" ||
  fail "no ACK or BYE at the phone" "$(grep -E '^[A-Z]+ ' "$T/tp.log")"

$CL call "$B" - - sip:tp@sipflow.test "$T/c2.log" callee >"$T/c2.out" 2>&1 &&
  pass "a caller from outside calls tp through B; the phone hangs up: its BYE reaches the caller ($(tr '\n' ' ' <"$T/c2.out"))" ||
  fail "the call through B, the phone's BYE" "$(cat "$T/c2.out" "$T/tp.out")"

# ---- the node that owns the binding calls it directly ----
$CL call "$A" - - sip:tp@sipflow.test "$T/c3.log" caller >"$T/c3.out" 2>&1 &&
  pass "A calls its own TCP phone: answered and hung up" || fail "the call through A to tp" "$(cat "$T/c3.out")"
timeout 10 tail --pid="$TP" -f /dev/null
wait "$TP" && pass "the TCP phone took its three calls" || fail "the TCP phone" "$(cat "$T/tp.out")"
! grep -qi '^Route:' "$T/tp.log.inv3" && [ "$(grep -c '^Record-Route:' "$T/tp.log.inv3")" -ge 1 ] &&
  ! grep -q "^Record-Route: .*127.0.0.2" "$T/tp.log.inv3" &&
  pass "... A's own Path hop stripped: no Route, only A in the Record-Route" ||
  fail "A's INVITE as the phone got it" "$(cat "$T/tp.log.inv3")"

# ---- a TCP phone that closed its connection: reached at its Contact ----
timeout 60 $CL phone tcpclose "127.0.0.1:$A_TCP" tc pw-tc "$T/tc.log" 2 >"$T/tc.events" 2>&1 &
TC=$!
PIDS+=("$TC")
wait_ev tc '^closed' 10 && pass "tc registered over TCP through A, its Contact a socket it listens on, and closed the connection" ||
  fail "tc" "$(cat "$T/tc.events")"
$CL call "$B" - - sip:tc@sipflow.test "$T/c8.log" 486 >"$T/c8.out" 2>&1 &&
  pass "a call through B reaches tc at its Contact through A (the flow gone, B trusted): 486 from it" ||
  fail "the call through B to tc" "$(cat "$T/c8.out")"
$CL call "$A" - - sip:tc@sipflow.test "$T/c9.log" 486 >"$T/c9.out" 2>&1 &&
  pass "... and a call through A, its own hop's flow gone: 486 from it" || fail "the call through A to tc" "$(cat "$T/c9.out")"
timeout 10 tail --pid="$TC" -f /dev/null
wait "$TC" && [ "$(grep -c '^INVITE sip:tc@127.0.0.3:[0-9]*;transport=tcp ' "$T/tc.log")" = 2 ] &&
  pass "... both INVITEs came to its Contact" || fail "the phone tc" "$(cat "$T/tc.events")"

# ---- a phone behind NAT registered over UDP through A, called through B ----
timeout 60 $CL phone nat "$A" np pw-n "$T/np.log" 1 >"$T/np.out" 2>&1 &
NP=$!
PIDS+=("$NP")
wait_ev a '"event":"bindings".*"aor":"sip:np@sipflow.test"' 10 &&
  pass "np registered over UDP through A from behind a NAT" || fail "np did not register" "$(cat "$T/np.out")"
rcli HGETALL sipflow:loc:sip:np@sipflow.test >"$T/np.hash"
grep -q "\"path\":\"<sip:127.0.0.1:$PORT_a;lr;sff=pu7f000003[0-9a-f]*>\"" "$T/np.hash" && grep -q '"flow":"udp:127.0.0.3:' "$T/np.hash" &&
  pass "... its binding: A's Path hop with a token for its source, and its flow" || fail "np's binding" "$(cat "$T/np.hash")"
$CL call "$B" - - sip:np@sipflow.test "$T/c4.log" caller >"$T/c4.out" 2>&1 &&
  pass "a call through B to the NATed phone: answered, hung up ($(tr '\n' ' ' <"$T/c4.out"))" ||
  fail "the call through B to np" "$(cat "$T/c4.out")"
timeout 10 tail --pid="$NP" -f /dev/null
wait "$NP" && pass "... the phone took it" || fail "the NATed phone" "$(cat "$T/np.out")"
CID4=$(grep -m1 '"event":"branch_forward".*"target":"sip:np@' "$T/b.events" | sed 's/.*"call_id":"\([^"]*\)".*/\1/')
NPSRC=$(sed 's/.*"flow":"udp:\([0-9.:]*\)".*/\1/' "$T/np.hash" | tail -1)
grep '"event":"branch_forward"' "$T/a.events" | grep -F "\"call_id\":\"$CID4\"" |
  grep -q "\"request_uri\":\"sip:np@127.0.0.3:[0-9]*\".*\"next_hop\":\"sip:$NPSRC;transport=udp\"" &&
  pass "A sent it to the phone's source ($NPSRC), the Request-URI its Contact" ||
  fail "A's branch_forward to np" "$(grep branch_forward "$T/a.events" | tail -3)"
grep -q "^INVITE sip:np@127.0.0.3:" "$T/np.log.inv1" && ! grep -qi '^Route:' "$T/np.log.inv1" &&
  pass "... the INVITE as the phone got it: its Contact, no Route" || fail "np's INVITE" "$(cat "$T/np.log.inv1")"

# ---- a phone with a reachable Contact registered through B, called through A ----
timeout 60 $CL phone udp "$B" up pw-u "$T/up.log" 2 >"$T/up.out" 2>&1 &
UP=$!
PIDS+=("$UP")
wait_ev b '"event":"bindings".*"aor":"sip:up@sipflow.test"' 10 &&
  pass "up registered over UDP through B, its Contact its own socket" || fail "up did not register" "$(cat "$T/up.out")"
rcli HGETALL sipflow:loc:sip:up@sipflow.test >"$T/up.hash"
! grep -q '"path"' "$T/up.hash" && grep -q "\"node\":\"127.0.0.2:$PORT_b\"" "$T/up.hash" &&
  pass "... no Path (nothing ties it to B), B as its node" || fail "up's binding" "$(cat "$T/up.hash")"
$CL call "$A" - - sip:up@sipflow.test "$T/c5.log" caller >"$T/c5.out" 2>&1 &&
  pass "a call through A to up: answered, hung up" || fail "the call through A to up" "$(cat "$T/c5.out")"
CID5=$(grep -m1 '"event":"branch_forward".*"target":"sip:up@' "$T/a.events" | sed 's/.*"call_id":"\([^"]*\)".*/\1/')
[ -n "$CID5" ] && ! grep -q "$CID5" "$T/b.events" && ! grep -m1 '"event":"branch_forward".*"target":"sip:up@' "$T/a.events" | grep -q next_hop &&
  pass "... A sent it straight to the Contact: no next hop, nothing through B" ||
  fail "the call to up took a detour" "$(grep -h "$CID5" "$T/a.events" "$T/b.events" | grep branch_forward)"

# ---- forged tokens sent to A by a third party ----
timeout 30 python3 "$SIPCAT" listen "$T/lport" "$T/listener.log" --answer 200 --seconds 25 &
LPID=$!
PIDS+=("$LPID")
for i in $(seq 50); do [ -s "$T/lport" ] && break; sleep 0.1; done
LPORT=$(cat "$T/lport")
REAL=$(sed 's/.*;sff=\(pt[0-9a-f]*\)>.*/\1/' "$T/tp.hash" | grep '^pt' | head -1)
forged=$(printf 'pu7f000001%04x%032d' "$LPORT" 0)
altered=$(printf '%s' "$REAL" | python3 -c 'import sys; t=sys.stdin.read().strip(); print("pu7f000001%04x" % '"$LPORT"' + t[14:])')
for kind in forged altered; do # made up; a real one naming another address
  eval "tok=\$$kind"
  cat >"$T/inv-$kind.sip" <<SIP
INVITE sip:tp@127.0.0.1:$LPORT SIP/2.0
Via: SIP/2.0/UDP 127.0.0.4:{port};branch=z9hG4bK-{cid};rport
Route: <sip:127.0.0.1:$PORT_a;lr;sff=$tok>
From: <sip:mallory@example.org>;tag=m{cid}
To: <sip:tp@sipflow.test>
Call-ID: {cid}
CSeq: 1 INVITE
Max-Forwards: 70
Content-Length: 0

SIP
  got=$(timeout 20 python3 "$SIPCAT" send "$A" "$T/inv-$kind.sip" --timeout 5 --show --bind 127.0.0.4)
  case "$got" in
    "403"*"SIP/2.0 403 Invalid Flow Token"*) pass "a Path token $kind in a Route sent to A: 403 Invalid Flow Token" ;;
    *) fail "a Path token $kind: got '$(printf '%s' "$got" | head -2 | tr '\r\n' '  ')'" ;;
  esac
done
# a real token whose TCP flow is gone (tc's), from a party A does not trust:
# the flow only (refused), never the Request-URI it names
TCHOP=$(rcli HGETALL sipflow:loc:sip:tc@sipflow.test | sed -n 's/.*"path":"\(<[^"]*>\)".*/\1/p')
cat >"$T/inv-closed.sip" <<SIP
INVITE sip:x@127.0.0.1:$LPORT SIP/2.0
Via: SIP/2.0/UDP 127.0.0.4:{port};branch=z9hG4bK-{cid};rport
Route: $TCHOP
From: <sip:mallory@example.org>;tag=m{cid}
To: <sip:tc@sipflow.test>
Call-ID: {cid}
CSeq: 1 INVITE
Max-Forwards: 70
Content-Length: 0

SIP
got=$(timeout 20 python3 "$SIPCAT" send "$A" "$T/inv-closed.sip" --timeout 5 --bind 127.0.0.4)
case "$TCHOP:$got" in
  "<sip:127.0.0.1:$A_TCP;"*":430") pass "tc's own token, its flow gone, from an untrusted party: 430 Flow Failed (RFC 5626 5.3), not relayed by its Request-URI nor a new connection" ;;
  *) fail "tc's token from an untrusted party: got '$got'" "$TCHOP" ;;
esac
kill "$LPID" 2>/dev/null
wait "$LPID" 2>/dev/null
[ ! -s "$T/listener.log" ] && pass "... nothing relayed to the address they named" ||
  fail "the listener got something" "$(head -3 "$T/listener.log")"

# ---- A dies ----
{ kill -KILL "$PID_a"; wait "$PID_a"; } 2>/dev/null
# the connection to A's hop is refused: a transport error, a 503 for the
# branch (8.1.3.1), which goes upstream as 500 (16.7 step 6)
$CL call "$B" - - sip:tp@sipflow.test "$T/c6.log" 500 >"$T/c6.out" 2>&1
read -r code ms <"$T/c6.out"
[ "$code" = 500 ] && [ "${ms:-99999}" -lt 3000 ] &&
  pass "A killed: B's call to the TCP phone registered through A gets 500 at once (${ms} ms: A's hop refuses the connection)" ||
  fail "A killed: B's call to tp" "$(cat "$T/c6.out")" "$(tail -3 "$T/b.err")"
kill -0 "$PID_b" && pass "B stays up" || fail "B died"
$CL call "$B" - - sip:up@sipflow.test "$T/c7.log" caller >"$T/c7.out" 2>&1 &&
  pass "... and still serves its own phone" || fail "B's call to up after A died" "$(cat "$T/c7.out")"
timeout 10 tail --pid="$UP" -f /dev/null
wait "$UP" && pass "up took its two calls" || fail "the UDP phone" "$(cat "$T/up.out")"

# ---- registrar.cluster: auto, or a boolean ----
timeout 10 "$SIPFLOW" run proxy.xml --listen udp:127.0.0.1:0 --set location.backend=memory --set registrar.cluster=maybe \
  </dev/null >"$T/bad.out" 2>"$T/bad.err"
rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -q "registrar.cluster: expected auto, true or false, got 'maybe'" "$T/bad.err" &&
  pass "registrar.cluster=maybe stops the program (exit $rc), naming the key" || fail "registrar.cluster=maybe: exit $rc" "$(cat "$T/bad.err")"

stop b && pass "B exits cleanly" || fail "B did not exit cleanly" "$(err_report "$T/b.err")"
{ kill "$PID_redis"; wait "$PID_redis"; } 2>/dev/null
summary cluster.sh
