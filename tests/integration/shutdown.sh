#!/bin/bash
# shutdown.sh: the graceful stop (docs/engine.md "The command"), on loopback,
# bounded.  "outside" is a UDP listener (sipcat.py listen) that rings (180) to
# whatever reaches it and never answers, so a forwarded INVITE keeps work alive
# until core.shutdown_timeout.
#  - proxy, SIGTERM with an INVITE ringing: the shutdown event; a new INVITE
#    and an OPTIONS get 503 with Retry-After (sip.shutdown_retry_after, RFC
#    3261 21.5.4); the CANCEL for the ringing INVITE still gets 200 (9.2); the
#    process exits 0 after core.shutdown_timeout, the 503s counted
#    (shutdown_refused), no sanitizer report;
#  - proxy, SIGINT: the same 503 (Retry-After: 7 as configured); a second
#    SIGINT stops at once, long before core.shutdown_timeout;
#  - user agent (xml/ua.xml), SIGTERM with an outgoing call ringing: its CANCEL
#    goes out, a new INVITE and OPTIONS get 503 with Retry-After, exit 0;
#  - redirect server, SIGTERM with nothing running: exits 0 at once (its work
#    never outlives a request, so its sockets close at once).
. "$(dirname "$0")/lib.sh"
SRC=${SF_SRCDIR:-$PWD}
sipcat() { timeout 30 python3 "$SRC/tests/integration/sipcat.py" "$@"; }
command -v python3 >/dev/null || { echo "not ok - python3 is not installed (scripts/setup-deps installs it)"; exit 1; }

sipcat listen "$T/out.port" "$T/out.msgs" --answer 180 --seconds 120 &
OUTPID=$!
PIDS+=("$OUTPID")
for _ in $(seq 50); do [ -s "$T/out.port" ] && break; sleep 0.1; done # bounded: the listener's socket
OUT=$(cat "$T/out.port")

# ended NAME SECONDS: NAME's process ends within SECONDS; sets RC (its exit status)
ended() {
  local pid
  eval "pid=\$PID_$1"
  RC=timeout
  timeout "$2" tail --pid="$pid" -f /dev/null || return 1
  wait "$pid" 2>/dev/null
  RC=$?
}

clean_stderr() {
  ! grep -q -E 'CRITICAL|runtime error|AddressSanitizer|LeakSanitizer' "$T/$1.err" &&
    pass "$1: no critical log, no sanitizer report" || fail "$1 stderr" "$(grep -E 'CRITICAL|runtime error|Sanitizer' "$T/$1.err" | head -3)"
}

# refused503 DEST FILE RETRY WHAT: FILE sent to DEST gets 503 with Retry-After: RETRY
refused503() {
  local out
  out=$(sipcat send "$1" "$2" --timeout 5 --show)
  [ "$(head -1 <<<"$out")" = 503 ] && tr -d '\r' <<<"$out" | grep -qx "Retry-After: $3" &&
    pass "$4 while shutting down: 503 with Retry-After: $3" || fail "$4 while shutting down" "$out"
}

# the messages: a caller at a fixed Via (rport: answers come to the socket)
ring() { # ring NAME DEST-URI CALL-ID
  cat >"$T/$1.sip" <<EOF
INVITE $2 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK$3;rport
Max-Forwards: 70
From: <sip:alice@example.net>;tag=a$3
To: <sip:bob@example.org>
Call-ID: $3
CSeq: 1 INVITE
Contact: <sip:alice@127.0.0.1:9>

EOF
  sed -e '1s/^INVITE/CANCEL/' -e 's/^CSeq: 1 INVITE/CSeq: 1 CANCEL/' -e '/^Contact:/d' "$T/$1.sip" >"$T/$1-cancel.sip"
}
newreq() { # newreq NAME METHOD URI
  cat >"$T/$1.sip" <<EOF
$2 $3 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK$1{cid};rport
Max-Forwards: 70
From: <sip:carol@example.net>;tag=c{cid}
To: <$3>
Call-ID: $1-{cid}
CSeq: 1 $2
Contact: <sip:carol@127.0.0.1:{port}>

EOF
}

# ---- proxy, SIGTERM ----
start px proxy.xml --set proxy.trusted=127.0.0.0/8 --set core.shutdown_timeout=3 || exit 1
PX=127.0.0.1:$PORT_px
ring ring1 "sip:bob@127.0.0.1:$OUT" ring1-$$
sipcat send "$PX" "$T/ring1.sip" --timeout 15 >"$T/ring1.out" &
RING_PID=$!
PIDS+=("$RING_PID")
wait_ev px '"event":"proxy_provisional"' 10 && pass "proxy: an INVITE rings at the outside host" ||
  fail "proxy: ringing" "$(tail -5 "$T/px.events")"
kill -TERM "$PID_px"
wait_ev px '"event":"shutdown","cause":"SIGTERM"' 5 && pass "proxy: SIGTERM starts the graceful shutdown" ||
  fail "proxy: shutdown event" "$(tail -3 "$T/px.events")"
