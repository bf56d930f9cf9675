#!/bin/bash
# users-redis.sh: the credentials in a Redis hash (registrar.users =
# redis://HOST:PORT/DB) and `sipflow user --uri redis://...`, on loopback with
# its own redis-server (a free port, stopped by PID), bounded:
#  - sipflow user add/list/del against Redis: the hash holds HA1, list shows
#    no secret;
#  - two proxies on one hash (MD5 for sipp, SHA-256 for our UA): a user added
#    while they run registers at both, a user deleted is refused (403) at
#    both, without a restart (same PIDs);
#  - hostile fields written with redis-cli (not a JSON object, a bad name, a
#    short HA1, a huge value) are skipped with a warning naming the hash, the
#    good users still work;
#  - Redis stopped (SIGSTOP): REGISTERs are still checked against the table
#    read before (200 for a user in it, 403 for one not) at once, never a hang,
#    with a warning; a reload then keeps the users (the unchanged source is
#    not read again); SIGCONT: a user added then is taken;
#  - a proxy started while its Redis is unreachable starts (a warning, no
#    users), and takes the users once a redis-server is there;
#  - errors: a Redis that is not there, exit 1 naming it.
. "$(dirname "$0")/lib.sh"
need_sipp
need_redis

TIMEOUT_MS=300
# the redis-servers here have requirepass $REDIS_PASS (lib.sh): in the URI for
# sipflow user (--uri takes no --set), registrar.users_password for the servers
user() { "$SIPFLOW" user "$@"; }
free_port() {
  local p
  while :; do
    p=$((20000 + (RANDOM % 20000)))
    tcp_bound "$p" || { echo "$p"; return; }
  done
}
refused() { ! reg "$1" "$2" "$3" "$4" && grep -q 403 "$T/$1.out"; }
# users_seen NAME N: NAME's stats (a poll of the hash) count N users
users_seen() { cmd "$1" status; wait_ev "$1" "\"event\":\"stats\".*\"users\":$2[,}]" 1; }
# logged NAME PATTERN: NAME's log has PATTERN, after a status command (its stats poll the hash)
logged() { cmd "$1" status; grep -q -- "$2" "$T/$1.err"; }

redis_start r || { fail "redis-server did not start" "$(tail -5 "$T/r.events")"; exit 1; }
U=redis://:$REDIS_PASS@127.0.0.1:$RPORT_r/2
rcli() { rcli_to "$RPORT_r" -n 2 "$@"; }

# ---- sipflow user ----
printf 'secret\n' | user add alice --uri "$U" >"$T/out" 2>"$T/err" &&
  pass "user add alice --uri redis://..., the password from standard input" || fail "user add alice" "$(cat "$T/err")"
has "... added" "$T/out" '{"added":"alice","realm":"sipflow.test","password":false}'
[ "$(rcli HLEN sipflow:users)" = 1 ] && [ "$(rcli GET sipflow:users:version)" = 1 ] &&
  pass "... one field in the hash, the version counter bumped" || fail "hash" "$(rcli HGETALL sipflow:users)"
rcli HGET sipflow:users alice | grep -q '"ha1_md5":"[0-9a-f]\{32\}"' && ! rcli HGET sipflow:users alice | grep -q secret &&
  pass "... its value holds HA1, not the password" || fail "value" "$(rcli HGET sipflow:users alice)"
expect_rc "user add alice again: exit 1" 1 user add alice --uri "$U" --password x
has "... it exists" "$T/err" "user 'alice' exists (--replace to change it)"
expect_rc "user list --uri redis://..." 0 user list --uri "$U"
has "... alice, no secret" "$T/out" '{"user":"alice","realm":"sipflow.test","md5":true,"sha256":true,"password":false}'

# ---- two proxies on one hash ----
common=(--set sip.t1_ms=100 --set "registrar.users=redis://127.0.0.1:$RPORT_r/2" --set "registrar.users_password=$REDIS_PASS"
  --set "location.timeout_ms=$TIMEOUT_MS")
