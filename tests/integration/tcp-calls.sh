#!/bin/bash
# tcp-calls.sh: calls over TCP (RFC 3261 18.1.1, 20.10; RFC 3263 4.1; RFC 5658),
# on loopback, every wait bounded.
#  - a UA listening on TCP only calls a sipp UAS over TCP: the INVITE it gets
#    has Via SIP/2.0/TCP and a Contact with ;transport=tcp (sipp's message log);
#    the BYE too;
#  - two UAs listening on TCP only call each other (no transport= in the URI:
#    TCP is all they have): answered and hung up from either side;
#  - a UA on UDP and TCP calls through the proxy (outbound proxy
#    ;transport=tcp) a UA on UDP only: the callee's INVITE carries two
#    Record-Route values of the proxy's (RFC 5658: the first for its UDP side,
#    the second ;transport=tcp for the caller's side, both with the ;sft=
#    token); the call completes and is hung up from either side, each ACK and
#    BYE through the proxy once (both our Routes popped at once);
#  - the same call the other way (UDP caller, TCP callee by a transport=tcp URI);
#  - a connection a UA opened stays open while idle longer than the connect
#    timeout (sip.tcp_stall): the timeout bounds the connect only.
. "$(dirname "$0")/lib.sh"
need_sipp
SCEN=$(cd "$(dirname "$0")/sipp" && pwd)
common=(--set sip.t1_ms=100 --set media.rtp_ports=42000-42999 --set media.backend=null --log-level error)
tcp_port() { grep '"event":"listening".*"transport":"tcp"' "$T/$1.events" | head -1 | sed 's/.*"port":\([0-9]*\).*/\1/'; }
tcp_bound() { grep -q -i "^ *[0-9]*: 0100007F:$(printf '%04X' "$1") 00000000:0000 0A" /proc/net/tcp; }
ended() { # ended NAME REGEX COUNT: NAME has COUNT call_end lines (bounded wait), the COUNTth matches REGEX
  wait_ev "$1" '"event":"call_end"' 10 "$3" && grep '"event":"call_end"' "$T/$1.events" | sed -n "${3}p" | grep -q -E -- "$2"
}

# 1. TCP only to a sipp UAS over TCP that logs what it gets
LISTEN=tcp:127.0.0.1:0 start alice ua.xml "${common[@]}" --set ua.uri=sip:alice@127.0.0.1 || exit 1
SP=
for try in 1 2 3 4 5; do
  SP=$((20000 + (RANDOM % 20000)))
  tcp_bound "$SP" && continue
  timeout 60 sipp -t t1 -p "$SP" -i 127.0.0.1 -nostdin -sn uas -m 1 -timeout 30 -trace_msg \
    -message_file "$T/uas-msgs.log" >"$T/uas.out" 2>&1 &
  SIPP_PID=$!
  PIDS+=("$SIPP_PID")
  for i in $(seq 50); do tcp_bound "$SP" && break; kill -0 "$SIPP_PID" 2>/dev/null || break; sleep 0.1; done
  tcp_bound "$SP" && break
  kill "$SIPP_PID" 2>/dev/null; wait "$SIPP_PID" 2>/dev/null; SP=
done
[ -n "$SP" ] || fail "the sipp UAS over TCP did not start"
cmd alice call "sip:service@127.0.0.1:$SP"
wait_ev alice '"to":"InCall"' 10 && pass "a UA listening on TCP only calls (over TCP): answered" ||
  fail "TCP-only call" "$(tail -3 "$T/alice.err")" "$(grep -E 'state|error' "$T/alice.events" | tail -3)"
