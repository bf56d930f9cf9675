#!/bin/bash
# bench-bindings.sh: memory per binding with N bindings (issue 18's benchmark),
# in each location store of BACKENDS, for xml/redirect.xml and for Kamailio set
# up alike (bench/kamailio-registrar.cfg with NOAUTH), one after the other.
# N distinct users register once each, without digest (no users file: the
# registrar takes any user; digest would add a challenge and a nonce per
# user, not a byte per binding), from sipp at RATE a second with an injection
# file made here (users u0000001..., Contact sip:USER@127.0.0.1:PORT, Expires
# 3600), every 200 awaited, over TRANSPORT (default tcp, one connection):
# over TCP a server transaction ends with its 200 (Timer J is 0), where over
# udp each is kept 32 s: at 2,000 a second some 64,000 of them would be live
# at once, and the heap they grow (about 10 KB each) is not given back to the
# system when they end, so RSS would measure the transactions' peak, not the
# bindings.
# Measured before the first REGISTER and once everything is settled:
#  - the server's memory: Pss from /proc/PID/smaps_rollup, summed over its
#    processes (Kamailio keeps the bindings in shared memory its workers share:
#    Pss counts those pages once; for sipflow, one process, Pss is its RSS
#    less its share of the libraries), and VmRSS of the main process;
#  - sqlite: the database file and its WAL (sipflow's file; Kamailio's
#    db_sqlite file);
#  - redis: used_memory (INFO memory) of the script's own redis-server.
# Settled, for sipflow: sipp has its N 200s, `location count` says N bindings,
# and the stats say no transaction is left; for Kamailio: sipp has its N 200s
# (save() answers statelessly once the contact is stored, written to the
# database first in db_mode 1 and 3) and usrloc's statistics say N contacts
# (db_mode 0 and 1). Per binding = (after - before) / N.
# sqlite, sipflow: then the server is stopped and started again on its file,
# and once `location count` says N, Pss is taken again beside that of a start
# on an empty file: the bindings loaded at start, no transaction ever made.
# Kamailio on db_sqlite runs with one worker (KWORKERS): with two, their
# writes collide ("database is locked": db_sqlite sets no busy timeout) and
# more than half the REGISTERs of distinct users get 500.
# Backends: memory, sqlite (sipflow location.backend; Kamailio usrloc db_mode 0,
# db_mode 1 on db_sqlite), redis (sipflow location.backend=redis; Kamailio
# db_redis, db_mode 3, KREDIS_DBMODE to change). A build whose `sipflow run`
# refuses a backend is reported ("sipflow redis backend: not available in this
# build"); KAMAILIO=no leaves Kamailio out; KARGS adds options to its command
# line (as for bench-redirect.sh).
# Usage: [BACKENDS="memory sqlite redis"] [TRANSPORT=tcp] bench/bench-bindings.sh SIPFLOW [N [RATE]]
#        (defaults: BACKENDS "memory sqlite redis", TRANSPORT tcp, N 100000, RATE 2000)
set -u
SIPFLOW=${1:?usage: bench-bindings.sh SIPFLOW [N [RATE]]}
N=${2:-100000}
RATE=${3:-2000}
BACKENDS=${BACKENDS:-memory sqlite redis}
KREDIS_DBMODE=${KREDIS_DBMODE:-3}
TRANSPORT=${TRANSPORT:-tcp}
SIPP_T=u1
[ "$TRANSPORT" = tcp ] && SIPP_T=t1

. "$(dirname "$0")/lib.sh"
bench_init

# the users, one a line, and the REGISTER each sends once
awk -v n="$N" 'BEGIN { print "SEQUENTIAL"; for (i = 1; i <= n; i++) printf "u%07d;\n", i }' >"$T/users.csv"
register_scenario "$T/reg.xml"

# register PORT: the N REGISTERs; prints how many got their 200
register() {
  sipp "127.0.0.1:$1" -sf "$T/reg.xml" -inf "$T/users.csv" -p "$(free_port)" -i 127.0.0.1 -nostdin -t "$SIPP_T" \
    -m "$N" -r "$RATE" -l 2000 -timeout $((N / RATE + 300)) -timeout_error -trace_stat -stf "$T/reg.csv" \
    >/dev/null 2>&1
  awk -F';' 'NR==1 { for (i = 1; i <= NF; i++) if ($i == "SuccessfulCall(C)") c = i } END { print $c + 0 }' "$T/reg.csv"
  rm -f "$T/reg.csv"
}

