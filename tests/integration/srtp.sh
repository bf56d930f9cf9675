#!/bin/bash
# srtp.sh: SRTP in the UA (RFC 3711, keys by SDES in SDP, RFC 4568) between
# sipflow UAs built from xml/ua.xml calling each other directly on loopback,
# with GStreamer media:
#  1. carol (media.srtp = off) calls dave (offer): dave takes the RTP/AVP
#     offer; the RTP in the clear is captured: the 1000 Hz frame it carries is
#     what the SRTP captures below must not hold
#  2. dave (offer) calls carol (off): carol's 488 to RTP/SAVP, dave's INVITE
#     again with RTP/AVP (srtp_fallback), the call in the clear
#  3. require against off: 488 both ways (sdp_refused)
#  4. alice and bob (require, media.srtp_insecure_signalling = true since they
#     call over UDP): RTP/SAVP with AES_CM_128_HMAC_SHA1_80 on both
#     sides; the capture holds no clear RTP payload (no 16 bytes of the clear
#     frame, each RTP datagram 12 + 160 + 10 bytes); hold and resume re-key the
#     call (new keys in each offer and answer, the pipeline keeps running) and
#     SRTP keeps flowing both ways; each side's recording holds the other's tone
#  5. require without the insecure-signalling override: no call over UDP (the
#     call fails at once; an offer gets 488)
# SRTP over TLS through the proxy, without the override: srtp-tls.sh.
# The capture is a packet socket on lo (rtpsniff.py; CAP_NET_RAW): without it
# the test fails.  Every wait is on an event line or a bounded capture.
. "$(dirname "$0")/lib.sh"
sniff() { timeout 30 python3 "${SF_SRCDIR:-$PWD}/tests/integration/rtpsniff.py" "$@"; }

base=(--set sip.t1_ms=100 --set media.backend=gstreamer --set media.codecs=PCMU)
secure=(--set media.srtp_insecure_signalling=true)
start alice ua.xml "${base[@]}" "${secure[@]}" --set media.srtp=require --set media.rtp_ports=43000-43099 \
  --set ua.uri=sip:alice@127.0.0.1 --set ua.auto_answer=0 --set media.source=tone:1000 \
  --set "media.sink=file:$T/alice.wav" || exit 1
start bob ua.xml "${base[@]}" "${secure[@]}" --set media.srtp=require --set media.rtp_ports=43100-43199 \
  --set ua.uri=sip:bob@127.0.0.1 --set ua.auto_answer=0 --set media.source=tone:440 \
  --set "media.sink=file:$T/bob.wav" || exit 1
start carol ua.xml "${base[@]}" --set media.srtp=off --set media.rtp_ports=43200-43299 \
  --set ua.uri=sip:carol@127.0.0.1 --set ua.auto_answer=0 --set media.source=tone:1000 || exit 1
start dave ua.xml "${base[@]}" "${secure[@]}" --set media.srtp=offer --set media.rtp_ports=43300-43399 \
  --set ua.uri=sip:dave@127.0.0.1 --set ua.auto_answer=0 --set media.source=tone:440 || exit 1
start erin ua.xml "${base[@]}" --set media.srtp=require --set media.rtp_ports=43400-43499 \
  --set ua.uri=sip:erin@127.0.0.1 --set ua.auto_answer=0 || exit 1

# dial A B URI: A calls URI (B's), B answers; both sides' sendrecv media events.
# The counts are taken before the call: B may ring before the first wait.
dial() {
  local i ma mb re='"event":"media".*"dir":"sendrecv"'
  i=$(count "$2" '"event":"incoming"')
  ma=$(count "$1" "$re")
  mb=$(count "$2" "$re")
  cmd "$1" call "$3"
  wait_ev "$2" '"event":"incoming"' 5 $((i + 1)) || return 1
  cmd "$2" answer
  wait_ev "$1" "$re" 10 $((ma + 1)) && wait_ev "$2" "$re" 10 $((mb + 1))
}
last_media() { grep '"event":"media"' "$T/$1.events" | tail -1; }

# 1. off calls offer: in the clear, and the clear frame for the checks below
if dial carol dave "sip:dave@127.0.0.1:$PORT_dave"; then
  last_media carol | grep -q '"srtp":null' && last_media dave | grep -q '"srtp":null' &&
    pass "off calls offer: dave takes the RTP/AVP offer, RTP in the clear" ||
    fail "off to offer" "$(last_media carol)" "$(last_media dave)"
else
  fail "carol's call to dave" "$(tail -3 "$T/carol.err")" "$(tail -3 "$T/dave.err")"
