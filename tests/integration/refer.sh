#!/bin/bash
# refer.sh: REFER (RFC 3515) with norefersub (RFC 4488), call transfer (RFC
# 5589), our UA (xml/ua.xml; the implicit subscription in
# xml/subscription.xml) on loopback, bounded:
#  1. sipp transferors (tests/integration/sipp/refer-uac-*.xml) against bob,
#     whose ua.uri is sip:bob@host.invalid: a target in another domain 403
#     (ua.refer same_domain, the default), two Refer-To 400, a malformed one
#     400, method=BYE 501, a bad Refer-Sub 400, a Replaces with CR LF 400, none
#     400, our host with a foreign maddr 403 (same_domain); ua.refer=off: 403 naming the policy; accepted: 202 (Supported:
#     norefersub), NOTIFY 100 Trying active, then the referred call's final
#     status (host.invalid cannot be reached: 503) terminated;reason=noresource;
#     Refer-Sub: false: 202 with Refer-Sub: false and no NOTIFY; a REFER
#     outside a dialog 403;
#  2. a sipp transferee (refer-uas.xml) takes our 'transfer CALL URI': 202,
#     NOTIFY 100 then 200: our UA BYEs the call (call_end reason transferred);
#     with a final 486 the call stays; the command refuses CALL2 = CALL, a
#     CALL2 that is no call, a URI with headers;
#  3. three sipflow UAs with GStreamer audio: alice calls bob, 'transfer' bob to
#     carol (blind): bob's new call (Referred-By) reaches carol, alice's call
#     ends (transferred); bob and carol hear each other's tones afterwards.
. "$(dirname "$0")/lib.sh"
need_sipp
SCEN=$(cd "$(dirname "$0")/sipp" && pwd)

sipp_ok() { # sipp_ok NAME DESC: the foreground sipp NAME passed
  if [ "$SIPP_RC" = 0 ]; then pass "$2"; else fail "$2: sipp exit $SIPP_RC" "$(grep -v '^$' "$T/$1.out" | tail -6)"; fi
}

common=(--set media.backend=null --set sip.t1_ms=100 --set ua.auto_answer=0)
# ---- 1. transferee: refusals, policy, acceptance, norefersub ----
start tee ua.xml "${common[@]}" --set ua.uri=sip:bob@host.invalid || exit 1
start boff ua.xml "${common[@]}" --set ua.uri=sip:boff@host.invalid --set ua.refer=off || exit 1

sipp_run refused "127.0.0.1:$PORT_tee" -sf "$SCEN/refer-uac-refused.xml" -s bob -m 1
sipp_ok refused "REFER refused: a foreign host 403 (same_domain), two Refer-To 400, malformed 400, method=BYE 501, bad Refer-Sub 400, a CR LF Replaces 400, no Refer-To 400, a foreign maddr 403"
[ "$(count tee '"event":"transfer".*"role":"transferee","state":"refused"')" = 8 ] &&
  pass "each refusal is a transfer event (refused, the status, the reason)" ||
  fail "refusal events" "$(grep '"event":"transfer"' "$T/tee.events")"
[ "$(count tee '"event":"incoming"')" = 1 ] && ! grep -q '"event":"call_end".*"referred_by"' "$T/tee.events" &&
  pass "no refused REFER made a call" || fail "a refused REFER made a call"

sipp_run off "127.0.0.1:$PORT_boff" -sf "$SCEN/refer-uac-off.xml" -s boff -m 1
sipp_ok off "ua.refer=off: a REFER to our own domain gets 403 naming the policy"

sipp_run accept "127.0.0.1:$PORT_tee" -sf "$SCEN/refer-uac-accept.xml" -s bob -m 1
sipp_ok accept "REFER accepted: 202, NOTIFY 100 Trying (active, Event id the CSeq, sipfrag), final NOTIFY 503 terminated;reason=noresource; Refer-Sub: false: 202 with Refer-Sub: false and no NOTIFY"
wait_ev tee '"event":"call_end".*"referred_by":"<sip:sipp@127.0.0.1>"' 5 &&
  pass "the referred call's call_end names the REFER's Referred-By" ||
  fail "referred call" "$(grep call_end "$T/tee.events")"
