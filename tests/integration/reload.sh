#!/bin/bash
# reload.sh: reloading the configuration without a restart (SIGHUP and
# `sipflow ctl reload`; docs/operations.md), on loopback, bounded:
#  - a proxy+registrar (xml/proxy.xml) run with --config, a users file and
#    digest; alice and bob register through it, alice calls bob, bob answers;
#  - SIGHUP with registrar.users pointing at another file (dave added, carol
#    left out): a "reload" event names the changed key; dave registers (200
#    after 401), carol gets 403; the call is still up and alice and bob's
#    bindings are still there; the PID is the same;
#  - ctl reload with registrar.max_expires lowered: the reply names the key, a
#    REGISTER asking 600 s is granted 120;
#  - refused whole, the old configuration kept and serving (a REGISTER still
#    gets its 401 and 200 with the old expiry): a syntax error, an unknown key,
#    a bad value, an unreadable users file, a bad line in the users file, a
#    change that needs a restart (location.backend, named as such), and a
#    configuration without registrar.users (it would stop authentication);
#  - the metrics move with it (run --metrics): dave's 200 and carol's 403 are one
#    registration accepted and one refused, carol an unknown user, two challenges;
#  - a reload that sets core.log_level = debug: the next request is logged;
#  - the call ends: its BYE gets its 200 end to end through the proxy.
. "$(dirname "$0")/lib.sh"
need_sipp

printf 'alice:secret\nbob:hunter2\ncarol:pw\n' >"$T/users"
printf 'alice:secret\nbob:hunter2\ndave:pw4\n' >"$T/users2"
conf() { # conf USERS MAX_EXPIRES [EXTRA LINE]: the proxy's configuration file
  printf '[sip]\nt1_ms = 100\n[registrar]\nusers = %s\nmax_expires = %s\n%s\n' "$1" "$2" "${3:-}" >"$T/px.ini"
}
conf "$T/users" 3600
start px proxy.xml --config "$T/px.ini" --control "$T/px.sock" --metrics 0 || exit 1
PX=127.0.0.1:$PORT_px
wait_ev px '"transport":"metrics"' 10
MPORT=$(metrics_port px)
ctl() { "$SIPFLOW" ctl "$T/px.sock" "$@"; }
ua=(--set media.backend=null --set sip.t1_ms=100 --set "ua.registrar=sip:$PX" --set "ua.outbound_proxy=sip:$PX")

start alice ua.xml "${ua[@]}" --set ua.uri=sip:alice@sipflow.test --set ua.password=secret || exit 1
start bob ua.xml "${ua[@]}" --set ua.uri=sip:bob@sipflow.test --set ua.password=hunter2 || exit 1
wait_ev alice '"event":"registration".*"state":"registered".*"expires":600' 10 &&
  wait_ev bob '"event":"registration".*"state":"registered"' 10 &&
  pass "alice and bob register through the proxy's digest challenge (600 s granted)" ||
  fail "registration" "$(grep registration "$T/alice.events" "$T/bob.events")" "$(tail -3 "$T/px.err")"
cmd alice call sip:bob@sipflow.test
wait_ev bob '"event":"incoming"' 10 && cmd bob answer
wait_ev alice '"to":"InCall"' 5 && wait_ev bob '"to":"InCall"' 5 && pass "alice calls bob through the proxy: in call" ||
  fail "call" "$(grep -E 'call_end|challenge' "$T/alice.events")"
reg carol1 carol pw "$PX" && pass "carol registers (sipp) before the reload" || fail "carol before: exit $SIPP_RC"

# ---- SIGHUP: another users file ----
scrape before || fail "scrape before the reload"
conf "$T/users2" 3600
kill -HUP "$PID_px"
wait_ev px '"event":"reload","ok":true,.*"changed":\["registrar.users"\]' 10 &&
  pass "SIGHUP: a reload event, ok, naming registrar.users" || fail "SIGHUP reload" "$(grep reload "$T/px.events")" "$(tail -3 "$T/px.err")"
kill -0 "$PID_px" 2>/dev/null && pass "... the same process (SIGHUP does not stop it)" || fail "the proxy died at SIGHUP"
reg dave dave pw4 "$PX" && grep -q "401" "$T/dave.out" && pass "dave, added, registers: 200 after 401" ||
  fail "dave: exit $SIPP_RC" "$(tail -5 "$T/dave.out")" "$(tail -3 "$T/px.err")"
! reg carol2 carol pw "$PX" && grep -q "403" "$T/carol2.out" && pass "carol, removed, is refused (403)" ||
  fail "carol after: exit $SIPP_RC" "$(tail -5 "$T/carol2.out")"
