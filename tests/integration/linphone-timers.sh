#!/bin/bash
# linphone-timers.sh: linphonec 5.1 (Debian linphone-cli) calls a sipflow UA
# (xml/ua.xml) directly, with its defaults: `Supported: 100rel, timer` and
# `Session-Expires: 90` in its INVITE (../docs/ua.md, "Session timers").
#  - the UA answers with `Session-Expires: 90;refresher=uac` and `Require:
#    timer` (RFC 4028 9: linphonec asked to refresh); linphonec refreshes the
#    session with an UPDATE at about half of it (45 s: RFC 4028 10), which the
#    UA answers 200 with the Session-Expires again; the call stays up past the
#    interval's first half and is hung up from the UA (BYE, 200);
#  - at the same time dave, a UA whose `ua.session_expires` is 90, calls a
#    second linphonec (answering by itself): its INVITE offers the timer, and
#    whoever lc2's 200 makes the refresher refreshes at half the interval,
#    answered 200;
#  - a second UA with `ua.100rel = required`: its 180 goes reliably (Require:
#    100rel, RSeq), linphonec PRACKs it (RAck), the PRACK gets 200 and the call
#    is answered after it; linphonec hangs up.
# The first call waits for linphonec's own refresh timer: about 50 s, the
# suite's one call that long besides session-timer.sh's (run in parallel).
. "$(dirname "$0")/lib.sh"

command -v linphonec >/dev/null ||
  { echo "not ok - linphonec is not installed (Debian package linphone-cli; scripts/setup-deps installs it)"; exit 1; }

# the UAs: bob answers after 1 s with a tone (GStreamer media: linphonec's RTP
# timeout would end a silent call); carol requires 100rel
start bob xml/ua.xml --messages full --set ua.uri=sip:bob@127.0.0.1 --set ua.auto_answer=1 \
  --set media.source=tone:440 --set media.sink=none || { summary linphone-timers; exit 1; }
start carol xml/ua.xml --messages full --set ua.uri=sip:carol@127.0.0.1 --set ua.auto_answer=1 \
  --set ua.100rel=required --set media.source=tone:440 --set media.sink=none || { summary linphone-timers; exit 1; }
start dave xml/ua.xml --messages full --set ua.uri=sip:dave@127.0.0.1 --set ua.session_expires=90 \
  --set media.source=tone:440 --set media.sink=none || { summary linphone-timers; exit 1; }

# linphonec NAME [ARGS]: a linphonec on free loopback ports, its 100rel and
# session timers switched on as phones ship them (Debian's linphonec has them
# off: [sip] session_expires_enabled, session_expires_value=90 and
# 100rel_support_level=1, optional); sets LC_NAME (its SIP port), and lc_NAME
# writes a command to it
linphonec_start() {
  local name=$1 port try
  shift
  for try in $(seq 50); do
    port=$((20000 + 4 * (RANDOM % 5000)))
    port_used "$port" || port_used $((port + 2)) || port_used $((port + 3)) || break
  done
  mkdir -p "$T/$name/.local/share/linphone"
  cat >"$T/$name/rc" <<CFG
[sip]
sip_port=$port
sip_tcp_port=0
sip_tls_port=0
auto_net_state_mon=0
register_only_when_network_is_up=0
use_ipv6=0
ipv6_migration_done=1
session_expires_enabled=1
session_expires_value=90
100rel_support_level=1
[rtp]
bind_address=127.0.0.1
audio_rtp_port=$((port + 2))
CFG
  mkfifo "$T/$name.in"
  HOME=$T/$name linphonec -c "$T/$name/rc" -d 0 "$@" <"$T/$name.in" >"$T/$name.events" 2>"$T/$name.err" &
  eval "PID_$name=$! LC_$name=$port"
  PIDS+=($!)
  exec {fd}>"$T/$name.in"
  eval "FD_$name=$fd"
  eval "lc_$name() { timeout 5 bash -c 'printf \"%s\\n\" \"\$1\" >&\"\$2\"' _ \"\$*\" $fd; }" # never block on an exited linphonec
}
linphonec_start lc
lc() { lc_lc "$@"; }
lc "soundcard use files"
# lc2 answers by itself (-a): dave, a UA whose Session-Expires is 90, calls it
linphonec_start lc2 -a
lc_lc2 "soundcard use files"

