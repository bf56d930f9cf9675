#!/bin/bash
# Lab 1: the INVITE transaction when messages are lost (RFC 3261 17.1.1,
# 17.2.1; Figures 5 and 7).  docs/lessons/01-invite-loss.md explains it.
#  1. alice calls a sipp UAS that says nothing for 400 ms: Timer A
#     retransmits the INVITE (50, 100, 200 ms...) until the 200 comes;
#  2. alice calls a sipp UAS that never answers: Timer A doubles each time,
#     Timer B (64*T1) ends the transaction, the call fails with 408;
#  3. a sipp UAC calls bob, who rejects it (486), and never sends the ACK:
#     Timer G retransmits the 486, Timer H (64*T1) ends bob's transaction.
# Usage: docs/lessons/01-invite-loss.sh [OUTDIR]; SIPFLOW=path/to/sipflow.
. "$(dirname "$0")/lab.sh"
L=$LESSONS/sipp

start alice ua.xml --messages "${UA[@]}" --set ua.uri=sip:alice@127.0.0.1 || die "alice did not start"
start bob ua.xml --messages "${UA[@]}" --set ua.uri=sip:bob@127.0.0.1 || die "bob did not start"

# ---- 1. the first INVITEs unanswered, then a 200 ----
sipp_server late -sf "$L/uas-late.xml" -m 1 || die "the sipp UAS (uas-late.xml) did not start" "$(tail -3 "$T/late.out")"
cmd alice call "sip:late@127.0.0.1:$SIPP_PORT"
wait_ev alice '"to":"InCall"' 10 || die "alice's call to the late UAS was not answered" "$(ev alice '"event":"call_end"')"
cmd alice hangup
wait_ev alice '"event":"call_end"' 10 || die "alice's first call did not end"
sipp_server_wait late
A=$T/alice.events
invites=$(grep '"event":"sip_out".*"start":"INVITE sip:late@' "$A")
n=$(wc -l <<<"$invites")
[ "$n" -ge 3 ] || die "Timer A: the INVITE to the late UAS was sent only $n times (wanted at least 3 in its 400 ms of silence)"
[ "$(field branch <<<"$invites" | sort -u | wc -l)" = 1 ] && [ "$(sed -n 's/.*"branch":"\([^"]*\)".*/\1/p' <<<"$invites" | sort -u | wc -l)" = 1 ] ||
  die "the retransmitted INVITEs do not all carry the first one's branch (17.1.1.2: the same request)"
ok "Timer A: the INVITE sent $n times, one branch, while the UAS said nothing"
tx=$(field transaction <<<"$invites")
fired=$(nev alice "\"event\":\"timer\",\"machine\":\"ict\",\"instance\":\"$tx\".*\"name\":\"A\",\"action\":\"fired\"")
[ "$fired" -ge 2 ] || die "Timer A of alice's client transaction $tx fired $fired times (wanted at least 2)"
sets=$(ev alice "\"event\":\"timer\",\"machine\":\"ict\",\"instance\":\"$tx\".*\"name\":\"A\",\"action\":\"set\"" | grep -o '"ms":[0-9]*' | cut -d: -f2 | head -3 | tr '\n' ' ')
[ "$sets" = "50 100 200 " ] || die "Timer A was not set to T1, then doubled (50 100 200 ms): it was set to $sets"
ok "Timer A set to 50, 100, 200 ms: T1, doubled each time it fires (17.1.1.2)"
l200=$(line alice '"event":"sip_in".*"start":"SIP/2.0 200 .*"cseq":"1 INVITE"')
lastinv=$(grep -n '"event":"sip_out".*"start":"INVITE sip:late@' "$A" | tail -1 | cut -d: -f1)
[ "$l200" -gt 0 ] && [ "$lastinv" -lt "$l200" ] || die "the INVITE was retransmitted after the 200 came (line $lastinv, 200 at line $l200)"
ok "the 200 stopped the retransmissions"

# ---- 2. nobody answers: Timer B ----
sipp_server silent -sf "$L/uas-silent.xml" -m 1 || die "the sipp UAS (uas-silent.xml) did not start" "$(tail -3 "$T/silent.out")"
cmd alice call "sip:silent@127.0.0.1:$SIPP_PORT"
wait_ev alice '"event":"timer","machine":"ict".*"name":"B","action":"fired"' 10 || die "Timer B never fired for the INVITE nobody answered"
wait_ev alice '"event":"call_end"' 5 2 || die "alice's second call did not end after Timer B"
invites=$(grep '"event":"sip_out".*"start":"INVITE sip:silent@' "$A")
tx=$(field transaction <<<"$invites")
n=$(wc -l <<<"$invites")
[ "$n" -ge 6 ] || die "Timer A: the unanswered INVITE was sent $n times (wanted at least 6 in 64*T1)"
bset=$(ev alice "\"event\":\"timer\",\"machine\":\"ict\",\"instance\":\"$tx\".*\"name\":\"B\",\"action\":\"set\"" | grep -o '"ms":[0-9]*' | cut -d: -f2)
[ "$bset" = 3200 ] || die "Timer B was not set to 64*T1 = 3200 ms (it was: ${bset:-never set})"
ev alice "\"event\":\"state\",\"machine\":\"ict\",\"instance\":\"$tx\".*\"from\":\"Calling\",\"to\":\"Terminated\",\"trigger\":\"timer:B\"" >/dev/null ||
  die "Timer B did not take alice's ict $tx from Calling to Terminated" "$(ev alice "\"machine\":\"ict\",\"instance\":\"$tx\"" | grep '"event":"state"')"
grep '"event":"call_end"' "$A" | tail -1 | grep -q '"status":408' ||
  die "the call that timed out did not end with 408 (17.1.1.2: a timeout, reported as 408)" "$(grep '"event":"call_end"' "$A" | tail -1)"
ok "nobody answers: the INVITE sent $n times, Timer B (3200 ms) ended the transaction, the call ended with 408"
sipp_server_wait silent

# ---- 3. the ACK never comes: Timers G and H at bob ----
( sipp_run noack "127.0.0.1:$PORT_bob" -sf "$L/uac-no-ack.xml" -s bob -m 1 ) &
NOACK=$!
PIDS+=("$NOACK")
wait_ev bob '"event":"incoming"' 10 || die "sipp's INVITE did not reach bob" "$(tail -3 "$T/noack.out")"
cmd bob reject 486
wait_ev bob '"event":"timer","machine":"ist".*"name":"H","action":"fired"' 10 || die "Timer H never fired at bob (no ACK came)"
wait "$NOACK"
B=$T/bob.events
busy=$(grep '"event":"sip_out".*"start":"SIP/2.0 486 ' "$B")
tx=$(field transaction <<<"$busy")
n=$(wc -l <<<"$busy")
[ "$n" -ge 4 ] || die "Timer G: bob sent the 486 only $n times (wanted at least 4 before Timer H)"
g=$(nev bob "\"event\":\"timer\",\"machine\":\"ist\",\"instance\":\"$tx\".*\"name\":\"G\",\"action\":\"fired\"")
[ "$g" -ge 3 ] || die "Timer G of bob's ist $tx fired $g times (wanted at least 3)"
nev bob "\"event\":\"step\",\"machine\":\"ist\",\"instance\":\"$tx\",.*\"state\":\"Completed\",\"trigger\":\"timer:G\"" >/dev/null ||
  die "no step event for Timer G: the 486 resent without leaving Completed"
[ "$(nev bob '"event":"sip_in".*"start":"ACK ')" = 0 ] || die "an ACK reached bob: sipp was to send none"
ev bob "\"event\":\"state\",\"machine\":\"ist\",\"instance\":\"$tx\".*\"from\":\"Completed\",\"to\":\"Terminated\",\"trigger\":\"timer:H\"" >/dev/null ||
  die "Timer H did not take bob's ist $tx from Completed to Terminated" "$(ev bob "\"machine\":\"ist\",\"instance\":\"$tx\"" | grep '"event":"state"')"
ok "no ACK: the 486 sent $n times by Timer G (a loop in Completed), Timer H ended the transaction"

stop alice || die "alice did not exit cleanly" "$(tail -3 "$T/alice.err")"
stop bob || die "bob did not exit cleanly" "$(tail -3 "$T/bob.err")"
finish
