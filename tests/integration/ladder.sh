#!/bin/bash
# ladder.sh: 'sipflow ladder' (docs/teaching.md, "sipflow ladder") on the hand-written
# event files of tests/ladder/: a proxy (proxy.events, 127.0.0.1:5060) between sipp
# (127.0.0.1:5090, no file) and a UA (ua.events, 127.0.0.1:5070).  Call call-1@sipp:
# an INVITE the proxy forwards, lost on its way to the UA, retransmitted on Timer A,
# 180, 486, ACK; call call-2@sipp: an OPTIONS answered by the proxy.
#  - the SVG is well-formed, with a lifeline per file and one for sipp, an arrow per
#    message, the retransmission dashed and marked, the lost INVITE crossed;
#  - state transitions and timers (set, fired, cancelled) beside their lifeline;
#  - --call-id keeps one call; the HTML page loads nothing from outside;
#  - hostile text comes out escaped; bad lines are reported as FILE:LINE and the
#    rest is drawn; a missing file exits 1, no file 2.
. "$(dirname "$0")/lib.sh"
D=${SF_SRCDIR:-$(dirname "$0")/../..}/tests/ladder

# count_of FILE TEXT: how many times TEXT occurs in FILE
count_of() { grep -oF -- "$2" "$1" | wc -l; }
# expect_count DESC FILE TEXT N
expect_count() {
  local got
  got=$(count_of "$2" "$3")
  if [ "$got" = "$4" ]; then pass "$1"; else fail "$1 ($got '$3', wanted $4)"; fi
}
wellformed() { # wellformed DESC FILE
  if xmllint --noout "$2" 2>"$T/xmlerr"; then pass "$1"; else fail "$1" "$(head -3 "$T/xmlerr")"; fi
}
lacks() { # lacks DESC FILE TEXT
  if grep -qiF -- "$3" "$2"; then fail "$1" "$(grep -iF -- "$3" "$2" | head -2)"; else pass "$1"; fi
}

command -v xmllint >/dev/null || { echo "not ok - xmllint is not installed (Debian package libxml2-utils)"; exit 1; }

# ---- the whole run ----
expect_rc "ladder proxy.events ua.events" 0 "$SIPFLOW" ladder "$D/proxy.events" "$D/ua.events"
S=$T/all.svg
cp "$T/out" "$S"
wellformed "the SVG is well-formed" "$S"
if [ -s "$T/err" ]; then fail "no warning on good files" "$(head -3 "$T/err")"; else pass "no warning on good files"; fi
expect_count "3 lifelines" "$S" '<g class="lifeline' 3
expect_count "sipp's address is a lifeline of its own" "$S" '<g class="lifeline peer" data-name="127.0.0.1:5090"' 1
has "the proxy's lifeline: its flow's name" "$S" '<g class="lifeline" data-name="proxy"'
has "the proxy's header: its listening address" "$S" '>127.0.0.1:5060</text>'
has "the UA's lifeline" "$S" '<g class="lifeline" data-name="ua"'
expect_count "12 messages" "$S" '<g class="msg' 12
expect_count "one retransmission" "$S" '<g class="msg retrans"' 1
has "the retransmission is marked" "$S" ' (retransmission)</text>'
has "the retransmission is dashed" "$S" 'stroke-dasharray="6,4"'
expect_count "one message lost" "$S" '<g class="msg lost"' 1
expect_count "one lost mark" "$S" '<g class="lost">' 1
# the lost one is the first INVITE to the UA (row 3), the retransmission the one that arrived
grep -F '<g class="msg' "$S" | sed -n 3p | grep -qF 'lost' && pass "the first INVITE to the UA is the lost one" \
  || fail "the first INVITE to the UA is the lost one" "$(grep -F '<g class="msg' "$S" | sed -n 3p)"
grep -A12 -F '<g class="msg retrans"' "$S" | grep -qF 'sip_in (ua.events)' && pass "the retransmission is the UA's sip_in" \
  || fail "the retransmission is the UA's sip_in"
# a matched message's tooltip names both ends; a message to or from sipp only its one side
grep -A30 -F '486 Busy Here' "$S" | grep -qF 'sip_in (proxy.events)' && pass "the UA's 486 reached the proxy" \
  || fail "the UA's 486 reached the proxy"
