#!/bin/bash
# users.sh: the credentials in an SQLite table (registrar.users = sqlite:PATH)
# and `sipflow user`, on loopback, bounded:
#  - sipflow user add (password from standard input and from --password; HA1
#    only, and --plain): the file is made 0600; list shows each user and which
#    secrets are stored, never a secret;
#  - a proxy on the table offering MD5: sipp registers alice with digest (200);
#    a wrong password gets 401 again and an "auth failed ... wrong credentials"
#    line; a user not in the table 403;
#  - a second proxy on the same table offering SHA-256 only (sipp cannot
#    answer it): our UA registers with SHA-256 from the stored HA1;
#  - while both run (no restart, same PIDs): a user added is taken, a user
#    deleted is refused (403), each within a second or so (waited for, bounded);
#    the stats event counts the users (after a status command);
#  - a user stored for another realm is refused with a log line naming the
#    reason and a warning naming the file; with --plain it works in any realm;
#  - a users file with a SHA-256 HA1 line (64 hex digits): our UA registers;
#  - the default file core.state_dir/users.sqlite; errors: a missing file
#    (not made), registrar.users naming a users file, another program's
#    database: exit 1 naming the file; usage errors exit 2.
. "$(dirname "$0")/lib.sh"
need_sipp

DB=$T/users.sqlite
user() { "$SIPFLOW" user "$@"; }
# (retry and reg: lib.sh; a change reaches a running server at its next poll: within a second)
ha1() { printf '%s' "$1" | python3 -c "import hashlib, sys; print(hashlib.$2(sys.stdin.buffer.read()).hexdigest())"; }

# ---- sipflow user ----
printf 'secret\n' | user add alice --uri "$DB" >"$T/out" 2>"$T/err" &&
  pass "user add alice, the password from standard input" || fail "user add alice" "$(cat "$T/err")"
has "... added in registrar.realm, no password stored" "$T/out" '{"added":"alice","realm":"sipflow.test","password":false}'
[ "$(stat -c %a "$DB")" = 600 ] && pass "... the file is made 0600" || fail "mode $(stat -c %a "$DB")"
expect_rc "user add bob --password-stdin --plain" 0 sh -c "printf 'hunter2\n' | '$SIPFLOW' user add bob --uri '$DB' --password-stdin --plain"
expect_rc "user add dave --realm other.realm --password P" 0 user add dave --uri "$DB" --realm other.realm --password pw4
expect_rc "user add alice again: exit 1" 1 user add alice --uri "$DB" --password x
has "... it exists" "$T/err" "user 'alice' exists (--replace to change it)"
expect_rc "user list" 0 user list --uri "$DB"
has "... alice: HA1 for MD5 and SHA-256, no password" "$T/out" \
  '{"user":"alice","realm":"sipflow.test","md5":true,"sha256":true,"password":false}'
has "... bob with his password" "$T/out" '{"user":"bob","realm":"sipflow.test","md5":true,"sha256":true,"password":true}'
has "... dave in his realm" "$T/out" '{"user":"dave","realm":"other.realm"'
leak=
for s in secret hunter2 pw4 "$(ha1 alice:sipflow.test:secret md5)" "$(ha1 alice:sipflow.test:secret sha256)" \
  "$(ha1 bob:sipflow.test:hunter2 md5)"; do
  grep -qF -- "$s" "$T/out" "$T/err" && leak="$leak $s"
done
[ -z "$leak" ] && [ "$(wc -l <"$T/out")" = 3 ] && pass "... three lines, no password or HA1 in them" ||
  fail "user list shows secrets:$leak" "$(cat "$T/out")"
python3 -c 'import sqlite3, sys
r = sqlite3.connect(sys.argv[1]).execute("SELECT password, length(ha1_md5), length(ha1_sha256) FROM users WHERE user = ?", ("alice",)).fetchone()
sys.exit(0 if r == (None, 32, 64) else 1)' "$DB" && pass "... alice's row: HA1 of 32 and 64 hex digits, no password" ||
  fail "alice's row"

