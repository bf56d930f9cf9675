#!/bin/bash
# dns.sh: RFC 3263 server location against a DNS server of the test's own: a
# dnsmasq (Debian dnsmasq-base) on a free loopback port serves NAPTR, SRV and A
# records under sipflow.test, and a sipflow UA (sip.dns_servers pointed at it)
# calls names there:
#  - pick.sipflow.test: NAPTR SIP+D2T (order 10) before SIP+D2U (order 20): the
#    call goes over TCP, to the port the _sip._tcp SRV names (bob's TCP socket);
#  - down.sipflow.test: no NAPTR; _sip._tcp SRV priority 10 names a TCP port with
#    nothing listening (refused), priority 20 bob's: the INVITE fails over (a
#    'failover' event, why transport_error, a new branch) and bob rings;
#  - quiet.sipflow.test: _sip._udp SRV priority 10 names a UDP port with nothing
#    listening, priority 20 bob's: Timer B (T1 50 ms) fires, the call fails over;
#  - busy.sipflow.test: _sip._udp SRV priority 10 is a sipp UAS answering 503
#    (ACKed), priority 20 bob: the call fails over on the 503 (RFC 3263 4.3);
#  - nothing.sipflow.test (no record at all): the call fails, unreachable;
#  - cancelled.sipflow.test: _sip._udp SRV priority 10 is a sipp UAS that rings,
#    takes the CANCEL and then answers the INVITE 503, priority 20 bob: the
#    cancelled INVITE does not fail over (no 'failover' event, bob does not ring).
# One dnsmasq, stopped by PID; every wait bounded.
. "$(dirname "$0")/lib.sh"
need_sipp
command -v dnsmasq >/dev/null || [ -x /usr/sbin/dnsmasq ] || { fail "dnsmasq is missing (Debian dnsmasq-base)"; summary dns.sh; exit 1; }
DNSMASQ=$(command -v dnsmasq || echo /usr/sbin/dnsmasq)
SCEN=$(cd "$(dirname "$0")/sipp" && pwd)
common=(--set media.rtp_ports=43000-43999 --set media.backend=null --log-level error)
tcp_port() { grep '"event":"listening".*"transport":"tcp"' "$T/$1.events" | head -1 | sed 's/.*"port":\([0-9]*\).*/\1/'; }
free_port() { # a loopback port nothing listens on, UDP and TCP
  local p
  while :; do
    p=$((20000 + (RANDOM % 20000)))
    udp_bound "$p" || tcp_bound "$p" || { echo "$p"; return; }
  done
}

# bob answers on UDP and TCP
LISTEN=udp:127.0.0.1:0 start bob ua.xml "${common[@]}" --set sip.t1_ms=50 --set ua.uri=sip:bob@127.0.0.1 \
  --listen tcp:127.0.0.1:0 --messages on || exit 1
BOB_UDP=$PORT_bob
BOB_TCP=$(tcp_port bob)
sipp_server busy -sf "$SCEN/uas-503.xml" -m 1 || { fail "the 503 sipp did not start"; summary dns.sh; exit 1; }
BUSY=$SIPP_PORT
BUSY_PID=$SIPP_PID
sipp_server cancelled -sf "$SCEN/uas-cancel-503.xml" -m 1 || { fail "the CANCEL-503 sipp did not start"; summary dns.sh; exit 1; }
CANCELLED=$SIPP_PORT
CANCELLED_PID=$SIPP_PID
DEAD_TCP=$(free_port)
DEAD_UDP=$(free_port)

