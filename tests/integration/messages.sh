#!/bin/bash
# messages.sh: the teaching detail (docs/teaching.md) from two real user agents:
# sip_in/sip_out events tied to their transactions, matching across processes,
# the whole message with --messages=full, timer events, response triggers with
# their status; then an INVITE into a socket that never answers (a lost
# message: Timer A's retransmissions, Timer B).  First, a malformed ACK that
# bob drops gets its sip_in at once; last, a body holding a NUL byte is written
# whole with --messages=full.
. "$(dirname "$0")/lib.sh"
media=(--set media.source=silence --set media.backend=null --set sip.t1_ms=50)

start bob xml/ua.xml --messages --log-level debug --set ua.uri=sip:bob@127.0.0.1 --set ua.auto_answer=1 "${media[@]}" || exit 1
start alice xml/ua.xml --messages=full --set ua.uri=sip:alice@127.0.0.1 "${media[@]}" || exit 1
# A malformed ACK, dropped unanswered, to bob while nothing else happens there:
# its sip_in is written all the same, at once (not when the next line comes).
printf 'ACK sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKbadack\r\nMax-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:bob@127.0.0.1>;tag=2\r\nCall-ID: bad-ack-1\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n' >"$T/badack"
cat "$T/badack" >"/dev/udp/127.0.0.1/$PORT_bob" # one write, one datagram
wait_ev bob '"event":"sip_in".*"call_id":"bad-ack-1"' 3 && pass "a malformed ACK dropped unanswered still gets its sip_in" ||
  fail "the sip_in of a dropped ACK" "$(tail -2 "$T/bob.events" | cut -c1-200)"
cmd alice call "sip:bob@127.0.0.1:$PORT_bob"
wait_ev alice '"to":"InCall"' 10 || fail "alice's call was not answered" "$(tail -3 "$T/alice.err")"
cmd alice hangup
wait_ev bob '"event":"call_end"' 10 || fail "bob's call did not end"
wait_ev alice '"event":"call_end"' 10 || fail "alice's call did not end"

A=$T/alice.events B=$T/bob.events
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }
inv_out=$(grep -m1 '"event":"sip_out".*"start":"INVITE ' "$A")
inv_in=$(grep -m1 '"event":"sip_in".*"start":"INVITE ' "$B")
[ -n "$inv_out" ] && [ -n "$inv_in" ] && pass "the INVITE: a sip_out at alice, a sip_in at bob" || fail "INVITE events" "$inv_out" "$inv_in"
[ "$(field branch <<<"$inv_out")" = "$(field branch <<<"$inv_in")" ] && [ "$(field local <<<"$inv_out")" = "$(field remote <<<"$inv_in")" ] &&
  [ "$(field remote <<<"$inv_out")" = "$(field local <<<"$inv_in")" ] && [ "$(field local <<<"$inv_in")" = "127.0.0.1:$PORT_bob" ] &&
  pass "they match: the branch, each side's addresses" || fail "INVITE addresses or branch" "$inv_out" "$inv_in"
grep -q '"transaction":"t1","machine":"ict","instance":"c1"' <<<"$inv_out" && pass "alice's INVITE names her client transaction and her call" ||
  fail "sip_out INVITE ties" "$inv_out"
grep -q '"proto":"udp".*"cseq":"1 INVITE".*"transaction":"t1","machine":"ist".*"size":[0-9]' <<<"$inv_in" &&
  pass "bob's INVITE names the server transaction it made" || fail "sip_in INVITE ties" "$inv_in"
grep -q '"text":"INVITE sip:bob@127.0.0.1:[0-9]* SIP/2.0\\r\\nVia: SIP/2.0/UDP ' <<<"$inv_out" && grep -q '\\r\\nCall-ID: ' <<<"$inv_out" &&
  pass "--messages=full: the whole message" || fail "full text" "$(cut -c1-300 <<<"$inv_out")"
