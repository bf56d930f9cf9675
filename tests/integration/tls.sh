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
#  - a reload re-reads the certificate; a bad one refuses the reload;
#  - through the proxy (xml/proxy.xml, registrar) on TLS and UDP: a TLS-only UA
#    and a UDP UA register (the first over TLS) and call each other both
#    ways; the UDP side's INVITE carries two Record-Route values (RFC 5658: the
#    UDP side, then ;transport=tls); a sips: call to the UDP UA is refused
#    (a sips target is never reached over UDP);
#  - a client that never shakes hands is closed after sip.tcp_stall;
#  - baresip (Debian baresip-core) calls a TLS-only sipflow UA 10 times over
#    TLS, checking its certificate against the CA (sip_cafile); the BYEs go to
#    baresip's TLS port, whose certificate (sip_certificate) sipflow checks.
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { fail "openssl is missing"; summary tls; exit 1; }
common=(--set sip.t1_ms=100 --set sip.t4_ms=200 --set media.rtp_ports=43000-43999 --set media.backend=null --log-level warning)

# --- the throwaway CA and its certificates (mkca, mkcert: lib.sh) ---
mkca ca && mkca rogue-ca && mkcert server ca DNS:localhost IP:127.0.0.1 IP:::1 &&
  mkcert client ca DNS:client.test && mkcert wrong ca DNS:wrong.example && mkcert rogue rogue-ca DNS:client.test ||
  { fail "openssl could not make the certificates"; summary tls; exit 1; }
pass "a throwaway CA and certificates (openssl)"

ended() { wait_ev "$1" '"event":"call_end"' 10 "$2"; }
no_txn() { [ "$(stat_of "$1" transactions_live)" = 0 ]; }

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

retry 10 no_txn alice && retry 10 no_txn bob && pass "every transaction ended on both sides" ||
  fail "transactions left" "$(stat_of alice transactions_live) $(stat_of bob transactions_live)"
[ "$(stat_of bob tls_failed)" = 0 ] && [ "$(stat_of alice tls_failed)" = 0 ] && pass "no TLS handshake failed" ||
  fail "tls_failed"
# the wire: Via SIP/2.0/TLS, Contact ;transport=tls (the full text of one INVITE and its 200)
cmd alice quit
wait "$PID_alice" 2>/dev/null
LISTEN=tls:127.0.0.1:0 start alice2 ua.xml -c "$T/alice.conf" "${common[@]}" --messages full --set ua.uri=sip:alice@127.0.0.1 || exit 1
cmd alice2 call "$BOB"
wait_ev alice2 '"to":"InCall"' 10 && cmd alice2 hangup
ended alice2 1
inv=$(grep '"event":"sip_out"' "$T/alice2.events" | grep -m1 '"start":"INVITE ')
ok=$(grep '"event":"sip_in"' "$T/alice2.events" | grep -m1 '"start":"SIP/2.0 200 OK".*INVITE')
echo "$inv" | grep -q -E 'Via: SIP/2.0/TLS 127.0.0.1:[0-9]+;' && echo "$inv" | grep -q -E 'Contact: <sip:alice@127.0.0.1:[0-9]+;transport=tls>' &&
  pass "the INVITE on the wire: Via SIP/2.0/TLS, Contact ;transport=tls" || fail "INVITE" "$inv"
echo "$ok" | grep -q -E 'Contact: <sip:bob@127.0.0.1:[0-9]+;transport=tls>' &&
  pass "the 200: Contact ;transport=tls (the callee's TLS socket)" || fail "200" "$ok"

# 3. sips: the Contacts are sips, the call goes over TLS
cmd alice2 call "sips:bob@127.0.0.1:$(tls_port bob)"
wait_ev alice2 '"to":"InCall"' 10 2 && cmd alice2 hangup
ended alice2 2 && grep '"event":"call_end"' "$T/alice2.events" | tail -1 | grep -q '"status":200' &&
  pass "a sips: call, up and hung up" || fail "sips call" "$(tail -3 "$T/alice2.err")"
inv=$(grep '"event":"sip_out"' "$T/alice2.events" | grep '"start":"INVITE sips:' | head -1)
ok=$(grep '"event":"sip_in"' "$T/alice2.events" | grep '"start":"SIP/2.0 200 OK".*INVITE' | tail -1)
echo "$inv" | grep -q -E 'Contact: <sips:alice@127.0.0.1:[0-9]+>' && echo "$ok" | grep -q -E 'Contact: <sips:bob@127.0.0.1:[0-9]+>' &&
  pass "a sips request gets sips Contacts both ways (RFC 3261 12.1.1)" || fail "sips Contact" "$inv" "$ok"

