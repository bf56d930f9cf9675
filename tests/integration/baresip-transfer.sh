#!/bin/bash
# baresip-transfer.sh: baresip 1.0 (Debian baresip-core, libre 1.1) as the
# transferor of a blind transfer (RFC 3515, RFC 5589 6) to sipflow UAs built
# from xml/ua.xml, on loopback, bounded.  baresip (alice) calls bob and, once
# the call is up, sends `/transfer URI` (its menu module's call command, over
# the cons module's UDP port); bob (ua.refer = same_domain, bob's domain
# 127.0.0.1) is the transferee, carol the transfer target:
#  0. `/transfer` while bob rings: baresip sends the REFER outside any
#     dialog (no To tag); bob refuses it 403 (docs/ua.md: a REFER outside a
#     dialog), calls no one; baresip then CANCELs its INVITE;
#  1. Refer-To outside bob's domain (toll fraud): bob answers the REFER 403 and
#     calls no one;
#  2. carol busy: bob answers 202, calls carol, carol rejects (486); bob's
#     NOTIFYs carry the sipfrags 100 then 486, the last one terminated;
#  3. the transfer goes through: 202, bob's INVITE to carol carries
#     Referred-By (alice, from the REFER's From), NOTIFYs 100 then 200
#     (terminated), baresip hangs up the old call with BYE; bob heard
#     baresip's 700 Hz before, bob and carol hear each other's tones after
#     (440 and 1000 Hz; one recording per call, media.sink's {call};
#     `sipflow tone`).
# What baresip sends and receives is read from its own SIP trace (-s): the
# trace is the wire, whatever the sipflow events say.  The INVITE to carol is
# read from a packet capture on lo (rtpsniff.py; CAP_NET_RAW, like srtp.sh).
#
# baresip 1.0's transfer, as seen on this machine (the traps):
#  - `/transfer URI` is a call command of the menu module: `/help` lists it
#    only while a call exists.  It is taken before the call is answered too,
#    and then sends the REFER outside any dialog (no To tag, the INVITE's
#    Call-ID and From tag; case 0): for a transfer, send it only after "Call
#    established".
#  - The REFER carries Refer-To as a bare addr-spec (`Refer-To:
#    sip:carol@127.0.0.1:PORT`, no angle brackets), no Referred-By, no
#    Refer-Sub, no `Supported: norefersub`, no Expires: the transferee takes
#    Referred-By from the REFER's From, and must send NOTIFYs.
#  - baresip hangs up (BYE) only on a NOTIFY whose sipfrag is 2xx; without the
#    final NOTIFY its call stays up (checked against sipp: 202 and a 100 NOTIFY
#    alone, no BYE in 4 s).  It reads the sipfrag's status line only; it
#    answers each NOTIFY 200 (`Event: refer` with or without id).
#  - On a failed transfer (the REFER refused, or a sipfrag >= 300) baresip's
#    menu module hangs the call up itself ("menu: transfer failure: 486 Busy
#    Here", then BYE): there is no resuming the call afterwards, so each case
#    below starts with a new call.
#  - Its SIP trace (-s) goes to standard output, block-buffered when that is a
#    file, its log lines ("Call ... terminated") at once: a wait on a log line
#    can find the trace behind it.  stdbuf -oL, and waits on the trace itself.
#  - Its SIP port also takes TCP, TLS on the port + 1: ports kept apart.
#  - An aufile source ends the call at the end of the file: a 30 s file.
. "$(dirname "$0")/lib.sh"

need baresip:baresip-core gst-launch-1.0:gstreamer1.0-tools

free_ports 6 || { fail "no free ports"; exit 1; }
# baresip SIP on BS (UDP, TCP), TLS on BS + 1, cons on BS + 3; carol's SIP
# port is even (BS + 4): the capture counts datagrams to even ports
BS=$BASE CONS=$((BASE + 3)) CAROL=$((BASE + 4))

