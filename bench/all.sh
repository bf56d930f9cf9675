#!/bin/bash
# all.sh: the comparison of issue 25 in one command: every benchmark the issue
# names, sipflow beside its peer from the same run, and one table of ratios
# against the issue's goals.
#  1. CPU per call under sipp (bench-proxy.sh; bench-redirect.sh: REGISTER
#     with digest and the redirect, location stores memory and sqlite),
#     sipflow with 1 worker and with 2 (core.workers) beside Kamailio with 1
#     and 2 (children), ROUNDS rounds alternated (each script runs sipflow,
#     then Kamailio, with the same WORKERS), sipp with a socket per call
#     (SOURCES=many: the kernel spreads the calls over both servers' sockets);
#     medians. Kamailio runs with its default allocator (q_malloc), and once
#     more per round at 1 worker with TLSF (-x tlsf -X tlsf): q_malloc's free
#     list search is about half of Kamailio's CPU on these jobs.
#  2. The highest clean rate of each job (proxy, redirect, register; memory
#     stores) from bench/sip-blast, above sipp's limit: a fresh server per run,
#     STEP_SECS seconds of calls at each rate of RATES in turn, from
#     BLAST_SOCKETS source ports (default 16: many sources, as many phones),
#     the servers (sipflow 1 and 2 workers, Kamailio 1 and 2) alternated at
#     each rate, each
#     stopped at its first run that is not clean (clean: every call completed,
#     no retransmission by sip-blast or repeated response from the server, no
#     call placed more than 100 ms late) twice in a row.  sip-blast shares the two cores with
#     the server: its own CPU is in the log.
#  3. Parsing beside sofia-sip (bench-parse-vs-sofia.sh): full parse against
#     sofia's msg_make, lazy beside it.
#  4. Memory per binding (bench-bindings.sh, memory stores, over TCP) at each
#     of BINDINGS, beside Kamailio's usrloc.
#  5. Memory per live transaction and CPU per request with them live
#     (bench-txn-mem.sh: non-INVITE server transactions held by Timer J) at
#     each of TXNS, beside Kamailio's tm.
#  6. Flatness in instructions (bench-flat.sh, sipflow alone: Kamailio's
#     workers are processes callgrind does not follow): instructions per
#     request with N bindings and N transactions live, at each of FLAT; the
#     row's ratio is the largest N's figure over the smallest's.
# CPU figures are user+sys from /proc: noisy on a loaded machine (say so when
# quoting them); the parse rates and memory are steadier.
# QUICK=1: a smoke run of a few minutes (small N, one round, coarse rates);
# the full run takes half an hour to an hour.  Every script's output is kept in LOGDIR
# (printed at the end).
# Usage: [QUICK=1] [ROUNDS=N] [RATES="..."] [STEP_SECS=S] [BINDINGS="10000 100000"] [TXNS="1000 10000 100000"]
#        [FLAT="1000 100000"]
#        bench/all.sh [BUILD_DIR]   (default build/bench: configured without sanitizers)
set -u
HERE=$(cd "$(dirname "$0")/.." && pwd)
B=$(cd "${1:-$HERE/build/bench}" && pwd) || exit 2
SIPFLOW=$B/sipflow
BLAST=$B/bench/sip-blast
export PATH=$PATH:/usr/sbin
for f in "$SIPFLOW" "$BLAST"; do
  [ -x "$f" ] || { echo "all.sh: $f not built (make in $B)" >&2; exit 2; }
done
for c in sipp kamailio; do
  command -v "$c" >/dev/null || { echo "all.sh: $c is not installed (Debian package $c)" >&2; exit 2; }
done
if [ "${QUICK:-0}" = 1 ]; then
  ROUNDS=${ROUNDS:-1} CALLS=${CALLS:-2000} RATES=${RATES:-1000 2000 4000 6000 8000 12000}
  STEP_SECS=${STEP_SECS:-2} BINDINGS=${BINDINGS:-10000} PARSE_RUNS=${PARSE_RUNS:-1} TXNS=${TXNS:-1000 10000}
  FLAT=${FLAT:-1000 10000}
else
  ROUNDS=${ROUNDS:-3} CALLS=${CALLS:-10000} RATES=${RATES:-1000 2000 3000 4000 5000 6000 8000 10000 12000 15000 20000}
  STEP_SECS=${STEP_SECS:-5} BINDINGS=${BINDINGS:-10000 100000} PARSE_RUNS=${PARSE_RUNS:-5}
  TXNS=${TXNS:-1000 10000 100000}
  FLAT=${FLAT:-1000 100000}
