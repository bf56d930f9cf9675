#!/bin/bash
# subscribe.sh: SUBSCRIBE/NOTIFY (RFC 6665) with message-summary (RFC 3842),
# our UA (xml/ua.xml, its subscription machine xml/subscription.xml) against
# sipp notifiers, on loopback, bounded:
#  - MWI: our SUBSCRIBE (Event, Accept, Expires 4, Contact: sipp checks them),
#    200, a NOTIFY active with a message-summary body: an mwi event (yes, the
#    account, 2 new, 8 old) and a notify event; the refresh SUBSCRIBE in the
#    dialog before the 4 s run out; a NOTIFY terminated;reason=noresource ends
#    it (no new subscription);
#  - a 481 to the refresh ends the subscription;
#  - a NOTIFY before the 200 (it makes the dialog) with a multipart/mixed body
#    (the message-summary part found); 'unsubscribe' sends Expires: 0 in the
#    dialog and the final NOTIFY ends it;
#  - a fork's NOTIFY (another From tag): 481; another Event id: 481; a
#    malformed body or Subscription-State: 400, no mwi;
#  - terminated;reason=deactivated: a new subscription at once (new Call-ID),
#    reason=rejected: none;
#  - a 489 to our SUBSCRIBE ends it; no final NOTIFY after our unsubscribe:
#    the 64*T1 guard ends it;
#  - a 401 to our SUBSCRIBE answered; a 500 to the refresh keeps the
#    subscription until its expiry timer ends it;
#  - limits: ua.max_subscriptions reached, an incoming SUBSCRIBE gets 503 with
#    Retry-After and one more 'subscribe' ends at once; the per-peer limit: 403;
#  - through ua.outbound_proxy: a loose Route, the Request-URI kept;
#  - a SUBSCRIBE to our UA for presence: 489 (Allow-Events: refer, the only
#    package served, REFER's); a bad Event or Expires: 400; NOTIFYs matching no subscription: 481;
#  - OPTIONS' Allow lists SUBSCRIBE, NOTIFY and REFER, Allow-Events refer.
. "$(dirname "$0")/lib.sh"
need_sipp
SCEN=$(cd "$(dirname "$0")/sipp" && pwd)

# sipp_done NAME DESC: waits for the background sipp NAME (bounded); passes DESC when its scenario passed.
sipp_done() {
  sipp_server_wait "$1"
  if [ "$SIPP_RC" = 0 ]; then pass "$2"; else fail "$1: sipp exit $SIPP_RC" "$(tail -5 "$T/$1.out")"; fi
}

start alice ua.xml --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:alice@127.0.0.1 \
  --set ua.subscribe_expires=4 --set ua.password=secret || exit 1

# ---- MWI: subscribe, NOTIFY active, refresh, NOTIFY terminated ----
if sipp_server mwi -sf "$SCEN/uas-mwi-subscribe.xml" -m 1; then
  cmd alice subscribe "sip:mwi@127.0.0.1:$SIPP_PORT"
  wait_ev alice '"event":"mwi".*"waiting":"yes","account":"sip:alice@vm.example.com","new":2,"old":8,"new_urgent":0,"old_urgent":2' 10 &&
    pass "MWI: the NOTIFY's message-summary body is an mwi event (yes, account, 2 new, 8 old, 0/2 urgent)" ||
    fail "MWI: no mwi event" "$(grep -E 'mwi|notify|subscription' "$T/alice.events" | tail -5)"
  wait_ev alice '"event":"notify".*"package":"message-summary","state":"active".*"body":"Messages-Waiting: yes' 5 &&
    pass "MWI: a notify event with the package, the state and the body as a JSON string" || fail "MWI: notify event"
  wait_ev alice '"event":"subscription_fork".*"refused":481' 5 &&
    pass "MWI: a NOTIFY from another From tag (a fork) is refused 481 (RFC 6665 4.1.2.4); one with another Event id too (sipp checked)" || fail "MWI: fork not refused"
  wait_ev alice '"event":"subscription".*"state":"refreshed"' 8 &&
    pass "MWI: refreshed in the dialog before the 4 s expiry (sipp checked our tag in To)" ||
    fail "MWI: no refresh" "$(grep subscription "$T/alice.events" | tail -3)"
  wait_ev alice '"event":"subscription".*"state":"terminated".*"reason":"noresource"' 8 &&
    pass "MWI: NOTIFY terminated;reason=noresource ends the subscription" || fail "MWI: not terminated"
  sipp_done mwi "MWI: sipp's notifier scenario passed (Event, Accept, Expires, Contact checked)"
  [ "$(count alice '"event":"subscription".*"state":"subscribing"')" = 1 ] &&
    pass "MWI: noresource: no new subscription (RFC 6665 4.1.3)" || fail "MWI: subscribed again after noresource"
  [ "$(count alice '"event":"mwi"')" = 1 ] && pass "MWI: the NOTIFY with a malformed body got 400 (sipp checked) and no mwi event" ||
    fail "MWI: mwi events" "$(grep '"event":"mwi"' "$T/alice.events")"
