#!/bin/bash
# fork-loop.sh: the forking amplification of RFC 5393 against xml/proxy.xml
# (issue 13 item 2), on loopback, bounded (docs/proxy.md, docs/security.md):
#  (a) a REGISTER whose Contact is the proxy's own address and port, or a
#      domain of ours, gets 403 (proxy and redirect server alike);
#  (b) seven contacts of one address-of-record that lead back to the proxy by
#      an alias it cannot recognise (localhost:PORT), proxy.trusted=127.0.0.1:
#      one INVITE makes a bounded number of forwards, the caller gets 482 and
#      every instance ends;
#  (c) Max-Breadth: 3 and seven contacts at an outside listener: never more
#      than 3 branches at once, their Max-Breadth values sum to at most 3, the
#      others go as shares are freed (answered 486, then left unanswered);
#  (d) Max-Breadth: 0 gets 440, a malformed Max-Breadth 400.
. "$(dirname "$0")/lib.sh"
SRC=${SF_SRCDIR:-$PWD}
sipcat() { timeout 60 python3 "$SRC/tests/integration/sipcat.py" "$@"; }
command -v python3 >/dev/null || { echo "not ok - python3 is not installed (scripts/setup-deps installs it)"; exit 1; }

# stats NAME FIELD: FIELD of a fresh stats event of NAME (cmd status)
stats() {
  local before
  before=$(count "$1" '"event":"stats"')
  cmd "$1" status
  wait_ev "$1" '"event":"stats"' 5 $((before + 1)) || return 1
  grep '"event":"stats"' "$T/$1.events" | tail -1 | grep -o "\"$2\":[0-9]*" | cut -d: -f2
}

# register FILE AOR_USER CONTACT...: a REGISTER for AOR_USER@sipflow.test with these contacts
register() {
  local f=$1 user=$2
  shift 2
  {
    echo "REGISTER sip:sipflow.test SIP/2.0"
    echo "Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKreg{cid};rport"
    echo "Max-Forwards: 70"
    echo "From: <sip:$user@sipflow.test>;tag=reg1"
    echo "To: <sip:$user@sipflow.test>"
    echo "Call-ID: reg-{cid}"
    echo "CSeq: 1 REGISTER"
    for c in "$@"; do echo "Contact: <$c>"; done
    echo "Expires: 600"
    echo
  } >"$T/$f.sip"
}

# invite FILE USER [EXTRA-HEADER]: an INVITE for USER@sipflow.test from outside
invite() {
  {
    echo "INVITE sip:$2@sipflow.test SIP/2.0"
    echo "Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKi{cid};rport"
    echo "Max-Forwards: 70"
    echo "From: <sip:mallory@example.net>;tag=m1"
    echo "To: <sip:$2@sipflow.test>"
    echo "Call-ID: $1-{cid}"
    echo "CSeq: 1 INVITE"
    [ -n "${3:-}" ] && echo "$3"
    echo
  } >"$T/$1.sip"
}

start px proxy.xml --set proxy.trusted=127.0.0.1 --set sip.t1_ms=100 --set "core.state_dir=$T/pxstate" || exit 1
PX=127.0.0.1:$PORT_px

# (a) a binding to the proxy itself
register self bob "sip:bob@127.0.0.1:$PORT_px"
[ "$(sipcat send "$PX" "$T/self.sip")" = 403 ] && pass "(a) a Contact naming the proxy's own address and port: 403" ||
  fail "(a) own address registered" "$(sipcat send "$PX" "$T/self.sip")"
register selfdom bob "sip:carol@sipflow.test"
[ "$(sipcat send "$PX" "$T/selfdom.sip")" = 403 ] && pass "(a) a Contact in a domain of ours: 403" || fail "(a) own domain registered"
register selfone bob "sip:bob@127.0.0.1:9" "sip:bob@127.0.0.1:$PORT_px;transport=udp"
[ "$(sipcat send "$PX" "$T/selfone.sip")" = 403 ] && pass "(a) one such Contact among others: 403, the REGISTER refused whole" ||
  fail "(a) mixed contacts"
register other bob "sip:bob@127.0.0.1:9"
[ "$(sipcat send "$PX" "$T/other.sip")" = 200 ] && pass "(a) 127.0.0.1 with another port is another element: 200" || fail "(a) other port"

