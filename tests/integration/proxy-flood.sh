#!/bin/bash
# proxy-flood.sh: unauthenticated floods against xml/proxy.xml hold no state
# (docs/security.md), on loopback, bounded:
#  - 20,000 REGISTERs without credentials (sip.rate_limit off, so all reach
#    the proxy): each challenged statelessly; afterwards the stats show no
#    instance, no transaction and no nonce slot held;
#  - INVITEs for a user that does not exist: one 404 each, never
#    retransmitted (no reflection amplifier); their ACKs absorbed;
#  - sip.rate_limit: a source over it is dropped and counted; a trusted one is not;
#  - sip.max_instances: past it a new request gets 503 with Retry-After.
. "$(dirname "$0")/lib.sh"
SRC=${SF_SRCDIR:-$PWD}
sipcat() { timeout 60 python3 "$SRC/tests/integration/sipcat.py" "$@"; }
command -v python3 >/dev/null || { echo "not ok - python3 is not installed (scripts/setup-deps installs it)"; exit 1; }

printf 'alice:secret\nbob:hunter2\n' >"$T/users"
start px proxy.xml --set "registrar.users=$T/users" --set sip.t1_ms=100 --set sip.rate_limit=0 || exit 1
PX=127.0.0.1:$PORT_px


cat >"$T/reg.sip" <<EOF
REGISTER sip:sipflow.test SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKfl{cid};rport
Max-Forwards: 70
From: <sip:alice@sipflow.test>;tag=f{n}
To: <sip:alice@sipflow.test>
Call-ID: flood-{cid}
CSeq: 1 REGISTER
Contact: <sip:alice@127.0.0.1:9>
Expires: 600

EOF
n0=$(stat_of px stateless_answers)
r0=$(stat_of px sip_received)
out=$(sipcat send "$PX" "$T/reg.sip" --count 20000 --timeout 0 --rate 4000)
# the proxy works through its socket buffer: wait until what it received stops growing (bounded)
rcv=$r0
for _ in $(seq 100); do
  prev=$rcv
  rcv=$(stat_of px sip_received)
  [ "$rcv" = "$prev" ] && [ "$rcv" -gt "$r0" ] && break
done
live=$(stat_of px instances_live)
txn=$(stat_of px transactions_live)
sl=$(stat_of px stateless_answers)
ns=$(stat_of px nonce_slots_used)
got=$((rcv - r0)) answered=$((sl - n0))
echo "# flood: $out; received $got; stateless answers $answered; instances_live $live; transactions_live $txn; nonce_slots_used $ns"
[ "$live" = 0 ] && [ "$txn" = 0 ] && [ "$ns" = 0 ] && [ "$got" -ge 19000 ] && [ "$answered" -ge "$got" ] &&
  pass "a flood of 20,000 unauthenticated REGISTERs ($got reached the proxy): each challenged statelessly, no instance, transaction or nonce slot held" ||
  fail "flood held state" "$out received=$got answers=$answered live=$live txn=$txn nonce_slots=$ns"

# INVITEs for a user we do not have: one 404 each, none retransmitted
cat >"$T/nobody.sip" <<EOF
INVITE sip:nobody@sipflow.test SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKnb{cid};rport
Max-Forwards: 70
From: <sip:mallory@example.net>;tag=m{n}
To: <sip:nobody@sipflow.test>
Call-ID: nobody-{cid}
CSeq: 1 INVITE

EOF
out=$(sipcat send "$PX" "$T/nobody.sip" --count 200 --timeout 0)
[ "$out" = "sent 200, responses 200" ] && [ "$(stat_of px instances_live)" = 0 ] &&
  pass "200 INVITEs for a user we do not have: 200 answers (404), no retransmission, no state" ||
  fail "INVITE flood for an unknown user" "$out"
[ "$(sipcat send "$PX" "$T/nobody.sip" --show | head -1)" = 404 ] && pass "the answer is 404" || fail "not 404"

