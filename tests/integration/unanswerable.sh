#!/bin/bash
# unanswerable.sh: requests whose answer was once impossible to build or send
# (issue 13 item 6), through xml/proxy.xml (sip.t1_ms=50) on loopback, bounded:
#  - OPTIONS with a quoted-pair NUL in the To display name ("a\<NUL>b", RFC 3261
#    25.1): each gets the proxy's usual answer (480: no binding), To copied with
#    its NUL and a tag (8.2.6.2);
#  - OPTIONS of 65,507 bytes (the UDP limit) whose size is in their Via lines:
#    the answer would not fit a datagram; each gets the bare 513 instead
#    (oversize_responses);
#  - an OPTIONS and an INVITE forwarded to a socket that never answers: Timer F
#    and RFC 4320's silence end the first, Timer B's 408 and Timer H the second,
#    before the guard timer (OpTxnGuard, 132*T1 and 400*T1) would;
#  - every server transaction ends (transactions_live 0, none guarded) and the
#    proxy's standard error has no sanitizer report.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "not ok - python3 is not installed (scripts/setup-deps installs it)"; exit 1; }

N_NUL=250
N_BIG=50
# a trusted source (docs/security.md): its requests are relayed, with state
start px proxy.xml --set sip.t1_ms=50 --set proxy.trusted=127.0.0.1 || exit 1

# The sender: each request waits for its answer (a 65 KB datagram would
# overflow the receive buffer if they were all sent at once), bounded by 2 s.
python3 - "$PORT_px" "$N_NUL" "$N_BIG" >"$T/sender.out" 2>&1 <<'EOF'
import socket, sys
port, n_nul, n_big = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', 0))
s.settimeout(2)
lport = s.getsockname()[1]
silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # a next hop that never answers
silent.bind(('127.0.0.1', 0))
dead = silent.getsockname()[1]
UDP_MAX = 65507

def tail(i, kind, method='OPTIONS', to='<sip:b@x>'):
    return (f'Max-Forwards: 70\r\nTo: {to}\r\nFrom: <sip:a@x>;tag={i}\r\nCall-ID: {kind}{i}\r\n'
            f'CSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n')

def nul(i):
    return (f'OPTIONS sip:b@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bKnul{i}\r\n'
            + tail(i, 'nul', to='"a\\\x00b" <sip:b@x>')).encode('latin-1')

def big(i):
    head = f'OPTIONS sip:b@127.0.0.1:{port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bKbig{i}\r\n'
    t = tail(i, 'big')
    vias, room, k = [], UDP_MAX - len(head) - len(t), 0
    while room > 0:  # Via lines under the 8 KiB line limit, filling up to the UDP limit
        n = min(8000, room)
        pre = f'Via: SIP/2.0/UDP h{k}.example.com;branch=z9hG4bKx{k};p='
        vias.append(pre + 'a' * (n - len(pre) - 2) + '\r\n')
        room -= n
        k += 1
    m = (head + ''.join(vias) + t).encode()
    assert len(m) == UDP_MAX, len(m)
    return m

def ask(m, cid):
    s.sendto(m, ('127.0.0.1', port))
    try:
        while True:
            d = s.recv(70000)
            if f'\r\nCall-ID: {cid}\r\n'.encode() in d:
                return d
    except socket.timeout:
        return None

nul_ok = big_ok = 0
for i in range(n_nul):
    d = ask(nul(i), f'nul{i}')
    if d is not None and d.startswith(b'SIP/2.0 480 ') and b'\r\nTo: "a\\\x00b" <sip:b@x>;tag=' in d:
        nul_ok += 1
for i in range(n_big):
    d = ask(big(i), f'big{i}')
    if d is not None and d.startswith(b'SIP/2.0 513 ') and d.count(b'\r\nVia: ') == 1 and len(d) < 1000:
        big_ok += 1
for method in ('OPTIONS', 'INVITE'):
    s.sendto((f'{method} sip:nobody@127.0.0.1:{dead} SIP/2.0\r\n'
              f'Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bKquiet{method}\r\n'
              + tail(0, 'quiet' + method, method)).encode(), ('127.0.0.1', port))
silent.settimeout(5)
try:
    got = silent.recv(70000)  # the proxy forwarded them
    forwarded = got.split(b' ', 1)[0].decode()
except socket.timeout:
    forwarded = 'none'
print(f'nul_ok={nul_ok} big_ok={big_ok} forwarded={forwarded}')
EOF
out=$(tail -1 "$T/sender.out")
case "$out" in
  "nul_ok=$N_NUL big_ok=$N_BIG forwarded="[A-Z]*) ;;
  *) out="$out (bad)" ;;
esac
[ "$out" = "nul_ok=$N_NUL big_ok=$N_BIG forwarded=OPTIONS" ] || [ "$out" = "nul_ok=$N_NUL big_ok=$N_BIG forwarded=INVITE" ] &&
  pass "$N_NUL OPTIONS with a NUL in the To display name got 480; $N_BIG of 65,507 bytes (Vias) got a bare 513" ||
  fail "answers" "$(tail -3 "$T/sender.out")" "$(tail -3 "$T/px.err")"

# Every transaction ends: one instance_end per server transaction (Timer J, the
# RFC 4320 silence, Timer H; the guard at 132*T1 = 6.6 s is the bound) and per
# client one (the two forwarded requests), then the stats.
total=$((N_NUL + N_BIG + 2 + 2))
wait_ev px '"event":"instance_end","machine":"(nist|ist|nict|ict)"' 30 "$total" &&
  pass "all $total transactions ended" ||
  fail "transactions ended" "$(count px '"event":"instance_end","machine":"(nist|ist|nict|ict)"') of $total"
cmd px status
wait_ev px '"event":"stats"' 5
stats=$(grep '"event":"stats"' "$T/px.events" | tail -1)
echo "$stats" | grep -q '"transactions_live":0[,}]' && echo "$stats" | grep -q "\"oversize_responses\":$N_BIG[,}]" &&
  echo "$stats" | grep -q '"transactions_guarded":0[,}]' &&
  pass "stats: transactions_live 0, oversize_responses $N_BIG, none guarded" || fail "stats" "$stats"

stop px
rc=$?
! grep -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/px.err" && [ "$rc" = 0 ] &&
  pass "the proxy exits 0 with no sanitizer report" || fail "proxy exit $rc" "$(grep -m3 -E 'Sanitizer|runtime error' "$T/px.err")"

summary unanswerable