# ---- two proxies on one table ----
start px proxy.xml --set sip.t1_ms=100 --set "registrar.users=sqlite:$DB" --set auth.algorithms=MD5 || exit 1
start px2 proxy.xml --set sip.t1_ms=100 --set "registrar.users=sqlite:$DB" --set auth.algorithms=SHA-256 || exit 1
grep -qF "$DB: 1 users stored for another realm" "$T/px.err" &&
  grep -q "'dave' (other.realm)" "$T/px.err" && pass "at start: a warning names the file and dave's other realm" ||
  fail "no realm warning" "$(cat "$T/px.err")"
reg alice alice secret "127.0.0.1:$PORT_px" && pass "sipp registers alice with MD5 from her stored HA1" ||
  fail "alice MD5: exit $SIPP_RC" "$(tail -5 "$T/alice.out")" "$(tail -3 "$T/px.err")"
reg bobmd5 bob hunter2 "127.0.0.1:$PORT_px" && pass "... bob (a plain password) too" || fail "bob MD5: exit $SIPP_RC"
! reg wrong alice nope "127.0.0.1:$PORT_px" && grep -q "401" "$T/wrong.out" &&
  pass "a wrong password: refused (401)" || fail "wrong password" "$(tail -5 "$T/wrong.out")"
retry 5 grep -q 'auth failed: user "alice" from 127.0.0.1:[0-9]*: wrong credentials' "$T/px.err" &&
  pass "... with an auth failed line" || fail "no auth failed line" "$(tail -3 "$T/px.err")"
! reg nobody carol pw "127.0.0.1:$PORT_px" && grep -q "403" "$T/nobody.out" &&
  pass "a user not in the table: 403" || fail "unknown user" "$(tail -5 "$T/nobody.out")"

ua=(--set media.backend=null --set sip.t1_ms=100 --set ua.auto_answer=0)
start ua1 ua.xml "${ua[@]}" --set "ua.registrar=sip:127.0.0.1:$PORT_px2" --set ua.uri=sip:alice@127.0.0.1 --set ua.password=secret ||
  exit 1
wait_ev ua1 '"event":"registration".*"state":"registered"' 10 &&
  pass "SHA-256 only (px2): our UA registers alice from her stored SHA-256 HA1" ||
  fail "alice SHA-256" "$(grep registration "$T/ua1.events")" "$(tail -3 "$T/px2.err")"
grep -q '"event":"stateless_answer","status":401' "$T/px2.events" && pass "... through a 401" || fail "no challenge on px2"

# ---- changes on the running servers ----
pid1=$PID_px pid2=$PID_px2
expect_rc "user add carol while they run" 0 user add carol --uri "$DB" --password pw3
retry 8 reg carol carol pw3 "127.0.0.1:$PORT_px" && pass "... carol registers (no restart)" ||
  fail "carol not taken" "$(tail -5 "$T/carol.out")"
# users_seen NAME N: NAME's stats (a poll of the table) count N users
users_seen() { cmd "$1" status; wait_ev "$1" "\"event\":\"stats\".*\"users\":$2[,}]" 1; }
retry 8 users_seen px2 4 && pass "... the other proxy has read her too (stats: users 4)" || fail "px2 users" \
  "$(grep '"event":"stats"' "$T/px2.events" | tail -1)"
start ua2 ua.xml "${ua[@]}" --set "ua.registrar=sip:127.0.0.1:$PORT_px2" --set ua.uri=sip:carol@127.0.0.1 --set ua.password=pw3 ||
  exit 1
wait_ev ua2 '"event":"registration".*"state":"registered"' 10 && pass "... and with SHA-256 on the other proxy" ||
  fail "carol SHA-256" "$(grep registration "$T/ua2.events")"
expect_rc "user del alice while they run" 0 user del alice --uri "$DB"
has "... removed" "$T/out" '{"removed":1}'
gone() { ! reg gone alice secret "127.0.0.1:$PORT_px" && grep -q 403 "$T/gone.out"; }
retry 8 gone && pass "... alice's REGISTER now gets 403 (no restart)" || fail "alice still taken" "$(tail -5 "$T/gone.out")"
[ "$PID_px" = "$pid1" ] && [ "$PID_px2" = "$pid2" ] && kill -0 "$pid1" && kill -0 "$pid2" &&
  pass "... the same two processes, running" || fail "a proxy is gone"