common=(--set sip.t1_ms=100 --set media.backend=gstreamer --set media.codecs=PCMU)
start bob ua.xml "${common[@]}" --set ua.uri=sip:bob@127.0.0.1 --set ua.refer=same_domain \
  --set media.source=tone:440 --set "media.sink=file:$T/bob-{call}.wav" --set media.rtp_ports=44600-44699 || exit 1
LISTEN=udp:127.0.0.1:$CAROL start carol ua.xml "${common[@]}" --set ua.uri=sip:carol@127.0.0.1 \
  --set media.source=tone:1000 --set "media.sink=file:$T/carol.wav" --set media.rtp_ports=44700-44799 || exit 1
BOB=sip:bob@127.0.0.1:$PORT_bob

# baresip's source: 30 s of 700 Hz (8 kHz mono S16, for PCMU)
gst-launch-1.0 -q audiotestsrc freq=700 num-buffers=300 samplesperbuffer=800 ! \
  audio/x-raw,format=S16LE,rate=8000,channels=1 ! wavenc ! filesink location="$T/tone700.wav" ||
  fail "gst-launch-1.0 could not write a WAV file"
baresip_config "$T/tone700.wav"
echo '<sip:alice@127.0.0.1>;regint=0;audio_codecs=PCMU' >"$T/baresip/accounts"
# stdbuf -oL: the SIP trace goes to standard output, block-buffered into a
# file, while baresip's log lines ("Call ... terminated") go out at once: without
# it a wait on a log line finds the trace behind (the NOTIFY not there yet)
stdbuf -oL baresip -f "$T/baresip" -t 120 -s >"$T/bs.events" 2>&1 &
PID_bs=$!
PIDS+=("$PID_bs")
bs() { printf '%s\n' "$*" >"/dev/udp/127.0.0.1/$CONS"; }
wait_ev bs 'baresip is ready' 10 || { fail "baresip did not start" "$(tail -5 "$T/bs.events")"; exit 1; }

# ladder: one line per SIP message in baresip's trace, in order, retransmissions
# once: "out|in FIRST-LINE | CSeq | Event | Subscription-State | Refer-To |
# Referred-By | Refer-Sub | the body's first line (a NOTIFY's sipfrag) | To"
ladder() {
  python3 - "$T/bs.events" "$BS" <<'EOF'
import re, sys
raw = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
seen = set()
for m in re.finditer(r"\x1b\[36;1m#\r?\n(?:UDP|TCP) (\S+) -> (\S+)\r?\n(.*?)\x1b\[;m", raw, re.S):
    src, msg = m.group(1), m.group(3).replace("\r\n", "\n")
    head, _, body = msg.partition("\n\n")
    lines = head.split("\n")
    hdr = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        hdr.setdefault(k.strip().lower(), v.strip())
    key = (src, lines[0], hdr.get("via"), hdr.get("cseq"))
    if key in seen:
        continue
    seen.add(key)
    d = "out" if src.endswith(":" + sys.argv[2]) else "in"
    f = [d + " " + lines[0]] + [hdr.get(k, "-") for k in
         ("cseq", "event", "subscription-state", "refer-to", "referred-by", "refer-sub")]
    f.append(body.strip().split("\n")[0] if body.strip() else "-")
    f.append(hdr.get("to", "-"))
    print(" | ".join(f))
EOF
}
# after N: the ladder from baresip's Nth REFER on
after() { ladder | awk -v n="$1" '/^out REFER / { r++ } r == n'; }
# refer_cseq N: the CSeq number of baresip's Nth REFER
refer_cseq() { after "$1" | head -1 | cut -d'|' -f2 | awk '{ print $1 }'; }
# frags_after N: the sipfrag status codes of the NOTIFYs baresip got after its
# Nth REFER, in order, each followed by a space
frags_after() { after "$1" | awk '/^in NOTIFY / { split($0, f, " \\| "); split(f[8], s, " "); printf "%s ", s[2] }'; }
# byed N: baresip sent its BYE after its Nth REFER.  Waits are on the trace
# itself (retry, bounded), not on baresip's log lines: those can come out
# before or after the trace lines around them.
byed() { after "$1" | grep -q '^out BYE '; }
# cancelled: baresip sent a CANCEL after its first REFER
cancelled() { after 1 | grep -q '^out CANCEL '; }

