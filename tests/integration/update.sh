#!/bin/bash
# update.sh: UPDATE (RFC 3311) and glare (RFC 3261 14.1) in the user agent
# (xml/ua.xml), against sipp on loopback, bounded; each sipp scenario checks
# what our UA sends (regexp checks), the script checks our UA's events:
#  - received in a call (sipp/uac-update.xml): an offer answered 200 with SDP and
#    Contact, the stream moved; a sendonly offer answered recvonly (held); an
#    offer without a common codec 488, the call goes on; none: 200 without SDP;
#  - received while our 200's offer waits for the ACK's answer (sipp/uac-update-glare.xml):
#    491, then after the ACK 200 with SDP;
#  - received in the early dialog of our ringing UA (sipp/uac-update-early.xml):
#    an offer gets 500 with Retry-After 0-10 (no reliable answer yet), none 200;
#  - sent (sipp/uas-update.xml): 'update' refused while ringing back (no reliable
#    answer: an error event says why); an offer answered 200 (the stream moves),
#    one answered 488 (the session unchanged), 'update nosdp' without a body;
#  - glare (sipp/uas-glare.xml): our UPDATE and our hold re-INVITE get 491 once,
#    each goes again after the 14.1 interval of the Call-ID's owner (2.1-4 s,
#    measured between our UA's events), sipp counts exactly two of each;
#  - glare as the callee (sipp/uac-glare.xml): our UPDATE's retry after 0-2 s;
#  - glare without end (sipp/uas-glare-bound.xml): 491 four times, our UPDATE
#    stops after 3 retries and is reported refused;
#  - the control command's syntax; ua.offer_file (sent as it is in the INVITE and
#    the UPDATEs, seen in sipp's message log; a bad file stops the start);
#  - with 100rel: the early-dialog cases after a reliable 183 with the answer,
#    UPDATE with an offer accepted both ways (sipp/uac-update-100rel.xml,
#    sipp/uas-update-100rel.xml).
. "$(dirname "$0")/lib.sh"
need_sipp
SCEN=$(cd "$(dirname "$0")/sipp" && pwd)
UA=(--set media.backend=null --set sip.t1_ms=100)

# gap_ms NAME REGEX1 REGEX2: milliseconds between the first event matching
# REGEX1 and the first matching REGEX2 after it (their "ts").
gap_ms() {
  python3 - "$T/$1.events" "$2" "$3" <<'EOF'
import datetime, re, sys
def ts(line):
    t = re.search(r'"ts":"([^"]*)Z"', line).group(1)
    return datetime.datetime.fromisoformat(t)
a = None
for line in open(sys.argv[1]):
    if a is None and re.search(sys.argv[2], line):
        a = ts(line)
    elif a is not None and re.search(sys.argv[3], line):
        print(int((ts(line) - a).total_seconds() * 1000))
        break
EOF
}

# ---- received in a call (UAS) ----
start bob ua.xml "${UA[@]}" --set ua.uri=sip:bob@127.0.0.1 --set ua.auto_answer=0 || exit 1
sipp_run in "127.0.0.1:$PORT_bob" -sf "$SCEN/uac-update.xml" -s bob -m 1
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] &&
  pass "UPDATEs in a call: 200 with SDP and Contact, recvonly to sendonly, 488 to G722, 200 without SDP, 420 to Require; BYE 200" ||
  fail "UPDATEs in a call: sipp exit $SIPP_RC" "$(grep -iE 'unexpected|regexp|fail' "$T/in.out" | head -3)"
wait_ev bob '"event":"call_end".*"reason":"remote_bye","status":200' 5 && pass "... the call went on to sipp's BYE" ||
  fail "bob call_end" "$(grep call_end "$T/bob.events")"
[ "$(count bob '"event":"update".*"dir":"in","offer":true,"status":200')" = 2 ] &&
  [ "$(count bob '"event":"update".*"dir":"in","offer":true,"status":488')" = 1 ] &&
  [ "$(count bob '"event":"update".*"dir":"in","offer":false,"status":200')" = 1 ] &&
  [ "$(count bob '"event":"update".*"dir":"in","offer":false,"status":420')" = 1 ] &&
  pass "update events: two offers answered, one refused 488, one without SDP, one 420" || fail "update events" "$(grep '"update"' "$T/bob.events")"
grep -q '"event":"media".*"why":"update".*"remote":"127.0.0.1:6002","dir":"sendrecv"' "$T/bob.events" &&
  grep -q '"event":"media".*"why":"held".*"dir":"recvonly"' "$T/bob.events" &&
  grep -q '"event":"sdp_refused".*no common codec' "$T/bob.events" &&
  pass "media events: moved to 6002 by the offer, recvonly when held; sdp_refused for G722" ||
  fail "media events" "$(grep -E '"media"|sdp_refused' "$T/bob.events")"
