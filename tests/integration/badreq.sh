#!/bin/bash
# badreq.sh: requests with repeated parameters and requests that frame but are
# bad (issue 14 item 5), over UDP on loopback, to xml/ua.xml (media.backend=null)
# and xml/proxy.xml (proxy.trusted=127.0.0.1), bounded:
#  - a repeated To tag, a Via with rport twice, a Request-URI with transport
#    twice: each gets the answer the same request without the repeat gets (the
#    first value wins; nothing is dropped, no 400), and the Via's rport is filled
#    in once (RFC 3581);
#  - a Request-URI parameter with an empty value (transport=) gets 400 whose
#    reason names the parameter; Content-Length 500 in a datagram of about 200
#    bytes gets 400 naming Content-Length (RFC 3261 18.3);
#  - a datagram with no Via (nothing to address a response with) and a response
#    with a bad Content-Length get nothing; the stats event counts the two 400s
#    in sip_bad_requests and the two in sip_dropped;
#  - each process exits 0 with no sanitizer report.
# Silence is shown without sleeping: a last request is sent after the silent
# ones, and once its answer is in, the earlier datagrams have been handled.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "not ok - python3 is not installed (scripts/setup-deps installs it)"; exit 1; }

start ua ua.xml --set media.backend=null || exit 1
start px proxy.xml --set sip.t1_ms=50 --set proxy.trusted=127.0.0.1 || exit 1

# send NAME PORT: one line per request, "label status-line" (or "label none").
send() {
  python3 - "$2" >"$T/$1.out" 2>&1 <<'EOF'
import socket, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.1', 0))
s.settimeout(5)
lport = s.getsockname()[1]
answers = {}

def msg(cid, ruri=None, via_params=';branch=z9hG4bK{cid}', to='<sip:b@x>', cl='0', body='', via=True,
        start=None):
    ruri = ruri or f'sip:b@127.0.0.1:{port}'
    m = start or f'OPTIONS {ruri} SIP/2.0\r\n'
    if via:
        m += f'Via: SIP/2.0/UDP 127.0.0.1:{lport}' + via_params.format(cid=cid) + '\r\n'
    m += (f'Max-Forwards: 70\r\nTo: {to}\r\nFrom: <sip:a@x>;tag=f{cid}\r\nCall-ID: {cid}\r\n'
          f'CSeq: 1 OPTIONS\r\nContent-Length: {cl}\r\n\r\n{body}')
    return m.encode()

def collect(until):
    """Reads answers until one for Call-ID @until is in; True if it came."""
    try:
        while until not in answers:
            d = s.recv(70000)
            for line in d.split(b'\r\n'):
                if line.startswith(b'Call-ID: '):
                    answers.setdefault(line[9:].decode(), []).append(d)
    except socket.timeout:
        return False
    return True

def ask(label, m, cid):
    s.sendto(m, ('127.0.0.1', port))
    collect(cid)
    show(label, cid)

def show(label, cid):
    d = answers.get(cid)
    if d is None:
        print(label, 'none')
        return
    first = d[0].split(b'\r\n', 1)[0].decode('latin-1')
    via = [l for l in d[0].split(b'\r\n') if l.startswith(b'Via: ')][0].decode('latin-1')
    print(label, first, '|', via)

ask('plain', msg('plain'), 'plain')
ask('tag1', msg('tag1', to='<sip:b@x>;tag=1'), 'tag1')
ask('tag2', msg('tag2', to='<sip:b@x>;tag=1;tag=1'), 'tag2')
ask('rport', msg('rport', via_params=';rport;branch=z9hG4bK{cid};rport'), 'rport')
ask('transport', msg('transport', ruri=f'sip:b@127.0.0.1:{port};transport=udp;transport=udp'), 'transport')
ask('badparam', msg('badparam', ruri=f'sip:b@127.0.0.1:{port};transport='), 'badparam')
m = msg('bigcl', cl='500', body='v=0\r\n')
ask('bigcl', m, 'bigcl')
print('bigcl-size', len(m))
# Nothing to address a response with (no Via), and a response that does not frame.
s.sendto(msg('novia', via=False, cl='500', body='x'), ('127.0.0.1', port))
s.sendto(msg('resp', start='SIP/2.0 200 OK\r\n', cl='500'), ('127.0.0.1', port))
ask('last', msg('last'), 'last')
show('novia', 'novia')
show('resp', 'resp')
EOF
}