wait_ev tee '"event":"subscription".*"state":"terminated","package":"refer"' 5 &&
  pass "the notifier's subscription ended after its final NOTIFY" ||
  fail "notifier not ended" "$(grep subscription "$T/tee.events")"
[ "$(count tee '"event":"transfer".*"role":"transferee","state":"accepted"')" = 2 ] &&
  grep -q '"event":"transfer".*"state":"accepted".*"subscription":null' "$T/tee.events" &&
  pass "two transfer accepted events, the Refer-Sub: false one without subscription" ||
  fail "accepted events" "$(grep '"event":"transfer"' "$T/tee.events")"

# a REFER outside a dialog: 403 (sipcat sends it raw)
sipcat() { timeout 60 python3 "${SF_SRCDIR:-$PWD}/tests/integration/sipcat.py" "$@"; }
{
  printf 'REFER sip:bob@127.0.0.1:%s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{cid}\n' "$PORT_tee"
  printf 'Max-Forwards: 70\nFrom: <sip:probe@127.0.0.1>;tag=p{n}\nTo: <sip:bob@host.invalid>\n'
  printf 'Call-ID: {cid}\nCSeq: 1 REFER\nContact: <sip:probe@127.0.0.1:{port}>\nRefer-To: <sip:carol@host.invalid>\n'
  printf 'Content-Length: 0\n\n'
} >"$T/ood.sip"
if sipcat send "127.0.0.1:$PORT_tee" "$T/ood.sip" --show >"$T/ood.out" 2>&1; then
  grep -q "SIP/2.0 403 REFER outside a dialog is not accepted" "$T/ood.out" &&
    pass "a REFER outside a dialog: 403" || fail "out-of-dialog REFER" "$(head -3 "$T/ood.out")"
else
  fail "sipcat" "$(tail -3 "$T/ood.out")"
fi

# OPTIONS' Allow lists REFER, Allow-Events refer
stop boff || fail "boff exit status (ASan)"