# 4. a server whose certificate does not name the URI's host
conf wrong wrong
LISTEN=tls:127.0.0.1:0 start wrong ua.xml -c "$T/wrong.conf" "${common[@]}" --set ua.uri=sip:bob@127.0.0.1 --set ua.auto_answer=0 || exit 1
cmd alice2 call "sip:bob@127.0.0.1:$(tls_port wrong);transport=tls"
wait_ev alice2 '"event":"call_end"' 15 3 && grep '"event":"call_end"' "$T/alice2.events" | tail -1 | grep -q -v '"status":200' &&
  pass "a server whose certificate names another host: the call fails" || fail "wrong name call" "$(grep call_end "$T/alice2.events" | tail -1)"
grep -q "TLS handshake with 127.0.0.1:$(tls_port wrong) failed: server certificate refused: its names do not match the host of the URI" "$T/alice2.err" &&
  pass "and the caller's log says why (the names do not match)" || fail "wrong-name log" "$(tail -3 "$T/alice2.err")"
[ "$(count wrong '"event":"incoming"')" = 0 ] && pass "the wrong server never got the INVITE" || fail "INVITE reached wrong"

# 5. a client certificate of another CA, to a server requiring a trusted one
conf strict server "verify_client = require"
conf rogue rogue
LISTEN=tls:127.0.0.1:0 start strict ua.xml -c "$T/strict.conf" "${common[@]}" --set ua.uri=sip:bob@127.0.0.1 --set ua.auto_answer=0 || exit 1
LISTEN=tls:127.0.0.1:0 start rogue ua.xml -c "$T/rogue.conf" "${common[@]}" --set ua.uri=sip:mallory@127.0.0.1 || exit 1
cmd rogue call "sip:bob@127.0.0.1:$(tls_port strict);transport=tls"
wait_ev rogue '"event":"call_end"' 15 && pass "a client with an untrusted certificate: its call fails" ||
  fail "rogue call" "$(tail -3 "$T/rogue.err")"
wait_ev strict '"event":"listening"' 1 && grep -q "failed: client certificate refused: signed by an unknown authority" "$T/strict.err" &&
  pass "the server's log says why (signed by an unknown authority)" || fail "strict log" "$(tail -3 "$T/strict.err")"
[ "$(count strict '"event":"incoming"')" = 0 ] && pass "no call reached the server" || fail "rogue got in"
cmd alice2 call "sip:bob@127.0.0.1:$(tls_port strict);transport=tls"
wait_ev alice2 '"to":"InCall"' 10 3 && cmd alice2 hangup
ended alice2 4 && grep '"event":"call_end"' "$T/alice2.events" | tail -1 | grep -q '"status":200' &&
  pass "a client with a trusted certificate gets through (verify_client=require)" || fail "trusted client" "$(tail -3 "$T/strict.err")"

# 6. over ::1
if LISTEN='tls:[::1]:0' start v6a ua.xml -c "$T/alice.conf" "${common[@]}" --set 'ua.uri=sip:alice@[::1]' &&
  LISTEN='tls:[::1]:0' start v6b ua.xml -c "$T/bob.conf" "${common[@]}" --set 'ua.uri=sip:bob@[::1]' --set ua.auto_answer=0; then
  cmd v6a call "sip:bob@[::1]:$(tls_port v6b);transport=tls"
  wait_ev v6a '"to":"InCall"' 10 && cmd v6a hangup
  ended v6a 1 && grep '"event":"call_end"' "$T/v6a.events" | grep -q '"status":200' &&
    pass "a TLS call over ::1 (the certificate's IP name ::1)" || fail "v6 call" "$(tail -3 "$T/v6a.err")"
fi

# 7. reload: the certificate is read again; a bad file refuses the reload, the calls go on
cp "$T/bob.conf" "$T/bob.conf.good"
conf bob nothere
cmd bob reload
wait_ev bob '"event":"reload"' 10 && grep '"event":"reload"' "$T/bob.events" | tail -1 | grep -q -v '"ok":true' &&
  grep -q "tls.certificate '$T/certs/nothere.pem'" "$T/bob.err" &&
  pass "a reload with a missing certificate is refused, naming it" || fail "bad reload" "$(grep reload "$T/bob.events" | tail -1)" "$(tail -2 "$T/bob.err")"
cp "$T/bob.conf.good" "$T/bob.conf"
cp "$CERTS/server.pem" "$CERTS/server-old.pem"
mkcert server ca DNS:localhost IP:127.0.0.1 IP:::1
cmd bob reload
wait_ev bob '"event":"reload"' 10 2 && grep '"event":"reload"' "$T/bob.events" | tail -1 | grep -q '"ok":true' &&
  pass "a reload with a renewed certificate is taken" || fail "good reload" "$(grep reload "$T/bob.events" | tail -1)"
