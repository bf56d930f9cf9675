#!/bin/bash
# srtp-tls.sh: SRTP with its SDES keys over TLS signalling, through the proxy,
# without media.srtp_insecure_signalling: alice and bob (xml/ua.xml,
# media.srtp = require, GStreamer media) register over TLS at the proxy
# (xml/proxy.xml with its registrar, listening on TLS only; certificates from
# a throwaway CA made here) and alice calls bob through it:
#  - both register over TLS; the INVITE and its 200 cross the proxy over TLS
#    (proto tls, the proxy's Via SIP/2.0/TLS, its Record-Route ;transport=tls,
#    the Contacts ;transport=tls);
#  - the offer and answer are RTP/SAVP with AES_CM_128_HMAC_SHA1_80 and the
#    media run SRTP both ways; the capture (rtpsniff.py, a packet socket on lo)
#    holds no 16 bytes of the clear frame (the 1000 Hz frame bob received,
#    encoded again: what alice sends in the clear) and every RTP datagram is
#    12 + 160 + 10 bytes;
#  - hold and resume re-key the call: each re-INVITE's offer and its answer
#    carry new inline keys (all six SDPs' keys differ), SRTP keeps flowing;
#  - each side's recording holds the other's tone;
#  - no SDES key appears in the logs (*.err) of the proxy or the UAs, at debug
#    level (the keys are read from the --messages=full events, which show the
#    whole messages on purpose).
# UDP signalling with media.srtp = require (no call, 488) is srtp.sh's.
. "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { fail "openssl is missing"; summary srtp-tls.sh; exit 1; }
command -v gst-launch-1.0 >/dev/null || { fail "gst-launch-1.0 is missing (Debian gstreamer1.0-tools)"; summary srtp-tls.sh; exit 1; }
sniff() { timeout 30 python3 "${SF_SRCDIR:-$PWD}/tests/integration/rtpsniff.py" "$@"; }

mkca ca && mkcert server ca IP:127.0.0.1 || { fail "openssl could not make the certificates"; summary srtp-tls.sh; exit 1; }
conf px server
conf alice server
conf bob server
printf 'alice:pw\nbob:pw\n' >"$T/users"
LISTEN=tls:127.0.0.1:0 start px proxy.xml -c "$T/px.conf" --set "registrar.users=$T/users" --set sip.t1_ms=100 \
  --log-level debug || exit 1
PXT=127.0.0.1:$(tls_port px)
free_ports 200 || { fail "no free ports"; exit 1; } # the UAs' RTP ports: tests run side by side
RTP_ALICE=$BASE-$((BASE + 99)) RTP_BOB=$((BASE + 100))-$((BASE + 199))
ua=(--set sip.t1_ms=100 --set media.backend=gstreamer --set media.codecs=PCMU --set media.srtp=require
  --messages full --log-level debug --set ua.password=pw --set "ua.registrar=sip:$PXT;transport=tls"
  --set "ua.outbound_proxy=sip:$PXT;transport=tls" --set ua.auto_answer=0)
LISTEN=tls:127.0.0.1:0 start alice ua.xml -c "$T/alice.conf" "${ua[@]}" --set ua.uri=sip:alice@sipflow.test \
  --set "media.rtp_ports=$RTP_ALICE" --set media.source=tone:1000 --set "media.sink=file:$T/alice.wav" || exit 1
LISTEN=tls:127.0.0.1:0 start bob ua.xml -c "$T/bob.conf" "${ua[@]}" --set ua.uri=sip:bob@sipflow.test \
  --set "media.rtp_ports=$RTP_BOB" --set media.source=tone:440 --set "media.sink=file:$T/bob.wav" || exit 1
wait_ev alice '"event":"registration".*"state":"registered"' 10 && wait_ev bob '"event":"registration".*"state":"registered"' 10 &&
  grep '"event":"sip_out"' "$T/alice.events" | grep -m1 '"start":"REGISTER ' | grep -q '"proto":"tls"' &&
  pass "alice and bob register over TLS at the proxy" ||
  fail "registration" "$(grep registration "$T/alice.events" "$T/bob.events" | tail -2)" "$(tail -3 "$T/px.err")"