start px proxy.xml "${common[@]}" --set auth.algorithms=MD5 || exit 1
start px2 proxy.xml "${common[@]}" --set auth.algorithms=SHA-256 || exit 1
reg alice alice secret "127.0.0.1:$PORT_px" && pass "sipp registers alice with MD5 from the hash" ||
  fail "alice MD5: exit $SIPP_RC" "$(tail -5 "$T/alice.out")" "$(tail -3 "$T/px.err")"
refused nobody carol pw "127.0.0.1:$PORT_px" && pass "a user not in the hash: 403" || fail "unknown user"
ua=(--set media.backend=null --set sip.t1_ms=100 --set ua.auto_answer=0)
start ua1 ua.xml "${ua[@]}" --set "ua.registrar=sip:127.0.0.1:$PORT_px2" --set ua.uri=sip:alice@127.0.0.1 --set ua.password=secret ||
  exit 1
wait_ev ua1 '"event":"registration".*"state":"registered"' 10 &&
  pass "SHA-256 only (px2): our UA registers alice from the hash's SHA-256 HA1" ||
  fail "alice SHA-256" "$(grep registration "$T/ua1.events")" "$(tail -3 "$T/px2.err")"
stop ua1

pid1=$PID_px pid2=$PID_px2
expect_rc "user add carol while they run" 0 user add carol --uri "$U" --password pw3
retry 8 reg carol carol pw3 "127.0.0.1:$PORT_px" && pass "... carol registers at px (no restart)" ||
  fail "carol not taken" "$(tail -5 "$T/carol.out")"
retry 8 users_seen px2 2 && pass "... px2 has read her too (stats: users 2)" ||
  fail "px2 users" "$(grep '"event":"stats"' "$T/px2.events" | tail -1)"
start ua2 ua.xml "${ua[@]}" --set "ua.registrar=sip:127.0.0.1:$PORT_px2" --set ua.uri=sip:carol@127.0.0.1 --set ua.password=pw3 ||
  exit 1
wait_ev ua2 '"event":"registration".*"state":"registered"' 10 && pass "... and with SHA-256 at px2" ||
  fail "carol SHA-256" "$(grep registration "$T/ua2.events")" "$(tail -3 "$T/px2.err")"
stop ua2
expect_rc "user del alice while they run" 0 user del alice --uri "$U"
has "... removed" "$T/out" '{"removed":1}'
retry 8 refused gone alice secret "127.0.0.1:$PORT_px" && pass "... alice now gets 403 at px (no restart)" ||
  fail "alice still taken at px" "$(tail -5 "$T/gone.out")"
retry 8 users_seen px2 1 && pass "... and px2 has dropped her too (stats: users 1)" ||
  fail "px2 users" "$(grep '"event":"stats"' "$T/px2.events" | tail -1)"
[ "$PID_px" = "$pid1" ] && [ "$PID_px2" = "$pid2" ] && kill -0 "$pid1" && kill -0 "$pid2" &&
  pass "... the same two processes, running" || fail "a proxy is gone"

# ---- hostile fields ----
huge=$(head -c 4000 /dev/zero | tr '\0' a)
rcli HSET sipflow:users evil 'not json' 'bad user' '{"realm":"sipflow.test","password":"x"}' \
  short '{"realm":"sipflow.test","ha1_md5":"00"}' arr '[1,2]' num '{"realm":7,"password":"x"}' \
  big "{\"realm\":\"sipflow.test\",\"password\":\"$huge\"}" >/dev/null
rcli INCR sipflow:users:version >/dev/null
retry 8 logged px "registrar.users: redis://127.0.0.1:$RPORT_r/2: 6 bad rows skipped" &&
  pass "six hostile fields written with redis-cli: skipped with a warning naming the hash" ||
  fail "no warning" "$(tail -3 "$T/px.err")"
reg carol2 carol pw3 "127.0.0.1:$PORT_px" && pass "... carol still registers" || fail "carol after hostile fields"
refused evil1 evil x "127.0.0.1:$PORT_px" && pass "... a bad field's user is unknown (403)" || fail "evil taken"
expect_rc "user list skips them too" 0 user list --uri "$U"
[ "$(wc -l <"$T/out")" = 1 ] && has "... with a warning" "$T/err" "6 bad rows skipped" || fail "list" "$(cat "$T/out")"

