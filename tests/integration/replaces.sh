#!/bin/bash
# replaces.sh: Replaces (RFC 3891) at the transfer target: our UA (bob) and
# sipp peers on loopback, bounded; the peers learn the dialog to name from
# bob's events (core.messages = full: bob's tag in the To of its 2xx or 180).
#  - replaced (sipp/uac-replaces-alice.xml, sipp/uac-replaces-carol.xml):
#    alice calls bob, the call is up; carol's INVITE with Replaces naming it
#    (to-tag bob's tag, from-tag alice's) and Require: replaces is answered
#    200 at once (no 180, no answer command, ua.auto_answer off), alice gets
#    bob's BYE (call_end reason replaced), the events name the call replaced;
#  - refused (sipp/uac-replaces-refused.xml), while alice's call is up, which
#    goes on: 481 for no such dialog, 400 for two Replaces and for a malformed
#    one (the reason phrase names it), 486 for early-only on the confirmed
#    dialog, 481 for the dialog with the tags swapped; once replaced, while
#    our BYE waits for alice's 200 (3 s), 603 for the dialog ending;
#  - a ringing call (sipp/uac-replaces-ringing.xml): an early dialog bob did
#    not initiate: 481, it rings on;
#  - our early call (two sipflow UAs): bob calls ann, who rings; carol's INVITE
#    names bob's early dialog: answered 200, bob CANCELs its INVITE (ann:
#    call_end cancelled; bob: replaced);
#  - Replaces in a BYE (alice's dialog) and in an OPTIONS: 400 naming it, the
#    call goes on (RFC 3891 3);
#  - attacks: a replacing INVITE whose offer bob cannot take gets 488 and the
#    old call stays (RFC 3891 3); then three INVITEs naming one dialog back to
#    back (ua.max_calls 1): one replaces it, two get 603; eve's 312 OPTIONS do
#    not reveal bob's next tag, nor his next call's Call-ID and From tag
#    (tagpredict.py: a Mersenne Twister's state from its outputs; RFC 3261
#    19.3 wants tags cryptographically random);
#  - ua.replaces = off: Require: replaces gets 420; without it the header is
#    ignored (the INVITE rings as any other), and an OPTIONS with one gets
#    200; on: our INVITEs say Supported: replaces (OPTIONS: prack.sh).
. "$(dirname "$0")/lib.sh"
need_sipp
SCEN=$(cd "$(dirname "$0")/sipp" && pwd)
UA=(--set media.backend=null --set sip.t1_ms=100 --set core.messages=full --set ua.uri=sip:bob@127.0.0.1)

# our_tag NAME CALLID: NAME's tag in the dialog of CALLID (the To tag of a
# response it sent, or the From tag of its INVITE).
our_tag() {
  grep '"event":"sip_out"' "$T/$1.events" | grep -F -- "Call-ID: $2" | grep -o "$3: [^\\\\]*" |
    grep -o ';tag=[^;\\]*' | head -1 | cut -d= -f2
}
# peer_tag NAME CALLID HEADER: the tag of HEADER in a request or response NAME got in CALLID.
peer_tag() {
  grep '"event":"sip_in"' "$T/$1.events" | grep -F -- "Call-ID: $2" | grep -o "$3: [^\\\\]*" |
    grep -o ';tag=[^;\\]*' | head -1 | cut -d= -f2
}
# call_id_of NAME CALL: the Call-ID of NAME's call CALL.
call_id_of() { grep -m1 "\"call\":\"$2\".*\"call_id\":" "$T/$1.events" | sed 's/.*"call_id":"\([^"]*\)".*/\1/'; }

# refused UA NAME REPLACES EXTRA: sipp's INVITE with Replaces REPLACES (and the
# header line EXTRA) to UA; sets STATUS to UA's answer (its replaces_refused event).
refused() {
  local ua=$1 before port
  shift
  eval "port=\$PORT_$ua"
  before=$(count "$ua" '"event":"replaces_refused"')
  sipp_run "$1" "127.0.0.1:$port" -sf "$SCEN/uac-replaces-refused.xml" -s bob -m 1 -key replaces "$2" -key extra "$3" -key require "Require: replaces"
  STATUS=
  if [ "$SIPP_RC" = 0 ] && wait_ev "$ua" '"event":"replaces_refused"' 5 $((before + 1)); then
    STATUS=$(grep '"event":"replaces_refused"' "$T/$ua.events" | tail -1 | sed 's/.*"status":\([0-9]*\).*/\1/')
  fi
}

