#!/bin/bash
# Lab 6: composing your own flow: call screening (xml/examples/screening.xml,
# docs/tutorial.md), a copy of the user agent's flow with six lines of policy.
# docs/lessons/06-compose-flow.md explains it.  sipp calls it twice:
#  1. from mallory, who is in screening-blocked.txt: 603 Decline at once, the
#     phone never rings (the flow decides in Idle, before OpRing);
#  2. from alice, not blocked: 180, nobody answers, the flow's timer
#     "unanswered" (flow.no_answer) fires: 302 to flow.fallback.
# In both, the 603 and the 302 are final responses of an INVITE server
# transaction: sipp ACKs them, and the ACK ends Completed (17.2.1).
# Usage: docs/lessons/06-compose-flow.sh [OUTDIR]; SIPFLOW=path/to/sipflow.
. "$(dirname "$0")/lab.sh"

# A copy of the flow beside its list file (<list file="..."> is relative to the flow).
cp "$TOP/xml/examples/screening.xml" "$TOP/xml/examples/screening-blocked.txt" "$T/"
"$SIPFLOW" check "$T/screening.xml" >"$T/check.out" 2>&1 || die "sipflow check refuses the flow" "$(head -5 "$T/check.out")"
ok "sipflow check screening.xml: the flow loads (operators, triggers, states, timers)"
start screening "$T/screening.xml" --messages=full "${UA[@]}" --set ua.uri=sip:bob@127.0.0.1 \
  --set flow.no_answer=300ms --set flow.fallback=sip:voicemail@127.0.0.1:5999 || die "the screening flow did not start"

# ---- 1. a blocked caller ----
sipp_run mallory "127.0.0.1:$PORT_screening" -sf "$LESSONS/sipp/uac-screen.xml" -s bob -key caller mallory -m 1
[ "$SIPP_RC" = 0 ] || die "sipp's call from mallory did not get 603 (and ACK it)" "$(tail -5 "$T/mallory.out")"
S=$T/screening.events
inv=$(grep '"event":"sip_in".*"start":"INVITE .*From: <sip:mallory@' "$S")
[ -n "$inv" ] || die "mallory's INVITE did not reach the flow"
cid=$(field call_id <<<"$inv")
grep -q "\"event\":\"sip_out\".*\"start\":\"SIP/2.0 603 Decline\".*\"call_id\":\"$cid\"" "$S" || die "mallory's INVITE was not answered 603 Decline"
! grep -q "\"event\":\"sip_out\".*\"start\":\"SIP/2.0 180 .*\"call_id\":\"$cid\"" "$S" || die "mallory's call rang (180): the flow should decline it before OpRing"
grep -q "\"event\":\"state\",\"machine\":\"screening\".*\"call_id\":\"$cid\",\"from\":\"Idle\",\"to\":\"CallEnded\",\"trigger\":\"sip:INVITE\",\"ops\":\[\"OpReject\"" "$S" ||
  die "mallory's call did not go Idle -> CallEnded by OpReject (the <if value=\"\${from.user}\" in=\"blocked\"/> line)" \
  "$(grep "\"call_id\":\"$cid\"" "$S" | grep '"event":"state","machine":"screening"')"
tx=$(field transaction <<<"$inv")
grep -q "\"event\":\"sip_in\".*\"start\":\"ACK .*\"call_id\":\"$cid\".*\"transaction\":\"$tx\",\"machine\":\"ist\"" "$S" &&
  grep -q "\"event\":\"state\",\"machine\":\"ist\",\"instance\":\"$tx\".*\"from\":\"Completed\",\"to\":\"Confirmed\",\"trigger\":\"sip:ACK\"" "$S" ||
  die "sipp's ACK of the 603 did not take the INVITE server transaction $tx from Completed to Confirmed (17.2.1)"
ok "mallory (blocked): 603 Decline, no ringing; Idle -> CallEnded by OpReject; the ACK took the ist to Confirmed"

# ---- 2. nobody answers: 302 to the fallback ----
sipp_run alice "127.0.0.1:$PORT_screening" -sf "$LESSONS/sipp/uac-screen.xml" -s bob -key caller alice -m 1
[ "$SIPP_RC" = 0 ] || die "sipp's call from alice did not get 180 then 302 (and ACK it)" "$(tail -5 "$T/alice.out")"
inv=$(grep '"event":"sip_in".*"start":"INVITE .*From: <sip:alice@' "$S")
cid=$(field call_id <<<"$inv")
grep -q "\"event\":\"sip_out\".*\"start\":\"SIP/2.0 180 .*\"call_id\":\"$cid\"" "$S" || die "alice's call did not ring (180)"
grep -q "\"event\":\"timer\",\"machine\":\"screening\".*\"call_id\":\"$cid\",\"name\":\"unanswered\",\"action\":\"set\",\"ms\":300" "$S" ||
  die "the flow did not set its timer unanswered to flow.no_answer (300 ms)"
grep -q "\"event\":\"timer\",\"machine\":\"screening\".*\"call_id\":\"$cid\",\"name\":\"unanswered\",\"action\":\"fired\"" "$S" ||
  die "the timer unanswered did not fire"
moved=$(grep "\"event\":\"sip_out\".*\"start\":\"SIP/2.0 302 .*\"call_id\":\"$cid\"" "$S")
grep -q '\\r\\nContact: <sip:voicemail@127.0.0.1:5999>' <<<"$moved" || die "no 302 with Contact flow.fallback (sip:voicemail@127.0.0.1:5999)" "$(cut -c1-300 <<<"$moved")"
[ "$(line screening "\"name\":\"unanswered\",\"action\":\"fired\"")" -lt "$(line screening "\"start\":\"SIP/2.0 302 ")" ] ||
  die "the 302 went before the timer fired"
grep -q "\"event\":\"state\",\"machine\":\"screening\".*\"call_id\":\"$cid\",\"from\":\"Ringing\",\"to\":\"CallEnded\",\"trigger\":\"timer:unanswered\"" "$S" ||
  die "alice's call did not go Ringing -> CallEnded on timer:unanswered"
ok "alice (not blocked): 180, the flow's timer unanswered (300 ms) fired, 302 to sip:voicemail@127.0.0.1:5999"

stop screening || die "the screening flow did not exit cleanly" "$(tail -3 "$T/screening.err")"
finish
