#!/usr/bin/env python3
"""sipcat.py: raw SIP over UDP for the attack tests (loopback only, bounded).

  sipcat.py send HOST:PORT FILE [--auth USER:PASS] [--timeout S] [--count N] [--show] [--bind ADDR]
      Sends the SIP message in FILE (LF or CRLF lines; {port} is replaced by
      our local port, {cid} by a fresh Call-ID, {n} by the message number;
      Content-Length is computed) N times (default 1), each from the same
      socket, and waits up to S seconds (default 5) for each final response
      (1xx are skipped).  --rate R paces a flood at R a second.  With --auth, a 401/407 is answered once with MD5
      digest credentials (qop=auth when offered).  Prints one line per
      message: the final status, or "timeout"; with --show the whole last
      response.  --bind sends from another loopback address (127.0.0.2...).
      --count with --timeout 0 sends without waiting (a flood) and
      then counts what comes back within one second: "sent N, responses R".
  sipcat.py listen PORTFILE OUTFILE [--answer CODE] [--seconds S]
      Binds a free loopback UDP port, writes it to PORTFILE, and appends every
      datagram received to OUTFILE (separated by a line "=====").  With
      --answer, answers each request but ACK with CODE.  Exits after S
      seconds (default 60) or on SIGTERM.
"""
import hashlib
import os
import re
import signal
import socket
import sys
import time
import uuid


def usage():
    sys.stderr.write(__doc__)
    sys.exit(2)


def fix_length(msg):
    msg = msg.replace("\r\n", "\n").replace("\n", "\r\n")
    if "\r\n\r\n" not in msg:
        msg = msg.rstrip("\r\n") + "\r\n\r\n"
    head, body = msg.split("\r\n\r\n", 1)
    lines = [l for l in head.split("\r\n") if not l.lower().startswith("content-length:")]
    lines.append("Content-Length: %d" % len(body.encode()))
    return "\r\n".join(lines) + "\r\n\r\n" + body


def status_of(data):
    m = re.match(rb"SIP/2\.0 (\d{3})", data)
    return int(m.group(1)) if m else None


def header(data, name):
    for line in data.decode(errors="replace").split("\r\n"):
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return None


def params(challenge):
    return dict((k.lower(), v.strip('"')) for k, v in re.findall(r'(\w+)=("[^"]*"|[^,\s]+)', challenge))


def authorize(msg, resp, user, password, nc):
    st = status_of(resp)
    name = "WWW-Authenticate" if st == 401 else "Proxy-Authenticate"
    ch = header(resp, name)
    p = params(ch)
    start = msg.split("\r\n", 1)[0].split(" ")
    method, uri = start[0], start[1]
    ha1 = hashlib.md5(("%s:%s:%s" % (user, p["realm"], password)).encode()).hexdigest()
    ha2 = hashlib.md5(("%s:%s" % (method, uri)).encode()).hexdigest()
    cred = 'Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=MD5' % (user, p["realm"], p["nonce"], uri)
    if "auth" in p.get("qop", ""):
        cnonce = uuid.uuid4().hex[:16]
        ncs = "%08x" % nc
        r = hashlib.md5(("%s:%s:%s:%s:auth:%s" % (ha1, p["nonce"], ncs, cnonce, ha2)).encode()).hexdigest()
        cred += ', response="%s", qop=auth, nc=%s, cnonce="%s"' % (r, ncs, cnonce)
    else:
        r = hashlib.md5(("%s:%s:%s" % (ha1, p["nonce"], ha2)).encode()).hexdigest()
        cred += ', response="%s"' % r
    hname = "Authorization" if st == 401 else "Proxy-Authorization"
    head, body = msg.split("\r\n\r\n", 1)
    lines = head.split("\r\n")
    # a new transaction: a new branch, CSeq + 1
    out = []
    for l in lines:
        if l.lower().startswith("via:"):
            l = re.sub(r"branch=[^;\s]+", "branch=z9hG4bK" + uuid.uuid4().hex[:12], l)
        if l.lower().startswith("cseq:"):
            n, m = l.split(":", 1)[1].split()
            l = "CSeq: %d %s" % (int(n) + 1, m)
        out.append(l)
    out.append("%s: %s" % (hname, cred))
    return "\r\n".join(out) + "\r\n\r\n" + body


def cseq_of(text):
    m = re.search(r"(?im)^CSeq:\s*(\d+)", text)
    return m.group(1) if m else None


def final(sock, deadline, msg=None):
    """The next final response (to @msg's CSeq number when given)."""
    want = cseq_of(msg) if msg is not None else None
    while True:
        left = deadline - time.time()
        if left <= 0:
            return None
        sock.settimeout(left)
        try:
            data, _ = sock.recvfrom(70000)
        except socket.timeout:
            return None
        st = status_of(data)
        if st is not None and st >= 200 and (want is None or cseq_of(data.decode(errors="replace")) == want):
            return data


