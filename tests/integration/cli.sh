#!/bin/bash
# cli.sh: the sipflow command end to end, as a user drives it.
#  - usage: --help, unknown commands and options, missing flows (exit 2)
#  - check: the shipped flows (examples, ua, register, redirect, proxy) pass; every broken flow fails at its expected line; warnings pass
#  - dot: the DOT output renders with Graphviz (which the set-up installs: no skip)
#  - run: the demo call runs to its end with every transition, beep and stats event
#  - config errors name the source, the key and the expectation (exit 1)
#  - control: bad commands give error events; the --control socket answers 'sipflow ctl';
#    quit, SIGTERM and a closed standard input behave as docs/architecture.md says
# Every wait is on an event line, bounded by a timeout; nothing sleeps.
set -u
SIPFLOW=${SIPFLOW:-$PWD/sipflow}
SRC=${SF_SRCDIR:-$PWD}
T=$(mktemp -d)
export XDG_STATE_HOME="$T/state" # its own location database and secret
trap 'rm -rf "$T"' EXIT
n=0
fails=0

pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"; [ $# -gt 1 ] && printf '    %s\n' "${@:2}"; }
# expect_rc DESC RC CMD...: runs CMD, output in $T/out and $T/err
expect_rc() {
  local desc=$1 want=$2
  shift 2
  "$@" >"$T/out" 2>"$T/err"
  local rc=$?
  if [ "$rc" = "$want" ]; then pass "$desc"; else fail "$desc (exit $rc, wanted $want)" "$(head -5 "$T/err")"; fi
}
has() { # has DESC FILE TEXT
  if grep -qF -- "$3" "$2"; then pass "$1"; else fail "$1" "no '$3' in $(basename "$2"):" "$(head -5 "$2")"; fi
}

# ---- usage ----
expect_rc "--help exits 0" 0 "$SIPFLOW" --help
has "--help lists run, check, dot, ctl" "$T/out" "check FLOW.xml"
expect_rc "no command: usage error" 2 "$SIPFLOW"
expect_rc "unknown command: usage error" 2 "$SIPFLOW" frobnicate
has "unknown command is named" "$T/err" "unknown command 'frobnicate'"
expect_rc "run without a flow: usage error" 2 "$SIPFLOW" run
expect_rc "run with an unknown option: usage error" 2 "$SIPFLOW" run --bogus x.xml
expect_rc "check without a flow: usage error" 2 "$SIPFLOW" check
expect_rc "dot with two flows: usage error" 2 "$SIPFLOW" dot a.xml b.xml
expect_rc "run --help exits 0" 0 "$SIPFLOW" run --help
has "run --help names --set" "$T/out" "--set"

# ---- check ----
expect_rc "tone without arguments is a usage error" 2 "$SIPFLOW" tone
expect_rc "tone on a file that is not there fails" 1 "$SIPFLOW" tone "$T/none.wav" 1000
expect_rc "check passes the shipped flows" 0 "$SIPFLOW" check "$SRC"/xml/examples/*.xml "$SRC"/xml/ua.xml "$SRC"/xml/register.xml "$SRC"/xml/subscription.xml "$SRC"/xml/redirect.xml \
  "$SRC"/xml/proxy.xml "$SRC"/xml/proxy-branch.xml
expect_rc "check passes a built-in flow by name" 0 "$SIPFLOW" check examples/call-demo.xml
expect_rc "check fails a missing flow" 1 "$SIPFLOW" check "$T/none.xml"
has "missing flow is named" "$T/err" "no flow file or built-in flow named '$T/none.xml'"
nbad=0
for f in "$SRC"/tests/flows/bad/*.xml; do
  line=$(sed -n 's/.*<!-- expect: \([0-9]*\): .*/\1/p' "$f" | head -1)
  "$SIPFLOW" check "$f" >"$T/out" 2>"$T/err"
  rc=$?
  if [ "$rc" = 1 ] && grep -q "^$f:$line: error: " "$T/err"; then
    nbad=$((nbad + 1))
  else
    fail "check $(basename "$f"): exit 1 with an error at line $line" "exit $rc" "$(head -3 "$T/err")"
  fi