fi
if sniff capture "$T/clear.cap" 40 10 43300-43399 >"$T/sniff.out" 2>&1; then
  frame=$(sniff frame "$T/clear.cap" 2>/dev/null)
  [ ${#frame} = 320 ] && sniff check "$T/clear.cap" "$frame" >"$T/check.out"; rc=$?
  [ ${#frame} = 320 ] && [ $rc = 1 ] && pass "the clear capture: carol's 1000 Hz frame (160 bytes) seen in the clear ($(cat "$T/check.out"))" ||
    fail "the clear frame" "${#frame} hex digits" "$(cat "$T/check.out")"
else
  fail "no capture of RTP on lo" "$(cat "$T/sniff.out")"
  frame=
fi
cmd carol hangup
wait_ev dave '"event":"call_end"' 10 || fail "carol's hang-up"

# 2. offer calls off: 488, then RTP/AVP
dial dave carol "sip:carol@127.0.0.1:$PORT_carol"; dialled=$?
wait_ev carol '"event":"sdp_refused".*RTP/SAVP offered, media.srtp = off' 5 &&
  wait_ev dave '"event":"srtp_fallback".*"status":488' 5 &&
  pass "offer calls off: carol answers RTP/SAVP with 488, dave offers again RTP/AVP" ||
  fail "the fallback" "$(grep -E 'sdp_refused|srtp_fallback' "$T/carol.events" "$T/dave.events")"
[ $dialled = 0 ] && last_media dave | grep -q '"srtp":null' && last_media carol | grep -q '"srtp":null' &&
  pass "offer calls off: the call in the clear after the fallback" || fail "after the fallback" "$(last_media dave)"
cmd dave hangup
wait_ev carol '"event":"call_end"' 10 2 || fail "dave's hang-up"

# 3. require against off: 488 both ways
cmd alice call "sip:carol@127.0.0.1:$PORT_carol"
wait_ev alice '"event":"call_end".*"status":488' 5 && wait_ev carol '"event":"sdp_refused"' 5 2 &&
  pass "require calls off: 488" || fail "require to off" "$(grep call_end "$T/alice.events" | tail -1)"
cmd carol call "sip:alice@127.0.0.1:$PORT_alice"
wait_ev alice '"event":"sdp_refused".*RTP/AVP offered, media.srtp = require' 5 &&
  wait_ev carol '"event":"call_end".*"status":488' 5 3 &&
  pass "off calls require: 488 Not Acceptable Here" || fail "off to require" "$(grep sdp_refused "$T/alice.events")"

# 4. require calls require: SRTP, no clear payload, re-key, tones
if dial alice bob "sip:bob@127.0.0.1:$PORT_bob"; then
  last_media alice | grep -q '"srtp":"AES_CM_128_HMAC_SHA1_80"' &&
    last_media bob | grep -q '"srtp":"AES_CM_128_HMAC_SHA1_80"' &&
    pass "require calls require: SRTP AES_CM_128_HMAC_SHA1_80 on both sides" ||
    fail "SRTP negotiated" "$(last_media alice)" "$(last_media bob)"
else
  fail "alice's call to bob" "$(tail -3 "$T/alice.err")" "$(tail -3 "$T/bob.err")"
fi
# srtp_capture NAME: 50 RTP datagrams each way; none holds the clear frame, each is 182 bytes
srtp_capture() {
  if ! sniff capture "$T/$1.cap" 50 10 43000-43099 43100-43199 >"$T/sniff.out" 2>&1; then
    fail "$1: SRTP both ways" "$(cat "$T/sniff.out")"
    return
  fi
  local out rc
  out=$(sniff check "$T/$1.cap" "${frame:-00}")
  rc=$?
  [ -n "$frame" ] && [ $rc = 0 ] && echo "$out" | grep -q "lengths {182: [0-9]*}" &&
    pass "$1: SRTP both ways, no clear RTP payload, every RTP datagram 12 + 160 + 10 bytes ($out)" ||
    fail "$1: clear payload or other lengths" "$out"
}
srtp_capture "SRTP call"
cmd alice hold
wait_ev bob '"event":"media".*"why":"held".*"dir":"recvonly".*"srtp":"AES_CM_128_HMAC_SHA1_80"' 5 &&
  wait_ev alice '"to":"Onhold"' 5 &&
  pass "hold: a re-INVITE with new keys, still SRTP" || fail "hold" "$(last_media bob)"
cmd alice resume
wait_ev bob '"event":"media".*"why":"reinvite".*"dir":"sendrecv".*"srtp":"AES_CM_128_HMAC_SHA1_80"' 5 &&
  wait_ev alice '"to":"InCall"' 5 2 && pass "resume: re-keyed again, sendrecv" || fail "resume" "$(last_media bob)"
srtp_capture "after the re-keys"
cmd alice hangup
wait_ev bob '"event":"call_end"' 10 && wait_ev alice '"event":"call_end"' 10 2 || fail "alice's hang-up"
grep -q media_error "$T/alice.events" "$T/bob.events" && fail "media errors" "$(grep -h media_error "$T/alice.events" "$T/bob.events")"
"$SIPFLOW" tone "$T/bob.wav" 1000 >"$T/tone.out" 2>&1 && pass "bob heard alice's 1000 Hz through SRTP ($(cat "$T/tone.out"))" ||
  fail "bob's recording" "$(cat "$T/tone.out")"
"$SIPFLOW" tone "$T/alice.wav" 440 >"$T/tone.out" 2>&1 && pass "alice heard bob's 440 Hz through SRTP ($(cat "$T/tone.out"))" ||
  fail "alice's recording" "$(cat "$T/tone.out")"

# 5. require without the override: keys never go over plain UDP signalling
cmd erin call "sip:bob@127.0.0.1:$PORT_bob"
wait_ev erin '"event":"call_end"' 5 && grep -q "SRTP keys go only over TLS" "$T/erin.err" &&
  [ "$(count bob '"event":"incoming"')" = 1 ] &&
  pass "require without TLS: erin's call fails before any INVITE (keys only over TLS, RFC 4568 8)" ||
  fail "erin's call" "$(grep call_end "$T/erin.events")" "$(tail -3 "$T/erin.err")"
cmd bob call "sip:erin@127.0.0.1:$PORT_erin"
wait_ev erin '"event":"sdp_refused".*only over TLS' 5 && wait_ev bob '"event":"call_end".*"status":488' 5 &&
  pass "require without TLS: an RTP/SAVP offer gets 488 (our key would go in the clear)" ||
  fail "bob's call to erin" "$(grep sdp_refused "$T/erin.events")"

summary srtp.sh
