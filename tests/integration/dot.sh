#!/bin/bash
# dot.sh: 'sipflow dot', the pictures of docs/pictures.md:
#  - the transaction flows draw every transition and loop of RFC 3261 Figures 5
#    to 8 (with RFC 6026's Accepted states): an edge between the figure's two
#    states (a loop: the state to itself) with a line naming the figure's event
#    (a timer, a request, a response class, the TU's response and its outcome);
#  - --fold draws an arrow several states share once, from a cluster around them,
#    and those states' own edges lose it;
#  - the output is the same from one run to the next, and renders with Graphviz;
#  - --help names --fold, and bad options are usage errors.
. "$(dirname "$0")/lib.sh"

# edge DOT FROM TO LINE: the edge FROM -> TO of DOT has a label line LINE (the
# lines of a label are split at <br/>, its font tags dropped, and a line that
# wrapped is joined again: after a '|' or a ',', or before a '[').
edge() {
  local dot=$1 from=$2 to=$3 line=$4
  if grep -F -- "  \"$from\" -> \"$to\" [label=<" "$dot" | sed 's/^[^<]*<//; s/>[^>]*$//; s/|<br\/>/|/g; s/,<br\/>/, /g; s/<br\/>\[/ [/g; s|<br/>|\n|g; s/<[^>]*>//g' \
      | grep -qxF -- "$line"; then
    pass "$(basename "$dot" .dot): $from -> $to on $line"
  else
    fail "$(basename "$dot" .dot): $from -> $to on $line" "$(grep -F -- "  \"$from\" -> " "$dot")"
  fi
}

draw() { # draw NAME FLOW [OPTION]: $T/NAME.dot
  local opt=${3:-}
  if "$SIPFLOW" dot $opt "$2" >"$T/$1.dot" 2>"$T/err"; then pass "dot $opt $2"; else fail "dot $opt $2" "$(head -3 "$T/err")"; fi
}

# ---- Figure 7: the INVITE server transaction (RFC 6026's) ----
draw ist transaction/ist.xml
D=$T/ist.dot
edge "$D" Start Proceeding "sip:INVITE"                     # INVITE: pass INV to TU
edge "$D" Proceeding Proceeding "timer:Trying"              # send 100 if TU won't in 200 ms
edge "$D" Proceeding Proceeding "sip:INVITE"                # INVITE: send response
edge "$D" Proceeding Proceeding "txn:respond [provisional]" # 101-199 from TU: send response
edge "$D" Proceeding Completed "txn:respond [failure]"      # 300-699 from TU: send response
edge "$D" Proceeding Accepted "txn:respond [success]"       # 2xx from TU: send response
edge "$D" Proceeding Terminated "txn:respond [error]"       # Transport Err.: Inform TU
edge "$D" Completed Completed "sip:INVITE"                  # INVITE: send response
edge "$D" Completed Completed "timer:G"                     # Timer G fires: send response
edge "$D" Completed Confirmed "sip:ACK"                     # ACK
edge "$D" Completed Terminated "timer:H"                    # Timer H fires
edge "$D" Completed Terminated "txn:transport_error"        # - or - Transport Err.: Inform TU
edge "$D" Proceeding Terminated "txn:transport_error"       # a retransmission's Transport Err.
edge "$D" Confirmed Confirmed "sip:ACK"                     # ACK retransmissions absorbed (17.2.1)
edge "$D" Confirmed Terminated "timer:I"                    # Timer I fires
edge "$D" Accepted Accepted "sip:INVITE"                    # INVITE: -
edge "$D" Accepted Accepted "sip:ACK"                       # ACK: pass ACK to TU (RFC 6026)
edge "$D" Accepted Accepted "txn:respond"                   # 2xx from TU: send response
edge "$D" Accepted Terminated "timer:L"                     # Timer L fires

