#!/bin/bash
# location-restart.sh: the location service's sqlite backend (the default)
# keeps every binding answered 200 across a SIGKILL, on loopback, bounded:
#  - xml/proxy.xml: 100 users register with digest (sipp, a users file), the
#    proxy is killed with SIGKILL and started again on the same state dir; an
#    INVITE to each is proxied to its own contact (100/100: one sipp UAS, each
#    Request-URI checked against the To of the INVITE);
#  - xml/redirect.xml: the same, each 302's Contact the registered one;
#  - a storm of REGISTERs at the redirect server, killed in the middle: every
#    REGISTER sipp saw answered 200 is in the 302 of its user after the restart;
#  - an empty file (schema version 0, no tables) is migrated; a file that is no
#    database, a path that cannot be made and a redis URI that is none are
#    start-up errors naming the cause;
#  - a database another process keeps locked past location.busy_timeout_ms:
#    the REGISTER gets 500 with Retry-After; once the lock is gone, 200.
. "$(dirname "$0")/lib.sh"
need_sipp

N=100
: >"$T/users"
printf 'SEQUENTIAL\n' >"$T/users.csv"
for i in $(seq -w 0 $((N - 1))); do
  printf 'u%s:pw%s\n' "$i" "$i" >>"$T/users"
  printf 'u%s;[authentication username=u%s password=pw%s]\n' "$i" "$i" "$i" >>"$T/users.csv"
done

# REGISTER through digest for [field0] (sipp 3.6 takes the credentials whole
# from a field, not [authentication] with fields inside), its contact
# sip:[field0]-dev@[uas]
cat >"$T/reg.xml" <<'EOF'
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register a user of the file, contact at the UAS">
  <send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[field0]@[remote_ip]>;tag=[pid]reg[call_number]
To: <sip:[field0]@[remote_ip]>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: <sip:[field0]-dev@[uas]>
Expires: 600
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="401" auth="true"/>
  <send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[field0]@[remote_ip]>;tag=[pid]reg[call_number]
To: <sip:[field0]@[remote_ip]>
Call-ID: [call_id]
CSeq: 2 REGISTER
Contact: <sip:[field0]-dev@[uas]>
[field1]
Expires: 600
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200"/>
</scenario>
EOF