# (b) seven bindings that come back by an alias (localhost is not recognised as ours)
aliases=()
for i in 1 2 3 4 5 6 7; do aliases+=("sip:loop$i@localhost:$PORT_px"); done
register loop bob "${aliases[@]}"
[ "$(sipcat send "$PX" "$T/loop.sip")" = 200 ] && pass "(b) seven contacts at localhost:$PORT_px registered for bob" || fail "(b) loop registration"
register unreg bob "sip:bob@127.0.0.1:9"
sed -i 's/^Expires: 600/Expires: 0/' "$T/unreg.sip"
[ "$(sipcat send "$PX" "$T/unreg.sip")" = 200 ] || fail "(b) the binding at port 9 removed" # (a)'s, so only the seven are left
invite loopinv bob
res=$(sipcat send "$PX" "$T/loopinv.sip" --timeout 20)
[ "$res" = 482 ] && pass "(b) the caller gets a final response: 482 Loop Detected" || fail "(b) final response" "$res"
# The bound: the first fork makes 7 branches (one per contact).  Each reaches
# the proxy again with a new Request-URI (sip:loopN@localhost:PORT), a spiral
# (16.3 step 4), and is sent once more to that same URI (another domain's: one
# target); that copy comes back unchanged and gets 482.  So 7 + 7 = 14.
fwd=$(count px '"event":"branch_forward".*"call_id":"loopinv-')
[ "$fwd" -ge 7 ] && [ "$fwd" -le 14 ] && pass "(b) forwarded INVITEs: $fwd (bound 14: 7 for the fork, 7 spirals each stopped by 482)" ||
  fail "(b) forwards" "$fwd"
loops=$(grep -E -c '"event":"(proxy_answer|stateless_answer)"[^}]*"status":482' "$T/px.events")
[ "$loops" -ge 7 ] && pass "(b) every spiral's second arrival got 482 ($loops)" || fail "(b) 482s" "$loops"
# Max-Breadth 60 (none in the request) shared by the 7 branches: 9+9+9+9+8+8+8
mb=$(grep '"event":"branch_forward".*"call_id":"loopinv-' "$T/px.events" | head -7 | grep -o '"max_breadth":[0-9]*' | cut -d: -f2 | awk '{ s += $1 } END { print s + 0 }')
[ "$mb" = 60 ] && pass "(b) the first fork's Max-Breadth shares sum to 60 (the default)" || fail "(b) default breadth" "$mb"
# every instance ends: the requests' transactions within Timer H (64*T1), the
# branches' INVITE client transactions within Timer D (32 s)
created=$(stats px instances_created)
wait_ev px '"event":"instance_end"' 45 "$created" && [ "$(stats px instances_live)" = 0 ] &&
  pass "(b) every instance ended ($created created, 0 live)" || fail "(b) instances live" "$(stats px instances_live)"

