#!/bin/bash
# b2bua-media.sh: media through xml/b2bua.xml, on loopback, bounded
# (docs/b2bua.md, docs/media.md "Relay (B2BUA anchored media)").
#  - baresip (alice: 1000 Hz from aufile, sndfile records what it hears) calls
#    through the B2BUA to a sipflow UA (bob: xml/ua.xml, auto answer, 440 Hz,
#    records to a file); about 4 s of audio, then baresip hangs up.  Once with
#    b2bua.media = pass (bob's stream goes to baresip's own port) and once with
#    anchor (bob's stream goes to one of the B2BUA's relay ports, so the SDP bob
#    got names the B2BUA's port): each time bob's recording holds 1000 Hz and
#    baresip's 440 Hz (sipflow tone: a Goertzel measure);
#  - latching: a sipflow caller (carol) whose offer (ua.offer_file) says
#    c=IN IP4 192.0.2.1, a host nobody reaches, through anchor with latch any
#    to bob: the relay latches onto where carol's RTP really comes from, and
#    each hears the other's tone; with latch off (the negative control) carol
#    hears nothing while bob still hears her;
#  - IPv6: two sipflow UAs and the B2BUA (anchor) on ::1: both SDPs the
#    B2BUA sent name its relay ports (c=IN IP6 ::1), tones cross both ways, the
#    relay latches side a onto ::1.
. "$(dirname "$0")/lib.sh"
need baresip:baresip-core gst-launch-1.0:gstreamer1.0-tools