[ "$(count bob '"event":"media".*"why":"(update|held)"')" = 2 ] && pass "... and no media event for the refused offer" ||
  fail "media events after the 488" "$(grep '"media"' "$T/bob.events")"

# ---- received while our offer waits for its answer: 491 (RFC 3311 5.2) ----
sipp_run rglare "127.0.0.1:$PORT_bob" -sf "$SCEN/uac-update-glare.xml" -s bob -m 1
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] &&
  pass "an UPDATE offer while our 200's offer waits for the ACK: 491; after the ACK's answer: 200 with SDP" ||
  fail "UPDATE glare as UAS: sipp exit $SIPP_RC" "$(grep -iE 'unexpected|regexp|fail' "$T/rglare.out" | head -3)"
grep '"event":"update"' "$T/bob.events" | tail -2 | head -1 | grep -q '"offer":true,"status":491' &&
  wait_ev bob '"event":"call_end".*"reason":"remote_bye"' 5 2 && pass "... update events 491 then 200, the call ended by BYE" ||
  fail "UAS glare events" "$(grep '"update"' "$T/bob.events" | tail -2)"
stop bob || fail "bob exit" "$(err_report "$T/bob.err")"

# ---- received in the early dialog (UAS ringing, no 100rel) ----
start eve ua.xml "${UA[@]}" --set ua.uri=sip:bob@127.0.0.1 || exit 1
( sipp_run early "127.0.0.1:$PORT_eve" -sf "$SCEN/uac-update-early.xml" -s bob -m 1
  echo "$SIPP_RC ${OK:-0}" >"$T/early.rc" ) &
sp=$!
if wait_ev eve '"event":"update".*"dir":"in","offer":false,"status":200' 10; then
  grep '"event":"update"' "$T/eve.events" | tail -2 | head -1 | grep -q '"offer":true,"status":500' &&
    pass "early dialog: an offer gets 500 (Retry-After checked by sipp), then one without SDP 200" ||
    fail "early dialog update events" "$(grep '"update"' "$T/eve.events" | tail -2)"
  cmd eve answer
else
  fail "early dialog: no UPDATE answered" "$(grep '"update"' "$T/eve.events" | tail -2)" "$(tail -3 "$T/early.out")"
fi
timeout 30 tail --pid="$sp" -f /dev/null
read -r rc ok <"$T/early.rc"
[ "$rc" = 0 ] && [ "$ok" = 1 ] && pass "early dialog: sipp saw 500 with Retry-After 0-10 and 200 without SDP; answered, BYE" ||
  fail "early dialog: sipp exit $rc" "$(grep -iE 'unexpected|regexp|fail' "$T/early.out" | head -3)"
wait_ev eve '"event":"call_end".*"reason":"remote_bye"' 5 && pass "... the call went on to its BYE" || fail "early call_end"
stop eve || fail "eve exit" "$(err_report "$T/eve.err")"