# ---- 2. transferor against a sipp transferee ----
start tor ua.xml "${common[@]}" --set ua.uri=sip:alice@127.0.0.1 || exit 1
for frag in "200 OK" "486 Busy Here"; do
  if sipp_server "uas${frag%% *}" -sf "$SCEN/refer-uas.xml" -m 1 -key frag "$frag"; then
    ends=$(count tor '"event":"call_end"')
    cmd tor call "sip:bob@127.0.0.1:$SIPP_PORT"
    wait_ev tor '"event":"state".*"to":"InCall"' 5 $((ends + 1)) || fail "tor's call to sipp"
    call=$(grep '"to":"InCall"' "$T/tor.events" | tail -1 | sed 's/.*"call":"\([a-z0-9]*\)".*/\1/')
    cmd tor transfer "$call" sip:carol@127.0.0.1:5999
    code=${frag%% *}
    if [ "$code" = 200 ]; then # a second transfer of the call while the first is in progress
      cmd tor transfer "$call" sip:dave@127.0.0.1:5999
      wait_ev tor '"event":"error","command":"transfer","message":"transfer: call '"$call"' has a transfer in progress' 5 &&
        pass "a second transfer of a call with one in progress: refused by the command" ||
        fail "second transfer" "$(grep '"command":"transfer"' "$T/tor.events")"
    fi
    if [ "$code" = 200 ]; then
      wait_ev tor "\"event\":\"call_end\".*\"call\":\"$call\"|\"call\":\"$call\".*\"event\":\"call_end\"" 8 &&
        grep "\"call\":\"$call\"" "$T/tor.events" | grep '"event":"call_end"' | grep -q '"reason":"transferred"' &&
        pass "transfer: NOTIFY 100 then 200: our UA ends the call with BYE (call_end reason transferred)" ||
        fail "transferred" "$(grep -E 'call_end|transfer' "$T/tor.events" | tail -4)"
      grep -q '"event":"transfer".*"role":"transferor","state":"accepted","transferred_call":"'"$call"'","status":202' "$T/tor.events" &&
        grep -q '"event":"transfer".*"state":"trying".*"status":100' "$T/tor.events" &&
        grep -q '"event":"transfer".*"state":"succeeded".*"status":200' "$T/tor.events" &&
        pass "transfer events: accepted 202, trying 100, succeeded 200" ||
        fail "transfer events" "$(grep '"event":"transfer"' "$T/tor.events")"
    else
      wait_ev tor '"event":"transfer".*"state":"failed".*"status":486' 8 &&
        pass "a failure sipfrag (486): a transfer event, failed" || fail "486 transfer" "$(grep transfer "$T/tor.events" | tail -3)"
      wait_ev tor '"event":"subscription".*"terminated"' 5 2
      [ "$(count tor '"event":"call_end"')" = "$ends" ] && cmd tor status &&
        wait_ev tor '"command":"status".*"state":"InCall"' 5 &&
        pass "after a failed transfer the call stays (InCall)" || fail "call did not stay"
      # the command refuses CALL2 = CALL, a CALL2 that is no call, and a URI with headers
      errs=$(count tor '"event":"error","command":"transfer"')
      cmd tor transfer "$call" "$call"
      cmd tor transfer "$call" c98
      cmd tor transfer "$call" "sip:carol@127.0.0.1?Route=%3Csip:evil.example%3E"
      wait_ev tor '"event":"error","command":"transfer"' 5 $((errs + 3)) &&
        grep -q '"message":"transfer: no other call .'"$call"'. that is up' "$T/tor.events" &&
        grep -q '"message":"transfer: no other call .c98. that is up' "$T/tor.events" &&
        grep -q '"message":"transfer: .sip:carol@127.0.0.1?Route=.* is not a sip: URI without headers' "$T/tor.events" &&
        [ "$(count tor '"event":"transfer".*"state":"referring"')" = 2 ] &&
        pass "transfer to the call itself, to no call, to a URI with headers: refused by the command, no REFER" ||
        fail "bad transfer commands" "$(grep '"command":"transfer"' "$T/tor.events" | tail -3)"
      cmd tor hangup
    fi
    sipp_server_wait "uas$code"
    [ "$SIPP_RC" = 0 ] && pass "sipp transferee ($frag) saw REFER (Refer-To, Referred-By, Contact) and our 200s, and a BYE" ||
      fail "sipp transferee $frag: exit $SIPP_RC" "$(grep -v '^$' "$T/uas$code.out" | tail -6)"
  else
    fail "sipp transferee did not start"
  fi
done
# a second transfer while one is in progress, and a call that is not up: the command says so
cmd tor transfer c99 sip:x@127.0.0.1
wait_ev tor '"event":"error","command":"transfer","message":"transfer: no call .c99. that is up"' 5 &&
  pass "transfer of a call that does not exist: refused by the command" ||
  fail "transfer c99" "$(grep '"command":"transfer"' "$T/tor.events" | tail -1)"
stop tor || fail "tor exit status (ASan)"
stop tee || fail "tee exit status (ASan)"

# ---- 3. three sipflow UAs: blind transfer with audio ----
free_ports 300 || { fail "no free ports"; exit 1; } # the UAs' RTP ports: tests run side by side
audio=(--set sip.t1_ms=100 --set media.backend=gstreamer --set media.codecs=PCMU --set ua.auto_answer=0)
start alice ua.xml "${audio[@]}" --set "media.rtp_ports=$BASE-$((BASE + 99))" --set ua.uri=sip:alice@127.0.0.1 \
  --set media.source=silence || exit 1
