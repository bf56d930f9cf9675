#!/bin/bash
# tls-attacks.sh: SIP over TLS against a hostile or careless peer, on
# loopback, every wait bounded.  The certificates come from a throwaway CA made
# here with openssl.
#  - a hundred connections that never send a ClientHello (from four source
#    addresses, under the per-source limit) do not delay another client's
#    handshake: no handshake starts before the whole ClientHello is here;
#  - plain SIP sent to the TLS port is closed at once, counted in tls_failed;
#  - tls.min_version (1.2) holds even where GnuTLS's priorities let TLS 1.1
#    through (G_TLS_GNUTLS_PRIORITY): such a handshake is closed, logged;
#  - failed handshakes at will are counted, and warned of 10 a second at most;
#  - a private key every user can read is warned about at the start (one
#    readable by its owner only is not).
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { fail "openssl is missing"; summary tls-attacks; exit 1; }
command -v python3 >/dev/null || { fail "python3 is missing"; summary tls-attacks; exit 1; }
common=(--set sip.t1_ms=100 --set sip.t4_ms=200 --set media.backend=null --log-level warning)

# --- the throwaway CA and its certificates (lib.sh: mkca, mkcert, conf, tls_port) ---
mkca ca && mkcert server ca DNS:localhost IP:127.0.0.1 ||
  { fail "openssl could not make the certificates"; summary tls-attacks; exit 1; }
chmod 600 "$CERTS"/*.key

conf srv server
# a long sip.tcp_stall: a handshake stuck behind the silent connections would wait that long
LISTEN=tls:127.0.0.1:0 start srv ua.xml -c "$T/srv.conf" "${common[@]}" --set sip.tcp_stall=30 --set ua.uri=sip:srv@127.0.0.1 || exit 1
PORT=$(tls_port srv)

# 1. silent connections hold no handshake thread
python3 - "$PORT" "$CERTS/ca.pem" >"$T/silent.out" 2>&1 <<'PY'
import socket, ssl, sys, time
port, ca = int(sys.argv[1]), sys.argv[2]
silent = []
for i in range(100):  # 25 from each of 127.0.0.2-5 (sip.tcp_max_per_source is 32)
    s = socket.socket()
    s.bind(("127.0.0.%d" % (2 + i // 25), 0))
    s.connect(("127.0.0.1", port))
    silent.append(s)
time.sleep(0.5)  # accepted by now (a wait on nothing observable: the server says nothing to them)
ctx = ssl.create_default_context(cafile=ca)
t = time.monotonic()
with socket.create_connection(("127.0.0.1", port), timeout=20) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        took = time.monotonic() - t
print("handshake %.2f" % took)
sys.exit(0 if took < 3 else 1)
PY
[ $? = 0 ] && pass "100 connections that never send a ClientHello do not delay another client's handshake" ||
  fail "a handshake behind silent connections" "$(cat "$T/silent.out")"

# 2. plain SIP to the TLS port: closed at once, counted
before=$(stat_of srv tls_failed)
python3 - "$PORT" >"$T/plain.out" 2>&1 <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"OPTIONS sip:srv@127.0.0.1 SIP/2.0\r\nContent-Length: 0\r\n\r\n")
try:
    got = s.recv(100)
except ConnectionResetError:  # closed with the request unread
    got = b""
sys.exit(0 if got == b"" else 1)  # closed, not answered
PY
[ $? = 0 ] && [ "$(stat_of srv tls_failed)" -gt "$before" ] && pass "plain SIP to the TLS port is closed at once (tls_failed)" ||
  fail "plain SIP to the TLS port" "$(cat "$T/plain.out")"

# 3. TLS 1.1 let through by GnuTLS's priorities: closed after the handshake
G_TLS_GNUTLS_PRIORITY=NORMAL:+VERS-TLS1.1 LISTEN=tls:127.0.0.1:0 start old ua.xml -c "$T/srv.conf" "${common[@]}" \
  --set ua.uri=sip:old@127.0.0.1 || exit 1
python3 -W ignore - "$(tls_port old)" >"$T/old.out" 2>&1 <<'PY'
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
ctx.set_ciphers("DEFAULT@SECLEVEL=0")
ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_1
try:
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5))
    print("handshake", s.version())
    s.sendall(b"OPTIONS sip:old@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:9;branch=z9hG4bK1\r\n"
              b"From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:old@127.0.0.1>\r\nCall-ID: 1\r\nCSeq: 1 OPTIONS\r\n"
              b"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n")
    got = s.recv(100)
except (OSError, ssl.SSLError) as e:
    print("closed:", e)
    got = b""
sys.exit(0 if got == b"" else 1)  # closed, never answered
PY
[ $? = 0 ] && pass "TLS 1.1 (let through by G_TLS_GNUTLS_PRIORITY) is closed, never answered (tls.min_version 1.2)" ||
  fail "TLS 1.1 answered" "$(cat "$T/old.out")"
retry 5 grep -q "failed: the peer does not speak TLS 1.2 (tls.min_version)" "$T/old.err" && pass "and the reason is logged" ||
  fail "TLS 1.1 log" "$(tail -3 "$T/old.err")"

# 5. failed handshakes at will do not flood the log: 10 warnings a second, the rest at debug, all counted
before=$(stat_of old tls_failed)
python3 -W ignore - "$(tls_port old)" >"$T/flood.out" 2>&1 <<'PY'
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
ctx.set_ciphers("DEFAULT@SECLEVEL=0")
ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_1
for i in range(40):
    try:
        s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5))
        s.recv(10)
        s.close()
    except (OSError, ssl.SSLError):
        pass
PY
retry 10 test "$(stat_of old tls_failed)" -ge $((before + 40))
[ "$(stat_of old tls_failed)" -ge $((before + 40)) ] && pass "40 failed handshakes counted in tls_failed" ||
  fail "tls_failed $(stat_of old tls_failed), was $before"
n=$(grep -c "does not speak TLS 1.2" "$T/old.err")
[ "$n" -lt 40 ] && grep -q "further failures this second: debug only" "$T/old.err" &&
  pass "... but not 40 warnings: $n (10 a second, the rest at debug)" || fail "$n warnings for 40 failed handshakes"

# 4. a private key every user can read: a warning naming the file
grep -q "can be read by every user" "$T/srv.err" && fail "a warning for a key of mode 600" "$(cat "$T/srv.err")" ||
  pass "no warning for a key only its owner can read"
chmod 644 "$CERTS/server.key"
LISTEN=tls:127.0.0.1:0 start open ua.xml -c "$T/srv.conf" "${common[@]}" --set ua.uri=sip:x@127.0.0.1
cmd open quit
grep -q "tls.key '$CERTS/server.key' can be read by every user of this host (mode 644)" "$T/open.err" &&
  pass "a private key every user can read is warned about, naming it" || fail "world-readable key" "$(cat "$T/open.err")"
chmod 600 "$CERTS/server.key"

summary tls-attacks
