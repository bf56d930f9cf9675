#!/bin/bash
# peers.sh: real SIP phones through xml/proxy.xml in its default configuration
# (only a users file and a loopback listen), on loopback, bounded.  baresip 1.0
# (Debian baresip-core, libre 1.1) is alice, linphonec 5.1 (linphone-cli) is bob;
# the traps they set are noted below, where each is handled.
#  - both register at the proxy through a 401 digest challenge (the default
#    auth.algorithms, MD5 alone: baresip gives up at a SHA-256 challenge);
#  - baresip calls bob: 407 answered, linphonec rings and answers by itself,
#    the proxy's INVITE instance reaches Confirmed (proxy_2xx), both phones say
#    the call is up; baresip hangs up: the BYE goes through the proxy (its
#    Record-Route) and linphonec sees the call end;
#  - the reverse: linphonec calls alice, 407 answered, baresip answers by itself,
#    linphonec hangs up through the proxy;
#  - audio flows both ways (the SDP went through the proxy intact): linphonec
#    records baresip's 440 Hz, baresip's sndfile records linphonec's 1000 Hz;
#  - the proxy exits cleanly, with no warning or sanitizer report.
. "$(dirname "$0")/lib.sh"

need baresip:baresip-core linphonec:linphone-cli gst-launch-1.0:gstreamer1.0-tools

printf 'alice:secret\nbob:hunter2\n' >"$T/users"
start px proxy.xml --set "registrar.users=$T/users" || exit 1
PX=127.0.0.1:$PORT_px
free_ports 8 || { fail "no free ports"; exit 1; }
BS=$BASE CONS=$((BASE + 3)) LC=$((BASE + 4)) LC_RTP=$((BASE + 6))

# 30 s tones (8 kHz mono S16, for PCMU): baresip's aufile source ends the call
# at the end of its file
for hz in 440 1000; do
  gst-launch-1.0 -q audiotestsrc num-buffers=300 samplesperbuffer=800 freq=$hz ! \
    audio/x-raw,format=S16LE,rate=8000,channels=1 ! wavenc ! filesink location="$T/tone$hz.wav" ||
    fail "gst-launch-1.0 could not write a WAV file"
done
# riff FILE: its WAV header is written (linphonec writes it when the
# recording closes); retry, size and decs are lib.sh's
riff() { [ "$(head -c 4 "$1" 2>/dev/null)" = RIFF ]; }

# baresip (alice): commands come over UDP to its cons module; sndfile records
# each call's audio, sent and received, in $T/snd
mkdir -p "$T/baresip" "$T/snd"
baresip_config "$T/tone440.wav" "module sndfile.so" "snd_path $T/snd"
printf '<sip:alice@sipflow.test>;auth_pass=secret;outbound="sip:%s";regint=600;answermode=auto;audio_codecs=PCMU\n' \
  "$PX" >"$T/baresip/accounts"
baresip -f "$T/baresip" -t 120 >"$T/bs.events" 2>&1 &
PID_bs=$!
PIDS+=("$PID_bs")
bs() { printf '%s\n' "$*" >"/dev/udp/127.0.0.1/$CONS"; }

# linphonec (bob): answers by itself (-a); it needs its database directory, and
# register_only_when_network_is_up=0 (with auto_net_state_mon=0 nothing tells it
# the network is up, and it would never register)
mkdir -p "$T/lc/.local/share/linphone"
cat >"$T/lc/rc" <<CFG
[sip]
sip_port=$LC
sip_tcp_port=0
sip_tls_port=0
auto_net_state_mon=0
register_only_when_network_is_up=0
use_ipv6=0
ipv6_migration_done=1
default_proxy=0
[rtp]
bind_address=127.0.0.1
audio_rtp_port=$LC_RTP
[proxy_0]
reg_proxy=<sip:$PX;transport=udp>
reg_identity=sip:bob@sipflow.test
reg_route=<sip:$PX;lr>
reg_expires=600
reg_sendregister=1
[auth_info_0]
username=bob
passwd=hunter2
realm=sipflow.test
CFG
mkfifo "$T/lc.in"
HOME=$T/lc linphonec -c "$T/lc/rc" -d 0 -a <"$T/lc.in" >"$T/lc.events" 2>"$T/lc.err" &
PID_lc=$!
PIDS+=("$PID_lc")
exec {FD_lc}>"$T/lc.in"
lc() { timeout 5 bash -c 'printf "%s\n" "$1" >&"$2"' _ "$*" "$FD_lc"; } # linphonec may have exited: never block

