#!/bin/bash
# examples.sh: the flows of xml/examples/ that are written in the flow language
# alone (no C, no controller), driven by sipp on loopback, bounded:
#  - screening.xml: a caller in the list file gets 603 Decline; a call not
#    answered within flow.no_answer is redirected (302) to flow.fallback; a call
#    answered in time is a call (200, ACK, BYE); a name added to the list file is
#    declined once the control command reload has read the file again, and
#    rings again when taken off it (the flow reads a changed file by itself);
#  - forward.xml: a call not answered within flow.no_answer goes (302) to
#    flow.no_answer_target; a call the user rejects, and a call that finds the UA
#    busy (ua.max_calls), to flow.busy;
#  - hunt-group.xml: a call to the group rings flow.first alone; when it does not
#    answer in proxy.timer_c it is cancelled and flow.then's two phones ring at
#    once; the one that answers gets the call, the other is cancelled; a call to
#    another user of ours is not the group's (the location service: 480);
#  - time-of-day.xml: the same call goes to flow.office inside the hours of its
#    <if time=...>, to flow.after_hours outside them (the flow copied with hours
#    around the present time, then with hours that exclude it);
#  - a forward target whose host a request could choose is refused at load.
. "$(dirname "$0")/lib.sh"
need_sipp
SCEN=$(cd "$(dirname "$0")/sipp" && pwd)
EX=$(cd "$(dirname "$0")/../../xml/examples" && pwd)

# ---- call screening ----
# A copy beside its list file, so the test can change the list.
cp "$EX/screening.xml" "$EX/screening-blocked.txt" "$T/"
start scr "$T/screening.xml" --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:bob@127.0.0.1 \
  --set flow.no_answer=300ms --set flow.fallback=sip:voicemail@127.0.0.1:5999 || exit 1
sipp_run s603 "127.0.0.1:$PORT_scr" -sf "$SCEN/uac-screen-603.xml" -s bob -key caller mallory -m 3 -r 10
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 3 ] && pass "screening: three calls from mallory (in the list file) declined 603" ||
  fail "screening 603: sipp exit $SIPP_RC, ${OK:-0} successful" "$(tail -5 "$T/s603.out")"
wait_ev scr '"event":"call_end".*"status":603' 5 3 && [ "$(count scr '"event":"incoming"')" = 0 ] &&
  pass "... none of them rang (no incoming event), each call_end says 603" ||
  fail "screening 603: call_end" "$(grep -E 'call_end|incoming' "$T/scr.events" | head -3)"
wait_ev scr '"machine":"ist".*"from":"Completed","to":"Confirmed","trigger":"sip:ACK"' 5 3 &&
  pass "... each 603's server transaction ended by the caller's ACK (17.2.1), not by Timer H" ||
  fail "screening 603: the ACKs did not reach the server transactions" "$(grep -m3 '"machine":"ist"' "$T/scr.events")"
sipp_run s302 "127.0.0.1:$PORT_scr" -sf "$SCEN/uac-screen-302.xml" -s bob -key caller alice -m 2 -r 10
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 2 ] && pass "screening: two calls from alice rang, unanswered: 302 to flow.fallback" ||
  fail "screening 302: sipp exit $SIPP_RC, ${OK:-0} successful" "$(tail -5 "$T/s302.out")"
wait_ev scr '"event":"redirected".*"status":302,"contact":"<sip:voicemail@127.0.0.1:5999>"' 5 2 &&
  [ "$(count scr '"event":"incoming"')" = 2 ] && pass "... both rang first (incoming), then the flow redirected them" ||
  fail "screening 302: events" "$(grep -E 'redirected|incoming' "$T/scr.events" | head -3)"
# The list file changes: trent is declined from the next look at it (once a second at most).
sipp_run trent0 "127.0.0.1:$PORT_scr" -sf "$SCEN/uac-screen-302.xml" -s bob -key caller trent -m 1
[ "${OK:-0}" = 1 ] && pass "screening: trent, not in the list, rings and is redirected" ||
  fail "screening: trent before the change" "$(tail -3 "$T/trent0.out")"
