#!/bin/bash
# session-timer.sh: session timers (RFC 4028) in both roles of the user agent
# (xml/ua.xml) against sipp, on loopback, bounded (docs/ua.md "Session timers"):
#  - settings checked at start: ua.min_se below 90, above ua.session_expires,
#    a bad ua.session_timer: refused, the error naming the key;
#  - our INVITE carries Supported: timer, Session-Expires and Min-SE; none
#    under ua.session_timer = off (sipcat listens), where Require: timer gets
#    420; Require: timer under required;
#  - 422 as UAC: sipp answers 422 with Min-SE: 120, our INVITE again says
#    Session-Expires: 120 and Min-SE: 120 (CSeq 2); the 200 makes sipp the refresher;
#  - 422 as UAS: sipp offers Session-Expires: 60, gets 422 with Min-SE: 90, the
#    INVITE again with 90 gets 200 with Session-Expires: 90;refresher=uac and
#    Require: timer; malformed Session-Expires and Min-SE get 400 naming the
#    header; a request without timer support and a small interval gets it raised;
#  - the long ones, all at once (Min-SE 90 makes each take 60-80 s; each has
#    its own sipp and UA on free ports): our UA as refresher refreshes by
#    re-INVITE (same SDP, o= version unchanged) and by UPDATE at ~45 s; sipp
#    as refresher refreshes our UA by re-INVITE and by UPDATE at 45 s and hangs
#    up at 75 s (no BYE from us meanwhile); a session sipp does not refresh
#    ends with our BYE at ~60 s, call_end reason session_expired.
#  The UPDATE refresh received (uac-timer-refresh-update.xml) needs the UA to
#  take UPDATE (RFC 3311, issue 22's UPDATE part): it fails until that is merged.
. "$(dirname "$0")/lib.sh"
need_sipp
SCEN=$(cd "$(dirname "$0")/sipp" && pwd)
UA=(ua.xml --set media.backend=null --set sip.t1_ms=100)
sipcat() { timeout 60 python3 "${SF_SRCDIR:-$PWD}/tests/integration/sipcat.py" "$@"; }

# at NAME REGEX: the time (s since the epoch) of NAME's first event line matching REGEX.
at() {
  local ts
  ts=$(grep -m1 -E -- "$2" "$T/$1.events" | sed 's/.*"ts":"\([^"]*\)".*/\1/')
  [ -n "$ts" ] && date -d "$ts" +%s.%N
}
# between LOW HIGH A B: B - A is within [LOW, HIGH] seconds.
between() { awk -v lo="$1" -v hi="$2" -v a="$3" -v b="$4" 'BEGIN { d = b - a; exit !(a != "" && b != "" && d >= lo && d <= hi) }'; }
# bg_sipp NAME TARGET ARGS...: sipp_run in the background; "RC OK" goes to $T/NAME.rc.
bg_sipp() {
  local name=$1
  (sipp_run "$@"; echo "$SIPP_RC ${OK:-0}" >"$T/$name.rc") &
  PIDS+=($!)
}
# bg_wait NAME SECONDS: waits for bg_sipp NAME's result (bounded); 0 when sipp succeeded.
bg_wait() {
  local i
  for i in $(seq $(($2 * 5))); do
    [ -s "$T/$1.rc" ] && break
    sleep 0.2
  done
  [ "$(cat "$T/$1.rc" 2>/dev/null)" = "0 1" ]
}

# ---- settings, checked at start ----
expect_rc "ua.min_se = 60 refused at start (RFC 4028: never below 90 s)" 1 timeout 10 "$SIPFLOW" run "${UA[@]}" \
  --listen udp:127.0.0.1:0 --set ua.min_se=60 </dev/null
has "... the error names ua.min_se" "$T/err" "ua.min_se"
expect_rc "ua.min_se above ua.session_expires refused at start" 1 timeout 10 "$SIPFLOW" run "${UA[@]}" \
  --listen udp:127.0.0.1:0 --set ua.min_se=200 --set ua.session_expires=100 </dev/null
has "... the error names both keys" "$T/err" "ua.min_se (200) is above ua.session_expires (100)"
expect_rc "ua.session_timer = maybe refused at start" 1 timeout 10 "$SIPFLOW" run "${UA[@]}" \
  --listen udp:127.0.0.1:0 --set ua.session_timer=maybe </dev/null
has "... the error names ua.session_timer" "$T/err" "ua.session_timer"