else
  fail "sipp mwi notifier did not start"
fi

# ---- 481 to the refresh ----
if sipp_server r481 -sf "$SCEN/uas-mwi-refresh-481.xml" -m 1; then
  cmd alice subscribe "sip:mwi@127.0.0.1:$SIPP_PORT" message-summary
  wait_ev alice '"event":"subscription".*"state":"terminated".*"status":481,"reason":"refresh_refused"' 8 &&
    pass "481 to the refresh SUBSCRIBE ends the subscription (RFC 6665 4.1.2.2)" ||
    fail "481 to the refresh" "$(grep subscription "$T/alice.events" | tail -3)"
  sipp_done r481 "481: sipp's scenario passed"
else
  fail "sipp 481 notifier did not start"
fi

# ---- deactivated: a new subscription at once; rejected: none ----
if sipp_server deact -sf "$SCEN/uas-mwi-deactivated.xml" -m 2; then
  cmd alice subscribe "sip:mwi@127.0.0.1:$SIPP_PORT"
  wait_ev alice '"event":"subscription".*"state":"retrying".*"reason":"deactivated"' 5 &&
    pass "terminated;reason=deactivated: retrying at once, retry-after ignored (RFC 6665 4.1.3)" ||
    fail "deactivated" "$(grep '"event":"subscription"' "$T/alice.events" | tail -3)"
  wait_ev alice '"event":"subscription".*"state":"terminated".*"reason":"rejected"' 5 &&
    pass "... the new SUBSCRIBE (new Call-ID, no To tag: sipp checked) subscribed; rejected ends it, no retry" ||
    fail "rejected" "$(grep '"event":"subscription"' "$T/alice.events" | tail -3)"
  sipp_server_wait deact
  [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 2 ] && pass "deactivated: sipp saw two subscriptions, both passed" ||
    fail "deactivated: sipp exit $SIPP_RC, ${OK:-0} calls" "$(tail -5 "$T/deact.out")"
else
  fail "sipp deactivating notifier did not start"
fi

# ---- our SUBSCRIBE refused: 489 ----
if sipp_server r489 -sf "$SCEN/uas-subscribe-489.xml" -m 1; then
  cmd alice subscribe "sip:mwi@127.0.0.1:$SIPP_PORT"
  wait_ev alice '"event":"subscription".*"state":"terminated".*"status":489,"reason":"refused"' 5 &&
    pass "a 489 to our SUBSCRIBE ends the subscription at once (status 489, reason refused)" ||
    fail "489 to our SUBSCRIBE" "$(grep '"event":"subscription"' "$T/alice.events" | tail -2)"
  sipp_done r489 "489: sipp's scenario passed"
else
  fail "sipp 489 peer did not start"
fi

# ---- no final NOTIFY after our unsubscribe: the 64*T1 guard ends it ----
if sipp_server nofinal -sf "$SCEN/uas-mwi-no-final-notify.xml" -m 1; then
  cmd alice subscribe "sip:mwi@127.0.0.1:$SIPP_PORT"
  wait_ev alice '"event":"notify".*"state":"pending"' 5 && pass "a NOTIFY pending is taken" || fail "no pending NOTIFY"
  # the subscribe command's reply came before that NOTIFY: the last one names this subscription
  sub=$(grep '"event":"reply","command":"subscribe"' "$T/alice.events" | tail -1 | sed 's/.*"subscription":"\([a-z0-9]*\)".*/\1/')
  cmd alice unsubscribe "$sub"
  wait_ev alice '"event":"subscription".*"state":"terminated".*"reason":"no_final_notify"' 10 &&
    pass "unsubscribe without a final NOTIFY: ended by the 64*T1 guard (6.4 s at T1 100 ms)" ||
    fail "no final NOTIFY" "$(grep '"event":"subscription"' "$T/alice.events" | tail -2)"
  sipp_done nofinal "no final NOTIFY: sipp's scenario passed (Expires: 0 checked)"
