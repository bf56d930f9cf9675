#!/bin/bash
# Lab 3: digest authentication (RFC 3261 22.2, 22.3, 22.4; RFC 7616).
# docs/lessons/03-digest.md explains it.  xml/proxy.xml with a users file:
#  1. alice and bob register: 401 with WWW-Authenticate, the REGISTER again
#     with Authorization, 200;
#  2. alice calls bob through the proxy: 407 with Proxy-Authenticate, alice's
#     transaction ACKs it, the INVITE again with Proxy-Authorization (CSeq 2),
#     forwarded to bob, who answers;
#  3. a stale nonce: carol (a sipp phone) registers, the proxy restarts (same
#     secret, new boot), carol refreshes with the old nonce: 401 stale=true,
#     and carol answers the new challenge without asking anybody: 200.
# Usage: docs/lessons/03-digest.sh [OUTDIR]; SIPFLOW=path/to/sipflow.
. "$(dirname "$0")/lab.sh"

printf 'alice:secret\nbob:hunter2\ncarol:pw\n' >"$T/users"
px=(--messages=full --set "registrar.users=$T/users" --set "core.state_dir=$T/pxstate" "${T1[@]}")
start proxy proxy.xml "${px[@]}" || die "the proxy did not start"
PX=127.0.0.1:$PORT_proxy
ua=("${UA[@]}" --set "ua.registrar=sip:$PX" --set "ua.outbound_proxy=sip:$PX")
start alice ua.xml --messages=full "${ua[@]}" --set ua.uri=sip:alice@sipflow.test --set ua.password=secret || die "alice did not start"
start bob ua.xml --messages "${ua[@]}" --set ua.uri=sip:bob@sipflow.test --set ua.password=hunter2 --set ua.auto_answer=0 ||
  die "bob did not start"

# ---- 1. REGISTER: 401 ----
wait_ev alice '"event":"registration".*"state":"registered"' 10 || die "alice did not register" "$(ev alice registration)"
wait_ev bob '"event":"registration".*"state":"registered"' 10 || die "bob did not register" "$(ev bob registration)"
A=$T/alice.events
regs=$(grep '"event":"sip_out".*"start":"REGISTER ' "$A" | head -2)
first=$(head -1 <<<"$regs") second=$(sed -n 2p <<<"$regs")
grep -q '\\r\\nAuthorization: ' <<<"$first" && die "alice's first REGISTER already carried credentials"
grep -q '"event":"sip_in".*"start":"SIP/2.0 401 .*"cseq":"1 REGISTER".*\\r\\nWWW-Authenticate: Digest .*nonce=' "$A" ||
  die "alice got no 401 with a WWW-Authenticate digest challenge to her first REGISTER"
grep -q '\\r\\nAuthorization: Digest username=\\"alice\\"' <<<"$second" && [ "$(field cseq <<<"$second")" = "2 REGISTER" ] ||
  die "alice's second REGISTER has no Authorization for alice, or its CSeq is not 2" "$(cut -c1-300 <<<"$second")"
grep -q '"event":"sip_in".*"start":"SIP/2.0 200 .*"cseq":"2 REGISTER"' "$A" || die "the REGISTER with credentials got no 200"
ok "REGISTER: 401 with a WWW-Authenticate challenge; again with Authorization (CSeq 2): 200 (22.2)"

# ---- 2. INVITE through the proxy: 407 ----
cmd alice call sip:bob@sipflow.test
wait_ev alice '"to":"InCall"' 10 || die "alice's call to bob was not answered" "$(ev alice '"event":"(call_end|authenticating)"')"
cmd alice hangup
wait_ev bob '"event":"call_end".*"reason":"remote_bye"' 10 || die "alice's BYE did not end bob's call"
inv1=$(grep '"event":"sip_out".*"start":"INVITE sip:bob@sipflow.test .*"cseq":"1 INVITE"' "$A")
grep -q '"event":"sip_in".*"start":"SIP/2.0 407 .*"cseq":"1 INVITE".*\\r\\nProxy-Authenticate: Digest ' "$A" ||
  die "the proxy did not answer alice's INVITE 407 with Proxy-Authenticate"
