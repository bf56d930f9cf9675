#!/bin/bash
# proxy-workers.sh: xml/proxy.xml with core.workers=2 (docs/workers.md, step
# 3): two engines on two threads, each with its own SO_REUSEPORT socket on the
# one address; the kernel spreads the callers' datagrams over the sockets by
# source, and each worker hands what another owns (by Call-ID) to it.  The
# callers are sipp with one socket per call (-t un): every call comes from a
# port of its own, so both sockets read and both workers hand over.
#  - 200 calls through the proxy to a callee that sends every 200 twice (the
#    second as a retransmission of a 200 lost on the way): every call
#    completes, the retransmitted 200 is forwarded (16.7) and ACKed end to end;
#  - 20 calls cancelled while ringing: 200 to each CANCEL, the 487 up, ACKed;
#  - 20 REGISTERs whose Call-IDs hash to either worker: 'location count',
#    'dump AOR' and 'remove AOR' on standard input see worker 0's bindings,
#    all 20 of them;
#  - status: the counters summed, both workers listed, each with a nonzero
#    handed_in (it ran messages the other read), no hand-off dropped
#    (inbox_dropped), no location request answered busy (location_busy);
#  - every event line is whole JSON, and each instance's lines are in order;
#  - 'listening' once; SIGTERM with a call ringing: new requests get 503
#    (from whichever worker reads them); a second SIGTERM: exit 0;
#  - what is not run on several workers yet is refused, naming the setting;
#    so is an unknown core.worker_source;
#  - by default a proxy at two workers forwards from the shared listener
#    (its Via names the listener's port); with core.worker_source = own each
#    worker forwards from a port of its own, and a request sent there is
#    refused.
. "$(dirname "$0")/lib.sh"
need_sipp
SIPCAT=$(cd "$(dirname "$0")" && pwd)/sipcat.py
sipcat() { timeout 30 python3 "$SIPCAT" "$@"; }
command -v python3 >/dev/null || { echo "not ok - python3 is not installed (scripts/setup-deps installs it)"; exit 1; }
SCEN=$(cd "$(dirname "$0")/sipp" && pwd)

# The callee: 180 and 200; at the ACK, the 200 once more (its retransmission,
# as if the ACK had crossed it), which the caller ACKs again.  The INVITE's
# two Via lines (the proxy's, the caller's) and Record-Route are kept for it.
cat >"$T/uas-dup200.xml" <<'EOF'
<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="uas sending its 200 twice">
  <recv request="INVITE">
    <action>
      <ereg regexp="Via: [^\r\n]*\r\nVia: [^\r\n]*" search_in="msg" check_it="true" assign_to="via"/>
      <ereg regexp="Record-Route: [^\r\n]*" search_in="msg" check_it="true" assign_to="rr"/>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="from"/>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="to"/>
      <ereg regexp=".*" search_in="hdr" header="CSeq:" assign_to="cseq"/>
    </action>
  </recv>
  <send><![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_Record-Route:]
[last_From:]
[last_To:];tag=[pid]dup[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

]]></send>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_Record-Route:]
[last_From:]
[last_To:];tag=[pid]dup[call_number]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

]]></send>
  <recv request="ACK"/>
  <send><![CDATA[
SIP/2.0 200 OK
[$via]
[$rr]
From: [$from]
To: [$to];tag=[pid]dup[call_number]
Call-ID: [call_id]
CSeq: [$cseq]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

]]></send>
  <recv request="INVITE" optional="true" advance_state="false"/>
  <recv request="ACK" optional="global" advance_state="false"/>
  <recv request="BYE"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <timewait milliseconds="4000"/>
</scenario>
EOF