# received: 4 of the 5 between the proxy and the UA, and the 3 sipp sent
expect_count "7 messages received" "$S" 'sip_in (' 7
expect_count "14 state transitions" "$S" '<g class="state"' 14
has "a transition: machine, instance, from -> to" "$S" '>ist t1: Proceeding -&gt; Completed</text>'
has "its trigger under it" "$S" '<text class="trigger"'
has "a response's trigger with its status" "$S" '>txn:respond 486</text>'
expect_count "9 timers set" "$S" '<g class="timer set"' 9
expect_count "1 timer fired" "$S" '<g class="timer fired"' 1
expect_count "5 timers cancelled" "$S" '<g class="timer cancelled"' 5
has "a timer set: its delay" "$S" '>timer G 500 ms</text>'
has "a timer fired" "$S" '>timer A fired</text>'
expect_count "1 step (Timer A's retransmission)" "$S" '<g class="step"' 1
has "the time column: the retransmission half a second in" "$S" '>0.500</text>'
has "the time column: the OPTIONS 1.9 s in" "$S" '>1.900</text>'
"$SIPFLOW" ladder "$D/proxy.events" "$D/ua.events" >"$T/again.svg" 2>/dev/null
cmp -s "$S" "$T/again.svg" && pass "the same output twice" || fail "the same output twice"
"$SIPFLOW" ladder - "$D/ua.events" <"$D/proxy.events" >"$T/stdin.svg" 2>"$T/err"
expect_count "'-' reads standard input" "$T/stdin.svg" '<g class="msg' 12

# ---- --call-id ----
expect_rc "--call-id call-1@sipp" 0 "$SIPFLOW" ladder --call-id call-1@sipp "$D/proxy.events" "$D/ua.events"
C=$T/call1.svg
cp "$T/out" "$C"
wellformed "--call-id: well-formed" "$C"
expect_count "--call-id: call 1's 10 messages" "$C" '<g class="msg' 10
lacks "--call-id: no message of call 2" "$C" 'data-call-id="call-2@sipp"'
lacks "--call-id: not call 2's OPTIONS" "$C" 'OPTIONS sip:'
lacks "--call-id: not call 2's transaction" "$C" '>nist t3:'
expect_count "--call-id: the 12 transitions of call 1's instances" "$C" '<g class="state"' 12
has "--call-id: the UA's call instance (named by its messages)" "$C" '>ua c1: Idle -&gt; Ringing</text>'
expect_count "--call-id: 8 timers set (not call 2's Timer J)" "$C" '<g class="timer set"' 8
expect_rc "--call-id call-2@sipp" 0 "$SIPFLOW" ladder --call-id call-2@sipp "$D/proxy.events" "$D/ua.events"
expect_count "--call-id call-2: its 2 messages" "$T/out" '<g class="msg' 2
expect_count "--call-id call-2: its 2 transitions" "$T/out" '<g class="state"' 2
expect_count "--call-id call-2: Timer J" "$T/out" '<g class="timer' 1
expect_rc "--call-id nobody" 0 "$SIPFLOW" ladder --call-id nobody "$D/proxy.events" "$D/ua.events"
expect_count "--call-id nobody: no message" "$T/out" '<g class="msg' 0
expect_count "--call-id nobody: the files' lifelines still" "$T/out" '<g class="lifeline' 2

# ---- HTML ----
expect_rc "--format html -o" 0 "$SIPFLOW" ladder --format html -o "$T/page.html" --title '<b>lab & "1"</b>' \
  "$D/proxy.events" "$D/ua.events"
H=$T/page.html
has "HTML: a page" "$H" '<!DOCTYPE html>'
has "HTML: the SVG inline" "$H" '<svg '
expect_count "HTML: the 12 messages" "$H" '<g class="msg' 12
has "HTML: the title escaped" "$H" '<title>&lt;b&gt;lab &amp; &quot;1&quot;&lt;/b&gt;</title>'
for ref in '<script' 'src=' 'href=' '<link' '@import' 'url(http' 'http:' 'https:' '//cdn'; do
  lacks "HTML: no external resource ($ref)" "$H" "$ref"
done
has "HTML: each row's events as a tooltip" "$H" '<title>sip_out (proxy.events)'
expect_rc "-o x.html: HTML without --format" 0 "$SIPFLOW" ladder -o "$T/x.html" "$D/proxy.events"
has "-o x.html: HTML without --format" "$T/x.html" '<!DOCTYPE html>'