def send(argv):
    if len(argv) < 2:
        usage()
    host, port = argv[0].rsplit(":", 1)
    text = open(argv[1]).read()
    auth, timeout, count, show, rate, bind = None, 5.0, 1, False, 0.0, "127.0.0.1"
    i = 2
    while i < len(argv):
        if argv[i] == "--auth":
            auth = argv[i + 1].split(":", 1); i += 2
        elif argv[i] == "--timeout":
            timeout = float(argv[i + 1]); i += 2
        elif argv[i] == "--count":
            count = int(argv[i + 1]); i += 2
        elif argv[i] == "--bind":
            bind = argv[i + 1]; i += 2
        elif argv[i] == "--rate":
            rate = float(argv[i + 1]); i += 2
        elif argv[i] == "--show":
            show = True; i += 1
        else:
            usage()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((bind, 0))
    lport = sock.getsockname()[1]
    dest = (host, int(port))
    last = None
    if timeout == 0:
        t0 = time.time()
        for n in range(count):
            if rate > 0:
                ahead = t0 + n / rate - time.time()
                if ahead > 0:
                    time.sleep(ahead)  # pacing the sender, not waiting for a state
            msg = fix_length(text.replace("{port}", str(lport)).replace("{cid}", uuid.uuid4().hex).replace("{n}", str(n)))
            sock.sendto(msg.encode(), dest)
        got = 0
        deadline = time.time() + 1.0
        while time.time() < deadline:
            sock.settimeout(max(deadline - time.time(), 0.01))
            try:
                sock.recvfrom(70000)
                got += 1
            except socket.timeout:
                break
        print("sent %d, responses %d" % (count, got))
        return 0
    for n in range(count):
        msg = fix_length(text.replace("{port}", str(lport)).replace("{cid}", uuid.uuid4().hex).replace("{n}", str(n)))
        sock.sendto(msg.encode(), dest)
        resp = final(sock, time.time() + timeout, msg)
        if resp is not None and auth is not None and status_of(resp) in (401, 407):
            if msg.startswith("INVITE "):
                ack_for(sock, dest, msg, resp)
            msg = authorize(msg, resp, auth[0], auth[1], 1)
            sock.sendto(msg.encode(), dest)
            resp = final(sock, time.time() + timeout, msg)
        if resp is not None and status_of(resp) >= 300 and msg.startswith("INVITE "):
            ack_for(sock, dest, msg, resp)
        print(status_of(resp) if resp is not None else "timeout")
        last = resp
    if show and last is not None:
        sys.stdout.write(last.decode(errors="replace"))
    return 0


def ack_for(sock, dest, msg, resp):
    """17.1.1.3: the ACK for a non-2xx final response."""
    head = msg.split("\r\n\r\n", 1)[0].split("\r\n")
    uri = head[0].split(" ")[1]
    keep = []
    for l in head[1:]:
        low = l.lower()
        if low.startswith("via:") and not any(k.lower().startswith("via:") for k in keep):
            keep.append(l)
        elif low.startswith(("from:", "call-id:", "route:", "max-forwards:")):
            keep.append(l)
        elif low.startswith("cseq:"):
            keep.append("CSeq: %s ACK" % l.split(":", 1)[1].split()[0])
    keep.append("To: " + header(resp, "To"))
    ack = "ACK %s SIP/2.0\r\n%s\r\nContent-Length: 0\r\n\r\n" % (uri, "\r\n".join(keep))
    sock.sendto(ack.encode(), dest)


def listen(argv):
    if len(argv) < 2:
        usage()
    portfile, outfile = argv[0], argv[1]
    answer, seconds = None, 60.0
    i = 2
    while i < len(argv):
        if argv[i] == "--answer":
            answer = int(argv[i + 1]); i += 2
        elif argv[i] == "--seconds":
            seconds = float(argv[i + 1]); i += 2
        else:
            usage()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    with open(portfile + ".tmp", "w") as f:
        f.write(str(sock.getsockname()[1]))
    os.rename(portfile + ".tmp", portfile)
    deadline = time.time() + seconds
    while time.time() < deadline:
        sock.settimeout(max(deadline - time.time(), 0.01))
        try:
            data, src = sock.recvfrom(70000)
        except socket.timeout:
            break
        with open(outfile, "ab") as f:
            f.write(data + b"\n=====\n")
        if answer is not None and status_of(data) is None and not data.startswith(b"ACK "):
            head = data.split(b"\r\n\r\n", 1)[0].decode(errors="replace").split("\r\n")
            keep = [l for l in head[1:] if l.lower().startswith(("via:", "from:", "to:", "call-id:", "cseq:", "record-route:"))]
            keep = [l + ";tag=out1" if l.lower().startswith("to:") and "tag=" not in l else l for l in keep]
            resp = "SIP/2.0 %d Answer\r\n%s\r\nContact: <sip:out@127.0.0.1:%d>\r\nContent-Length: 0\r\n\r\n" % (
                answer, "\r\n".join(keep), sock.getsockname()[1])
            sock.sendto(resp.encode(), src)
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        usage()
    if sys.argv[1] == "send":
        sys.exit(send(sys.argv[2:]))
    if sys.argv[1] == "listen":
        sys.exit(listen(sys.argv[2:]))
    usage()