# (d) Max-Breadth 0 and a malformed one
invite mb0 bob "Max-Breadth: 0"
[ "$(sipcat send "$PX" "$T/mb0.sip")" = 440 ] && pass "(d) Max-Breadth: 0: 440 Max-Breadth Exceeded" || fail "(d) Max-Breadth 0"
invite mbx bob "Max-Breadth: three"
[ "$(sipcat send "$PX" "$T/mbx.sip")" = 400 ] && pass "(d) Max-Breadth: three: 400" || fail "(d) malformed Max-Breadth"
[ "$(count px '"event":"branch_forward".*"call_id":"mb[0x]-')" = 0 ] && pass "(d) neither was forwarded" || fail "(d) forwarded"
stop px || fail "px exit" "$(err_report "$T/px.err")"

# (c) Max-Breadth 3, seven contacts at an outside host (no trust needed: bob is ours)
start pc proxy.xml --set sip.t1_ms=50 --set "core.state_dir=$T/pcstate" || exit 1
PC=127.0.0.1:$PORT_pc
listener() { # listener NAME ARGS...: a UDP host recording what reaches it; sets OUT
  sipcat listen "$T/$1.port" "$T/$1.msgs" --seconds 90 "${@:2}" &
  PIDS+=($!)
  for _ in $(seq 50); do [ -s "$T/$1.port" ] && break; sleep 0.1; done # bounded: the listener's socket
  OUT=$(cat "$T/$1.port")
}
# concurrency CALLPREFIX: the most branches of that call pending at once and the
# most Max-Breadth they held at once, from the order of the proxy's events
concurrency() {
  grep -E "\"call_id\":\"$1-" "$T/pc.events" | awk '
    /"event":"branch_forward"/ { match($0, /"instance":"[a-z0-9]*"/); b = substr($0, RSTART + 12, RLENGTH - 13)
      match($0, /"max_breadth":[0-9]*/); m = substr($0, RSTART + 14, RLENGTH - 14) + 0
      held[b] = m; n++; s += m; if (n > maxn) maxn = n; if (s > maxs) maxs = s }
    /"event":"proxy_branch_final"/ { match($0, /"branch":"[a-z0-9]*"/); b = substr($0, RSTART + 10, RLENGTH - 11)
      if (b in held) { n--; s -= held[b]; delete held[b] } }
    END { print maxn + 0, maxs + 0 }'
}
listener busy --answer 486
c7=()
for i in 1 2 3 4 5 6 7; do c7+=("sip:dev$i@127.0.0.1:$OUT"); done
register b7 carol "${c7[@]}"
[ "$(sipcat send "$PC" "$T/b7.sip")" = 200 ] || fail "(c) carol's seven contacts"
invite mb3 carol "Max-Breadth: 3"
res=$(sipcat send "$PC" "$T/mb3.sip" --timeout 20)
read -r maxn maxs <<<"$(concurrency mb3)"
[ "$res" = 486 ] && [ "$(count pc '"event":"branch_forward".*"call_id":"mb3-')" = 7 ] && [ "$maxn" -le 3 ] && [ "$maxn" -ge 1 ] &&
  [ "$maxs" -le 3 ] && pass "(c) Max-Breadth 3, seven answering 486: all 7 tried, at most $maxn at once, shares at most $maxs; 486 upstream" ||
  fail "(c) answered" "res=$res max=$maxn sum=$maxs"
vals=$(grep -a '^Max-Breadth:' "$T/busy.msgs" | tr -d '\r' | sort | uniq -c | tr -s ' ')
[ "$(grep -a -c '^INVITE sip:dev' "$T/busy.msgs")" = 7 ] && [ "$(grep -a -c '^Max-Breadth: 1' "$T/busy.msgs")" = 7 ] &&
  [ "$(grep -a -c '^Max-Breadth:' "$T/busy.msgs")" = 7 ] && pass "(c) the outside host got 7 INVITEs, each with one Max-Breadth: 1" ||
  fail "(c) Max-Breadth values received" "$vals"

# the same with nobody answering: 3 go, the 4th waits for a share (Timer B, 64*T1 = 3.2 s, frees them)
listener mute
c7=()
for i in 1 2 3 4 5 6 7; do c7+=("sip:mute$i@127.0.0.1:$OUT"); done
register m7 dave "${c7[@]}"
[ "$(sipcat send "$PC" "$T/m7.sip")" = 200 ] || fail "(c) dave's seven contacts"
invite mute dave "Max-Breadth: 3"
sipcat send "$PC" "$T/mute.sip" --timeout 40 >"$T/mute.res" &
CALLER=$!
PIDS+=("$CALLER")
wait_ev pc '"event":"branch_forward".*"call_id":"mute-' 10 3 && pass "(c) unanswered: 3 branches go at once" || fail "(c) first three"
! wait_ev pc '"event":"branch_forward".*"call_id":"mute-' 2 4 && pass "(c) no 4th branch while the 3 are pending" ||
  fail "(c) a 4th branch while 3 pending" "$(concurrency mute)"
wait_ev pc '"event":"branch_forward".*"call_id":"mute-' 30 7 && pass "(c) the other 4 go as the first ones time out" || fail "(c) the rest"
wait "$CALLER"
read -r maxn maxs <<<"$(concurrency mute)"
[ "$(cat "$T/mute.res")" = 408 ] && [ "$maxn" = 3 ] && [ "$maxs" -le 3 ] && pass "(c) 408 upstream; at most 3 at once, shares at most 3" ||
  fail "(c) unanswered" "res=$(cat "$T/mute.res") max=$maxn sum=$maxs"
stop pc || fail "pc exit" "$(err_report "$T/pc.err")"

# (a) the redirect server refuses the same bindings
start rd redirect.xml --set sip.t1_ms=100 || exit 1
register rdself bob "sip:bob@127.0.0.1:$PORT_rd"
[ "$(sipcat send "127.0.0.1:$PORT_rd" "$T/rdself.sip")" = 403 ] && pass "(a) redirect.xml: a Contact naming its own address and port: 403" ||
  fail "(a) redirect own address"
register rdok bob "sip:bob@127.0.0.1:9"
[ "$(sipcat send "127.0.0.1:$PORT_rd" "$T/rdok.sip")" = 200 ] && pass "(a) redirect.xml: another port: 200" || fail "(a) redirect other port"
stop rd || fail "rd exit" "$(err_report "$T/rd.err")"

for u in px pc rd; do
  ! grep -q -E 'CRITICAL|runtime error|AddressSanitizer|LeakSanitizer' "$T/$u.err" && pass "$u: no critical, no sanitizer report" ||
    fail "$u stderr" "$(grep -E 'CRITICAL|runtime error|Sanitizer' "$T/$u.err" | head -3)"
done
summary fork-loop
