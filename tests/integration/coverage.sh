#!/bin/bash
# coverage.sh: 'sipflow coverage' (docs/teaching.md) on the hand-written event
# files of tests/coverage/ (a UAS and a UAC of xml/ua.xml, a redirect server of
# xml/redirect.xml, and a file of bad lines):
#  - an arrow a state event took is [x] with its count, the others [ ] never;
#    a loop is covered by step events only (a state event from a state to
#    itself takes no loop); the transaction machines' headers name their RFC
#    3261 figure; each arrow names its operator's RFC section;
#  - a response trigger with its status ("sip:response 180") takes the arrow of
#    its class (1xx) and no other, and one without (as lines were before they
#    carried it) still takes its arrow;
#  - two files of two flows: each machine reported once, counted across both;
#  - bad lines are warned as FILE:LINE and counted (not JSON, not an object, no
#    event, no "to", too long, nested too deep); a machine or a state the flow
#    does not have is reported, its name escaped; never a crash;
#  - --json, --flow; a missing file exits 1, no file 2, no flow event 1.
. "$(dirname "$0")/lib.sh"
SRC=${SF_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}

# The fixtures name their flow as run does, by its absolute path: here, this tree's.
for f in callee caller redirect garbage; do
  sed "s|@XML@|$SRC/xml|" "$SRC/tests/coverage/$f.events" >"$T/$f.events"
done
# a line past 1 MiB and one nested 100000 deep (json-glib's parser would
# overflow its stack on it), then a good line: the file goes on after them
{
  printf '{"event":"state","pad":"%s"}\n' "$(head -c 1100000 /dev/zero | tr '\0' x)"
  printf '%.0s[' $(seq 100000); echo
  echo '{"event":"state","machine":"ua","call":"c3","from":"Idle","to":"Trying","trigger":"device:call","ops":["OpStartCall"]}'
} >>"$T/garbage.events"

# line TEXT: the report ($T/out) has the line TEXT.
line() {
  if grep -qxF -- "$1" "$T/out"; then pass "report: $1"; else fail "report: $1" "$(grep -F -- "${1:0:30}" "$T/out" | head -3)"; fi
}
# section MACHINE: the report's lines of MACHINE, into $T/sec.
section() { awk -v m="$1" '$0 ~ "^"m" \\(" {p=1; print; next} /^[^ ]/ {p=0} p' "$T/out" >"$T/sec"; }
sline() { # sline MACHINE TEXT: MACHINE's section has the line TEXT
  section "$1"
  if grep -qxF -- "$2" "$T/sec"; then pass "$1: $2"; else fail "$1: $2" "$(grep -F -- "${2:0:30}" "$T/sec" | head -3)"; fi
}

