#!/bin/bash
# sipp.sh: xml/examples/uas-answer.xml against sipp's built-in uac scenario, on
# loopback, bounded in time and count (issue 4's first real SIP traffic):
#  - UDP: 200 calls, all successful
#  - UDP with -lost 10: retransmissions happen, at least 95% of calls succeed on
#    sipp's side, and sipflow's stats show its calls answered and ended
#  - TCP (-t t1): 100 calls, all successful
# sipflow listens on port 0 and reports its port in the 'listening' event; sipp
# gets an explicit free local port (docs/testing.md: it takes 5060 otherwise).
. "$(dirname "$0")/lib.sh"
need_sipp
SF_PID=

# start_uas PROTO: sipflow on PROTO:127.0.0.1:0 (T1 = 100 ms, so its transactions end
# within 6.4 s); sets PORT from its listening event, then keeps reading its events
# into $T/events (a full pipe would stall it).
start_uas() {
  coproc RUN { exec "$SIPFLOW" run examples/uas-answer.xml --listen "$1:127.0.0.1:0" --set sip.t1_ms=100 \
                 --exit-when-idle 2>"$T/run.err"; }
  SF_PID=$!
  PIDS+=("$SF_PID")
  exec {OUT}<&"${RUN[0]}" {IN}>&"${RUN[1]}"
  eval "exec ${RUN[0]}<&- ${RUN[1]}>&-" # only our copies stay: closing IN is then an end of input
  local line
  PORT=
  while IFS= read -r -t 10 line <&"$OUT"; do
    case "$line" in *'"event":"listening"'*) PORT=$(echo "$line" | sed 's/.*"port":\([0-9]*\).*/\1/'); break ;; esac
  done
  [ -n "$PORT" ] || return 1
  cat <&"$OUT" >"$T/events" &
  CAT_PID=$!
  return 0
}
# stop_uas: close sipflow's standard input: it exits once every call and transaction
# ended (--exit-when-idle); wait for that (bounded), the final stats line in $STATS
stop_uas() {
  exec {IN}>&-
  ( sleep 60; kill "$SF_PID" 2>/dev/null ) &
  local watchdog=$!
  wait "$SF_PID" 2>/dev/null
  kill "$watchdog" 2>/dev/null
  wait "$CAT_PID" 2>/dev/null
  exec {OUT}<&-
  SF_PID=
  STATS=$(grep '"event":"stats"' "$T/events" | tail -1)
}
stat() { echo "$STATS" | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"; }
# uac NAME ARGS...: sipp's built-in uac toward sipflow (lib.sh's sipp_run).
uac() {
  local name=$1
  shift
  sipp_run "$name" "127.0.0.1:$PORT" -sn uac "$@"
}

# ---- UDP: 200 calls ----
if start_uas udp; then
  pass "sipflow listens on udp (port $PORT)"
  uac udp -m 200 -r 100
  [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 200 ] && pass "UDP: 200 of 200 calls successful" ||
    fail "UDP: sipp exit $SIPP_RC, $OK successful, $FAILED failed" "$(tail -5 "$T/udp.out")"
  stop_uas
  [ "$(stat calls_answered)" = 200 ] && [ "$(stat calls_ended)" = 200 ] && pass "UDP: sipflow answered and ended 200 calls" ||
    fail "UDP: sipflow stats" "$STATS"
else
  fail "sipflow did not start on udp" "$(cat "$T/run.err")"
fi

# ---- UDP with 10% loss ----
if start_uas udp; then
  uac lost -m 200 -r 100 -lost 10
  if [ "${OK:-0}" -ge 190 ]; then pass "loss: $OK of 200 calls successful on sipp's side (>= 95%)"; else
    fail "loss: only ${OK:-0} successful (sipp exit $SIPP_RC)" "$(tail -5 "$T/lost.out")"; fi
  [ "${RETRANS:-0}" -gt 0 ] && pass "loss: sipp retransmitted ($RETRANS)" || fail "loss: no retransmissions seen"
  stop_uas
  answered=$(stat calls_answered)
  ended=$(stat calls_ended)
  [ "${answered:-0}" = 200 ] && [ "${ended:-0}" = 200 ] &&
    pass "loss: sipflow answered and ended every call ($answered, $ended)" || fail "loss: sipflow stats" "$STATS"
  [ "$(stat retransmissions_sent)" -gt 0 ] && pass "loss: sipflow retransmitted ($(stat retransmissions_sent))" ||
    fail "loss: sipflow never retransmitted" "$STATS"
else
  fail "sipflow did not start for the loss run" "$(cat "$T/run.err")"
fi

# ---- TCP: 100 calls ----
if start_uas tcp; then
  uac tcp -m 100 -r 50 -t t1
  [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 100 ] && pass "TCP: 100 of 100 calls successful" ||
    fail "TCP: sipp exit $SIPP_RC, $OK successful, $FAILED failed" "$(tail -5 "$T/tcp.out")"
  stop_uas
  [ "$(stat calls_ended)" = 100 ] && pass "TCP: sipflow ended 100 calls" || fail "TCP: sipflow stats" "$STATS"
else
  fail "sipflow did not start on tcp" "$(cat "$T/run.err")"
fi

summary sipp
