#!/bin/bash
# layering.sh: each layer depends only on the ones under it (docs/architecture.md,
# "Layers"; docs/engine.md "Where the runtime lives"):
#  - states/ (the machine runtime): every #include in states/*.c and states/*.h
#    names a system or GLib header (<...>), the build's "config.h", a public
#    header ("sipflow/..."), or another header of states/;
#  - framework/ (the engine around it): the same, plus framework/ headers; it
#    names no module (operators/), nor the message layer (sip/), nor media/.
# Anything else fails the test, with its line.
src=${SF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$src" || exit 1
bad=0
# check DIR ALLOWED-DIRS...: the includes of DIR/*.c and DIR/*.h
check() {
  local dir=$1 files=0 includes=0 f line text target name ok a
  shift
  for f in "$dir"/*.c "$dir"/*.h; do
    [ -e "$f" ] || continue
    files=$((files + 1))
    while IFS=: read -r line text; do
      includes=$((includes + 1))
      target=$(printf '%s\n' "$text" | sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*\([<"][^>"]*[>"]\).*/\1/p')
      name=${target:1:${#target}-2}
      ok=no
      case "$target" in
        \<framework/* | \<operators/* | \<sip/* | \<media/* | \<ua/* | \<states/*) ;;
        \<*) ok=yes ;;
        \"config.h\" | \"sipflow/*\") ok=yes ;;
        \"*/*\") for a in "$@"; do [ "${name%%/*}" = "$a" ] && ok=yes; done ;;
        \"*\") [ -e "$dir/$name" ] && ok=yes ;;
      esac
      if [ "$ok" = no ]; then
        echo "$f:$line: includes ${target:-?}: $dir/ may include only GLib, include/sipflow/ and $* headers"
        bad=$((bad + 1))
      fi
    done < <(grep -n '^[[:space:]]*#[[:space:]]*include' "$f")
  done
  echo "layering: $dir/: $files files, $includes includes"
  [ "$files" -gt 0 ] || bad=$((bad + 1))
}
check states states
check framework framework states
echo "layering: $bad includes from outside the layers under them"
[ "$bad" = 0 ]
