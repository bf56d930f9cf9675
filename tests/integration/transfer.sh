#!/bin/bash
# transfer.sh: attended transfer (RFC 5589 7) between three user agents built
# from xml/ua.xml, with real audio: alice calls bob, holds him, calls carol,
# then 'transfer A1 A2': her REFER to bob names carol with an embedded
# Replaces for the alice-carol dialog (RFC 3891); bob's INVITE with Replaces
# reaches carol, who answers it at once and ends her call with alice
# (replaced); bob's NOTIFY 200 makes alice hang up her call with bob
# (transferred).  Then bob and carol hear each other's tones, checked in
# per-call recordings (media.sink file:...-{call}.wav).  Blind transfer and
# the sipp cases: refer.sh; Replaces' refusals: replaces.sh.
. "$(dirname "$0")/lib.sh"

free_ports 300 || { fail "no free ports"; exit 1; } # the UAs' RTP ports: tests run side by side
base=(--set sip.t1_ms=100 --set media.backend=gstreamer --set media.codecs=PCMU --set ua.auto_answer=0)
start alice ua.xml "${base[@]}" --set ua.uri=sip:alice@127.0.0.1 --set media.source=tone:600 \
  --set "media.rtp_ports=$BASE-$((BASE + 99))" --set "media.sink=file:$T/alice-{call}.wav" || exit 1
start bob ua.xml "${base[@]}" --set ua.uri=sip:bob@127.0.0.1 --set media.source=tone:440 \
  --set "media.rtp_ports=$((BASE + 100))-$((BASE + 199))" --set "media.sink=file:$T/bob-{call}.wav" || exit 1
start carol ua.xml "${base[@]}" --set ua.uri=sip:carol@127.0.0.1 --set media.source=tone:1000 \
  --set "media.rtp_ports=$((BASE + 200))-$((BASE + 299))" --set "media.sink=file:$T/carol-{call}.wav" || exit 1

# call FROM URI: FROM calls URI; prints FROM's handle of the call once it is up
call() {
  local r
  r=$(count "$1" '"event":"reply","command":"call"')
  cmd "$1" call "$2"
  wait_ev "$1" '"event":"reply","command":"call"' 5 $((r + 1)) || return 1
  local h
  h=$(grep '"command":"call"' "$T/$1.events" | tail -1 | sed 's/.*"call":"\([a-z0-9]*\)".*/\1/')
  wait_ev "$1" "\"call\":\"$h\".*\"to\":\"InCall\"" 10 || return 1
  echo "$h"
}
A1=$(call alice "sip:bob@127.0.0.1:$PORT_bob") && [ -n "$A1" ] && pass "alice calls bob ($A1)" ||
  fail "alice's call to bob" "$(tail -3 "$T/alice.events")"
B1=$(grep '"event":"incoming"' "$T/bob.events" | tail -1 | sed 's/.*"call":"\([a-z0-9]*\)".*/\1/')
cmd alice hold "$A1"
wait_ev alice "\"call\":\"$A1\".*\"to\":\"Onhold\"" 5 && pass "alice holds bob" || fail "hold" "$(states alice "$A1")"
A2=$(call alice "sip:carol@127.0.0.1:$PORT_carol") && [ -n "$A2" ] && pass "alice calls carol ($A2)" ||
  fail "alice's call to carol" "$(tail -3 "$T/alice.events")"
C1=$(last_call carol)

cmd alice transfer "$A1" "$A2"
# carol: a second incoming call that replaces C1, answered at once; C1 ends replaced
wait_ev carol '"event":"incoming"' 10 2 && C2=$(last_call carol) && [ "$C2" != "$C1" ] &&
  pass "carol: bob's INVITE with Replaces arrives ($C2)" || fail "no INVITE with Replaces at carol" "$(tail -5 "$T/carol.events")"
wait_ev carol "\"call\":\"$C2\".*\"to\":\"InCall\"" 10 && pass "carol answers it at once (no ringing wait)" ||
  fail "carol's replacing call" "$(states carol "$C2")"
wait_ev carol "\"event\":\"call_end\".*\"call\":\"$C1\".*\"reason\":\"replaced\"" 10 &&
  pass "carol's call with alice ends: replaced (her BYE)" || fail "carol's C1 end" "$(grep call_end "$T/carol.events")"