done
[ "$nbad" -ge 10 ] && pass "check refuses $nbad broken flows at their line" || fail "only $nbad broken flows refused"
expect_rc "check passes a flow with warnings" 0 "$SIPFLOW" check "$SRC/tests/flows/good/unreachable.xml"
has "the warning names file and line" "$T/err" "unreachable.xml:6: warning: <state>: state 'Orphan' is unreachable"

# ---- dot ----
if command -v dot >/dev/null; then
  if "$SIPFLOW" dot "$SRC/xml/examples/call-demo.xml" >"$T/demo.dot" 2>"$T/err" && dot -Tsvg "$T/demo.dot" >"$T/demo.svg" 2>"$T/err"; then
    has "dot renders to SVG" "$T/demo.svg" "<svg"
    has "the SVG shows a transition" "$T/demo.svg" "<title>Idle&#45;&gt;Dialing</title>"
  else
    fail "dot | dot -Tsvg" "$(head -3 "$T/err")"
  fi
else
  fail "graphviz 'dot' is not installed (scripts/setup-deps installs it)"
fi
expect_rc "dot of a broken flow fails" 1 "$SIPFLOW" dot "$SRC/tests/flows/bad/unknown-op.xml"

# ---- parse ----
DATA=$SRC/tests/data
expect_rc "parse a valid message" 0 "$SIPFLOW" parse "$DATA/rfc4475/wsinv.dat"
has "parse shows the CSeq" "$T/out" "CSeq[0]: seq=9 method=INVITE"
has "parse names compact forms" "$T/out" "v (Via): SIP  / 2.0  / TCP"
expect_rc "parse --json a valid message" 0 "$SIPFLOW" parse --json "$DATA/rfc4475/esc01.dat"
has "parse --json unescapes the user" "$T/out" '"ruri":{"scheme":"sip","user":"sips:user@example.com","host":"example.net"}'
expect_rc "parse an invalid message" 1 "$SIPFLOW" parse "$DATA/rfc4475/badvers.dat"
has "parse names the error" "$T/err" "start line: SIP version 'SIP/7.0' not supported"
expect_rc "parse a malformed header" 1 "$SIPFLOW" parse "$DATA/rfc4475/baddate.dat"
has "parse names the header" "$T/err" "Date: expected an RFC 1123 date"
"$SIPFLOW" parse - <"$DATA/rfc4475/insuf.dat" >"$T/out" 2>"$T/err"
[ $? = 1 ] && pass "parse - reads standard input" || fail "parse -"
has "a missing mandatory header is named" "$T/err" "missing From header"
expect_rc "parse without a file: usage error" 2 "$SIPFLOW" parse
expect_rc "parse a missing file" 1 "$SIPFLOW" parse "$T/none.sip"