# The cancelled call, both sides: the callee rings, takes the CANCEL and ends
# the INVITE 487; the caller cancels at the 180 and ACKs the 487.
cat >"$T/uas-cancel.xml" <<'EOF'
<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="uas cancelled while ringing">
  <recv request="INVITE">
    <action>
      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="from"/>
      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="to"/>
      <ereg regexp="Via: [^\r\n]*\r\nVia: [^\r\n]*" search_in="msg" check_it="true" assign_to="via"/>
      <ereg regexp=".*" search_in="hdr" header="CSeq:" assign_to="cseq"/>
    </action>
  </recv>
  <send><![CDATA[
SIP/2.0 180 Ringing
[last_Via:]
[last_From:]
[last_To:];tag=cx[call_number]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <recv request="CANCEL" timeout="20000"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
  <send><![CDATA[
SIP/2.0 487 Request Terminated
[$via]
From: [$from]
To: [$to];tag=cx[call_number]
Call-ID: [call_id]
CSeq: [$cseq]
Content-Length: 0

]]></send>
  <recv request="ACK" timeout="20000"/>
</scenario>
EOF
cat >"$T/uac-cancel.xml" <<'EOF'
<?xml version="1.0" encoding="ISO-8859-1" ?>
<!DOCTYPE scenario SYSTEM "sipp.dtd">
<scenario name="uac cancelling while ringing">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[uas] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]cc[call_number]
To: <sip:[service]@[uas]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:caller@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="100" optional="true"/>
  <recv response="180"/>
  <send><![CDATA[
CANCEL sip:[service]@[uas] SIP/2.0
[last_Via:]
From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]cc[call_number]
To: <sip:[service]@[uas]>
Call-ID: [call_id]
CSeq: 1 CANCEL
Max-Forwards: 70
Content-Length: 0

]]></send>
  <recv response="200"/>
  <recv response="487"/>
  <send><![CDATA[
ACK sip:[service]@[uas] SIP/2.0
[last_Via:]
From: <sip:caller@[local_ip]:[local_port]>;tag=[pid]cc[call_number]
[last_To:]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
</scenario>
EOF

# ---- refusals: what is not run on several workers yet ----
expect_rc "the live view with core.workers=2 is refused" 1 "$SIPFLOW" run proxy.xml --listen udp:127.0.0.1:0 --http 127.0.0.1:0 \
  --set core.workers=2
grep -q 'core.workers = 2: the live view (--http, core.http)' "$T/err" && pass "... naming core.workers and --http" ||
  fail "--http refusal message" "$(cat "$T/err")"
expect_rc "a TCP listener with core.workers=2 is refused" 1 "$SIPFLOW" run proxy.xml --listen tcp:127.0.0.1:0 --set core.workers=2
grep -q 'core.workers = 2: tcp:127.0.0.1:0 (--listen): only UDP' "$T/err" && pass "the refusal names core.workers and the listener" ||
  fail "TCP refusal message" "$(cat "$T/err")"
expect_rc "a user agent with core.workers=2 is refused" 1 "$SIPFLOW" run ua.xml --listen udp:127.0.0.1:0 --set core.workers=2
grep -q 'core.workers = 2: .*ua.xml uses .*step 5' "$T/err" && pass "the refusal names core.workers and the UA's step" ||
  fail "UA refusal message" "$(cat "$T/err")"
expect_rc "core.worker_source = an unknown value is refused" 1 "$SIPFLOW" run proxy.xml --listen udp:127.0.0.1:0 \
  --set core.workers=2 --set core.worker_source=ephemeral
grep -q -- "--set: core.worker_source: expected one of listener|own, got 'ephemeral'" "$T/err" &&
  pass "... naming the setting, where it was set and the values it takes" ||
  fail "worker_source refusal message" "$(cat "$T/err")"

# ---- the proxy at two workers ----
start px proxy.xml --set core.workers=2 --set proxy.trusted=127.0.0.0/8 --set sip.t1_ms=100 --set core.shutdown_timeout=60 \
  --metrics 0 || exit 1
PX=127.0.0.1:$PORT_px
# The reuseport group is ours alone: a second sipflow with workers on the
# same port fails as a process without workers does (EADDRINUSE), instead of
# joining the group and taking half the datagrams.
expect_rc "a second sipflow at two workers on the port is refused" 1 "$SIPFLOW" run proxy.xml \
  --listen "udp:127.0.0.1:$PORT_px" --set core.workers=2
grep -q 'Address already in use' "$T/err" && pass "... the address in use, as at one worker" ||
  fail "second sipflow on the port" "$(tail -2 "$T/err")"
[ "$(count px '"event":"listening","transport":"udp"')" = 1 ] && pass "one 'listening' for the address, not one per worker" ||
  fail "listening lines: $(count px '"event":"listening","transport":"udp"')"

# 200 calls, the 200 sent twice
sipp_server dup-uas -sf "$T/uas-dup200.xml" -m 200 || fail "the called sipp did not start"
UAS_PID=$SIPP_PID
sipp_run calls "$PX" -t un -max_socket 1000 -sf "$SCEN/uac-rr.xml" -s callee -key uas "127.0.0.1:$SIPP_PORT" -m 200 -r 100
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 200 ] && pass "200 calls through the proxy at two workers, all successful" ||
  fail "calls: sipp exit $SIPP_RC, ${OK:-0} successful, ${FAILED:-?} failed" "$(tail -5 "$T/calls.out")"
SIPP_PID=$UAS_PID
sipp_server_wait dup-uas
[ "$SIPP_RC" = 0 ] && pass "the callee saw every call end (BYE)" || fail "callee: sipp exit $SIPP_RC" "$(tail -5 "$T/dup-uas.out")"
# Each 200 is sent twice and sipp ACKs each one it gets: two ACKs a call
# through the proxy (a 2xx retransmission is forwarded, 16.7 step 10).
acks=$(count px '"event":"proxy_ack"')
[ "$acks" -ge 396 ] && pass "the retransmitted 200s were forwarded: $acks ACKs for 200 calls" ||
  fail "retransmitted 200: $acks ACKs through the proxy, wanted about 400"

# 20 calls cancelled while ringing
sipp_server cx-uas -sf "$T/uas-cancel.xml" -m 20 || fail "the cancelled callee did not start"
UAS_PID=$SIPP_PID
sipp_run cancel "$PX" -t un -max_socket 1000 -sf "$T/uac-cancel.xml" -s callee -key uas "127.0.0.1:$SIPP_PORT" -m 20 -r 20
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 20 ] && pass "20 calls cancelled while ringing: 200 to each CANCEL, 487, ACK" ||
  fail "cancel: sipp exit $SIPP_RC, ${OK:-0} successful" "$(tail -5 "$T/cancel.out")"