wait_ev alice "\"event\":\"call_end\".*\"call\":\"$A2\".*\"reason\":\"remote_bye\"" 10 &&
  pass "alice's call with carol ends by carol's BYE" || fail "alice's A2 end" "$(grep call_end "$T/alice.events")"
wait_ev alice '"event":"transfer".*"role":"transferor","state":"succeeded".*"status":200' 10 &&
  pass "alice's subscription hears bob's NOTIFY: succeeded, 200" || fail "alice's transfer events" "$(grep transfer "$T/alice.events")"
wait_ev alice "\"event\":\"call_end\".*\"call\":\"$A1\".*\"reason\":\"transferred\"" 10 &&
  pass "alice hangs up bob after his NOTIFY 200: transferred" || fail "alice's A1 end" "$(grep -E 'call_end|transfer' "$T/alice.events")"
wait_ev bob "\"event\":\"call_end\".*\"call\":\"$B1\".*\"reason\":\"remote_bye\"" 10 &&
  pass "bob's call with alice ends by her BYE" || fail "bob's B1 end" "$(grep call_end "$T/bob.events")"
wait_ev bob '"event":"transfer".*"role":"transferee","state":"accepted","status":202' 5 &&
  B2=$(grep '"event":"transfer".*"state":"accepted"' "$T/bob.events" | tail -1 | sed 's/.*"referred_call":"\([a-z0-9]*\)".*/\1/')
grep '"event":"transfer".*"state":"accepted"' "$T/bob.events" | grep -q '"replaces":true' &&
  pass "bob took alice's REFER (202) with its embedded Replaces" || fail "bob's REFER" "$(grep transfer "$T/bob.events")"
[ -n "$B2" ] && [ "$B2" != "$B1" ] && wait_ev bob "\"call\":\"$B2\".*\"to\":\"InCall\"" 5 &&
  pass "bob's referred call $B2 is up" || fail "bob's referred call" "$(grep -E 'state|transfer' "$T/bob.events" | tail -5)"

# audio between bob and carol after the transfer: DTMF over RTP each way (RFC 4733)
# proves the stream and gives each side's tone the time to be recorded
cmd carol dtmf "$C2" 1234
wait_ev bob "\"event\":\"dtmf\".*\"call\":\"$B2\".*\"direction\":\"received\"" 10 4 &&
  pass "carol's DTMF 1234 reaches bob over the new call's RTP" || fail "carol to bob RTP" "$(grep dtmf "$T/bob.events")"
cmd bob dtmf "$B2" 1234
wait_ev carol "\"event\":\"dtmf\".*\"call\":\"$C2\".*\"direction\":\"received\"" 10 4 &&
  pass "bob's DTMF 1234 reaches carol" || fail "bob to carol RTP" "$(grep dtmf "$T/carol.events")"
cmd bob hangup "$B2"
wait_ev carol "\"event\":\"call_end\".*\"call\":\"$C2\"" 10 && wait_ev bob "\"event\":\"call_end\".*\"call\":\"$B2\"" 10 ||
  fail "bob's hang-up" "$(grep call_end "$T/bob.events" "$T/carol.events")"
"$SIPFLOW" tone "$T/bob-$B2.wav" 1000 >"$T/tone.out" 2>&1 && pass "bob heard carol's 1000 Hz ($(cat "$T/tone.out"))" ||
  fail "bob's recording" "$(cat "$T/tone.out")"
"$SIPFLOW" tone "$T/carol-$C2.wav" 440 >"$T/tone.out" 2>&1 && pass "carol heard bob's 440 Hz ($(cat "$T/tone.out"))" ||
  fail "carol's recording" "$(cat "$T/tone.out")"

for u in alice bob carol; do
  stop "$u" && ! grep -q -E 'CRITICAL|runtime error|AddressSanitizer|LeakSanitizer' "$T/$u.err" &&
    pass "$u quits cleanly, no sanitizer report" || fail "$u exit" "$(grep -m3 -E 'CRITICAL|Sanitizer|runtime error' "$T/$u.err")"
done
summary transfer.sh