# INVITE [field0] at the server, the final response STATUS, ACKed (same branch)
invite_scenario() {
  cat >"$T/inv$1.xml" <<EOF
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="invite, $1, ack">
  <send retrans="500"><![CDATA[
INVITE sip:[field0]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]inv[call_number]
To: <sip:[field0]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:caller@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="100" optional="true"/>
  <recv response="$1"/>
  <send><![CDATA[
ACK sip:[field0]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-3]
From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]inv[call_number]
To: <sip:[field0]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
</scenario>
EOF
}
invite_scenario 486
invite_scenario 302

# the UAS every contact leads to: 486 to each INVITE, its ACK
cat >"$T/uas.xml" <<'EOF'
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="busy">
  <recv request="INVITE"/>
  <send><![CDATA[
SIP/2.0 486 Busy Here
[last_Via:]
[last_From:]
[last_To:];tag=[pid]uas[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <recv request="ACK"/>
</scenario>
EOF

# pairs FILE START: "user contact-user" for each message of a sipp message log
# whose first line starts with START: the To user, and the user of the
# Request-URI (an INVITE) or of each Contact (a response)
pairs() {
  awk -v start="$2" '
    function user(s) { sub(/.*sip:/, "", s); sub(/@.*/, "", s); return s }
    /^(UDP|TCP) message (received|sent)/ { inmsg = 1; first = ""; to = ""; n = 0; next }
    inmsg && first == "" && NF > 0 { first = $0; if (index(first, start) == 1 && start ~ /^INVITE/) c[n++] = user($2); next }
    inmsg && /^[Tt]o:/ { to = user($0) }
    inmsg && /^(Contact|m):/ && start !~ /^INVITE/ { c[n++] = user($0) }
    inmsg && /^-----/ { flush() }
    function flush() { if (index(first, start) == 1) for (i = 0; i < n; i++) print to, c[i]; inmsg = 0; first = "" }
    END { flush() }' "$1" | tr -d '\r' | sort -u
}

# ---- the proxy ----
sipp_server uas -sf "$T/uas.xml" -m $N -trace_msg -message_file "$T/uas.msg" || { fail "the sipp UAS did not start"; exit 1; }
UAS=127.0.0.1:$SIPP_PORT
px=(proxy.xml --set "registrar.users=$T/users" --set proxy.trusted=127.0.0.0/8 --set sip.t1_ms=100 --set "core.state_dir=$T/pxstate")
start px1 "${px[@]}" || exit 1
sipp_run reg "127.0.0.1:$PORT_px1" -sf "$T/reg.xml" -inf "$T/users.csv" -key uas "$UAS" -m $N -r 200 -timeout 30
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = $N ] && pass "proxy: $N users registered through digest" ||
  fail "proxy registrations: exit $SIPP_RC, ${OK:-0} of $N" "$(tail -5 "$T/reg.out")"
[ -s "$T/pxstate/location.sqlite" ] && pass "the bindings are in core.state_dir/location.sqlite" ||
  fail "no $T/pxstate/location.sqlite" "$(ls -la "$T/pxstate" 2>&1)"
kill -KILL "$PID_px1"
wait "$PID_px1" 2>/dev/null
start px2 "${px[@]}" || exit 1
sipp_run inv "127.0.0.1:$PORT_px2" -sf "$T/inv486.xml" -inf "$T/users.csv" -m $N -r 200 -timeout 30
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = $N ] && pass "proxy after SIGKILL: $N INVITEs proxied to a contact (486 from it)" ||
  fail "proxy INVITEs after the restart: exit $SIPP_RC, ${OK:-0} of $N" "$(tail -5 "$T/inv.out")" "$(grep -c ' 480 ' "$T/px2.events")"
sipp_server_wait uas
right=$(pairs "$T/uas.msg" "INVITE sip:" | awk '$2 == $1 "-dev"' | wc -l)
[ "$right" = $N ] && pass "each of the $N INVITEs reached its own user's contact" ||
  fail "INVITEs at the right contact: $right of $N" "$(pairs "$T/uas.msg" "INVITE sip:" | awk '$2 != $1 "-dev"' | head -3)"
stop px2 || fail "the restarted proxy did not exit cleanly" "$(err_report "$T/px2.err")"

# ---- the redirect server ----
rd=(redirect.xml --set "registrar.users=$T/users" --set sip.t1_ms=100 --set "core.state_dir=$T/rdstate")
start rd1 "${rd[@]}" || exit 1
sipp_run rdreg "127.0.0.1:$PORT_rd1" -sf "$T/reg.xml" -inf "$T/users.csv" -key uas "$UAS" -m $N -r 200 -timeout 30
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = $N ] && pass "redirect: $N users registered through digest" ||
  fail "redirect registrations: exit $SIPP_RC, ${OK:-0} of $N" "$(tail -5 "$T/rdreg.out")"
kill -KILL "$PID_rd1"
wait "$PID_rd1" 2>/dev/null
start rd2 "${rd[@]}" || exit 1
sipp_run rdinv "127.0.0.1:$PORT_rd2" -sf "$T/inv302.xml" -inf "$T/users.csv" -m $N -r 200 -timeout 30 \
  -trace_msg -message_file "$T/rdinv.msg"
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = $N ] && pass "redirect after SIGKILL: $N INVITEs answered 302" ||
  fail "redirect INVITEs after the restart: exit $SIPP_RC, ${OK:-0} of $N" "$(tail -5 "$T/rdinv.out")"
right=$(pairs "$T/rdinv.msg" "SIP/2.0 302" | awk '$2 == $1 "-dev"' | wc -l)
[ "$right" = $N ] && pass "each 302 names its user's registered contact" ||
  fail "302s with the right contact: $right of $N" "$(pairs "$T/rdinv.msg" "SIP/2.0 302" | head -3)"
stop rd2 || fail "the restarted redirect server did not exit cleanly" "$(err_report "$T/rd2.err")"

# ---- a storm of REGISTERs, the server killed in the middle ----
cat >"$T/storm.xml" <<'EOF'
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register a new contact each call">
  <send retrans="200"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[field0]@[remote_ip]>;tag=[pid]st[call_number]
To: <sip:[field0]@[remote_ip]>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: <sip:[field0]-s[call_number]@192.0.2.1:5060>
Expires: 600
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200" timeout="1000">
    <action> <log message="[field0] [field0]-s[call_number]"/> </action>
  </recv>
</scenario>
EOF
st=(redirect.xml --set sip.t1_ms=100 --set "core.state_dir=$T/ststate")
start st1 "${st[@]}" || exit 1
( sipp_run storm "127.0.0.1:$PORT_st1" -sf "$T/storm.xml" -inf "$T/users.csv" -m 800 -r 400 -timeout 20 \
    -trace_logs -log_file "$T/storm.log" ) &
STORM=$!
PIDS+=("$STORM")
wait_ev st1 '"event":"bindings"' 10 250 || fail "the storm did not reach 250 bindings" "$(tail -3 "$T/storm.out")"
kill -KILL "$PID_st1"
wait "$PID_st1" 2>/dev/null
timeout 30 tail --pid="$STORM" -f /dev/null
grep -E '^u[0-9]+ u[0-9]+-s[0-9]+$' "$T/storm.log" | sort -u >"$T/storm.ok"
got=$(wc -l <"$T/storm.ok")
# the bindings event comes once a write is committed, just before its 200 is
# sent: a few of the 250 may be committed with their 200 never sent when the
# kill comes, so sipp may have seen a few less than 250
[ "$got" -ge 200 ] && [ "$got" -lt 800 ] && pass "the storm: $got REGISTERs answered 200 before the kill, the rest not" ||
  fail "the storm: $got answered 200 (expected 200 to 799)" "$(tail -3 "$T/storm.out")"
