#!/bin/bash
# tcp-limits.sh: issue 13 item 8, one TCP source holding every connection slot,
# against xml/proxy.xml listening on TCP with small limits (sip.tcp_max_per_source
# 4, sip.tcp_stall 1 s, sip.tcp_idle 2 s); the client side is python3, each
# socket wait bounded:
#  (a) six connections from 127.0.0.1: the four kept are answered, the two over
#      the limit are closed at once (tcp_refused); a client from 127.0.0.2 still
#      gets its OPTIONS answered;
#  (b) after one OPTIONS, CRLF pings alone (no registered flow) get pongs but
#      do not keep the connection past sip.tcp_idle (tcp_closed_idle);
#  (c) a message begun and never finished: closed after sip.tcp_stall
#      (tcp_closed_stalled);
#  (d) a connection whose REGISTER saved a binding carries a registered flow:
#      its pings get pongs and hold it open past sip.tcp_idle; once they stop,
#      it is closed as idle.
. "$(dirname "$0")/lib.sh"

LISTEN=tcp:127.0.0.1:0 start px proxy.xml --set sip.tcp_max_per_source=4 --set sip.tcp_stall=1 \
  --set sip.tcp_idle=2 || exit 1

# client SCENARIO: runs one scenario against the proxy, prints "ok ..." or "bad ...".
client() {
  timeout 30 python3 - "$1" "$PORT_px" <<'PY'
import socket, sys, time

scenario, port = sys.argv[1], int(sys.argv[2])
n = 0

def conn(src):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(3)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s

def request(s, method, extra=""):
    global n
    n += 1
    src, sport = s.getsockname()
    msg = (f"{method} sip:127.0.0.1:{port} SIP/2.0\r\n"
           f"Via: SIP/2.0/TCP {src}:{sport};branch=z9hG4bKtcp{scenario}{n}\r\n"
           f"Max-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;tag=t{n}\r\nTo: <sip:dave@127.0.0.1>\r\n"
           f"Call-ID: tcp-{scenario}-{n}\r\nCSeq: {n} {method}\r\n{extra}Content-Length: 0\r\n\r\n")
    s.sendall(msg.encode())

def response(s):
    """The status of the next response (3 s at most), or None."""
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            b = s.recv(4096)
            if not b:
                return None
            data += b
    except OSError:
        return None
    return int(data.lstrip(b"\r\n").split(b" ", 2)[1])

def closed(s, secs):
    """Whether the peer closes @s within @secs (pongs are read past)."""
    s.settimeout(secs)
    try:
        while s.recv(4096):
            pass
        return True
    except ConnectionResetError:
        return True
    except OSError:
        return False

def ping(s):
    """Sends a double-CRLF ping; True when a CRLF pong comes back (3 s at most)."""
    s.settimeout(3)
    try:
        s.sendall(b"\r\n\r\n")
        return s.recv(16) == b"\r\n"
    except OSError:
        return False

if scenario == "a":
    kept = [conn("127.0.0.1") for _ in range(4)]
    for s in kept:
        request(s, "OPTIONS")
    codes = [response(s) for s in kept]
    extra = [conn("127.0.0.1") for _ in range(2)]
    refused = [closed(s, 3) for s in extra]
    other = conn("127.0.0.2")
    request(other, "OPTIONS")
    code = response(other)
    ok = codes == [200] * 4 and refused == [True, True] and code == 200
    print(("ok" if ok else "bad"), "kept", codes, "refused", refused, "other", code)
elif scenario == "b":
    s = conn("127.0.0.3")
    request(s, "OPTIONS")
    code = response(s)
    t0 = time.monotonic()
    pongs = 0
    while time.monotonic() - t0 < 8 and ping(s):
        pongs += 1
        time.sleep(0.3)
    gone = closed(s, 3)
    took = time.monotonic() - t0
    ok = code == 200 and pongs >= 2 and gone and 1 <= took < 8
    print(("ok" if ok else "bad"), "code", code, "pongs", pongs, "closed", gone, "after %.1f s" % took)
elif scenario == "c":
    s = conn("127.0.0.4")
    request(s, "OPTIONS")
    code = response(s)
    s.sendall(b"OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.4")
    t0 = time.monotonic()
    gone = closed(s, 6)
    took = time.monotonic() - t0
    ok = code == 200 and gone
    print(("ok" if ok else "bad"), "code", code, "closed", gone, "after %.1f s" % took)
elif scenario == "d":
    s = conn("127.0.0.5")
    request(s, "REGISTER", "Contact: <sip:dave@127.0.0.5:5999;transport=tcp>\r\nExpires: 3600\r\n")
    code = response(s)
    t0 = time.monotonic()
    pongs, held = 0, True
    while time.monotonic() - t0 < 5:  # 2.5 times sip.tcp_idle
        if not ping(s):
            held = False
            break
        pongs += 1
        time.sleep(0.3)
    gone = closed(s, 6)  # no more pings: idle
    ok = code == 200 and held and pongs >= 10 and gone
    print(("ok" if ok else "bad"), "code", code, "pongs", pongs, "held", held, "then closed", gone)
PY
}

# stat FIELD: FIELD of a fresh stats event from px.
stats_n=0
stat() {
  stats_n=$((stats_n + 1))
  cmd px status
  wait_ev px '"event":"stats"' 5 "$stats_n" || return 1
  grep '"event":"stats"' "$T/px.events" | tail -1 | grep -o "\"$1\":[0-9]*" | cut -d: -f2
}

out=$(client a)
echo "# $out"
[ "$(stat tcp_refused)" = 2 ] && [[ $out == ok* ]] &&
  pass "(a) per-source limit: 2 of 6 connections from one address closed at once, another address answered" ||
  fail "(a) per-source limit" "$out" "$(grep '"event":"stats"' "$T/px.events" | tail -1)"

out=$(client b)
echo "# $out"
[ "$(stat tcp_closed_idle)" -ge 1 ] && [[ $out == ok* ]] &&
  pass "(b) CRLF pings without a registered flow: pongs, then closed after sip.tcp_idle" ||
  fail "(b) pings without a flow" "$out" "$(grep '"event":"stats"' "$T/px.events" | tail -1)"

out=$(client c)
echo "# $out"
[ "$(stat tcp_closed_stalled)" = 1 ] && [[ $out == ok* ]] &&
  pass "(c) a message stalled midway: closed after sip.tcp_stall" ||
  fail "(c) stalled message" "$out" "$(grep '"event":"stats"' "$T/px.events" | tail -1)"

idle_before=$(stat tcp_closed_idle)
out=$(client d)
echo "# $out"
[[ $out == ok* ]] && [ "$(stat tcp_closed_idle)" = $((idle_before + 1)) ] &&
  grep -q '"event":"bindings".*"bindings":1' "$T/px.events" &&
  pass "(d) a registered flow: pings get pongs and hold it past sip.tcp_idle; without them it goes" ||
  fail "(d) registered flow" "$out" "$(grep -E '"event":"(stats|bindings)"' "$T/px.events" | tail -2)"

stop px && pass "the proxy quits cleanly (no leak)" || fail "proxy exit" "$(err_report "$T/px.err")"
summary tcp-limits
