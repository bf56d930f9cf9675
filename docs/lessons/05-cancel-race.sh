#!/bin/bash
# Lab 5: CANCEL racing a 200 (RFC 3261 9.1, 9.2, 15; 13.2.2.4).
# docs/lessons/05-cancel-race.md explains it.  alice (xml/ua.xml) calls a sipp
# callee; it rings (180); alice hangs up, so her call sends CANCEL; the
# callee's 200 to the INVITE crosses it (sipp sends it as the CANCEL arrives,
# then the CANCEL's own 200).  The 200 wins: alice's call is up for a
# moment, so she ACKs the 200 and then ends the call with a BYE.
# Usage: docs/lessons/05-cancel-race.sh [OUTDIR]; SIPFLOW=path/to/sipflow.
. "$(dirname "$0")/lab.sh"

start alice ua.xml --messages "${UA[@]}" --set ua.uri=sip:alice@127.0.0.1 || die "alice did not start"
sipp_server race -sf "$LESSONS/sipp/uas-cancel-race.xml" -m 1 || die "the sipp callee (uas-cancel-race.xml) did not start" "$(tail -3 "$T/race.out")"
cmd alice call "sip:race@127.0.0.1:$SIPP_PORT"
wait_ev alice '"to":"RingBack"' 10 || die "alice's call did not ring (no 180)"
cmd alice hangup
wait_ev alice '"event":"call_end"' 10 || die "alice's call did not end"
sipp_server_wait race
[ "$SIPP_RC" = 0 ] || die "the sipp callee did not get what it waited for (CANCEL, then ACK and BYE)" "$(tail -5 "$T/race.out")"

inv=$(ev alice '"event":"sip_out".*"start":"INVITE ')
cancel=$(ev alice '"event":"sip_out".*"start":"CANCEL ')
[ -n "$cancel" ] || die "alice sent no CANCEL"
[ "$(field branch <<<"$cancel")" = "$(field branch <<<"$inv")" ] && [ "$(field cseq <<<"$cancel")" = "1 CANCEL" ] ||
  die "the CANCEL does not match the INVITE (9.1: the same branch, the same CSeq number)" "$inv" "$cancel"
[ "$(line alice '"event":"sip_in".*"start":"SIP/2.0 180 ')" -lt "$(line alice '"event":"sip_out".*"start":"CANCEL ')" ] ||
  die "alice sent the CANCEL before a provisional response (9.1: not before a 1xx)"
ok "after the 180, alice hung up: a CANCEL with the INVITE's branch and CSeq number (9.1)"

l_cancel=$(line alice '"event":"sip_out".*"start":"CANCEL ')
l_200=$(line alice '"event":"sip_in".*"start":"SIP/2.0 200 .*"cseq":"1 INVITE"')
[ "$l_200" -gt "$l_cancel" ] || die "the 200 to the INVITE did not come after the CANCEL (the race did not happen)"
ev alice '"event":"sip_in".*"start":"SIP/2.0 200 .*"cseq":"1 CANCEL"' >/dev/null || die "the CANCEL got no 200"
[ "$(nev alice '"event":"sip_in".*"start":"SIP/2.0 487 ')" = 0 ] || die "a 487 came: the CANCEL was not too late after all"
ok "the 200 to the INVITE came after the CANCEL, and the CANCEL's 200 too: the CANCEL had no effect (9.2)"

ack=$(ev alice '"event":"sip_out".*"start":"ACK .*"cseq":"1 ACK"')
bye=$(ev alice '"event":"sip_out".*"start":"BYE ')
[ -n "$ack" ] || die "alice did not ACK the 200 (13.2.2.4: every 2xx is ACKed, even one she no longer wants)"
[ "$(field branch <<<"$ack")" != "$(field branch <<<"$inv")" ] || die "the ACK of the 2xx reused the INVITE's branch: it is a transaction of its own (17.1.1.3)"
[ -n "$bye" ] && [ "$(line alice '"event":"sip_out".*"start":"BYE ')" -gt "$(line alice '"event":"sip_out".*"start":"ACK ')" ] ||
  die "alice did not send a BYE after the ACK (15: the call is up, the BYE ends it)"
[ "$(field call_id <<<"$bye")" = "$(field call_id <<<"$inv")" ] || die "the BYE is not in the INVITE's dialog"
ev alice '"event":"state","machine":"ua".*"from":"Cancelling","to":"HangingUp","trigger":"sip:response 200"' >/dev/null ||
  die "alice's call did not go from Cancelling to HangingUp on the 200" "$(ev alice '"event":"state","machine":"ua"')"
ok "the 200 won: alice's call went Cancelling -> HangingUp: ACK (its own branch), then BYE (15)"

stop alice || die "alice did not exit cleanly" "$(tail -3 "$T/alice.err")"
finish