# registrations: each through a 401
reg_ok() { # reg_ok USER PORT: a 401 to PORT, then a binding for USER
  wait_ev px "\"event\":\"bindings\".*\"aor\":\"sip:$1@sipflow.test\",\"bindings\":1" 15 &&
    grep -E '"event":"(challenge|stateless_answer)"' "$T/px.events" | grep -E -q "\|127.0.0.1:$2\|REGISTER\".*\"status\":401|\"status\":401.*\"method\":\"REGISTER\".*\"source\":\"127.0.0.1:$2\""
}
reg_ok alice "$BS" && wait_ev bs 'alice@sipflow.test: .*200 OK' 5 &&
  pass "baresip registers at the proxy through a 401 digest challenge" ||
  fail "baresip registration" "$(tail -5 "$T/bs.events")" "$(grep -E 'challenge|bindings' "$T/px.events")"
reg_ok bob "$LC" && pass "linphonec registers at the proxy through a 401 digest challenge" ||
  fail "linphonec registration" "$(tail -5 "$T/lc.events")" "$(grep -E 'challenge|bindings' "$T/px.events")"

# without both registrations no call can work: stop here rather than wait out every step
[ "$fails" = 0 ] || { summary peers; exit 1; }

# invite_confirmed N FROMPORT: the Nth INVITE the proxy forwarded (from
# FROMPORT) got a 2xx upstream and its instance reached Confirmed
invite_confirmed() {
  wait_ev px "\"event\":\"proxy_2xx\".*\\|127.0.0.1:$2\\|INVITE\"" 15 "$1" || return 1
  local inst
  inst=$(grep '"event":"proxy_2xx"' "$T/px.events" | grep "|127.0.0.1:$2|INVITE\"" | sed -n "$1p" |
    sed 's/.*"instance":"\([a-z0-9]*\)".*/\1/')
  wait_ev px "\"event\":\"state\",\"machine\":\"proxy\",\"instance\":\"$inst\".*\"to\":\"Confirmed\"" 5
}
# bye_through N FROMPORT: the Nth BYE from FROMPORT went through the proxy and its 2xx came back
bye_through() { wait_ev px "\"event\":\"proxy_2xx\".*\\|127.0.0.1:$2\\|BYE\"" 10 "$1"; }
challenged_407() {
  grep -E '"event":"(challenge|stateless_answer)"' "$T/px.events" |
    grep -E -q "\|127.0.0.1:$1\|INVITE\".*\"status\":407|\"status\":407.*\"method\":\"INVITE\".*\"source\":\"127.0.0.1:$1\""
}

# baresip calls bob; linphonec answers, and records what it hears
lc "record $T/lc-rec.wav"
bs "/dial sip:bob@sipflow.test"
invite_confirmed 1 "$BS" && challenged_407 "$BS" &&
  pass "baresip calls bob through the proxy: 407 answered, the proxy's INVITE reaches Confirmed" ||
  fail "baresip -> linphonec" "$(grep -E 'proxy_|branch_|challenge' "$T/px.events" | tail -6)" "$(tail -5 "$T/bs.events")"
wait_ev bs 'Call established: sip:bob@sipflow.test' 10 &&
  wait_ev lc 'Call [0-9]+ with sip:alice@sipflow.test connected' 10 &&
  pass "both phones say the call is up (linphonec answered by itself)" ||
  fail "call up" "$(tail -3 "$T/bs.events")" "$(tail -3 "$T/lc.events")"