start st2 "${st[@]}" || exit 1
{ printf 'SEQUENTIAL\n'; cut -d' ' -f1 "$T/storm.ok" | sort -u; } >"$T/storm.csv"
users=$(($(wc -l <"$T/storm.csv") - 1))
sipp_run stinv "127.0.0.1:$PORT_st2" -sf "$T/inv302.xml" -inf "$T/storm.csv" -m "$users" -r 200 -timeout 30 \
  -trace_msg -message_file "$T/stinv.msg"
pairs "$T/stinv.msg" "SIP/2.0 302" >"$T/storm.found"
lost=$(comm -23 "$T/storm.ok" "$T/storm.found" | wc -l)
[ "$SIPP_RC" = 0 ] && [ "$lost" = 0 ] && pass "every REGISTER answered 200 is there after the restart ($got bindings, $users users)" ||
  fail "after the storm: $lost of $got bindings answered 200 are gone (sipp exit $SIPP_RC)" \
    "$(comm -23 "$T/storm.ok" "$T/storm.found" | head -3)"
stop st2 || fail "the storm's restarted server did not exit cleanly" "$(err_report "$T/st2.err")"

# ---- the file itself ----
: >"$T/empty.sqlite"
start mig redirect.xml --set "location.uri=$T/empty.sqlite" || exit 1
stop mig
[ "$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA user_version").fetchone()[0])' "$T/empty.sqlite")" = 1 ] &&
  pass "an empty database (schema version 0, no tables) is migrated to version 1" || fail "the migration from version 0"
head -c 4096 /dev/urandom >"$T/junk.sqlite"
expect_rc "a file that is no database: start-up error" 1 timeout 20 "$SIPFLOW" run redirect.xml --listen udp:127.0.0.1:0 \
  --set "location.uri=$T/junk.sqlite"
has "... naming the file" "$T/err" "$T/junk.sqlite"
expect_rc "a path that cannot be made: start-up error" 1 timeout 20 "$SIPFLOW" run redirect.xml --listen udp:127.0.0.1:0 \
  --set "location.uri=$T/junk.sqlite/location.sqlite"
has "... naming the file" "$T/err" "$T/junk.sqlite/location.sqlite"
expect_rc "location.backend=redis with a URI that is not redis://: start-up error" 1 timeout 20 "$SIPFLOW" run redirect.xml \
  --listen udp:127.0.0.1:0 --set location.backend=redis --set "location.uri=$T/junk.sqlite"
has "... says so" "$T/err" "expected redis://"

# ---- a database locked by another process ----
sipcat() { timeout 60 python3 "$SF_SRCDIR/tests/integration/sipcat.py" "$@"; }
printf '%s\n' "REGISTER sip:127.0.0.1 SIP/2.0" "Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKlk{cid};rport" \
  "Max-Forwards: 70" "From: <sip:lk@127.0.0.1>;tag=lk1" "To: <sip:lk@127.0.0.1>" "Call-ID: lk-{cid}" "CSeq: 1 REGISTER" \
  "Contact: <sip:lk@192.0.2.9:5060>" "Expires: 600" "" >"$T/lk.sip"
start lk redirect.xml --set location.busy_timeout_ms=100 --set "core.state_dir=$T/lkstate" || exit 1
mkfifo "$T/lk.hold"
python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
open(sys.argv[2]).read()  # holds the lock until the test closes the fifo
c.execute("ROLLBACK")' "$T/lkstate/location.sqlite" "$T/lk.hold" >"$T/lk.out" 2>&1 &
LOCKER=$!
PIDS+=("$LOCKER")
timeout 10 tail -n +1 -F "$T/lk.out" 2>/dev/null | grep -q -m1 locked
sipcat send "127.0.0.1:$PORT_lk" "$T/lk.sip" --show >"$T/lk.res"
grep -q '^SIP/2.0 500 ' "$T/lk.res" && grep -q '^Retry-After: ' "$T/lk.res" &&
  pass "a database locked past location.busy_timeout_ms: 500 with Retry-After" || fail "locked database" "$(head -3 "$T/lk.res")"
exec {hold}>"$T/lk.hold"
exec {hold}>&-
wait "$LOCKER"
[ "$(sipcat send "127.0.0.1:$PORT_lk" "$T/lk.sip")" = 200 ] && pass "... and 200 once the lock is gone" || fail "after the lock"
stop lk || fail "the locked-out server did not exit cleanly" "$(err_report "$T/lk.err")"

summary location-restart
