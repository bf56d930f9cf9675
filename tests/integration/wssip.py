#!/usr/bin/python3
# wssip.py: a raw SIP over WebSocket client (RFC 7118) for ws.sh, speaking as
# JsSIP does: the `sip` subprotocol, one message per text frame, Via
# SIP/2.0/WSS with a .invalid host, Contact ;transport=ws.  Debian's
# python3-websockets (10.x: asyncio only).  Every wait is bounded; what it
# sees goes to EVENTS as one JSON line each, for lib.sh's wait_ev.
#
#   wssip.py URL CAFILE EVENTS phone USER PASSWORD DOMAIN
#     REGISTER (401, then 200 with digest), answer one INVITE 200, take its
#     ACK, answer the BYE 200, then close the connection.
#   wssip.py URL CAFILE EVENTS caller USER PASSWORD DOMAIN CALLEE
#     REGISTER as above, INVITE CALLEE (407, then with credentials), ACK
#     its 200 along the Record-Route set, then BYE the same way.
#   wssip.py URL CAFILE EVENTS refusals
#     one connection per case: a text frame that is not UTF-8, a SIP message
#     that does not parse, one over 64 KiB, no `sip` subprotocol, a foreign
#     Origin.
import asyncio, hashlib, json, random, re, ssl, string, sys

import websockets

URL, CAFILE, EVENTS = sys.argv[1], sys.argv[2], sys.argv[3]
WAIT = 10


def emit(event, **kw):
    with open(EVENTS, "a") as f:
        f.write(json.dumps(dict(event=event, **kw), separators=(",", ":")) + "\n")


def rnd(n=10):
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(n))


def ssl_ctx():
    if not URL.startswith("wss:"):
        return None
    ctx = ssl.create_default_context(cafile=CAFILE)
    return ctx


def connect(**kw):
    return websockets.connect(URL, subprotocols=kw.pop("subprotocols", ["sip"]), ssl=ssl_ctx(),
                              open_timeout=WAIT, close_timeout=WAIT, max_size=2**20, **kw)


def parse(text):
    head, _, body = text.partition("\r\n\r\n")
    lines = head.split("\r\n")
    hdrs = []
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdrs.append((k.strip().lower(), v.strip()))
    return lines[0], hdrs, body


def hdr(hdrs, name):
    return [v for k, v in hdrs if k == name]


async def recv_sip(ws, want=None):
    """The next message (a response, or a request of method @want)."""
    while True:
        text = await asyncio.wait_for(ws.recv(), WAIT)
        if isinstance(text, bytes):
            text = text.decode()
        start, hdrs, body = parse(text)
        if want is None or start.startswith(want + " ") or (want == "response" and start.startswith("SIP/2.0")):
            return text, start, hdrs, body


def digest(chal, user, pw, method, uri):
    p = dict(re.findall(r'(\w+)="?([^",]*)"?', chal.split(" ", 1)[1]))
    h = hashlib.md5
    ha1 = h(f"{user}:{p['realm']}:{pw}".encode()).hexdigest()
    ha2 = h(f"{method}:{uri}".encode()).hexdigest()
    cnonce, nc = rnd(), "00000001"
    resp = h(f"{ha1}:{p['nonce']}:{nc}:{cnonce}:auth:{ha2}".encode()).hexdigest()
    out = (f'Digest username="{user}", realm="{p["realm"]}", nonce="{p["nonce"]}", uri="{uri}", '
           f'response="{resp}", algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}"')
    if "opaque" in p:
        out += f', opaque="{p["opaque"]}"'
    return out


INSTANCE = "<urn:uuid:%s>" % "-".join(rnd(n) for n in (8, 4, 4, 4, 12))