# ---- one flow, two processes: the UAS and the UAC of ua.xml ----
expect_rc "coverage of a UAS and a UAC" 0 "$SIPFLOW" coverage "$T/callee.events" "$T/caller.events"
line "ua ($SRC/xml/ua.xml): 5 of 184 transitions, 6 of 18 states"
line "ist ($SRC/xml/transaction/ist.xml): 7 of 23 transitions, 5 of 6 states"
sline ist "  implements RFC 3261 Figure 7, RFC 6026"
sline ict "  implements RFC 3261 Figure 5, RFC 6026"
sline nict "  implements RFC 3261 Figure 6"
sline nist "  implements RFC 3261 Figure 8"
sline ua "  [x] Idle -> Ringing  on sip:INVITE  (OpRing; RFC 3261 13.3.1.1)  1 time"
sline ua "  [x] Ringing -> CallEnded  on sip:INVITE|device:reject  (OpReject(486); RFC 3261 13.3.1.3)  1 time"
sline ua "  [ ] Ringing -> Answered  on device:answer|timer:answer  (OpAnswerCall; RFC 3261 13.3.1.4)  never"
sline ist "  [x] Start -> Proceeding  on sip:INVITE  (OpTxnRequest; RFC 3261 17.2.1, 17.2.2)  1 time"
sline ist "  [x] Proceeding -> Completed  on txn:respond [failure]  (OpTxnRespond; RFC 3261 17.2.1, 17.2.2, 17.2.4)  1 time"
sline ist "  [ ] Proceeding -> Accepted  on txn:respond [success]  (OpTxnRespond; RFC 3261 17.2.1, 17.2.2, 17.2.4)  never"
# loops: two step events of Timer G; a state event Completed -> Completed takes no loop
sline ist "  [x] Completed -> Completed (loop)  on timer:G  (OpTxnResend(G); RFC 3261 17.2.1)  2 times"
sline ist "  [x] Proceeding -> Proceeding (loop)  on sip:INVITE  (OpTxnRetransmission; RFC 3261 17.2.1, 17.2.2)  1 time"
sline ist "  [ ] Completed -> Completed (loop)  on sip:INVITE  (OpTxnRetransmission; RFC 3261 17.2.1, 17.2.2)  never"
sline ist "  [?] Completed -> Completed on sip:INVITE (OpTxnRetransmission): no arrow of the picture  1 time"
# responses with their status: 180 takes the 1xx arrow (with one written without
# a status: 2 times), 486 the 3xx-6xx one, and a 486 into Accepted no arrow
sline ict "  [x] Calling -> Proceeding  on sip:response 1xx [provisional]  (OpTxnResponse; RFC 3261 17.1.1.2, 17.1.2.2)  2 times"
sline ict "  [x] Proceeding -> Completed  on sip:response 3xx-6xx [failure]  (OpTxnResponse; RFC 3261 17.1.1.2, 17.1.2.2)  1 time"
sline ict "  [ ] Proceeding -> Accepted  on sip:response 2xx [success]  (OpTxnResponse; RFC 3261 17.1.1.2, 17.1.2.2)  never"
sline ict "  [?] Proceeding -> Accepted on sip:response 486 (OpTxnResponse): no arrow of the picture  1 time"
sline ict "  [x] Completed -> Completed (loop)  on sip:response  (OpTxnResendAck; RFC 3261 17.1.1.2)  1 time"
sline ua "  [x] Trying -> RingBack  on sip:response [ringing]  (OpFarEndResponse; RFC 3261 13.2.2)  1 time"
sline ua "  [x] RingBack -> Busy  on sip:response [busy]  (OpFarEndResponse; RFC 3261 13.2.2)  1 time"
line "events: 16 state, 4 step; 0 bad lines skipped"
if grep -q . "$T/err"; then fail "no warning on good files" "$(head -3 "$T/err")"; else pass "no warning on good files"; fi
# every arrow of the picture is listed: 184 of ua, as many [x] as the header says
section ua
[ "$(grep -c '^  \[[x ]\] ' "$T/sec")" = 184 ] && pass "ua: 184 arrow lines" || fail "ua: 184 arrow lines" "$(grep -c '^  \[' "$T/sec")"
[ "$(grep -c '^  \[x\] ' "$T/sec")" = 5 ] && pass "ua: 5 taken" || fail "ua: 5 taken"

# ---- two flows: ist counted across both, redirect reported too ----
expect_rc "coverage of two flows" 0 "$SIPFLOW" coverage "$T/callee.events" "$T/redirect.events"
sline ist "  [x] Start -> Proceeding  on sip:INVITE  (OpTxnRequest; RFC 3261 17.2.1, 17.2.2)  2 times"
line "redirect ($SRC/xml/redirect.xml): 2 of 18 transitions, 3 of 4 states"
[ "$(grep -c '^ist (' "$T/out")" = 1 ] && pass "ist reported once" || fail "ist reported once" "$(grep '^ist (' "$T/out")"

# ---- --flow: the flow named, whatever the files say ----
expect_rc "--flow transaction/ist.xml" 0 "$SIPFLOW" coverage --flow transaction/ist.xml "$T/callee.events"
line "ist (builtin:transaction/ist.xml): 7 of 23 transitions, 5 of 6 states"
[ "$(grep -c '^ist (' "$T/out")" = 1 ] && pass "--flow ist: ist once" || fail "--flow ist: ist once"
has "--flow ist: ua's events are not of its flow" "$T/err" "machine 'ua' is not one of flow transaction/ist.xml"

# ---- a flow event whose file is not here (written on another machine): its name ----
sed "s|\"file\":\"[^\"]*\"|\"file\":\"/nonexistent/ua.xml\"|" "$T/callee.events" >"$T/moved.events"
expect_rc "a flow file that is not here: the flow's name" 0 "$SIPFLOW" coverage "$T/moved.events"
line "ist (builtin:transaction/ist.xml): 7 of 23 transitions, 5 of 6 states"
line "ua (builtin:ua.xml): 2 of 184 transitions, 3 of 18 states"
sed "s|\"name\":\"ua.xml\"|\"name\":\"nosuch\"|" "$T/moved.events" >"$T/lost.events"
expect_rc "a flow that is nowhere exits 1" 1 "$SIPFLOW" coverage "$T/lost.events"
has "a flow that is nowhere: named" "$T/err" "the flow '/nonexistent/ua.xml' cannot be loaded"