# sip NAME DIR METHOD-OR-STATUS CSEQ-METHOD: the sip_in/sip_out events of NAME
# for that message (a request's method, or a response's status and its CSeq's method)
msgs() { grep -E "\"event\":\"sip_$2\".*\"cseq\":\"[0-9]+ $4\"" "$T/$1.events" | grep -E "\"start\":\"($3 |SIP/2.0 $3)"; }

# ---- call 1: session timer, refreshed by linphonec's UPDATE; call 3 at
# the same time: dave calls lc2 and refreshes the session itself ----
lc "call sip:bob@127.0.0.1:$PORT_bob"
cmd dave "call sip:lc2@127.0.0.1:$LC_lc2"
wait_ev bob '"event":"incoming"' 10 && msgs bob in INVITE INVITE | grep -q 'Session-Expires: 90' &&
  msgs bob in INVITE INVITE | grep -q -E 'Supported: [^"]*timer' &&
  pass "linphonec's INVITE offers timer with Session-Expires: 90" ||
  fail "linphonec's INVITE" "$(msgs bob in INVITE INVITE | head -1 | cut -c1-600)" "$(tail -3 "$T/lc.err")"
wait_ev lc 'Call [0-9]+ with sip:bob@127.0.0.1.* connected' 15 &&
  ok=$(msgs bob out 200 INVITE | head -1) && echo "$ok" | grep -q -E 'Session-Expires: 90;refresher=uac' &&
  echo "$ok" | grep -q 'Require: timer' &&
  pass "bob's 200 says Session-Expires: 90;refresher=uac and Require: timer; linphonec is connected" ||
  fail "bob's 200" "$(msgs bob out 200 INVITE | head -1 | cut -c1-800)" "$(tail -3 "$T/lc.events")"
# linphonec refreshes at half the interval (45 s); bounded at 70 s
wait_ev bob '"event":"sip_in".*"start":"UPDATE ' 70 && wait_ev bob '"event":"sip_out".*"start":"SIP/2.0 200 .*"cseq":"[0-9]+ UPDATE"' 5 &&
  msgs bob out 200 UPDATE | head -1 | grep -q 'Session-Expires: 90;refresher=uac' &&
  pass "linphonec refreshes with an UPDATE; bob answers 200 with the Session-Expires" ||
  fail "the UPDATE refresh" "$(grep -E 'UPDATE' "$T/bob.events" | head -3 | cut -c1-600)"
# dave's side: its INVITE asked for 90 s, lc2's 200 made someone the refresher
wait_ev dave '"event":"call_end"|"event":"state".*"to":"InCall"' 15 && grep -q '"to":"InCall"' "$T/dave.events" &&
  msgs dave out INVITE INVITE | head -1 | grep -q -E 'Session-Expires: 90' &&
  msgs dave out INVITE INVITE | head -1 | grep -q -E 'Supported: [^"]*timer' &&
  pass "dave's INVITE offers timer with Session-Expires: 90; lc2 answers" ||
  fail "dave -> lc2" "$(msgs dave out INVITE INVITE | head -1 | cut -c1-600)" "$(grep -E '"event":"(state|call_end)"' "$T/dave.events" | tail -3)"
refresher=$(msgs dave in 200 INVITE | head -1 | sed -n 's/.*Session-Expires: *90;refresher=\(ua[cs]\).*/\1/p')
if [ "$refresher" = uac ]; then
  # we refresh at half the interval; lc2 answers the refresh 200
  wait_ev dave '"event":"sip_out".*"start":"(UPDATE|INVITE) ' 70 2 >/dev/null
  grep -E '"event":"sip_out".*"start":"(UPDATE|INVITE) ' "$T/dave.events" | sed -n 2p | grep -q -E '"cseq":"[0-9]+ (UPDATE|INVITE)"' &&
    wait_ev dave '"event":"sip_in".*"start":"SIP/2.0 200 .*"cseq":"[0-9]+ (UPDATE|INVITE)"' 5 2 &&
    pass "dave, the refresher (lc2's 200 says refresher=uac), refreshes at half the interval; lc2 answers 200" ||
    fail "dave's refresh" "$(grep -E '"start":"(UPDATE|SIP/2.0 [0-9]+ )' "$T/dave.events" | tail -3 | cut -c1-400)"