[ "$(grep -c '"event":"sip_.*"text":' "$B")" = 0 ] && pass "--messages: the start line, not the text" || fail "text without full"
grep -q '"event":"sip_out".*"start":"SIP/2.0 180 Ringing".*"status":180,"transaction":"t1","machine":"ist","instance":"c1"' "$B" &&
  pass "bob's 180: its transaction and the call that answered" || fail "180 ties" "$(grep -m1 180 "$B")"
grep -q '"event":"sip_out".*"start":"ACK .*"cseq":"1 ACK".*"instance":"c1"' "$A" && ! grep -q '"event":"sip_out".*"start":"ACK .*"transaction"' "$A" &&
  pass "the ACK for the 2xx: no transaction (17.1.1.3), alice's call" || fail "ACK ties" "$(grep -m1 '"start":"ACK' "$A" | cut -c1-300)"
outs=$(grep -c '"event":"sip_out"' "$A") ins=$(grep '"event":"sip_in"' "$B" | grep -c -v bad-ack-1)
[ "$outs" = 3 ] && [ "$ins" = 3 ] && pass "alice sent 3 messages, bob received 3 (INVITE, ACK, BYE)" || fail "counts" "$outs $ins"
grep -q '"machine":"ict".*"from":"Calling","to":"Proceeding","trigger":"sip:response 180"' "$A" &&
  grep -q '"machine":"ist".*"to":"Accepted","trigger":"txn:respond 200"' "$B" && pass "response triggers carry their status" ||
  fail "trigger status" "$(grep -m2 '"machine":"i[cs]t".*"event":"state"' "$A" "$B")"
grep -q '"event":"timer","machine":"ist","instance":"t1".*"name":"L","action":"set","ms":3200' "$B" &&
  pass "timer events: bob's Timer L set for 64*T1" || fail "timer L" "$(grep -m3 '"event":"timer"' "$B")"
l_in=$(grep -n -m1 '"event":"sip_in".*"start":"INVITE ' "$B" | cut -d: -f1)
l_state=$(grep -n -m1 '"event":"state","machine":"ist"' "$B" | cut -d: -f1)
[ -n "$l_in" ] && [ -n "$l_state" ] && [ "$l_in" -lt "$l_state" ] && pass "the sip_in comes before the state change it caused" ||
  fail "order" "sip_in at line $l_in, ist's first state at $l_state"
grep -q "^sipflow: debug: received udp 127.0.0.1:$PORT_bob <- 127.0.0.1:[0-9]*: INVITE sip:bob@127.0.0.1:$PORT_bob SIP/2.0 ([0-9]* bytes, Call-ID [^ ]*)\$" "$T/bob.err" &&
  grep -q "^sipflow: debug: sent udp 127.0.0.1:$PORT_bob -> 127.0.0.1:[0-9]*: SIP/2.0 180 Ringing" "$T/bob.err" &&
  pass "--log-level debug: a line a message" || fail "debug lines" "$(grep -m3 debug "$T/bob.err")"
stamped=$(grep -c -v -E ',"ts":"[0-9-]{10}T[0-9:]{8}\.[0-9]{6}Z"}$' "$A")
[ "$stamped" = 0 ] && pass "every line of alice's ends with its ts" || fail "ts" "$(grep -v '"ts"' "$A" | head -2)"

# ---- a call refused: the ACK for the 486 is the INVITE client transaction's (17.1.1.3) ----
cmd alice call "sip:bob@127.0.0.1:$PORT_bob"
wait_ev bob '"event":"incoming"' 10 2 || fail "bob's second call did not ring"
cmd bob reject
wait_ev alice '"event":"call_end".*"status":486' 10 || fail "alice's second call did not end with 486"
ack=$(grep '"event":"sip_out".*"start":"ACK .*"cseq":"1 ACK"' "$A" | tail -1)
grep -q '"transaction":"t[0-9]*","machine":"ict"' <<<"$ack" && pass "the ACK for the 486 names the INVITE client transaction" ||
  fail "non-2xx ACK tie" "$(cut -c1-400 <<<"$ack")"

# ---- a message lost: nothing answers the INVITE ----
mkfifo "$T/sink.port"
python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True); time.sleep(60)' </dev/null >"$T/sink.port" &
PIDS+=($!)
read -r -t 10 sink <"$T/sink.port" || fail "the silent UDP socket did not start"
cmd alice call "sip:nobody@127.0.0.1:$sink"
wait_ev alice '"event":"timer","machine":"ict","instance":"t[0-9]*".*"name":"B","action":"fired"' 10 || fail "Timer B did not fire"
lost=$(grep '"event":"sip_out".*"start":"INVITE sip:nobody' "$A")
[ "$(wc -l <<<"$lost")" -ge 5 ] && [ "$(field branch <<<"$lost" | sort -u | wc -l)" = 1 ] &&
  pass "Timer A: the INVITE sent $(wc -l <<<"$lost") times, one branch" || fail "retransmissions" "$(wc -l <<<"$lost")"
[ "$(grep -c '"event":"timer","machine":"ict".*"name":"A","action":"fired"' "$A")" -ge 4 ] &&
  grep -q '"machine":"ict".*"from":"Calling","to":"Terminated","trigger":"timer:B"' "$A" && pass "timer A fired again and again, B ended it" ||
  fail "timers A/B" "$(grep '"machine":"ict"' "$A" | tail -3)"
# --messages=full: a body holding a NUL byte is written whole (the NUL as U+FFFD).
{ printf 'OPTIONS sip:alice@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKnul\r\nMax-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:alice@127.0.0.1>\r\nCall-ID: nul-body-1\r\nCSeq: 1 OPTIONS\r\nContent-Type: application/octet-stream\r\nContent-Length: 16\r\n\r\n'
  printf 'before\000after-nul'; } >"$T/nul"
cat "$T/nul" >"/dev/udp/127.0.0.1/$PORT_alice"
wait_ev alice '"event":"sip_in".*"call_id":"nul-body-1"' 3 &&
  grep '"call_id":"nul-body-1"' "$T/alice.events" | grep -q -E '"text":"OPTIONS .*\\r\\n\\r\\nbefore.{1,3}after-nul"' &&
  pass "--messages=full: a body with a NUL byte is written whole" ||
  fail "the text of a body with a NUL" "$(grep '"call_id":"nul-body-1"' "$T/alice.events" | cut -c1-600)"
summary messages
