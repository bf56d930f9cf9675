#!/bin/bash
# Lab 4: a proxy forking to two phones (RFC 3261 16.6, 16.7, 16.10; 9.1).
# docs/lessons/04-fork.md explains it.  xml/proxy.xml; bob has two phones
# (desk and mobile, two user agents registered for sip:bob@sipflow.test);
# alice calls bob: the proxy sends the INVITE to both (one branch each),
# both ring, the mobile answers: its 200 goes to alice, and the proxy CANCELs
# the desk's branch (the desk answers 200 to the CANCEL, 487 to the INVITE,
# which the proxy ACKs hop by hop).  alice hangs up.
# Usage: docs/lessons/04-fork.sh [OUTDIR]; SIPFLOW=path/to/sipflow.
. "$(dirname "$0")/lab.sh"

printf 'alice:secret\nbob:hunter2\n' >"$T/users"
# proxy.trusted: calls from loopback are not challenged (lab 3 is about that); REGISTERs are.
start proxy proxy.xml --messages --set "registrar.users=$T/users" --set proxy.trusted=127.0.0.1/32 "${T1[@]}" ||
  die "the proxy did not start"
PX=127.0.0.1:$PORT_proxy
ua=("${UA[@]}" --set "ua.registrar=sip:$PX" --set "ua.outbound_proxy=sip:$PX")
start alice ua.xml --messages "${ua[@]}" --set ua.uri=sip:alice@sipflow.test --set ua.password=secret || die "alice did not start"
start desk ua.xml --messages "${ua[@]}" --set ua.uri=sip:bob@sipflow.test --set ua.password=hunter2 || die "bob's desk phone did not start"
start mobile ua.xml --messages "${ua[@]}" --set ua.uri=sip:bob@sipflow.test --set ua.password=hunter2 || die "bob's mobile did not start"
for u in alice desk mobile; do
  wait_ev $u '"event":"registration".*"state":"registered"' 10 || die "$u did not register" "$(ev $u registration)"
done
wait_ev proxy '"event":"bindings".*"aor":"sip:bob@sipflow.test","bindings":2' 5 || die "the proxy does not hold two bindings for bob"
ok "bob's desk phone and mobile registered: two Contacts for sip:bob@sipflow.test (10.3)"

cmd alice call sip:bob@sipflow.test
wait_ev desk '"event":"incoming"' 10 || die "bob's desk phone did not ring"
wait_ev mobile '"event":"incoming"' 10 || die "bob's mobile did not ring"
P=$T/proxy.events
outs=$(grep '"event":"sip_out".*"start":"INVITE sip:bob@' "$P")
[ "$(wc -l <<<"$outs")" = 2 ] || die "the proxy forwarded the INVITE $(wc -l <<<"$outs") times (wanted 2: one per Contact)"
[ "$(field branch <<<"$(sed -n 1p <<<"$outs")")" != "$(field branch <<<"$(sed -n 2p <<<"$outs")")" ] &&
  [ "$(field call_id <<<"$(sed -n 1p <<<"$outs")")" = "$(field call_id <<<"$(sed -n 2p <<<"$outs")")" ] ||
  die "the two forwarded INVITEs do not have one Call-ID and two branches (16.6 step 8)"
ok "the proxy forked: two INVITEs, one Call-ID, a branch each (16.6); both phones ring"

cmd mobile answer
wait_ev alice '"to":"InCall"' 10 || die "alice did not get the mobile's 200"
wait_ev desk '"event":"call_end".*"reason":"cancelled"' 10 || die "the desk phone's ringing was not cancelled"
D=$T/desk.events
dinv=$(ev desk '"event":"sip_in".*"start":"INVITE ')
cancel=$(ev desk '"event":"sip_in".*"start":"CANCEL ')
[ -n "$cancel" ] || die "no CANCEL reached the desk phone"
[ "$(field branch <<<"$cancel")" = "$(field branch <<<"$dinv")" ] && [ "$(field cseq <<<"$cancel")" = "1 CANCEL" ] ||
  die "the CANCEL does not match the desk's INVITE (9.1: same branch, same CSeq number)" "$dinv" "$cancel"
[ "$(line proxy '"event":"sip_in".*"start":"SIP/2.0 200 .*"cseq":"1 INVITE"')" -lt "$(line proxy '"event":"sip_out".*"start":"CANCEL ')" ] ||
  die "the proxy sent the CANCEL before the mobile's 200 came"
ok "the mobile's 200 came; the proxy CANCELed the desk's branch (16.7 step 10), same branch as its INVITE (9.1)"
grep -q '"event":"sip_out".*"start":"SIP/2.0 200 .*"cseq":"1 CANCEL"' "$D" && grep -q '"event":"sip_out".*"start":"SIP/2.0 487 ' "$D" ||
  die "the desk phone did not answer 200 to the CANCEL and 487 to the INVITE (9.2)"
ack=$(ev desk '"event":"sip_in".*"start":"ACK .*"cseq":"1 ACK"')
[ -n "$ack" ] && [ "$(field branch <<<"$ack")" = "$(field branch <<<"$dinv")" ] ||
  die "the proxy did not ACK the desk's 487 within its transaction (17.1.1.3)"
[ "$(nev alice '"event":"sip_in".*"start":"SIP/2.0 487 ')" = 0 ] || die "the desk's 487 reached alice: it was the proxy's to keep (16.7 step 6)"
[ "$(nev alice '"event":"sip_in".*"start":"SIP/2.0 200 .*"cseq":"1 INVITE"')" -ge 1 ] || die "alice never saw the 200"
ok "the desk: 200 to the CANCEL, 487 to the INVITE, ACKed by the proxy; only the 200 reached alice"

cmd alice hangup
wait_ev mobile '"event":"call_end".*"reason":"remote_bye"' 10 || die "alice's BYE did not reach the mobile"
for u in alice desk mobile proxy; do stop $u || die "$u did not exit cleanly" "$(tail -3 "$T/$u.err")"; done
finish