# ---- replaced: a confirmed dialog ----
start bob ua.xml "${UA[@]}" --set ua.auto_answer=0 || exit 1
sipp_server alice "127.0.0.1:$PORT_bob" -sf "$SCEN/uac-replaces-alice.xml" -s bob -m 1 || fail "alice's sipp did not start"
wait_ev bob '"event":"state".*"to":"InCall"' 10 || fail "alice's call is not up" "$(tail -3 "$T/bob.events")"
A=$(last_call bob)
CID=$(call_id_of bob "$A")
BOB_TAG=$(our_tag bob "$CID" To)
ALICE_TAG=$(peer_tag bob "$CID" From)
[ -n "$CID" ] && [ -n "$BOB_TAG" ] && [ -n "$ALICE_TAG" ] && pass "alice's call $A is up: $CID, tags $BOB_TAG / $ALICE_TAG" ||
  fail "alice's dialog" "call $A, Call-ID '$CID', tags '$BOB_TAG' '$ALICE_TAG'"
grep '"event":"sip_out"' "$T/bob.events" | grep -F "Call-ID: $CID" | grep -q 'Allow: ' && pass "... bob's 2xx" || fail "bob's 2xx"

refused bob nomatch "nosuch@127.0.0.1;to-tag=$BOB_TAG;from-tag=$ALICE_TAG" "X-Test: nomatch"
[ "$STATUS" = 481 ] && pass "Replaces naming no dialog: 481" || fail "no dialog: status '$STATUS', sipp $SIPP_RC" "$(tail -3 "$T/nomatch.out")"
refused bob swapped "$CID;to-tag=$ALICE_TAG;from-tag=$BOB_TAG" "X-Test: swapped"
[ "$STATUS" = 481 ] && pass "Replaces with the tags swapped (to-tag must be ours): 481" || fail "swapped tags: status '$STATUS'"
refused bob two "$CID;to-tag=$BOB_TAG;from-tag=$ALICE_TAG" "Replaces: $CID;to-tag=$BOB_TAG;from-tag=$ALICE_TAG"
[ "$STATUS" = 400 ] && grep -q '"event":"sip_out".*SIP/2.0 400 Bad Request (more than one Replaces)' "$T/bob.events" &&
  pass "two Replaces: 400 naming it" || fail "two Replaces: status '$STATUS'" "$(grep -o 'SIP/2.0 400[^\\]*' "$T/bob.events" | tail -1)"
refused bob bad "$CID;to-tag=$BOB_TAG" "X-Test: malformed"
[ "$STATUS" = 400 ] && grep -q '"event":"sip_out".*SIP/2.0 400 Bad Replaces (no from-tag)' "$T/bob.events" &&
  pass "a malformed Replaces (no from-tag): 400 Bad Replaces (no from-tag)" ||
  fail "malformed Replaces: status '$STATUS'" "$(grep -o 'SIP/2.0 400[^\\]*' "$T/bob.events" | tail -1)"
refused bob early "$CID;to-tag=$BOB_TAG;from-tag=$ALICE_TAG;early-only" "X-Test: early-only"
[ "$STATUS" = 486 ] && pass "early-only naming the confirmed dialog: 486" || fail "early-only: status '$STATUS'"
[ "$(count bob '"event":"call_end"')" = 5 ] && [ "$(count bob "\"event\":\"call_end\".*\"call\":\"$A\"")" = 0 ] &&
  pass "... five refused calls ended, alice's call goes on" || fail "after the refusals" "$(grep call_end "$T/bob.events")"