# ---- run: the demo call ----
printf 'call sip:bob@example.test\n' | timeout 20 "$SIPFLOW" run examples/call-demo.xml --exit-when-idle >"$T/run" 2>"$T/err"
rc=$?
[ "$rc" = 0 ] && pass "demo run exits 0 by itself" || fail "demo run (exit $rc)" "$(head -5 "$T/err")"
order=$(grep -o '"from":"[A-Za-z]*","to":"[A-Za-z]*"' "$T/run" | grep -v Beeping | grep -v Start | tr '\n' ' ')
want='"from":"Idle","to":"Dialing" "from":"Dialing","to":"Ringing" "from":"Ringing","to":"InCall" "from":"InCall","to":"CallEnded" '
[ "$order" = "$want" ] && pass "demo call goes Idle, Dialing, Ringing, InCall, CallEnded" || fail "demo transitions" "$order"
[ "$(grep -c '"event":"beep"' "$T/run")" = 3 ] && pass "the tone child beeps three times" || fail "beeps" "$(grep -c beep "$T/run")"
has "the call ends" "$T/run" '"event":"instance_end","machine":"call-demo","call":"c1","state":"CallEnded"'
tail -1 "$T/run" | grep -q '"event":"stats","instances_live":0' && pass "stats come last, nothing alive" || fail "last line is not stats" "$(tail -1 "$T/run")"
printf 'call sip:bob@example.test\n' | timeout 20 "$SIPFLOW" run examples/call-demo.xml --exit-when-idle --trace >/dev/null 2>"$T/trace"
has "--trace shows operators" "$T/trace" "[c1 call-demo]   normal OpGo: TRANSITION"
has "--trace shows transitions" "$T/trace" "[c1 call-demo] Ringing -> InCall"
untimed=$(grep -c -v -E '^trace: [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6} ' "$T/trace")
[ "$untimed" = 0 ] && pass "every trace line starts with its time of day" || fail "trace lines without a time" "$(grep -v -E '^trace: [0-9:.]{15} ' "$T/trace" | head -3)"
unstamped=$(grep -c -v -E ',"ts":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z"}$' "$T/run")
[ "$unstamped" = 0 ] && pass "every event line ends with its ts" || fail "event lines without ts" "$(grep -v '"ts":' "$T/run" | head -3)"
[ "$(grep -c '"event":"sip_in"\|"event":"timer"\|"event":"step"' "$T/run")" = 0 ] && pass "no teaching detail without --messages" \
  || fail "teaching detail by default" "$(grep -m2 '"event":"timer"\|"event":"step"' "$T/run")"
head -1 "$T/run" | grep -q '^{"event":"flow","file":"builtin:examples/call-demo.xml","name":"examples/call-demo.xml","machines":\["call-demo"' \
  && pass "the flow event comes first, naming the flow" || fail "flow event" "$(head -1 "$T/run")"
printf 'call sip:bob@example.test\n' | timeout 20 "$SIPFLOW" run examples/call-demo.xml --exit-when-idle --messages >"$T/run-m" 2>/dev/null
grep -q '"event":"timer","machine":"call-demo","call":"c1",.*"action":"set","ms":' "$T/run-m" && grep -q '"action":"fired"' "$T/run-m" \
  && pass "--messages: timer events, set with its delay, fired" || fail "--messages timer events" "$(grep -m3 timer "$T/run-m")"
expect_rc "--messages takes on or full" 1 "$SIPFLOW" run examples/call-demo.xml --messages=loud

# ---- run --events: the classes a consumer chooses (docs/architecture.md, "Event classes") ----
# the lines of the demo run without their time and duration, to compare runs
nots() { sed -e 's/,"ts":"[^"]*"}$/}/' -e 's/"duration_s":[0-9.]*/"duration_s":D/' "$1"; }
printf 'call sip:bob@example.test\n' | timeout 20 "$SIPFLOW" run examples/call-demo.xml --exit-when-idle --events all >"$T/run-all" 2>/dev/null
[ "$(nots "$T/run-all")" = "$(nots "$T/run")" ] && pass "--events all writes what the default writes" \
  || fail "--events all differs from the default" "$(diff <(nots "$T/run") <(nots "$T/run-all") | head -5)"
printf 'call sip:bob@example.test\n' | timeout 20 "$SIPFLOW" run examples/call-demo.xml --exit-when-idle --events flow,end >"$T/run-fe" 2>"$T/err"
rc=$?
[ "$rc" = 0 ] && [ "$(grep -c '"event":"state"' "$T/run-fe")" = 0 ] && pass "--events flow,end: no state line" \
  || fail "--events flow,end (exit $rc)" "$(grep -m2 '"event":"state"' "$T/run-fe"; head -3 "$T/err")"
# the demo's lines of other classes: state (state), flow, shutdown, stats (service), reply (control)
others='"event":"\(state\|flow\|shutdown\|stats\|reply\)"'
[ "$(grep -c "$others" "$T/run-fe")" = 0 ] && pass "... nor any line of another class (flow, shutdown, stats, reply)" \
  || fail "--events flow,end: other lines" "$(grep "$others" "$T/run-fe" | head -3)"
