#!/bin/bash
# bench-redirect.sh: CPU time of xml/redirect.xml under sipp at a fixed rate
# (issue 7's benchmark), and of Kamailio set up for the same job when it is
# installed (bench/kamailio-registrar.cfg), from the same run:
#  - REGISTER with digest: each registration is REGISTER, 401, REGISTER with
#    credentials, 200 (tests/integration/sipp/uac-register.xml);
#  - redirect: INVITE, 302 with the registered contact, ACK
#    (tests/integration/sipp/uac-302.xml), after one registration.
# Server CPU is user+sys from /proc/PID/stat (fields 14, 15), summed over the
# server's processes (Kamailio forks) and threads (sipflow's SQLite writer),
# before and after each run.
# Each location store of BACKENDS is measured for both servers, set up alike:
#  - memory: sipflow location.backend=memory; Kamailio usrloc db_mode 0;
#  - sqlite: sipflow location.backend=sqlite (its own file); Kamailio usrloc
#    db_mode 1 (write-through) on db_sqlite (its own file, made from the
#    schema of kamailio-sqlite-modules);
#  - redis: a redis-server of the script's own on a free loopback port, emptied
#    before each server's run; sipflow location.backend=redis; Kamailio usrloc
#    on db_redis, db_mode 3 (DB only: the lookups read Redis too, as nodes
#    sharing one store need; KREDIS_DBMODE=1 for write-through); the
#    redis-server's CPU is measured too and shown apart;
#  - none: no location key given to sipflow (a build before the location
#    backends), Kamailio as for memory.
# A build whose `sipflow run` refuses a backend is reported ("sipflow redis
# backend: not available in this build") and the Kamailio runs still go on.
# ROUNDS rounds, each running every backend, sipflow then Kamailio; then a
# summary: per job and backend the ms per 1000 of each run and the ratios
# sipflow / Kamailio, with their median.
# KARGS adds options to Kamailio's command line: "-x tlsf -X tlsf" takes its
# TLSF allocator for shared and private memory instead of the default qm,
# whose search of its free lists is most of db_redis's cost (bench/README.md).
# WORKERS=N (default 1) runs sipflow with core.workers=N and Kamailio with N
# workers (-n; KWORKERS, default 2, wins for Kamailio when set); SOURCES=many
# has sipp's INVITEs use a socket per call (-t un), spreading the calls over
# the workers' SO_REUSEPORT sockets (docs/workers.md).
# Usage: [BACKENDS="sqlite memory redis"] [ROUNDS=1] [KARGS=...] bench/bench-redirect.sh SIPFLOW [CALLS [RATE]]
#        (defaults: BACKENDS "sqlite memory", ROUNDS 1, CALLS 5000, RATE 1000)
set -u
SIPFLOW=${1:?usage: bench-redirect.sh SIPFLOW [CALLS [RATE]]}
CALLS=${2:-5000}
RATE=${3:-1000}
BACKENDS=${BACKENDS:-sqlite memory}
ROUNDS=${ROUNDS:-1}
KREDIS_DBMODE=${KREDIS_DBMODE:-3}
HERE=$(cd "$(dirname "$0")/.." && pwd)
SCEN=$HERE/tests/integration/sipp
. "$(dirname "$0")/lib.sh"
bench_init
HZ=$(getconf CLK_TCK)
export KWORKERS=${KWORKERS:-${WORKERS:-2}}
WORKERS=${WORKERS:-1}
SRC=()
[ "${SOURCES:-one}" = many ] && SRC=(-t un -max_socket 2000)

# run NAME PORT SCENARIO ARGS...: one sipp run; prints "successful wall"
run() {
  local name=$1 port=$2 scen=$3
  shift 3
  local start end ok
  start=$(date +%s.%N)
  sipp "127.0.0.1:$port" -sf "$scen" -p "$(free_port)" -i 127.0.0.1 -nostdin -timeout 300 -timeout_error \
    -trace_stat -stf "$T/$name.csv" "$@" >/dev/null 2>&1
  end=$(date +%s.%N)
  ok=$(awk -F';' 'NR==1 { for (i = 1; i <= NF; i++) if ($i == "SuccessfulCall(C)") c = i } END { print $c }' "$T/$name.csv")
  rm -f "$T/$name.csv"
  echo "${ok:-0} $(echo "$end - $start" | bc -l)"
}