# Replaces in a request other than INVITE (RFC 3891 3): 400; a BYE in alice's
# dialog carrying one does not end the call, an OPTIONS gets no 200
cat >"$T/bye-replaces.sip" <<SIP
BYE sip:bob@127.0.0.1:$PORT_bob SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKbyerep{n}
From: <sip:alice@127.0.0.1>;tag=$ALICE_TAG
To: <sip:bob@127.0.0.1>;tag=$BOB_TAG
Call-ID: $CID
CSeq: 99 BYE
Replaces: $CID;to-tag=$BOB_TAG;from-tag=$ALICE_TAG
Max-Forwards: 70
SIP
sed -e 's/^BYE /OPTIONS /' -e 's/^CSeq: 99 BYE/CSeq: 1 OPTIONS/' -e 's/^Call-ID: .*/Call-ID: {cid}/' -e 's/^To: \(.*\);tag=.*/To: \1/' \
  "$T/bye-replaces.sip" >"$T/options-replaces.sip"
BYE_ST=$(timeout 30 python3 "$(dirname "$0")/sipcat.py" send "127.0.0.1:$PORT_bob" "$T/bye-replaces.sip" --timeout 5)
OPT_ST=$(timeout 30 python3 "$(dirname "$0")/sipcat.py" send "127.0.0.1:$PORT_bob" "$T/options-replaces.sip" --timeout 5)
[ "$BYE_ST" = 400 ] && [ "$OPT_ST" = 400 ] && grep -q 'SIP/2.0 400 Bad Request (Replaces in a request other than INVITE)' "$T/bob.events" &&
  [ "$(count bob "\"event\":\"call_end\".*\"call\":\"$A\"")" = 0 ] &&
  pass "Replaces in a BYE and in an OPTIONS: 400 naming it, alice's call goes on" || fail "Replaces outside an INVITE" "BYE $BYE_ST, OPTIONS $OPT_ST"

sipp_run carol "127.0.0.1:$PORT_bob" -sf "$SCEN/uac-replaces-carol.xml" -s bob -m 1 -key callid "$CID" -key totag "$BOB_TAG" -key fromtag "$ALICE_TAG"
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "carol's INVITE with Replaces: 200 at once (no 180), ACK, BYE" ||
  fail "carol: sipp exit $SIPP_RC" "$(grep -iE 'unexpected|regexp|fail|abort' "$T/carol.out" | head -3)"
refused bob ending "$CID;to-tag=$BOB_TAG;from-tag=$ALICE_TAG" "X-Test: ending"
[ "$STATUS" = 603 ] && pass "Replaces naming the replaced call while its BYE waits for the 200: 603" ||
  fail "the dialog ending: status '$STATUS'" "$(grep -E 'replaces_refused' "$T/bob.events" | tail -1)"
sipp_server_wait alice
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "alice got bob's BYE" || fail "alice: sipp exit $SIPP_RC" "$(tail -3 "$T/alice.out")"
C=$(grep -m1 '"event":"incoming".*"replaces":' "$T/bob.events" | sed 's/.*"call":"\([a-z0-9]*\)".*/\1/')
[ -n "$C" ] && [ "$C" != "$A" ] && grep -q "\"event\":\"incoming\".*\"call\":\"$C\".*\"replaces\":\"$A\"" "$T/bob.events" &&
  grep -q "\"event\":\"replaced\".*\"replaces\":\"$A\",\"action\":\"bye\"" "$T/bob.events" &&
  pass "events: incoming $C replaces $A, replaced (bye)" || fail "replacing events" "$(grep -E '"incoming"|"replaced"' "$T/bob.events")"
wait_ev bob "\"event\":\"call_end\".*\"reason\":\"replaced\".*\"call\":\"$A\"|\"event\":\"call_end\".*\"call\":\"$A\".*\"reason\":\"replaced\"" 5 &&
  pass "alice's call ended: call_end reason replaced" || fail "alice's call_end" "$(grep call_end "$T/bob.events" | tail -3)"
wait_ev bob "\"event\":\"call_end\".*\"reason\":\"remote_bye\"" 5 && [ "$(states bob "$C")" = "Ringing Answered InCall CallEnded " ] &&
  pass "carol's call: Ringing Answered InCall CallEnded, ended by carol's BYE" || fail "carol's call" "states: $(states bob "$C")"
CCID=$(call_id_of bob "$C")
grep '"event":"sip_out"' "$T/bob.events" | grep -F "Call-ID: $CCID" | grep -q 'SIP/2.0 200 OK' &&
  ! grep '"event":"sip_out"' "$T/bob.events" | grep -F "Call-ID: $CCID" | grep -q 'SIP/2.0 18' &&
  pass "... and no 1xx went to carol, only the 200" || fail "carol's responses" "$(grep -F "Call-ID: $CCID" "$T/bob.events" | grep -o 'SIP/2.0 [0-9]*' | head)"