# wait_for SECONDS COMMAND...: runs COMMAND every 0.2 s until it succeeds
wait_for() {
  for _ in $(seq $(($1 * 5))); do
    "${@:2}" && return 0
    sleep 0.2
  done
  return 1
}

# sipflow's state, through its control socket: the bindings; the stats line
# that `status` writes on its events
sf_bindings() {
  # with redis the node holds no binding: count the hashes (one contact each)
  if [ "$SF_BACKEND" = redis ]; then
    redis-cli -p "$REDIS_PORT" --scan --pattern 'sipflow:loc:*' | wc -l
    return
  fi
  "$SIPFLOW" ctl "$T/ctl" location count 2>/dev/null | sed -n 's/.*"bindings":\([0-9]*\).*/\1/p'
}
sf_settled() {
  local n
  n=$(grep -c '"event":"stats"' "$T/events")
  "$SIPFLOW" ctl "$T/ctl" status >/dev/null 2>&1 || return 1
  wait_for 5 test "$(grep -c '"event":"stats"' "$T/events")" -gt "$n" || return 1
  grep '"event":"stats"' "$T/events" | tail -1 | grep -q '"transactions_live":0[,}]' &&
    [ "$(sf_bindings)" = "$N" ]
}
kam_contacts() {
  kamcmd -s "unix:$T/run/ctl" stats.get_statistics usrloc: 2>/dev/null | sed -n 's/^usrloc:location_contacts = *//p'
}
kam_settled() { [ "$(kam_contacts)" = "$N" ]; }

# report WHO BACKEND OK PSS0 PSS1 RSS0 RSS1 [REDIS0 REDIS1] [FILE...]
report() {
  local who=$1 backend=$2 ok=$3 p0=$4 p1=$5 r0=$6 r1=$7
  shift 7
  printf '%-8s %-6s %s of %s registered; server Pss %d -> %d kB = %.0f bytes per binding (VmRSS %d -> %d kB = %.0f)' \
    "$who" "$backend" "$ok" "$N" "$p0" "$p1" "$(echo "($p1 - $p0) * 1024 / $N" | bc -l)" "$r0" "$r1" \
    "$(echo "($r1 - $r0) * 1024 / $N" | bc -l)"
  if [ "$backend" = redis ]; then
    printf '; redis used_memory %d -> %d = %.0f bytes per binding' "$1" "$2" "$(echo "($2 - $1) / $N" | bc -l)"
    shift 2
  fi
  [ $# -gt 0 ] && printf '; file %s + WAL %s bytes = %.0f per binding' "$(filesize "$1")" "$(filesize "$2")" \
    "$(echo "$(filesize "$@") / $N" | bc -l)"
  printf '\n'
}

vmrss() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }

# load WHO BACKEND PID PORT CTL SETTLED SECONDS [FILES...]: the memory before,
# the N REGISTERs, SETTLED awaited up to SECONDS, the memory after, reported
load() {
  local who=$1 backend=$2 pid=$3 port=$4 ctl=$5 settled=$6 secs=$7 p0 p1 r0 r1 ok m=()
  shift 7
  wait_for 5 test -S "$ctl"
  p0=$(pss "$pid"); r0=$(vmrss "$pid")
  [ "$backend" = redis ] && m=("$(redis_used)")
  ok=$(register "$port")
  wait_for "$secs" "$settled" || echo "$who $backend: not settled within $secs s after sipp's last 200: measured anyway"
  p1=$(pss "$pid"); r1=$(vmrss "$pid")
  [ "$backend" = redis ] && m+=("$(redis_used)")
  report "$who" "$backend" "$ok" "$p0" "$p1" "$r0" "$r1" "${m[@]}" "$@"
}

