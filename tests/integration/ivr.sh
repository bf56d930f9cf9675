#!/bin/bash
# ivr.sh: xml/examples/ivr.xml, an IVR written in the flow language alone,
# called by sipflow UAs on loopback with GStreamer media (the digits travel in
# RTP, RFC 4733), bounded; every wait is on an event line:
#  - the IVR answers 183 with SDP (early media, RFC 3960) and plays its prompt;
#    the caller (tests/flows/ua-early-dtmf.xml: ua.xml that sends DTMF in
#    RingBack too) hears the prompt's 600 Hz (its WAV file, Goertzel);
#  - digit 1: 302 to flow.sales, whose phone the caller then reaches;
#  - digit 9 plays the prompt again from its start (a second play event, the
#    state Menu re-entered), then digit 2: 302 to flow.support;
#  - no digit: 480 after flow.timeout;
#  - six invalid digits: 480 (a caller cannot replay the prompt forever);
#  - with media.backend=null the flow still runs: 183, the prompt "played", 480.
. "$(dirname "$0")/lib.sh"
EX=$(cd "$(dirname "$0")/../../xml/examples" && pwd)
FLOWS=$(cd "$(dirname "$0")/../flows" && pwd)
# GStreamer media under ASan: full stacks on malloc, as lib.sh gives ua.xml (tests/lsan.supp).
GST_ASAN=${ASAN_OPTIONS:-}
[ -n "$GST_ASAN" ] && GST_ASAN="$GST_ASAN:fast_unwind_on_malloc=0"