start bob ua.xml "${audio[@]}" --set "media.rtp_ports=$((BASE + 100))-$((BASE + 199))" --set ua.uri=sip:bob@127.0.0.1 \
  --set media.source=tone:440 --set "media.sink=file:$T/bob-{call}.wav" || exit 1
start carol ua.xml "${audio[@]}" --set "media.rtp_ports=$((BASE + 200))-$((BASE + 299))" --set ua.uri=sip:carol@127.0.0.1 \
  --set media.source=tone:1000 --set "media.sink=file:$T/carol-{call}.wav" || exit 1
cmd alice call "sip:bob@127.0.0.1:$PORT_bob"
if wait_ev alice '"event":"media".*"dir":"sendrecv"' 10 && wait_ev bob '"event":"media".*"dir":"sendrecv"' 10; then
  call=$(grep '"to":"InCall"' "$T/alice.events" | tail -1 | sed 's/.*"call":"\([a-z0-9]*\)".*/\1/')
  cmd alice transfer "$call" "sip:carol@127.0.0.1:$PORT_carol"
  wait_ev carol '"event":"incoming"' 10 && pass "bob's referred call reaches carol" ||
    fail "carol not called" "$(grep -E 'transfer|call_end' "$T/bob.events")"
  wait_ev alice '"event":"call_end".*"reason":"transferred"' 10 &&
    pass "alice's call ends: transferred (NOTIFY 200 from bob, then BYE)" ||
    fail "alice not transferred" "$(grep -E 'transfer|call_end|subscription' "$T/alice.events")"
  wait_ev bob '"event":"call_end".*"reason":"remote_bye"' 10 && pass "bob's call with alice ended by alice's BYE" ||
    fail "bob's first call" "$(grep call_end "$T/bob.events")"
  wait_ev carol '"event":"media".*"dir":"sendrecv"' 10 && wait_ev bob '"event":"media".*"dir":"sendrecv"' 10 2 &&
    pass "bob and carol have sendrecv media" || fail "bob-carol media"
  # two seconds of audio or more (100 packets of 20 ms) before the hang-up: asked by status, bounded
  rtp_enough() { cmd carol status; wait_ev carol '"command":"status".*"packets_received":[1-9][0-9][0-9]' 1; }
  retry 15 rtp_enough || fail "carol receives no RTP" "$(grep '"command":"status"' "$T/carol.events" | tail -1)"
  cmd carol hangup
  wait_ev bob '"event":"call_end".*"referred_by"' 10 && pass "bob's referred call ends with carol's BYE (call_end says referred_by)" ||
    fail "bob's referred call end" "$(grep call_end "$T/bob.events")"
  wait_ev carol '"event":"call_end"' 10
  # one recording per call (media.sink's {call}): carol's only call, bob's referred one
  rcall=$(grep '"event":"transfer".*"state":"accepted".*"referred_call"' "$T/bob.events" | sed 's/.*"referred_call":"\([a-z0-9]*\)".*/\1/')
  "$SIPFLOW" tone "$T/carol-$(last_call carol).wav" 440 >"$T/tone.out" 2>&1 && pass "carol heard bob's 440 Hz after the transfer ($(cat "$T/tone.out"))" ||
    fail "carol's recording" "$(cat "$T/tone.out")"
  "$SIPFLOW" tone "$T/bob-$rcall.wav" 1000 >"$T/tone.out" 2>&1 && pass "bob heard carol's 1000 Hz after the transfer ($(cat "$T/tone.out"))" ||
    fail "bob's recording" "$(cat "$T/tone.out")"
else
  fail "alice's call to bob" "$(tail -3 "$T/alice.err")" "$(tail -3 "$T/bob.err")"
fi
for u in alice bob carol; do stop $u || fail "$u exit status"; done
summary refer.sh