# ---- the long scenarios, started first and at once ----
# our UA refreshes: by re-INVITE (sipp's Allow has no UPDATE), by UPDATE
started=1
sipp_server rinv -sf "$SCEN/uas-timer-refresh-invite.xml" -m 1 && P_rinv=$SIPP_PID && S_rinv=$SIPP_PORT || started=0
sipp_server rupd -sf "$SCEN/uas-timer-refresh-update.xml" -m 1 && P_rupd=$SIPP_PID && S_rupd=$SIPP_PORT || started=0
[ "$started" = 1 ] || { fail "a sipp UAS did not start" "$(tail -n 3 "$T/rinv.out" "$T/rupd.out")"; exit 1; }
start ra "${UA[@]}" --set ua.uri=sip:alice@127.0.0.1 || exit 1
start rb "${UA[@]}" --set ua.uri=sip:alice@127.0.0.1 || exit 1
cmd ra call "sip:service@127.0.0.1:$S_rinv"
cmd rb call "sip:service@127.0.0.1:$S_rupd"
# sipp refreshes our UA: by re-INVITE, by UPDATE; and a session it does not refresh
start xa "${UA[@]}" --set ua.uri=sip:bob@127.0.0.1 --set ua.auto_answer=0 || exit 1
start xb "${UA[@]}" --set ua.uri=sip:bob@127.0.0.1 --set ua.auto_answer=0 || exit 1
start xc "${UA[@]}" --set ua.uri=sip:bob@127.0.0.1 --set ua.auto_answer=0 || exit 1
bg_sipp xinv "127.0.0.1:$PORT_xa" -sf "$SCEN/uac-timer-refresh-invite.xml" -s bob -m 1
bg_sipp xupd "127.0.0.1:$PORT_xb" -sf "$SCEN/uac-timer-refresh-update.xml" -s bob -m 1
bg_sipp xexp "127.0.0.1:$PORT_xc" -sf "$SCEN/uac-timer-expire.xml" -s bob -m 1

# ---- meanwhile, the short ones ----
# what our INVITE says, with session timers and without
sipcat listen "$T/cap.port" "$T/cap.msgs" --answer 486 --seconds 60 &
PIDS+=($!)
retry 5 test -s "$T/cap.port" || fail "sipcat listen did not start"
CAP=$(cat "$T/cap.port")
start on "${UA[@]}" --set ua.uri=sip:alice@127.0.0.1 || exit 1
cmd on call "sip:cap@127.0.0.1:$CAP"
wait_ev on '"event":"call_end"' 10 || fail "the call to sipcat did not end"
start off "${UA[@]}" --set ua.uri=sip:alice@127.0.0.1 --set ua.session_timer=off || exit 1
cmd off call "sip:cap@127.0.0.1:$CAP"
wait_ev off '"event":"call_end"' 10 || fail "the call to sipcat (timers off) did not end"
start req "${UA[@]}" --set ua.uri=sip:alice@127.0.0.1 --set ua.session_timer=required || exit 1
cmd req call "sip:cap@127.0.0.1:$CAP"
wait_ev req '"event":"call_end"' 10 || fail "the call to sipcat (timers required) did not end"
invites=$(tr -d '\r' <"$T/cap.msgs" | awk '/^INVITE /{n++} n{print n": "$0}')
# one Supported line with 100rel's tag and ours (sf-op-uac.c combine_option_lines)
echo "$invites" | grep -q -E '^1: Supported: (.*, )?timer(,.*)?$' && echo "$invites" | grep -q '^1: Session-Expires: 1800$' &&
  echo "$invites" | grep -q '^1: Min-SE: 90$' && ! echo "$invites" | grep -q '^1: Require:' &&
  pass "our INVITE: Supported: timer, Session-Expires: 1800, Min-SE: 90, no Require (RFC 4028 7.1)" ||
  fail "our INVITE's session-timer lines" "$(echo "$invites" | grep '^1: ' | head -20)"
! echo "$invites" | grep -q -E '^2: (Supported: (.*, )?timer|Session-Expires|Min-SE)' && echo "$invites" | grep -q '^2: INVITE ' &&
  pass "ua.session_timer = off: no Supported: timer, Session-Expires or Min-SE" ||
  fail "timers off: the INVITE" "$(echo "$invites" | grep '^2: ' | head -20)"
echo "$invites" | grep -q '^3: Require: timer$' && echo "$invites" | grep -q -E '^3: Supported: (.*, )?timer(,.*)?$' &&
  pass "ua.session_timer = required: Require: timer in our INVITE" ||
  fail "timers required: the INVITE" "$(echo "$invites" | grep '^3: ' | head -20)"
# under off, timer is not supported: Require: timer gets 420 (RFC 3261 8.2.2.3)
printf '%s\n' 'INVITE sip:alice@127.0.0.1 SIP/2.0' 'Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{cid}' \
  'Max-Forwards: 70' 'From: <sip:probe@127.0.0.1>;tag=p{n}' 'To: <sip:alice@127.0.0.1>' 'Call-ID: {cid}' 'CSeq: 1 INVITE' \
  'Contact: <sip:probe@127.0.0.1:{port}>' 'Require: timer' 'Session-Expires: 90' 'Content-Length: 0' '' >"$T/reqtimer.sip"