# ---- another realm ----
! reg dave dave pw4 "127.0.0.1:$PORT_px" && pass "dave, stored for other.realm: refused" || fail "dave was taken"
retry 5 grep -q 'auth failed: user "dave" from 127.0.0.1:[0-9]*: stored for another realm' "$T/px.err" &&
  pass "... the log line says why" || fail "no realm line" "$(tail -3 "$T/px.err")"
expect_rc "user add erin --realm other.realm --plain" 0 user add erin --uri "$DB" --realm other.realm --plain --password pw5
retry 8 reg erin erin pw5 "127.0.0.1:$PORT_px" && pass "... with her password she registers in our realm" ||
  fail "erin" "$(tail -5 "$T/erin.out")"
stop ua1
stop ua2
stop px || fail "px did not exit cleanly" "$(err_report "$T/px.err")"
stop px2 || fail "px2 did not exit cleanly" "$(err_report "$T/px2.err")"

# ---- a users file with a SHA-256 HA1 line ----
printf '# SHA-256 HA1 of gina:sipflow.test:pw6\ngina:sipflow.test:%s\n' "$(ha1 gina:sipflow.test:pw6 sha256)" >"$T/users.txt"
start px3 proxy.xml --set sip.t1_ms=100 --set "registrar.users=$T/users.txt" --set auth.algorithms=SHA-256 || exit 1
start ua3 ua.xml "${ua[@]}" --set "ua.registrar=sip:127.0.0.1:$PORT_px3" --set ua.uri=sip:gina@127.0.0.1 --set ua.password=pw6 ||
  exit 1
wait_ev ua3 '"event":"registration".*"state":"registered"' 10 && pass "a users file's SHA-256 HA1 line: our UA registers" ||
  fail "gina" "$(grep registration "$T/ua3.events")" "$(tail -3 "$T/px3.err")"
stop ua3
stop px3 || fail "px3 did not exit cleanly"

# ---- the default file, errors, usage ----
expect_rc "user add --set core.state_dir=DIR" 0 user add hal --set "core.state_dir=$T/st" --password pw7
[ -f "$T/st/users.sqlite" ] && pass "... makes DIR/users.sqlite" || fail "no default file" "$(ls -R "$T/st")"
expect_rc "user list --set registrar.users=sqlite: --set core.state_dir=DIR" 0 user list --set registrar.users=sqlite: \
  --set "core.state_dir=$T/st"
has "... hal" "$T/out" '"user":"hal"'
printf '[registrar]\nusers = sqlite:%s\n' "$DB" >"$T/u.ini"
expect_rc "user list --config FILE" 0 user list --config "$T/u.ini"
has "... the table it names" "$T/out" '"user":"carol"'
expect_rc "user list of a missing file: exit 1" 1 user list --uri "$T/none.sqlite"
has "... naming it" "$T/err" "$T/none.sqlite: no such file"
[ ! -e "$T/none.sqlite" ] && pass "... not made" || fail "the missing file was made"
expect_rc "user del of a user not there: exit 1" 1 user del zed --uri "$DB"
has "... naming the user and the file" "$T/err" "$DB: no user 'zed'"
expect_rc "registrar.users naming a users file: exit 1" 1 user list --set "registrar.users=$T/users.txt"
has "... says so" "$T/err" "registrar.users is a users file ($T/users.txt)"
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("CREATE TABLE t (x)"); c.commit()' "$T/other.sqlite"
expect_rc "another program's database: exit 1" 1 user add x --uri "$T/other.sqlite" --password y
has "... not a users table" "$T/err" "$T/other.sqlite: not a users table"
expect_rc "no password on standard input: exit 1" 1 user add ivy --uri "$DB" </dev/null
expect_rc "a bad user name: exit 1" 1 user add 'a b' --uri "$DB" --password x
expect_rc "usage: no command" 2 user
expect_rc "usage: an unknown command" 2 user frob
expect_rc "usage: add without a user" 2 user add --uri "$DB"
expect_rc "usage: list takes no user" 2 user list alice --uri "$DB"
expect_rc "usage: --password with --password-stdin" 2 user add x --password a --password-stdin --uri "$DB"
expect_rc "usage: --realm with del" 2 user del x --realm r --uri "$DB"
expect_rc "usage: --uri with --set" 2 user list --uri "$DB" --set core.state_dir=/tmp
expect_rc "user --help" 0 user --help
has "... says a running server sees a change" "$T/out" "sees a change within a second"

summary users
