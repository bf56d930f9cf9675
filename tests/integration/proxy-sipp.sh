#!/bin/bash
# proxy-sipp.sh: sipp through xml/proxy.xml to sipp, on loopback, bounded.
# The caller (tests/integration/sipp/uac-rr.xml) sends ACK and BYE by the
# Record-Route of the 200; the called sipp (uas-rr.xml) echoes Record-Route
# (docs/testing.md: sipp's built-in scenarios do neither).  sipp is a proxy.trusted
# source, so it is not challenged (it could not answer a 407).
#  - 2000 calls at 500 calls/s: all successful, INVITE, ACK and BYE each through
#    the proxy; every instance the proxy made (request, branch, transaction) ends;
#  - the same with sipp dropping 5% of what it sends and receives (-lost 5) on
#    both sides: at least 95% of the calls on sipp's side, and the proxy's stats
#    show every transaction ended, completed or timed out (Timers B, F, H);
#  - a caller over TCP to a callee over UDP: 200 calls.
. "$(dirname "$0")/lib.sh"
need_sipp
SCEN=$(cd "$(dirname "$0")/sipp" && pwd)
printf 'alice:secret\n' >"$T/users"

# run NAME CALLS RATE [LOST]: a proxy, a called sipp, a calling sipp through it
run() {
  local name=$1 calls=$2 rate=$3 lost=${4:-}
  local loss=()
  [ -n "$lost" ] && loss=(-lost "$lost")
  start "$name" proxy.xml --set "registrar.users=$T/users" --set proxy.trusted=127.0.0.0/8 --set sip.t1_ms=100 \
    --log-level error || return 1
  sipp_server "$name-uas" -sf "$SCEN/uas-rr.xml" -m "$calls" "${loss[@]}" || { fail "$name: the called sipp did not start"; return 1; }
  local uas_port=$SIPP_PORT uas_pid=$SIPP_PID
  sipp_run "$name-uac" "127.0.0.1:$(eval echo "\$PORT_$name")" -sf "$SCEN/uac-rr.xml" -s callee -key uas "127.0.0.1:$uas_port" \
    -m "$calls" -r "$rate" "${loss[@]}"
  UAC_RC=$SIPP_RC UAC_OK=${OK:-0} UAC_FAILED=${FAILED:-0} UAC_RETRANS=${RETRANS:-0}
  SIPP_PID=$uas_pid
  sipp_server_wait "$name-uas"
}

run clean 2000 500
[ "$UAC_RC" = 0 ] && [ "$UAC_OK" = 2000 ] && pass "sipp through the proxy to sipp: 2000 calls at 500/s, all successful" ||
  fail "clean run: sipp exit $UAC_RC, $UAC_OK successful, $UAC_FAILED failed" "$(tail -5 "$T/clean-uac.out")"
invites=$(count clean '"event":"state","machine":"proxy".*"from":"Idle","to":"Routing","trigger":"sip:INVITE"')
acks=$(count clean '"event":"proxy_ack"')
byes=$(count clean '"event":"state","machine":"proxy".*"from":"Idle","to":"Routing","trigger":"sip:BYE"')
# (sipp ACKs every 200 it gets, a retransmitted one too, so there may be more
# ACKs than calls; an ACK lost on a loaded loopback is not retransmitted, and
# uas-rr.xml's ACK is optional: at least 99% of the calls' worth)
[ "$invites" = 2000 ] && [ "$acks" -ge 1980 ] && [ "$byes" = 2000 ] &&
  pass "each INVITE and BYE went through the proxy (Record-Route), and $acks ACKs (one per 200 sipp got)" ||
  fail "through the proxy: $invites INVITE, $acks ACK, $byes BYE"
ep_ended clean && pass "every instance of the clean run ended (requests, branches, transactions)" ||
  fail "clean run: instances left" "$STATS"
echo "# clean run: $STATS" | cut -c1-400

run lossy 2000 500 5
min=$((2000 * 95 / 100))
[ "$UAC_OK" -ge "$min" ] && pass "with -lost 5 on both sipps: $UAC_OK of 2000 calls successful (at least $min), $UAC_RETRANS retransmissions" ||
  fail "lossy run: $UAC_OK successful, $UAC_FAILED failed (sipp exit $UAC_RC)" "$(tail -5 "$T/lossy-uac.out")"
if ep_ended lossy; then
  pass "with loss: every transaction ended, $(ep_field transactions) in all, $(ep_field transactions_timed_out) by a timeout (B, F, H), $(ep_field retransmissions_sent) retransmissions sent, $(ep_field retransmissions_absorbed) absorbed"
else
  fail "lossy run: instances left" "$STATS"
fi
[ "$(ep_field transactions_live)" = 0 ] && [ "$(ep_field op_errors)" = 0 ] && [ "$(ep_field outcomes_unmapped)" = 0 ] &&
  pass "with loss: no transaction left, no operator error, no unmapped outcome" || fail "lossy stats" "$STATS"

# the caller over TCP, the called party over UDP (the proxy bridges with two
# Record-Route values, RFC 5658: its UDP address for the callee, its TCP one
# for the caller; sipp's TCP mode sends on its connection whatever the Route)
start tcp proxy.xml --listen tcp:127.0.0.1:0 --set proxy.trusted=127.0.0.0/8 --log-level error || exit 1
TCP_PORT=$(grep '"event":"listening".*"transport":"tcp"' "$T/tcp.events" | sed 's/.*"port":\([0-9]*\).*/\1/')
sipp_server tcp-uas -sf "$SCEN/uas-rr.xml" -m 200 || fail "tcp: the called sipp did not start"
uas_port=$SIPP_PORT uas_pid=$SIPP_PID
sipp_run tcp-uac "127.0.0.1:$TCP_PORT" -t t1 -sf "$SCEN/uac-rr.xml" -s callee -key uas "127.0.0.1:$uas_port" -m 200 -r 100
[ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 200 ] && [ "$(count tcp '"event":"proxy_ack"')" -ge 200 ] &&
  pass "a caller over TCP through the proxy to a UDP callee: 200 calls, ACK and BYE through the proxy" ||
  fail "tcp: sipp exit $SIPP_RC, ${OK:-0} successful" "$(tail -3 "$T/tcp-uac.out")"
SIPP_PID=$uas_pid
sipp_server_wait tcp-uas

for u in clean lossy tcp; do
  stop "$u" || fail "$u exit" "$(err_report "$T/$u.err")"
  ! grep -q -E 'CRITICAL|runtime error|AddressSanitizer|LeakSanitizer' "$T/$u.err" &&
    pass "$u: no critical log, no sanitizer report" || fail "$u stderr" "$(grep -E 'CRITICAL|runtime error|Sanitizer' "$T/$u.err" | head -3)"
done
summary proxy-sipp