sipflow_bindings() {
  local backend=$1 loc=() files=()
  SF_BACKEND=$backend
  case $backend in
    memory) loc=(--set location.backend=memory) ;;
    sqlite) loc=(--set location.backend=sqlite --set "location.uri=$T/sf.sqlite"); files=("$T/sf.sqlite" "$T/sf.sqlite-wal") ;;
    redis) redis-cli -p "$REDIS_PORT" flushall >/dev/null
      loc=(--set location.backend=redis --set "location.uri=redis://127.0.0.1:$REDIS_PORT/0"
      --set "location.password=$REDIS_PASS") ;;
  esac
  sipflow_start redirect.xml --listen "$TRANSPORT:127.0.0.1:0" --control "$T/ctl" --set sip.rate_limit=0 \
    --set "registrar.max_aors=$N" --set registrar.max_expires=3600 "${loc[@]}" --log-level error
  if [ -z "$SF_PORT" ]; then
    sipflow_unstarted "$backend"
    return
  fi
  load sipflow "$backend" "$SF" "$SF_PORT" "$T/ctl" sf_settled 120 "${files[@]}"
  sf_stop
  [ "$backend" = sqlite ] && sf_loaded
}

sf_stop() {
  echo quit >&3
  exec 3>&-
  wait "$SF" 2>/dev/null
  rm -f "$T/ctl"
}

# sf_loaded: sipflow started on an empty file, then on the file of N bindings
# (the core loads them at start); Pss of each once `location count` is right
sf_loaded() {
  local p0 p1 f
  for f in "$T/empty.sqlite" "$T/sf.sqlite"; do
    sipflow_start redirect.xml --listen "$TRANSPORT:127.0.0.1:0" --control "$T/ctl" --set "registrar.max_aors=$N" \
      --set location.backend=sqlite --set "location.uri=$f" --log-level error
    wait_for 5 test -S "$T/ctl"
    if [ "$f" = "$T/empty.sqlite" ]; then
      wait_for 10 test "$(sf_bindings)" = 0
      p0=$(pss "$SF")
    else
      wait_for 60 test "$(sf_bindings)" = "$N" || echo "sipflow  sqlite: $(sf_bindings) bindings loaded, not $N"
      p1=$(pss "$SF")
    fi
    sf_stop
  done
  printf 'sipflow  sqlite restarted on the file: Pss %d kB (empty file) -> %d kB (%s bindings loaded) = %.0f bytes per binding\n' \
    "$p0" "$p1" "$N" "$(echo "($p1 - $p0) * 1024 / $N" | bc -l)"
}

kamailio_bindings() {
  local backend=$1 store=() files=()
  case $backend in
    sqlite) kamailio_sqlite "$T/k.sqlite"
      store=(-A STORE_SQLITE -A "DBURL=\"sqlite:///$T/k.sqlite\"")
      files=("$T/k.sqlite" "$T/k.sqlite-wal") ;;
    redis) redis-cli -p "$REDIS_PORT" flushall >/dev/null
      store=(-A STORE_REDIS -A "DBURL=\"redis://bench:$REDIS_PASS@127.0.0.1:$REDIS_PORT/1\"" -A "DBMODE=$KREDIS_DBMODE") ;;
  esac
  # shared memory: about 2 KB per contact and its index, and room
  local tcp=()
  [ "$TRANSPORT" = tcp ] && tcp=(-A TCP)
  # shellcheck disable=SC2034 # read by kamailio_start
  [ "$backend" = sqlite ] && local KWORKERS=1
  if ! kamailio_start kamailio-registrar.cfg $((N * 3 / 1000 + 128)) -A NOAUTH "${tcp[@]}" -A "CTL=\"unix:$T/run/ctl\"" "${store[@]}"; then
    echo "kamailio $backend: did not start: not measured"
    return
  fi
  local settle=kam_settled
  [ "$backend" = redis ] && [ "$KREDIS_DBMODE" = 3 ] && settle=true # no count in memory: sipp's 200s say it
  load kamailio "$backend" "$K" "$KPORT" "$T/run/ctl" "$settle" 30 "${files[@]}"
  [ "$backend" = redis ] &&
    echo "kamailio redis: $(redis-cli -p "$REDIS_PORT" -n 1 dbsize) keys in Redis (per contact a hash and a set per user)"
  kill "$K"
  wait "$K" 2>/dev/null
}

KAM=${KAMAILIO:-yes}
if [ "$KAM" != no ] && ! command -v kamailio >/dev/null; then
  echo "kamailio: not installed (Debian package kamailio): no comparison"
  KAM=no
fi
backends_redis
for backend in $BACKENDS; do
  sipflow_bindings "$backend"
  [ "$KAM" = no ] || kamailio_bindings "$backend"
done