def request(method, ruri, host, user, domain, call_id, cseq, tag, extra=(), body=""):
    lines = [f"{method} {ruri} SIP/2.0",
             f"Via: SIP/2.0/WSS {host}.invalid;branch=z9hG4bK{rnd()}",
             "Max-Forwards: 69",
             f"To: <sip:{user}@{domain}>",
             f"From: <sip:{user}@{domain}>;tag={tag}",
             f"Call-ID: {call_id}",
             f"CSeq: {cseq} {method}",
             # as JsSIP registers: outbound's instance and reg-id (RFC 5626)
             f'Contact: <sip:{user}@{host}.invalid;transport=ws>;+sip.instance="{INSTANCE}";reg-id=1;expires=600',
             "Supported: path, gruu, outbound",
             *extra,
             f"Content-Length: {len(body.encode())}", "", body]
    return "\r\n".join(lines)


def response(req_hdrs, code, reason, totag=None, extra=(), body=""):
    lines = [f"SIP/2.0 {code} {reason}"]
    for v in hdr(req_hdrs, "via"):
        lines.append(f"Via: {v}")
    for v in hdr(req_hdrs, "record-route"):
        lines.append(f"Record-Route: {v}")
    to = hdr(req_hdrs, "to")[0]
    if totag and "tag=" not in to:
        to += f";tag={totag}"
    lines += [f"To: {to}", f"From: {hdr(req_hdrs, 'from')[0]}", f"Call-ID: {hdr(req_hdrs, 'call-id')[0]}",
              f"CSeq: {hdr(req_hdrs, 'cseq')[0]}", *extra, f"Content-Length: {len(body.encode())}", "", body]
    return "\r\n".join(lines)


async def phone(user, pw, domain):
    host = rnd(8)
    async with connect() as ws:
        emit("ws_open", protocol=ws.subprotocol)
        await register(ws, host, user, pw, domain)
        text, start, inv, body = await recv_sip(ws, "INVITE")
        emit("invite", start=start, via=hdr(inv, "via"), record_route=hdr(inv, "record-route"))
        m = re.search(r"^m=audio \d+ (\S+) (.*)$", body, re.M)
        sdp = ("v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
               f"m=audio 9 {m.group(1) if m else 'RTP/AVP'} {m.group(2) if m else '0'}\r\n")
        totag = rnd()
        await ws.send(response(inv, 200, "OK", totag,
                               [f"Contact: <sip:{user}@{host}.invalid;transport=ws>", "Content-Type: application/sdp"], sdp))
        _, start, _, _ = await recv_sip(ws, "ACK")
        emit("ack", start=start)
        _, start, bye, _ = await recv_sip(ws, "BYE")
        emit("bye", start=start)
        await ws.send(response(bye, 200, "OK"))
        await ws.close()
        emit("closed")


def msg(start, headers, body=""):
    return "\r\n".join([start, *headers, f"Content-Length: {len(body.encode())}", "", body])


async def register(ws, host, user, pw, domain):
    call_id, tag = rnd(16), rnd()
    ruri = f"sip:{domain}"
    await ws.send(request("REGISTER", ruri, host, user, domain, call_id, 1, tag))
    _, start, hdrs, _ = await recv_sip(ws, "response")
    emit("register_1", status=start)
    chal = [c for c in hdr(hdrs, "www-authenticate") if "MD5" in c or "algorithm" not in c][0]
    auth = digest(chal, user, pw, "REGISTER", ruri)
    await ws.send(request("REGISTER", ruri, host, user, domain, call_id, 2, tag, [f"Authorization: {auth}"]))
    _, start, hdrs, _ = await recv_sip(ws, "response")
    emit("register_2", status=start, contact=hdr(hdrs, "contact"))


async def final(ws):
    while True:
        _, start, hdrs, body = await recv_sip(ws, "response")
        if int(start.split()[1]) >= 200:
            return start, hdrs, body