# ---- hostile text ----
cat >"$T/evil.events" <<'EOF'
{"event":"flow","name":"</text><script>alert(2)</script>","ts":"2026-12-06T15:23:49.000000Z"}
{"event":"listening","transport":"udp","addr":"127.0.0.1","port":6000,"ts":"2026-12-06T15:23:49.000001Z"}
{"event":"sip_out","proto":"udp","local":"127.0.0.1:6000","remote":"127.0.0.1:6001","start":"</text><script>alert(1)</script>","call_id":"\"><script>alert(3)</script>","ts":"2026-12-06T15:23:49.100000Z"}
{"event":"state","machine":"m<x>","instance":"t1","from":"A\u0001","to":"B\uffff","trigger":"]]><script>","ts":"2026-12-06T15:23:49.200000Z"}
{"event":"timer","machine":"m","instance":"t1","name":"<img src=x onerror=alert(4)>","action":"set","ms":1,"ts":"2026-12-06T15:23:49.300000Z"}
EOF
expect_rc "a hostile file" 0 "$SIPFLOW" ladder "$T/evil.events"
cp "$T/out" "$T/evil.svg"
wellformed "hostile: the SVG is well-formed" "$T/evil.svg"
lacks "hostile: no <script in the SVG" "$T/evil.svg" '<script'
lacks "hostile: no <img in the SVG" "$T/evil.svg" '<img'
has "hostile: the start line escaped" "$T/evil.svg" '&lt;/text&gt;&lt;script&gt;alert(1)&lt;/script&gt;'
expect_rc "a hostile file as HTML" 0 "$SIPFLOW" ladder --format html "$T/evil.events"
lacks "hostile: no <script in the HTML" "$T/out" '<script'
has "hostile: the Call-ID attribute escaped" "$T/out" 'data-call-id="&quot;&gt;&lt;script&gt;'

# ---- bad lines ----
{ sed -n 1,2p "$D/ua.events"; echo 'this is not JSON'; echo '{"no_event":1}'; echo '[1,2]'; echo '{"event":42}'
  head -c 100000 /dev/zero | tr '\0' '['; echo
  sed -n '3,$p' "$D/ua.events"; } >"$T/ua-bad.events"
expect_rc "bad lines: still drawn" 0 "$SIPFLOW" ladder "$D/proxy.events" "$T/ua-bad.events"
for l in 3 4 5 6 7; do has "bad lines: ua-bad.events:$l reported" "$T/err" "ua-bad.events:$l:"; done
has "bad lines: counted" "$T/err" "5 bad lines skipped"
expect_count "bad lines: the rest drawn" "$T/out" '<g class="msg' 12
expect_count "bad lines: the rest drawn (states)" "$T/out" '<g class="state"' 14
{ head -c $((1024 * 1024 + 10)) /dev/zero | tr '\0' 'x'; echo; cat "$D/ua.events"; } >"$T/long.events"
expect_rc "a line over 1 MiB: skipped" 0 "$SIPFLOW" ladder "$T/long.events"
has "a line over 1 MiB: reported" "$T/err" "long.events:1: line longer than 1048576 bytes"

# ---- clocks: a sip_in stamped a little before its sip_out is still that message ----
cat >"$T/a.events" <<'EOF'
{"event":"listening","transport":"udp","addr":"127.0.0.1","port":7001}
{"event":"sip_out","local":"127.0.0.1:7001","remote":"127.0.0.1:7002","start":"MESSAGE sip:b SIP/2.0","call_id":"k","cseq":"1 MESSAGE","branch":"z9hG4bKk","ts":"2026-12-06T15:23:50.000000Z"}
EOF
cat >"$T/b.events" <<'EOF'
{"event":"listening","transport":"udp","addr":"0.0.0.0","port":7002}
{"event":"sip_in","local":"127.0.0.1:7002","remote":"127.0.0.1:7001","start":"MESSAGE sip:b SIP/2.0","call_id":"k","cseq":"1 MESSAGE","branch":"z9hG4bKk","ts":"2026-12-06T15:23:49.995000Z"}
EOF
expect_rc "skewed clocks" 0 "$SIPFLOW" ladder "$T/a.events" "$T/b.events"
expect_count "skewed clocks: one message, not lost" "$T/out" '<g class="msg"' 1
expect_count "skewed clocks: two lifelines" "$T/out" '<g class="lifeline' 2

# ---- the command line ----
expect_rc "a missing file: exit 1" 1 "$SIPFLOW" ladder "$D/proxy.events" "$T/no-such.events"
has "a missing file: named" "$T/err" "no-such.events"
expect_rc "no file: usage error" 2 "$SIPFLOW" ladder
expect_rc "--format pdf: usage error" 2 "$SIPFLOW" ladder --format pdf "$D/proxy.events"
expect_rc "--bogus: usage error" 2 "$SIPFLOW" ladder --bogus "$D/proxy.events"
expect_rc "ladder --help" 0 "$SIPFLOW" ladder --help
has "ladder --help names --call-id" "$T/out" "--call-id"
has "ladder --help names --format" "$T/out" "--format"
expect_rc "sipflow --help" 0 "$SIPFLOW" --help
has "sipflow --help names ladder" "$T/out" "ladder [--call-id ID] [--format svg|html] [-o OUT] FILE..."

summary ladder