# sip NAME DIR START: the text-bearing sip_in/sip_out (DIR) events of NAME whose start line matches START
sip() { grep "\"event\":\"sip_$2\"" "$T/$1.events" | grep -E "\"start\":\"$3"; }
# keys LINES: the inline keys of the a=crypto lines in LINES, one a line
keys() { grep -o 'a=crypto:[0-9]* [A-Z0-9_]* inline:[A-Za-z0-9+/]*' | sed 's/.*inline://'; }
last_media() { grep '"event":"media"' "$T/$1.events" | tail -1; }

# the call, through the proxy, over TLS
re='"event":"media".*"dir":"sendrecv"'
cmd alice call sip:bob@sipflow.test
wait_ev bob '"event":"incoming"' 10 && cmd bob answer
if wait_ev alice "$re" 10 && wait_ev bob "$re" 10; then
  last_media alice | grep -q '"srtp":"AES_CM_128_HMAC_SHA1_80"' && last_media bob | grep -q '"srtp":"AES_CM_128_HMAC_SHA1_80"' &&
    pass "alice calls bob through the proxy: SRTP AES_CM_128_HMAC_SHA1_80 on both sides, no insecure-signalling override" ||
    fail "SRTP negotiated" "$(last_media alice)" "$(last_media bob)"
else
  fail "alice's call to bob" "$(tail -3 "$T/alice.err")" "$(tail -3 "$T/bob.err")" "$(tail -3 "$T/px.err")"
fi
inv=$(sip bob in 'INVITE ' | head -1)
echo "$inv" | grep -q '"proto":"tls"' && echo "$inv" | grep -q -E "Via: SIP/2.0/TLS $PXT;branch=" &&
  echo "$inv" | grep -q -E "Record-Route: <sip:$PXT;lr;transport=tls[;>]" && ! echo "$inv" | grep -q 'Record-Route: [^\\]*,' &&
  echo "$inv" | grep -q -E 'Contact: <sip:alice@127.0.0.1:[0-9]+;transport=tls>' && echo "$inv" | grep -q 'm=audio [0-9]* RTP/SAVP ' &&
  pass "the INVITE reached bob over TLS: the proxy's Via SIP/2.0/TLS, one Record-Route ;transport=tls, alice's Contact ;transport=tls, RTP/SAVP" ||
  fail "the INVITE at bob" "$inv"
ok=$(sip alice in 'SIP/2.0 200 OK' | grep INVITE | head -1)
echo "$ok" | grep -q '"proto":"tls"' && echo "$ok" | grep -q -E "Record-Route: <sip:$PXT;lr;transport=tls[;>]" &&
  echo "$ok" | grep -q -E 'Contact: <sip:bob@127.0.0.1:[0-9]+;transport=tls>' && echo "$ok" | grep -q 'm=audio [0-9]* RTP/SAVP ' &&
  pass "the 200 reached alice over TLS: Record-Route ;transport=tls, bob's Contact ;transport=tls, RTP/SAVP" ||
  fail "the 200 at alice" "$ok"

# srtp_capture NAME: 50 RTP datagrams each way, each 182 bytes (checked against the clear frame later)
srtp_capture() {
  sniff capture "$T/$1.cap" 50 10 "$RTP_ALICE" "$RTP_BOB" >"$T/sniff.out" 2>&1 ||
    fail "$1: SRTP both ways" "$(cat "$T/sniff.out")"
}
srtp_capture call

# the re-keys: hold, then resume (each a re-INVITE with new keys both ways)
cmd alice hold
wait_ev bob '"event":"media".*"why":"held".*"dir":"recvonly".*"srtp":"AES_CM_128_HMAC_SHA1_80"' 5 &&
  wait_ev alice '"to":"Onhold"' 5 && pass "hold: a re-INVITE, still SRTP" || fail "hold" "$(last_media bob)"
cmd alice resume
wait_ev bob '"event":"media".*"why":"reinvite".*"dir":"sendrecv".*"srtp":"AES_CM_128_HMAC_SHA1_80"' 5 &&
  wait_ev alice '"to":"InCall"' 5 2 && pass "resume: sendrecv again, still SRTP" || fail "resume" "$(last_media bob)"
