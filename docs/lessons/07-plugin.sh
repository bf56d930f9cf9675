#!/bin/bash
# Lab 7: writing an operator plugin with the SDK (docs/plugins.md,
# examples/plugin/).  docs/lessons/07-plugin.md explains it.  The plugin
# examples/plugin/screen.c is built out of the tree, from the installed SDK
# alone (pkg-config sipflow-1); examples/plugin/screen.xml, the user agent's
# flow with one more binding in Idle (screen:OpScreen on sip:INVITE), loads
# it.  sipp calls twice:
#  1. from a blocked caller (screen.blocked): the plugin's operator answers
#     603 Decline, the call goes to the state Screened;
#  2. from anybody else: the operator skips, the next binding (OpRing) takes
#     the INVITE, and the user agent answers as ua.xml does (200, ACK, BYE).
# Usage: docs/lessons/07-plugin.sh [OUTDIR].  Needs an installed sipflow:
# SIPFLOW=PREFIX/bin/sipflow, and pkg-config finding its sipflow-1.pc (set
# PKG_CONFIG_PATH=PREFIX/lib/pkgconfig when PREFIX is not a system one); cc.
. "$(dirname "$0")/lab.sh"

command -v cc >/dev/null || die "no C compiler (cc)"
command -v pkg-config >/dev/null || die "no pkg-config"
pkg-config --exists sipflow-1 ||
  die "pkg-config does not find sipflow-1: install sipflow (make install) and set PKG_CONFIG_PATH=PREFIX/lib/pkgconfig"
flags=$(pkg-config --cflags --libs sipflow-1)
# The installed library, when it is not where the dynamic linker looks.
libdir=$(pkg-config --libs-only-L sipflow-1 | sed 's/^ *-L//; s/ .*//')
[ -n "$libdir" ] && export LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

mkdir -p "$T/flow"
cp "$TOP/examples/plugin/screen.c" "$TOP/examples/plugin/screen.xml" "$T/flow/"
# shellcheck disable=SC2086 # the flags are words
(cd "$T/flow" && cc -shared -fPIC -Wall -Wextra -Wno-unused-parameter -Werror screen.c -o screen.so $flags) >"$T/cc.log" 2>&1 ||
  die "screen.c does not compile with \$(pkg-config --cflags --libs sipflow-1)" "$(head -10 "$T/cc.log")"
ok "cc -shared -fPIC screen.c -o screen.so \$(pkg-config --cflags --libs sipflow-1)"
"$SIPFLOW" check "$T/flow/screen.xml" >"$T/check.out" 2>&1 || die "sipflow check refuses screen.xml (does it load screen.so?)" "$(head -5 "$T/check.out")"
ok "sipflow check screen.xml: the plugin loads, its operator screen:OpScreen is known"

start screen "$T/flow/screen.xml" --messages "${UA[@]}" --set ua.uri=sip:bob@127.0.0.1 --set ua.auto_answer=0 \
  --set screen.blocked=mallory@127.0.0.1 || die "screen.xml did not start" "$(tail -3 "$T/screen.err")"
S=$T/screen.events

# ---- 1. a blocked caller ----
sipp_run mallory "127.0.0.1:$PORT_screen" -sf "$LESSONS/sipp/uac-screen.xml" -s bob -key caller mallory -m 1
[ "$SIPP_RC" = 0 ] || die "sipp's call from mallory did not end as scripted" "$(tail -5 "$T/mallory.out")"
cid=$(ev screen '"event":"sip_in".*"start":"INVITE ' | head -1 | field call_id)
grep -q "\"event\":\"sip_out\".*\"start\":\"SIP/2.0 603 Decline\".*\"call_id\":\"$cid\"" "$S" || die "mallory's INVITE did not get 603 Decline"
grep -q "\"event\":\"state\",\"machine\":\"screen\".*\"from\":\"Idle\",\"to\":\"Screened\",\"trigger\":\"sip:INVITE\",\"ops\":\[\"screen:OpScreen\"\]" "$S" ||
  die "mallory's call did not go Idle -> Screened by screen:OpScreen" "$(grep "\"call_id\":\"$cid\"" "$S" | grep '"event":"state","machine":"screen"')"
! grep -q "\"event\":\"sip_out\".*\"start\":\"SIP/2.0 180 .*\"call_id\":\"$cid\"" "$S" || die "mallory's call rang: the plugin should have answered first"
ok "mallory (screen.blocked): 603 Decline from the plugin's operator; Idle -> Screened"

# ---- 2. another caller ----
sipp_run alice "127.0.0.1:$PORT_screen" -sf "$LESSONS/sipp/uac-screen.xml" -s bob -key caller alice -m 1
[ "$SIPP_RC" = 0 ] || die "sipp's call from alice was not answered (200, ACK, BYE)" "$(tail -5 "$T/alice.out")"
cid=$(ev screen '"event":"sip_in".*"start":"INVITE ' | sed -n 2p | field call_id)
grep -q "\"event\":\"state\",\"machine\":\"screen\".*\"from\":\"Idle\",\"to\":\"Ringing\",\"trigger\":\"sip:INVITE\"" "$S" ||
  die "alice's call did not ring: screen:OpScreen should have skipped it (SF_OP_SKIP), OpRing taken it"
grep -q "\"event\":\"sip_out\".*\"start\":\"SIP/2.0 200 .*\"call_id\":\"$cid\"" "$S" && wait_ev screen '"event":"call_end".*"reason":"remote_bye"' 5 ||
  die "alice's call was not answered and ended by her BYE"
ok "alice: the operator skipped, OpRing took the INVITE; answered (200), ended by her BYE"

stop screen || die "screen.xml did not exit cleanly" "$(tail -3 "$T/screen.err")"
finish