# ---- sent (UAC) ----
start al ua.xml "${UA[@]}" --set ua.uri=sip:alice@127.0.0.1 || exit 1
if sipp_server out -sf "$SCEN/uas-update.xml" -m 1; then
  cmd al call "sip:bob@127.0.0.1:$SIPP_PORT"
  wait_ev al '"to":"RingBack"' 5 && cmd al update
  wait_ev al '"event":"error".*update: the initial offer/answer is not complete' 5 &&
    pass "'update' while ringing back: refused by our UA (no reliable answer yet, RFC 3311 5.1)" ||
    fail "update in RingBack" "$(grep '"error"' "$T/al.events")"
  wait_ev al '"to":"InCall"' 5 && cmd al update
  wait_ev al '"event":"update".*"dir":"out","offer":true,"status":200,"result":"accepted"' 5 &&
    wait_ev al '"event":"media".*"why":"update".*"remote":"127.0.0.1:6002"' 2 &&
    pass "our UPDATE with an offer: 200, the stream moved to the answer's port" ||
    fail "our UPDATE accepted" "$(grep -E '"update"|"media"' "$T/al.events")"
  cmd al update
  wait_ev al '"event":"update".*"dir":"out","offer":true,"status":488,"result":"refused"' 5 &&
    pass "our UPDATE refused 488: the event says so" || fail "our UPDATE 488" "$(grep '"update"' "$T/al.events")"
  cmd al update nosdp
  wait_ev al '"event":"update".*"dir":"out","offer":false,"status":200,"result":"accepted"' 5 &&
    pass "'update nosdp': 200 without SDP" || fail "our UPDATE without SDP" "$(grep '"update"' "$T/al.events")"
  [ "$(count al '"event":"media".*"why":"update"')" = 1 ] && pass "... only the accepted offer moved the media" ||
    fail "media after 488" "$(grep '"media"' "$T/al.events")"
  cmd al hangup
  wait_ev al '"event":"call_end".*"reason":"local_bye","status":200' 5 && pass "... the call stayed up until our BYE" ||
    fail "al call_end" "$(grep call_end "$T/al.events")"
  sipp_server_wait out
  [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "sipp callee: our UPDATEs carried SDP and Contact, the last no body" ||
    fail "sipp callee: exit $SIPP_RC" "$(grep -iE 'unexpected|regexp|fail' "$T/out.out" | head -3)"
else
  fail "sipp uas-update did not start"
fi

# ---- glare: 491 to our UPDATE and to our hold re-INVITE ----
# glare_gap METHOD FROM TO DESC: al's glare event for METHOD says a 14.1
# interval of the Call-ID's owner (2.1-4 s) and the request went again after it:
# the gap between the events FROM and TO is at least that, at most 4.5 s.
glare_gap() {
  local ms gap
  ms=$(grep "\"event\":\"glare\".*\"call\":\"c2\".*\"method\":\"$1\"" "$T/al.events" | grep -o '"retry_ms":[0-9]*' | cut -d: -f2)
  gap=$(gap_ms al "$2" "$3")
  [ -n "$ms" ] && [ "$ms" -ge 2100 ] && [ "$ms" -le 4000 ] && [ -n "$gap" ] && [ "$gap" -ge "$ms" ] && [ "$gap" -le 4500 ] &&
    pass "$4 ${gap} ms later (timer ${ms} ms: 2.1-4 s, we own the Call-ID)" ||
    fail "$1 glare interval: timer ${ms:-none} ms, gap ${gap:-none} ms"
}
if sipp_server glare -sf "$SCEN/uas-glare.xml" -m 1; then
  cmd al call "sip:bob@127.0.0.1:$SIPP_PORT"
  wait_ev al '"event":"state".*"call":"c2".*"to":"InCall"' 5 && cmd al update
  if wait_ev al '"event":"update".*"call":"c2".*"result":"accepted"' 10; then
    glare_gap UPDATE '"event":"update".*"call":"c2".*"status":491' '"event":"update".*"call":"c2".*"status":200' \
      "UPDATE glare: 491, then 200 to the UPDATE sent again"
  else
    fail "UPDATE glare: no 200 after the 491" "$(grep -E '"update"|"glare"' "$T/al.events" | tail -3)"
  fi
  cmd al hold
  if wait_ev al '"event":"state".*"call":"c2".*"to":"Onhold"' 10; then
    glare_gap INVITE '"event":"glare".*"call":"c2".*"method":"INVITE"' '"event":"state".*"call":"c2".*"to":"Onhold"' \
      "hold re-INVITE glare: 491, then 200 to the re-INVITE sent again: Onhold"
    ! grep -q '"event":"reinvite_refused".*"call":"c2"' "$T/al.events" && pass "... not reported refused" ||
      fail "the re-INVITE's 491 was taken as a refusal"
  else
    fail "hold after glare: not Onhold" "$(grep -E '"glare"|reinvite' "$T/al.events" | tail -3)"
  fi
  cmd al hangup
  wait_ev al '"event":"call_end".*"call":"c2".*"reason":"local_bye"' 5 || fail "glare call_end"
  sipp_server_wait glare
  [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "sipp: exactly two UPDATEs and two re-INVITEs, each with an offer" ||
    fail "sipp glare: exit $SIPP_RC" "$(grep -iE 'unexpected|regexp|fail' "$T/glare.out" | head -3)"
else
  fail "sipp uas-glare did not start"
fi

# ---- glare without end: bounded (3 retries), then refused ----
if sipp_server gbound -sf "$SCEN/uas-glare-bound.xml" -m 1; then
  cmd al call "sip:bob@127.0.0.1:$SIPP_PORT"
  wait_ev al '"event":"state".*"call":"c3".*"to":"InCall"' 5 && cmd al update
  wait_ev al '"event":"update".*"call":"c3".*"status":491,"result":"refused"' 20 &&
    [ "$(count al '"event":"update".*"call":"c3".*"status":491,"result":"glare"')" = 3 ] &&
    [ "$(count al '"event":"glare".*"call":"c3"')" = 3 ] &&
    pass "491 every time: our UPDATE sent 4 times in all (3 glare retries), then reported refused" ||
    fail "bounded glare" "$(grep -E '"update"|"glare"' "$T/al.events" | grep '"c3"' | tail -5)"
  cmd al hangup
  wait_ev al '"event":"call_end".*"call":"c3".*"reason":"local_bye"' 5 && pass "... the call stayed up until our BYE" ||
    fail "gbound call_end"
  sipp_server_wait gbound
  [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "sipp: exactly four UPDATEs, no fifth" ||
    fail "sipp glare bound: exit $SIPP_RC" "$(grep -iE 'unexpected|regexp|fail' "$T/gbound.out" | head -3)"
else
  fail "sipp uas-glare-bound did not start"
fi

# ---- glare as the callee: the other end of 14.1's interval (0-2 s) ----
start cal ua.xml "${UA[@]}" --set ua.uri=sip:bob@127.0.0.1 --set ua.auto_answer=0 || exit 1
( sipp_run cglare "127.0.0.1:$PORT_cal" -sf "$SCEN/uac-glare.xml" -s bob -m 1
  echo "$SIPP_RC ${OK:-0}" >"$T/cglare.rc" ) &
sp=$!
wait_ev cal '"to":"InCall"' 10 && cmd cal update
if wait_ev cal '"event":"update".*"status":200,"result":"accepted"' 10; then
  ms=$(grep '"event":"glare".*"method":"UPDATE"' "$T/cal.events" | grep -o '"retry_ms":[0-9]*' | cut -d: -f2)
  gap=$(gap_ms cal '"event":"update".*"status":491' '"event":"update".*"status":200')
  [ -n "$ms" ] && [ "$ms" -le 2000 ] && [ -n "$gap" ] && [ "$gap" -ge "$ms" ] && [ "$gap" -le 2500 ] &&
    pass "callee's UPDATE glare: sent again ${gap} ms after the 491 (timer ${ms} ms: 0-2 s, the Call-ID is the caller's)" ||
    fail "callee glare interval: timer ${ms:-none} ms, gap ${gap:-none} ms"
else
  fail "callee glare: no 200 after the 491" "$(grep -E '"update"|"glare"' "$T/cal.events" | tail -3)"
fi
timeout 30 tail --pid="$sp" -f /dev/null
read -r rc ok <"$T/cglare.rc"
[ "$rc" = 0 ] && [ "$ok" = 1 ] && pass "sipp caller: two UPDATEs with an offer, 491 then 200; BYE" ||
  fail "sipp caller glare: exit $rc" "$(grep -iE 'unexpected|regexp|fail' "$T/cglare.out" | head -3)"
stop cal || fail "cal exit" "$(err_report "$T/cal.err")"

# ---- the control command ----
cmd al update bogus
wait_ev al '"event":"error","command":"update".*nosdp.*got .bogus' 5 && pass "'update bogus': refused, the usage named" ||
  fail "update bogus" "$(grep '"command":"update"' "$T/al.events" | tail -1)"
cmd al update
wait_ev al '"event":"error","command":"update".*no call is up' 5 && pass "'update' with no call: refused" ||
  fail "update without call" "$(grep '"command":"update"' "$T/al.events" | tail -1)"
stop al || fail "al exit" "$(err_report "$T/al.err")"

# ---- ua.offer_file ----
printf 'v=0\r\no=file 7 7 IN IP4 127.0.0.1\r\ns=offer-file\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n' >"$T/offer.sdp"
printf 'this is not SDP\n' >"$T/junk.sdp"
expect_rc "ua.offer_file not SDP: the start fails" 1 timeout 10 "$SIPFLOW" run ua.xml --listen udp:127.0.0.1:0 "${UA[@]}" --set "ua.offer_file=$T/junk.sdp"
grep -q "ua.offer_file: '$T/junk.sdp' is not SDP" "$T/err" && pass "... naming the key and the file" || fail "offer_file error" "$(head -3 "$T/err")"
expect_rc "ua.offer_file missing: the start fails" 1 timeout 10 "$SIPFLOW" run ua.xml --listen udp:127.0.0.1:0 "${UA[@]}" --set "ua.offer_file=$T/none.sdp"
grep -q "ua.offer_file: '$T/none.sdp' is not a file" "$T/err" && pass "... naming the key and the file" || fail "offer_file error" "$(head -3 "$T/err")"
start of ua.xml "${UA[@]}" --set ua.uri=sip:alice@127.0.0.1 --set "ua.offer_file=$T/offer.sdp" || exit 1
if sipp_server offer -sf "$SCEN/uas-update.xml" -m 1 -trace_msg -message_file "$T/offer.msg"; then
  cmd of call "sip:bob@127.0.0.1:$SIPP_PORT"
  wait_ev of '"to":"InCall"' 5 && cmd of update
  wait_ev of '"event":"update".*"result":"accepted"' 5 && cmd of update
  wait_ev of '"event":"update".*"result":"refused"' 5 && cmd of update nosdp
  wait_ev of '"event":"update".*"result":"accepted"' 5 2 && cmd of hangup
  wait_ev of '"event":"call_end"' 5
  sipp_server_wait offer
  [ "$(grep -c '^s=offer-file' "$T/offer.msg")" = 3 ] && [ "$(grep -c '^INVITE \|^UPDATE ' "$T/offer.msg")" = 4 ] &&
    pass "ua.offer_file: the INVITE and both UPDATE offers carried the file's SDP (s=offer-file), as it is" ||
    fail "offer_file on the wire: $(grep -c '^s=offer-file' "$T/offer.msg") offers" "$(grep -E '^(INVITE|UPDATE|s=)' "$T/offer.msg")"
else
  fail "sipp (offer_file) did not start"
fi
stop of || fail "of exit"

for u in bob eve al cal of; do
  [ -f "$T/$u.err" ] && ! grep -q -E 'CRITICAL|runtime error|AddressSanitizer|LeakSanitizer' "$T/$u.err" &&
    pass "$u: no critical log, no sanitizer report" || fail "$u: stderr" "$(grep -m3 -E 'CRITICAL|runtime error|Sanitizer' "$T/$u.err")"
done

# ---- with 100rel (RFC 3262): offers in the early dialog ----
# The early-dialog offers RFC 3311 5.1 allows once a reliable answer completed
# the first exchange: sipp calls with Require: 100rel, our UA's reliable 18x
# carries the answer, sipp PRACKs, then UPDATEs with an offer: 200 with SDP.
start rel ua.xml "${UA[@]}" --set ua.uri=sip:bob@127.0.0.1 --set ua.100rel=supported || fail "ua.100rel=supported: the UA did not start"
if [ -n "${PORT_rel:-}" ]; then
  ( sipp_run rel1 "127.0.0.1:$PORT_rel" -sf "$SCEN/uac-update-100rel.xml" -s bob -m 1
    echo "$SIPP_RC ${OK:-0}" >"$T/rel1.rc" ) &
  sp=$!
  wait_ev rel '"event":"update".*"dir":"in","offer":true,"status":200' 10 &&
    pass "100rel: an UPDATE offer after our reliable answer, in the early dialog: 200 with SDP" ||
    fail "100rel: UPDATE offer in the early dialog" "$(grep '"update"' "$T/rel.events")"
  cmd rel answer
  timeout 30 tail --pid="$sp" -f /dev/null
  read -r rc ok <"$T/rel1.rc"
  [ "$rc" = 0 ] && [ "$ok" = 1 ] && pass "100rel: sipp caller (PRACK, UPDATE, answer, BYE) satisfied" ||
    fail "100rel: sipp caller exit $rc" "$(grep -iE 'unexpected|regexp|fail' "$T/rel1.out" | head -3)"
  stop rel || fail "rel exit"
fi
start rel2 ua.xml "${UA[@]}" --set ua.uri=sip:alice@127.0.0.1 --set ua.100rel=supported ||
  fail "ua.100rel=supported: the UA did not start (UAC)"
if [ -n "${PORT_rel2:-}" ] && sipp_server rel2s -sf "$SCEN/uas-update-100rel.xml" -m 1; then
  cmd rel2 call "sip:bob@127.0.0.1:$SIPP_PORT"
  wait_ev rel2 '"to":"RingBack"' 5
  # the PRACK of the reliable 183 completes the first exchange: then our UPDATE may offer
  wait_ev rel2 '"event":"media".*"state":"early"' 5 && cmd rel2 update
  wait_ev rel2 '"event":"update".*"dir":"out","offer":true,"status":200,"result":"accepted"' 5 &&
    pass "100rel: our UPDATE offer in the early dialog after the reliable answer: 200" ||
    fail "100rel: our early UPDATE" "$(grep -E '"update"|"error"' "$T/rel2.events")"
  wait_ev rel2 '"to":"InCall"' 10 && cmd rel2 hangup
  sipp_server_wait rel2s
  [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "100rel: sipp callee (183 reliable, PRACK, UPDATE, 200) satisfied" ||
    fail "100rel: sipp callee exit $SIPP_RC" "$(grep -iE 'unexpected|regexp|fail' "$T/rel2s.out" | head -3)"
  stop rel2 || fail "rel2 exit"
fi

summary update.sh