retry 10 size "$T/lc-rec.wav" 16000 || fail "linphonec recorded less than 1 s" "$(ls -l "$T/lc-rec.wav" 2>&1)"
bs "/hangup"
wait_ev bs 'terminate call' 5 || fail "baresip did not take /hangup" "$(tail -3 "$T/bs.events")"
bye_through 1 "$BS" && wait_ev lc 'Call [0-9]+ with sip:alice@sipflow.test ended' 10 &&
  pass "baresip hangs up: the BYE goes through the proxy, linphonec's call ends" ||
  fail "BYE baresip -> linphonec" "$(grep -E 'proxy_|branch_' "$T/px.events" | tail -4)" "$(tail -3 "$T/lc.events")"
retry 5 riff "$T/lc-rec.wav" && "$SIPFLOW" tone "$T/lc-rec.wav" 440 >"$T/tone1.out" 2>&1 && pass "linphonec heard baresip's 440 Hz" ||
  fail "no 440 Hz at linphonec" "$(cat "$T/tone1.out")"

# the reverse: linphonec calls alice; baresip answers (answermode=auto)
lc "call sip:alice@sipflow.test"
invite_confirmed 1 "$LC" && challenged_407 "$LC" &&
  pass "linphonec calls alice through the proxy: 407 answered, the proxy's INVITE reaches Confirmed" ||
  fail "linphonec -> baresip" "$(grep -E 'proxy_|branch_|challenge' "$T/px.events" | tail -6)" "$(tail -5 "$T/lc.events")"
wait_ev bs 'Call established: sip:bob@sipflow.test' 10 2 &&
  wait_ev lc 'Call [0-9]+ with sip:alice@sipflow.test connected' 10 2 &&
  pass "both phones say the second call is up (baresip answered by itself)" ||
  fail "second call up" "$(tail -3 "$T/bs.events")" "$(tail -3 "$T/lc.events")"
lc "play $T/tone1000.wav"
# sndfile names its files by the second: the second call's decoded audio is the newest
retry 5 decs 2 || fail "baresip's sndfile did not record the second call" "$(ls -l "$T"/snd)"
dec=$(ls "$T"/snd/dump-*-dec.wav 2>/dev/null | sort | tail -1)
retry 10 size "$dec" 16044 || fail "baresip recorded less than 1 s" "$(ls -l "$T"/snd)"
closed=$(count bs 'session closed')
lc "terminate"
bye_through 1 "$LC" && wait_ev bs 'sip:bob@sipflow.test: session closed' 10 $((closed + 1)) &&
  pass "linphonec hangs up: the BYE goes through the proxy, baresip's call ends" ||
  fail "BYE linphonec -> baresip" "$(grep -E 'proxy_|branch_' "$T/px.events" | tail -4)" "$(tail -3 "$T/bs.events")"
"$SIPFLOW" tone "$dec" 1000 >"$T/tone2.out" 2>&1 && pass "baresip heard linphonec's 1000 Hz" ||
  fail "no 1000 Hz at baresip" "$(cat "$T/tone2.out")"

# the phones quit (baresip unregisters first), each waited for by PID, bounded
bs "/quit"
lc "quit"
for p in bs lc; do
  eval "pid=\$PID_$p"
  timeout 10 tail --pid="$pid" -f /dev/null || { fail "$p did not quit"; kill "$pid" 2>/dev/null; }
  wait "$pid" 2>/dev/null
done
exec {FD_lc}>&-
stop px || fail "proxy exit" "$(err_report "$T/px.err")"
! grep -q -E 'CRITICAL|WARNING|runtime error|AddressSanitizer|LeakSanitizer' "$T/px.err" &&
  pass "proxy: no warning, no sanitizer report" ||
  fail "proxy stderr" "$(grep -E 'CRITICAL|WARNING|runtime error|Sanitizer' "$T/px.err" | head -3)"
summary peers
