#!/bin/bash
# location-tools.sh: looking inside the location service, on loopback, bounded:
#  - a running proxy (xml/proxy.xml, the sqlite backend): five users register
#    six contacts (sipp); the control commands count, dump (all, one AOR) and
#    remove (one contact, one AOR), on the --control socket and on standard
#    input; an offline count of the file while the proxy has it open;
#  - the proxy stopped: sipflow location dump, count (an expired row counted
#    apart), purge (the expired, one AOR) on its file, found by --uri, by
#    --set core.state_dir and by --config; the removals reached the file;
#  - a store of 1100 bindings loaded at start: one dump reply is cut and says so;
#  - a file that does not exist, is not a database or is another database:
#    exit 1 naming it (and it is not made); usage errors: exit 2.
. "$(dirname "$0")/lib.sh"
need_sipp

printf 'SEQUENTIAL\n' >"$T/users.csv"
for u in u0:a u0:b u1:a u2:a u3:a u4:a; do printf '%s;%s\n' "${u%:*}" "${u#*:}" >>"$T/users.csv"; done
cat >"$T/reg.xml" <<'EOF'
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register [field0], contact [field0]-[field1]">
  <send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[field0]@[remote_ip]>;tag=[pid]reg[call_number]
To: <sip:[field0]@[remote_ip]>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: <sip:[field0]-[field1]@192.0.2.1:5060>
Expires: 600
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200"/>
</scenario>
EOF

DB=$T/pxstate/location.sqlite
loc() { "$SIPFLOW" location "$@"; }
ctl() { "$SIPFLOW" ctl "$T/px.sock" "$@"; }

# ---- a running proxy ----
start px proxy.xml --set sip.t1_ms=100 --set "core.state_dir=$T/pxstate" --control "$T/px.sock" || exit 1
sipp_run reg "127.0.0.1:$PORT_px" -sf "$T/reg.xml" -inf "$T/users.csv" -m 6 -r 100 -timeout 20
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 6 ] && pass "five users registered six contacts" ||
  fail "registrations: exit $SIPP_RC, ${OK:-0} of 6" "$(tail -5 "$T/reg.out")"

expect_rc "ctl location count" 0 ctl location count
has "... 6 bindings of 5 addresses-of-record" "$T/out" '{"ok":true,"bindings":6,"aors":5}'
expect_rc "ctl location dump" 0 ctl location dump
has "... lists them all" "$T/out" '"listed":6,"total":6'
has "... with the contact, the source and transport, the expiry" "$T/out" \
  '{"aor":"sip:u0@127.0.0.1","contact":"sip:u0-a@192.0.2.1:5060","q":1.000,"expires_at":'
has "... the transport it came over" "$T/out" '"transport":"udp"'
has "... the local socket" "$T/out" "\"local\":\"127.0.0.1:$PORT_px\""
has "... the node that received it" "$T/out" "\"node\":\"127.0.0.1:$PORT_px\""
expect_rc "ctl location dump AOR" 0 ctl location dump sip:u0@127.0.0.1
has "... its two bindings only" "$T/out" '"listed":2,"total":2'
expect_rc "ctl location dump of an unknown AOR: none" 0 ctl location dump sip:nobody@127.0.0.1
has "... an empty list" "$T/out" '{"ok":true,"bindings":[],"listed":0,"total":0}'
location_count px 6 5 &&
  pass "location count on standard input: a reply event" || fail "location count on stdin" "$(tail -3 "$T/px.events")"
expect_rc "sipflow location count on the file while the proxy has it open" 0 loc count --uri "$DB"
has "... the same bindings (each written before its 200)" "$T/out" '{"bindings":6,"aors":5,"expired":0}'

expect_rc "ctl location remove AOR CONTACT" 0 ctl location remove sip:u0@127.0.0.1 sip:u0-b@192.0.2.1:5060
has "... removes one" "$T/out" '{"ok":true,"removed":1}'
expect_rc "ctl location remove AOR" 0 ctl location remove sip:u1@127.0.0.1
has "... removes its bindings" "$T/out" '{"ok":true,"removed":1}'
expect_rc "ctl location remove of an unknown contact" 0 ctl location remove sip:u0@127.0.0.1 sip:nothere@192.0.2.1
has "... removes none" "$T/out" '{"ok":true,"removed":0}'
expect_rc "ctl location count after the removals" 0 ctl location count
has "... 4 bindings of 4" "$T/out" '{"ok":true,"bindings":4,"aors":4}'
expect_rc "ctl location with no subcommand: exit 1" 1 ctl location
has "... the usage in the reply" "$T/out" 'usage: location dump [AOR]'
expect_rc "ctl location remove without an AOR: exit 1" 1 ctl location remove
expect_rc "ctl location frob: exit 1" 1 ctl location frob
has "... the usage in the reply" "$T/out" 'usage: location dump [AOR]'
stop px || fail "the proxy did not exit cleanly" "$(err_report "$T/px.err")"

# ---- the file, offline ----
expect_rc "sipflow location dump --uri FILE" 0 loc dump --uri "$DB"
[ "$(wc -l <"$T/out")" = 4 ] && pass "... one JSON line per binding (4: the removals reached the file)" ||
  fail "offline dump lines: $(wc -l <"$T/out")" "$(cat "$T/out")"