stop bob || fail "bob exit" "$(err_report "$T/bob.err")"

# ---- a ringing call: an early dialog bob did not initiate ----
start bobr ua.xml "${UA[@]}" || exit 1
sipp_server ring "127.0.0.1:$PORT_bobr" -sf "$SCEN/uac-replaces-ringing.xml" -s bob -m 1 || fail "ringing sipp did not start"
wait_ev bobr '"event":"state".*"to":"Ringing"' 10 || fail "the call does not ring"
R=$(last_call bobr)
RCID=$(call_id_of bobr "$R")
refused bobr early-in "$RCID;to-tag=$(our_tag bobr "$RCID" To);from-tag=$(peer_tag bobr "$RCID" From)" "X-Test: ringing"
[ "$STATUS" = 481 ] && pass "Replaces naming our ringing call (an early dialog we did not initiate): 481" || fail "ringing: status '$STATUS'"
[ "$(count bobr "\"event\":\"call_end\".*\"call\":\"$R\"")" = 0 ] && cmd bobr reject "$R" 486 && sipp_server_wait ring &&
  [ "$SIPP_RC" = 0 ] && pass "... it rang on, then rejected 486" || fail "the ringing call" "sipp $SIPP_RC"
stop bobr || fail "bobr exit" "$(err_report "$T/bobr.err")"

# ---- our early call: replaced, CANCELled ----
start ann ua.xml --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:ann@127.0.0.1 || exit 1
start bobe ua.xml "${UA[@]}" || exit 1
cmd bobe call "sip:ann@127.0.0.1:$PORT_ann"
wait_ev bobe '"event":"state".*"to":"RingBack"' 10 || fail "ann does not ring"
O=$(grep -m1 '"event":"state".*"to":"Trying"' "$T/bobe.events" | sed 's/.*"call":"\([a-z0-9]*\)".*/\1/')
OCID=$(call_id_of bobe "$O")
OUR=$(our_tag bobe "$OCID" From)
ANN=$(peer_tag bobe "$OCID" To)
sipp_run carol2 "127.0.0.1:$PORT_bobe" -sf "$SCEN/uac-replaces-carol.xml" -s bob -m 1 -key callid "$OCID" -key totag "$OUR" -key fromtag "$ANN"
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "Replaces naming our early call ($OCID, $OUR / $ANN): 200 at once" ||
  fail "carol2: sipp exit $SIPP_RC" "$(grep -iE 'unexpected|regexp|fail|abort' "$T/carol2.out" | head -3)"
wait_ev bobe "\"event\":\"call_end\".*\"call\":\"$O\".*\"reason\":\"replaced\"|\"event\":\"call_end\".*\"reason\":\"replaced\".*\"call\":\"$O\"" 5 &&
  grep -q "\"event\":\"replaced\".*\"action\":\"cancel\"" "$T/bobe.events" && grep '"event":"sip_out"' "$T/bobe.events" | grep -q "CANCEL sip:ann" &&
  pass "... our INVITE to ann CANCELled, call_end reason replaced" || fail "our early call" "$(grep -E 'call_end|"replaced"' "$T/bobe.events")"
wait_ev ann '"event":"call_end".*"reason":"cancelled"' 5 && pass "... ann: call_end cancelled" || fail "ann" "$(grep call_end "$T/ann.events")"
stop bobe || fail "bobe exit" "$(err_report "$T/bobe.err")"
stop ann || fail "ann exit" "$(err_report "$T/ann.err")"