else
  fail "sipp notifier without final NOTIFY did not start"
fi

# ---- a challenge, then the subscription runs out ----
if sipp_server expire -sf "$SCEN/uas-mwi-auth-expire.xml" -m 1; then
  cmd alice subscribe "sip:mwi@127.0.0.1:$SIPP_PORT"
  wait_ev alice '"event":"subscription".*"state":"challenged".*"status":401' 5 &&
    wait_ev alice '"event":"subscription".*"state":"subscribed".*"status":200,"expires":2' 5 &&
    pass "401 to our SUBSCRIBE answered with ua's credentials (sipp's verifyauth), then 200 granting 2 s" ||
    fail "challenge" "$(grep '"event":"subscription"' "$T/alice.events" | tail -3)"
  wait_ev alice '"event":"subscription".*"state":"refresh_failed".*"status":500' 5 &&
    pass "a 500 to the refresh keeps the subscription until its expiry (RFC 6665 4.1.2.2)" || fail "no refresh_failed"
  wait_ev alice '"event":"subscription".*"state":"terminated".*"reason":"expired"' 5 &&
    pass "no refresh took, no NOTIFY terminated: the expiry timer ends the subscription" || fail "no expiry"
  sipp_done expire "challenge/expiry: sipp's scenario passed"
else
  fail "sipp expiring notifier did not start"
fi

# ---- a NOTIFY before the 200, multipart body; unsubscribe ----
start carol ua.xml --set media.backend=null --set sip.t1_ms=500 --set ua.uri=sip:carol@127.0.0.1 \
  --set ua.subscribe_expires=60 --set ua.max_subscriptions=1 || exit 1