served=$(timeout 5 openssl s_client -connect "127.0.0.1:$(tls_port bob)" </dev/null 2>/dev/null | openssl x509 -noout -fingerprint 2>/dev/null)
[ -n "$served" ] && [ "$served" = "$(openssl x509 -in "$CERTS/server.pem" -noout -fingerprint)" ] &&
  [ "$served" != "$(openssl x509 -in "$CERTS/server-old.pem" -noout -fingerprint)" ] &&
  pass "a new connection gets the renewed certificate (openssl s_client)" || fail "served certificate" "$served"
ends=$(count alice2 '"event":"call_end"')
cmd alice2 call "$BOB"
wait_ev alice2 '"to":"InCall"' 10 4 && cmd alice2 hangup
ended alice2 $((ends + 1)) && grep '"event":"call_end"' "$T/alice2.events" | tail -1 | grep -q '"status":200' &&
  pass "calls go on after the reload (the renewed certificate)" || fail "call after reload" "$(tail -3 "$T/alice2.err")"

# 8. through the proxy: TLS on one side, UDP on the other
printf 'carol:pw\ndave:pw\n' >"$T/users"
conf px server
LISTEN=tls:127.0.0.1:0 start px proxy.xml -c "$T/px.conf" --listen udp:127.0.0.1:0 --set "registrar.users=$T/users" \
  --set sip.t1_ms=100 --set sip.tcp_stall=2 --log-level warning || exit 1
PXT=127.0.0.1:$(tls_port px)
PXU=127.0.0.1:$(grep '"event":"listening".*"transport":"udp"' "$T/px.events" | head -1 | sed 's/.*"port":\([0-9]*\).*/\1/')
conf carol client
LISTEN=tls:127.0.0.1:0 start carol ua.xml -c "$T/carol.conf" "${common[@]}" --messages full --set ua.uri=sip:carol@sipflow.test \
  --set ua.password=pw --set "ua.registrar=sip:$PXT;transport=tls" --set "ua.outbound_proxy=sip:$PXT;transport=tls" \
  --set ua.auto_answer=0 || exit 1
start dave ua.xml "${common[@]}" --messages full --set ua.uri=sip:dave@sipflow.test --set ua.password=pw \
  --set "ua.registrar=sip:$PXU" --set "ua.outbound_proxy=sip:$PXU" --set ua.auto_answer=0 || exit 1
wait_ev carol '"event":"registration".*"state":"registered"' 10 && wait_ev dave '"event":"registration".*"state":"registered"' 10 &&
  pass "a UA registers over TLS at the proxy (and one over UDP)" ||
  fail "registration" "$(grep registration "$T/carol.events" | tail -2)" "$(tail -3 "$T/px.err")"
cmd carol call sip:dave@sipflow.test
wait_ev carol '"to":"InCall"' 10 && wait_ev dave '"to":"InCall"' 10 && pass "TLS caller through the proxy to a UDP callee: up" ||
  fail "carol to dave" "$(tail -3 "$T/carol.err")" "$(tail -3 "$T/px.err")"
rr=$(grep '"event":"sip_in"' "$T/dave.events" | grep -m1 '"start":"INVITE ' | grep -o 'Record-Route: [^\\]*')
echo "$rr" | grep -q -E "^Record-Route: <sip:$PXU;lr;sft=[^>]*>, <sip:$PXT;lr;transport=tls;sft=[^>]*>$" &&
  pass "double Record-Route (RFC 5658): the UDP side, then the TLS side ;transport=tls" || fail "Record-Route" "$rr"
cmd dave hangup
wait_ev carol '"event":"call_end".*"reason":"remote_bye"' 10 && pass "the UDP side's BYE reaches the TLS caller" ||
  fail "BYE to carol" "$(grep call_end "$T/carol.events" | tail -1)"
cmd dave call sip:carol@sipflow.test
wait_ev carol '"event":"incoming"' 10 && cmd carol answer
wait_ev dave '"to":"InCall"' 10 2 && pass "UDP caller through the proxy to the UA registered over TLS: up" ||
  fail "dave to carol" "$(tail -3 "$T/dave.err")" "$(tail -3 "$T/px.err")"
inv=$(grep '"event":"sip_in"' "$T/carol.events" | grep '"start":"INVITE ' | tail -1)
echo "$inv" | grep -q '"proto":"tls"' && echo "$inv" | grep -q -E 'Via: SIP/2.0/TLS 127.0.0.1:[0-9]+;branch' &&
  pass "it reached the callee over TLS, the proxy's Via SIP/2.0/TLS" || fail "INVITE at carol" "$inv"