# the offers as bob got them (alice's INVITE may go twice: again with credentials)
offers=$(sip bob in 'INVITE ' | keys)
answers=$(sip bob out 'SIP/2.0 200 OK' | grep INVITE | keys)
all=$(printf '%s\n%s\n' "$offers" "$answers")
[ "$(echo "$offers" | wc -l)" = 6 ] && [ "$(echo "$answers" | wc -l)" = 3 ] &&
  [ "$(echo "$all" | sort -u | wc -l)" = 9 ] && ! echo "$all" | grep -q -v -E '^[A-Za-z0-9+/]{40}$' &&
  pass "re-keyed: three offers (2 a=crypto each) and three answers, all 9 inline keys different" ||
  fail "the keys across the re-INVITEs" "offers: $(echo $offers)" "answers: $(echo $answers)"
# what arrived is what was sent: nothing on the way changed the keys
[ "$(sip alice out 'INVITE ' | keys | awk '!seen[$0]++')" = "$offers" ] && [ "$(sip alice in 'SIP/2.0 200 OK' | grep INVITE | keys)" = "$answers" ] &&
  pass "the proxy passed the keys unchanged" ||
  fail "the keys through the proxy" "$(sip alice out 'INVITE ' | keys | awk '!seen[$0]++' | tr '\n' ' ')" "$(sip alice in 'SIP/2.0 200 OK' | grep INVITE | keys | tr '\n' ' ')"
srtp_capture rekeyed
cmd alice hangup
wait_ev bob '"event":"call_end"' 10 && wait_ev alice '"event":"call_end"' 10 || fail "alice's hang-up"
grep -q media_error "$T/alice.events" "$T/bob.events" && fail "media errors" "$(grep -h media_error "$T/alice.events" "$T/bob.events")"

# the tones each side heard
"$SIPFLOW" tone "$T/bob.wav" 1000 >"$T/tone.out" 2>&1 && pass "bob heard alice's 1000 Hz through SRTP ($(cat "$T/tone.out"))" ||
  fail "bob's recording" "$(cat "$T/tone.out")"
"$SIPFLOW" tone "$T/alice.wav" 440 >"$T/tone.out" 2>&1 && pass "alice heard bob's 440 Hz through SRTP ($(cat "$T/tone.out"))" ||
  fail "alice's recording" "$(cat "$T/tone.out")"

# no clear payload: the clear frame is what bob heard encoded again as PCMU
# (mulawenc gives back the bytes that were sent): with SRTP off alice would
# send it in every packet
gst-launch-1.0 -q filesrc location="$T/bob.wav" ! wavparse ! mulawenc ! filesink location="$T/bob.ulaw" >/dev/null 2>&1
frame=$(sniff rawframe "$T/bob.ulaw" 2>/dev/null)
if [ ${#frame} = 320 ] && [ "$(echo "$frame" | fold -w2 | sort -u | wc -l)" -gt 2 ]; then
  for c in call rekeyed; do
    out=$(sniff check "$T/$c.cap" "$frame")
    [ $? = 0 ] && echo "$out" | grep -q "lengths {182: [0-9]*}" &&
      pass "$c: SRTP both ways, no clear RTP payload, every RTP datagram 12 + 160 + 10 bytes ($out)" ||
      fail "$c: clear payload or other lengths" "$out"
  done
else
  fail "no clear frame from bob's recording" "${#frame} hex digits: $frame"
fi

# the UAs end first (they unregister through the proxy), then the proxy; then
# no key in any log, even at debug level
stop alice || fail "alice's exit"
stop bob || fail "bob's exit"
stop px || fail "the proxy's exit"
leaks=
for k in $all; do
  for f in px alice bob; do
    grep -q -F -- "$k" "$T/$f.err" && leaks="$leaks $f:$k"
  done
done
[ -n "$all" ] && [ -z "$leaks" ] && pass "no SDES key in the logs of the proxy or the UAs (debug level)" ||
  fail "keys in the logs" "$leaks"

summary srtp-tls.sh
