#!/bin/bash
# metrics.sh: run --metrics (docs/operations.md "Metrics").  bob (xml/ua.xml)
# serves /metrics on a free loopback port; sipp's built-in uac calls him, he
# answers on command, sipp hangs up.  Scraped with python3's urllib:
#  - ringing (after the INVITE and the 180): INVITE received 1, 180 sent 1, no
#    100 (a 180 within 200 ms replaces it, 17.2.1), no 200 yet, one INVITE
#    server transaction live, calls live;
#  - answered, the ACK in: 200 sent 1, ACK received 1;
#  - ended (sipp's BYE): BYE received 1, 200 sent 2 (the INVITE's and the
#    BYE's), one incoming call answered, none of the other outcomes, no
#    request sent; every counter the text has only once (HELP, TYPE, no
#    sample twice);
#  - attacks: 60 requests of 60 distinct extension methods each get 501, all
#    counted as method="other": the method label set stays the 15 values; a
#    POST gets 405 with Allow, a GET elsewhere 404, HEAD 200 without a body,
#    a Host that is not a loopback name 403;
#    past 16 connections open at once the next is closed when accepted, and
#    once they close a scrape works again;
#  - the live view (--http) serves the same /metrics;
#  - a bare port listens on loopback; a bad address is refused at start.
. "$(dirname "$0")/lib.sh"
need_sipp

# (full stacks under ASan: the live view's Graphviz leaks match their suppressions only so)
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:fast_unwind_on_malloc=0} start bob ua.xml --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:bob@127.0.0.1 \
  --metrics 0 --http 127.0.0.1:0 --messages || exit 1
wait_ev bob '"transport":"metrics"' 10 && wait_ev bob '"transport":"http"' 10
MPORT=$(metrics_port bob)
HPORT=$(grep -m1 '"transport":"http"' "$T/bob.events" | sed 's/.*"port":\([0-9]*\).*/\1/')
grep -q '"transport":"metrics","addr":"127.0.0.1"' "$T/bob.events" && [ -n "$MPORT" ] &&
  pass "listening event: transport metrics on 127.0.0.1 port $MPORT" || fail "no metrics listening event" "$(cat "$T/bob.events")"

sipp_bg() { sipp_run uac "127.0.0.1:$PORT_bob" -sn uac -s bob -m 1 -d 2000; echo "$SIPP_RC ${OK:-0}" >"$T/sipp.rc"; }
sipp_bg &
SIPP_BG=$!

# ---- ringing ----
if wait_ev bob '"to":"Ringing"' 10 && wait_ev bob '"event":"sip_out".*SIP/2.0 180' 5; then
  scrape ringing || fail "scrape while ringing"
  expect_metric ringing 'sipflow_sip_requests_received_total{method="INVITE"}' 1
  expect_metric ringing 'sipflow_sip_responses_sent_total{code="180"}' 1
  expect_metric ringing 'sipflow_sip_responses_sent_total{code="100"}' 0
  expect_metric ringing 'sipflow_sip_responses_sent_total{code="200"}' 0
  expect_metric ringing 'sipflow_transactions{machine="ist"}' 1
  [ "$(val ringing sipflow_instances)" -ge 2 ] && pass "ringing: instances live >= 2 (the call, its transaction)" ||
    fail "ringing: instances $(val ringing sipflow_instances)"
else
  fail "bob did not ring" "$(tail -3 "$T/bob.events")"
fi

# ---- answered ----
cmd bob answer
if wait_ev bob '"event":"sip_in".*"ACK ' 10; then
  scrape answered || fail "scrape in the call"
  expect_metric answered 'sipflow_sip_responses_sent_total{code="200"}' 1
  expect_metric answered 'sipflow_sip_requests_received_total{method="ACK"}' 1
  expect_metric answered 'sipflow_sip_requests_received_total{method="BYE"}' 0
  expect_metric answered 'sipflow_calls_total{direction="incoming",outcome="answered"}' 0
else
  fail "no ACK after the answer" "$(tail -3 "$T/bob.events")"
fi