# ---- bad lines, strange machines and states ----
expect_rc "coverage of a file of bad lines" 0 "$SIPFLOW" coverage "$T/garbage.events"
has "not JSON: FILE:LINE" "$T/err" "garbage.events:2: warning: not JSON"
has "not an object: FILE:LINE" "$T/err" "garbage.events:3: warning: not a JSON object"
has "no event: FILE:LINE" "$T/err" "garbage.events:4: warning: no \"event\" name"
has "a state event without to: FILE:LINE" "$T/err" "garbage.events:5: warning: a state event without"
has "a line over 1 MiB: FILE:LINE" "$T/err" "garbage.events:13: warning: longer than 1048576 bytes"
has "a line nested 100000 deep: FILE:LINE" "$T/err" "garbage.events:14: warning: nested deeper than 32"
has "an unknown machine: FILE:LINE" "$T/err" "garbage.events:6: warning: machine 'nosuch' is not one of flow"
line "events: 6 state, 1 step; 6 bad lines skipped"
line "not in flow $SRC/xml/ua.xml: machine 'nosuch' ($T/garbage.events:6)  1 time"
sline ua "  [?] Idle -> Nowhere on sip:INVITE (OpRing): 'Nowhere' is no state of ua  1 time"
sline ua "  [?] Idle -> Ringing on bogus (OpRing): no arrow of the picture  1 time"
# "ops" not a list: matched on the trigger alone; the good line after the bad ones is read
sline ua "  [x] Idle -> Ringing  on sip:INVITE  (OpRing; RFC 3261 13.3.1.1)  1 time"
sline ua "  [x] Idle -> Trying  on device:call  (OpStartCall; RFC 3261 13.2.1)  1 time"
# a machine name with an escape sequence reaches no terminal raw
if grep -q $'\x1b' "$T/out" "$T/err"; then fail "no raw escape character in the output"; else pass "no raw escape character in the output"; fi
has "the escape shown escaped" "$T/out" "machine 'ua\\x1b[2J'"

# ---- --json ----
expect_rc "--json" 0 "$SIPFLOW" coverage --json "$T/callee.events" "$T/caller.events"
if python3 - "$T/out" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
m = {x["machine"]: x for x in r["machines"]}
ist = m["ist"]
assert ist["rfc"] == "RFC 3261 Figure 7, RFC 6026", ist["rfc"]
assert (ist["taken"], ist["transitions"], ist["visited"], ist["states"]) == (7, 23, 5, 6)
g = [a for a in ist["arrows"] if a["trigger"] == "timer:G"]
assert len(g) == 1 and g[0]["loop"] and g[0]["count"] == 2 and g[0]["rfc"] == "RFC 3261 17.2.1", g
assert r["state_events"] == 16 and r["step_events"] == 4 and r["bad_lines"] == 0
EOF
then pass "--json: the same report"; else fail "--json: the same report"; fi

# ---- the command line ----
expect_rc "coverage --help" 0 "$SIPFLOW" coverage --help
has "--help names --flow" "$T/out" "--flow"
expect_rc "no file: usage error" 2 "$SIPFLOW" coverage
expect_rc "--bogus: usage error" 2 "$SIPFLOW" coverage --bogus "$T/callee.events"
expect_rc "a missing file exits 1" 1 "$SIPFLOW" coverage "$T/callee.events" "$T/nonexistent.events"
has "a missing file named" "$T/err" "nonexistent.events"
grep -v '"event":"flow"' "$T/callee.events" >"$T/noflow.events"
expect_rc "no flow event and no --flow exits 1" 1 "$SIPFLOW" coverage "$T/noflow.events"
has "no flow event: says --flow" "$T/err" "--flow"
expect_rc "--flow of a flow that does not exist exits 1" 1 "$SIPFLOW" coverage --flow nosuch.xml "$T/callee.events"
expect_rc "sipflow --help" 0 "$SIPFLOW" --help
has "sipflow --help names coverage" "$T/out" "coverage [--flow FLOW.xml] FILE..."

summary coverage
