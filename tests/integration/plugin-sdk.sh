#!/bin/bash
# plugin-sdk.sh: the SDK as a user gets it (docs/plugins.md).  `make install`
# into a temporary root (DESTDIR); examples/plugin/screen.c compiled there with
# `cc -shared -fPIC` and the flags of the installed sipflow-1.pc alone (no
# source or build directory); the installed sipflow runs
# examples/plugin/screen.xml, which loads it, on loopback:
#  - an INVITE from a blocked caller (screen.blocked) gets 603 Decline from the
#    plugin's operator, through the public API;
#  - an INVITE from another caller goes on: the user agent answers it (200);
#  - one registry: the process maps one libsipflow-1.so, the installed one, and
#    every engine symbol the plugin uses binds to the public node SIPFLOW_1
#    (objdump -T shows none of SIPFLOW_PRIVATE).
. "$(dirname "$0")/lib.sh"
SRC=${SF_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${SF_BUILDDIR:-$PWD}
for tool in python3 pkg-config objdump cc; do
  command -v "$tool" >/dev/null || { echo "not ok - $tool is not installed (scripts/setup-deps installs it)"; exit 1; }
done
sipcat() { timeout 60 python3 "$SRC/tests/integration/sipcat.py" "$@"; }

# 1. make install into $T/root (bounded; the build is up to date under make check)
D=$T/root
if timeout 300 env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$BUILD" install DESTDIR="$D" >"$T/install.log" 2>&1; then
  pass "make install DESTDIR=..."
else
  fail "make install" "$(tail -5 "$T/install.log")"
  summary plugin-sdk
  exit 1
fi
pc=$(find "$D" -name sipflow-1.pc | head -1)
bin=$(find "$D" -path '*/bin/sipflow' -type f | head -1)
lib=$(find "$D" -name 'libsipflow-1.so' | head -1)
hdr=$(find "$D" -path '*/include/sipflow-1/sipflow/sipflow.h' | head -1)
man=$(find "$D" -path '*/man1/sipflow.1' | head -1)
flows=$(find "$D" -path '*/sipflow/flows/ua.xml' | head -1)
[ -n "$pc" ] && [ -n "$bin" ] && [ -n "$lib" ] && [ -n "$hdr" ] && [ -n "$man" ] && [ -n "$flows" ] &&
  [ -f "$(dirname "$flows")/register.xml" ] && [ -f "$(dirname "$flows")/transaction/ist.xml" ] &&
  pass "installed: sipflow, libsipflow-1.so, sipflow-1/sipflow/*.h, sipflow-1.pc, sipflow.1, the flows" ||
  fail "install incomplete" "pc=$pc bin=$bin lib=$lib hdr=$hdr man=$man flows=$flows"
LIBDIR=$(dirname "$lib")

# 2. the plugin, out of tree, from the installed SDK alone
mkdir -p "$T/flow"
cp "$SRC/examples/plugin/screen.c" "$SRC/examples/plugin/screen.xml" "$T/flow/"
flags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags --libs sipflow-1)
case " $flags " in
  *"$SRC"* | *"$BUILD/"*) fail "pkg-config's flags name the source or build tree" "$flags" ;;
  *" -I$D"*"/include/sipflow-1 "*"-lsipflow-1 "*) pass "pkg-config --cflags --libs sipflow-1: the temporary root only" ;;
  *) fail "pkg-config's flags" "$flags" ;;
esac
# shellcheck disable=SC2086 # the flags are words
if (cd "$T/flow" && cc -shared -fPIC -Wall -Wextra -Wno-unused-parameter -Werror screen.c -o screen.so $flags) >"$T/cc.log" 2>&1; then
  pass "cc -shared -fPIC screen.c \$(pkg-config --cflags --libs sipflow-1)"
else
  fail "the plugin does not compile" "$(head -10 "$T/cc.log")"
  summary plugin-sdk
  exit 1
fi
objdump -T "$T/flow/screen.so" >"$T/symbols"
used=$(grep -c '\*UND\*.* sf_' "$T/symbols")
public=$(grep -c '\*UND\*.*(SIPFLOW_1) *sf_' "$T/symbols")
[ "$used" -gt 0 ] && [ "$used" = "$public" ] && ! grep -q SIPFLOW_PRIVATE "$T/symbols" &&
  pass "the plugin's $used engine symbols all bind to SIPFLOW_1, none to SIPFLOW_PRIVATE" ||
  fail "the plugin uses private symbols" "$(grep 'UND.* sf_' "$T/symbols" | grep -v '(SIPFLOW_1)')"

# 3. the installed sipflow runs the flow that loads it
export LD_LIBRARY_PATH=$LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
SIPFLOW=$bin
start uas "$T/flow/screen.xml" --set sip.t1_ms=100 --set media.backend=null --set ua.auto_answer=0 \
  --set screen.blocked=mallory@evil.example.com,eve@127.0.0.1 || { summary plugin-sdk; exit 1; }
# invite FILE FROM-URI: an INVITE from FROM-URI (no SDP: the UA offers in its 2xx)
invite() {
  {
    echo "INVITE sip:uas@127.0.0.1:$PORT_uas SIP/2.0"
    echo "Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{cid}"
    echo "Max-Forwards: 70"
    echo "From: <$2>;tag=f{cid}"
    echo "To: <sip:uas@127.0.0.1>"
    echo "Call-ID: $1-{cid}"
    echo "CSeq: 1 INVITE"
    echo "Contact: <sip:caller@127.0.0.1:{port}>"
    echo
  } >"$T/$1.sip"
}
invite blocked "sip:mallory@EVIL.example.com"
invite other "sip:alice@good.example.com"
got=$(sipcat send "127.0.0.1:$PORT_uas" "$T/blocked.sip" --timeout 5)
[ "$got" = 603 ] && pass "a blocked caller (From mallory@EVIL.example.com): 603 Decline from screen:OpScreen" ||
  fail "blocked caller" "got: $got" "$(tail -5 "$T/uas.err")"
grep -q '"to":"Screened"' "$T/uas.events" && pass "its call went to Screened" ||
  fail "no Screened state" "$(grep '"state"' "$T/uas.events" | tail -3)"
got=$(sipcat send "127.0.0.1:$PORT_uas" "$T/other.sip" --timeout 5)
[ "$got" = 200 ] && wait_ev uas '"to":"Answered"' 5 && pass "another caller: the call goes on, answered (200)" ||
  fail "other caller" "got: $got" "$(grep '"state"' "$T/uas.events" | tail -3)"

# 4. one registry: one libsipflow-1.so in the process, the installed one, beside the plugin
maps=$(grep -E 'libsipflow-1\.so|screen\.so' "/proc/$PID_uas/maps" | awk '{print $6}' | sort -u)
libs=$(echo "$maps" | grep -c 'libsipflow-1\.so')
[ "$libs" = 1 ] && echo "$maps" | grep -q "^$D/" && echo "$maps" | grep -q 'screen\.so$' &&
  pass "one libsipflow-1.so mapped (the installed one), and the plugin" || fail "libraries mapped" "$maps"

stop uas && pass "sipflow exits 0" || fail "sipflow's exit" "$(err_report "$T/uas.err")"
! grep -q -E 'ERROR: (Address|Leak|Undefined)Sanitizer|runtime error' "$T/uas.err" &&
  pass "no sanitizer report" || fail "sanitizer report" "$(grep -m3 -E 'Sanitizer|runtime error' "$T/uas.err")"
summary plugin-sdk
