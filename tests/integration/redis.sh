#!/bin/bash
# redis.sh: the location service's redis backend, two nodes sharing one
# redis-server (its own, on a free loopback port, stopped by PID), bounded:
#  - proxies on 127.0.0.1 and 127.0.0.2: a UA (sipp) registered through A with
#    digest is called through B over UDP, the INVITE reaches it; the binding is
#    in Redis (redis-cli HGETALL), the key's TTL follows the expiry; one
#    registered through A over TCP, its contact a TCP UAS, is called through B
#    (B connects to the contact: a contact only reachable over the REGISTER's
#    own connection needs the routing through the owning node, not here);
#  - a redirect server on the same Redis (no users file): a contact past its
#    expiry is left out of the 302 though its field is still in the hash
#    (filtered on read); hostile values written into the hash are left out,
#    counted in the log, q clamped; after SCRIPT FLUSH (NOSCRIPT) a REGISTER is
#    still served; a REGISTER with a CSeq not above the binding's gets 500;
#  - registrar.max_aors = 2 on a database of its own: a third address-of-record
#    gets 503 and no key, one already there still registers;
#  - Redis stopped (SIGSTOP): REGISTER gets 500 with Retry-After within the
#    command timeout, an INVITE 503 with Retry-After (proxy) and the redirect
#    server's 503, all three stay up; SIGCONT: they recover; SIGKILL and a new
#    redis-server on the same port: they reconnect and serve again;
#  - a Redis with requirepass: the password set, REGISTER 200 and the binding
#    in the database of the URI; a wrong one: 500 and a warning naming AUTH;
#  - each server exits cleanly (ASan: no leak) with Redis gone.
. "$(dirname "$0")/lib.sh"
need_sipp
need_redis

TIMEOUT_MS=400

rcli() { rcli_to "$RPORT_r" "$@"; }

printf 'u1:pw1\nt1:pw1\n' >"$T/users"
printf 'SEQUENTIAL\nu1;[authentication username=u1 password=pw1]\n' >"$T/u1.csv"

# REGISTER u1 through digest, its contact at the UAS ([uas])
cat >"$T/reg.xml" <<'EOF'
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register with digest">
  <send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[field0]@sipflow.test>;tag=[pid]reg[call_number]
To: <sip:[field0]@sipflow.test>
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
From: <sip:[field0]@sipflow.test>;tag=[pid]reg[call_number]
To: <sip:[field0]@sipflow.test>
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

# plain_reg STATUS WAIT: a REGISTER without digest for [user], its Contact
# header [contact], answered STATUS within WAIT ms (sent once: a
# retransmission would hide the wait)
plain_reg() {
  cat >"$T/preg$1.xml" <<EOF
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="register, $1">
  <send><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:[user]@sipflow.test>;tag=[pid]preg[call_number]
To: <sip:[user]@sipflow.test>
Call-ID: [call_id]
CSeq: 1 REGISTER
Contact: [contact]
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="$1" timeout="$2"/>
</scenario>
EOF
}
# a 500 from a Redis that does not answer: within the command timeout (and a margin for sipp and ASan)
SLOW=$((TIMEOUT_MS + 1500))
plain_reg 200 5000
plain_reg 500 $SLOW
plain_reg 503 5000