# ---- a burst of replacing INVITEs for one call (attack) ----
# mallory knows alice's dialog and sends three INVITEs naming it back to back,
# before bob answered the first: one takes the call, the others get 603 (the
# dialog is being replaced), never three calls answered past ua.max_calls
# (=1 here) with the old one ended once.
start bobx ua.xml "${UA[@]}" --set ua.auto_answer=0 --set ua.max_calls=1 || exit 1
sipp_server alicex "127.0.0.1:$PORT_bobx" -sf "$SCEN/uac-replaces-alice.xml" -s bob -m 1 || fail "alice's sipp did not start"
wait_ev bobx '"event":"state".*"to":"InCall"' 10 || fail "alice's call is not up" "$(tail -3 "$T/bobx.events")"
X=$(last_call bobx)
XCID=$(call_id_of bobx "$X")
cat >"$T/burst.sip" <<SIP
INVITE sip:bob@127.0.0.1:$PORT_bobx SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKburst{n}
From: <sip:mallory@127.0.0.1>;tag=m{n}
To: <sip:bob@127.0.0.1>
Call-ID: {cid}
CSeq: 1 INVITE
Contact: <sip:mallory@127.0.0.1:{port}>
Replaces: $XCID;to-tag=$(our_tag bobx "$XCID" To);from-tag=$(peer_tag bobx "$XCID" From)
Max-Forwards: 70
Content-Type: application/sdp

v=0
o=m 1 1 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 6006 RTP/AVP 0
SIP
# first one whose offer bob cannot take: 488, and the dialog is not taken (RFC
# 3891 3: a replacing INVITE that cannot be accepted leaves the old call)
sed 's/^m=audio 6006 RTP\/AVP 0$/m=audio 6006 RTP\/AVP 99\na=rtpmap:99 NOSUCH\/8000/' "$T/burst.sip" >"$T/bad488.sip"
[ "$(timeout 30 python3 "$(dirname "$0")/sipcat.py" send "127.0.0.1:$PORT_bobx" "$T/bad488.sip" --timeout 5)" = 488 ] &&
  [ "$(count bobx "\"event\":\"call_end\".*\"call\":\"$X\"")" = 0 ] &&
  pass "a replacing INVITE with an offer bob cannot take: 488, alice's call stays" ||
  fail "the 488" "$(grep -E 'call_end|sdp_refused' "$T/bobx.events")"
timeout 30 python3 "$(dirname "$0")/sipcat.py" send "127.0.0.1:$PORT_bobx" "$T/burst.sip" --count 3 --timeout 0 >"$T/burst.out" 2>&1
wait_ev bobx '"event":"replaces_refused"' 5 2
wait_ev bobx '"event":"replaced"' 5
[ "$(count bobx '"event":"incoming".*"replaces":')" = 1 ] && [ "$(count bobx '"event":"replaces_refused".*"status":603')" = 2 ] &&
  [ "$(count bobx '"event":"replaced"')" = 1 ] &&
  pass "three replacing INVITEs back to back: one replaces the call, two get 603" ||
  fail "the burst" "$(grep -E '"incoming"|"replaced"|replaces_refused' "$T/bobx.events")"
sipp_server_wait alicex
stop bobx || fail "bobx exit" "$(err_report "$T/bobx.err")"