fi
CPU_RATE=1000 # the rate of the issue's CPU figures
. "$(dirname "$0")/lib.sh"
bench_init
LOGDIR=${LOGDIR:-$(mktemp -d /tmp/bench-all.XXXXXX)}
mkdir -p "$LOGDIR"
HZ=$(getconf CLK_TCK)
RES=$LOGDIR/results # "KEY WHO VALUE" lines, the table's input
: >"$RES"
say() { echo "all.sh: $*" >&2; }
START=$(date +%s)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- 1. CPU per call under sipp ----
# cpu_pass ROUND KW TAG KARGS: bench-proxy.sh and bench-redirect.sh with KW
# workers each, Kamailio started with KARGS; results under sfTAG and kTAG
cpu_pass() {
  local round=$1 kw=$2 tag=$3 kargs=$4 log
  log=$LOGDIR/proxy.$round.$tag
  say "round $round, $kw worker(s) each${kargs:+, Kamailio $kargs}: bench-proxy.sh $CALLS calls at $CPU_RATE/s"
  WORKERS=$kw KWORKERS=$kw SOURCES=many KARGS=$kargs "$HERE/bench/bench-proxy.sh" "$SIPFLOW" "$CALLS" "$CPU_RATE" \
    >"$log" 2>&1
  # "WHO INVITE..BYE via Record-Route: OK of N at R/s, ... = MS ms per 1000"
  sed -n 's/^\([a-z]*\) *INVITE..BYE via Record-Route: \([0-9]*\) of \([0-9]*\) .* = \([0-9.]*\) ms per 1000$/\1 \2 \3 \4/p' \
    "$log" | while read -r who ok n ms; do
    [ "$who" = kamailio ] && who=k$tag
    [ "$who" = sipflow ] && who=sf$tag
    [ "$ok" = "$n" ] || ms="$ms!"
    echo "cpu.proxy $who $ms" >>"$RES"
  done
  log=$LOGDIR/redirect.$round.$tag
  say "round $round, $kw worker(s) each${kargs:+, Kamailio $kargs}: bench-redirect.sh (memory, sqlite) $CALLS at $CPU_RATE/s"
  WORKERS=$kw KWORKERS=$kw SOURCES=many KARGS=$kargs BACKENDS="memory sqlite" "$HERE/bench/bench-redirect.sh" "$SIPFLOW" \
    "$CALLS" "$CPU_RATE" >"$log" 2>&1
  # "WHO BACKEND JOB: OK of N at R/s, ... = MS ms per 1000"
  sed -n 's/^\([a-z]*\) *\([a-z]*\) *\([a-z]*\): *\([0-9]*\) of \([0-9]*\) .* = \([0-9.]*\) ms per 1000.*$/\1 \2 \3 \4 \5 \6/p' \
    "$log" | while read -r who be job ok n ms; do
    [ "$who" = kamailio ] && who=k$tag
    [ "$who" = sipflow ] && who=sf$tag
    [ "$ok" = "$n" ] || ms="$ms!"
    echo "cpu.$job.$be $who $ms" >>"$RES"
  done
}
# Kamailio as Debian starts it uses its q_malloc allocator, which spends
# about half of Kamailio's CPU on these jobs searching its free lists; with
# TLSF ("-x tlsf -X tlsf") it costs a half to a third as much.  The issue's
# figures were taken against the default; the TLSF rows (1 core) are the
# comparison with a Kamailio tuned for speed.
for round in $(seq "$ROUNDS"); do
  cpu_pass "$round" 1 1 ""
  cpu_pass "$round" 2 2 ""
  cpu_pass "$round" 1 1t "-x tlsf -X tlsf"
done