[ "$(grep -v "$others" "$T/run" | nots /dev/stdin)" = "$(nots "$T/run-fe")" ] \
  && pass "... and the lines of its classes as the default has them" \
  || fail "--events flow,end: lines differ" "$(diff <(grep -v "$others" "$T/run" | nots /dev/stdin) <(nots "$T/run-fe") | head -5)"
printf 'call sip:bob@example.test\n' | timeout 20 "$SIPFLOW" run examples/call-demo.xml --exit-when-idle --events none >"$T/run-none" 2>/dev/null
[ ! -s "$T/run-none" ] && pass "--events none: no line at all" || fail "--events none wrote" "$(head -3 "$T/run-none")"
printf 'call sip:bob@example.test\n' | timeout 20 "$SIPFLOW" run examples/call-demo.xml --exit-when-idle --messages \
  --set core.events=service,timer >"$T/run-t" 2>/dev/null
grep -q '"event":"timer"' "$T/run-t" && [ "$(grep -c -v '"event":"\(timer\|flow\|shutdown\|stats\)"' "$T/run-t")" = 0 ] \
  && pass "core.events=service,timer with --messages: timer, flow, shutdown and stats lines only" \
  || fail "core.events=service,timer" "$(grep -v '"event":"timer"' "$T/run-t" | head -3)"
expect_rc "an unknown event class refused" 1 "$SIPFLOW" run examples/call-demo.xml --events state,states
has "... naming it" "$T/err" "core.events (--events): unknown event class 'states'"
expect_rc "... in core.events too" 1 "$SIPFLOW" run examples/call-demo.xml --set core.events=bogus
has "... naming it and where it came from" "$T/err" "core.events (--set): unknown event class 'bogus'"

# ---- configuration errors ----
flow=examples/call-demo.xml
expect_rc "unknown key refused" 1 "$SIPFLOW" run $flow --set core.nope=1
has "unknown key named with its source" "$T/err" "--set: unknown key 'nope' in section [core]"
expect_rc "bad value refused" 1 "$SIPFLOW" run $flow --set core.shutdown_timeout=soon
has "bad value names key and expectation" "$T/err" "core.shutdown_timeout: expected seconds from 0 to 600, or 'off', got 'soon'"
printf '[core]\ntrace = perhaps\n' >"$T/bad.ini"
expect_rc "bad value in a file refused" 1 "$SIPFLOW" run $flow --config "$T/bad.ini"
has "file error names the file" "$T/err" "$T/bad.ini: core.trace: expected a boolean"
expect_rc "missing config file refused" 1 "$SIPFLOW" run $flow --config "$T/none.ini"
expect_rc "bad --log-level refused" 1 "$SIPFLOW" run $flow --log-level loud
expect_rc "a bad proxy.trusted network refused at start" 1 "$SIPFLOW" run proxy.xml --set proxy.trusted=127.0.0.0/99
has "proxy.trusted error names the entry" "$T/err" "proxy.trusted (--set): '127.0.0.0/99' is not an address or ADDR/BITS network"
expect_rc "a bad proxy.fork refused" 1 "$SIPFLOW" run proxy.xml --set proxy.fork=random
expect_rc "a bad sip.advertise refused at start" 1 "$SIPFLOW" run proxy.xml --listen udp:127.0.0.1:0 --set sip.advertise=a:b:c
has "sip.advertise error names the value" "$T/err" "sip.advertise: expected HOST, HOST:PORT or [IPV6]:PORT, got 'a:b:c'"

# ---- control on standard input ----
printf 'frobnicate\nanswer\ncall\nstatus\nquit\n' | timeout 20 "$SIPFLOW" run $flow >"$T/ctl" 2>"$T/err"
rc=$?
[ "$rc" = 0 ] && pass "quit on standard input exits 0" || fail "quit (exit $rc)"
has "unknown command is an error event" "$T/ctl" '{"event":"error","command":"frobnicate","message":"unknown command'
has "answer with no call is an error event" "$T/ctl" '"command":"answer","message":"answer: no call is up"'
has "call without URI gives its usage" "$T/ctl" '"message":"usage: call URI"'
has "status gives a stats event" "$T/ctl" '{"event":"stats"'
long=$(head -c 10000 /dev/zero | tr '\0' x)
printf '%s\nreject c9\ncall not a uri\ncall nouri\ncall sip:bob@example.test\ndtmf c1 12x\nreject c1 200\nquit\n' "$long" |
  timeout 20 "$SIPFLOW" run $flow >"$T/ctl2" 2>"$T/err"
