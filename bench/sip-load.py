#!/usr/bin/env python3
"""sip-load.py: a SIP load generator over UDP or TLS for bench/bench-tls.sh.

Debian's sipp is built without TLS, so this one process plays both ends of a
record-routing proxy's calls, over UDP or over TLS alike (the same generator
for both transports, so only the proxy's CPU differs between them):

  calls: a UAS listening on 127.0.0.1:UPORT and a UAC placing CALLS calls at
    RATE a second through the proxy: INVITE, (100), 180, 200, then ACK and BYE
    to the 200's Contact along the reversed Record-Route, 200; the messages
    are those of tests/integration/sipp/uac-rr.xml and uas-rr.xml.  Over TLS
    the UAC spreads its calls over CONNS persistent connections and the UAS
    answers on the connections the proxy opened to it.  No retransmission of
    its own (loopback; a call left unfinished BOUND seconds after the last
    INVITE counts as failed); a retransmitted INVITE or 200 is answered again.
    Prints one line: "ok FAILED wall generator_cpu".

  idle: opens CONNS TLS connections to the proxy, sends an OPTIONS with
    Max-Forwards 0 on each (a server closes a connection that has not sent a
    whole message within its stall time) and waits for its answer, prints
    "ready N", then holds them all until its standard input closes.

The generator's CPU is not the server's: the benchmark reads the server's
from /proc.  Standard library only.
"""
import argparse
import asyncio
import os
import re
import resource
import ssl
import sys
import time

SDP = (b"v=0\r\no=load 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
       b"t=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")


class Msg:
    __slots__ = ("start", "headers", "body")

    def __init__(self, raw):
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.start = lines[0]
        self.headers = []
        for line in lines[1:]:
            if line[:1] in (" ", "\t") and self.headers:
                n, v = self.headers[-1]
                self.headers[-1] = (n, v + " " + line.strip())
                continue
            n, _, v = line.partition(":")
            self.headers.append((n.strip().lower(), v.strip()))

    def all(self, *names):
        return [v for n, v in self.headers if n in names]

    def get(self, *names):
        for n, v in self.headers:
            if n in names:
                return v
        return ""

    def lines(self, *names):
        """The header lines of these names, as received, for copying."""
        return [("Via" if n in ("via", "v") else "Record-Route") + ": " + v
                for n, v in self.headers if n in names]


class Framer:
    """Splits a byte stream into SIP messages by Content-Length."""

    def __init__(self, on_msg):
        self.buf = b""
        self.on_msg = on_msg

    def feed(self, data):
        self.buf += data
        while True:
            self.buf = self.buf.lstrip(b"\r\n")
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            m = re.search(rb"\r\n(?:content-length|l)[ \t]*:[ \t]*(\d+)", self.buf[:end + 2], re.I)
            total = end + 4 + (int(m.group(1)) if m else 0)
            if len(self.buf) < total:
                return
            raw, self.buf = self.buf[:total], self.buf[total:]
            self.on_msg(Msg(raw))


URI = re.compile(r"<([^>]*)>")


def uri_of(v):
    m = URI.search(v)
    return m.group(1) if m else v.split(";")[0].strip()


def rr_values(msg):
    vals = []
    for v in msg.all("record-route"):
        vals += [m.group(0) for m in re.finditer(r"<[^>]*>[^,]*", v)]
    return vals