cmd alice hangup
wait_ev alice '"event":"call_end"' 10
timeout 20 tail --pid="$SIPP_PID" -f /dev/null
inv=$(awk '/^INVITE /,/^$/' "$T/uas-msgs.log" | tr -d '\r')
bye=$(awk '/^BYE /,/^$/' "$T/uas-msgs.log" | tr -d '\r')
echo "$inv" | grep -q -E '^Via: SIP/2.0/TCP 127.0.0.1:[0-9]+;' &&
  echo "$inv" | grep -q -E '^Contact: <sip:alice@127.0.0.1:[0-9]+;transport=tcp>' &&
  pass "its INVITE: Via SIP/2.0/TCP, Contact ;transport=tcp (18.1.1, 20.10)" || fail "INVITE headers" "$inv"
echo "$bye" | grep -q -E '^Via: SIP/2.0/TCP ' && pass "its BYE: Via SIP/2.0/TCP" || fail "BYE headers" "$bye"
grep -q 'Via: SIP/2.0/UDP' "$T/uas-msgs.log" && fail "a UDP Via in what sipp got" || pass "no UDP Via anywhere"

# 2. TCP only to TCP only, hung up from either side
LISTEN=tcp:127.0.0.1:0 start bob ua.xml "${common[@]}" --set ua.uri=sip:bob@127.0.0.1 || exit 1
BOB="sip:bob@127.0.0.1:$(tcp_port bob)"
cmd alice call "$BOB"
wait_ev bob '"event":"incoming"' 10 && cmd bob answer
wait_ev alice '"to":"InCall"' 10 2 && wait_ev bob '"to":"InCall"' 10 && pass "TCP only to TCP only: answered" ||
  fail "TCP to TCP" "$(tail -3 "$T/alice.err")"
cmd alice hangup
ended alice '"reason":"local_bye","status":200' 2 && ended bob '"reason":"remote_bye","status":200' 1 &&
  pass "TCP to TCP: hung up by the caller (BYE, 200)" || fail "TCP hang-up 1" "$(grep call_end "$T"/{alice,bob}.events)"
cmd alice call "$BOB"
wait_ev bob '"event":"incoming"' 10 2 && cmd bob answer
wait_ev bob '"to":"InCall"' 10 2 && cmd bob hangup
ended bob '"reason":"local_bye","status":200' 2 && ended alice '"reason":"remote_bye","status":200' 3 &&
  pass "TCP to TCP: hung up by the callee (its BYE to alice's Contact ;transport=tcp)" ||
  fail "TCP hang-up 2" "$(grep call_end "$T"/{alice,bob}.events)"

# 3. through the proxy: a caller over TCP to a callee over UDP, and back
start proxy proxy.xml --listen tcp:127.0.0.1:0 --set proxy.trusted=127.0.0.0/8 --set sip.t1_ms=100 --log-level error || exit 1
PT=$(tcp_port proxy)
start carol ua.xml "${common[@]}" --listen tcp:127.0.0.1:0 --set ua.uri=sip:carol@127.0.0.1 \
  --set "ua.outbound_proxy=sip:127.0.0.1:$PT;transport=tcp" || exit 1
start dave ua.xml "${common[@]}" --set ua.uri=sip:dave@127.0.0.1 --set "ua.outbound_proxy=sip:127.0.0.1:$PORT_proxy" || exit 1
sipp_server rr-uas -sf "$SCEN/uas-rr.xml" -m 1 -trace_msg -message_file "$T/rr-msgs.log" ||
  fail "the UDP sipp UAS did not start"
RR_PID=$SIPP_PID
cmd carol call "sip:service@127.0.0.1:$SIPP_PORT"
wait_ev carol '"to":"InCall"' 10 && pass "TCP caller through the proxy to a UDP sipp: answered" ||
  fail "TCP to UDP via proxy" "$(tail -3 "$T/carol.err")"
cmd carol hangup
wait_ev carol '"event":"call_end"' 10
timeout 20 tail --pid="$RR_PID" -f /dev/null
inv=$(awk '/^INVITE /,/^$/' "$T/rr-msgs.log" | tr -d '\r')
rr=$(echo "$inv" | grep -i '^Record-Route:')
echo "$rr" | grep -q -E "^Record-Route: <sip:127.0.0.1:$PORT_proxy;lr;sft=[0-9a-f]{32}>, <sip:127.0.0.1:$PT;lr;transport=tcp;sft=[0-9a-f]{32}>$" &&
  pass "double Record-Route (RFC 5658): the UDP side first, then the TCP side, both with the token" ||
  fail "Record-Route" "$rr"