has "an over-long command is refused, not read" "$T/ctl2" '"message":"command longer than 4096 bytes"'
has "a CALL handle that is not up is refused" "$T/ctl2" '"command":"reject","message":"reject: no call '"'"'c9'"'"'"'
has "call checks its URI" "$T/ctl2" '"command":"call","message":"call: '"'"'nouri'"'"' is not a URI'
has "dtmf checks its digits" "$T/ctl2" '"message":"dtmf: digits are 0-9'
has "reject checks its code" "$T/ctl2" '"message":"reject: the status code must be from 400 to 699, got '"'"'200'"'"'"'
grep -n '"event":"reply","command":"quit"' "$T/ctl2" | head -1 | cut -d: -f1 >"$T/q"
grep -n '"event":"stats"' "$T/ctl2" | tail -1 | cut -d: -f1 >"$T/s"
[ "$(cat "$T/q")" -lt "$(cat "$T/s")" ] 2>/dev/null && pass "quit's reply comes before the final stats" || fail "quit reply order" "$(tail -3 "$T/ctl2")"
expect_rc "a config that is not a regular file is refused" 1 "$SIPFLOW" run $flow --config /dev/zero

# ---- control socket, ctl, SIGTERM, closed stdin ----
# start_run SOCKET ARGS...: sipflow run as a coprocess with standard input closed,
# its standard output on fd $OUT; waits (bounded) for the control socket's
# 'listening' event.
start_run() {
  local sock=$1 line
  shift
  coproc RUN { exec "$SIPFLOW" run "$@" --control "$sock" <&- 2>"$T/run.err"; }
  RUN_PID_=$RUN_PID
  exec {OUT}<&"${RUN[0]}"
  while IFS= read -r -t 10 line <&"$OUT"; do
    case "$line" in *'"event":"listening","transport":"control"'*) return 0 ;; esac
  done
  return 1
}
# wait_exit SECONDS: collects the rest of the output in $T/run.out, then the exit status in $RC
wait_exit() {
  local line
  : >"$T/run.out"
  while IFS= read -r -t "$1" line <&"$OUT"; do echo "$line" >>"$T/run.out"; done
  exec {OUT}<&-
  wait "$RUN_PID_" 2>/dev/null
  RC=$?
}
start_run "$T/a.sock" $flow && pass "control socket announced by a listening event" || fail "no listening event" "$(cat "$T/run.err")"
expect_rc "ctl status: ok (stdin closed does not stop run)" 0 "$SIPFLOW" ctl "$T/a.sock" status
has "ctl prints the reply" "$T/out" '{"ok":true,"calls":[]}'
expect_rc "ctl call" 0 "$SIPFLOW" ctl "$T/a.sock" call sip:bob@example.test
has "ctl call names the call" "$T/out" '{"ok":true,"call":"c1"}'
expect_rc "ctl with a bad command exits 1" 1 "$SIPFLOW" ctl "$T/a.sock" frobnicate
has "ctl bad command reply" "$T/out" '{"ok":false,"error":"unknown command'
expect_rc "ctl quit" 0 "$SIPFLOW" ctl "$T/a.sock" quit
wait_exit 10
[ "$RC" = 0 ] && pass "run exits 0 after ctl quit" || fail "run after quit (exit $RC)" "$(cat "$T/run.err")"
has "quit ends the call through its flow" "$T/run.out" '"trigger":"device:shutdown"'
[ ! -e "$T/a.sock" ] && pass "control socket removed at exit" || fail "control socket left behind"
expect_rc "ctl to a missing socket exits 1" 1 "$SIPFLOW" ctl "$T/a.sock" status