# xfer REGEX: bob has a "transfer" event (transferee) matching REGEX (what
# sipflow says it did; the checks above it read the wire)
xfer() { grep '"event":"transfer"' "$T/bob.events" | grep '"role":"transferee"' | grep -q -E -- "$1"; }

# call N: baresip calls bob (its Nth call), bob answers; both sides up
SENDRECV='"event":"media".*"dir":"sendrecv"'
call() {
  local i m
  i=$(count bob '"event":"incoming"')
  m=$(count bob "$SENDRECV")
  bs "/dial $BOB"
  wait_ev bob '"event":"incoming"' 10 $((i + 1)) || return 1
  cmd bob answer
  wait_ev bs "Call established: $BOB" 10 "$1" && wait_ev bob "$SENDRECV" 10 $((m + 1))
}

# 0. /transfer while bob rings: the REFER has no To tag (outside any dialog,
# though its Call-ID and From tag are the ringing INVITE's): 403, no call;
# baresip's menu gives up and CANCELs
bs "/dial $BOB"
if wait_ev bob '"event":"incoming"' 10 1; then
  bs "/transfer sip:carol@127.0.0.1:$CAROL"
  retry 10 cancelled &&
    after 1 | grep -q '^out REFER .* | sip:carol@127.0.0.1:[0-9]* | - | - | - | <sip:bob@127.0.0.1:[0-9]*>$' &&
    after 1 | grep -q "^in SIP/2.0 403 .* | $(refer_cseq 1) REFER |" &&
    pass "/transfer while bob rings: baresip's REFER has no To tag, bob refuses it 403 (a REFER outside a dialog)" ||
    fail "the REFER outside a dialog" "$(after 1)" "$(grep -E '"event":"(transfer|error)"' "$T/bob.events")"
  wait_ev bob '"event":"call_end".*"reason":"cancelled"' 10 1 && [ "$(count carol '"event":"incoming"')" = 0 ] &&
    pass "baresip CANCELs its INVITE after the refusal, bob called no one" ||
    fail "after the early REFER" "$(grep call_end "$T/bob.events")" "$(grep incoming "$T/carol.events")"
else
  fail "baresip's INVITE did not reach bob" "$(tail -5 "$T/bs.events")"
fi

# 1. Refer-To outside bob's domain: 403, no call
if call 1; then
  pass "baresip calls bob, bob answers"
else
  fail "baresip -> bob" "$(tail -5 "$T/bs.events")" "$(tail -3 "$T/bob.err")"
  summary baresip-transfer
  exit 1
fi
bs "/transfer sip:mallory@192.0.2.1"
retry 10 byed 2 && wait_ev bs 'transfer failure' 5 &&
  ladder | grep -q "^in SIP/2.0 403 .*ua.refer.* | $(refer_cseq 2) REFER |" &&
  ladder | grep -q '^out REFER .* | sip:mallory@192.0.2.1 | - | - | - | <sip:bob@127.0.0.1:[0-9]*>;tag=' &&
  xfer '"state":"refused","status":403,"reason":"[^"]*ua.refer is same_domain' &&
  pass "Refer-To outside bob's domain (192.0.2.1, ua.refer = same_domain): bob answers baresip's REFER 403 naming ua.refer" ||
  fail "the REFER to 192.0.2.1" "$(ladder | tail -4)"
wait_ev bob '"event":"call_end".*"reason":"remote_bye"' 10 1 &&
  pass "baresip hangs up after the refused REFER (its menu module does, a baresip trap)" ||
  fail "no BYE after the 403" "$(ladder | tail -3)" "$(grep call_end "$T/bob.events")"
[ "$(count carol '"event":"incoming"')" = 0 ] && ! grep -q '"machine":"ua".*"to":"Trying"' "$T/bob.events" &&
  ! ladder | grep -q '^in NOTIFY ' &&
  pass "bob called no one and sent no NOTIFY for the refused REFER" ||
  fail "bob acted on a refused REFER" "$(grep 192.0.2.1 "$T/bob.events" | head -3)" "$(ladder | grep NOTIFY)"

