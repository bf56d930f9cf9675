#!/bin/bash
# layering.sh: states/ (the machine runtime) depends on nothing above it
# (docs/engine.md "Where the runtime lives"): every #include in states/*.c and
# states/*.h names a system or GLib header (<...>), the build's "config.h", a
# public header ("sipflow/..."), or another header of states/.  Anything from
# framework/, operators/, sip/, media/ or ua/ fails the test, with its line.
src=${SF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$src" || exit 1
files=0 includes=0 bad=0
for f in states/*.c states/*.h; do
  [ -e "$f" ] || continue
  files=$((files + 1))
  while IFS=: read -r line text; do
    includes=$((includes + 1))
    target=$(printf '%s\n' "$text" | sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*\([<"][^>"]*[>"]\).*/\1/p')
    name=${target:1:${#target}-2}
    ok=no
    case "$target" in
      \<framework/* | \<operators/* | \<sip/* | \<media/* | \<ua/*) ;;
      \<*) ok=yes ;;
      \"config.h\" | \"sipflow/*\" | \"states/*\") ok=yes ;;
      \"*/*\") ;;
      \"*\") [ -e "states/$name" ] && ok=yes ;;
    esac
    if [ "$ok" = no ]; then
      echo "$f:$line: includes ${target:-?}: states/ may include only GLib, include/sipflow/ and states/ headers"
      bad=$((bad + 1))
    fi
  done < <(grep -n '^[[:space:]]*#[[:space:]]*include' "$f")
done
echo "layering: $files files in states/, $includes includes, $bad from outside GLib, include/sipflow/ and states/"
[ "$files" -gt 0 ] && [ "$bad" = 0 ]
