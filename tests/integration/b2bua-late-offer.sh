#!/bin/bash
# b2bua-late-offer.sh: an offer-less INVITE through xml/b2bua.xml (RFC 3261
# 13.2.1, RFC 3264: the offer in the 2xx, the answer in the ACK), sipp caller
# -> B2BUA -> sipp callee (tests/integration/sipp/late-offer-uac.xml and
# late-offer-uas.xml), on loopback, bounded; docs/b2bua.md "How a call goes".
#  - pass mode: the callee's INVITE has no SDP; the caller's 200 carries the
#    callee's offer (its audio port), the callee's ACK the caller's answer
#    (its port), both calls successful, bridge_end answered, zero instances;
#  - anchor mode: the same, but each SDP names the relay (no party's port
#    crosses), and RTP crosses the relay both ways with b2bua.latch = off
#    (each side's destination the SDP's only, no latching onto the source):
#    the relay learned the callee's address from its 200 and the caller's
#    from its ACK.
. "$(dirname "$0")/lib.sh"
need_sipp
SCEN=$(cd "$(dirname "$0")/sipp" && pwd)
free_ports 4 || { fail "no free ports"; exit 1; }
A_RTP=$BASE B_RTP=$((BASE + 2)) # the caller's and the callee's audio ports (nothing listens: the relay's check does)
RELAY_LOW=46100 # anchor: the B2BUA's relay ports
b2b_asan=${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0 # GStreamer in the B2BUA (b2bua-media.sh)

# sdp_port FILE START: the audio port of the SDP in the message of sipp's
# -trace_msg log FILE that starts with START (the first one)
sdp_port() {
  awk -v s="$2" 'index($0, s) == 1 { on = 1 } on && /^m=audio / { print $2; exit }' "$1"
}

# rtp_check: from A_RTP to relay port $1 reaches B_RTP, from B_RTP to relay
# port $2 reaches A_RTP (RFC 3550 packets of PCMU, a few each way)
rtp_check() {
  timeout 20 python3 - "$A_RTP" "$B_RTP" "$1" "$2" <<'PY'
import socket, struct, sys, time
a_port, b_port, relay_a, relay_b = map(int, sys.argv[1:])
def sock(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    s.settimeout(0.05)
    return s
a, b = sock(a_port), sock(b_port)
def rtp(seq, ssrc):
    return struct.pack("!BBHII", 0x80, 0, seq, seq * 160, ssrc) + b"\xff" * 160
got = {"a": 0, "b": 0}
for seq in range(150):  # 3 s at most, 20 ms apart
    a.sendto(rtp(seq, 0xA), ("127.0.0.1", relay_a))
    b.sendto(rtp(seq, 0xB), ("127.0.0.1", relay_b))
    for s, k in ((a, "a"), (b, "b")):
        try:
            data, _ = s.recvfrom(2048)
            if len(data) >= 12 and struct.unpack("!I", data[8:12])[0] == (0xB if k == "a" else 0xA):
                got[k] += 1
        except socket.timeout:
            pass
    if got["a"] >= 5 and got["b"] >= 5:
        break
print("a_got=%d b_got=%d" % (got["a"], got["b"]))
sys.exit(0 if got["a"] >= 5 and got["b"] >= 5 else 1)
PY
}

# one MODE: one offer-less call through a B2BUA in MODE
one() {
  local mode=$1 name=b2b$1
  rm -f "$T/uas-$mode.msg" "$T/uac-$mode.msg"
  sipp_server "uas-$mode" -sf "$SCEN/late-offer-uas.xml" -m 1 -key rtp_port "$B_RTP" -trace_msg \
    -message_file "$T/uas-$mode.msg" || { fail "$mode: the called sipp did not start"; return 1; }
  local uas_port=$SIPP_PORT uas_pid=$SIPP_PID
  ASAN_OPTIONS=$b2b_asan start "$name" b2bua.xml --set "b2bua.target=sip:callee@127.0.0.1:$uas_port" \
    --set "b2bua.media=$mode" --set sip.t1_ms=100 --set media.backend=gstreamer --set media.codecs=PCMU \
    --set "media.rtp_ports=$RELAY_LOW-$((RELAY_LOW + 99))" --set b2bua.latch=off || return 1
  local hold=1000
  [ "$mode" = anchor ] && hold=8000 # the RTP check runs meanwhile
  if [ "$mode" = anchor ]; then
    # once the callee has its ACK: the relay's port for each side, then RTP both ways
    (
      for i in $(seq 100); do grep -q '^ACK ' "$T/uas-$mode.msg" 2>/dev/null && break; sleep 0.1; done
      ra=$(sdp_port "$T/uac-$mode.msg" "SIP/2.0 200") rb=$(sdp_port "$T/uas-$mode.msg" "ACK ")
      echo "relay_a=$ra relay_b=$rb" >"$T/rtp-$mode.out"
      relay() { [ -n "$1" ] && [ "$1" -ge "$RELAY_LOW" ] && [ "$1" -le $((RELAY_LOW + 99)) ]; }
      relay "$ra" && relay "$rb" && rtp_check "$ra" "$rb" >>"$T/rtp-$mode.out" 2>&1
      echo "rc=$?" >>"$T/rtp-$mode.out"
    ) &
    local rtp_pid=$!
    PIDS+=("$rtp_pid")
  fi
  sipp_run "uac-$mode" "127.0.0.1:$(eval echo "\$PORT_$name")" -sf "$SCEN/late-offer-uac.xml" -s callee -m 1 \
    -key rtp_port "$A_RTP" -d "$hold" -trace_msg -message_file "$T/uac-$mode.msg"
  local uac_rc=$SIPP_RC uac_ok=${OK:-0}
  SIPP_PID=$uas_pid
  sipp_server_wait "uas-$mode"
  [ "$uac_rc" = 0 ] && [ "$uac_ok" = 1 ] && [ "$SIPP_RC" = 0 ] && [ "${OK:-0}" = 1 ] &&
    pass "$mode: the offer-less call through the B2BUA succeeded on both sides (INVITE to the callee without SDP, its 200's offer to the caller, the caller's ACK answer in the callee's ACK)" ||
    fail "$mode: caller rc $uac_rc ok $uac_ok, callee rc $SIPP_RC ok ${OK:-0}" "$(tail -5 "$T/uac-$mode.out")" \
      "$(tail -5 "$T/uas-$mode.out")" "$(tail -5 "$T/$name.err")"
  local offer answer
  offer=$(sdp_port "$T/uac-$mode.msg" "SIP/2.0 200") answer=$(sdp_port "$T/uas-$mode.msg" "ACK ")
  if [ "$mode" = pass ]; then
    [ "$offer" = "$B_RTP" ] && [ "$answer" = "$A_RTP" ] &&
      pass "pass: the caller's 200 names the callee's port ($offer), the callee's ACK the caller's ($answer)" ||
      fail "pass: the caller's 200 names '$offer' (want $B_RTP), the callee's ACK '$answer' (want $A_RTP)"
  else
    [ -n "$offer" ] && [ "$offer" -ge "$RELAY_LOW" ] && [ "$offer" -le $((RELAY_LOW + 99)) ] &&
      [ -n "$answer" ] && [ "$answer" -ge "$RELAY_LOW" ] && [ "$answer" -le $((RELAY_LOW + 99)) ] &&
      pass "anchor: the caller's 200 ($offer) and the callee's ACK ($answer) name the relay's ports" ||
      fail "anchor: the caller's 200 names '$offer', the callee's ACK '$answer' (want $RELAY_LOW-$((RELAY_LOW + 99)))"
    timeout 30 tail --pid="$rtp_pid" -f /dev/null
    grep -q '^rc=0$' "$T/rtp-$mode.out" &&
      pass "anchor: RTP crosses the relay both ways (it learned the callee from its 200, the caller from its ACK): $(grep -o 'a_got.*' "$T/rtp-$mode.out")" ||
      fail "anchor: RTP did not cross" "$(cat "$T/rtp-$mode.out")"
  fi
  ep_ended "$name" && pass "$mode: every instance ended" || fail "$mode: instances left" "$STATS"
  [ "$(count "$name" '"event":"bridge_end".*"answered":true')" = 1 ] && [ "$(count "$name" '"sdp_failed"')" = 0 ] &&
    pass "$mode: one bridge_end, answered, no sdp_failed" || fail "$mode: bridge_end" "$(grep bridge_end "$T/$name.events")"
  stop "$name" || fail "$mode: the B2BUA's exit: $?" "$(err_report "$T/$name.err")"
}

one pass
one anchor
summary b2bua-late-offer