# 2. carol busy: 202, NOTIFY 100, carol's 486, NOTIFY 486 (terminated)
if call 2; then
  bs "/transfer sip:carol@127.0.0.1:$CAROL"
  wait_ev carol '"event":"incoming"' 10 1 && cmd carol reject 486
  retry 10 byed 3 && wait_ev bs 'transfer failed: 486' 5 &&
    ladder | grep -q "^in SIP/2.0 202 .* | $(refer_cseq 3) REFER |" &&
    frags_after 3 | grep -q -E '^100 (180 )?486 $' &&
    after 3 | grep '^in NOTIFY ' | tail -1 | grep -q '| terminated' &&
    xfer '"state":"accepted","status":202,"target":"sip:carol@127.0.0.1:'"$CAROL"'"' &&
    xfer '"state":"failed","transferred_call":"[^"]*","status":486' &&
    wait_ev bob '"event":"call_end".*"direction":"outgoing","reason":"busy","status":486,"referred_by":"<sip:alice@127.0.0.1>"' 5 &&
    pass "carol busy: bob answers 202, calls carol, NOTIFYs baresip 100 then 486 (terminated)" ||
    fail "the transfer to a busy carol" "$(ladder | tail -8)" "$(grep -E 'incoming|call_end' "$T/carol.events")"
  wait_ev bob '"event":"call_end".*"reason":"remote_bye"' 10 2 &&
    pass "baresip hangs up after the failed transfer (its menu module does)" ||
    fail "no BYE after the 486" "$(ladder | tail -3)"
else
  fail "baresip's second call to bob" "$(tail -5 "$T/bs.events")"
fi

# 3. the transfer goes through.  The first datagram to carol's port from now
# on is bob's INVITE: the capture ends with it (bounded).
timeout 40 python3 "${SF_SRCDIR:-$PWD}/tests/integration/rtpsniff.py" capture "$T/invite.cap" 1 30 "$CAROL-$CAROL" \
  >"$T/sniff.out" 2>&1 &
SNIFF=$!
PIDS+=("$SNIFF")
# sniffing: the capture's packet socket is open (its inode in /proc/net/packet;
# python3 is the child of timeout)
sniffing() {
  local py inode
  py=$(pgrep -P "$SNIFF" python3) || return 1
  for inode in $(ls -l "/proc/$py/fd" 2>/dev/null | sed -n 's/.*socket:\[\([0-9]*\)\]$/\1/p'); do
    awk -v i="$inode" 'NR > 1 && $NF == i { f = 1 } END { exit !f }' /proc/net/packet && return 0
  done
  return 1
}
retry 10 sniffing || fail "the capture on lo did not start" "$(cat "$T/sniff.out")"
m=$(count bob "$SENDRECV")
if call 3; then
  # 1 s of baresip's audio in bob's recording of this call first
  old=$(last_call bob)
  retry 10 size "$T/bob-$old.wav" 16044 || fail "bob recorded less than 1 s of baresip" "$(ls -l "$T"/*.wav 2>&1)"
  bs "/transfer sip:carol@127.0.0.1:$CAROL"
  if wait_ev carol '"event":"incoming"' 10 2; then
    cmd carol answer
  fi
  wait_ev carol '"event":"media".*"dir":"sendrecv"' 10 1 &&
    wait_ev bob "$SENDRECV" 10 $((m + 2)) &&
    pass "bob calls carol for the REFER, carol answers, media both ways" ||
    fail "bob -> carol" "$(grep -E 'incoming|media|call_end' "$T/carol.events" | tail -3)" "$(tail -3 "$T/bob.err")"
  retry 10 byed 4 &&
    ladder | grep -q "^in SIP/2.0 202 .* | $(refer_cseq 4) REFER |" &&
    frags_after 4 | grep -q -E '^100 (180 )?200 $' &&
    after 4 | grep '^in NOTIFY ' | tail -1 | grep -q '| terminated' &&
    xfer '"state":"succeeded","transferred_call":"[^"]*","status":200' &&
    pass "bob answers baresip's REFER 202 and NOTIFYs 100 then 200 (terminated), baresip takes it as done" ||
    fail "the NOTIFYs" "$(ladder | tail -8)"
  after 4 | grep -A 10 "^in NOTIFY .* | SIP/2.0 200 OK |" | grep -q '^out BYE ' &&
    wait_ev bob '"event":"call_end".*"reason":"remote_bye"' 10 3 &&
    pass "baresip ends its call with bob by BYE after the 200 NOTIFY" ||
    fail "the old call's BYE" "$(ladder | tail -4)" "$(grep call_end "$T/bob.events")"