# ---- Figure 5: the INVITE client transaction (RFC 6026's) ----
draw ict transaction/ict.xml
D=$T/ict.dot
edge "$D" Calling Calling "timer:A"                                  # Timer A fires: INVITE sent
edge "$D" Calling Proceeding "sip:response 1xx [provisional]"        # 1xx: to TU
edge "$D" Calling Completed "sip:response 3xx-6xx [failure]"         # 300-699: ACK sent, to TU
edge "$D" Calling Accepted "sip:response 2xx [success]"              # 2xx: to TU
edge "$D" Calling Terminated "timer:B"                               # Timer B fires: inform TU
edge "$D" Calling Terminated "txn:transport_error"                   # Transport Err.: inform TU
edge "$D" Proceeding Proceeding "sip:response 1xx [provisional]"     # 1xx: to TU
edge "$D" Proceeding Completed "sip:response 3xx-6xx [failure]"
edge "$D" Proceeding Accepted "sip:response 2xx [success]"
edge "$D" Completed Completed "sip:response"                         # 300-699: ACK sent
edge "$D" Completed Terminated "timer:D"                             # Timer D fires
edge "$D" Completed Terminated "txn:transport_error"                 # Transport Err.: inform TU
edge "$D" Accepted Accepted "sip:response"                           # 2xx: to TU
edge "$D" Accepted Terminated "timer:M"                              # Timer M fires

# ---- Figure 6: the non-INVITE client transaction ----
draw nict transaction/nict.xml
D=$T/nict.dot
for s in Trying Proceeding; do
  edge "$D" $s $s "timer:E"                                          # Timer E fires: send request
  edge "$D" $s Completed "sip:response 2xx-6xx [success, failure]"   # 200-699: resp. to TU
  edge "$D" $s Terminated "timer:F"                                  # Timer F fires
  edge "$D" $s Terminated "txn:transport_error"                      # Transport Err.
done
edge "$D" Trying Proceeding "sip:response 1xx [provisional]"         # 1xx: resp. to TU
edge "$D" Proceeding Proceeding "sip:response 1xx [provisional]"
edge "$D" Completed Terminated "timer:K"                             # Timer K fires

# ---- Figure 8: the non-INVITE server transaction ----
draw nist transaction/nist.xml
D=$T/nist.dot
edge "$D" Start Trying "sip"                                         # Request received: pass to TU
edge "$D" Trying Proceeding "txn:respond [provisional]"              # 1xx from TU: send response
edge "$D" Trying Completed "txn:respond [success, failure]"          # 200-699 from TU: send response
edge "$D" Proceeding Proceeding "sip"                                # Request: send response
edge "$D" Proceeding Proceeding "txn:respond [provisional]"          # 1xx from TU: send response
edge "$D" Proceeding Completed "txn:respond [success, failure]"      # 200-699 from TU: send response
edge "$D" Proceeding Terminated "txn:respond [error]"                # Trnsprt Err: Inform TU
edge "$D" Completed Completed "sip"                                  # Request: send response
edge "$D" Completed Terminated "timer:J"                             # Timer J fires
edge "$D" Completed Terminated "txn:transport_error"                 # Trnsprt Err: Inform TU

# ---- --fold ----
# Figure 5's transport error leaves Calling, Proceeding and Completed alike: one edge from their cluster.
# (Calling and Proceeding have one more of their own, the failover to the next
# target, RFC 3263 4.3, which Completed has not: their cluster nests in it.)
draw ict-fold transaction/ict.xml --fold
D=$T/ict-fold.dot
F=$(grep -o '"__fold[0-9]*" -> "Terminated" \[label=<txn:transport_error<br/><font point-size="7" color="gray35">OpTxnTransportError' "$D" |
  grep -o '__fold[0-9]*')
[ -n "$F" ] && pass "ict --fold: the transport error edge leaves a cluster ($F)" ||
  fail "ict --fold: no folded transport error edge" "$(grep -F -- '-> "Terminated"' "$D")"