async def caller(user, pw, domain, callee):
    host = rnd(8)
    async with connect() as ws:
        await register(ws, host, user, pw, domain)
        ruri, call_id, tag = f"sip:{callee}@{domain}", rnd(16), rnd()
        frm, to = f"<sip:{user}@{domain}>;tag={tag}", f"<sip:{callee}@{domain}>"
        contact = f"Contact: <sip:{user}@{host}.invalid;transport=ws;ob>"
        sdp = ("v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
               "m=audio 9 RTP/AVP 0\r\n")

        def common(cseq, method, branch, to_hdr, extra=()):
            return [f"Via: SIP/2.0/WSS {host}.invalid;branch={branch}", "Max-Forwards: 69", f"To: {to_hdr}",
                    f"From: {frm}", f"Call-ID: {call_id}", f"CSeq: {cseq} {method}", *extra]

        branch = "z9hG4bK" + rnd()
        await ws.send(msg(f"INVITE {ruri} SIP/2.0", common(1, "INVITE", branch, to, [contact, "Content-Type: application/sdp"]), sdp))
        start, hdrs, _ = await final(ws)
        emit("invite_1", status=start)
        # the ACK of a non-2xx: the same branch, the response's To (17.1.1.3)
        await ws.send(msg(f"ACK {ruri} SIP/2.0", common(1, "ACK", branch, hdr(hdrs, "to")[0])))
        chal = [c for c in hdr(hdrs, "proxy-authenticate") if "MD5" in c or "algorithm" not in c][0]
        auth = digest(chal, user, pw, "INVITE", ruri)
        await ws.send(msg(f"INVITE {ruri} SIP/2.0", common(2, "INVITE", "z9hG4bK" + rnd(), to,
                                                           [contact, f"Proxy-Authorization: {auth}",
                                                            "Content-Type: application/sdp"]), sdp))
        start, hdrs, _ = await final(ws)
        rr = [v.strip() for line in hdr(hdrs, "record-route") for v in line.split(",")]
        emit("invite_2", status=start, record_route=rr)
        # the dialog (12.1.2): the remote target and the route set, reversed
        target = re.search(r"<([^>]*)>", hdr(hdrs, "contact")[0]).group(1)
        route = [f"Route: {r}" for r in reversed(rr)]
        to_tagged = hdr(hdrs, "to")[0]
        await ws.send(msg(f"ACK {target} SIP/2.0", common(2, "ACK", "z9hG4bK" + rnd(), to_tagged, route)))
        await ws.send(msg(f"BYE {target} SIP/2.0", common(3, "BYE", "z9hG4bK" + rnd(), to_tagged, route)))
        start, _, _ = await final(ws)
        emit("bye_final", status=start)
        await ws.close()


async def one(name, frames, origin=None, subprotocols=None, sip=True):
    """Sends @frames (str: text, bytes: raw text-frame payload) and says
    what came back: a response's start line, a close code, or a refusal."""
    try:
        kw = dict(subprotocols=subprotocols if subprotocols is not None else ["sip"])
        if origin:
            kw["origin"] = origin
        if not sip:
            kw["subprotocols"] = None
        async with connect(**kw) as ws:
            for f in frames:
                if isinstance(f, bytes):
                    await ws.write_frame(True, 0x1, f)  # a text frame, payload as given
                elif isinstance(f, list):
                    await ws.send(f)  # one message in fragments
                else:
                    await ws.send(f)
            try:
                text = await asyncio.wait_for(ws.recv(), WAIT)
                emit(name, result="message", start=parse(text)[0])
            except websockets.ConnectionClosed as e:
                emit(name, result="closed", code=e.rcvd.code if e.rcvd else None)
    except websockets.InvalidStatusCode as e:
        emit(name, result="refused", status=e.status_code)
    except Exception as e:  # noqa: BLE001: the test reads what happened
        emit(name, result="error", error=f"{type(e).__name__}: {e}")