# sip.rate_limit: 10 a second per source (bursts of 20); a trusted source exempt
start pr proxy.xml --set "registrar.users=$T/users" --set sip.rate_limit=10 --set proxy.trusted=127.0.0.2 || exit 1
PR=127.0.0.1:$PORT_pr
out=$(sipcat send "$PR" "$T/nobody.sip" --count 100 --timeout 0)
got=${out##* }
rl=$(stat_of pr requests_rate_limited)
[ "$got" -ge 15 ] && [ "$got" -le 40 ] && [ "$rl" -ge 60 ] &&
  pass "sip.rate_limit=10: of 100 requests at once, $got answered (the burst), $rl dropped and counted" ||
  fail "rate limit" "$out rate_limited=$rl"

# sip.max_instances=16: INVITEs relayed (trusted source) to a host that never
# answers hold their transactions; past the bound, 503 with Retry-After
start pm proxy.xml --set sip.max_instances=16 --set proxy.trusted=127.0.0.1 --set sip.t1_ms=500 || exit 1
PM=127.0.0.1:$PORT_pm
cat >"$T/hold.sip" <<EOF
INVITE sip:hold@127.0.0.1:9 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKh{cid};rport
Max-Forwards: 70
From: <sip:a@example.net>;tag=h{n}
To: <sip:hold@127.0.0.1>
Call-ID: hold-{cid}
CSeq: 1 INVITE

EOF
sipcat send "$PM" "$T/hold.sip" --count 12 --timeout 0 >/dev/null
wait_ev pm '"event":"stateless_answer".*"status":503' 5 &&
  [ "$(sipcat send "$PM" "$T/hold.sip" --show | grep -c -i '^Retry-After:')" = 1 ] && [ "$(stat_of pm requests_overload)" -ge 1 ] &&
  pass "sip.max_instances=16: past the bound, new requests get 503 with Retry-After" ||
  fail "max_instances" "$(grep -c '"event":"instance_end"' "$T/pm.events")"

# sip.max_per_source=3: one address holds three server transactions (OPTIONS
# to our domain, answered 200, kept 64*T1 by Timer J); its fourth request gets
# 503 with Retry-After, while another address is served
start ps proxy.xml --set sip.max_per_source=3 --set sip.t1_ms=500 || exit 1
PS=127.0.0.1:$PORT_ps
cat >"$T/opt.sip" <<EOF
OPTIONS sip:sipflow.test SIP/2.0
Via: SIP/2.0/UDP {addr}:{port};branch=z9hG4bKo{cid};rport
Max-Forwards: 70
From: <sip:a@example.net>;tag=o{n}
To: <sip:sipflow.test>
Call-ID: opt-{cid}
CSeq: 1 OPTIONS

EOF
sed 's/{addr}/127.0.0.1/' "$T/opt.sip" >"$T/opt1.sip"
sed 's/{addr}/127.0.0.2/' "$T/opt.sip" >"$T/opt2.sip"
held=$(sipcat send "$PS" "$T/opt1.sip" --count 3 | tr '\n' ' ')
fourth=$(sipcat send "$PS" "$T/opt1.sip" --show)
other=$(sipcat send "$PS" "$T/opt2.sip" --bind 127.0.0.2)
[ "$held" = "200 200 200 " ] && [ "$(echo "$fourth" | head -1)" = 503 ] && echo "$fourth" | grep -q -i '^Retry-After:' &&
  [ "$other" = 200 ] && pass "sip.max_per_source=3: the fourth request of one address gets 503 with Retry-After, another address is served" ||
  fail "max_per_source" "held=$held fourth=$(echo "$fourth" | head -2 | tr '\n' ' ') other=$other"

for u in px pr pm ps; do stop "$u" || fail "$u exit" "$(err_report "$T/$u.err")"; done
for u in px pr pm ps; do
  ! grep -q -E 'CRITICAL|runtime error|AddressSanitizer|LeakSanitizer' "$T/$u.err" && pass "$u: no critical, no sanitizer report" ||
    fail "$u stderr" "$(grep -E 'CRITICAL|runtime error|Sanitizer' "$T/$u.err" | head -3)"
done
summary proxy-flood
