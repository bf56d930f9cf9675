#!/bin/bash
# lessons.sh: every lab of docs/lessons/ runs end to end, so that the lessons
# stay true.  Each NN-name.sh runs with SIPFLOW set to the build's sipflow
# (07-plugin.sh with a `make install` into a temporary root: it builds its
# plugin from the installed SDK) and its OUTDIR under $T; it must exit 0, and
# its ladder.svg be well-formed XML with an arrow for a message the lesson is
# about.  A missing sipp fails loudly.
. "$(dirname "$0")/lib.sh"
need_sipp
for tool in xmllint pkg-config cc; do
  command -v "$tool" >/dev/null || { echo "not ok - $tool is not installed (scripts/setup-deps installs it)"; exit 1; }
done
SRC=${SF_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${SF_BUILDDIR:-$PWD}
L=$SRC/docs/lessons

# The message each lesson is about: its ladder must have an arrow labelled so.
declare -A about=(
  [01-invite-loss]='INVITE sip:silent@'
  [02-redirect]='SIP/2.0 302 Moved Temporarily'
  [03-digest]='SIP/2.0 407 '
  [04-fork]='CANCEL sip:bob@'
  [05-cancel-race]='CANCEL sip:race@'
  [06-compose-flow]='SIP/2.0 603 Decline'
  [07-plugin]='SIP/2.0 603 Decline'
)

# The installed SDK for 07-plugin.sh
D=$T/root
if timeout 300 env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$BUILD" install DESTDIR="$D" >"$T/install.log" 2>&1; then
  pass "make install DESTDIR=... (for the plugin lab)"
else
  fail "make install" "$(tail -5 "$T/install.log")"
fi
pc=$(find "$D" -name sipflow-1.pc | head -1)
bin=$(find "$D" -path '*/bin/sipflow' -type f | head -1)

labs=0
for lab in "$L"/[0-9][0-9]-*.sh; do
  name=$(basename "$lab" .sh)
  labs=$((labs + 1))
  out=$T/$name
  start_s=$(date +%s)
  if [ "$name" = 07-plugin ]; then
    env SIPFLOW="$bin" PKG_CONFIG_PATH="$(dirname "${pc:-/nowhere}")" timeout 60 "$lab" "$out" >"$T/$name.log" 2>&1
  else
    env SIPFLOW="$SIPFLOW" timeout 60 "$lab" "$out" >"$T/$name.log" 2>&1
  fi
  rc=$?
  secs=$(($(date +%s) - start_s))
  if [ "$rc" = 0 ]; then pass "$name passed (${secs} s)"; else
    fail "$name: exit $rc after ${secs} s" "$(grep -v '^  ok:' "$T/$name.log" | head -8)"
    continue
  fi
  [ "$secs" -le 20 ] && pass "$name: under 20 s" || fail "$name took ${secs} s (a lab must take under 20 s)"
  svg=$out/ladder.svg
  if [ -s "$svg" ] && xmllint --noout "$svg" 2>"$T/$name.xmllint"; then pass "$name: ladder.svg is well-formed"; else
    fail "$name: ladder.svg missing or not well-formed" "$(head -3 "$T/$name.xmllint")"
  fi
  want=${about[$name]:-}
  if [ -z "$want" ]; then
    fail "$name: lessons.sh does not know which message the lesson is about (add it to 'about')"
  elif grep -q "<text class=\"label\"[^>]*>$want" "$svg"; then
    pass "$name: the ladder has an arrow '$want...'"
  else
    fail "$name: no arrow '$want...' in the ladder" "$(grep -o '<text class="label"[^>]*>[^<]*' "$svg" | sed 's/.*>//' | sort -u | head -8)"
  fi
  [ -s "$out/ladder.html" ] && grep -q '<svg' "$out/ladder.html" && pass "$name: ladder.html written" || fail "$name: no ladder.html"
  ls "$out"/*.events >/dev/null 2>&1 && pass "$name: its events are in OUTDIR" || fail "$name: no events in OUTDIR"
done
[ "$labs" -ge 6 ] && [ "$labs" = "${#about[@]}" ] && pass "$labs labs run" || fail "$labs labs found, ${#about[@]} known"
summary lessons