out=$(sipcat send "127.0.0.1:$PORT_off" "$T/reqtimer.sip" --show | tr -d '\r' | grep -E '^(SIP/2.0 |Unsupported:)' | tr '\n' '|')
[ "$out" = "SIP/2.0 420 Bad Extension|Unsupported: timer|" ] && pass "ua.session_timer = off: Require: timer gets 420, Unsupported: timer" ||
  fail "Require: timer under off" "$out"
stop on || fail "on exit"
stop off || fail "off exit"
stop req || fail "req exit"

# 422 as UAC: the INVITE again, Session-Expires raised to the 422's Min-SE
if sipp_server u422 -sf "$SCEN/uas-timer-422.xml" -m 1; then
  start c422 "${UA[@]}" --set ua.uri=sip:alice@127.0.0.1 --set ua.session_expires=90 || exit 1
  cmd c422 call "sip:service@127.0.0.1:$SIPP_PORT"
  wait_ev c422 '"to":"InCall"' 10 && cmd c422 hangup
  wait_ev c422 '"event":"call_end"' 10
  sipp_server_wait u422
  [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] &&
    pass "422 with Min-SE: 120: our INVITE again with Session-Expires: 120, Min-SE: 120, CSeq 2 (sipp's checks)" ||
    fail "422 as UAC: sipp exit $SIPP_RC" "$(tail -5 "$T/u422.out")" "$(grep -h ereg "$T"/u422*_errors.log 2>/dev/null | head -3)"
  grep -q '"event":"session_retry".*"status":422,"min_se":120,"session_expires":120' "$T/c422.events" &&
    grep -q '"event":"session_timer".*"interval":120,"refresher":"remote"' "$T/c422.events" &&
    grep -q '"event":"call_end".*"reason":"local_bye"' "$T/c422.events" &&
    pass "... events session_retry, session_timer (120 s, sipp refreshes), call_end local_bye" ||
    fail "422 as UAC: events" "$(grep -E 'session|call_end' "$T/c422.events")"
  stop c422 || fail "c422 exit"
else
  fail "sipp UAS (422) did not start" "$(tail -3 "$T/u422.out")"
fi

# 422 as UAS, then the retry accepted
start s422 "${UA[@]}" --set ua.uri=sip:bob@127.0.0.1 --set ua.auto_answer=0 || exit 1
sipp_run s422 "127.0.0.1:$PORT_s422" -sf "$SCEN/uac-timer-422.xml" -s bob -m 1
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] &&
  pass "Session-Expires: 60: 422 with Min-SE: 90; again with 90: 200 with Session-Expires: 90;refresher=uac, Require: timer" ||
  fail "422 as UAS: sipp exit $SIPP_RC" "$(tail -5 "$T/s422.out")"
grep -q '"event":"call_end".*"reason":"session_interval_too_small","status":422' "$T/s422.events" &&
  grep -q '"event":"session_timer".*"interval":90,"refresher":"remote"' "$T/s422.events" &&
  pass "... call_end session_interval_too_small (422), then a session of 90 s refreshed by the caller" ||
  fail "422 as UAS: events" "$(grep -E 'session|call_end' "$T/s422.events")"

# malformed headers: 400 naming the header; no timer support and a small interval: raised
RITA="127.0.0.1:$PORT_s422"
invite_with() { # invite_with NAME HEADER-LINES...: an INVITE for bob in $T/NAME.sip
  local f="$T/$1.sip"
  shift
  {
    printf 'INVITE sip:bob@%s SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{cid}\n' "$RITA"
    printf 'Max-Forwards: 70\nFrom: <sip:probe@127.0.0.1>;tag=p{n}\nTo: <sip:bob@127.0.0.1>\n'
    printf 'Call-ID: {cid}\nCSeq: 1 INVITE\nContact: <sip:probe@127.0.0.1:{port}>\n'
    for h in "$@"; do printf '%s\n' "$h"; done
    printf 'Content-Length: 0\n\n'
  } >"$f"
}
first() { sipcat send "$RITA" "$T/$1.sip" --show | tr -d '\r' | grep -m1 '^SIP/2.0 '; }
for bad in 'Session-Expires: abc|Session-Expires' 'Session-Expires: 90;refresher=foo|Session-Expires' \
  'Session-Expires: 99999999999|Session-Expires' 'Session-Expires: 0|Session-Expires' 'Min-SE: 9x|Min-SE' \
  'x: 120;refresher|Session-Expires'; do
  line=${bad%|*} name=${bad#*|}
  invite_with bad 'Supported: timer' "$line"
  out=$(first bad)
  case "$out" in
    "SIP/2.0 400 Bad Request ($name"*) pass "'$line': 400 naming $name" ;;
    *) fail "'$line': $out" ;;
  esac