printf 'mallory\ntrent\n' >"$T/screening-blocked.txt"
cmd scr reload
wait_ev scr '"event":"reply","command":"reload","ok":true,"lists":1' 5 &&
  pass "screening: the control command reload read the list file again" ||
  fail "screening: reload" "$(grep '"command":"reload"' "$T/scr.events")"
sipp_run trent "127.0.0.1:$PORT_scr" -sf "$SCEN/uac-screen-603.xml" -s bob -key caller trent -m 1
[ "${OK:-0}" = 1 ] && wait_ev scr '"event":"call_end".*"status":603' 5 4 &&
  pass "screening: after the list file changed, trent is declined 603" ||
  fail "screening: trent after the change" "$(tail -3 "$T/trent.out")"
# Changed again, without the command: the flow reads it at its next look (once a
# second at most; each try is a call that rings and is redirected until then).
printf 'mallory\n' >"$T/screening-blocked.txt"
touch -d '+5 seconds' "$T/screening-blocked.txt"
freed=0
for try in 1 2 3 4 5 6 7 8 9 10; do # bounded: 10 calls of 300 ms at most
  sipp_run trent2 "127.0.0.1:$PORT_scr" -sf "$SCEN/uac-screen-302.xml" -s bob -key caller trent -m 1
  [ "${OK:-0}" = 1 ] && { freed=1; break; }
done
[ "$freed" = 1 ] && pass "screening: taken off the list file, trent rings again (the flow saw the change by itself)" ||
  fail "screening: trent off the list" "$(tail -3 "$T/trent2.out")"
stop scr || fail "scr exit" "$(err_report "$T/scr.err")"

# Answered in time: auto-answer at once, sipp's built-in uac (200, ACK, BYE).
start scr2 "$T/screening.xml" --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:bob@127.0.0.1 \
  --set ua.auto_answer=0 --set flow.no_answer=5s || exit 1
sipp_run ans "127.0.0.1:$PORT_scr2" -sn uac -s bob -m 5 -r 10
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 5 ] && wait_ev scr2 '"event":"call_end".*"reason":"remote_bye","status":200' 5 5 &&
  [ "$(count scr2 '"event":"redirected"')" = 0 ] &&
  pass "screening: five calls answered in time are calls (200, ACK, BYE), none redirected" ||
  fail "screening answered: sipp exit $SIPP_RC, ${OK:-0} successful" "$(tail -3 "$T/ans.out")"
stop scr2 || fail "scr2 exit" "$(err_report "$T/scr2.err")"

# ---- forward on busy and on no answer ----
start fw "$EX/forward.xml" --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:bob@127.0.0.1 \
  --set ua.max_calls=1 --set flow.no_answer=300ms --set flow.busy=sip:busy@127.0.0.1:5998 \
  --set flow.no_answer_target=sip:mobile@127.0.0.1:5997 || exit 1
sipp_run fna "127.0.0.1:$PORT_fw" -sf "$SCEN/uac-screen-302.xml" -s bob -key caller alice -m 1
[ "${OK:-0}" = 1 ] && wait_ev fw '"event":"redirected".*"contact":"<sip:mobile@127.0.0.1:5997>"' 5 &&
  pass "forward: a call not answered in flow.no_answer went to flow.no_answer_target (302)" ||
  fail "forward on no answer: sipp ${OK:-0}" "$(grep redirected "$T/fw.events")"
# The user rejects a ringing call: it goes to flow.busy.
sipp_run frej "127.0.0.1:$PORT_fw" -sf "$SCEN/uac-screen-302.xml" -s bob -key caller carol -m 1 &
rej=$!
wait_ev fw '"event":"incoming"' 5 2 && cmd fw reject
wait "$rej"
wait_ev fw '"event":"redirected".*"contact":"<sip:busy@127.0.0.1:5998>"' 5 &&
  pass "forward: a ringing call the user rejected went to flow.busy (302)" ||
  fail "forward on reject" "$(grep -E 'redirected|call_end' "$T/fw.events" | tail -2)"