SIPP_PID=$UAS_PID
sipp_server_wait cx-uas
[ "$SIPP_RC" = 0 ] && pass "the callee got every CANCEL and the ACK of each 487" ||
  fail "cancelled callee: sipp exit $SIPP_RC" "$(tail -5 "$T/cx-uas.out")"

# location: 20 users register, their Call-IDs hashing to either worker; every
# binding is held by worker 0 (the others' locations ask it), and 'location'
# on standard input (worker 0's control) sees them all
cat >"$T/reg.sip" <<EOF
REGISTER sip:$PX SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKreg{n}x{cid};rport
Max-Forwards: 70
From: <sip:w{n}@127.0.0.1>;tag=r{cid}
To: <sip:w{n}@127.0.0.1>
Call-ID: reg-{cid}
CSeq: 1 REGISTER
Contact: <sip:w{n}@192.0.2.1:5060>
Expires: 600

EOF
regs=$(sipcat send "$PX" "$T/reg.sip" --count 20 --timeout 5 | grep -c '^200$')
[ "$regs" = 20 ] && pass "20 REGISTERs through both workers: 200 each" || fail "REGISTERs: $regs of 20 got 200"
location_count px 20 20 &&
  pass "location count at two workers: the 20 bindings, whichever worker took the REGISTER" ||
  fail "location count" "$(grep '"command":"location"' "$T/px.events" | tail -1)"
cmd px location dump sip:w7@127.0.0.1
wait_ev px '"command":"location","ok":true,"bindings":\[\{"aor":"sip:w7@127.0.0.1","contact":"sip:w7@192.0.2.1:5060"' 10 &&
  pass "location dump AOR at two workers" || fail "location dump" "$(grep '"command":"location"' "$T/px.events" | tail -1)"
cmd px location remove sip:w7@127.0.0.1
location_count px 19 19 &&
  pass "location remove at two workers: gone from worker 0's bindings" ||
  fail "location remove" "$(grep '"command":"location"' "$T/px.events" | tail -2)"

# status: summed, per worker
if ep_ended px; then
  pass "every instance ended on both workers ($(ep_field instances_created) created)"
else
  fail "instances left" "$STATS"
