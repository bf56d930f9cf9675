#!/bin/bash
# ops-doc.sh: docs/operators.md is exactly 'sipflow ops --markdown', the
# reference printed from the operator tables, so the two cannot drift.  When an
# operator table changes, 'make operators-doc' rewrites the file; until then
# this test fails with the difference.
SIPFLOW=${SIPFLOW:-$PWD/sipflow}
src=${SF_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
T=$(mktemp)
trap 'rm -f "$T"' EXIT
"$SIPFLOW" ops --markdown >"$T" || { echo "ops-doc: 'sipflow ops --markdown' failed"; exit 1; }
if diff -u "$src/docs/operators.md" "$T"; then
  echo "ops-doc: docs/operators.md matches the operator tables"
else
  echo "ops-doc: docs/operators.md is stale: run 'make operators-doc' and commit it"
  exit 1
fi