else
  fail "baresip's third call to bob" "$(tail -5 "$T/bs.events")"
fi
timeout 35 tail --pid="$SNIFF" -f /dev/null
invite=$(head -1 "$T/invite.cap" 2>/dev/null | awk '{ print $3 }' | python3 -c 'import sys; print(bytes.fromhex(sys.stdin.read().strip()).decode("utf-8", "replace"))' 2>/dev/null | tr -d '\r')
echo "$invite" | head -1 | grep -q "^INVITE sip:carol@127.0.0.1:$CAROL SIP/2.0" &&
  echo "$invite" | grep -q -i '^Referred-By: .*sip:alice@127.0.0.1' &&
  pass "bob's INVITE to carol carries Referred-By: alice (the REFER's From)" ||
  fail "bob's INVITE to carol" "$(cat "$T/sniff.out")" "$(echo "$invite" | head -12)"

# the tones: carol's recording holds bob's 440 Hz, bob's recording of the
# referred call carol's 1000 Hz, of the old call baresip's 700 Hz; 2 s of the
# referred call, then bob hangs up
new=$(grep '"event":"transfer".*"state":"accepted"' "$T/bob.events" | tail -1 | sed -n 's/.*"referred_call":"\([a-z0-9]*\)".*/\1/p')
retry 10 size "$T/carol.wav" 32044 && retry 10 size "$T/bob-$new.wav" 32044 ||
  fail "carol or bob recorded less than 2 s of the referred call ($new)" "$(ls -l "$T"/*.wav 2>&1)"
cmd bob hangup
wait_ev carol '"event":"call_end".*"reason":"remote_bye"' 10 1 &&
  wait_ev bob '"event":"call_end".*"direction":"outgoing","reason":"local_bye","status":200,"referred_by":"<sip:alice@127.0.0.1>"' 10 1 ||
  fail "bob's hang-up of the referred call" "$(grep call_end "$T/bob.events" "$T/carol.events")"
"$SIPFLOW" tone "$T/carol.wav" 440 >"$T/tone.out" 2>&1 && pass "carol heard bob's 440 Hz ($(cat "$T/tone.out"))" ||
  fail "carol's recording" "$(cat "$T/tone.out")"
"$SIPFLOW" tone "$T/bob-$new.wav" 1000 >"$T/tone.out" 2>&1 && pass "bob heard carol's 1000 Hz ($(cat "$T/tone.out"))" ||
  fail "bob's recording of the referred call" "$(cat "$T/tone.out")"
"$SIPFLOW" tone "$T/bob-$old.wav" 700 >"$T/tone.out" 2>&1 && pass "bob heard baresip's 700 Hz before the transfer ($(cat "$T/tone.out"))" ||
  fail "bob's recording of baresip's call" "$(cat "$T/tone.out")"

bs "/quit"
timeout 10 tail --pid="$PID_bs" -f /dev/null || { fail "baresip did not quit"; kill "$PID_bs" 2>/dev/null; }
for u in bob carol; do
  stop $u || fail "$u exit" "$(err_report "$T/$u.err")"
  ! grep -q -E 'CRITICAL|WARNING|runtime error|AddressSanitizer|LeakSanitizer' "$T/$u.err" &&
    pass "$u: no warning, no sanitizer report" ||
    fail "$u stderr" "$(grep -E 'CRITICAL|WARNING|runtime error|Sanitizer' "$T/$u.err" | head -3)"
done
summary baresip-transfer