# ---- guessing a dialog (attack, RFC 3891 8; RFC 3261 19.3) ----
# eve sees no signalling; she sends 312 OPTIONS, and if bob's tags came from
# a Mersenne Twister (GLib's g_random_int) their 624 words give its state:
# she would know bob's next tag, and the Call-ID and From tag of his next call
# (what a Replaces names, with the peer's tag), before it is made.
start bobp ua.xml "${UA[@]}" || exit 1
GUESS=$(timeout 60 python3 "$(dirname "$0")/tagpredict.py" "127.0.0.1:$PORT_bobp" "$T/future")
[ "$GUESS" = unpredicted ] && pass "bob's tags cannot be predicted from 312 earlier ones" || fail "tag prediction: '$GUESS'"
cmd bobp call "sip:nobody@127.0.0.1:9"
wait_ev bobp '"event":"sip_out".*INVITE sip:nobody' 5
PCID=$(grep -m1 '"event":"sip_out".*INVITE sip:nobody' "$T/bobp.events" | grep -o 'Call-ID: [0-9a-f]*' | cut -d' ' -f2)
PTAG=$(grep -m1 '"event":"sip_out".*INVITE sip:nobody' "$T/bobp.events" | grep -o 'From: [^\\]*' | grep -o 'tag=[0-9a-f]*' | cut -d= -f2)
GUESSED=0
for w in $(echo "$PCID$PTAG" | fold -w 8); do grep -qx "$w" "$T/future" 2>/dev/null && GUESSED=$((GUESSED + 1)); done
[ ${#PCID} = 32 ] && [ ${#PTAG} = 16 ] && [ "$GUESSED" = 0 ] &&
  pass "... nor the Call-ID and From tag of his next call ($PCID, $PTAG)" ||
  fail "the next call's identifiers" "Call-ID '$PCID', tag '$PTAG', $GUESSED words of them predicted"
cmd bobp hangup
stop bobp || fail "bobp exit" "$(err_report "$T/bobp.err")"

# ---- ua.replaces = off; Supported ----
start bobo ua.xml "${UA[@]}" --set ua.replaces=off || exit 1
sipp_server off "127.0.0.1:$PORT_bobo" -sf "$SCEN/uac-replaces-ringing.xml" -s bob -m 1 || fail "sipp did not start"
wait_ev bobo '"event":"state".*"to":"Ringing"' 10 || fail "the call does not ring"
R=$(last_call bobo)
RCID=$(call_id_of bobo "$R")
sipp_run off420 "127.0.0.1:$PORT_bobo" -sf "$SCEN/uac-replaces-refused.xml" -s bob -m 1 \
  -key replaces "$RCID;to-tag=$(our_tag bobo "$RCID" To);from-tag=$(peer_tag bobo "$RCID" From)" -key extra "X-Test: off" -key require "Require: replaces"
[ "$SIPP_RC" != 0 ] && grep -q '"event":"sip_out".*SIP/2.0 420 Bad Extension.*Unsupported: replaces' "$T/bobo.events" &&
  [ "$(count bobo '"event":"replaces_refused"')" = 0 ] &&
  pass "ua.replaces = off: Require: replaces gets 420 Unsupported: replaces" || fail "off: 420" "$(grep -o 'SIP/2.0 4[0-9][0-9][^\\]*' "$T/bobo.events")"
# without Require: the header ignored, the INVITE rings (sipp's scenario, which
# wants a refusal, gives up on the 180)
sipp_run offign "127.0.0.1:$PORT_bobo" -sf "$SCEN/uac-replaces-refused.xml" -s bob -m 1 \
  -key replaces "$RCID;to-tag=$(our_tag bobo "$RCID" To);from-tag=$(peer_tag bobo "$RCID" From)" -key extra "X-Test: off" -key require "X-Require: none"
wait_ev bobo '"event":"incoming".*"from":"<sip:mallory@' 5 && ! grep -q '"event":"incoming".*"replaces":' "$T/bobo.events" &&
  [ "$(count bobo '"event":"replaces_refused"')" = 0 ] && [ "$(count bobo "\"event\":\"call_end\".*\"call\":\"$R\"")" = 0 ] &&
  pass "ua.replaces = off: without Require the header is ignored, the INVITE rings as any other" ||
  fail "off: ignored" "$(grep -E '"incoming"|call_end' "$T/bobo.events")"
sed "s/127\.0\.0\.1:$PORT_bob SIP/127.0.0.1:$PORT_bobo SIP/" "$T/options-replaces.sip" >"$T/options-off.sip"
OPT_ST=$(timeout 30 python3 "$(dirname "$0")/sipcat.py" send "127.0.0.1:$PORT_bobo" "$T/options-off.sip" --timeout 5)
[ "$OPT_ST" = 200 ] && pass "ua.replaces = off: an OPTIONS with Replaces is answered as any (200)" || fail "off: OPTIONS $OPT_ST"
cmd bobo reject "$R" 486 && sipp_server_wait off
stop bobo || fail "bobo exit" "$(err_report "$T/bobo.err")"

start bobs ua.xml "${UA[@]}" || exit 1
cmd bobs call "sip:nobody@127.0.0.1:9"
wait_ev bobs '"event":"sip_out".*INVITE sip:nobody' 5 && grep '"event":"sip_out".*INVITE sip:nobody' "$T/bobs.events" | grep -q 'Supported: [^\\]*replaces' &&
  pass "our INVITE says Supported: ... replaces" || fail "our INVITE's Supported" "$(grep -o 'Supported: [^\\]*' "$T/bobs.events" | head -2)"
cmd bobs hangup
stop bobs || fail "bobs exit" "$(err_report "$T/bobs.err")"

summary replaces.sh