class Load:
    def __init__(self, a):
        self.a = a
        self.tls = a.transport == "tls"
        self.calls = {}
        self.ok = 0
        self.failed = 0
        self.done = None
        self.uas_tags = {}
        self.seq = 0

    # ---- the UAS: answers on the transport its request came on ----
    def uas_request(self, msg, send):
        method = msg.start.split(" ", 1)[0]
        cid = msg.get("call-id", "i")
        vias = "\r\n".join(msg.lines("via", "v"))
        common = "%s\r\nFrom: %s\r\nCall-ID: %s\r\nCSeq: %s\r\n" % (
            vias, msg.get("from", "f"), cid, msg.get("cseq"))
        if method == "INVITE":
            tag = self.uas_tags.setdefault(cid, "u%d" % len(self.uas_tags))
            rr = "".join(line + "\r\n" for line in msg.lines("record-route"))
            to = "To: %s;tag=%s\r\n" % (msg.get("to", "t"), tag)
            contact = "Contact: <sip:callee@127.0.0.1:%d%s>\r\n" % (
                self.a.uport, ";transport=tls" if self.tls else "")
            send(("SIP/2.0 180 Ringing\r\n" + common + rr + to + contact +
                  "Content-Length: 0\r\n\r\n").encode())
            send(("SIP/2.0 200 OK\r\n" + common + rr + to + contact +
                  "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n" % len(SDP)).encode() + SDP)
        elif method == "BYE":
            self.uas_tags.pop(cid, None)
            send(("SIP/2.0 200 OK\r\n" + common + "To: %s\r\nContent-Length: 0\r\n\r\n"
                  % msg.get("to", "t")).encode())
        elif method != "ACK":
            send(("SIP/2.0 501 Not Implemented\r\n" + common + "To: %s\r\nContent-Length: 0\r\n\r\n"
                  % msg.get("to", "t")).encode())

    # ---- the UAC ----
    def place(self, i, send, local):
        proto = "TLS" if self.tls else "UDP"
        cid = "load-%d-%d@127.0.0.1" % (os.getpid(), i)
        ruri = "sip:callee@127.0.0.1:%d%s" % (self.a.uport, ";transport=tls" if self.tls else "")
        c = {"send": send, "local": local, "ruri": ruri, "state": "inviting",
             "from": "<sip:caller@127.0.0.1:%d>;tag=c%d" % (local, i)}
        self.calls[cid] = c
        send(("INVITE %s SIP/2.0\r\nVia: SIP/2.0/%s 127.0.0.1:%d;branch=z9hG4bKi%d;rport\r\n"
              "From: %s\r\nTo: <sip:callee@127.0.0.1:%d>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"
              "Contact: <sip:caller@127.0.0.1:%d%s>\r\nMax-Forwards: 70\r\n"
              "Content-Type: application/sdp\r\nContent-Length: %d\r\n\r\n"
              % (ruri, proto, local, i, c["from"], self.a.uport, cid, local,
                 ";transport=tls" if self.tls else "", len(SDP))).encode() + SDP)

    def in_dialog(self, c, cid, method, cseq):
        proto = "TLS" if self.tls else "UDP"
        self.seq += 1
        routes = "".join("Route: %s\r\n" % r for r in c["routes"])
        return ("%s %s SIP/2.0\r\nVia: SIP/2.0/%s 127.0.0.1:%d;branch=z9hG4bK%s%d;rport\r\n%s"
                "From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %d %s\r\nMax-Forwards: 70\r\n"
                "Content-Length: 0\r\n\r\n" % (method, c["target"], proto, c["local"], method[0],
                                               self.seq, routes, c["from"], c["to"], cid, cseq,
                                               method)).encode()

    def uac_response(self, msg):
        cid = msg.get("call-id", "i")
        c = self.calls.get(cid)
        if c is None:
            return
        code = int(msg.start.split(" ", 2)[1])
        method = msg.get("cseq").split()[-1]
        if method == "INVITE":
            if code < 200:
                return
            if code >= 300:
                self.finish(cid, False)
                return
            if c["state"] == "inviting":
                c["to"] = msg.get("to", "t")
                c["target"] = uri_of(msg.get("contact", "m"))
                c["routes"] = list(reversed(rr_values(msg)))
                c["state"] = "bye"
                c["send"](self.in_dialog(c, cid, "ACK", 1))
                c["send"](self.in_dialog(c, cid, "BYE", 2))
            else:
                c["send"](self.in_dialog(c, cid, "ACK", 1))  # a retransmitted 200
        elif method == "BYE" and code >= 200:
            self.finish(cid, code < 300)

    def finish(self, cid, ok):
        if self.calls.pop(cid, None) is None:
            return
        if ok:
            self.ok += 1
        else:
            self.failed += 1
        if self.ok + self.failed == self.a.calls and not self.done.done():
            self.done.set_result(True)

    def dispatch(self, msg, send):
        if msg.start.startswith("SIP/2.0 "):
            self.uac_response(msg)
        else:
            self.uas_request(msg, send)


class Stream(asyncio.Protocol):
    def __init__(self, load, ready=None):
        self.load = load
        self.framer = Framer(self.on_msg)
        self.ready = ready

    def connection_made(self, transport):
        self.t = transport
        self.local = transport.get_extra_info("sockname")[1]
        if self.ready is not None:
            self.ready.set_result(self)

    def data_received(self, data):
        self.framer.feed(data)

    def on_msg(self, msg):
        self.load.dispatch(msg, self.t.write)

    def connection_lost(self, exc):
        pass