# check NAME: the answers NAME's sender saw, against the plain request's.
check() {
  local name=$1 out plain tag1
  out=$T/$name.out
  code() { grep "^$1 " "$out" | cut -d' ' -f3; }
  plain=$(code plain)
  tag1=$(code tag1)
  case "$plain" in [1-6][0-9][0-9]) ;; *) fail "$name: the plain OPTIONS got no answer" "$(cat "$out")"; return ;; esac
  [ "$(code tag2)" = "$tag1" ] && [ "$tag1" != 400 ] && [ -n "$tag1" ] &&
    pass "$name: To ;tag=1;tag=1 answered $tag1 like ;tag=1" || fail "$name: repeated To tag" "$(cat "$out")"
  [ "$(code rport)" = "$plain" ] && grep '^rport ' "$out" | grep -q -E ';rport=[0-9]+;branch=z9hG4bKrport;received=' &&
    [ "$(grep '^rport ' "$out" | grep -o rport= | wc -l)" = 1 ] &&
    pass "$name: Via ;rport twice answered $plain like the plain one, rport filled in once" ||
    fail "$name: repeated rport" "$(grep -E '^(plain|rport) ' "$out")"
  [ "$(code transport)" = "$plain" ] && pass "$name: Request-URI ;transport=udp twice answered $plain like the plain one" ||
    fail "$name: repeated transport" "$(grep -E '^(plain|transport) ' "$out")"
  grep -q "^badparam SIP/2.0 400 Bad Request (Request-URI: URI: parameter 'transport' has an invalid value" "$out" &&
    pass "$name: ;transport= in the Request-URI answered 400 naming it" || fail "$name: bad parameter" "$(grep '^badparam' "$out")"
  grep -q -E '^bigcl-size (1[5-9][0-9]|2[0-9][0-9])$' "$out" &&
    grep -q "^bigcl SIP/2.0 400 Bad Request (Content-Length: 500 is more than the 5 bytes after the headers)" "$out" &&
    pass "$name: Content-Length 500 in a $(grep '^bigcl-size' "$out" | cut -d' ' -f2)-byte datagram answered 400" ||
    fail "$name: Content-Length 500" "$(grep '^bigcl' "$out")"
  grep -q '^last SIP/2.0' "$out" && grep -q '^novia none$' "$out" && grep -q '^resp none$' "$out" &&
    pass "$name: no answer to a request without Via nor to a response with a bad Content-Length" ||
    fail "$name: silence" "$(grep -E '^(last|novia|resp)' "$out")"
  cmd "$name" status
  if wait_ev "$name" '"event":"stats"' 5; then
    local stats
    stats=$(grep '"event":"stats"' "$T/$name.events" | tail -1)
    echo "$stats" | grep -q '"sip_bad_requests":2[,}]' && echo "$stats" | grep -q '"sip_dropped":2[,}]' &&
      pass "$name: stats: sip_bad_requests 2, sip_dropped 2" || fail "$name: stats" "$stats"
  else
    fail "$name: no stats event"
  fi
}

send ua "$PORT_ua"
check ua
send px "$PORT_px"
check px

for p in ua px; do
  stop $p
  rc=$?
  ! grep -q -E 'CRITICAL|ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/$p.err" && [ "$rc" = 0 ] &&
    pass "$p exits 0 with no sanitizer report" || fail "$p exit $rc" "$(grep -m3 -E 'CRITICAL|Sanitizer|runtime error' "$T/$p.err")"
done

summary badreq