stop fw || fail "fw exit" "$(err_report "$T/fw.err")"
# Busy: one call is up (answered, sipp holds it 3 s), the next INVITE goes to flow.busy.
start fwb "$EX/forward.xml" --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:bob@127.0.0.1 \
  --set ua.max_calls=1 --set ua.auto_answer=0 --set flow.busy=sip:busy@127.0.0.1:5998 || exit 1
( sipp_run long "127.0.0.1:$PORT_fwb" -sn uac -s bob -m 1 -d 3000 ) &
long=$!
wait_ev fwb '"to":"InCall"' 5
sipp_run fbusy "127.0.0.1:$PORT_fwb" -sf "$SCEN/uac-screen-302.xml" -s bob -key caller dave -m 1
[ "${OK:-0}" = 1 ] && wait_ev fwb '"event":"redirected".*"contact":"<sip:busy@127.0.0.1:5998>"' 5 &&
  grep -q '"event":"call_end".*"reason":"forwarded_busy","status":302' "$T/fwb.events" &&
  pass "forward: a call that found the UA busy went to flow.busy (302, call_end forwarded_busy)" ||
  fail "forward on busy: sipp ${OK:-0}" "$(grep -E 'redirected|call_end' "$T/fwb.events" | tail -2)"
wait "$long"
wait_ev fwb '"event":"call_end".*"reason":"remote_bye"' 5 && pass "... the call that was up went on and ended by its BYE" ||
  fail "forward on busy: the first call" "$(grep call_end "$T/fwb.events")"
stop fwb || fail "fwb exit" "$(err_report "$T/fwb.err")"

# ---- a hunt group, in a proxy flow ----
# Three phones: desk rings and never answers; a answers at once; b rings.
start desk ua.xml --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:desk@127.0.0.1 || exit 1
start pa ua.xml --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:a@127.0.0.1 --set ua.auto_answer=0 || exit 1
start pb ua.xml --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:b@127.0.0.1 || exit 1
start hunt "$EX/hunt-group.xml" --set sip.t1_ms=100 --set proxy.trusted=127.0.0.1 --set proxy.timer_c=1 \
  --set "flow.first=sip:desk@127.0.0.1:$PORT_desk" \
  --set "flow.then=sip:a@127.0.0.1:$PORT_pa,sip:b@127.0.0.1:$PORT_pb" || exit 1
sipp_run hg "127.0.0.1:$PORT_hunt" -sf "$SCEN/uac-rr.xml" -s sales -key uas "127.0.0.1:$PORT_hunt" -m 1
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "hunt group: the call to sales was answered" ||
  fail "hunt group: sipp exit $SIPP_RC" "$(tail -5 "$T/hg.out")"
wait_ev desk '"event":"call_end".*"status":487' 5 && wait_ev pb '"event":"call_end".*"status":487' 5 &&
  wait_ev pa '"event":"call_end".*"reason":"remote_bye"' 5 &&
  pass "... desk rang first and was cancelled (487); then a answered and b, ringing with it, was cancelled" ||
  fail "hunt group: the phones' call_end" "desk: $(grep -c call_end "$T/desk.events"), a: $(grep -c call_end "$T/pa.events"), b: $(grep -c call_end "$T/pb.events")"
# In sequence, then at once: the branches to a and b (b2, b3) start only after
# desk's branch (b1) got its final 487 (timer C, 1 s), and together.
b1_final=$(grep -n '"event":"proxy_branch_final".*"status":487,"branch":"b1"' "$T/hunt.events" | head -1 | cut -d: -f1)
b2_first=$(grep -n '"instance":"b2"\|"branch":"b2"' "$T/hunt.events" | head -1 | cut -d: -f1)
[ -n "$b1_final" ] && [ -n "$b2_first" ] && [ "$b1_final" -lt "$b2_first" ] &&
  grep -q '"event":"instance_end","machine":"proxy-branch","instance":"b1".*"duration_s":1\.' "$T/hunt.events" &&
  pass "... in sequence: desk's branch rang 1 s (proxy.timer_c) and ended 487 before the next group started" ||
  fail "hunt group: the order of the branches" "b1 final at line ${b1_final:-none}, b2 first at line ${b2_first:-none}"