grep -q '^ACK ' "$T/rr-msgs.log" && grep -q '^BYE ' "$T/rr-msgs.log" &&
  pass "the ACK and the BYE reached the callee through the proxy" || fail "ACK/BYE at sipp" "$(grep -E '^[A-Z]+ sip' "$T/rr-msgs.log")"

dv=$(count dave '"event":"incoming"')
cmd carol call "sip:dave@127.0.0.1:$PORT_dave"
wait_ev dave '"event":"incoming"' 10 $((dv + 1)) && cmd dave answer
wait_ev carol '"to":"InCall"' 10 2 && wait_ev dave '"to":"InCall"' 10 && pass "TCP caller through the proxy to a UDP UA: up on both sides" ||
  fail "carol to dave" "$(tail -3 "$T/carol.err")"
cmd dave hangup
ended dave '"reason":"local_bye","status":200' 1 && ended carol '"reason":"remote_bye","status":200' 2 &&
  pass "the UDP callee hangs up: its BYE reaches the TCP caller through the proxy" ||
  fail "dave hangs up" "$(grep call_end "$T"/{carol,dave}.events)"
cmd dave call "sip:carol@127.0.0.1:$(tcp_port carol);transport=tcp"
wait_ev carol '"event":"incoming"' 10 && cmd carol answer
wait_ev dave '"to":"InCall"' 10 2 && pass "UDP caller through the proxy to a transport=tcp callee: up" ||
  fail "dave to carol" "$(tail -3 "$T/dave.err")"
cmd dave hangup
ended dave '"reason":"local_bye","status":200' 2 && ended carol '"reason":"remote_bye","status":200' 3 &&
  pass "and hung up by the caller" || fail "dave hangs up 2" "$(grep call_end "$T"/{carol,dave}.events)"
acks=$(count proxy '"event":"proxy_ack"')
byes=$(count proxy '"machine":"proxy".*"from":"Idle","to":"Routing","trigger":"sip:BYE"')
[ "$acks" = 3 ] && [ "$byes" = 3 ] && pass "3 ACKs and 3 BYEs through the proxy, each once (both our Routes popped)" ||
  fail "proxy saw $acks ACK, $byes BYE (3 each)"
# 4. a connection we opened stays open while idle: the connect's timeout
#    (sip.tcp_stall, 1 s here) is not left on its socket to fail the next read
start frank ua.xml "${common[@]}" --log-level debug --set sip.tcp_stall=1 --listen tcp:127.0.0.1:0 \
  --set ua.uri=sip:frank@127.0.0.1 --set "ua.outbound_proxy=sip:127.0.0.1:$PT;transport=tcp" || exit 1
dv=$(count dave '"event":"incoming"')
cmd frank call "sip:dave@127.0.0.1:$PORT_dave"
wait_ev dave '"event":"incoming"' 10 $((dv + 1)) && cmd dave answer
wait_ev frank '"to":"InCall"' 10 && pass "frank (its connection to the proxy opened by it) calls dave: up" ||
  fail "frank to dave" "$(tail -3 "$T/frank.err")"
ln -s "$T/frank.err" "$T/frank-log.events"
wait_ev frank-log 'connection [0-9]+ closed' 3 && fail "frank's idle connection closed" "$(grep closed "$T/frank.err")" ||
  pass "... its connection, idle three times the connect timeout, stays open"
cmd frank hangup
ended dave '"reason":"remote_bye","status":200' 3 && pass "... and frank's BYE goes over it" ||
  fail "frank's BYE" "$(grep call_end "$T"/{frank,dave}.events)"
summary tcp-calls