else
  wait_ev dave '"event":"sip_in".*"start":"(UPDATE|INVITE) ' 70 2 >/dev/null &&
    pass "lc2 is the refresher (its 200 says refresher=${refresher:-none}); its refresh reached dave" ||
    fail "lc2's refresh (refresher=${refresher:-none})" "$(msgs dave in 200 INVITE | head -1 | cut -c1-800)"
fi
! grep -q '"reason":"session_expired"' "$T/dave.events" && cmd dave hangup &&
  wait_ev dave '"event":"call_end".*"reason":"local_bye"' 10 && pass "dave's refreshed call did not expire; dave hangs up" ||
  fail "dave's call end" "$(grep call_end "$T/dave.events")"

call=$(last_call bob)
cmd bob hangup
wait_ev bob "\"event\":\"call_end\".*\"reason\":\"local_bye\"" 10 && wait_ev lc 'Call [0-9]+ with sip:bob@127.0.0.1.* ended' 10 &&
  pass "the call lasted past the refresh; bob hangs up, linphonec's call ends" ||
  fail "hang-up" "$(grep '"event":"call_end"' "$T/bob.events")" "$(tail -3 "$T/lc.events")"
! grep -q '"reason":"session_expired"' "$T/bob.events" && pass "no session expiry on a refreshed call" ||
  fail "session expired" "$(grep session_expired "$T/bob.events")"

# ---- call 2: ua.100rel = required: reliable 180, linphonec's PRACK ----
lc "call sip:carol@127.0.0.1:$PORT_carol"
wait_ev carol '"event":"sip_out".*"start":"SIP/2.0 18[03] ' 10 &&
  r18=$(grep -E '"event":"sip_out".*"start":"SIP/2.0 18[03] ' "$T/carol.events" | head -1) &&
  echo "$r18" | grep -q 'Require: 100rel' && echo "$r18" | grep -q -E 'RSeq: [0-9]+' &&
  pass "carol's provisional goes reliably (Require: 100rel, RSeq)" ||
  fail "carol's 18x" "$(grep -E '"start":"SIP/2.0 18' "$T/carol.events" | head -1 | cut -c1-600)"
rseq=$(echo "${r18:-}" | sed -n 's/.*RSeq: \([0-9]*\).*/\1/p')
wait_ev carol '"event":"sip_in".*"start":"PRACK ' 10 && msgs carol in PRACK PRACK | head -1 | grep -q -E "RAck: $rseq [0-9]+ INVITE" &&
  wait_ev carol '"event":"sip_out".*"start":"SIP/2.0 200 .*"cseq":"[0-9]+ PRACK"' 5 &&
  pass "linphonec PRACKs it (RAck $rseq), carol answers the PRACK 200" ||
  fail "PRACK" "$(grep -E 'PRACK' "$T/carol.events" | head -2 | cut -c1-600)"
wait_ev lc 'Call [0-9]+ with sip:carol@127.0.0.1.* connected' 15 && pass "the call with carol is up" ||
  fail "carol's call" "$(tail -3 "$T/lc.events")" "$(grep -E '"event":"(state|call_end)"' "$T/carol.events" | tail -3)"
lc "terminate"
wait_ev carol '"event":"call_end".*"reason":"remote_bye"' 10 && pass "linphonec hangs up: carol's call ends" ||
  fail "carol's call_end" "$(grep call_end "$T/carol.events")"

for l in lc lc2; do
  "lc_$l" quit
  eval "pid=\$PID_$l fd=\$FD_$l"
  timeout 10 tail --pid="$pid" -f /dev/null || { fail "$l did not quit"; kill "$pid" 2>/dev/null; }
  wait "$pid" 2>/dev/null
  eval "exec $fd>&-"
done
for u in bob carol dave; do
  stop $u || fail "$u exit" "$(err_report "$T/$u.err")"
  ! grep -q -E 'CRITICAL|runtime error|AddressSanitizer|LeakSanitizer' "$T/$u.err" && pass "$u: no critical, no sanitizer report" ||
    fail "$u stderr" "$(grep -E 'CRITICAL|runtime error|Sanitizer' "$T/$u.err" | head -3)"
done
summary linphone-timers