# one WHO BACKEND ROUND JOB PORT SCENARIO SIPP-ARGS -- PIDS: one sipp run, the
# server's CPU (and the redis-server's) before and after; prints the line and
# appends "JOB BACKEND WHO ROUND SERVER_MS REDIS_MS OK" to $T/results
one() {
  local who=$1 backend=$2 round=$3 job=$4 port=$5 scen=$6
  shift 6
  local args=() b a rb=0 ra=0 res ms rms
  while [ "$1" != -- ]; do args+=("$1"); shift; done
  shift
  [ "$backend" = redis ] && rb=$(ticks "$REDIS_PID")
  b=$(ticks "$@")
  # a socket per call for the INVITEs only: the REGISTERs from a port each
  # would be as many bindings of one address-of-record (registrar.max_bindings)
  local src=()
  [ "$job" = redirect ] && src=("${SRC[@]}")
  res=$(run "$who-$job" "$port" "$scen" "${src[@]}" "${args[@]}")
  a=$(ticks "$@")
  [ "$backend" = redis ] && ra=$(ticks "$REDIS_PID")
  ms=$(echo "($a - $b) * 1000000 / $HZ / $CALLS" | bc -l)
  rms=$(echo "($ra - $rb) * 1000000 / $HZ / $CALLS" | bc -l)
  printf '%-8s %-6s %-16s %s of %s at %s/s, wall %.1f s, server CPU %.2f s = %.1f ms per 1000' "$who" "$backend" \
    "$job:" "${res% *}" "$CALLS" "$RATE" "${res#* }" "$(echo "($a - $b) / $HZ" | bc -l)" "$ms"
  [ "$backend" = redis ] && printf ', redis-server %.1f ms per 1000, %s keys in Redis' "$rms" \
    "$(redis-cli -p "$REDIS_PORT" info keyspace | tr -d '\r' | awk -F'[=,]' '/^db/ { n += $2 } END { print n + 0 }')"
  printf '\n'
  printf '%s %s %s %s %.1f %.1f %s\n' "$job" "$backend" "$who" "$round" "$ms" "$rms" "${res% *}" >>"$T/results"
  [ "$who" = sipflow ] && [ "$WORKERS" -gt 1 ] && sf_handed "$CALLS"
  return 0
}

# measure WHO BACKEND ROUND PORT PIDS: the REGISTER run, then the 302 run
# (after it, the registrations of the first run are there to be found)
measure() {
  local who=$1 backend=$2 round=$3 port=$4
  shift 4
  one "$who" "$backend" "$round" register "$port" "$SCEN/uac-register.xml" -s sipp -au sipp -ap sippass \
    -m "$CALLS" -r "$RATE" -- "$@"
  one "$who" "$backend" "$round" redirect "$port" "$SCEN/uac-302.xml" -s sipp -m "$CALLS" -r "$RATE" -- "$@"
}

# redis_empty: the shared redis-server emptied, before each server's run
redis_empty() {
  redis-cli -p "$REDIS_PORT" flushall >/dev/null
}