fi
echo "# $(echo "$STATS" | grep -o '"workers":\[.*\]')"
ins=$(echo "$STATS" | grep -o '"handed_in":[0-9]*' | cut -d: -f2 | tr '\n' ' ')
set -- $ins
[ $# = 2 ] && [ "$1" -gt 0 ] && [ "$2" -gt 0 ] && pass "status lists both workers, each ran messages the other read (handed_in $1, $2)" ||
  fail "per-worker handed_in: '$ins'" "$STATS"
per_worker() { echo "$STATS" | grep -o "\"$1\":[0-9]*" | cut -d: -f2 | tr '\n' ' '; }
[ "$(per_worker inbox_dropped)" = "0 0 " ] && [ "$(per_worker inbox_waiting)" = "0 0 " ] &&
  pass "status per worker: no hand-off dropped, nothing waiting (inbox_dropped, inbox_waiting)" ||
  fail "inbox_dropped '$(per_worker inbox_dropped)', inbox_waiting '$(per_worker inbox_waiting)'" "$STATS"
[ "$(per_worker location_busy)" = "0 0 " ] && pass "status per worker: location_busy 0 (worker 0 kept up)" ||
  fail "location_busy '$(per_worker location_busy)'" "$STATS"
[ "$(ep_field calls_answered)" = 0 ] && [ "$(ep_field transactions_live)" = 0 ] && [ "$(ep_field op_errors)" = 0 ] &&
  pass "summed counters: no transaction left, no operator error" || fail "summed counters" "$STATS"
# /metrics: every worker's exposition, summed as status sums (the calls of
# both workers: about half each), the process's own figures once
MPORT=$(metrics_port px)
scrape px || fail "scrape at two workers"
expect_metric px 'sipflow_proxy_requests_total{class="2xx"}' 400
expect_metric px 'sipflow_proxy_requests_total{class="4xx"}' 20
expect_metric px 'sipflow_location_bindings' 19
expect_metric px 'sipflow_instances_created_total' "$(ep_field instances_created)"
[ "$(grep -c '^sipflow_build_info' "$T/px.prom")" = 1 ] && [ "$(val px 'sipflow_build_info{version="'"$(grep -o 'version="[^"]*"' "$T/px.prom" | head -1 | cut -d'"' -f2)"'"}')" = 1 ] &&
  pass "px: the process's figures once (build_info 1)" || fail "build_info" "$(grep build_info "$T/px.prom")"

# shutdown: a call ringing keeps the workers up; new requests get 503
sipcat listen "$T/out.port" "$T/out.msgs" --answer 180 --seconds 60 &
PIDS+=($!)
for _ in $(seq 50); do [ -s "$T/out.port" ] && break; sleep 0.1; done # bounded: the listener's socket
OUT=$(cat "$T/out.port")
cat >"$T/ring.sip" <<EOF
INVITE sip:bob@127.0.0.1:$OUT SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKring$$;rport
Max-Forwards: 70
From: <sip:alice@example.net>;tag=ring$$
To: <sip:bob@example.org>
Call-ID: ring-$$
CSeq: 1 INVITE
Contact: <sip:alice@127.0.0.1:9>

EOF
sipcat send "$PX" "$T/ring.sip" --timeout 15 >"$T/ring.out" &
PIDS+=($!)
wait_ev px "\"event\":\"proxy_provisional\".*\"call_id\":\"ring-$$\"" 10 || fail "ringing" "$(tail -3 "$T/px.events")"
kill -TERM "$PID_px"
wait_ev px '"event":"shutdown","cause":"SIGTERM"' 5 || fail "shutdown event" "$(tail -3 "$T/px.events")"
refused=0
sends=()
for i in 1 2 3 4 5 6; do # Call-IDs that hash to either worker, from sockets read by either
  cat >"$T/new$i.sip" <<EOF
OPTIONS sip:bob@127.0.0.1:$OUT SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKn$i{cid};rport
Max-Forwards: 70
From: <sip:carol@example.net>;tag=n{cid}
To: <sip:bob@127.0.0.1:$OUT>
Call-ID: new$i-{cid}
CSeq: 1 OPTIONS

EOF
  sipcat send "$PX" "$T/new$i.sip" --timeout 5 >"$T/new$i.out" &
  sends+=($!)
done
# All at once: the ringing call's branch is cancelled at the SIGTERM, and
# its CANCEL (answered 180 by the listener) times out in 64*T1 = 6.4 s, when
# the call ends and the process with it: six sends one after the other took
# longer than that on a loaded machine.
wait "${sends[@]}"
for i in 1 2 3 4 5 6; do [ "$(head -1 "$T/new$i.out")" = 503 ] && refused=$((refused + 1)); done
[ "$refused" = 6 ] && pass "while shutting down: 6 of 6 new requests got 503" || fail "503 while shutting down: $refused of 6"
# the ringing call would hold the exit for core.shutdown_timeout (60 s): a
# second SIGTERM ends it at once, on both workers
kill -TERM "$PID_px"
RC=timeout
timeout 20 tail --pid="$PID_px" -f /dev/null && { wait "$PID_px" 2>/dev/null; RC=$?; }
[ "$RC" = 0 ] && pass "SIGTERM: exit 0 (the second one ends the ringing call)" || fail "exit ($RC)" "$(tail -3 "$T/px.err")"
grep -q -E 'shutdown: [0-9]+ instance\(s\) still alive at a second signal \(SIGTERM\)' "$T/px.err" &&
  pass "the log counts what was left across the workers" || fail "shutdown log" "$(tail -3 "$T/px.err")"
