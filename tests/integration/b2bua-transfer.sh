#!/bin/bash
# b2bua-transfer.sh: a transfer through xml/b2bua.xml (b2bua.refer,
# docs/b2bua.md "Transfer"), three sipflow UAs with audio, on loopback:
# alice calls bob through the B2BUA; bob transfers the call to carol
# ('transfer CALL URI', a blind REFER in bob's dialog with the B2BUA).  The
# B2BUA is the transferee: it accepts (202, NOTIFYs to bob), calls carol from a
# new leg with alice's SDP, and on carol's answer re-INVITEs alice with
# carol's SDP and hangs up bob's leg.  Then alice and carol exchange DTMF over
# RTP and hear each other's tones (per-call recordings).  Once with
# b2bua.media = pass, once with anchor (carol's SDP then names the relay).
# Before that, a REFER the policy refuses (b2bua.refer off): 403, the call
# stays up.
. "$(dirname "$0")/lib.sh"

base=(--set sip.t1_ms=100 --set media.backend=gstreamer --set media.codecs=PCMU --set ua.auto_answer=0)
RELAY_LOW=47300 # the B2BUAs' relay ports: 47300-47399
b2b_asan=${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0 # GStreamer in the B2BUA: as b2bua-media.sh
start alice ua.xml "${base[@]}" --set ua.uri=sip:alice@127.0.0.1 --set media.source=tone:600 \
  --set media.rtp_ports=47000-47099 --set "media.sink=file:$T/alice-{call}.wav" || exit 1
start bob ua.xml "${base[@]}" --set ua.uri=sip:bob@127.0.0.1 --set media.source=tone:440 \
  --set media.rtp_ports=47100-47199 || exit 1
start carol ua.xml "${base[@]}" --set ua.uri=sip:carol@127.0.0.1 --set media.source=tone:1000 \
  --set media.rtp_ports=47200-47299 --set "media.sink=file:$T/carol-{call}.wav" || exit 1


# up NAME: alice calls bob through B2BUA NAME; sets A1 (alice's call) and B1 (bob's)
up() {
  local r
  r=$(count alice '"event":"reply","command":"call"')
  cmd alice call "sip:bob@127.0.0.1:$(eval echo "\$PORT_$1")"
  wait_ev alice '"event":"reply","command":"call"' 5 $((r + 1)) || return 1
  A1=$(grep '"command":"call"' "$T/alice.events" | tail -1 | sed 's/.*"call":"\([a-z0-9]*\)".*/\1/')
  wait_ev alice "\"call\":\"$A1\".*\"to\":\"InCall\"" 10 || return 1
  B1=$(last_call bob)
}

# The policy's refusal: b2bua.refer off (the default)
ASAN_OPTIONS=$b2b_asan start b2boff b2bua.xml "${base[@]}" --set "b2bua.target=sip:bob@127.0.0.1:$PORT_bob" \
  --set "media.rtp_ports=$RELAY_LOW-$((RELAY_LOW + 99))" || exit 1
up b2boff && pass "off: alice's call through the B2BUA is up" || fail "off: no call" "$(tail -3 "$T/alice.events")"
cmd bob transfer "$B1" "sip:carol@127.0.0.1:$PORT_carol"
wait_ev bob '"event":"transfer".*"role":"transferor","state":"failed".*"status":403' 10 &&
  pass "off: bob's REFER gets 403 (b2bua.refer is off)" || fail "off: bob's transfer" "$(grep transfer "$T/bob.events")"
grep -q '"event":"transfer".*"role":"transferee","state":"refused".*b2bua.refer is off' "$T/b2boff.events" &&
  pass "off: the B2BUA's leg says why" || fail "off: no refusal event" "$(grep transfer "$T/b2boff.events")"
cmd alice hangup "$A1"
wait_ev bob "\"event\":\"call_end\".*\"call\":\"$B1\".*\"reason\":\"remote_bye\"" 10 &&
  pass "off: the call was still up: alice's hangup reaches bob" || fail "off: bob's end" "$(grep call_end "$T/bob.events")"
stop b2boff || fail "off: the B2BUA's exit: $?" "$(err_report "$T/b2boff.err")"

# via MODE: the transfer through a B2BUA in MODE
via() {
  local mode=$1 name=b2b$1
  ASAN_OPTIONS=$b2b_asan start "$name" b2bua.xml "${base[@]}" --set "b2bua.target=sip:bob@127.0.0.1:$PORT_bob" \
    --set "b2bua.media=$mode" --set b2bua.refer=target_domain \
    --set "media.rtp_ports=$RELAY_LOW-$((RELAY_LOW + 99))" || return 1
  up "$name" && pass "$mode: alice's call through the B2BUA is up" ||
    { fail "$mode: no call" "$(tail -3 "$T/alice.events")" "$(tail -3 "$T/$name.err")"; return 1; }
  local c m
  c=$(count carol '"event":"incoming"')
  m=$(count alice "\"event\":\"media\".*\"call\":\"$A1\"")
  cmd bob transfer "$B1" "sip:carol@127.0.0.1:$PORT_carol"
  wait_ev carol '"event":"incoming"' 10 $((c + 1)) && C1=$(last_call carol) &&
    pass "$mode: carol gets the B2BUA's INVITE ($C1)" || { fail "$mode: nothing at carol" "$(tail -5 "$T/$name.events")"; return 1; }
  wait_ev bob '"event":"transfer".*"role":"transferor","state":"succeeded".*"status":200' 10 &&
    pass "$mode: bob hears NOTIFY 200: succeeded" || fail "$mode: bob's transfer events" "$(grep transfer "$T/bob.events")"
  wait_ev bob "\"event\":\"call_end\".*\"call\":\"$B1\"" 10 &&
    pass "$mode: bob's call ends ($(grep "\"event\":\"call_end\".*\"call\":\"$B1\"" "$T/bob.events" | grep -o '"reason":"[a-z_]*"'))" ||
    fail "$mode: bob's call" "$(states bob "$B1")"
  wait_ev alice "\"event\":\"media\".*\"call\":\"$A1\"" 10 $((m + 1)) &&
    pass "$mode: alice's call is re-INVITEd (a media event)" || fail "$mode: no re-INVITE at alice" "$(tail -3 "$T/alice.events")"
  wait_ev "$name" '"event":"bridge_transfer".*"state":"succeeded"' 5 &&
    pass "$mode: the B2BUA writes bridge_transfer succeeded" || fail "$mode: bridge events" "$(grep bridge_ "$T/$name.events")"
  wait_ev carol "\"event\":\"media\".*\"call\":\"$C1\"" 10 || fail "$mode: no media event at carol"
  if [ "$mode" = anchor ]; then
    grep '"event":"media"' "$T/carol.events" | tail -1 | grep -q "\"remote\":\"127.0.0.1:47[34][0-9][0-9]\"" &&
      pass "anchor: carol sends to the B2BUA's relay" || fail "anchor: carol's media" "$(grep '"event":"media"' "$T/carol.events" | tail -1)"
  else
    grep '"event":"media"' "$T/carol.events" | tail -1 | grep -q "\"remote\":\"127.0.0.1:470[0-9][0-9]\"" &&
      pass "pass: carol sends to alice's own port" || fail "pass: carol's media" "$(grep '"event":"media"' "$T/carol.events" | tail -1)"
  fi
  local d
  d=$(count carol "\"event\":\"dtmf\".*\"call\":\"$C1\".*\"direction\":\"received\"")
  cmd alice dtmf "$A1" 1234
  wait_ev carol "\"event\":\"dtmf\".*\"call\":\"$C1\".*\"direction\":\"received\"" 10 $((d + 4)) &&
    pass "$mode: alice's DTMF 1234 reaches carol over RTP" || fail "$mode: alice to carol RTP" "$(grep dtmf "$T/carol.events")"
  d=$(count alice "\"event\":\"dtmf\".*\"call\":\"$A1\".*\"direction\":\"received\"")
  cmd carol dtmf "$C1" 1234
  wait_ev alice "\"event\":\"dtmf\".*\"call\":\"$A1\".*\"direction\":\"received\"" 10 $((d + 4)) &&
    pass "$mode: carol's DTMF 1234 reaches alice" || fail "$mode: carol to alice RTP" "$(grep dtmf "$T/alice.events")"
  retry 15 size "$T/carol-$C1.wav" $((3 * 16000)) || fail "$mode: carol recorded less than 3 s"
  cmd alice hangup "$A1"
  wait_ev carol "\"event\":\"call_end\".*\"call\":\"$C1\".*\"reason\":\"remote_bye\"" 10 &&
    pass "$mode: alice's hangup reaches carol" || fail "$mode: carol's end" "$(grep call_end "$T/carol.events")"
  wait_ev "$name" '"event":"bridge_end".*"transfers":1' 10 &&
    pass "$mode: bridge_end counts the transfer" || fail "$mode: bridge_end" "$(grep bridge_end "$T/$name.events")"
  "$SIPFLOW" tone "$T/carol-$C1.wav" 600 >"$T/tone.out" 2>&1 && pass "$mode: carol heard alice's 600 Hz ($(cat "$T/tone.out"))" ||
    fail "$mode: carol's recording" "$(cat "$T/tone.out")"
  "$SIPFLOW" tone "$T/alice-$A1.wav" 1000 >"$T/tone.out" 2>&1 && pass "$mode: alice heard carol's 1000 Hz most of the call ($(cat "$T/tone.out"))" ||
    fail "$mode: alice's recording" "$(cat "$T/tone.out")"
  ep_ended "$name" && pass "$mode: every instance of the B2BUA ended ($(ep_field instances_created) created)" ||
    fail "$mode: instances left" "$STATS"
  stop "$name" && ! grep -q -E 'CRITICAL|runtime error|AddressSanitizer|LeakSanitizer' "$T/$name.err" &&
    pass "$mode: the B2BUA quits cleanly, no sanitizer report" || fail "$mode: the B2BUA's exit" "$(err_report "$T/$name.err")"
}
via pass
via anchor

for u in alice bob carol; do
  stop "$u" && ! grep -q -E 'CRITICAL|runtime error|AddressSanitizer|LeakSanitizer' "$T/$u.err" &&
    pass "$u quits cleanly, no sanitizer report" || fail "$u exit" "$(grep -m3 -E 'CRITICAL|Sanitizer|runtime error' "$T/$u.err")"
done
summary b2bua-transfer.sh