# invite STATUS WAIT: INVITE [user] at the server, the final response STATUS within WAIT ms, ACKed
invite_scenario() {
  cat >"$T/inv$1.xml" <<EOF
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="invite, $1, ack">
  <send><![CDATA[
INVITE sip:[user]@sipflow.test SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]inv[call_number]
To: <sip:[user]@sipflow.test>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:caller@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="100" optional="true"/>
  <recv response="$1" timeout="$2"/>
  <send><![CDATA[
ACK sip:[user]@sipflow.test SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch-3]
From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]inv[call_number]
To: <sip:[user]@sipflow.test>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
</scenario>
EOF
}
invite_scenario 486 5000
invite_scenario 503 $SLOW
invite_scenario 302 5000

# the UAS u1's contact leads to: 486 to each INVITE
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

# preg NAME SERVER STATUS USER CONTACT: one plain REGISTER, its messages in $T/NAME.msg
preg() {
  sipp_run "$1" "$2" -sf "$T/preg$3.xml" -m 1 -key user "$4" -key contact "$5" -timeout 15 \
    -trace_msg -message_file "$T/$1.msg"
}

# the same Call-ID and CSeq again, then a lower CSeq: 500 each (10.3 step 7)
ooo_step() {
  cat <<EOF
  <send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:frank@sipflow.test>;tag=[pid]ooo[call_number]
To: <sip:frank@sipflow.test>
Call-ID: [call_id]
CSeq: $1 REGISTER
Contact: <sip:frank@192.0.2.7>;expires=600
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="$2"/>
EOF
}
{
  printf '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="out of order">\n'
  ooo_step 5 200
  ooo_step 5 500
  ooo_step 4 500
  printf '</scenario>\n'
} >"$T/ooo.xml"
# inv NAME SERVER STATUS USER
inv() {
  sipp_run "$1" "$2" -sf "$T/inv$3.xml" -m 1 -key user "$4" -timeout 15 \
    -trace_msg -message_file "$T/$1.msg"
}

redis_start r "" || { fail "redis-server did not start" "$(tail -3 "$T/r.events")"; exit 1; }
URI="redis://127.0.0.1:$RPORT_r/2"
loc=(--set location.backend=redis --set "location.uri=$URI" --set "location.password=$REDIS_PASS"
  --set "location.timeout_ms=$TIMEOUT_MS")
px=(proxy.xml --set "registrar.users=$T/users" --set proxy.trusted=127.0.0.0/8 --set sip.t1_ms=100 "${loc[@]}")

sipp_server uas -sf "$T/uas.xml" -m 3 || { fail "the sipp UAS did not start"; exit 1; }
UAS=127.0.0.1:$SIPP_PORT
start pa "${px[@]}" --listen tcp:127.0.0.1:0 || exit 1
LISTEN=udp:127.0.0.2:0 start pb "${px[@]}" --listen tcp:127.0.0.2:0 || exit 1
A=127.0.0.1:$PORT_pa
B=127.0.0.2:$PORT_pb
start rd redirect.xml --set sip.t1_ms=100 --set registrar.min_expires=1 "${loc[@]}" || exit 1
RD=127.0.0.1:$PORT_rd

# ---- two nodes, one store ----
sipp_run reg "$A" -sf "$T/reg.xml" -inf "$T/u1.csv" -key uas "$UAS" -m 1 -timeout 15
[ "$SIPP_RC" = 0 ] && pass "u1 registered through proxy A with digest" || fail "registration through A: exit $SIPP_RC" "$(tail -3 "$T/reg.out")"
rcli -n 2 HGETALL sipflow:loc:sip:u1@sipflow.test >"$T/hash"
has "the binding is in Redis, database 2 (HGETALL)" "$T/hash" "sip:u1-dev@$UAS"
has "... with the node that received it" "$T/hash" "\"node\":\"127.0.0.1:$PORT_pa\""
ttl=$(rcli -n 2 TTL sipflow:loc:sip:u1@sipflow.test)
[ "${ttl:-0}" -gt 590 ] && [ "${ttl:-0}" -le 601 ] && pass "the key's TTL follows the expiry ($ttl s)" || fail "TTL $ttl, expected 591..601"
inv invb "$B" 486 u1
[ "$SIPP_RC" = 0 ] && pass "an INVITE through proxy B reaches u1's contact over UDP (486 from it)" ||
  fail "INVITE through B: exit $SIPP_RC" "$(grep -m3 '^SIP/2.0' "$T/invb.msg")"

# ---- over TCP: registered through A over TCP, its contact a TCP UAS B connects to ----
tcp_port() { grep '"event":"listening".*"transport":"tcp"' "$T/$1.events" | head -1 | sed 's/.*"port":\([0-9]*\).*/\1/'; }
SP=
for try in 1 2 3 4 5; do
  SP=$((20000 + (RANDOM % 20000)))
  tcp_bound "$SP" && continue
  timeout 60 sipp -t t1 -p "$SP" -i 127.0.0.1 -nostdin -sf "$T/uas.xml" -m 1 -timeout 30 -trace_msg \
    -message_file "$T/tuas.msg" >"$T/tuas.out" 2>&1 &
  TUAS=$!
  PIDS+=("$TUAS")
  for i in $(seq 50); do tcp_bound "$SP" && break; kill -0 "$TUAS" 2>/dev/null || break; sleep 0.1; done
  tcp_bound "$SP" && break
  kill "$TUAS" 2>/dev/null; wait "$TUAS" 2>/dev/null; SP=
done
[ -n "$SP" ] || fail "the sipp UAS over TCP did not start"
printf 'SEQUENTIAL\nt1;[authentication username=t1 password=pw1]\n' >"$T/t1.csv"
sipp_run treg "127.0.0.1:$(tcp_port pa)" -t t1 -sf "$T/reg.xml" -inf "$T/t1.csv" -key uas "127.0.0.1:$SP;transport=tcp" \
  -m 1 -timeout 15
[ "$SIPP_RC" = 0 ] && pass "t1 registered through proxy A over TCP, its contact with ;transport=tcp" ||
  fail "TCP registration through A: exit $SIPP_RC" "$(tail -3 "$T/treg.out")"
inv tinv "$B" 486 t1
[ "$SIPP_RC" = 0 ] && grep -q "^INVITE sip:t1-dev@127.0.0.1:$SP;transport=tcp" "$T/tuas.msg" &&
  pass "an INVITE through proxy B reaches t1's contact over TCP (B connects to it)" ||
  fail "INVITE through B over TCP: exit $SIPP_RC" "$(grep -m3 '^SIP/2.0' "$T/tinv.msg")" "$(tail -3 "$T/pb.err")"

# ---- expiry filtered on read, CSeq order (the redirect server, no users file) ----
preg r1 "$RD" 200 carol '<sip:carol-short@192.0.2.1>;expires=1, <sip:carol-long@192.0.2.2>;expires=600'
[ "$SIPP_RC" = 0 ] && pass "carol registered two contacts (1 s and 600 s)" || fail "carol's REGISTER: exit $SIPP_RC"
# the short one's second passes (time, not a state: nothing tells when an expiry is crossed)
end=$(($(date +%s) + 2))
while [ "$(date +%s)" -le "$end" ]; do sleep 0.2; done
inv rinv "$RD" 302 carol
grep -q 'carol-long@192.0.2.2' "$T/rinv.msg" && ! grep -q 'carol-short' "$T/rinv.msg" &&
  pass "the expired contact is left out of the 302 (filtered on read)" || fail "the 302 after expiry" "$(grep -i '^Contact' "$T/rinv.msg")"
rcli -n 2 HKEYS sipflow:loc:sip:carol@sipflow.test >"$T/keys"
has "... though Redis still has its field (no per-field expiry)" "$T/keys" "sip:carol-short@192.0.2.1"
# hostile values in the hash (another program, or someone with redis-cli): left out, counted, no crash
rcli -n 2 HSET sipflow:loc:sip:carol@sipflow.test sip:evil@192.0.2.9 'not json' >/dev/null
rcli -n 2 HSET sipflow:loc:sip:carol@sipflow.test sip:huge@192.0.2.9 \
  "{\"q\":1e300,\"expires\":4e9,\"call_id\":\"x\",\"cseq\":1e20,\"reg_id\":0}" >/dev/null
rcli -n 2 HSET sipflow:loc:sip:carol@sipflow.test sip:highq@192.0.2.9 \
  "{\"q\":7,\"expires\":4000000000,\"call_id\":\"x\",\"cseq\":1,\"reg_id\":0}" >/dev/null
inv rinv2 "$RD" 302 carol
grep -q 'carol-long@192.0.2.2' "$T/rinv2.msg" && grep -q 'sip:highq@192.0.2.9>;q=1.000' "$T/rinv2.msg" &&
  ! grep -qE 'evil|huge' "$T/rinv2.msg" && pass "hostile stored values: left out, q clamped to 1" ||
  fail "the 302 with hostile values stored" "$(grep -i '^Contact' "$T/rinv2.msg")"
has "... counted in the log" "$T/rd.err" "could not be read and were left out"
# ---- looking inside: sipflow location on the Redis store (the nodes' own script reads it) ----
LURI="redis://:$REDIS_PASS@127.0.0.1:$RPORT_r/2"
expect_rc "sipflow location dump --uri redis://... AOR" 0 "$SIPFLOW" location dump --uri "$LURI" sip:carol@sipflow.test
grep -q '"contact":"sip:carol-long@192.0.2.2"' "$T/out" && grep -q '"contact":"sip:highq@192.0.2.9"' "$T/out" &&
  grep '"contact":"sip:carol-short@192.0.2.1"' "$T/out" | grep -q '"expires_in":-\?0\|"expires_in":-' &&
  pass "... its bindings, the expired one with expires_in <= 0" || fail "the dump of carol" "$(cat "$T/out")"
has "... the unreadable ones left out and counted" "$T/err" "2 stored binding(s) could not be read"
expect_rc "sipflow location count (redis, through --config)" 0 "$SIPFLOW" location count \
  --set location.backend=redis --set "location.uri=redis://127.0.0.1:$RPORT_r/2" --set "location.password=$REDIS_PASS"
grep -qE '^\{"bindings":[1-9][0-9]*,"aors":[1-9][0-9]*,"expired":[1-9][0-9]*\}$' "$T/out" &&
  pass "... live bindings, addresses-of-record and expired ones" || fail "the count" "$(cat "$T/out")"
expect_rc "sipflow location purge (redis): the expired and the unreadable go" 0 "$SIPFLOW" location purge --uri "$LURI"
grep -qE '^\{"removed":([3-9]|[1-9][0-9]+)\}$' "$T/out" && pass "... at least carol's three" || fail "the purge" "$(cat "$T/out")"
rcli -n 2 HKEYS sipflow:loc:sip:carol@sipflow.test >"$T/keys"
grep -q carol-long "$T/keys" && grep -q highq "$T/keys" && ! grep -qE 'carol-short|evil|huge' "$T/keys" &&
  pass "... and Redis keeps the live ones only" || fail "carol's fields after the purge" "$(cat "$T/keys")"
expect_rc "sipflow location purge AOR (redis)" 0 "$SIPFLOW" location purge --uri "$LURI" sip:carol@sipflow.test
has "... removes its two" "$T/out" '{"removed":2}'
[ "$(rcli -n 2 EXISTS sipflow:loc:sip:carol@sipflow.test)" = 0 ] && pass "... its hash is gone" || fail "carol's hash is still there"
expect_rc "sipflow location with a wrong Redis password: exit 1" 1 "$SIPFLOW" location count \
  --uri "redis://:wrong@127.0.0.1:$RPORT_r/2"
has "... naming the store, not the password" "$T/err" "location.uri: redis://127.0.0.1:$RPORT_r/2: AUTH refused"
# the script gone from Redis (SCRIPT FLUSH, as after a restart): EVAL again, served
rcli SCRIPT FLUSH >/dev/null
preg flushed "$RD" 200 grace '<sip:grace@192.0.2.8>'
[ "$SIPP_RC" = 0 ] && pass "after SCRIPT FLUSH (NOSCRIPT): the REGISTER gets 200" || fail "REGISTER after SCRIPT FLUSH: exit $SIPP_RC"
sipp_run ooo "$RD" -sf "$T/ooo.xml" -m 1 -timeout 15 -trace_msg -message_file "$T/ooo.msg"
[ "$SIPP_RC" = 0 ] && pass "a REGISTER with a CSeq not above the binding's gets 500 (the same, then lower)" ||
  fail "out of order: exit $SIPP_RC" "$(grep '^SIP/2.0' "$T/ooo.msg")"

# ---- registrar.max_aors: the keys of the database (DBSIZE), checked when a REGISTER adds a key ----
start rdm redirect.xml --set sip.t1_ms=100 --set registrar.max_aors=2 --set location.backend=redis \
  --set "location.uri=redis://127.0.0.1:$RPORT_r/3" --set "location.password=$REDIS_PASS" \
  --set "location.timeout_ms=$TIMEOUT_MS" || exit 1
RDM=127.0.0.1:$PORT_rdm
preg m1 "$RDM" 200 m1 '<sip:m1@192.0.2.11>'
rc1=$SIPP_RC
preg m2 "$RDM" 200 m2 '<sip:m2@192.0.2.12>'
[ "$rc1" = 0 ] && [ "$SIPP_RC" = 0 ] && pass "registrar.max_aors = 2: two addresses-of-record registered" || fail "m1, m2: exit $SIPP_RC"
preg m3 "$RDM" 503 m3 '<sip:m3@192.0.2.13>'
[ "$SIPP_RC" = 0 ] && grep -q '^SIP/2.0 503 Location Service Full' "$T/m3.msg" &&
  pass "... a third gets 503 Location Service Full" || fail "a third address-of-record: exit $SIPP_RC" "$(grep -m2 '^SIP/2.0' "$T/m3.msg")"
[ "$(rcli -n 3 DBSIZE)" = 2 ] && pass "... and Redis holds no key for it" || fail "keys in database 3: $(rcli -n 3 KEYS '*')"
preg m1b "$RDM" 200 m1 '<sip:m1-other@192.0.2.11>'
[ "$SIPP_RC" = 0 ] && pass "... one already there still registers another contact" || fail "m1 again: exit $SIPP_RC"

# ---- Redis stopped ----
kill -STOP "$PID_r"
preg stop1 "$RD" 500 dave '<sip:dave@192.0.2.4>'
[ "$SIPP_RC" = 0 ] && pass "Redis stopped: REGISTER gets 500 within the command timeout" || fail "REGISTER while stopped: exit $SIPP_RC" "$(grep -m2 '^SIP/2.0' "$T/stop1.msg")"
has "... with Retry-After" "$T/stop1.msg" "Retry-After:"
inv stop2 "$B" 503 u1
[ "$SIPP_RC" = 0 ] && pass "Redis stopped: an INVITE through B gets 503" || fail "INVITE while stopped: exit $SIPP_RC" "$(grep -m2 '^SIP/2.0' "$T/stop2.msg")"
has "... with Retry-After" "$T/stop2.msg" "Retry-After:"
inv stop3 "$RD" 503 carol
[ "$SIPP_RC" = 0 ] && pass "Redis stopped: the redirect server answers 503" || fail "redirect while stopped: exit $SIPP_RC" "$(grep -m2 '^SIP/2.0' "$T/stop3.msg")"
kill -0 "$PID_pa" && kill -0 "$PID_pb" && kill -0 "$PID_rd" && pass "both proxies and the redirect server stay up" || fail "a server died"
has "the lost Redis is logged" "$T/rd.err" "its commands fail until it is back"

# recovered: REGISTER until 200 (the backoff is at most 5 s, each try bounded)
recover() {
  local end=$((SECONDS + 20))
  while [ "$SECONDS" -lt "$end" ]; do
    preg "$1" "$RD" 200 dave '<sip:dave@192.0.2.4>'
    [ "$SIPP_RC" = 0 ] && return 0
  done
  return 1
}
kill -CONT "$PID_r"
recover cont && pass "Redis continued: REGISTER gets 200 again" || fail "no recovery after SIGCONT"
sipp_run reg2 "$A" -sf "$T/reg.xml" -inf "$T/u1.csv" -key uas "$UAS" -m 1 -timeout 15
inv invb2 "$B" 486 u1
[ "$SIPP_RC" = 0 ] && pass "... and proxy B finds u1 again" || fail "INVITE through B after SIGCONT: exit $SIPP_RC" "$(grep -m2 '^SIP/2.0' "$T/invb2.msg")"

{ kill -KILL "$PID_r"; wait "$PID_r"; } 2>/dev/null # (no "Killed" line from bash)
preg gone "$RD" 500 dave '<sip:dave@192.0.2.4>'
[ "$SIPP_RC" = 0 ] && pass "Redis killed: REGISTER gets 500" || fail "REGISTER with Redis killed: exit $SIPP_RC"
redis_start r "$RPORT_r" || { fail "redis-server did not start again on port $RPORT_r"; exit 1; }
recover restart && pass "a new redis-server on the same port: REGISTER gets 200 again" || fail "no recovery after the restart"
sipp_run reg3 "$A" -sf "$T/reg.xml" -inf "$T/u1.csv" -key uas "$UAS" -m 1 -timeout 15
inv invb3 "$B" 486 u1
[ "$SIPP_RC" = 0 ] && pass "... registered again through A, u1 is reached through B" ||
  fail "INVITE through B after the restart: exit $SIPP_RC" "$(grep -m2 '^SIP/2.0' "$T/invb3.msg")"
sipp_server_wait uas

# ---- a password ----
REDIS_PASS='s3cret pass' redis_start rp "" || { fail "the redis-server with a password did not start"; exit 1; }
start good redirect.xml --set location.backend=redis --set "location.uri=redis://127.0.0.1:$RPORT_rp/1" \
  --set "location.password=s3cret pass" --set "location.timeout_ms=$TIMEOUT_MS" || exit 1
preg pw "127.0.0.1:$PORT_good" 200 erin '<sip:erin@192.0.2.5>'
[ "$SIPP_RC" = 0 ] && pass "requirepass: with location.password, REGISTER gets 200" || fail "REGISTER with the password: exit $SIPP_RC" "$(err_report "$T/good.err")"
timeout 5 redis-cli -p "$RPORT_rp" -a 's3cret pass' --no-auth-warning -n 1 HKEYS sipflow:loc:sip:erin@sipflow.test >"$T/pkeys"
has "... the binding is in database 1" "$T/pkeys" "sip:erin@192.0.2.5"
start bad redirect.xml --set location.backend=redis --set "location.uri=redis://:wrong@127.0.0.1:$RPORT_rp/1" \
  --set "location.timeout_ms=$TIMEOUT_MS" || exit 1
preg badpw "127.0.0.1:$PORT_bad" 500 erin '<sip:erin@192.0.2.6>'
[ "$SIPP_RC" = 0 ] && pass "a wrong password: REGISTER gets 500" || fail "REGISTER with a wrong password: exit $SIPP_RC"
has "... and the log names AUTH" "$T/bad.err" "AUTH refused"

# ---- clean exits, Redis gone ----
{ kill -KILL "$PID_r" "$PID_rp"; wait "$PID_r" "$PID_rp"; } 2>/dev/null
for s in pa pb rd rdm good bad; do
  stop "$s" && pass "$s exits cleanly" || fail "$s did not exit cleanly" "$(err_report "$T/$s.err")"
done
summary redis.sh