grep '"event":"stats"' "$T/px.events" | tail -1 | grep -q '"shutdown_refused":6,' &&
  pass "the last stats count the 503s of both workers (shutdown_refused)" ||
  fail "final stats" "$(grep '"event":"stats"' "$T/px.events" | tail -1)"

# every line whole JSON; each instance's lines in order (one instance, one
# worker, one buffer written whole)
if python3 - "$T/px.events" >"$T/lines.out" 2>&1 <<'EOF'; then
import json, sys
last = {}
n = 0
for i, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    ev = json.loads(line)
    n += 1
    who = ev.get("call") or ev.get("instance")
    if who is None:
        continue
    if who in last and ev["ts"] < last[who]:
        sys.exit(f"line {i}: {who} goes back in time ({ev['ts']} < {last[who]})")
    last[who] = ev["ts"]
print(f"{n} lines, {len(last)} instances")
EOF
  pass "every event line parses, each instance's in order ($(cat "$T/lines.out"))"
else
  fail "event lines" "$(tail -3 "$T/lines.out")"
fi
! grep -q -E 'CRITICAL|runtime error|AddressSanitizer|LeakSanitizer|ThreadSanitizer' "$T/px.err" &&
  pass "no critical log, no sanitizer report" || fail "stderr" "$(grep -E 'CRITICAL|runtime error|Sanitizer' "$T/px.err" | head -3)"

# ---- the registrar at two workers: requests answered where they are read ----
# redirect.xml answers every request itself, so a request stays with the
# worker that read it (docs/workers.md, "Requests answered on the spot"): 20
# REGISTERs from one source port land on one socket, and the only crossings
# are that worker's location updates asked of worker 0 and their answers:
# none when it is worker 0, two a REGISTER when it is worker 1.  Under the
# Call-ID rule about half of them would be handed over on top (10 + 2 x the
# ones worker 1 owns, or 40 - those worker 0 owns): neither 0 nor 40 but for
# a draw of 2^-20.
start rg redirect.xml --set core.workers=2 --set location.backend=memory || exit 1
sed "s/$PX/127.0.0.1:$PORT_rg/" "$T/reg.sip" >"$T/rg-reg.sip"
regs=$(sipcat send "127.0.0.1:$PORT_rg" "$T/rg-reg.sip" --count 20 --timeout 5 | grep -c '^200$')
[ "$regs" = 20 ] && pass "20 REGISTERs to the registrar at two workers: 200 each" || fail "registrar REGISTERs: $regs of 20 got 200"
location_count rg 20 20 && pass "... all 20 bindings in worker 0's location" ||
  fail "registrar location count" "$(grep '"command":"location"' "$T/rg.events" | tail -1)"
ep_stats rg
outs=$(echo "$STATS" | grep -o '"handed_out":[0-9]*' | cut -d: -f2 | paste -sd+ | bc)
[ "$outs" = 0 ] || [ "$outs" = 40 ] &&
  pass "each REGISTER answered by the worker that read it: $outs hand-offs (its location asks and answers only)" ||
  fail "registrar hand-offs: $outs, wanted 0 or 40" "$STATS"
stop rg && pass "the registrar at two workers exits 0" || fail "registrar exit" "$(tail -3 "$T/rg.err")"

