#!/bin/bash
# bench-flat.sh: is the work per request flat from 1,000 to 100,000 live
# transactions and bindings (issue 25)?  Counted in instructions, which the
# machine's load does not change, where bench-txn-mem.sh's CPU probe is
# timed.  At each N of LEVELS, a fresh xml/redirect.xml (memory store) runs
# under valgrind's callgrind with instrumentation off, and:
#  1. fill: N distinct users register once each over UDP, without digest (no
#     users file: the registrar takes any user), from sipp with an injection
#     file; each REGISTER leaves a binding and a non-INVITE server transaction
#     that Timer J keeps 64*T1 (RFC 3261 17.2.2).  T1 is set to FILL_T1_MS
#     (default 8000: Timer J 512 s), so that under valgrind, where the fill
#     takes minutes, none of them ends before the probe: N bindings and N
#     transactions are live when it runs;
#  2. probe: callgrind's instrumentation is switched on (callgrind_control),
#     bench/sip-blast's options job sends PROBE OPTIONS at PROBE_RATE a second
#     to a registered user (one location lookup among the N bindings and one
#     new server transaction among the N live each), the instrumentation is
#     switched off and the counts dumped: instructions per request = the
#     dump's total / PROBE.
# The same requests at each N: a flat line is the goal.  sip-blast's figures
# (completed, retransmitted) are printed beside it: a retransmission under
# valgrind adds work that is not the table's.
# Usage: [LEVELS="1000 100000"] [PROBE=500] [PROBE_RATE=50] [FILL_RATE=1000]
#        bench/bench-flat.sh SIPFLOW [SIP_BLAST]
#        (SIP_BLAST defaults to bench/sip-blast beside SIPFLOW's build)
set -u
SIPFLOW=${1:?usage: bench-flat.sh SIPFLOW [SIP_BLAST]}
BLAST=${2:-$(dirname "$SIPFLOW")/bench/sip-blast}
LEVELS=${LEVELS:-1000 100000}
PROBE=${PROBE:-500}
PROBE_RATE=${PROBE_RATE:-50}
FILL_RATE=${FILL_RATE:-1000}
FILL_T1_MS=${FILL_T1_MS:-8000}
. "$(dirname "$0")/lib.sh"
bench_init
for c in valgrind callgrind_control sipp; do
  command -v "$c" >/dev/null || { echo "bench-flat.sh: $c is not installed" >&2; exit 2; }
done
[ -x "$BLAST" ] || { echo "bench-flat.sh: $BLAST not built" >&2; exit 2; }

traced_binary "$SIPFLOW"

register_scenario "$T/reg.xml"

# field NAME LINE: NAME=VALUE of sip-blast's line
field() { echo "$2" | sed -n "s/.*\b$1=\([^ ]*\).*/\1/p"; }

level() {
  local n=$1 port ok live0 live1 probe ir
  awk -v n="$n" 'BEGIN { print "SEQUENTIAL"; for (i = 1; i <= n; i++) printf "u%07d;\n", i }' >"$T/users.csv"
  rm -f "$T/in" "$T"/cg.out*
  mkfifo "$T/in"
  port=$(free_port)
  valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$T/cg.out" "$BIN" run redirect.xml \
    --listen "udp:127.0.0.1:$port" --set location.backend=memory --set sip.rate_limit=0 --set sip.max_per_source=0 \
    --set "sip.max_instances=$((n * 2 + 10000))" --set "registrar.max_aors=$((n + 10))" \
    --set "sip.t1_ms=$FILL_T1_MS" --log-level error <"$T/in" >"$T/events" 2>"$T/err" &
  SF=$!
  PIDS+=("$SF")
  exec 3>"$T/in"
  for _ in $(seq 600); do grep -q '"listening"' "$T/events" && break; alive "$SF" || break; sleep 0.1; done
  if ! grep -q '"listening"' "$T/events"; then
    echo "N=$n: sipflow did not start: $(tail -2 "$T/err")"
    return
  fi
  sipp "127.0.0.1:$port" -sf "$T/reg.xml" -inf "$T/users.csv" -p "$(free_port)" -i 127.0.0.1 -nostdin -t u1 \
    -m "$n" -r "$FILL_RATE" -l 2000 -timeout $((n / 100 + 600)) -timeout_error -trace_stat -stf "$T/reg.csv" \
    >/dev/null 2>&1
  ok=$(awk -F';' 'NR==1 { for (i = 1; i <= NF; i++) if ($i == "SuccessfulCall(C)") c = i } END { print $c + 0 }' \
    "$T/reg.csv")
  rm -f "$T/reg.csv"
  live0=$(sf_stat transactions_live 60)
  callgrind_control -i on "$SF" >/dev/null
  probe=$("$BLAST" -n "$PROBE" -r "$PROBE_RATE" -t 60 -u u0000001 options "$port" 2>&1 | tr '\n' ' ')
  callgrind_control -i off "$SF" >/dev/null
  callgrind_control -d "$SF" >/dev/null
  live1=$(sf_stat transactions_live 60)
  # the dump callgrind_control -d asked for (cg.out.1): what ran while the
  # instrumentation was on, the probe (its summary line says 0, its totals line
  # holds the count)
  ir=$(awk '/^totals:/ { print $2; exit }' "$T/cg.out.1" 2>/dev/null)
  printf 'N=%-6s registered %s/%s; live transactions %s before the probe, %s after; probe %s/%s completed (retransmitted %s) at %s/s: %.0f instructions per request\n' \
    "$n" "$ok" "$n" "$live0" "$live1" "$(field completed "$probe")" "$PROBE" "$(field retransmitted "$probe")" \
    "$PROBE_RATE" "$(echo "${ir:-0} / $PROBE" | bc -l)"
  echo quit >&3
  exec 3>&-
  wait "$SF" 2>/dev/null
}

for n in $LEVELS; do level "$n"; done