# ---- 2. the highest clean rate, from sip-blast ----
printf 'sipp:sippass\n' >"$T/users"
# blast_run WHO JOB RATE: a fresh server, STEP_SECS s of calls at RATE; logs
# the line; returns 0 when the run is clean
blast_run() {
  local who=$1 job=$2 rate=$3 n=$(($3 * STEP_SECS)) pid port b a line ms cfg shm
  if [ "${who#sf}" != "$who" ]; then
    rm -rf "$XDG_STATE_HOME"
    if [ "$job" = proxy ]; then
      sipflow_start proxy.xml --listen udp:127.0.0.1:0 --set proxy.trusted=127.0.0.0/8 --set "core.workers=${who#sf}" \
        --set core.worker_source=own --log-level error
    else
      sipflow_start redirect.xml --listen udp:127.0.0.1:0 --set "registrar.users=$T/users" --set auth.algorithms=MD5 \
        --set sip.rate_limit=0 --set location.backend=memory --set "core.workers=${who#sf}" --log-level error
    fi
    pid=$SF port=$SF_PORT
    [ -n "$port" ] || { say "sipflow $job did not start: $(tail -1 "$T/err")"; return 1; }
  else
    cfg=kamailio-registrar.cfg
    [ "$job" = proxy ] && cfg=kamailio-proxy.cfg
    # shared memory as bench-proxy.sh and bench-redirect.sh size it
    shm=$((rate * 70 / 1000 + 64))
    [ "$job" = proxy ] && shm=$((rate * 150 / 1000 + 64))
    KWORKERS=${who#k} kamailio_start "$cfg" "$shm" ||
      { say "kamailio $who $job did not start"; return 1; }
    pid=$K port=$KPORT
  fi
  sleep 0.5 # the server settled (Kamailio's workers start after its port is bound)
  b=$(ticks "$pid")
  line=$("$BLAST" -x -s "${BLAST_SOCKETS:-16}" -n "$n" -r "$rate" "$job" "$port")
  a=$(ticks "$pid")
  if [ "${who#sf}" != "$who" ]; then
    echo quit >&3
    exec 3>&-
    rm -f "$T/events"
  else
    kill "$pid"
  fi
  wait "$pid" 2>/dev/null
  ms=$(echo "($a - $b) * 1000000 / $HZ / $n" | bc -l)
  printf '%s %s server_ms_per_1000=%.1f\n' "$who" "$line" "$ms" | tee -a "$LOGDIR/blast" >&2
  echo "$line" | grep -q " completed=$n failed=0 retransmitted=0 retransmissions=0 repeats=0 late=0 "
}
for job in proxy redirect register; do
  declare -A best=() active=([sf1]=1 [sf2]=1 [k1]=1 [k2]=1)
  for rate in $RATES; do
    for who in sf1 sf2 k1 k2; do
      [ "${active[$who]}" = 1 ] || continue
      say "sip-blast $job at $rate/s: $who"
      # a run that is not clean is tried once more: on a shared machine a
      # stall of another process's making can make one call late
      if blast_run "$who" "$job" "$rate" || { say "not clean: once more"; blast_run "$who" "$job" "$rate"; }; then
        best[$who]=$rate
      else
        active[$who]=0
      fi
      sleep 0.5
    done
  done
  for who in sf1 sf2 k1 k2; do
    r=${best[$who]:-<${RATES%% *}}
    # still clean at the top rate: the rate is a floor
    [ "${active[$who]}" = 1 ] && r="$r+"
    echo "rate.$job $who $r" >>"$RES"
  done
done

# ---- 3. parsing beside sofia-sip ----
if [ -x "$B/bench/bench-parse-sofia" ]; then
  say "bench-parse-vs-sofia.sh: 1 s per case, $PARSE_RUNS run(s)"
  "$HERE/bench/bench-parse-vs-sofia.sh" "$B" 1 "$PARSE_RUNS" >"$LOGDIR/parse" 2>&1
  # "| message | bytes | lazy | full | sofia | lazy / sofia | full / sofia |"
  awk -F'|' 'NF > 7 && $3 ~ /[0-9]/ { m = $2; gsub(/^ +| +$/, "", m); gsub(/ /, "_", m)
    l = $4; f = $5; s = $6; gsub(/[ ,]/, "", l); gsub(/[ ,]/, "", f); gsub(/[ ,]/, "", s)
    print "parse.full." m " sipflow " f; print "parse.full." m " sofia " s
    print "parse.lazy." m " sipflow " l; print "parse.lazy." m " sofia " s }' "$LOGDIR/parse" >>"$RES"
else
  say "bench/bench-parse-sofia not built (configure found no sofia-sip-ua): no parse comparison"
fi

# ---- 4. memory per binding ----
for n in $BINDINGS; do
  say "bench-bindings.sh: $n bindings, memory stores"
  BACKENDS=memory "$HERE/bench/bench-bindings.sh" "$SIPFLOW" "$n" 2000 >"$LOGDIR/bindings.$n" 2>&1
  # "WHO memory OK of N registered; server Pss A -> B kB = X bytes per binding ..."
  sed -n 's/^\([a-z]*\) *memory \([0-9]*\) of \([0-9]*\) registered; .* = \(-\{0,1\}[0-9]*\) bytes per binding (VmRSS.*/\1 \2 \3 \4/p' \
    "$LOGDIR/bindings.$n" | while read -r who ok of bytes; do
    [ "$ok" = "$of" ] || bytes="$bytes!"
    echo "bind.$n $who $bytes" >>"$RES"
  done