class Datagram(asyncio.DatagramProtocol):
    def __init__(self, load):
        self.load = load

    def connection_made(self, transport):
        self.t = transport
        self.local = transport.get_extra_info("sockname")[1]

    def datagram_received(self, data, addr):
        self.load.dispatch(Msg(data), lambda b: self.t.sendto(b, addr))


def contexts(a):
    server = None
    if a.cert:
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(a.cert, a.key)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.load_verify_locations(a.ca)
    return server, client


async def calls(a):
    loop = asyncio.get_running_loop()
    load = Load(a)
    load.done = loop.create_future()
    proxy = ("127.0.0.1", a.port)
    if load.tls:
        sctx, cctx = contexts(a)
        server = await loop.create_server(lambda: Stream(load), "127.0.0.1", a.uport, ssl=sctx)
        uacs = []
        for _ in range(a.conns):
            _, p = await loop.create_connection(lambda: Stream(load), *proxy, ssl=cctx,
                                                server_hostname="127.0.0.1")
            uacs.append(p)
        sends = [(p.t.write, p.local) for p in uacs]
    else:
        await loop.create_datagram_endpoint(lambda: Datagram(load), local_addr=("127.0.0.1", a.uport))
        t, p = await loop.create_datagram_endpoint(lambda: Datagram(load), local_addr=("127.0.0.1", 0))
        sends = [(lambda b, t=t: t.sendto(b, proxy), p.local)]
    print("started", flush=True)
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    for i in range(a.calls):
        due = t0 + i / a.rate
        now = time.monotonic()
        if due > now:
            await asyncio.sleep(due - now)
        send, local = sends[i % len(sends)]
        load.place(i, send, local)
    try:
        await asyncio.wait_for(asyncio.shield(load.done), a.bound)
    except asyncio.TimeoutError:
        load.failed += len(load.calls)
    wall = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
    print("%d %d %.3f %.3f" % (load.ok, load.failed, wall, cpu), flush=True)


async def idle(a):
    loop = asyncio.get_running_loop()
    _, cctx = contexts(a)
    answered = 0
    conns = []

    class Idle(asyncio.Protocol):
        def connection_made(self, transport):
            self.t = transport
            self.got = loop.create_future()
            self.framer = Framer(lambda m: self.got.done() or self.got.set_result(m))

        def data_received(self, data):
            self.framer.feed(data)

    async def one(i):
        nonlocal answered
        t, p = await loop.create_connection(Idle, "127.0.0.1", a.port, ssl=cctx, server_hostname="127.0.0.1")
        local = t.get_extra_info("sockname")[1]
        t.write(("OPTIONS sip:127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:%d;branch=z9hG4bKo%d;rport\r\n"
                 "From: <sip:idle@127.0.0.1>;tag=o%d\r\nTo: <sip:127.0.0.1:%d>\r\nCall-ID: idle-%d-%d\r\n"
                 "CSeq: 1 OPTIONS\r\nMax-Forwards: 0\r\nContent-Length: 0\r\n\r\n"
                 % (a.port, local, i, i, a.port, os.getpid(), i)).encode())
        await asyncio.wait_for(p.got, 10)
        answered += 1
        conns.append(t)

    # a few handshakes at a time (a burst would meet the listen backlog)
    sem = asyncio.Semaphore(16)

    async def limited(i):
        async with sem:
            await one(i)

    results = await asyncio.gather(*(limited(i) for i in range(a.conns)), return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    print("ready %d%s" % (answered, " (first error: %r)" % errors[0] if errors else ""), flush=True)
    await loop.run_in_executor(None, sys.stdin.read)
    for t in conns:
        t.close()
    await asyncio.sleep(0.2)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("mode", choices=["calls", "idle"])
    p.add_argument("--port", type=int, required=True, help="the proxy's port (UDP or TLS)")
    p.add_argument("--transport", choices=["udp", "tls"], default="tls")
    p.add_argument("--uport", type=int, default=0, help="the UAS's port (calls)")
    p.add_argument("--calls", type=int, default=1000)
    p.add_argument("--rate", type=float, default=200)
    p.add_argument("--conns", type=int, default=4)
    p.add_argument("--bound", type=float, default=30, help="seconds allowed after the calls are placed")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--ca")
    a = p.parse_args()
    asyncio.run(calls(a) if a.mode == "calls" else idle(a))


if __name__ == "__main__":
    main()
