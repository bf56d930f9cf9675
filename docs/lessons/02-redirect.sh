#!/bin/bash
# Lab 2: a call redirected with 302 (RFC 3261 8.1.3.4, 13.2.2.3, 17.1.1.3,
# 21.3.3; the registrar of 10.3).  docs/lessons/02-redirect.md explains it.
# xml/redirect.xml is a registrar and redirect server; alice and bob, two
# user agents (xml/ua.xml), register with it (digest: 401, then 200); bob
# calls sip:alice at the server: 302 Moved Temporarily with alice's Contact,
# bob's INVITE transaction ACKs the 302, bob sends a new INVITE to that
# Contact, alice answers, bob hangs up.
# Usage: docs/lessons/02-redirect.sh [OUTDIR]; SIPFLOW=path/to/sipflow.
. "$(dirname "$0")/lab.sh"

printf 'alice:secret\nbob:hunter2\n' >"$T/users"
start server redirect.xml --messages=full --set "registrar.users=$T/users" "${T1[@]}" || die "the redirect server did not start"
SRV=127.0.0.1:$PORT_server
start alice ua.xml --messages "${UA[@]}" --set "ua.registrar=sip:$SRV" --set ua.uri=sip:alice@127.0.0.1 --set ua.password=secret \
  --set ua.auto_answer=0 || die "alice did not start"
start bob ua.xml --messages "${UA[@]}" --set "ua.registrar=sip:$SRV" --set ua.uri=sip:bob@127.0.0.1 --set ua.password=hunter2 ||
  die "bob did not start"
wait_ev alice '"event":"registration".*"state":"registered"' 10 || die "alice did not register" "$(ev alice registration)"
wait_ev bob '"event":"registration".*"state":"registered"' 10 || die "bob did not register" "$(ev bob registration)"
wait_ev server '"event":"bindings".*"aor":"sip:alice@127.0.0.1","bindings":1' 5 || die "the server holds no binding for alice"
ok "alice and bob registered (10.2): the server binds sip:alice@127.0.0.1 to alice's Contact"

cmd bob call "sip:alice@$SRV"
wait_ev bob '"to":"InCall"' 10 || die "bob's call was not redirected to alice and answered" "$(ev bob '"event":"(redirect|call_end)"')"
wait_ev alice '"to":"InCall"' 5 || die "alice is not in the call"
cmd bob hangup
wait_ev alice '"event":"call_end".*"reason":"remote_bye"' 10 || die "bob's BYE did not end alice's call"
wait_ev bob '"event":"call_end"' 10 || die "bob's call did not end"

S=$T/server.events
moved=$(grep '"event":"sip_out".*"start":"SIP/2.0 302 ' "$S" | head -1)
[ -n "$moved" ] || die "the server sent no 302 to bob's INVITE"
grep -q "\\\\r\\\\nContact: <sip:alice@127.0.0.1:$PORT_alice" <<<"$moved" ||
  die "the 302's Contact is not alice's registered address 127.0.0.1:$PORT_alice" "$(cut -c1-400 <<<"$moved")"
ok "the server answered the INVITE 302, its Contact alice's registered address (21.3.3)"

inv1=$(ev bob "\"event\":\"sip_out\".*\"start\":\"INVITE sip:alice@$SRV ")
branch1=$(field branch <<<"$inv1")
ack=$(ev bob "\"event\":\"sip_out\".*\"start\":\"ACK sip:alice@$SRV ")
[ -n "$ack" ] || die "bob did not ACK the 302"
[ "$(field branch <<<"$ack")" = "$branch1" ] && [ "$(field cseq <<<"$ack")" = "1 ACK" ] ||
  die "the ACK for the 302 is not part of the INVITE's transaction (17.1.1.3: same branch, same CSeq number)" "$inv1" "$ack"
ok "bob's INVITE client transaction ACKed the 302 itself: same branch $branch1 (17.1.1.3)"

inv2=$(ev bob "\"event\":\"sip_out\".*\"start\":\"INVITE sip:alice@127.0.0.1:$PORT_alice")
[ -n "$inv2" ] || die "bob sent no new INVITE to alice's Contact"
[ "$(field branch <<<"$inv2")" != "$branch1" ] && [ "$(field transaction <<<"$inv2")" != "$(field transaction <<<"$inv1")" ] ||
  die "the INVITE to the Contact is not a new transaction (8.1.3.4: a new request, a new branch)"
[ "$(line bob "\"start\":\"INVITE sip:alice@127.0.0.1:$PORT_alice")" -gt "$(line bob "\"start\":\"ACK sip:alice@$SRV ")" ] ||
  die "the new INVITE went before the ACK of the 302"
[ "$(field call_id <<<"$inv2")" = "$(field call_id <<<"$inv1")" ] || die "the new INVITE has another Call-ID"
[ "$(field cseq <<<"$inv2")" = "2 INVITE" ] || die "the new INVITE's CSeq is not 2 INVITE: $(field cseq <<<"$inv2")"
ok "then a new INVITE (new branch, CSeq 2, same Call-ID) to the Contact (8.1.3.4)"
ev alice "\"event\":\"sip_in\".*\"start\":\"INVITE sip:alice@127.0.0.1:$PORT_alice.*\"branch\":\"$(field branch <<<"$inv2")\"" >/dev/null ||
  die "alice did not receive bob's second INVITE"
[ "$(nev server '"event":"sip_in".*"cseq":"2 INVITE"')" = 0 ] || die "the second INVITE went through the server: a redirect server is not a proxy"
ok "the call went straight from bob to alice; the server saw only the first INVITE and its ACK"

stop bob || die "bob did not exit cleanly"
stop alice || die "alice did not exit cleanly"
stop server || die "the server did not exit cleanly" "$(tail -3 "$T/server.err")"
finish