# ---- ended ----
wait "$SIPP_BG"
read -r rc ok <"$T/sipp.rc"
[ "$rc" = 0 ] && [ "$ok" = 1 ] && pass "sipp: the call completed" || fail "sipp exit $rc, $ok successful" "$(tail -5 "$T/uac.out")"
if wait_ev bob '"event":"call_end"' 10; then
  scrape ended || fail "scrape after the call"
  expect_metric ended 'sipflow_sip_requests_received_total{method="INVITE"}' 1
  expect_metric ended 'sipflow_sip_requests_received_total{method="ACK"}' 1
  expect_metric ended 'sipflow_sip_requests_received_total{method="BYE"}' 1
  expect_metric ended 'sipflow_sip_responses_sent_total{code="180"}' 1
  expect_metric ended 'sipflow_sip_responses_sent_total{code="200"}' 2
  expect_metric ended 'sipflow_sip_requests_sent_total{method="BYE"}' 0
  expect_metric ended 'sipflow_calls_total{direction="incoming",outcome="answered"}' 1
  expect_metric ended 'sipflow_calls_total{direction="incoming",outcome="rejected"}' 0
  expect_metric ended 'sipflow_calls_total{direction="incoming",outcome="failed"}' 0
  expect_metric ended 'sipflow_transactions_created_total' 2
  expect_metric ended 'sipflow_sip_parse_errors_total{outcome="answered_400"}' 0
  dups=$(grep -v '^#' "$T/ended.prom" | awk '{ print $1 }' | sort | uniq -d)
  helps=$(grep -c '^# HELP ' "$T/ended.prom")
  types=$(grep -c '^# TYPE ' "$T/ended.prom")
  [ -z "$dups" ] && [ "$helps" = "$types" ] && [ "$(grep '^# HELP' "$T/ended.prom" | awk '{print $3}' | sort -u | wc -l)" = "$helps" ] &&
    pass "each family once (HELP and TYPE $helps), no sample twice" || fail "duplicates" "$dups"
  bad=$(grep -E '^# TYPE [a-z_]+ counter' "$T/ended.prom" | awk '$3 !~ /_total$/ { print $3 }')
  [ -z "$bad" ] && pass "every counter's name ends in _total" || fail "counters without _total" "$bad"
else
  fail "no call_end" "$(tail -3 "$T/bob.events")"
fi

# ---- attack: many distinct extension methods ----
python3 - "$PORT_bob" <<'EOF' >"$T/ext.out" 2>&1
import socket, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(5)
me = s.getsockname()[1]
got = 0
for i in range(60):
    m = "XEXT%d" % i
    s.sendto(("%s sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKext%d\r\n"
              "From: <sip:eve@127.0.0.1>;tag=e%d\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: ext%d@eve\r\n"
              "CSeq: 1 %s\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n" % (m, me, i, i, i, m)).encode(), ("127.0.0.1", port))
    data = s.recv(65535).decode()
    if data.startswith("SIP/2.0 501"):
        got += 1
print(got)
EOF
[ "$(cat "$T/ext.out")" = 60 ] && pass "60 extension methods: each answered 501" || fail "extension methods" "$(cat "$T/ext.out")"
scrape attack || fail "scrape after the extension methods"
expect_metric attack 'sipflow_sip_requests_received_total{method="other"}' 60
expect_metric attack 'sipflow_sip_responses_sent_total{code="501"}' 60
n=$(grep -c '^sipflow_sip_requests_received_total{' "$T/attack.prom")
[ "$n" = 15 ] && pass "the method label set stays 15 values" || fail "method labels: $n series" "$(grep '^sipflow_sip_requests_received_total' "$T/attack.prom")"

# ---- the HTTP side ----
python3 - "$MPORT" <<'EOF' >"$T/http.out" 2>&1
import http.client, socket, sys
port = int(sys.argv[1])
def req(method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    c.request(method, path, body=body)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, r.getheader("Allow"), data
st, allow, _ = req("POST", "/metrics", b"x=1")
print("POST", st, allow)
st, allow, _ = req("DELETE", "/metrics")
print("DELETE", st, allow)
st, _, _ = req("GET", "/")
print("GET/", st)
st, _, data = req("HEAD", "/metrics")
print("HEAD", st, len(data))
# a web page elsewhere, through a DNS name rebound to 127.0.0.1: its Host is its own name
c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
c.putrequest("GET", "/metrics", skip_host=True)
c.putheader("Host", "rebound.example:%d" % port)
c.endheaders()
r = c.getresponse()
print("rebound", r.status)
c.close()
# 16 connections open that send nothing (accepted in the order they came): the 17th is closed when accepted
held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(16)]
extra = socket.create_connection(("127.0.0.1", port), timeout=5)
try:
    extra.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    print("17th", repr(extra.recv(100)[:12]))
except OSError as e:
    print("17th", "reset")
for h in held:
    h.close()
EOF
has "POST: 405 with Allow: GET, HEAD" "$T/http.out" "POST 405 GET, HEAD"
has "DELETE: 405" "$T/http.out" "DELETE 405"
has "GET of another path: 404" "$T/http.out" "GET/ 404"
has "HEAD /metrics: 200, no body" "$T/http.out" "HEAD 200 0"
has "a Host that is not a loopback name: 403 (DNS rebinding)" "$T/http.out" "rebound 403"
grep -qE "^17th (b''|reset)" "$T/http.out" && pass "a 17th connection at once is closed unanswered" ||
  fail "17th connection" "$(cat "$T/http.out")"
retry 5 scrape again && pass "once they closed, a scrape works again" || fail "scrape after the connections closed"

scrape live "$HPORT" && grep -q '^sipflow_calls_total{direction="incoming",outcome="answered"} 1$' "$T/live.prom" &&
  pass "the live view serves /metrics too" || fail "the live view's /metrics" "$(head -3 "$T/live.prom" 2>/dev/null)"
stop bob || fail "bob exit" "$(err_report "$T/bob.err")"

# ---- addresses ----
expect_rc "a bad --metrics address is refused" 1 "$SIPFLOW" run ua.xml --metrics nowhere:x --set media.backend=null </dev/null
has "... naming it" "$T/err" "metrics address 'nowhere:x'"

summary metrics.sh