ack=$(grep '"event":"sip_out".*"start":"ACK .*"cseq":"1 ACK"' "$A")
[ -n "$ack" ] && [ "$(field branch <<<"$ack")" = "$(field branch <<<"$inv1")" ] ||
  die "alice's transaction did not ACK the 407 with the INVITE's branch (17.1.1.3)"
inv2=$(grep '"event":"sip_out".*"start":"INVITE sip:bob@sipflow.test .*"cseq":"2 INVITE"' "$A")
grep -q '\\r\\nProxy-Authorization: Digest username=\\"alice\\"' <<<"$inv2" ||
  die "alice's second INVITE (CSeq 2) carries no Proxy-Authorization" "$(cut -c1-300 <<<"$inv2")"
[ "$(field branch <<<"$inv2")" != "$(field branch <<<"$inv1")" ] || die "the INVITE with credentials reused the first branch: it is a new transaction"
ev bob '"event":"sip_in".*"start":"INVITE sip:bob@.*"cseq":"2 INVITE"' >/dev/null || die "the INVITE with credentials was not forwarded to bob"
[ "$(nev bob '"event":"sip_in".*"cseq":"1 INVITE"')" = 0 ] || die "the INVITE without credentials reached bob"
ok "INVITE: 407 with Proxy-Authenticate, ACKed; again with Proxy-Authorization (CSeq 2, new branch): forwarded to bob (22.3)"

# ---- 3. a stale nonce: carol registers, the proxy restarts, carol refreshes ----
( sipp_run carol "$PX" -sf "$LESSONS/sipp/uac-stale.xml" -s carol -au carol -ap pw -m 1 -timeout 15; exit "$SIPP_RC" ) &
CAROL=$!
PIDS+=("$CAROL")
wait_ev proxy '"event":"bindings".*"aor":"sip:carol@sipflow.test","bindings":1' 10 || die "carol (sipp) did not register" "$(tail -3 "$T/carol.out")"
stop proxy || die "the proxy did not exit cleanly" "$(tail -3 "$T/proxy.err")"
LISTEN=udp:$PX start restarted proxy.xml "${px[@]}" || die "the proxy did not start again on $PX"
wait_ev restarted '"event":"challenge".*"stale":true' 10 || die "the restarted proxy did not answer the old nonce with stale=true" \
  "$(ev restarted '"event":"challenge"')"
wait "$CAROL" || die "sipp's phone (uac-stale.xml) did not end its scenario well" "$(tail -5 "$T/carol.out")"
wait_ev restarted '"event":"bindings".*"aor":"sip:carol@sipflow.test","bindings":1' 10 ||
  die "carol's answer to the stale challenge was not taken" "$(tail -5 "$T/carol.out")"
R=$T/restarted.events
stale=$(grep '"event":"sip_out".*"start":"SIP/2.0 401 .*"cseq":"3 REGISTER"' "$R")
grep -q 'WWW-Authenticate: Digest .*stale=true' <<<"$stale" || die "the 401 to carol's refresh does not say stale=true" "$(cut -c1-400 <<<"$stale")"
grep -q '"event":"sip_out".*"start":"SIP/2.0 200 .*"cseq":"4 REGISTER"' "$R" || die "carol's REGISTER after the stale challenge got no 200"
! grep -q 'auth failed' "$T/restarted.err" || die "the stale nonce was logged as an auth failure" "$(grep 'auth failed' "$T/restarted.err")"
ok "a nonce from before the restart: 401 stale=true (the password was right), answered at once: 200 (RFC 7616 3.3)"

stop alice || die "alice did not exit cleanly"
stop bob || die "bob did not exit cleanly"
stop restarted || die "the restarted proxy did not exit cleanly" "$(tail -3 "$T/restarted.err")"
finish