# The prompt: 0.5 s of 600 Hz, 16-bit mono at 8000 Hz.
python3 - "$T/prompt.wav" <<'EOF'
import math, struct, sys, wave
with wave.open(sys.argv[1], "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
    w.writeframes(b"".join(struct.pack("<h", int(12000 * math.sin(2 * math.pi * 600 * i / 8000))) for i in range(4000)))
EOF

null=(--set sip.t1_ms=100 --set media.backend=null)
audio=(--set sip.t1_ms=100 --set media.backend=gstreamer --set media.rtp_ports=45000-45999 --set media.source=silence)
start sales ua.xml "${null[@]}" --set ua.uri=sip:sales@127.0.0.1 --set ua.auto_answer=0 || exit 1
start support ua.xml "${null[@]}" --set ua.uri=sip:support@127.0.0.1 --set ua.auto_answer=0 || exit 1
ASAN_OPTIONS=$GST_ASAN start ivr "$EX/ivr.xml" "${audio[@]}" --set ua.uri=sip:ivr@127.0.0.1 \
  --set "flow.prompt=$T/prompt.wav" --set flow.timeout=4s \
  --set "flow.sales=sip:sales@127.0.0.1:$PORT_sales" --set "flow.support=sip:support@127.0.0.1:$PORT_support" || exit 1
IVR="sip:ivr@127.0.0.1:$PORT_ivr"

# caller NAME: a caller UA recording what it hears in $T/NAME.wav
caller() {
  ASAN_OPTIONS=$GST_ASAN start "$1" "$FLOWS/ua-early-dtmf.xml" "${audio[@]}" --set "ua.uri=sip:$1@127.0.0.1" \
    --set "media.sink=file:$T/$1.wav"
}
early='"event":"media".*"state":"early"'
# call NAME: NAME calls the IVR and waits for its early media (its next "media" early line)
call() {
  local before
  before=$(count "$1" "$early")
  cmd "$1" call "$IVR"
  wait_ev "$1" "$early" 10 $((before + 1))
}
# sounding NAME: how long the prompt's 600 Hz sounds in NAME.wav (s); fails when it is not there
sounding() {
  "$SIPFLOW" tone "$T/$1.wav" 600 >"$T/tone.out" 2>&1 && sed -n 's/.* of \([0-9.]*\) s sounding.*/\1/p' "$T/tone.out"
}

# ---- digit 1: sales ----
caller ann || exit 1
call ann && wait_ev ivr '"event":"play".*prompt.wav' 5 &&
  pass "the IVR answers 183 with SDP: the caller's early media starts; the IVR plays its prompt" ||
  fail "early media" "$(grep -E 'media|play|call_end' "$T/ann.events" "$T/ivr.events" | tail -4)" "$(tail -3 "$T/ivr.err")"
grep -q '"event":"state","machine":"ivr".*"to":"Menu","trigger":"sip:INVITE","ops":\["OpEarlyMedia"\]' "$T/ivr.events" &&
  pass "... OpEarlyMedia took the INVITE (no 180)" || fail "OpEarlyMedia" "$(grep '"to":"Menu"' "$T/ivr.events")"
cmd ann dtmf 1
wait_ev ivr '"event":"redirected".*"status":302,"contact":"<sip:sales@127.0.0.1:'"$PORT_sales"'>"' 10 &&
  wait_ev ivr '"event":"call_end".*"reason":"redirected","status":302' 5 &&
  pass "digit 1: the IVR redirects (302) to flow.sales" ||
  fail "digit 1" "$(grep -E 'digit|redirected|call_end' "$T/ivr.events")"
grep -q '"event":"digit".*"digit":"1"' "$T/ivr.events" && pass "... the digit read from RTP is 1 (\${dtmf})" ||
  fail "digit event" "$(grep digit "$T/ivr.events")"
wait_ev ann '"event":"redirect".*"status":302,"target":"sip:sales@127.0.0.1:'"$PORT_sales"'"' 5 &&
  wait_ev sales '"event":"incoming"' 5 && wait_ev ann '"event":"state".*"to":"InCall"' 5 &&
  pass "... the caller follows the 302's Contact: sales rings and answers" ||
  fail "caller after 302" "$(grep -E 'redirect|call_end' "$T/ann.events")"
cmd ann hangup
wait_ev ann '"event":"call_end"' 10 && wait_ev sales '"event":"call_end".*"reason":"remote_bye"' 5 ||
  fail "ann hangup" "$(grep call_end "$T/ann.events")"
stop ann || fail "ann exit" "$(err_report "$T/ann.err")"

# ---- digit 9: the prompt again; then 2: support ----
caller bea || exit 1
plays=$(count ivr '"event":"play"')
call bea && wait_ev ivr '"event":"play"' 5 $((plays + 1)) || fail "bea: early media" "$(tail -3 "$T/bea.events")"
cmd bea dtmf 9
wait_ev ivr '"event":"play"' 10 $((plays + 2)) &&
  grep -q '"from":"Menu","to":"Menu","trigger":"media:dtmf","ops":\["OpEmit","OpSet","OpGo","OpCancelTimer"\]' "$T/ivr.events" &&
  pass "digit 9 is no choice: the menu again (Menu -> Menu), the prompt played from its start again" ||
  fail "digit 9" "$(grep -E 'digit|play|"to":"Menu"' "$T/ivr.events" | tail -3)"
cmd bea dtmf 2
wait_ev ivr '"event":"redirected".*"status":302,"contact":"<sip:support@127.0.0.1:'"$PORT_support"'>"' 10 &&
  wait_ev bea '"event":"redirect".*"status":302,"target":"sip:support@127.0.0.1:'"$PORT_support"'"' 5 &&
  wait_ev support '"event":"incoming"' 5 &&
  pass "... then digit 2: 302 to flow.support, which the caller reaches" ||
  fail "digit 2" "$(grep -E 'digit|redirected' "$T/ivr.events" | tail -2)"
cmd bea hangup
wait_ev bea '"event":"call_end"' 10 || fail "bea hangup" "$(grep call_end "$T/bea.events")"

# ---- no digit: 480 after flow.timeout ----
ended=$(count ivr '"event":"call_end"')
call bea || fail "bea: early media again" "$(tail -3 "$T/bea.events")"
wait_ev ivr '"event":"call_end"' 10 $((ended + 1)) &&
  grep '"event":"call_end"' "$T/ivr.events" | tail -1 | grep -q '"reason":"rejected","status":480' &&
  grep '"event":"instance_end","machine":"ivr"' "$T/ivr.events" | tail -1 | grep -q '"duration_s":[4-9]\.' &&
  pass "no digit: the call ends with 480 after flow.timeout (4 s)" ||
  fail "timeout" "$(grep -E 'call_end|"instance_end","machine":"ivr"' "$T/ivr.events" | tail -2)"
wait_ev bea '"event":"call_end".*"status":480' 5 1 && pass "... the caller's call ends with 480" ||
  fail "caller 480" "$(grep call_end "$T/bea.events" | tail -1)"
# What the caller heard, recorded until its call ended (a call that follows a
# 302 rewrites its file with the new callee's audio, so not those).
secs=$(sounding bea)
[ -n "$secs" ] && pass "the caller heard the prompt's 600 Hz, for $secs s (the prompt lasts 0.5 s)" ||
  fail "the prompt at the caller" "$(cat "$T/tone.out")"

# ---- six invalid digits: 480 ----
ended=$(count ivr '"event":"call_end"')
call bea || fail "bea: early media a third time" "$(tail -3 "$T/bea.events")"
cmd bea dtmf 999999
wait_ev ivr '"event":"call_end"' 15 $((ended + 1)) &&
  grep '"event":"call_end"' "$T/ivr.events" | tail -1 | grep -q '"reason":"rejected","status":480' &&
  grep '"event":"state","machine":"ivr"' "$T/ivr.events" | tail -1 | grep -q '"to":"CallEnded","trigger":"media:dtmf"' &&
  pass "six invalid digits: the sixth ends the call with 480 (the prompt replayed five times, no more)" ||
  fail "six invalid digits" "$(grep -E 'call_end|"event":"digit"' "$T/ivr.events" | tail -3)"
wait_ev bea '"event":"call_end".*"status":480' 5 2 || fail "bea: the third call's end" "$(tail -2 "$T/bea.events")"
# Each digit (about 350 ms apart) started the 0.5 s prompt again: the caller
# heard it for longer than the prompt and the six digits' spacing allow without
# the restarts (5 x 0.35 s would leave 0.5 s at most of tone after the last).
secs=$(sounding bea)
[ -n "$secs" ] && awk -v s="$secs" 'BEGIN { exit !(s >= 1.2) }' &&
  pass "... the caller heard the prompt restarted by each digit: 600 Hz for $secs s (one play: 0.5 s)" ||
  fail "the restarted prompt at the caller" "${secs:-none}" "$(cat "$T/tone.out")"
stop bea || fail "bea exit" "$(err_report "$T/bea.err")"
stop ivr || fail "ivr exit" "$(err_report "$T/ivr.err")"

# ---- the null backend: the flow runs, nothing is carried ----
start ivr0 "$EX/ivr.xml" "${null[@]}" --set ua.uri=sip:ivr@127.0.0.1 --set "flow.prompt=$T/prompt.wav" \
  --set flow.timeout=300ms || exit 1
start cal0 "$FLOWS/ua-early-dtmf.xml" "${null[@]}" || exit 1
cmd cal0 call "sip:ivr@127.0.0.1:$PORT_ivr0"
wait_ev cal0 "$early" 5 && wait_ev ivr0 '"event":"play"' 5 && wait_ev ivr0 '"event":"call_end".*"status":480' 5 &&
  wait_ev cal0 '"event":"call_end".*"status":480' 5 &&
  pass "media.backend=null: 183 with SDP, the prompt played (counted), 480 after flow.timeout" ||
  fail "null backend" "$(grep -E 'media|play|call_end' "$T/ivr0.events" "$T/cal0.events")"
for p in cal0 ivr0 sales support; do
  cmd "$p" hangup
  stop "$p" || fail "$p exit" "$(err_report "$T/$p.err")"
done

summary ivr.sh