has "ict --fold: a cluster" "$D" "subgraph \"cluster_${F#__}\" {"
for s in Calling Proceeding Completed; do
  sed -n "/subgraph \"cluster_${F#__}\"/,/^  }/p" "$D" | grep -qF "\"$s\";" && pass "ict --fold: $s is in the cluster" \
    || fail "ict --fold: $s is in the cluster" "$(sed -n '/subgraph/,/^  }/p' "$D")"
  if grep -F "  \"$s\" -> \"Terminated\"" "$D" | grep -qF "OpTxnTransportError"; then
    fail "ict --fold: $s's own transport error edge is folded away" "$(grep -F "  \"$s\" -> \"Terminated\"" "$D")"
  else
    pass "ict --fold: $s's own transport error edge is folded away"
  fi
done
edge "$D" Calling Terminated "timer:B" # what only one state has stays its own
# A loop shared by three states folds too, onto the cluster; a state with other
# arrows keeps them; without --fold nothing is folded.
cat >"$T/fold.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<flow version="2" name="fold" scope="call" initial="A">
  <state name="A">
    <normal>
      <op name="OpGo" on="device:next" next="B"/>
      <op name="OpIgnore" on="sip:OPTIONS"/>
      <op name="OpGo" on="device:hangup" next="End"/>
    </normal>
  </state>
  <state name="B">
    <normal>
      <op name="OpGo" on="device:next" next="C"/>
      <op name="OpIgnore" on="sip:OPTIONS"/>
      <op name="OpGo" on="device:hangup" next="End"/>
    </normal>
  </state>
  <state name="C">
    <normal>
      <op name="OpIgnore" on="sip:OPTIONS"/>
      <op name="OpGo" on="device:hangup" next="End"/>
      <op name="OpGo" on="device:shutdown" next="End"/>
    </normal>
  </state>
  <state name="End" final="true"/>
</flow>
EOF
draw fold "$T/fold.xml" --fold
edge "$T/fold.dot" __fold0 End "device:hangup"
# the cluster's loop is written inside its node ("stays on"), not drawn as a loop
has "fold: the shared loop inside the cluster's node" "$T/fold.dot" \
  '"__fold0" [label=<<i>any state here</i><br/><font point-size="8">stays on:</font><font point-size="9"><br/>sip:OPTIONS / <font point-size="7" color="gray35">OpIgnore</font></font>>'
if grep -qF '"__fold0" -> "__fold0"' "$T/fold.dot"; then fail "fold: no loop edge on the cluster's node"; else pass "fold: no loop edge on the cluster's node"; fi
edge "$T/fold.dot" A B "device:next"
edge "$T/fold.dot" C End "device:shutdown" # the rest of C's edge to End stays its own
draw nofold "$T/fold.xml"
edge "$T/nofold.dot" A A "sip:OPTIONS" # unfolded, every loop is drawn
# xml/ua.xml folded, rendered as PNG (96 dpi): readable at 1900 px wide (1600
# until UPDATE's bindings, issue 22, made it 1605; 1650 until MESSAGE's
# MessagePending and MessageSent beside Idle, issue 23, made it 1876; REFER's rows 1887), the
# catch-all at the bottom with its loops inside it, Trying beside Idle (its beside= hint)
"$SIPFLOW" dot --fold ua.xml >"$T/ua-fold.dot" && dot -Tpng "$T/ua-fold.dot" -o "$T/ua-fold.png" 2>"$T/dot.err"
w=$(python3 -c 'import struct,sys; d=open(sys.argv[1],"rb").read(24); print(struct.unpack(">I",d[16:20])[0])' "$T/ua-fold.png" 2>/dev/null)
[ -n "$w" ] && [ "$w" -le 1900 ] && [ ! -s "$T/dot.err" ] && pass "ua --fold as PNG: $w px wide (at most 1900)" || fail "ua --fold as PNG: ${w:-?} px wide" "$(head -3 "$T/dot.err")"
has "ua --fold: the catch-all at the bottom" "$T/ua-fold.dot" '  {rank=sink; "*";}'
has "ua --fold: the catch-all's loops inside it" "$T/ua-fold.dot" 'stays on:</font><font point-size="9"><br/>child:end / '
has "ua: Trying drawn beside Idle" "$T/ua-fold.dot" '  {rank=same; "Idle"; "Trying";}'
# one operator taking one edge on two bindings: one line, its triggers joined
edge "$T/nofold.dot" C End "device:hangup|device:shutdown"
edge "$T/nofold.dot" C C "sip:OPTIONS"
if grep -q "cluster" "$T/nofold.dot"; then fail "without --fold: no cluster"; else pass "without --fold: no cluster"; fi
# No cluster that a path leaves and re-enters (A -> D -> B): Graphviz keeps a
# cluster in one band of ranks and could not draw D between A and B.
sed 's|<op name="OpGo" on="device:next" next="B"/>|<op name="OpGo" on="device:next" next="D"/>|; s|<state name="End" final="true"/>|<state name="D"> <normal> <op name="OpGo" on="device:next" next="B"/> </normal> </state>\n  &|' \
  "$T/fold.xml" >"$T/reenter.xml"
