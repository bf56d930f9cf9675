#!/bin/bash
# bench-parse-vs-sofia.sh: sipflow's parser beside sofia-sip's on the same three
# messages (bench/bench-messages.h), as issue 15 asks: bench-parse and
# bench-parse-sofia run alternately, three times each (sipflow, sofia, sipflow,
# ...), so that a change in the machine's load falls on both; then, per message,
# the median msg/s of each and the ratio sipflow / sofia-sip, for sipflow's lazy
# and full parse (sofia-sip always parses every header it knows: "full").
# Run from a build directory configured without sanitizers, where configure
# found sofia-sip-ua (bench/bench-parse-sofia is built).
# Usage: bench/bench-parse-vs-sofia.sh [BUILD_DIR [SECONDS_PER_CASE [RUNS]]]
#        (defaults: ., 1, 3)
set -eu
B=${1:-.}
SECONDS_PER_CASE=${2:-1}
RUNS=${3:-3}
for p in bench-parse bench-parse-sofia; do
  if [ ! -x "$B/bench/$p" ]; then
    echo "bench-parse-vs-sofia.sh: $B/bench/$p not built (bench-parse-sofia needs sofia-sip-ua at configure time)" >&2
    exit 2
  fi
done
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
for i in $(seq "$RUNS"); do
  "$B/bench/bench-parse" "$SECONDS_PER_CASE" >"$T/sipflow.$i"
  "$B/bench/bench-parse-sofia" "$SECONDS_PER_CASE" >"$T/sofia.$i"
done
head -1 "$T/sipflow.1"
head -1 "$T/sofia.1"
echo "median of $RUNS alternated runs, $SECONDS_PER_CASE s per case"
# Rows "NAME MODE BYTES bytes MSG/S msg/s US us/msg"; NAME may hold a space
# ("200 OK"), so fields are counted from the end.  One line per row and run,
# then the median per (program, message, mode), messages in bench-parse's order.
for f in "$T"/sipflow.* "$T"/sofia.*; do
  prog=${f##*/}; prog=${prog%%.*}
  tail -n +2 "$f" | awk -v prog="$prog" '{
    name = $1; for (i = 2; i <= NF - 7; i++) name = name "_" $i
    print prog, name, $(NF - 6), $(NF - 5), $(NF - 3)
  }'
done | awk '
  { key = $1 " " $2 " " $3; v[key, ++n[key]] = $5; bytes[$2] = $4
    if (!($2 in seen)) { seen[$2] = 1; order[++m] = $2 } }
  END {
    printf "| message | bytes | sipflow lazy | sipflow full | sofia-sip | lazy / sofia | full / sofia |\n"
    printf "|---|---|---|---|---|---|---|\n"
    for (j = 1; j <= m; j++) {
      name = order[j]
      lazy = med("sipflow " name " lazy"); full = med("sipflow " name " full"); sofia = med("sofia " name " full")
      label = name; gsub(/_/, " ", label)
      printf "| %s | %d | %s | %s | %s | %.2f | %.2f |\n", label, bytes[name], group(lazy), group(full), group(sofia),
             lazy / sofia, full / sofia
    }
  }
  function med(k,   c, i, j, x) { c = n[k]; if (c == 0) { print "missing " k > "/dev/stderr"; exit 1 }
    for (i = 2; i <= c; i++)  # insertion sort of the runs
      for (j = i; j > 1 && v[k, j - 1] > v[k, j]; j--) { x = v[k, j]; v[k, j] = v[k, j - 1]; v[k, j - 1] = x }
    return c % 2 ? v[k, (c + 1) / 2] : (v[k, c / 2] + v[k, c / 2 + 1]) / 2 }
  function group(x,   s, r) { s = sprintf("%.0f", x); r = ""
    while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) }
    return s r }'