scrape after || fail "scrape after the reload"
delta() { # delta SERIES WANT: the change of SERIES from the scrape 'before' to 'after'
  local d=$(($(val after "$1") - $(val before "$1")))
  [ "$d" = "$2" ] && pass "metrics: $1 +$2" || fail "metrics: $1 moved by $d, wanted $2"
}
delta 'sipflow_registrations_total{outcome="accepted"}' 1
delta 'sipflow_registrations_total{outcome="refused"}' 1
delta 'sipflow_auth_failures_total{reason="unknown_user"}' 1
delta 'sipflow_auth_challenges_total' 2
[ "$(val after sipflow_location_bindings)" -ge 4 ] && pass "metrics: bindings live (alice, bob, carol, dave)" ||
  fail "metrics: sipflow_location_bindings = $(val after sipflow_location_bindings)"
ctl location dump >"$T/dump" 2>&1
grep -q 'sip:alice@sipflow.test' "$T/dump" && grep -q 'sip:bob@sipflow.test' "$T/dump" &&
  pass "alice's and bob's bindings are still there" || fail "bindings lost" "$(cat "$T/dump")"
grep -q '"event":"call_end"' "$T/alice.events" "$T/bob.events" && fail "the call ended at the reload" ||
  pass "the call is still up"

# ---- ctl reload: a limit ----
conf "$T/users2" 120
expect_rc "ctl reload: exit 0" 0 ctl reload
has "... the reply names registrar.max_expires" "$T/out" '"changed":["registrar.max_expires"]'
cmd alice register
wait_ev alice '"event":"registration".*"state":"registered".*"expires":120' 10 &&
  pass "registrar.max_expires lowered by the reload: a REGISTER asking 600 s is granted 120" ||
  fail "max_expires" "$(grep registration "$T/alice.events" | tail -2)"

# ---- refused whole: the old configuration keeps serving ----
refused() { # refused DESC TEXT: ctl reload exits 1 naming TEXT, then a REGISTER still works with the old expiry
  local desc=$1 text=$2 before
  before=$(count px '"event":"reload","ok":false')
  expect_rc "$desc: ctl reload refused (exit 1)" 1 ctl reload
  grep -qF -- "$text" "$T/out" "$T/err" && grep -qF "the configuration in force is kept" "$T/out" "$T/err" &&
    pass "... the error says '$text' and that the old configuration is kept" ||
    fail "... no '$text'" "$(cat "$T/out" "$T/err")"
  [ "$(count px '"event":"reload","ok":false')" = $((before + 1)) ] && pass "... a reload event with ok false" ||
    fail "... no reload event" "$(grep reload "$T/px.events" | tail -1)"
}
conf "$T/users2" 120 "[sip"
refused "a syntax error" "px.ini"
conf "$T/users2" 120 "max_expirez = 60"
refused "an unknown key" "unknown key 'max_expirez'"
conf "$T/users2" 120 "min_expires = soon"
refused "a bad value" "registrar.min_expires: expected seconds"
conf "$T/nonexistent" 60
refused "an unreadable users file" "$T/nonexistent"
printf 'alice:secret\nnot a line\n' >"$T/users3"
conf "$T/users3" 60
refused "a bad line in the users file" "users3:2"
conf "$T/users2" 60 "[location]
backend = memory"
refused "a key that needs a restart" "location.backend (registrar) needs a restart"
printf '[sip]\nt1_ms = 100\n[registrar]\nmax_expires = 60\n' >"$T/px.ini"
refused "registrar.users removed (authentication would stop)" "a reload cannot remove the users"
cmd bob register
wait_ev bob '"event":"registration".*"state":"registered".*"expires":120' 10 &&
  pass "after the refused reloads: a REGISTER gets its challenge and 200, with the old max_expires (120)" ||
  fail "serving after refusal" "$(grep registration "$T/bob.events" | tail -2)"
reg dave2 dave pw4 "$PX" && pass "... dave still registers (the users file in force)" || fail "dave after refusal: exit $SIPP_RC"
grep -q "reload: refused, the configuration in force is kept" "$T/px.err" && pass "... the refusals are logged" ||
  fail "no log line" "$(tail -3 "$T/px.err")"

# ---- the log level ----
grep -q "debug: received" "$T/px.err" && fail "debug lines before core.log_level = debug" "$(grep -m1 debug "$T/px.err")"
conf "$T/users2" 120 "[core]
log_level = debug"
expect_rc "ctl reload with core.log_level = debug: exit 0" 0 ctl reload
reg erin dave pw4 "$PX" >/dev/null
grep -Eq "debug: received udp .*REGISTER sip:" "$T/px.err" &&
  pass "... the next REGISTER is logged at debug (a line per message)" || fail "no debug line" "$(tail -3 "$T/px.err")"

# ---- the call survived ----
cmd alice hangup
wait_ev bob '"event":"call_end".*"reason":"remote_bye"' 5 &&
  wait_ev alice '"event":"call_end"' 5 && ! grep -q '"event":"call_end".*"reason":"timeout' "$T/alice.events" &&
  pass "the call made before the reloads ends: its BYE goes through the proxy and gets its 200" ||
  fail "BYE" "$(grep call_end "$T/alice.events" "$T/bob.events")"

stop alice
stop bob
stop px && pass "the proxy stops cleanly (exit 0)" || fail "proxy exit $?" "$(err_report "$T/px.err")"
summary reload.sh