D=sipflow.test
for try in 1 2 3 4 5; do
  DNS=$(free_port)
  "$DNSMASQ" --keep-in-foreground --conf-file=/dev/null --port="$DNS" --no-resolv --no-hosts --bind-interfaces \
    --listen-address=127.0.0.1 --user="$(id -un)" --pid-file= --log-queries --log-facility="$T/dnsmasq.log" \
    --host-record=bob.$D,127.0.0.1 --host-record=dead.$D,127.0.0.1 --host-record=busy.$D,127.0.0.1 \
    --naptr-record=pick.$D,10,10,S,SIP+D2T,,_sip._tcp.pick.$D --naptr-record=pick.$D,20,10,S,SIP+D2U,,_sip._udp.pick.$D \
    --srv-host=_sip._tcp.pick.$D,bob.$D,"$BOB_TCP",10,10 --srv-host=_sip._udp.pick.$D,bob.$D,"$BOB_UDP",10,10 \
    --srv-host=_sip._tcp.down.$D,dead.$D,"$DEAD_TCP",10,10 --srv-host=_sip._tcp.down.$D,bob.$D,"$BOB_TCP",20,10 \
    --srv-host=_sip._udp.quiet.$D,dead.$D,"$DEAD_UDP",10,10 --srv-host=_sip._udp.quiet.$D,bob.$D,"$BOB_UDP",20,10 \
    --srv-host=_sip._udp.busy.$D,busy.$D,"$BUSY",10,10 --srv-host=_sip._udp.busy.$D,bob.$D,"$BOB_UDP",20,10 \
    --srv-host=_sip._udp.cancelled.$D,busy.$D,"$CANCELLED",10,10 --srv-host=_sip._udp.cancelled.$D,bob.$D,"$BOB_UDP",20,10 \
    >"$T/dnsmasq.out" 2>&1 &
  DNS_PID=$!
  PIDS+=("$DNS_PID")
  for i in $(seq 50); do udp_bound "$DNS" && break; kill -0 "$DNS_PID" 2>/dev/null || break; sleep 0.1; done
  udp_bound "$DNS" && break
  kill "$DNS_PID" 2>/dev/null; wait "$DNS_PID" 2>/dev/null; DNS=
done
[ -n "$DNS" ] && pass "dnsmasq serves $D on 127.0.0.1:$DNS" || { fail "dnsmasq did not start" "$(cat "$T/dnsmasq.out")"; summary dns.sh; exit 1; }

LISTEN=udp:127.0.0.1:0 start alice ua.xml "${common[@]}" --set sip.t1_ms=50 --set ua.uri=sip:alice@127.0.0.1 \
  --listen tcp:127.0.0.1:0 --set sip.dns_servers=127.0.0.1:$DNS --set sip.dns_timeout_ms=500 || exit 1

# call URI: alice calls, bob rings (sets B), answers; alice hangs up
call() {
  local i r
  i=$(count bob '"event":"incoming"')
  r=$(count alice '"event":"call_end"')
  cmd alice call "$1"
  B=
  wait_ev bob '"event":"incoming"' "${2:-10}" $((i + 1)) && B=$(last_call bob)
  [ -n "$B" ] || return 1
  local up
  up=$(count alice '"to":"InCall"') # before the answer: alice may be in call before a count after it
  cmd bob answer
  wait_ev alice '"to":"InCall"' 5 $((up + 1)) || true
  cmd alice hangup
  wait_ev alice '"event":"call_end"' 10 $((r + 1))
}

# 1. NAPTR picks TCP, the SRV the port
if call sip:bob@pick.$D; then
  grep '"event":"sip_in".*"proto":"tcp".*INVITE sip:bob@pick' "$T/bob.events" >/dev/null &&
    pass "pick: NAPTR SIP+D2T first: the INVITE reaches bob over TCP (port $BOB_TCP from the SRV)" ||
    fail "pick: the INVITE did not come over TCP" "$(grep '"sip_in".*INVITE' "$T/bob.events" | tail -2)"
else
  fail "pick: bob did not ring" "$(tail -5 "$T/alice.err")" "$(grep -c query "$T/dnsmasq.log") queries"
fi
grep -q 'query\[NAPTR\] pick' "$T/dnsmasq.log" && grep -q 'query\[SRV\] _sip._tcp.pick' "$T/dnsmasq.log" &&
  pass "pick: NAPTR, then SRV looked up" || fail "pick: lookups" "$(grep query "$T/dnsmasq.log" | head)"