cmd dave hangup
wait_ev carol '"event":"call_end".*"reason":"remote_bye"' 10 2 && pass "and was hung up" || fail "hangup dave"
dv=$(count dave '"event":"incoming"')
cmd carol call sips:dave@sipflow.test
wait_ev carol '"event":"call_end"' 10 3 && grep '"event":"call_end"' "$T/carol.events" | tail -1 | grep -q -v '"status":200' &&
  [ "$(count dave '"event":"incoming"')" = "$dv" ] &&
  pass "a sips: call to a UA registered over UDP is refused, never sent over UDP" ||
  fail "sips to UDP" "$(grep call_end "$T/carol.events" | tail -1)" "$(count dave '"event":"incoming"')"

# 9. a client that connects and never shakes hands is closed after sip.tcp_stall
python3 - "$(tls_port px)" <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(8)
try:
    s.recv(1)  # the server closes it
except OSError:
    pass
PY
SILENT=$!
PIDS+=("$SILENT")
stalled() { [ "$(stat_of px tcp_closed_stalled)" -ge 1 ] && [ "$(stat_of px tls_failed)" -ge 1 ]; }
retry 8 stalled && pass "a TLS client that never shakes hands is closed after sip.tcp_stall (counted in tls_failed)" ||
  fail "silent TLS client" "$(stat_of px tcp_closed_stalled) $(stat_of px tls_failed)"
timeout 10 tail --pid="$SILENT" -f /dev/null

# 10. baresip over TLS to a sipflow UA, 10 calls
if ! command -v baresip >/dev/null; then
  fail "baresip is not installed (Debian package baresip-core; scripts/setup-deps installs it)"
else
  BASE=
  for try in $(seq 50); do
    b=$((20000 + 2 * (RANDOM % 10000)))
    port_used "$b" || port_used $((b + 1)) || port_used $((b + 2)) || { BASE=$b; break; }
  done
  [ -n "$BASE" ] || fail "no free ports for baresip"
  BS=$BASE CONS=$((BASE + 2))
  gst-launch-1.0 -q audiotestsrc num-buffers=300 samplesperbuffer=800 freq=440 ! \
    audio/x-raw,format=S16LE,rate=8000,channels=1 ! wavenc ! filesink location="$T/tone.wav" 2>/dev/null ||
    fail "gst-launch-1.0 could not write a WAV file"
  mkdir -p "$T/baresip"
  # its own certificate: the callee's BYE opens a TLS connection to its Contact
  mkcert baresip ca IP:127.0.0.1 && cat "$CERTS/baresip.pem" "$CERTS/baresip.key" >"$CERTS/baresip-all.pem" ||
    fail "openssl: baresip's certificate"
  baresip_config "$T/tone.wav" "sip_cafile $CERTS/ca.pem" "sip_certificate $CERTS/baresip-all.pem"
  echo '<sip:mallory@127.0.0.1>;regint=0;audio_codecs=PCMU' >"$T/baresip/accounts"
  LISTEN=tls:127.0.0.1:0 start erin ua.xml -c "$T/bob.conf" "${common[@]}" --set ua.uri=sip:erin@127.0.0.1 --set ua.auto_answer=0 || exit 1
  baresip -f "$T/baresip" -t 120 >"$T/bs.events" 2>&1 &
  PID_bs=$!
  PIDS+=("$PID_bs")
  wait_ev bs 'baresip is ready|Populated' 10 || true
  got=0
  for i in $(seq 10); do
    printf '%s\n' "/dial sip:erin@127.0.0.1:$(tls_port erin);transport=tls" >"/dev/udp/127.0.0.1/$CONS"
    wait_ev erin '"to":"InCall"' 10 "$i" || break
    cmd erin hangup
    wait_ev erin '"event":"call_end"' 10 "$i" || break
    got=$i
  done
  [ "$got" = 10 ] && [ "$(count erin '"event":"call_end".*"reason":"local_bye","status":200')" = 10 ] &&
    pass "baresip makes 10 calls over TLS to a sipflow UA (answered, hung up)" ||
    fail "baresip over TLS: $got of 10" "$(tail -5 "$T/bs.events")" "$(tail -3 "$T/erin.err")"
  grep '"event":"incoming"' "$T/erin.events" | head -1 | grep -q 'mallory' && [ "$(stat_of erin tls_failed)" = 0 ] &&
    pass "the calls came over TLS from baresip, no handshake failed" || fail "baresip incoming"
  printf '/quit\n' >"/dev/udp/127.0.0.1/$CONS"
  timeout 10 tail --pid="$PID_bs" -f /dev/null || kill "$PID_bs"
fi

summary tls