T0=$(date +%s)
newreq inv2 INVITE "sip:bob@127.0.0.1:$OUT"
refused503 "$PX" "$T/inv2.sip" 10 "proxy: a new INVITE"
newreq opt2 OPTIONS "sip:sipflow.test"
refused503 "$PX" "$T/opt2.sip" 10 "proxy: an OPTIONS"
[ "$(sipcat send "$PX" "$T/ring1-cancel.sip" --timeout 5)" = 200 ] &&
  pass "proxy: the CANCEL for the ringing INVITE still gets 200 (9.2)" || fail "proxy: CANCEL while shutting down"
[ "$(grep -c '^CANCEL ' "$T/out.msgs")" -ge 1 ] && pass "proxy: the ringing branch was cancelled (16.10)" ||
  fail "proxy: CANCEL downstream" "$(grep -c '^CANCEL ' "$T/out.msgs")"
ended px 15 && [ "$RC" = 0 ] && pass "proxy: exits 0 after core.shutdown_timeout" || fail "proxy: exit ($RC)" "$(err_report "$T/px.err")"
[ $(($(date +%s) - T0)) -le 10 ] && pass "proxy: within the bound" || fail "proxy: took $(($(date +%s) - T0)) s"
grep '"event":"stats"' "$T/px.events" | tail -1 | grep -q '"shutdown_refused":2,' &&
  pass "proxy: the stats count the two 503s (shutdown_refused)" || fail "proxy: stats" "$(grep '"event":"stats"' "$T/px.events" | tail -1)"
grep -q 'still alive after 3 s (core.shutdown_timeout)' "$T/px.err" && pass "proxy: the log says what was ended at the timeout" ||
  fail "proxy: timeout log" "$(tail -3 "$T/px.err")"
clean_stderr px

# ---- proxy, SIGINT twice ----
start px2 proxy.xml --set proxy.trusted=127.0.0.0/8 --set core.shutdown_timeout=60 --set sip.shutdown_retry_after=7 || exit 1
PX2=127.0.0.1:$PORT_px2
ring ring2 "sip:bob@127.0.0.1:$OUT" ring2-$$
sipcat send "$PX2" "$T/ring2.sip" --timeout 15 >"$T/ring2.out" &
PIDS+=($!)
wait_ev px2 '"event":"proxy_provisional"' 10 || fail "proxy 2: ringing" "$(tail -5 "$T/px2.events")"
kill -INT "$PID_px2"
wait_ev px2 '"event":"shutdown","cause":"SIGINT"' 5 && pass "proxy: SIGINT starts the graceful shutdown too" ||
  fail "proxy 2: shutdown event" "$(tail -3 "$T/px2.events")"
refused503 "$PX2" "$T/inv2.sip" 7 "proxy (SIGINT): a new INVITE"
kill -INT "$PID_px2"
ended px2 10 && [ "$RC" = 0 ] && pass "proxy: a second SIGINT stops at once, exit 0" || fail "proxy 2: exit ($RC)" "$(err_report "$T/px2.err")"
grep -q 'still alive at a second signal (SIGINT)' "$T/px2.err" && pass "proxy: the log names the second signal" ||
  fail "proxy 2: log" "$(tail -3 "$T/px2.err")"
clean_stderr px2

# ---- user agent, SIGTERM with an outgoing call ringing ----
start ua ua.xml --set media.backend=null --set ua.uri=sip:dave@127.0.0.1 --set core.shutdown_timeout=3 || exit 1
UA=127.0.0.1:$PORT_ua
cancels=$(grep -c '^CANCEL ' "$T/out.msgs")
cmd ua call "sip:bob@127.0.0.1:$OUT"
wait_ev ua '"to":"RingBack"' 10 && pass "ua: an outgoing call rings" || fail "ua: ringing" "$(tail -5 "$T/ua.events")"
kill -TERM "$PID_ua"
wait_ev ua '"event":"shutdown","cause":"SIGTERM"' 5 || fail "ua: shutdown event" "$(tail -3 "$T/ua.events")"
newreq inv3 INVITE "sip:dave@$UA"
refused503 "$UA" "$T/inv3.sip" 10 "ua: a new INVITE"
newreq opt3 OPTIONS "sip:dave@$UA"
refused503 "$UA" "$T/opt3.sip" 10 "ua: an OPTIONS"
ended ua 15 && [ "$RC" = 0 ] && pass "ua: exits 0" || fail "ua: exit ($RC)" "$(err_report "$T/ua.err")"
[ "$(grep -c '^CANCEL ' "$T/out.msgs")" -gt "$cancels" ] && pass "ua: the ringing call was cancelled (9.1)" ||
  fail "ua: no CANCEL"
grep '"event":"stats"' "$T/ua.events" | tail -1 | grep -q '"shutdown_refused":2,' &&
  pass "ua: the stats count the two 503s" || fail "ua: stats" "$(grep '"event":"stats"' "$T/ua.events" | tail -1)"
clean_stderr ua

# ---- redirect server: nothing outlives a request ----
start srv redirect.xml || exit 1
kill -TERM "$PID_srv"
ended srv 5 && [ "$RC" = 0 ] && grep -q '"event":"shutdown","cause":"SIGTERM"' "$T/srv.events" &&
  pass "redirect: SIGTERM with nothing running exits 0 at once" || fail "redirect: exit ($RC)" "$(err_report "$T/srv.err")"
clean_stderr srv

summary shutdown