[ "$(count pa '"event":"incoming"')" = 1 ] && [ "$(count pb '"event":"incoming"')" = 1 ] &&
  [ "$(count desk '"event":"incoming"')" = 1 ] &&
  grep -q '"event":"proxy_forward".*"targets":"sip:desk@127.0.0.1:[0-9]* sip:a@127.0.0.1:[0-9]*,sip:b@' "$T/hunt.events" &&
  pass "... each phone rang once; the proxy forwarded to 'desk a,b'" ||
  fail "hunt group: incoming counts or proxy_forward" "$(grep proxy_forward "$T/hunt.events" | head -2)"
sipp_run other "127.0.0.1:$PORT_hunt" -sf "$SCEN/uac-rr.xml" -s nobody -key uas "127.0.0.1:$PORT_hunt" -m 1
grep -q '"event":"proxy_no_target"' "$T/hunt.events" && [ "$(count desk '"event":"incoming"')" = 1 ] &&
  pass "hunt group: a call to another user is not the group's (the location service; no phone rang)" ||
  fail "hunt group: the other call" "$(grep -E 'proxy_(answer|no_target|forward)' "$T/hunt.events" | tail -2)"
stop hunt || fail "hunt exit" "$(err_report "$T/hunt.err")"

# ---- time-of-day routing ----
h=$((10#$(date +%H))); m=$(date +%M)
around=$(printf '%02d:%s-%02d:%s' $(((h + 23) % 24)) "$m" $(((h + 1) % 24)) "$m")     # holds now
later=$(printf '%02d:%s-%02d:%s' $(((h + 2) % 24)) "$m" $(((h + 3) % 24)) "$m")      # does not
for hours in "$around" "$later"; do
  sed "s/time=\"09:00-17:00\" days=\"mon-fri\"/time=\"$hours\"/" "$EX/time-of-day.xml" >"$T/tod.xml"
  grep -q "time=\"$hours\"" "$T/tod.xml" || fail "time-of-day: the copy did not get the hours $hours"
  start tod "$T/tod.xml" --set sip.t1_ms=100 --set proxy.trusted=127.0.0.1 \
    --set "flow.office=sip:a@127.0.0.1:$PORT_pa" --set "flow.after_hours=sip:desk@127.0.0.1:$PORT_desk" || exit 1
  sipp_run tod "127.0.0.1:$PORT_tod" -sf "$SCEN/uac-rr.xml" -s info -key uas "127.0.0.1:$PORT_tod" -m 1
  if [ "$hours" = "$around" ]; then
    [ "${OK:-0}" = 1 ] && wait_ev pa '"event":"incoming"' 5 2 && [ "$(count desk '"event":"incoming"')" = 1 ] &&
      pass "time of day: at $(date +%H:%M), inside $hours, the call went to flow.office and was answered" ||
      fail "time of day inside $hours: sipp ${OK:-0}" "$(grep proxy_forward "$T/tod.events")"
  else
    wait_ev desk '"event":"incoming"' 5 2 && [ "$(count pa '"event":"incoming"')" = 2 ] &&
      pass "time of day: outside $hours, the call went to flow.after_hours" ||
      fail "time of day outside $hours" "$(grep proxy_forward "$T/tod.events")"
  fi
  stop tod || fail "tod exit" "$(err_report "$T/tod.err")"
  rm -f "$T/tod.events" "$T/tod.in" "$T/tod.err"
done
for p in desk pa pb; do cmd "$p" hangup; stop "$p" || fail "$p exit" "$(err_report "$T/$p.err")"; done

# ---- a forward target a request could choose: refused at load ----
sed 's|arg="${cfg.flow.first} ${cfg.flow.then}"|arg="sip:x@${hdr.X-Target}"|' "$EX/hunt-group.xml" >"$T/relay.xml"
expect_rc "a forward target whose host reads the request: sipflow check refuses the flow" 1 "$SIPFLOW" check "$T/relay.xml"
has "... and says why" "$T/err" "a forward target's host must come from the flow or the configuration"

summary examples.sh