if sipp_server early -sf "$SCEN/uas-notify-early-multipart.xml" -m 1; then
  cmd carol subscribe "sip:mwi@127.0.0.1:$SIPP_PORT"
  wait_ev carol '"event":"mwi".*"waiting":"no","account":"","new":0,"old":3' 8 &&
    pass "a NOTIFY before the 200 is taken (it makes the dialog, 4.1.2.4); its multipart body's message-summary part read" ||
    fail "early multipart NOTIFY" "$(grep -E 'mwi|notify|subscription' "$T/carol.events" | tail -4)"
  wait_ev carol '"event":"reply","command":"subscribe","ok":true' 5
  sub=$(grep '"event":"reply","command":"subscribe"' "$T/carol.events" | tail -1 | sed 's/.*"subscription":"\([a-z0-9]*\)".*/\1/')
  wait_ev carol "\"instance\":\"$sub\".*\"state\":\"subscribed\".*\"status\":200" 5 &&
    pass "... and the 200 after it confirms the subscription" || fail "no subscribed after the early NOTIFY"
  # ua.max_subscriptions = 1, one live: an incoming SUBSCRIBE gets 503, a second 'subscribe' ends at once
  sipp_run lim503 "127.0.0.1:$PORT_carol" -sf "$SCEN/uac-subscribe-503.xml" -m 1
  [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "ua.max_subscriptions reached: an incoming SUBSCRIBE gets 503 with Retry-After" ||
    fail "503 limit: sipp exit $SIPP_RC" "$(tail -5 "$T/lim503.out")"
  cmd carol subscribe "sip:other@127.0.0.1:9"
  wait_ev carol '"event":"subscription".*"state":"terminated".*"reason":"max_subscriptions"' 5 &&
    pass "... and a second 'subscribe' ends at once (reason max_subscriptions), nothing sent" ||
    fail "subscribe beyond the limit" "$(grep subscription "$T/carol.events" | tail -2)"
  cmd carol unsubscribe
  wait_ev carol '"event":"subscription".*"state":"terminated".*"reason":"timeout"' 8 &&
    pass "unsubscribe: Expires: 0 in the dialog (sipp checked), the final NOTIFY ends it" ||
    fail "unsubscribe" "$(grep subscription "$T/carol.events" | tail -3)"
  sipp_done early "early/multipart/unsubscribe: sipp's scenario passed"
else
  fail "sipp early notifier did not start"
fi

stop carol || fail "carol exit" "$(err_report "$T/carol.err")"

# ---- the per-peer limit: one subscription with 127.0.0.1 live, a SUBSCRIBE from it gets 403 ----
start erin ua.xml --set media.backend=null --set sip.t1_ms=500 --set ua.uri=sip:erin@127.0.0.1 \
  --set ua.subscribe_expires=60 --set ua.max_subscriptions_per_peer=1 || exit 1
if sipp_server held -sf "$SCEN/uas-notify-early-multipart.xml" -m 1; then
  cmd erin subscribe "sip:mwi@127.0.0.1:$SIPP_PORT"
  wait_ev erin '"event":"subscription".*"state":"subscribed"' 5 || fail "erin: not subscribed"
  cmd erin status
  wait_ev erin '"event":"reply","command":"status".*"subscriptions":\[\{"instance":"s1","state":"Subscribed"\}\]' 5 &&
    pass "status lists the live subscription and its state" ||
    fail "status" "$(grep '"command":"status"' "$T/erin.events")"
  sipp_run lim403 "127.0.0.1:$PORT_erin" -sf "$SCEN/uac-subscribe-403.xml" -m 1
  [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "ua.max_subscriptions_per_peer reached for 127.0.0.1: its SUBSCRIBE gets 403" ||
    fail "403 limit: sipp exit $SIPP_RC" "$(tail -5 "$T/lim403.out")"
  # shutdown: the subscription is removed (Expires: 0, the final NOTIFY) before the program ends
  stop erin || fail "erin exit" "$(err_report "$T/erin.err")"
  grep -q '"event":"subscription".*"state":"terminated".*"reason":"timeout"' "$T/erin.events" &&
    pass "erin's shutdown unsubscribed first: Expires: 0, the final NOTIFY taken" ||
    fail "shutdown" "$(grep '"event":"subscription"' "$T/erin.events" | tail -2)"
  sipp_done held "held: sipp's scenario passed (its Expires: 0 check)"
else
  fail "sipp held notifier did not start"
  stop erin
fi

# ---- through ua.outbound_proxy: a loose Route, the Request-URI kept ----
if sipp_server route -sf "$SCEN/uas-subscribe-route.xml" -m 1; then
  start frank ua.xml --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:frank@127.0.0.1 \
    --set "ua.outbound_proxy=sip:127.0.0.1:$SIPP_PORT" || exit 1
  cmd frank subscribe sip:mwi@vm.example.invalid
  wait_ev frank '"event":"subscription".*"state":"terminated".*"status":404,"reason":"refused"' 5 &&
    pass "through ua.outbound_proxy: 404 from there ends the subscription" ||
    fail "outbound proxy" "$(grep '"event":"subscription"' "$T/frank.events" | tail -2)"
  sipp_done route "... sipp saw the Request-URI and the loose Route (;lr added)"
  stop frank || fail "frank exit" "$(err_report "$T/frank.err")"
else
  fail "sipp outbound proxy did not start"
fi

# ---- requests for no subscription ----
sipp_run stray "127.0.0.1:$PORT_alice" -sf "$SCEN/uac-subscribe-489.xml" -m 1
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] &&
  pass "SUBSCRIBE for presence: 489 (Allow-Events: refer); bad Event, bad Expires: 400; NOTIFYs of no subscription: 481" ||
  fail "stray requests: sipp exit $SIPP_RC" "$(tail -5 "$T/stray.out")"
sipp_run opt "127.0.0.1:$PORT_alice" -sf "$SCEN/uac-subscribe-options.xml" -m 1
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "OPTIONS: Allow lists SUBSCRIBE, NOTIFY, REFER; Allow-Events: refer (RFC 6665 4.4.4)" ||
  fail "OPTIONS: sipp exit $SIPP_RC" "$(tail -5 "$T/opt.out")"
wait_ev alice '"event":"subscribe_refused".*"status":489,"package":"presence"' 3 &&
  pass "the refusal is a subscribe_refused event" || fail "subscribe_refused event" "$(grep refused "$T/alice.events")"

cmd alice status
stop alice || fail "alice exit" "$(err_report "$T/alice.err")"
for ua in alice carol erin frank; do
  ! grep -q -E "ERROR|AddressSanitizer|CRITICAL" "$T/$ua.err" && pass "no error, leak or critical in $ua's log" ||
    fail "$ua's log" "$(grep -E 'ERROR|AddressSanitizer|CRITICAL' "$T/$ua.err" | head -3)"
done
summary subscribe.sh