done
invite_with twice 'Session-Expires: 120' 'Session-Expires: 90'
out=$(first twice)
case "$out" in "SIP/2.0 400 Bad Request (Session-Expires: more than one)") pass "two Session-Expires lines: 400" ;;
  *) fail "two Session-Expires: $out" ;; esac
# a request without Supported: timer (a proxy added Session-Expires): 422 is
# no use to it: the interval is raised to our floor, we refresh (erratum 1687)
invite_with nosup 'Session-Expires: 60'
sipcat send "$RITA" "$T/nosup.sip" --show --timeout 10 | tr -d '\r' >"$T/nosup.out"
grep -q '^SIP/2.0 200 ' "$T/nosup.out" && grep -q '^Session-Expires: 90;refresher=uas$' "$T/nosup.out" &&
  ! grep -q '^Require:' "$T/nosup.out" &&
  pass "Session-Expires: 60 without Supported: timer: 200 with Session-Expires: 90;refresher=uas, no Require" ||
  fail "no timer support, small interval" "$(head -20 "$T/nosup.out")"
stop s422 || fail "s422 exit"

# ---- the long ones' results ----
# our_refresh UA METHOD SIPP PID WHAT: UA (the refresher) sent its refresh by
# METHOD 40-50 s after the 200 (half of 90 s); once the refresh's 200 restarted
# the timers it hangs up; sipp (SIPP, pid PID) checked what came (WHAT).
our_refresh() {
  wait_ev "$1" "\"event\":\"session_refresh\".*\"direction\":\"out\",\"method\":\"$2\",\"interval\":90" 70 &&
    between 40 50 "$(at "$1" '"event":"session_timer".*"interval":90')" "$(at "$1" '"event":"session_refresh"')" &&
    pass "our UA refreshed by $2 40-50 s after the 200" ||
    fail "our $2 refresh" "$(grep -E 'session|call_end' "$T/$1.events")"
  wait_ev "$1" '"event":"session_timer".*"interval":90,"refresher":"local"' 10 2 && cmd "$1" hangup
  SIPP_PID=$4 sipp_server_wait "$3"
  [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] && pass "... sipp saw $5; its 200 restarted our timers" ||
    fail "refresh by $2: sipp exit $SIPP_RC" "$(tail -5 "$T/$3.out")"
}
our_refresh ra INVITE rinv "$P_rinv" "Session-Expires: 90;refresher=uac and the SDP's o= version unchanged (no UPDATE in its Allow)"
our_refresh rb UPDATE rupd "$P_rupd" "an UPDATE without a body, Session-Expires: 90;refresher=uac (UPDATE in its Allow)"
# sipp refreshes us by re-INVITE
bg_wait xinv 100 && pass "sipp's re-INVITE refresh at 45 s: 200 with Session-Expires: 90;refresher=uac; no BYE from us by 75 s" ||
  fail "re-INVITE refresh received: sipp $(cat "$T/xinv.rc" 2>/dev/null)" "$(tail -5 "$T/xinv.out")"
grep -q '"event":"session_refresh".*"direction":"in","method":"INVITE"' "$T/xa.events" &&
  grep -q '"event":"call_end".*"reason":"remote_bye"' "$T/xa.events" && ! grep -q session_expired "$T/xa.events" &&
  pass "... events session_refresh (in), call_end remote_bye" || fail "xa events" "$(grep -E 'session|call_end' "$T/xa.events")"
# sipp refreshes us by UPDATE: needs the UA to take UPDATE (RFC 3311, another
# part of issue 22): fails until that is merged
bg_wait xupd 100 && pass "sipp's UPDATE refresh at 45 s: 200 with Session-Expires: 90;refresher=uac, Require: timer" ||
  fail "UPDATE refresh received (needs the UA's UPDATE, RFC 3311): sipp $(cat "$T/xupd.rc" 2>/dev/null)" "$(tail -5 "$T/xupd.out")"
# not refreshed: our BYE at 60 s
wait_ev xc '"event":"call_end".*"reason":"session_expired"' 90 &&
  between 57 63 "$(at xc '"event":"session_timer".*"interval":90')" "$(at xc '"event":"session_expired"')" &&
  pass "a session not refreshed: session_expired 57-63 s after the 200 (90 - min(32, 30)), call_end session_expired" ||
  fail "session expiry" "$(grep -E 'session|call_end' "$T/xc.events")"
bg_wait xexp 30 && pass "... sipp got our BYE" || fail "expiry: sipp $(cat "$T/xexp.rc" 2>/dev/null)" "$(tail -5 "$T/xexp.out")"

for u in ra rb xa xb xc; do stop $u || fail "$u exit" "$(err_report "$T/$u.err")"; done
summary session-timer