# sipflow_run BACKEND ROUND
sipflow_run() {
  local backend=$1 round=$2 loc=() sf port
  case $backend in
    memory) loc=(--set location.backend=memory) ;;
    sqlite) loc=(--set location.backend=sqlite --set "location.uri=$T/sf-$round.sqlite") ;;
    redis) loc=(--set location.backend=redis --set "location.uri=redis://127.0.0.1:$REDIS_PORT/0"
      --set "location.password=$REDIS_PASS"); redis_empty ;;
  esac
  # sip.rate_limit off: sipp's one address sends far more than a phone would (an
  # older build without the key: EXTRA= bench/bench-redirect.sh ...)
  # shellcheck disable=SC2086
  sipflow_start redirect.xml --listen udp:127.0.0.1:0 --set "registrar.users=$T/users" --set auth.algorithms=MD5 \
    ${EXTRA---set sip.rate_limit=0} "${loc[@]}" --set "core.workers=$WORKERS" --log-level error
  sf=$SF
  port=$SF_PORT
  if [ -z "$port" ]; then
    sipflow_unstarted "$backend"
    return
  fi
  SF_HANDED=0
  SF_WAKEUPS=0
  measure sipflow "$backend" "$round" "$port" "$sf"
  echo quit >&3
  exec 3>&-
  wait "$sf" 2>/dev/null
}

# kamailio_run BACKEND ROUND
kamailio_run() {
  local backend=$1 round=$2 store=() kport k
  case $backend in
    sqlite)
      kamailio_sqlite "$T/k-$round.sqlite"
      store=(-A STORE_SQLITE -A "DBURL=\"sqlite:///$T/k-$round.sqlite\"") ;;
    redis)
      redis_empty
      store=(-A STORE_REDIS -A "DBURL=\"redis://bench:$REDIS_PASS@127.0.0.1:$REDIS_PORT/1\"" -A "DBMODE=$KREDIS_DBMODE") ;;
  esac
  if ! kamailio_start kamailio-registrar.cfg $((RATE * 70 / 1000 + 64)) "${store[@]}"; then
    echo "kamailio $backend: did not start: not measured"
    return
  fi
  kport=$KPORT
  k=$K
  measure kamailio "$backend" "$round" "$kport" "$k"
  kill "$k"
  wait "$k" 2>/dev/null
}

printf 'sipp:sippass\n' >"$T/users"
KAM=1
if ! command -v kamailio >/dev/null; then
  echo "kamailio: not installed (Debian package kamailio): no comparison"
  KAM=
fi
backends_redis
for round in $(seq "$ROUNDS"); do
  for backend in $BACKENDS; do
    sipflow_run "$backend" "$round"
    [ -n "$KAM" ] && kamailio_run "$backend" "$round"
  done
done

# the summary: per job and backend, each round's figures and ratios, median ratio
[ -n "$KAM" ] || exit 0
echo
echo "job       backend  sipflow ms/1000 (runs)   Kamailio ms/1000 (same runs)   ratios sipflow/Kamailio   median"
for job in register redirect; do
  for backend in $BACKENDS; do
    awk -v job="$job" -v be="$backend" -v n="$ROUNDS" '
      $1 == job && $2 == be && $3 == "sipflow" { s[$4] = $5; sr[$4] = $6 }
      $1 == job && $2 == be && $3 == "kamailio" { k[$4] = $5; kr[$4] = $6 }
      END {
        m = 0; ss = ""; ks = ""; rs = ""
        for (i = 1; i <= n; i++) {
          ss = ss (i > 1 ? ", " : "") (i in s ? s[i] (be == "redis" ? "+" sr[i] : "") : "-")
          ks = ks (i > 1 ? ", " : "") (i in k ? k[i] (be == "redis" ? "+" kr[i] : "") : "-")
          if ((i in s) && (i in k) && k[i] + kr[i] > 0) { r[++m] = (s[i] + sr[i]) / (k[i] + kr[i]); rs = rs (m > 1 ? ", " : "") sprintf("%.2f", r[m]) }
        }
        for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
        med = m == 0 ? "-" : (m % 2 ? sprintf("%.2f", r[(m + 1) / 2]) : sprintf("%.2f", (r[m / 2] + r[m / 2 + 1]) / 2))
        printf "%-9s %-8s %-24s %-30s %-25s %s\n", job, be, ss, ks, (m ? rs : "-"), med
      }' "$T/results"
  done
done
case " $BACKENDS " in
  *" redis "*) echo "(redis: server + redis-server ms per 1000; the ratio is of the sums)" ;;
esac