async def refusals():
    await one("bad_utf8", [b"OPTIONS sip:x SIP/2.0\r\n\xff\xfe\r\n\r\n"])
    await one("bad_sip", ["OPTIONS sip:x@sipflow.test SIP/2.0\r\nVia: SIP/2.0/WSS a.invalid;branch=z9hG4bKx\r\n"
                          "Max-Forwards: 70\r\nTo: <sip:x@sipflow.test>\r\nFrom: <sip:y@sipflow.test>;tag=1\r\n"
                          "Call-ID: bad1\r\nCSeq: nonsense OPTIONS\r\nContent-Length: 0\r\n\r\n"])
    # over 64 KiB in fragments: the last is read whole when libsoup counts
    # it, so its close frame is not lost to a reset (unread input)
    big = "OPTIONS sip:x SIP/2.0\r\nX-Pad: " + "a" * 70000 + "\r\n\r\n"
    await one("oversize", [[big[i:i + 16000] for i in range(0, len(big), 16000)]])
    await one("oversize_frame", [big])
    # fragments past what is kept in memory between two messages (256 KiB)
    await one("oversize_flood", [["a" * 16000 for _ in range(40)]])
    await one("no_subprotocol", [], sip=False)
    await one("other_subprotocol", [], subprotocols=["xmpp"])
    await one("foreign_origin", [], origin="https://evil.example")


async def vanish(user, pw, domain):
    """Registers, and at the INVITE drops the connection (no close frame)."""
    async with connect() as ws:
        await register(ws, rnd(8), user, pw, domain)
        _, start, _, _ = await recv_sip(ws, "INVITE")
        emit("invite", start=start)
        ws.transport.abort()
        emit("closed")


async def framing():
    """Two SIP messages in one text frame, half of one, a head without its
    end: each answered 400 or dropped, never parsed as two nor waited on; a
    marker OPTIONS after each says what came back before it."""
    def options(call_id, extra=(), body=""):
        return msg(f"OPTIONS sip:nobody@sipflow.test SIP/2.0",
                   [f"Via: SIP/2.0/WSS f.invalid;branch=z9hG4bK{rnd()}", "Max-Forwards: 70",
                    "To: <sip:nobody@sipflow.test>", f"From: <sip:f@sipflow.test>;tag={rnd()}",
                    f"Call-ID: {call_id}", "CSeq: 1 OPTIONS", *extra], body)
    async with connect() as ws:
        cases = {"two": options("two-a") + options("two-b"),
                 "half": options("half", ["Content-Type: text/plain"], "0123456789").replace(
                     "Content-Length: 10", "Content-Length: 100"),
                 "cut": options("cut").split("\r\n\r\n")[0]}
        for name, frame in cases.items():
            await ws.send(frame)
            await ws.send(options("marker-" + name))
            seen = []
            while True:
                _, start, hdrs, _ = await recv_sip(ws, "response")
                cid = hdr(hdrs, "call-id")[0]
                seen.append(f"{cid} {start.split()[1]}")
                if cid == "marker-" + name:
                    break
            emit("framing_" + name, seen=seen)


async def two_aors(aors, pw, domain):
    """Two AORs registered over one connection, then closed."""
    async with connect() as ws:
        for a in aors.split(","):
            await register(ws, rnd(8), a, pw, domain)
        await ws.close()
        emit("closed")


async def reconnect(user, pw, domain):
    """A binding refreshed over a second connection while the first is still
    open, then the first closed: the binding (now on the second) stays."""
    host = rnd(8)
    async with connect() as ws1:
        await register(ws1, host, user, pw, domain)
        async with connect() as ws2:
            await register(ws2, host, user, pw, domain)
            await ws1.close()
            emit("first_closed")
            await asyncio.wait_for(ws2.wait_closed(), 30)


if sys.argv[4] == "vanish":
    asyncio.run(vanish(*sys.argv[5:8]))
elif sys.argv[4] == "framing":
    asyncio.run(framing())
elif sys.argv[4] == "two_aors":
    asyncio.run(two_aors(*sys.argv[5:8]))
elif sys.argv[4] == "reconnect":
    asyncio.run(reconnect(*sys.argv[5:8]))
elif sys.argv[4] == "phone":
    asyncio.run(phone(*sys.argv[5:8]))
elif sys.argv[4] == "caller":
    asyncio.run(caller(*sys.argv[5:9]))
elif sys.argv[4] == "refusals":
    asyncio.run(refusals())