draw reenter "$T/reenter.xml" --fold
edge "$T/reenter.dot" A D "device:next"
if grep -q "cluster" "$T/reenter.dot"; then fail "a path out of A, B, C and back: no cluster" "$(grep subgraph -A8 "$T/reenter.dot")"
else pass "a path out of A, B, C and back: no cluster"; fi

# ---- xml/ua.xml: clusters inside clusters ----
draw ua-fold ua.xml --fold
D=$T/ua-fold.dot
# InCall, HoldPending, Onhold and ResumePending hang up alike: one edge, from a
# cluster inside the cluster of the states that also resend the 2xx.
inner=$(grep -F '      subgraph "cluster_fold' "$D" | sed 's/.*cluster_fold\([0-9]*\).*/\1/' | head -1)
if [ -n "$inner" ]; then pass "ua --fold: a cluster inside a cluster"; else fail "ua --fold: a cluster inside a cluster" "$(grep subgraph "$D")"; fi
edge "$D" "__fold$inner" HangingUp "device:hangup|device:shutdown"
for s in InCall HoldPending Onhold ResumePending; do
  if grep -F "  \"$s\" -> \"HangingUp\"" "$D" | grep -qF "device:shutdown"; then
    fail "ua --fold: $s's own hangup edge is folded away" "$(grep -F "  \"$s\" -> \"HangingUp\"" "$D")"
  else
    pass "ua --fold: $s's own hangup edge is folded away"
  fi
done
draw ua ua.xml

# ---- determinism, Graphviz ----
draw ua-fold2 ua.xml --fold
cmp -s "$T/ua-fold.dot" "$T/ua-fold2.dot" && pass "the same output twice" || fail "the same output twice"
if command -v dot >/dev/null; then
  for f in ist ict nict nist fold reenter ua ua-fold; do
    if dot -Tsvg "$T/$f.dot" >"$T/$f.svg" 2>"$T/err" && ! grep -q . "$T/err"; then
      pass "$f renders without a Graphviz warning"
    else
      fail "$f renders without a Graphviz warning" "$(head -3 "$T/err")"
    fi
  done
else
  fail "graphviz 'dot' is not installed (scripts/setup-deps installs it)"
fi

# ---- the command line ----
expect_rc "dot --help" 0 "$SIPFLOW" dot --help
has "dot --help names --fold" "$T/out" "--fold"
expect_rc "dot --fold with no flow: usage error" 2 "$SIPFLOW" dot --fold
expect_rc "dot --bogus: usage error" 2 "$SIPFLOW" dot --bogus transaction/ist.xml
expect_rc "sipflow --help" 0 "$SIPFLOW" --help
has "sipflow --help names dot --fold" "$T/out" "dot [--fold] FLOW.xml"

summary dot