start_run "$T/b.sock" $flow || fail "second run did not start" "$(cat "$T/run.err")"
kill -TERM "$RUN_PID_"
wait_exit 10
[ "$RC" = 0 ] && pass "SIGTERM stops run cleanly" || fail "SIGTERM (exit $RC)"
has "SIGTERM still prints the stats" "$T/run.out" '"event":"stats"'

# a control socket left by a killed sipflow is removed and replaced, with a
# notice; one another process listens on, or a file, is left alone (exit 1)
start_run "$T/c.sock" $flow || fail "the run for SIGKILL did not start" "$(cat "$T/run.err")"
kill -KILL "$RUN_PID_"
wait_exit 10
[ -S "$T/c.sock" ] && pass "SIGKILL leaves the control socket behind" || fail "no socket left by SIGKILL"
start_run "$T/c.sock" $flow && pass "run starts on a stale control socket" || fail "run on a stale socket" "$(cat "$T/run.err")"
has "... with a notice" "$T/run.err" "control socket '$T/c.sock': no process listened on it (left by one that was killed): removed"
expect_rc "a second run on a socket another process listens on: exit 1" 1 timeout 10 "$SIPFLOW" run $flow --control "$T/c.sock"
has "... naming it" "$T/err" "control socket '$T/c.sock': another process is listening on it"
expect_rc "... and the first still answers" 0 "$SIPFLOW" ctl "$T/c.sock" quit
wait_exit 10
echo not-a-socket >"$T/d.sock"
expect_rc "a control path holding a file: exit 1" 1 timeout 10 "$SIPFLOW" run $flow --control "$T/d.sock"
has "... the file left alone" "$T/d.sock" "not-a-socket"

# a flow of SIP with no socket says so at start; one without SIP does not
printf 'quit\n' | timeout 10 "$SIPFLOW" run ua.xml --set media.backend=null >/dev/null 2>"$T/nosock.err"
has "ua.xml with no SIP socket: a warning at start" "$T/nosock.err" \
  "builtin:ua.xml: no SIP socket (neither --listen nor sip.listen): it will send and receive no SIP message"
printf 'quit\n' | timeout 10 "$SIPFLOW" run examples/call-demo.xml >/dev/null 2>"$T/nosock.err"
! grep -q "no SIP socket" "$T/nosock.err" && pass "... not for a flow without SIP (call-demo.xml)" ||
  fail "call-demo.xml warned of no SIP socket"

# standard error the journal's (systemd's JOURNAL_STREAM names it): each log
# line starts with its syslog priority; named something else: plain lines
# (where a journald runs, its socket is hidden: with it, the lines would go to
# the journal with their fields, which service.sh checks)
nojournal() {
  if [ -e /run/systemd/journal ]; then
    unshare -m --propagation private sh -c 'mount -t tmpfs none /run/systemd/journal && exec "$@"' _ "$@"
  else
    "$@"
  fi
}
: >"$T/journal.err"
printf 'quit\n' | JOURNAL_STREAM="$(stat -c %d:%i "$T/journal.err")" nojournal timeout 10 "$SIPFLOW" run ua.xml \
  --set media.backend=null >/dev/null 2>>"$T/journal.err"
grep -q '^<4>sipflow: warning: builtin:ua.xml: no SIP socket' "$T/journal.err" &&
  pass "JOURNAL_STREAM naming standard error: lines start with their priority (<4> a warning)" ||
  fail "no priority prefix for the journal" "$(head -3 "$T/journal.err")"
printf 'quit\n' | JOURNAL_STREAM=1:2 timeout 10 "$SIPFLOW" run ua.xml --set media.backend=null >/dev/null 2>"$T/journal.err"
grep -q '^sipflow: warning: ' "$T/journal.err" && pass "... naming another file: no prefix" ||
  fail "a prefix though JOURNAL_STREAM names another file" "$(head -3 "$T/journal.err")"

echo "cli: $n checks, $fails failed"
[ "$fails" = 0 ]