done

# ---- 5. memory per live transaction, CPU with them live ----
say "bench-txn-mem.sh: $TXNS live transactions"
LEVELS=$TXNS "$HERE/bench/bench-txn-mem.sh" "$SIPFLOW" "$BLAST" >"$LOGDIR/txn-mem" 2>&1
# "WHO N=N completed C/N (...), live L; Pss ... = X bytes per live transaction (...); ... CPU Y ms per 1000"
sed -n 's/^\([a-z]*\) *N=\([0-9]*\) *completed \([0-9]*\)\/[0-9]* .* = \([0-9]*\) bytes per live transaction .* CPU \([0-9]*\) ms per 1000$/\1 \2 \3 \4 \5/p' \
  "$LOGDIR/txn-mem" | while read -r who n ok bytes cpu; do
  [ "$ok" = "$n" ] || { bytes="$bytes!"; cpu="$cpu!"; }
  echo "txn.$n $who $bytes" >>"$RES"
  echo "txncpu.$n $who $cpu" >>"$RES"
done

# ---- 6. instructions per request with N bindings and transactions live ----
say "bench-flat.sh: $FLAT bindings and transactions live (callgrind)"
LEVELS=$FLAT "$HERE/bench/bench-flat.sh" "$SIPFLOW" "$BLAST" >"$LOGDIR/flat" 2>&1
# "N=N registered R/N; live transactions ...; probe C/P completed (retransmitted X) at ...: I instructions per request"
sed -n 's/^N=\([0-9]*\) *registered \([0-9]*\)\/[0-9]*;.* probe \([0-9]*\)\/\([0-9]*\) completed .*: \([0-9]*\) instructions per request$/\1 \2 \3 \4 \5/p' \
  "$LOGDIR/flat" | while read -r n reg ok probe ir; do
  [ "$reg" = "$n" ] && [ "$ok" = "$probe" ] || ir="$ir!"
  echo "flat.$n sipflow $ir" >>"$RES"
done