has "... u0's remaining contact" "$T/out" '{"aor":"sip:u0@127.0.0.1","contact":"sip:u0-a@192.0.2.1:5060"'
grep -q 'u0-b@\|"sip:u1@' "$T/out" && fail "the removed bindings are in the file" "$(cat "$T/out")" ||
  pass "... not the removed ones"
for f in call_id cseq source transport local path instance reg_id node expires_in; do
  grep -q "\"$f\":" "$T/out" || fail "no $f in the dump" "$(head -1 "$T/out")"
done
pass "... each field of a binding"
expect_rc "sipflow location dump --uri FILE AOR" 0 loc dump --uri "$DB" sip:u2@127.0.0.1
[ "$(wc -l <"$T/out")" = 1 ] && pass "... its binding only" || fail "dump AOR" "$(cat "$T/out")"
expect_rc "sipflow location count --set core.state_dir=DIR (the default file)" 0 loc count --set "core.state_dir=$T/pxstate"
has "... 4 of 4" "$T/out" '{"bindings":4,"aors":4,"expired":0}'
printf '[location]\nuri = %s\n' "$DB" >"$T/loc.ini"
expect_rc "sipflow location count --config FILE (location.uri)" 0 loc count --config "$T/loc.ini"
has "... 4 of 4" "$T/out" '{"bindings":4,"aors":4,"expired":0}'
python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("UPDATE binding SET expires = 1000 WHERE aor = ?", ("sip:u3@127.0.0.1",))
c.commit()' "$DB"
expect_rc "count with an expired binding" 0 loc count --set "location.uri=$DB"
has "... counted apart" "$T/out" '{"bindings":3,"aors":3,"expired":1}'
expect_rc "purge" 0 loc purge --uri "$DB"
has "... removes the expired binding" "$T/out" '{"removed":1}'
expect_rc "purge AOR" 0 loc purge --uri "$DB" sip:u2@127.0.0.1
has "... removes its binding" "$T/out" '{"removed":1}'
loc count --uri "$DB" >"$T/out" 2>&1
has "... what is left" "$T/out" '{"bindings":2,"aors":2,"expired":0}'

# ---- one dump reply is bounded ----
python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.executemany("INSERT INTO binding (aor, contact, q, expires, call_id, cseq) VALUES (?, ?, 1, 4000000000, ?, 1)",
              [("sip:b%04d@127.0.0.1" % i, "sip:b%04d@192.0.2.2" % i, "c%d" % i) for i in range(1100)])
c.commit()' "$DB"
start big proxy.xml --set "location.uri=$DB" --control "$T/big.sock" || exit 1
expect_rc "a store of 1102 bindings loaded at start: count" 0 "$SIPFLOW" ctl "$T/big.sock" location count
has "... all of them" "$T/out" '"bindings":1102'
expect_rc "... dump" 0 "$SIPFLOW" ctl "$T/big.sock" location dump
listed=$(grep -o '"listed":[0-9]*' "$T/out" | cut -d: -f2)
[ "$listed" = 1000 ] && grep -q '"total":1102,"note":"cut at ' "$T/out" &&
  pass "... one reply lists 1000 and says it was cut" || fail "the cut dump" "$(tail -c 300 "$T/out")"
stop big || fail "the second proxy did not exit cleanly" "$(err_report "$T/big.err")"

# ---- errors ----
expect_rc "a file that does not exist: exit 1" 1 loc count --uri "$T/none.sqlite"
has "... naming it" "$T/err" "$T/none.sqlite"
[ ! -e "$T/none.sqlite" ] && pass "... and it is not made" || fail "the missing file was made"
head -c 4096 /dev/urandom >"$T/junk.sqlite"
expect_rc "a file that is not a database: exit 1" 1 loc dump --uri "$T/junk.sqlite"
has "... naming it" "$T/err" "$T/junk.sqlite"
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("CREATE TABLE t (x)"); c.commit()' "$T/other.sqlite"
expect_rc "another program's database: exit 1" 1 loc purge --uri "$T/other.sqlite"
has "... not a location store" "$T/err" "$T/other.sqlite: not a location store"
# Many programs set user_version: a schema version alone is no location store,
# and a tool that refuses a file leaves it as it was (its journal mode too).
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("CREATE TABLE t (x)"); c.execute("PRAGMA user_version = 1"); c.commit()' "$T/versioned.sqlite"
sum=$(md5sum <"$T/versioned.sqlite")
expect_rc "another program's database with a user_version: exit 1" 1 loc purge --uri "$T/versioned.sqlite"
has "... not a location store" "$T/err" "$T/versioned.sqlite: not a location store"
[ "$(md5sum <"$T/versioned.sqlite")" = "$sum" ] && [ ! -e "$T/versioned.sqlite-wal" ] &&
  pass "... and left as it was (not turned to WAL)" || fail "the other program's database was changed"
expect_rc "location.backend=memory: nothing to read, exit 1" 1 loc count --set location.backend=memory
expect_rc "usage: no subcommand" 2 loc
expect_rc "usage: an unknown subcommand" 2 loc frob --uri "$DB"
expect_rc "usage: count takes no AOR" 2 loc count --uri "$DB" sip:u0@127.0.0.1
expect_rc "usage: dump takes one AOR" 2 loc dump --uri "$DB" a b
expect_rc "usage: --uri with --set" 2 loc count --uri "$DB" --set core.state_dir=/tmp
expect_rc "usage: an unknown option" 2 loc count --frob
expect_rc "location --help" 0 loc --help
has "... says what purge does to a running server" "$T/out" "sees it only when it starts again"

summary location-tools
