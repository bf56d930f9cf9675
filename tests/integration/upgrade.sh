#!/bin/bash
# upgrade.sh: 'sipflow upgrade', a version-1 flow rewritten as version 2, and
# version-1 flows still loading and running.  tests/flows/v1/ keeps the shipped
# flows as they were written in version 1 (before xml/ was upgraded):
#  - each one (and any flow of xml/ still at version 1) upgrades to a flow that
#    loads, at version 2, with on="..." on every operator of a normal queue, and
#    whose 'sipflow dot' has the same states and the same transitions (from, to);
#  - comments and layout are kept: the same lines, the same comments, and every
#    line the same but for on="...", version and OpOn* -> OpGo;
#  - OpRing gets on="sip:INVITE", OpOnTimer arg="no_ack" becomes OpGo on="timer:no_ack";
#  - without -o the file is rewritten; '-o -' writes standard output; a version-2
#    flow is left alone (unchanged, with a message); a flow that does not load, or
#    a missing file, exits 1 naming the file and writes nothing; usage errors exit 2;
#  - the version-1 uas-answer.xml still runs: a call from examples/uac-call.xml goes
#    through Ringing, Answered, InCall, CallEnded, as with its upgrade.
. "$(dirname "$0")/lib.sh"
SRC=${SF_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
V1=$SRC/tests/flows/v1

expect_rc "upgrade --help exits 0" 0 "$SIPFLOW" upgrade --help
has "upgrade --help shows the usage" "$T/out" "Usage: sipflow upgrade FLOW.xml [-o OUT]"
expect_rc "sipflow --help" 0 "$SIPFLOW" --help
has "sipflow --help lists upgrade" "$T/out" "upgrade FLOW.xml [-o OUT]"
expect_rc "upgrade without a flow: usage error" 2 "$SIPFLOW" upgrade
expect_rc "upgrade --bogus: usage error" 2 "$SIPFLOW" upgrade --bogus "$V1/uas-answer.xml"
expect_rc "upgrade A B: usage error" 2 "$SIPFLOW" upgrade "$V1/uas-answer.xml" "$V1/ua.xml"

# states FILE.dot / edges FILE.dot: the node names, and "from -> to" of every edge, sorted
dot_states() { grep -E '^  "[^"]+" \[' "$1" | sed -E 's/^  "([^"]+)".*/\1/' | sort; }
dot_edges() { grep -E '^  "[^"]+" -> "[^"]+"' "$1" | sed -E 's/^  ("[^"]+" -> "[^"]+").*/\1/' | sort; }

# Copies, so that each upgrade is checked beside the flows it imports (and the
# source tree is only read).
mkdir -p "$T/v1" "$T/xml"
cp "$V1"/*.xml "$T/v1/"
for f in "$SRC"/xml/*.xml "$SRC"/xml/examples/*.xml "$SRC"/xml/transaction/*.xml; do
  grep -q '<flow version="1"' "$f" && cp "$f" "$T/xml/"
done
nv1=0
for f in "$T"/v1/*.xml "$T"/xml/*.xml; do
  [ -e "$f" ] || continue
  b=$(basename "$f" .xml)
  grep -q '<flow version="1"' "$f" || { fail "$f is not a version-1 flow"; continue; }
  nv1=$((nv1 + 1))
  out=$(dirname "$f")/upgraded-$b.xml
  if ! "$SIPFLOW" upgrade "$f" -o "$T/$b.xml" >"$T/out" 2>"$T/err"; then
    fail "upgrade $b" "$(head -5 "$T/err")"
    continue
  fi
  has "upgrade $b says so" "$T/out" "$f: upgraded to version 2 as $T/$b.xml"
  ok=yes
  grep -q '<flow version="2"' "$T/$b.xml" || { ok=no; fail "$b: not version 2"; }
  # every <op> of a <normal> queue has on="" (the flows keep one <op> a line)
  missing=$(awk '/<normal>/ { n = 1 } /<\/normal>/ { n = 0 } n && /<op / && !/ on="/' "$T/$b.xml")
  [ -z "$missing" ] || { ok=no; fail "$b: a normal operator without on=" "$missing"; }
  [ "$(wc -l <"$f")" = "$(wc -l <"$T/$b.xml")" ] || { ok=no; fail "$b: the line count changed"; }
  [ "$(grep -c '<!--' "$f")" = "$(grep -c '<!--' "$T/$b.xml")" ] || { ok=no; fail "$b: comments lost"; }
  strip() { grep -vE 'OpOn(Timer|Device|Txn)"|"OpGo"' "$1" | sed -E 's/ on="[^"]*"//; s/<flow version="[12]"/<flow version="N"/'; }
  d=$(diff <(strip "$f") <(strip "$T/$b.xml"))
  [ -z "$d" ] || { ok=no; fail "$b: lines changed beyond on=, version and OpGo" "$(echo "$d" | head -6)"; }
  [ "$ok" = yes ] && pass "$b: version 2, on= on every normal operator, layout and comments kept"
  cp "$T/$b.xml" "$out"
  if "$SIPFLOW" check "$out" >"$T/out" 2>"$T/err" && "$SIPFLOW" dot "$f" >"$T/$b.v1.dot" 2>/dev/null &&
     "$SIPFLOW" dot "$out" >"$T/$b.v2.dot" 2>"$T/err"; then
    pass "$b: the upgrade loads (sipflow check)"
    if [ "$(dot_states "$T/$b.v1.dot")" = "$(dot_states "$T/$b.v2.dot")" ] &&
       [ "$(dot_edges "$T/$b.v1.dot")" = "$(dot_edges "$T/$b.v2.dot")" ] && [ -n "$(dot_edges "$T/$b.v2.dot")" ]; then
      pass "$b: the same states and transitions in 'sipflow dot'"
    else
      fail "$b: dot differs" "$(diff <(dot_edges "$T/$b.v1.dot") <(dot_edges "$T/$b.v2.dot") | head -6)"
    fi
  else
    fail "$b: the upgrade does not load" "$(head -5 "$T/err")"
  fi
done
[ "$nv1" -ge 9 ] && pass "$nv1 version-1 flows upgraded" || fail "only $nv1 version-1 flows found"

# what a reader expects
has "OpRing reacts to sip:INVITE" "$T/uas-answer.xml" '<op name="OpRing" on="sip:INVITE" next="Ringing">'
has "OpOnTimer arg=no_ack becomes OpGo on=timer:no_ack" "$T/uas-answer.xml" \
  '<op name="OpGo" on="timer:no_ack" next="CallEnded"/>'
has "OpOnDevice arg=hangup becomes OpGo on=device:hangup" "$T/uas-answer.xml" \
  '<op name="OpGo" on="device:hangup" next="CallEnded"/>'
has "OpOnTxn arg=timeout becomes OpGo on=txn:timeout" "$T/uas-answer.xml" \
  '<op name="OpGo" on="txn:timeout" next="CallEnded"/>'
has "the XML declaration is kept" "$T/uas-answer.xml" '<?xml version="1.0" encoding="UTF-8"?>'

# in place, to standard output, and a version-2 flow left alone
cp "$V1/uas-answer.xml" "$T/inplace.xml"
expect_rc "upgrade in place" 0 "$SIPFLOW" upgrade "$T/inplace.xml"
has "in place: the message" "$T/out" "$T/inplace.xml: upgraded to version 2"
cmp -s "$T/inplace.xml" "$T/uas-answer.xml" && pass "in place: the same as with -o" || fail "in place differs"
expect_rc "upgrade -o - writes standard output" 0 "$SIPFLOW" upgrade "$V1/uas-answer.xml" -o -
cmp -s "$T/out" "$T/uas-answer.xml" && pass "-o -: the flow on standard output" || fail "-o - differs"
has "-o -: the message on standard error" "$T/err" "upgraded to version 2 as standard output"
cp "$T/inplace.xml" "$T/v2.xml"
expect_rc "upgrade of a version-2 flow exits 0" 0 "$SIPFLOW" upgrade "$T/v2.xml" -o "$T/v2-out.xml"
has "a version-2 flow: left alone" "$T/out" "$T/v2.xml: version 2 already, left alone"
cmp -s "$T/v2.xml" "$T/inplace.xml" && [ ! -e "$T/v2-out.xml" ] && pass "a version-2 flow: nothing written" ||
  fail "a version-2 flow was rewritten"

# errors name the file, and nothing is written
expect_rc "upgrade of a missing file exits 1" 1 "$SIPFLOW" upgrade "$T/none.xml" -o "$T/none-out.xml"
has "the missing file is named" "$T/err" "sipflow upgrade: $T/none.xml: no such file"
expect_rc "upgrade of a broken flow exits 1" 1 "$SIPFLOW" upgrade "$SRC/tests/flows/bad/unknown-op.xml" -o "$T/bad-out.xml"
has "the broken flow's error names its file and line" "$T/err" "unknown-op.xml:"
has "the broken flow: nothing written" "$T/err" "unknown-op.xml: the flow does not load; nothing written"
[ ! -e "$T/bad-out.xml" ] && [ ! -e "$T/none-out.xml" ] && pass "no output for a failed upgrade" ||
  fail "a failed upgrade wrote its output"

# a version-1 flow still runs: uas-answer as written in version 1, then its upgrade
for v in v1 v2; do
  flow=$V1/uas-answer.xml
  [ "$v" = v2 ] && flow=$T/uas-answer.xml
  start "uas$v" "$flow" --set sip.t1_ms=100 || continue
  eval "port=\$PORT_uas$v"
  printf 'call sip:bob@127.0.0.1:%s\n' "$port" |
    timeout 30 "$SIPFLOW" run examples/uac-call.xml --listen udp:127.0.0.1:0 --set sip.t1_ms=100 --exit-when-idle \
      >"$T/uac$v.events" 2>"$T/uac$v.err"
  rc=$?
  [ "$rc" = 0 ] && pass "$v uas-answer: the call from uac-call ended, and the UAC exited" ||
    fail "$v: UAC exit $rc" "$(err_report "$T/uac$v.err")"
  wait_ev "uas$v" '"event":"instance_end","machine":"uas-answer"' 10
  got=$(grep '"machine":"uas-answer"' "$T/uas$v.events" | grep -o '"to":"[A-Za-z]*"' | cut -d'"' -f4 | tr '\n' ' ')
  [ "$got" = "Ringing Answered InCall CallEnded " ] && pass "$v uas-answer: Ringing, Answered, InCall, CallEnded" ||
    fail "$v uas-answer states" "$got"
  stop "uas$v"
done

summary upgrade