# ---- the table ----
# med KEY WHO: the median of the figures (a "!" on any: calls were lost)
med() {
  awk -v k="$1" -v w="$2" '$1 == k && $2 == w { v = $3; if (v ~ /!$/) bad = 1; sub(/!$/, "", v); a[++n] = v }
    END { if (!n) { print "-"; exit }
      for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { x = a[j]; a[j] = a[j - 1]; a[j - 1] = x }
      m = n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
      printf "%s%s\n", m, bad ? "!" : "" }' "$RES"
}
# row LABEL SIPFLOW PEER_LABEL PEER GOAL: GOAL "le X" (ratio at most X), "ge X"
# (ratio at least X), "abs_le X UNIT" / "abs_ge X UNIT" (sipflow's own figure), or text
row() {
  local label=$1 sf=$2 plabel=$3 peer=$4 goal=$5 ratio=- met=- gtext
  local s=${sf%!} p=${peer%!}
  s=${s%+} p=${p%+}
  if [[ $s =~ ^[0-9.]+$ && $p =~ ^[0-9.]+$ ]] && [ "$(echo "$p > 0" | bc)" = 1 ]; then
    ratio=$(printf '%.2f' "$(echo "$s / $p" | bc -l)")
  fi
  read -r kind x unit <<<"$goal"
  case $kind in
    le) gtext="≤ $x"; [ "$ratio" != - ] && met=$([ "$(echo "$ratio <= $x" | bc)" = 1 ] && echo yes || echo no) ;;
    ge) gtext="≥ $x"; [ "$ratio" != - ] && met=$([ "$(echo "$ratio >= $x" | bc)" = 1 ] && echo yes || echo no) ;;
    abs_le) gtext="≤ $x $unit"; [[ $s =~ ^[0-9.]+$ ]] && met=$([ "$(echo "$s <= $x" | bc)" = 1 ] && echo yes || echo no) ;;
    abs_ge) gtext="≥ $x $unit"; [[ $s =~ ^[0-9.]+$ ]] && met=$([ "$(echo "$s >= $x" | bc)" = 1 ] && echo yes || echo no) ;;
    *) gtext=$goal ;;
  esac
  # a figure from a run that lost calls is not a measurement of the job
  case "$sf$peer" in *!*) met="no (calls lost: !)" ;; esac
  printf '| %s | %s | %s %s | %s | %s | %s |\n' "$label" "$sf" "$plabel" "$peer" "$ratio" "$gtext" "$met"
}
{
  echo
  echo "Issue 25: sipflow beside its peers ($( [ "${QUICK:-0}" = 1 ] && echo QUICK || echo full) run, $(date -u '+%Y-%m-%d %H:%M') UTC,"
  echo "load average before $LOAD0, after $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores; logs in $LOGDIR)"
  echo "CPU: ms of server CPU per 1000 calls, median of $ROUNDS alternated round(s), $CALLS calls at $CPU_RATE/s under sipp."
  echo "1 core: sipflow core.workers=1 beside Kamailio children=1; all cores: both at 2. Kamailio runs with its"
  echo "default allocator (q_malloc, as Debian starts it) except in the rows \"Kamailio with TLSF\" (-x tlsf -X tlsf)."
  echo
  echo "| metric | sipflow | peer | ratio | goal | met |"
  echo "|---|---|---|---|---|---|"
  for j in "proxy:proxied call (INVITE..BYE via Record-Route)" "redirect.memory:redirect INVITE/302/ACK (memory)" \
    "register.memory:REGISTER with digest (memory)" "redirect.sqlite:redirect INVITE/302/ACK (sqlite, the default store)" \
    "register.sqlite:REGISTER with digest (sqlite, the default store)"; do
    key=cpu.${j%%:*} label=${j#*:}
    row "$label, CPU per 1000, 1 core" "$(med "$key" sf1)" "Kamailio 1 worker" "$(med "$key" k1)" "le 0.5"
    row "$label, CPU per 1000, 2 workers" "$(med "$key" sf2)" "Kamailio 2 workers" "$(med "$key" k2)" "le 0.5"
    row "$label, CPU per 1000, 1 core, Kamailio with TLSF" "$(med "$key" sf1t)" "Kamailio 1 worker, -x tlsf -X tlsf" \
      "$(med "$key" k1t)" "le 0.5"
  done
  for job in proxy redirect register; do
    row "$job: highest clean rate /s (sip-blast, $STEP_SECS s runs), 1 core" "$(med "rate.$job" sf1)" \
      "Kamailio 1 worker" "$(med "rate.$job" k1)" "reported (no figure set)"
    row "$job: highest clean rate /s, 2 workers" "$(med "rate.$job" sf2)" \
      "Kamailio 2 workers" "$(med "rate.$job" k2)" "reported (no figure set)"
  done
  for m in $(awk '$1 ~ /^parse\.full\./ && $2 == "sipflow" { sub(/^parse\.full\./, "", $1); print $1 }' "$RES" | awk '!s[$0]++'); do
    row "parse ${m//_/ }: full msg/s" "$(med "parse.full.$m" sipflow)" "sofia-sip" "$(med "parse.full.$m" sofia)" "ge 2"
    [ "$m" = INVITE ] &&
      row "parse INVITE: lazy msg/s (beside sofia's full)" "$(med "parse.lazy.$m" sipflow)" "sofia-sip" \
        "$(med "parse.lazy.$m" sofia)" "abs_ge 1000000 msg/s"
  done
  for n in $BINDINGS; do
    row "memory per binding, $n bindings (bytes, Pss)" "$(med "bind.$n" sipflow)" "Kamailio usrloc" "$(med "bind.$n" kamailio)" \
      "abs_le 1024 bytes"
  done
  for n in $TXNS; do
    row "memory per live transaction, $n live (bytes, Pss)" "$(med "txn.$n" sipflow)" "Kamailio tm" "$(med "txn.$n" kamailio)" \
      "abs_le 2048 bytes"
  done
  for n in $TXNS; do
    row "CPU per 1000 requests with $n transactions live (flat from 1,000 to 100,000)" "$(med "txncpu.$n" sipflow)" \
      "Kamailio" "$(med "txncpu.$n" kamailio)" "flat"
  done
  for n in $FLAT; do
    row "instructions per request with $n bindings and $n transactions live (callgrind)" "$(med "flat.$n" sipflow)" \
      "-" "-" "flat"
  done
  lo=${FLAT%% *} hi=${FLAT##* }
  row "flatness: instructions per request at $hi live over at $lo live" "$(med "flat.$hi" sipflow)" \
    "sipflow at $lo" "$(med "flat.$lo" sipflow)" "le 1.05"
  echo
  echo "A figure with ! comes from a run that lost calls; a rate with + was still clean at the top of RATES;"
  echo "<R: not clean at the lowest rate R."
  echo "$(($(date +%s) - START)) s in all."
}