# ---- set-wide decisions: status, shutdown, --exit-when-idle ----
# listener NAME [ARGS]: a sipcat listener in the background (ARGS: --answer
# CODE; none: it never answers); its port in $T/NAME.port, read into LPORT.
listener() {
  local name=$1
  shift
  timeout 120 python3 "$SIPCAT" listen "$T/$name.port" "$T/$name.msgs" --seconds 120 "$@" &
  PIDS+=($!)
  for _ in $(seq 50); do [ -s "$T/$name.port" ] && break; sleep 0.1; done # bounded: the listener's socket
  LPORT=$(cat "$T/$name.port")
}
listener ok --answer 200
OK_PORT=$LPORT
listener mute
MUTE_PORT=$LPORT
# request NAME METHOD CALL-ID PORT [TO-TAG]: writes $T/NAME.sip, a METHOD to
# the listener on PORT with that Call-ID (a To tag: inside a dialog).
request() {
  cat >"$T/$1.sip" <<EOF
$2 sip:bob@127.0.0.1:$4 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK$1{cid};rport
Max-Forwards: 70
From: <sip:alice@example.net>;tag=$1{cid}
To: <sip:bob@127.0.0.1:$4>${5:+;tag=$5}
Call-ID: $3
CSeq: 2 $2

EOF
}
# ten_options NAME: 10 OPTIONS through proxy NAME to the listener "ok",
# Call-IDs NAME-1..10 (hashing to either worker); sets answers (how many got
# 200) and vports (the ports of their first Via, the proxy's, as the
# listener got them: sorted, unique, each followed by a space).
ten_options() {
  local name=$1 port k
  eval "port=\$PORT_$name"
  answers=0
  for k in $(seq 10); do
    request "$name-o" OPTIONS "$name-$k" "$OK_PORT"
    sipcat send "127.0.0.1:$port" "$T/$name-o.sip" --count 1 --timeout 5 | grep -q '^200$' && answers=$((answers + 1))
  done
  vports=$(awk -v c="^Call-ID: $name-" '/^OPTIONS /{v=""} /^Via: / && v=="" {v=$0} $0 ~ c {print v}' "$T/ok.msgs" |
    sed 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/' | sort -u | tr '\n' ' ')
}
# By default (core.worker_source = listener) a proxy at two workers forwards
# from the shared listener: each OPTIONS forwarded with a Via naming the
# listener's port (a peer that admits only that address and port lets the
# responses in), each answered.
start dl proxy.xml --set core.workers=2 --set proxy.trusted=127.0.0.0/8 || exit 1
ten_options dl
[ "$answers" = 10 ] && [ "$vports" = "$PORT_dl " ] &&
  pass "by default forwarded from the listener (every Via port $PORT_dl), every answer back" ||
  fail "default source: $answers of 10 answered, Via ports '$vports', the listener $PORT_dl"
stop dl && pass "that proxy exits 0" || fail "default-source proxy exit" "$(tail -3 "$T/dl.err")"
# A socket of each worker's own (docs/workers.md), core.worker_source = own:
# each OPTIONS forwarded with a Via that names a port of the forwarding
# worker's own, not the shared listener's (Record-Route keeps that), and
# answered through it; a request sent to such a port is refused, unanswered,
# and counted.
start ow proxy.xml --set core.workers=2 --set core.worker_source=own --set proxy.trusted=127.0.0.0/8 || exit 1
ten_options ow
set -- $vports
[ "$answers" = 10 ] && [ $# -ge 1 ] && [ $# -le 2 ] && ! echo " $vports" | grep -q " $PORT_ow " &&
  pass "forwarded from each worker's own socket (Via ports $vports, the listener $PORT_ow), every answer back through it" ||
  fail "own sockets: $answers of 10 answered, Via ports '$vports', the listener $PORT_ow"
ep_stats ow
before=$(ep_field requests_refused)
request stray OPTIONS own-stray "$OK_PORT"
got=$(sipcat send "127.0.0.1:$1" "$T/stray.sip" --count 1 --timeout 1)
ep_stats ow
! echo "$got" | grep -q '^[0-9]' && [ "$(ep_field requests_refused)" = $((before + 1)) ] &&
  pass "a request sent to a worker's own socket is refused, unanswered, counted (requests_refused)" ||
  fail "a request to port $1: answered '$got', requests_refused $before -> $(ep_field requests_refused)" "$STATS"
# Claims (docs/workers.md, "Calls owned where they are read"): each call's
# INVITE claims its Call-ID for the worker that read it, so its ACK, BYE and
# CANCEL (from the caller's one port: that worker's socket) stay there, and
# its responses come to that worker's own socket.  40 calls and 20 cancelled,
# each from a port of its own: under the Call-ID rule about half of their
# three requests each crossed (about 90); with claims none but what a
# retransmission or a response to the listener brings (at most 12 here).
# own_calls NAME UAS UAC N WHAT: N calls from sipp's UAC scenario through ow
# to its UAS scenario, a port per call; passes when every one completed.
own_calls() {
  sipp_server "$1-uas" -sf "$2" -m "$4" || fail "$1: the called sipp did not start"
  UAS_PID=$SIPP_PID
  sipp_run "$1" "127.0.0.1:$PORT_ow" -t un -max_socket 1000 -sf "$3" -s callee -key uas "127.0.0.1:$SIPP_PORT" -m "$4" -r "$4"
  [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = "$4" ] && pass "$5" || fail "$1: sipp exit $SIPP_RC, ${OK:-0} successful" "$(tail -5 "$T/$1.out")"
  SIPP_PID=$UAS_PID
  sipp_server_wait "$1-uas"
  [ "$SIPP_RC" = 0 ] && pass "... the callee saw each one end" || fail "$1 callee: sipp exit $SIPP_RC" "$(tail -5 "$T/$1-uas.out")"
}
own_calls ow-calls "$SCEN/uas-rr.xml" "$SCEN/uac-rr.xml" 40 "40 calls through own sockets and claims, all successful"
own_calls ow-cancel "$T/uas-cancel.xml" "$T/uac-cancel.xml" 20 \
  "20 calls cancelled while ringing, claimed: 200 to each CANCEL, 487, ACK"
ep_stats ow
outs=$(echo "$STATS" | grep -o '"handed_out":[0-9]*' | cut -d: -f2 | paste -sd+ | bc)
[ "${outs:-99}" -le 12 ] && pass "60 calls, claimed where read: $outs hand-offs (the Call-ID rule: about 90)" ||
  fail "claimed calls: $outs hand-offs, wanted at most 12" "$STATS"
stop ow && pass "that proxy exits 0" || fail "own-socket proxy exit" "$(tail -3 "$T/ow.err")"
# handle_of NAME CALL-ID [N]: the number of the proxy instance NAME made for
# the Nth request (default 1) with CALL-ID.
handle_of() {
  local re="\"event\":\"state\",\"machine\":\"proxy\",\"instance\":\"p[0-9]+\".*\"call_id\":\"$2\",\"from\":\"Idle\""
  wait_ev "$1" "$re" 5 "${3:-1}" || return 1
  grep -E "$re" "$T/$1.events" | sed -n "${3:-1}p" | sed 's/.*"instance":"p\([0-9]*\)".*/\1/'
}
# callid_on NAME W PREFIX: a Call-ID PREFIX-K that worker W of NAME owns,
# found by an ACK inside a dialog (forwarded statelessly: it leaves no
# transaction behind): handles count by worker (p1, p3, ... worker 0's; p2,
# p4, ... worker 1's at two workers).
callid_on() {
  local name=$1 w=$2 k h port
  eval "port=\$PORT_$name"
  for k in $(seq 20); do
    request probe ACK "$3-$k" "$OK_PORT" callee
    sipcat send "127.0.0.1:$port" "$T/probe.sip" --count 1 --timeout 0 >/dev/null
    h=$(handle_of "$name" "$3-$k") || return 1
    [ $(((h - 1) % 2)) = "$w" ] && { echo "$3-$k"; return 0; }
  done
  return 1
}

# Shutdown waits for every worker, each for as long as it holds a request:
# worker 1 is idle when SIGTERM comes, a BYE it reads afterwards (inside a
# dialog: not refused) makes it busy again, and the exit waits for that BYE's
# answer even when worker 0 was done first.
start sd proxy.xml --set core.workers=2 --set proxy.trusted=127.0.0.0/8 --set sip.t1_ms=100 --set core.shutdown_timeout=60 ||
  exit 1
A=$(callid_on sd 0 sd-a) && B=$(callid_on sd 1 sd-b) && pass "Call-IDs owned by worker 0 ($A) and worker 1 ($B)" ||
  fail "no Call-ID found for either worker" "$(tail -3 "$T/sd.err")"
request sda OPTIONS "$A" "$MUTE_PORT"
sipcat send "127.0.0.1:$PORT_sd" "$T/sda.sip" --timeout 1 >/dev/null &
PIDS+=($!)
wait_ev sd "\"event\":\"branch_forward\".*\"call_id\":\"$A\"" 5 || fail "the request on worker 0 was not forwarded"
kill -TERM "$PID_sd"
wait_ev sd '"event":"shutdown","cause":"SIGTERM"' 5 || fail "shutdown event" "$(tail -3 "$T/sd.events")"
request sdb BYE "$B" "$MUTE_PORT" callee
sipcat send "127.0.0.1:$PORT_sd" "$T/sdb.sip" --timeout 1 >/dev/null &
PIDS+=($!)
wait_ev sd "\"event\":\"branch_forward\".*\"call_id\":\"$B\"" 5 &&
  pass "shutting down, a BYE read by worker 1 after it was idle is forwarded" || fail "the BYE was not forwarded"
# Nobody answers either request: worker 0's ends at Timer F (64*T1, 6.4 s)
# and a quiet time (no 408 to a non-INVITE, RFC 4320), the BYE's the same
# time after it was sent, later: the exit waits for it.
RC=timeout
timeout 30 tail --pid="$PID_sd" -f /dev/null && { wait "$PID_sd" 2>/dev/null; RC=$?; }
[ "$RC" = 0 ] && pass "exit 0 once both workers are done" || fail "exit ($RC)" "$(tail -3 "$T/sd.err")"
ended() { grep -E "\"event\":\"instance_end\",\"machine\":\"proxy\",.*\"call_id\":\"$2\"" "$T/$1.events" | tail -1 | grep -o '"reason":"[^"]*"'; }
[ "$(ended sd "$A")" = '"reason":"final state"' ] && [ "$(ended sd "$B")" = '"reason":"final state"' ] &&
  pass "the exit waited for worker 1's BYE: it ended by its flow, as worker 0's request, not at the exit" ||
  fail "how they ended: worker 0's request $(ended sd "$A"), worker 1's BYE $(ended sd "$B")" "$(tail -3 "$T/sd.err")"

# status lists every worker's calls and waits a bounded time for each: worker
# 1 here answers its first question 3 s late (a test hook), and the reply
# comes without it, naming it; then it lists worker 1's call.
# --exit-when-idle looks at every worker: standard input closed with a
# request in progress on worker 1 does not start the shutdown.
SIPFLOW_TEST_STALL_WORKER_MS=3000 start ei proxy.xml --set core.workers=2 --set proxy.trusted=127.0.0.0/8 \
  --set sip.t1_ms=100 --exit-when-idle || exit 1
cmd ei status
if wait_ev ei '"event":"reply","command":"status","ok":true,"calls":\[\],"late_workers":\[1\]' 2.5; then
  pass "status with worker 1 late: the reply within the bound, naming it (late_workers)"
else
  fail "status with a late worker" "$(grep '"command":"status"' "$T/ei.events" | tail -1)"
fi
grep '"event":"stats"' "$T/ei.events" | tail -1 | grep -q '{"worker":1,"late":true}' &&
  pass "... its stats line lists it late" || fail "stats with a late worker" "$(grep '"event":"stats"' "$T/ei.events" | tail -1)"
C=$(callid_on ei 1 ei-c) || fail "no Call-ID found for worker 1"
request eic OPTIONS "$C" "$MUTE_PORT"
# (without ei's standard input: closing it below must reach sipflow)
(eval "exec $FD_ei>&-"; sipcat send "127.0.0.1:$PORT_ei" "$T/eic.sip" --timeout 1 >/dev/null) &
PIDS+=($!)
H=$(handle_of ei "$C" 2) || fail "the request on worker 1 was not forwarded"
cmd ei status
wait_ev ei "\"event\":\"reply\",\"command\":\"status\",\"ok\":true,\"calls\":\[\{\"call\":\"p$H\",\"state\":\"Proceeding\"\}\]" 5 &&
  pass "status lists worker 1's call (p$H)" || fail "status calls" "$(grep '"command":"status"' "$T/ei.events" | tail -1)"
eval "exec $FD_ei>&-" # standard input closed
request eid OPTIONS "ei-d-$$" "$OK_PORT"
[ "$(sipcat send "127.0.0.1:$PORT_ei" "$T/eid.sip" --timeout 5)" = 200 ] && [ "$(count ei '"event":"shutdown"')" = 0 ] &&
  pass "--exit-when-idle: input closed, worker 1 busy: still serving (no 503, no shutdown)" ||
  fail "--exit-when-idle with worker 1 busy" "$(grep '"event":"shutdown"' "$T/ei.events")"
RC=timeout
timeout 30 tail --pid="$PID_ei" -f /dev/null && { wait "$PID_ei" 2>/dev/null; RC=$?; }
[ "$RC" = 0 ] && [ "$(ended ei "$C")" = '"reason":"final state"' ] && [ "$(count ei '"event":"shutdown","cause":"idle"')" = 1 ] &&
  pass "... then idle once worker 1's request ended by its flow: exit 0" ||
  fail "idle exit ($RC, worker 1's request: $(ended ei "$C"))" "$(tail -3 "$T/ei.err")"
for name in sd ei; do
  ! grep -q -E 'CRITICAL|runtime error|AddressSanitizer|LeakSanitizer' "$T/$name.err" &&
    pass "$name: no critical log, no sanitizer report" || fail "$name stderr" "$(grep -E 'CRITICAL|runtime error|Sanitizer' "$T/$name.err" | head -3)"
done
summary proxy-workers
