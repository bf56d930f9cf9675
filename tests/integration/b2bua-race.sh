#!/bin/bash
# b2bua-race.sh: CANCEL and BYE racing on both legs of xml/b2bua.xml, under
# ASan in the test build, on loopback, bounded (docs/b2bua.md).  alice and bob
# are sipflow UAs (xml/ua.xml, null media); the B2BUA sits between them with
# short RFC timers (sip.t1_ms=100: Timers H, J and K and the guards end within
# seconds).  Each race is started by two control commands written back to back,
# so the two requests cross on the wire; ROUNDS rounds of each (default 100):
#  1. cancel/answer: bob answers while alice cancels: the 200 and the CANCEL
#     cross on B's leg (and on A's): either the call is cancelled or it is up
#     and then ended by BYE (RFC 3261 9.1, 15);
#  2. cancel/busy: bob rejects 486 while alice cancels;
#  3. bye/bye: both hang up at once after the call is up (BYEs cross; 200 or
#     481 each, RFC 3261 15.1.2);
#  4. early bye: alice hangs up as soon as her call is up, so her BYE reaches
#     the B2BUA around the ACK it relays to bob.
# Every round must end at both ends (a call_end each); then the B2BUA's status
# must come to zero live instances (bridges, legs, transactions) and its quit
# exit 0, which under ASan includes LeakSanitizer finding nothing.
. "$(dirname "$0")/lib.sh"
ROUNDS=${ROUNDS:-100}

common=(--set sip.t1_ms=100 --set media.backend=null --log-level error)
start bob ua.xml "${common[@]}" --set ua.uri=sip:bob@127.0.0.1 --set ua.max_calls=1000 || exit 1
start b2b b2bua.xml "${common[@]}" --set "b2bua.target=sip:bob@127.0.0.1:$PORT_bob" --set b2bua.media=pass || exit 1
start alice ua.xml "${common[@]}" --set ua.uri=sip:alice@127.0.0.1 --set ua.max_calls=1000 || exit 1
TARGET=sip:b2b@127.0.0.1:$PORT_b2b

# ring: alice calls through the B2BUA until bob rings; A and B the handles.
ring() {
  local r i
  r=$(count alice '"event":"reply","command":"call"')
  i=$(count bob '"event":"incoming"')
  cmd alice call "$TARGET"
  A=; B=
  wait_ev alice '"event":"reply","command":"call"' 5 $((r + 1)) &&
    A=$(grep '"command":"call"' "$T/alice.events" | tail -1 | sed 's/.*"call":"\([a-z0-9]*\)".*/\1/')
  wait_ev bob '"event":"incoming"' 5 $((i + 1)) && B=$(last_call bob)
  [ -n "$A" ] && [ -n "$B" ]
}
# done_both: both ends wrote call_end for this round's calls (bounded).
done_both() {
  wait_ev alice "\"event\":\"call_end\".*\"call\":\"$A\"" 15 && wait_ev bob "\"event\":\"call_end\".*\"call\":\"$B\"" 15
}
# up_both: both ends are in InCall.
up_both() {
  wait_ev alice "\"call\":\"$A\".*\"to\":\"InCall\"" 10 && wait_ev bob "\"call\":\"$B\".*\"to\":\"InCall\"" 10
}

# race NAME: ROUNDS rounds of race_NAME; counts the rounds that ended at both ends.
race() {
  local name=$1 k ok=0 bad=
  for k in $(seq "$ROUNDS"); do
    if ring && "race_$name" && done_both; then
      ok=$((ok + 1))
    else
      bad="round $k: alice $A: $(states alice "$A"); bob $B: $(states bob "$B")"
      break
    fi
  done
  [ "$ok" = "$ROUNDS" ] && pass "$name: $ROUNDS rounds, each call ended at both ends" ||
    fail "$name: $ok of $ROUNDS rounds ended" "$bad" "$(tail -3 "$T/b2b.err")"
  # which way the races went, at alice's end (reason and final status)
  echo "# $name: $(grep '"event":"call_end"' "$T/alice.events" | tail -n "$ok" |
    grep -o '"reason":"[a-z_]*","status":[0-9]*' | sed 's/"reason":"\([a-z_]*\)","status":/\1 /' | sort | uniq -c |
    awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), $2 " " $3, $1 }')"
}
race_cancel_answer() { cmd bob answer "$B"; cmd alice hangup "$A"; return 0; }
race_cancel_busy() { cmd bob reject "$B" 486; cmd alice hangup "$A"; return 0; }
race_bye_bye() {
  cmd bob answer "$B"
  up_both || return 1
  cmd alice hangup "$A"; cmd bob hangup "$B"
}
race_early_bye() {
  cmd bob answer "$B"
  wait_ev alice "\"call\":\"$A\".*\"to\":\"InCall\"" 10 || return 1
  cmd alice hangup "$A"
}

race cancel_answer
race cancel_busy
race bye_bye
race early_bye

# The B2BUA ends every instance it made (bounded by its timers and guards).
ep_ended b2b &&
  pass "the B2BUA: all $(ep_field instances_created) instances ended, none live" || fail "the B2BUA: instances left" "$STATS"
[ "$(ep_field op_errors)" = 0 ] && pass "the B2BUA: no operator error" || fail "operator errors" "$STATS"
stop b2b && pass "the B2BUA quits with exit 0 (LeakSanitizer clean in the test build)" ||
  fail "the B2BUA's exit: $?" "$(tail -20 "$T/b2b.err")"
stop alice
stop bob
summary b2bua-race