# ---- Redis stopped ----
kill -STOP "$PID_r"
t0=$(date +%s%N)
reg stopped carol pw3 "127.0.0.1:$PORT_px" && pass "Redis stopped: carol's REGISTER still 200 (the table read before)" ||
  fail "carol while stopped" "$(tail -5 "$T/stopped.out")"
refused stopped2 alice secret "127.0.0.1:$PORT_px" && pass "... alice (deleted) still 403" || fail "alice while stopped"
retry 5 logged px "registrar.users: redis://127.0.0.1:$RPORT_r/2: no [a-z]* within $TIMEOUT_MS ms; the users read before are kept" && pass "... a warning once the poll's GET is past the timeout" || fail "no warning" "$(tail -3 "$T/px.err")"
reg stopped3 carol pw3 "127.0.0.1:$PORT_px" && pass "... and REGISTERs still answered after it" || fail "carol after"
cmd px reload
wait_ev px '"event":"reload","ok":true' 5 && pass "... a reload while Redis is stopped: taken" ||
  fail "reload while stopped" "$(grep reload "$T/px.events")" "$(tail -3 "$T/px.err")"
reg stopped4 carol pw3 "127.0.0.1:$PORT_px" &&
  pass "... carol still 200 after it: the unchanged Redis source is kept, not read again into an empty table" ||
  fail "carol after the reload: exit $SIPP_RC" "$(tail -5 "$T/stopped4.out")" "$(tail -3 "$T/px.err")"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 8000 ] && pass "... no hang (${ms} ms for these)" || fail "slow while stopped: $ms ms"
kill -CONT "$PID_r"
expect_rc "SIGCONT; user add dave" 0 user add dave --uri "$U" --password pw4
retry 10 reg dave dave pw4 "127.0.0.1:$PORT_px" && pass "... dave registers at px: recovered" ||
  fail "dave not taken" "$(tail -3 "$T/px.err")"
retry 10 users_seen px2 2 && pass "... px2 sees him too" || fail "px2 after SIGCONT"
stop px || fail "px did not exit cleanly" "$(err_report "$T/px.err")"
stop px2 || fail "px2 did not exit cleanly" "$(err_report "$T/px2.err")"

# ---- started while Redis is unreachable ----
P2=$(free_port)
start px3 proxy.xml --set sip.t1_ms=100 --set "registrar.users=redis://127.0.0.1:$P2/0" \
  --set "registrar.users_password=$REDIS_PASS" \
  --set "location.timeout_ms=$TIMEOUT_MS" --set auth.algorithms=MD5 || exit 1
grep -q "registrar.users: redis://127.0.0.1:$P2/0: cannot connect.*no users until" "$T/px3.err" &&
  pass "started with Redis unreachable: it runs, with a warning" || fail "no start warning" "$(cat "$T/px3.err")"
refused early erin pw5 "127.0.0.1:$PORT_px3" && pass "... no users yet: 403" || fail "erin early"
redis_start r2 "$P2" || { fail "second redis-server did not start"; exit 1; }
expect_rc "a redis-server there; user add erin" 0 user add erin --uri "redis://:$REDIS_PASS@127.0.0.1:$P2/0" --password pw5
retry 10 reg erin erin pw5 "127.0.0.1:$PORT_px3" && pass "... erin registers: it read the hash once Redis was there" ||
  fail "erin" "$(tail -3 "$T/px3.err")"
stop px3 || fail "px3 did not exit cleanly" "$(err_report "$T/px3.err")"

# ---- errors ----
expect_rc "user list of a Redis not there: exit 1" 1 user list --uri "redis://127.0.0.1:$(free_port)/0"
has "... naming it" "$T/err" "cannot connect"
expect_rc "a bad redis URI: exit 1" 1 user list --uri "redis://127.0.0.1:1/x"
kill "$PID_r" "$PID_r2"
wait "$PID_r" "$PID_r2" 2>/dev/null

summary users-redis
