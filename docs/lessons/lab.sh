# shellcheck shell=bash
# docs/lessons/lab.sh: what every lab script shares (sourced).  A lab runs
# sipflow processes with tests/integration/lib.sh's helpers (start, cmd,
# wait_ev, stop: every wait is on an event line, bounded; every process is
# stopped by its PID), checks what RFC 3261 says must happen from their
# events, then copies the events to OUTDIR and draws the ladder of the run.
#
# Usage of a lab: docs/lessons/NN-name.sh [OUTDIR]   (default /tmp/NN-name)
# Environment: SIPFLOW, the sipflow program (default: sipflow on PATH); sipp
# (Debian package sip-tester) on PATH; KEEP=1 keeps the temporary directory
# (each process's stderr, sipp's output).
set -u
LAB=$(basename "$0" .sh)
LESSONS=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$LESSONS/../.." && pwd)
OUTDIR=${1:-${TMPDIR:-/tmp}/$LAB}
if [ -z "${SIPFLOW:-}" ]; then
  SIPFLOW=$(command -v sipflow) || { echo "$LAB: no sipflow on PATH; set SIPFLOW (e.g. SIPFLOW=build/demo/sipflow)" >&2; exit 1; }
fi
case "$SIPFLOW" in /*) ;; */*) SIPFLOW=$PWD/$SIPFLOW ;; esac
[ -x "$SIPFLOW" ] || { echo "$LAB: SIPFLOW=$SIPFLOW is not a program" >&2; exit 1; }
mkdir -p "$OUTDIR" && OUTDIR=$(cd "$OUTDIR" && pwd) || { echo "$LAB: cannot make $OUTDIR" >&2; exit 1; }
rm -f "$OUTDIR"/*.events "$OUTDIR"/ladder.svg "$OUTDIR"/ladder.html
export SIPFLOW
# shellcheck source=../../tests/integration/lib.sh
. "$TOP/tests/integration/lib.sh"
command -v sipp >/dev/null || { echo "$LAB: FAILED: sipp is not installed (Debian package sip-tester)" >&2; exit 1; }

# Short timers on loopback: T1 = 50 ms, so 64*T1 (Timers B, F, H) is 3.2 s.
T1=(--set sip.t1_ms=50)
UA=(--set media.backend=null --set media.source=silence "${T1[@]}")

# ok TEXT: one thing the lab saw happen.
ok() { echo "  ok: $*"; }
# die WHAT [DETAIL...]: what did not happen; the events and the ladder so far
# are kept in OUTDIR all the same, then exit 1.
die() {
  echo "$LAB: FAILED: $1" >&2
  [ $# -gt 1 ] && printf '    %s\n' "${@:2}" >&2
  [ -n "${KEEP:-}" ] && echo "  (KEEP: the processes' stderr and sipp's logs are in $T)" >&2
  save_events
  draw >/dev/null 2>&1
  exit 1
}
# ev NAME REGEX: the lines of NAME's events matching REGEX (extended).
ev() { grep -E -- "$2" "$T/$1.events"; }
# nev NAME REGEX: how many.
nev() { grep -c -E -- "$2" "$T/$1.events"; }
# field KEY: the string value of KEY in the JSON line on standard input.
field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" | head -1; }
# line NAME REGEX: the line number of the first match (0: none), to check order.
line() { local l; l=$(grep -n -m1 -E -- "$2" "$T/$1.events" | cut -d: -f1); echo "${l:-0}"; }

save_events() {
  local f
  for f in "$T"/*.events; do [ -f "$f" ] && cp "$f" "$OUTDIR/"; done
}
draw() {
  "$SIPFLOW" ladder -o "$OUTDIR/ladder.svg" "$OUTDIR"/*.events &&
    "$SIPFLOW" ladder --format html -o "$OUTDIR/ladder.html" "$OUTDIR"/*.events
}
# finish: every process the lab started has been stopped; the events to
# OUTDIR, the ladder drawn, the paths printed.
finish() {
  save_events
  draw 2>"$T/ladder.err" || die "sipflow ladder did not draw the run" "$(head -3 "$T/ladder.err")"
  echo "$LAB: passed"
  echo "  events: $(cd "$OUTDIR" && ls ./*.events | sed 's|^\./||' | tr '\n' ' ')(in $OUTDIR)"
  echo "  ladder: $OUTDIR/ladder.svg"
  echo "          $OUTDIR/ladder.html"
}
