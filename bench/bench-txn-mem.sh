#!/bin/bash
# bench-txn-mem.sh: memory per live server transaction, and CPU per request
# with many of them live (issue 25: "at most 2 KB per live transaction; CPU
# per call flat from 1,000 to 100,000 live transactions"), for
# xml/redirect.xml and for Kamailio set up alike (bench/kamailio-registrar.cfg),
# one after the other, at each N of LEVELS.
# A fresh server per N.  bench/sip-blast (its options job) sends N OPTIONS at
# RATE a second over UDP to a user with no binding: each gets its final
# response (480 or 404) through a non-INVITE server transaction, which Timer J
# keeps 64*T1 = 32 s after it (RFC 3261 17.2.2); Kamailio's tm keeps its
# transactions 32 s after the final response too (-A TXN_WAIT: its
# wt_timer, as Timer J; its default is 5 s).  N / RATE must stay well
# under 32 s, so that none has ended when they are counted.
# Right after the last final response:
#  - the live transactions: sipflow's `status` (transactions_live of its
#    stats event), Kamailio's `kamcmd tm.stats` (current);
#  - the server's memory: Pss from /proc/PID/smaps_rollup summed over its
#    processes (Kamailio's transactions are in shared memory its workers
#    share: Pss counts those pages once), and VmRSS of the main process;
# per live transaction = (after - before) / live, "before" taken after the
# server started, before the first request.
# Then the CPU probe: PROBE more OPTIONS at PROBE_RATE a second with those N
# live, and the server's user+sys CPU over it (/proc/PID/stat, processes and
# threads summed) as ms per 1,000 requests; that figure at each N is the
# flatness (the same requests, only the number of live transactions differs).
# The fill's CPU per 1,000 is printed too (at RATE, so not comparable across
# servers when either falls behind: sip-blast's retransmissions say so).
# KAMAILIO=no leaves Kamailio out; KARGS adds options to its command line;
# SIPFLOW_ARGS to sipflow's (lib.sh).
# Usage: [LEVELS="1000 10000 100000"] [RATE=5000] [PROBE=2000] [PROBE_RATE=1000]
#        bench/bench-txn-mem.sh SIPFLOW [SIP_BLAST]
#        (SIP_BLAST defaults to bench/sip-blast beside SIPFLOW's build)
set -u
SIPFLOW=${1:?usage: bench-txn-mem.sh SIPFLOW [SIP_BLAST]}
BLAST=${2:-$(dirname "$SIPFLOW")/bench/sip-blast}
LEVELS=${LEVELS:-1000 10000 100000}
RATE=${RATE:-5000}
PROBE=${PROBE:-2000}
PROBE_RATE=${PROBE_RATE:-1000}
. "$(dirname "$0")/lib.sh"
bench_init
HZ=$(getconf CLK_TCK)
[ -x "$BLAST" ] || { echo "bench-txn-mem.sh: $BLAST not built" >&2; exit 2; }

vmrss() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }

# blast N RATE PORT: sip-blast's options job; prints its figures line
blast() {
  "$BLAST" -n "$1" -r "$2" -t 30 options "$3" 2>&1 | tr '\n' ' '
}

# field NAME LINE: NAME=VALUE of sip-blast's line
field() { echo "$2" | sed -n "s/.*\b$1=\([^ ]*\).*/\1/p"; }

sf_live() { sf_stat transactions_live; }
kam_live() {
  kamcmd -s "unix:$T/run/ctl" tm.stats 2>/dev/null | sed -n 's/^[[:space:]]*current:[[:space:]]*//p' | head -1
}

# measure WHO PID PORT LIVEFN N: fill, count, memory, probe; one line
measure() {
  local who=$1 pid=$2 port=$3 live=$4 n=$5 p0 p1 r0 r1 c0 c1 c2 fill probe l1 l2
  sleep 1
  p0=$(pss "$pid"); r0=$(vmrss "$pid")
  c0=$(ticks "$pid")
  fill=$(blast "$n" "$RATE" "$port")
  c1=$(ticks "$pid")
  l1=$($live)
  p1=$(pss "$pid"); r1=$(vmrss "$pid")
  probe=$(blast "$PROBE" "$PROBE_RATE" "$port")
  c2=$(ticks "$pid")
  l2=$($live)
  printf '%-8s N=%-6s completed %s/%s (retransmitted %s, rother %s), live %s; Pss %d -> %d kB = %.0f bytes per live transaction (VmRSS %d -> %d kB = %.0f); fill CPU %.0f ms per 1000 at %s/s; probe %s/%s completed (retransmitted %s) at %s/s, live after %s: CPU %.0f ms per 1000\n' \
    "$who" "$n" "$(field completed "$fill")" "$n" "$(field retransmitted "$fill")" "$(field rother "$fill")" "$l1" \
    "$p0" "$p1" "$(echo "($p1 - $p0) * 1024 / ${l1:-1}" | bc -l)" "$r0" "$r1" "$(echo "($r1 - $r0) * 1024 / ${l1:-1}" | bc -l)" \
    "$(echo "($c1 - $c0) * 1000 / $HZ * 1000 / $n" | bc -l)" "$RATE" \
    "$(field completed "$probe")" "$PROBE" "$(field retransmitted "$probe")" "$PROBE_RATE" "$l2" \
    "$(echo "($c2 - $c1) * 1000 / $HZ * 1000 / $PROBE" | bc -l)"
}

sipflow_level() {
  local n=$1
  sipflow_start redirect.xml --listen "udp:127.0.0.1:0" --set sip.rate_limit=0 --set sip.max_per_source=0 \
    --set sip.max_instances=$((n * 2 + 10000)) --set location.backend=memory --log-level error
  if [ -z "$SF_PORT" ]; then
    sipflow_unstarted memory
    return
  fi
  measure sipflow "$SF" "$SF_PORT" sf_live "$n"
  echo quit >&3
  exec 3>&-
  wait "$SF" 2>/dev/null
}

kamailio_level() {
  local n=$1
  # shared memory: room for N transactions at up to 16 KB each (about 13 KB measured)
  if ! kamailio_start kamailio-registrar.cfg $((n * 16 / 1000 + 256)) -A TXN_WAIT \
    -A "CTL=\"unix:$T/run/ctl\""; then
    echo "kamailio: did not start: not measured"
    return
  fi
  measure kamailio "$K" "$KPORT" kam_live "$n"
  kill "$K"
  wait "$K" 2>/dev/null
}

KAM=${KAMAILIO:-yes}
if [ "$KAM" != no ] && ! command -v kamailio >/dev/null; then
  echo "kamailio: not installed (Debian package kamailio): no comparison"
  KAM=no
fi
for n in $LEVELS; do
  sipflow_level "$n"
  [ "$KAM" = no ] || kamailio_level "$n"
done