free_ports 4 || { fail "no free ports"; exit 1; }
BS=$BASE CONS=$((BASE + 3))
common=(--set sip.t1_ms=100 --set media.backend=gstreamer --set media.codecs=PCMU)
# The B2BUA runs GStreamer too (anchor): full stacks on malloc under ASan, as
# lib.sh's start() gives ua.xml, so GLib's one-time allocations match
# tests/lsan.supp.
b2b_asan=${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0
RELAY_LOW=46000 # the B2BUA's relay ports: 46000-46099

start bob ua.xml "${common[@]}" --set ua.uri=sip:bob@127.0.0.1 --set ua.auto_answer=0 \
  --set media.source=tone:440 --set "media.sink=file:$T/bob-{call}.wav" --set media.rtp_ports=45000-45099 || exit 1

# baresip's source: 30 s of 1000 Hz (8 kHz mono S16, for PCMU)
gst-launch-1.0 -q audiotestsrc freq=1000 num-buffers=300 samplesperbuffer=800 ! \
  audio/x-raw,format=S16LE,rate=8000,channels=1 ! wavenc ! filesink location="$T/tone1000.wav" ||
  fail "gst-launch-1.0 could not write a WAV file"
mkdir -p "$T/snd"
baresip_config "$T/tone1000.wav" "module sndfile.so" "snd_path $T/snd"
echo '<sip:alice@127.0.0.1>;regint=0;audio_codecs=PCMU' >"$T/baresip/accounts"
baresip -f "$T/baresip" -t 120 >"$T/bs.events" 2>&1 &
PID_bs=$!
PIDS+=("$PID_bs")
bs() { printf '%s\n' "$*" >"/dev/udp/127.0.0.1/$CONS"; }
wait_ev bs 'baresip is ready' 10 || { fail "baresip did not start" "$(tail -5 "$T/bs.events")"; exit 1; }

# bob_remote: the port bob's last media event sends to
bob_remote() { grep '"event":"media"' "$T/bob.events" | tail -1 | sed -n 's/.*"remote":"127.0.0.1:\([0-9]*\)".*/\1/p'; }

# via MODE N: baresip's Nth call, through a B2BUA in MODE; checks tones both ways
via() {
  local mode=$1 k=$2 name=b2b$2
  ASAN_OPTIONS=$b2b_asan start "$name" b2bua.xml "${common[@]}" --set "b2bua.target=sip:bob@127.0.0.1:$PORT_bob" \
    --set "b2bua.media=$mode" \
    --set "media.rtp_ports=$RELAY_LOW-$((RELAY_LOW + 99))" || return 1
  local i m
  i=$(count bob '"event":"incoming"')
  m=$(count bob '"event":"media".*"dir":"sendrecv"')
  bs "/dial sip:bob@127.0.0.1:$(eval echo "\$PORT_$name")"
  wait_ev bs 'Call established' 15 "$k" && wait_ev bob '"event":"media".*"dir":"sendrecv"' 10 $((m + 1)) &&
    pass "$mode: baresip's call through the B2BUA is up, bob answered" ||
    { fail "$mode: no call" "$(tail -3 "$T/bs.events")" "$(tail -3 "$T/$name.err")"; return 1; }
  local port
  port=$(bob_remote)
  if [ "$mode" = anchor ]; then
    [ -n "$port" ] && [ "$port" -ge "$RELAY_LOW" ] && [ "$port" -le $((RELAY_LOW + 99)) ] &&
      pass "anchor: the SDP bob got names the B2BUA's relay port ($port)" || fail "anchor: bob sends to port '$port'"
  else
    [ -n "$port" ] && { [ "$port" -lt "$RELAY_LOW" ] || [ "$port" -gt $((RELAY_LOW + 99)) ]; } &&
      pass "pass: the SDP bob got names baresip's own port ($port)" || fail "pass: bob sends to port '$port'"
  fi
  local call wav
  call=$(last_call bob)
  wav=$T/bob-$call.wav
  retry 15 size "$wav" $((4 * 16000)) || fail "$mode: bob recorded less than 4 s" "$(ls -l "$T"/bob-*.wav 2>&1)"
  bs "/hangup"
  wait_ev bob "\"event\":\"call_end\".*\"call\":\"$call\"" 10 || fail "$mode: bob's call did not end"
  "$SIPFLOW" tone "$wav" 1000 >"$T/tone-$k.out" 2>&1 && pass "$mode: bob heard baresip's 1000 Hz" ||
    fail "$mode: no 1000 Hz at bob" "$(cat "$T/tone-$k.out")"
  local dec
  retry 5 decs "$k"
  dec=$(ls "$T"/snd/dump-*-dec.wav 2>/dev/null | sort | tail -1)
  "$SIPFLOW" tone "$dec" 440 >"$T/tone-bs-$k.out" 2>&1 && pass "$mode: baresip heard bob's 440 Hz" ||
    fail "$mode: no 440 Hz at baresip" "$(cat "$T/tone-bs-$k.out")"
  stop "$name" || fail "$mode: the B2BUA's exit: $?" "$(err_report "$T/$name.err")"
}
via pass 1
via anchor 2

# Latching: carol's offer names 192.0.2.1 (TEST-NET-1), not where her RTP comes from.
cat >"$T/offer.sdp" <<SDP
v=0
o=carol 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=0 0
m=audio 40000 RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=sendrecv
SDP
# latched LATCH N: carol calls bob through an anchoring B2BUA with b2bua.latch = LATCH
latched() {
  local latch=$1 k=$2 name=b2bl$2 cname=carol$2
  ASAN_OPTIONS=$b2b_asan start "$name" b2bua.xml "${common[@]}" --set "b2bua.target=sip:bob@127.0.0.1:$PORT_bob" \
    --set b2bua.media=anchor \
    --set "b2bua.latch=$latch" --set "media.rtp_ports=$RELAY_LOW-$((RELAY_LOW + 99))" || return 1
  start "$cname" ua.xml "${common[@]}" --set ua.uri=sip:carol@127.0.0.1 --set "ua.offer_file=$T/offer.sdp" \
    --set media.source=tone:1000 --set "media.sink=file:$T/$cname.wav" --set media.rtp_ports=45200-45299 || return 1
  local i
  i=$(count bob '"event":"incoming"')
  cmd "$cname" call "sip:bob@127.0.0.1:$(eval echo "\$PORT_$name")"
  wait_ev "$cname" '"to":"InCall"' 15 && wait_ev bob '"event":"incoming"' 5 $((i + 1)) ||
    { fail "latch $latch: no call" "$(tail -3 "$T/$cname.err")" "$(tail -3 "$T/$name.err")"; return 1; }
  local call wav
  call=$(last_call bob)
  wav=$T/bob-$call.wav
  retry 15 size "$wav" $((3 * 16000)) || fail "latch $latch: bob recorded less than 3 s"
  cmd "$cname" hangup
  wait_ev bob "\"event\":\"call_end\".*\"call\":\"$call\"" 10 || fail "latch $latch: bob's call did not end"
  stop "$cname"
  "$SIPFLOW" tone "$wav" 1000 >"$T/tone-l$k.out" 2>&1 && pass "latch $latch: bob heard carol's 1000 Hz" ||
    fail "latch $latch: no 1000 Hz at bob" "$(cat "$T/tone-l$k.out")"
  if [ "$latch" = any ]; then
    # side a (carol's) latched onto her real RTP port, not the SDP's 192.0.2.1:40000
    grep '"what":"latched"' "$T/$name.events" | grep -q '"message":"a 127\.0\.0\.1:[0-9]*"' &&
      pass "latch any: the B2BUA tells it latched side a onto 127.0.0.1 (the SDP said 192.0.2.1)" ||
      fail "latch any: no latched event for side a" "$(grep -i latch "$T/$name.events" | head -3)"
    "$SIPFLOW" tone "$T/$cname.wav" 440 >"$T/tone-c$k.out" 2>&1 &&
      pass "latch any: carol heard bob's 440 Hz though her SDP named 192.0.2.1" ||
      fail "latch any: no 440 Hz at carol" "$(cat "$T/tone-c$k.out")"
  else
    ! "$SIPFLOW" tone "$T/$cname.wav" 440 >"$T/tone-c$k.out" 2>&1 &&
      pass "latch off (control): carol heard nothing of bob (his RTP went to 192.0.2.1)" ||
      fail "latch off: carol heard bob: the control cannot fail" "$(cat "$T/tone-c$k.out")"
  fi
  stop "$name" || fail "latch $latch: the B2BUA's exit: $?"
}
latched any 1
latched off 2

# IPv6: dave calls erin through an anchoring B2BUA, all three on ::1: the SDPs
# the B2BUA sends say c=IN IP6 and name its relay ports, bound on :: (a relay
# side speaks its side's family), and each hears the other's tone.
v6() {
  LISTEN=udp:[::1]:0 start erin ua.xml "${common[@]}" --set "ua.uri=sip:erin@[::1]" --set ua.auto_answer=0 \
    --set media.source=tone:440 --set "media.sink=file:$T/erin.wav" --set media.rtp_ports=45300-45399 || return 1
  LISTEN=udp:[::1]:0 ASAN_OPTIONS=$b2b_asan start b2b6 b2bua.xml "${common[@]}" \
    --set "b2bua.target=sip:erin@[::1]:$PORT_erin" --set b2bua.media=anchor \
    --set "media.rtp_ports=$RELAY_LOW-$((RELAY_LOW + 99))" || return 1
  LISTEN=udp:[::1]:0 start dave ua.xml "${common[@]}" --set "ua.uri=sip:dave@[::1]" --set media.source=tone:1000 \
    --set "media.sink=file:$T/dave.wav" --set media.rtp_ports=45400-45499 || return 1
  cmd dave call "sip:erin@[::1]:$PORT_b2b6"
  wait_ev dave '"event":"media".*"dir":"sendrecv"' 15 && wait_ev erin '"event":"media".*"dir":"sendrecv"' 10 ||
    { fail "IPv6: no call" "$(tail -3 "$T/dave.err")" "$(tail -3 "$T/b2b6.err")"; return 1; }
  local re="\"remote\":\"\\[::1\\]:$((RELAY_LOW / 100))[0-9][0-9]\"" # 46000-46099: the relay's
  grep '"event":"media"' "$T/erin.events" | grep -q "$re" && grep '"event":"media"' "$T/dave.events" | grep -q "$re" &&
    pass "IPv6: dave's and erin's SDPs name the B2BUA's relay ports on ::1" ||
    fail "IPv6: not the relay's ports" "$(grep -h '"event":"media"' "$T/erin.events" "$T/dave.events")"
  retry 15 size "$T/erin.wav" $((3 * 16000)) && retry 15 size "$T/dave.wav" $((3 * 16000)) ||
    fail "IPv6: less than 3 s recorded"
  cmd dave hangup
  wait_ev erin '"event":"call_end"' 10 || fail "IPv6: erin's call did not end"
  stop dave
  "$SIPFLOW" tone "$T/erin.wav" 1000 >"$T/tone-e.out" 2>&1 && pass "IPv6: erin heard dave's 1000 Hz" ||
    fail "IPv6: no 1000 Hz at erin" "$(cat "$T/tone-e.out")"
  "$SIPFLOW" tone "$T/dave.wav" 440 >"$T/tone-d.out" 2>&1 && pass "IPv6: dave heard erin's 440 Hz" ||
    fail "IPv6: no 440 Hz at dave" "$(cat "$T/tone-d.out")"
  grep '"what":"latched"' "$T/b2b6.events" | grep -q '"message":"a ::1:[0-9]*"' &&
    pass "IPv6: the relay latched side a onto ::1" ||
    fail "IPv6: no latched event for side a on ::1" "$(grep -i latch "$T/b2b6.events" | head -3)"
  stop b2b6 || fail "IPv6: the B2BUA's exit: $?"
  stop erin
}
v6

bs "/quit"
stop bob
summary b2bua-media
