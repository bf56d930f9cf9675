#!/bin/bash
# tls.sh: SIP over TLS (RFC 3261 26; RFC 5630 sips; RFC 5922 certificate
# checks), on loopback, every wait bounded.  The certificates come from a
# throwaway CA made here with openssl.
#  - a TLS-only UA calls another 100 times (answered, hung up, every
#    transaction ended); the INVITE's Via is SIP/2.0/TLS and its Contact names
#    ;transport=tls (the messages events);
#  - a sips: call: the Contact is sips:;
#  - a server whose certificate does not name the URI's host is refused by the
#    caller, whose call fails with the reason in its log;
#  - a client showing a certificate of another CA to a server that requires a
#    trusted one (tls.verify_client=require) is refused, with the reason in the
#    server's log; one of the trusted CA gets through;
#  - a missing certificate file stops the start with an error naming the key;
#  - one call over ::1;
#  - a reload re-reads the certificate; a bad one refuses the reload.
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { fail "openssl is missing"; summary tls; exit 1; }
common=(--set sip.t1_ms=100 --set media.rtp_ports=43000-43999 --set media.backend=null --log-level warning)

# --- the throwaway CA and its certificates ---
C=$T/certs
mkdir -p "$C"
mkcert() { # mkcert NAME CA SAN...: NAME.pem and NAME.key signed by CA (CA "self": self-signed)
  local name=$1 ca=$2
  shift 2
  local san
  san=$(IFS=,; echo "$*")
  openssl req -new -newkey rsa:2048 -nodes -keyout "$C/$name.key" -out "$C/$name.csr" -subj "/CN=$name" 2>/dev/null &&
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$san" >"$C/$name.ext" &&
    openssl x509 -req -in "$C/$name.csr" -CA "$C/$ca.pem" -CAkey "$C/$ca.key" -CAcreateserial -days 2 \
      -extfile "$C/$name.ext" -out "$C/$name.pem" 2>/dev/null
}
mkca() {
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$C/$1.key" -out "$C/$1.pem" -days 2 -subj "/CN=$1" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
mkca ca && mkca rogue-ca && mkcert server ca DNS:localhost IP:127.0.0.1 IP:::1 &&
  mkcert client ca DNS:client.test && mkcert wrong ca DNS:wrong.example && mkcert rogue rogue-ca DNS:client.test ||
  { fail "openssl could not make the certificates"; summary tls; exit 1; }
pass "a throwaway CA and certificates (openssl)"

# configuration files with paths relative to them
conf() { # conf NAME CERT [EXTRA...]: $T/NAME.conf
  local name=$1 cert=$2
  shift 2
  { echo "[tls]"; echo "certificate = certs/$cert.pem"; echo "key = certs/$cert.key"; echo "ca_file = certs/ca.pem"
    printf '%s\n' "$@"; } >"$T/$name.conf"
}
tls_port() { grep '"event":"listening".*"transport":"tls"' "$T/$1.events" | head -1 | sed 's/.*"port":\([0-9]*\).*/\1/'; }
ended() { wait_ev "$1" '"event":"call_end"' 10 "$2"; }

# 1. a missing file stops the start, naming its key and file
echo "[tls]
certificate = certs/nothere.pem" >"$T/bad.conf"
timeout 10 "$SIPFLOW" run ua.xml --listen tls:127.0.0.1:0 -c "$T/bad.conf" "${common[@]}" </dev/null >"$T/bad.events" 2>"$T/bad.err"
rc=$?
[ "$rc" != 0 ] && grep -q "tls.certificate '$T/certs/nothere.pem': no such file" "$T/bad.err" &&
  pass "a missing tls.certificate stops the start with the key and the file named" || fail "bad cert file (rc $rc)" "$(cat "$T/bad.err")"
timeout 10 "$SIPFLOW" run ua.xml --listen tls:127.0.0.1:0 "${common[@]}" </dev/null >"$T/nocert.events" 2>"$T/nocert.err"
grep -q "tls.certificate" "$T/nocert.err" && pass "tls: without a certificate: refused, saying which key is missing" ||
  fail "tls without cert" "$(cat "$T/nocert.err")"

# 2. 100 calls over TLS
conf alice client
conf bob server
LISTEN=tls:127.0.0.1:0 start alice ua.xml -c "$T/alice.conf" "${common[@]}" --messages on --set ua.uri=sip:alice@127.0.0.1 || exit 1
LISTEN=tls:127.0.0.1:0 start bob ua.xml -c "$T/bob.conf" "${common[@]}" --set ua.uri=sip:bob@127.0.0.1 --set ua.auto_answer=0 || exit 1
BOB="sip:bob@127.0.0.1:$(tls_port bob);transport=tls"
ok=0
for i in $(seq 100); do
  cmd alice call "$BOB"
  wait_ev alice '"to":"InCall"' 10 "$i" || break
  cmd alice hangup
  ended alice "$i" || break
  ok=$i
done
[ "$ok" = 100 ] && pass "100 calls over TLS, answered and hung up" ||
  fail "TLS calls: $ok of 100" "$(tail -5 "$T/alice.err")" "$(tail -5 "$T/bob.err")"
[ "$(count alice '"event":"call_end".*"reason":"local_bye","status":200')" = 100 ] &&
  pass "each ended by our BYE, answered 200" || fail "call_end lines" "$(grep call_end "$T/alice.events" | grep -v local_bye | head -3)"
inv=$(grep '"event":"sip_out"' "$T/alice.events" | grep -m1 'INVITE sip:')
echo "$inv" | grep -q '"proto":"tls"' && pass "the INVITE left over TLS (sip_out proto tls)" || fail "sip_out proto" "$inv"

summary tls