# 2. the first SRV target refuses TCP: failover to the second
f=$(count alice '"event":"failover".*"why":"transport_error"')
if call sip:bob@down.$D; then
  pass "down: bob rings after the first target refused"
else
  fail "down: bob did not ring" "$(tail -5 "$T/alice.err")"
fi
wait_ev alice '"event":"failover".*"why":"transport_error".*"method":"INVITE"' 2 $((f + 1)) &&
  pass "down: a failover event (transport_error) to the next target" ||
  fail "down: no failover event" "$(grep failover "$T/alice.events")"

# 3. the first SRV target is silent over UDP: Timer B, failover
f=$(count alice '"event":"failover".*"why":"timeout"')
if call sip:bob@quiet.$D 15; then
  pass "quiet: bob rings after Timer B fired on the first target"
else
  fail "quiet: bob did not ring" "$(tail -5 "$T/alice.err")"
fi
wait_ev alice '"event":"failover".*"why":"timeout"' 2 $((f + 1)) && pass "quiet: a failover event (timeout)" ||
  fail "quiet: no failover event" "$(grep failover "$T/alice.events")"

# 4. the first target answers 503: failover
f=$(count alice '"event":"failover".*"why":"503"')
if call sip:bob@busy.$D; then
  pass "busy: bob rings after the first target's 503"
else
  fail "busy: bob did not ring" "$(tail -5 "$T/alice.err")"
fi
wait_ev alice '"event":"failover".*"why":"503"' 2 $((f + 1)) && pass "busy: a failover event (503)" ||
  fail "busy: no failover event" "$(grep failover "$T/alice.events")"
SIPP_PID=$BUSY_PID
sipp_server_wait busy
[ "$SIPP_RC" = 0 ] && pass "busy: the 503 was ACKed (the sipp scenario ended well)" || fail "busy: sipp rc $SIPP_RC" "$(tail -3 "$T/busy.out")"

# 5. a name with no record: the call fails
r=$(count alice '"event":"call_end"')
cmd alice call sip:bob@nothing.$D
wait_ev alice '"event":"call_end"' 15 $((r + 1)) &&
  grep '"event":"call_end"' "$T/alice.events" | tail -1 | grep -q -E '"reason":"(unreachable|timeout)"' &&
  pass "nothing: no record: the call ends unreachable" || fail "nothing: call_end" "$(grep call_end "$T/alice.events" | tail -1)"

# 6. a 503 after our CANCEL: the INVITE is not wanted any more, no failover
f=$(count alice '"event":"failover"')
i=$(count bob '"event":"incoming"')
r=$(count alice '"event":"call_end"')
rb=$(count alice '"to":"RingBack"') # before the call: its 180 may come before a count after it
cmd alice call sip:bob@cancelled.$D
if wait_ev alice '"to":"RingBack"' 10 $((rb + 1)); then
  cmd alice hangup
  SIPP_PID=$CANCELLED_PID
  sipp_server_wait cancelled # it ends once the 503 is ACKed: a failover would come before the ACK
  [ "$SIPP_RC" = 0 ] && pass "cancelled: CANCEL taken, the 503 after it ACKed" ||
    fail "cancelled: sipp rc $SIPP_RC" "$(tail -3 "$T/cancelled.out")"
  [ "$(count alice '"event":"failover"')" = "$f" ] && pass "cancelled: no failover of the cancelled INVITE" ||
    fail "cancelled: the cancelled INVITE failed over" "$(grep failover "$T/alice.events" | tail -1)"
  wait_ev alice '"event":"call_end"' 10 $((r + 1)) && [ "$(count bob '"event":"incoming"')" = "$i" ] &&
    pass "cancelled: the call ends, bob never rings" ||
    fail "cancelled: bob rang or no call_end" "$(grep -E 'incoming|call_end' "$T/bob.events" "$T/alice.events" | tail -3)"
else
  fail "cancelled: no ringing from the first target" "$(tail -5 "$T/alice.err")"
fi

stop alice; stop bob
kill "$DNS_PID" 2>/dev/null; wait "$DNS_PID" 2>/dev/null
summary dns.sh
