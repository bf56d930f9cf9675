# lib.sh: helpers the benchmarks share (sourced).

# bench_init: T, a temporary directory removed at exit; XDG_STATE_HOME in it
# (each sipflow gets its own location database and secret); PIDS, the
# processes to stop at exit: TERM to each, KILL after 5 s to what is left
bench_init() {
  T=$(mktemp -d)
  export XDG_STATE_HOME="$T/state"
  PIDS=()
  trap bench_cleanup EXIT
}
bench_cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for _ in $(seq 50); do
    for p in "${PIDS[@]}"; do alive "$p" && break; p=; done
    [ -z "$p" ] && break
    sleep 0.1
  done
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$T"
}

# ticks PID...: user+sys clock ticks (/proc/PID/stat fields 14, 15) of these
# processes and their children (Kamailio forks its workers)
ticks() {
  local sum=0 p
  for p in "$@" $(for q in "$@"; do pgrep -P "$q"; done); do
    [ -r "/proc/$p/stat" ] && sum=$((sum + $(awk '{ print $14 + $15 }' "/proc/$p/stat")))
  done
  echo "$sum"
}

# bound PORT: UDP port PORT is bound on this machine (/proc/net/udp, hex)
bound() {
  grep -q -i ":$(printf '%04X' "$1") " /proc/net/udp /proc/net/udp6 2>/dev/null
}

# tcp_bound PORT: TCP port PORT is listening (/proc/net/tcp, hex)
tcp_bound() {
  grep -q -i ":$(printf '%04X' "$1") [0-9A-F:]* 0A " /proc/net/tcp 2>/dev/null
}

# free_port: a loopback port neither UDP nor TCP uses now
free_port() {
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    bound "$p" || tcp_bound "$p" || { echo "$p"; return; }
  done
}

# alive PID: the process runs (not gone, not a zombie)
alive() {
  local st
  read -r _ _ st _ 2>/dev/null <"/proc/$1/stat" && [ "$st" != Z ]
}

# pss PID...: proportional set size in kB of these processes and their
# children, from /proc/PID/smaps_rollup: Kamailio's workers share its shared
# memory (the bindings), which Pss counts once, where a sum of RSS would count
# it once per process
pss() {
  local sum=0 p v
  for p in "$@" $(for q in "$@"; do pgrep -P "$q"; done); do
    v=$(awk '$1 == "Pss:" { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null)
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}

# redis_start DIR: a redis-server of its own on a free loopback port, its
# files in DIR, saving nothing to disk (as a cache node would; both servers
# measured against it alike), requirepass $REDIS_PASS (a redis store without
# a password does not start; redis-cli takes it from REDISCLI_AUTH); sets
# REDIS_PORT and REDIS_PID; returns 1 when redis-server is missing or does not
# start within 5 s
REDIS_PASS=bench$$pass
export REDISCLI_AUTH=$REDIS_PASS
redis_start() {
  local dir=$1
  command -v redis-server >/dev/null || return 1
  mkdir -p "$dir"
  REDIS_PORT=$(free_port)
  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$dir" --save '' --appendonly no \
    --requirepass "$REDIS_PASS" --daemonize no --logfile "$dir/redis.log" >/dev/null 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 100); do
    [ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && return 0
    alive "$REDIS_PID" || break
    sleep 0.05
  done
  return 1
}

# redis_used: used_memory in bytes of the redis-server of redis_start
redis_used() {
  redis-cli -p "$REDIS_PORT" info memory | tr -d '\r' | awk -F: '$1 == "used_memory" { print $2 }'
}

# kamailio_sqlite FILE: a db_sqlite file holding the tables usrloc needs (the
# version table and usrloc's location tables with their version rows), from the
# schema Debian's kamailio-sqlite-modules ships, in WAL mode as sipflow's file
# (the journal mode is kept in the file; synchronous is not, and db_sqlite has
# no parameter for it: Kamailio commits with SQLite's default, FULL)
kamailio_sqlite() {
  local d=/usr/share/kamailio/db_sqlite
  rm -f "$1"
  python3 -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.executescript(sys.stdin.read())
c.commit()
c.execute("PRAGMA journal_mode=WAL")
c.close()' "$1" < <(cat "$d/standard-create.sql" "$d/usrloc-create.sql")
}

# filesize FILE...: the bytes of these files together (missing ones count 0)
filesize() {
  local sum=0 f
  for f in "$@"; do [ -f "$f" ] && sum=$((sum + $(stat -c %s "$f"))); done
  echo "$sum"
}

# sipflow_start ARGS...: "$SIPFLOW" run ARGS... $SIPFLOW_ARGS (optional, for
# example SIPFLOW_ARGS="--events service") in the background, its
# standard input a fifo held open on fd 3 (control lines: `echo quit >&3`),
# its events in $T/events and its errors in $T/err; waits up to 5 s for the
# "listening" event. Sets SF (its PID, added to PIDS) and SF_PORT (its UDP
# port; empty when it did not start or exited)
sipflow_start() {
  rm -f "$T/in"
  mkfifo "$T/in"
  # shellcheck disable=SC2086 # SIPFLOW_ARGS: words
  "$SIPFLOW" run "$@" ${SIPFLOW_ARGS:-} <"$T/in" >"$T/events" 2>"$T/err" &
  SF=$!
  PIDS+=("$SF")
  exec 3>"$T/in"
  for _ in $(seq 100); do
    grep -q '"listening"' "$T/events" 2>/dev/null && break
    alive "$SF" || break
    sleep 0.05
  done
  SF_PORT=$(sed -n 's/.*"listening".*"port":\([0-9]*\).*/\1/p' "$T/events" | head -1)
  # shellcheck disable=SC2034 # read by the scripts
  alive "$SF" || SF_PORT=
}

# kamailio_start CFG SHM_MB ARGS...: Kamailio in the foreground of a background
# job, config bench/CFG, KWORKERS workers (default 2), SHM_MB of shared memory, on a free
# loopback UDP port, ARGS added (-A defines), output in $T/k.out, files in
# $T/run; waits up to 5 s for the port. Sets K (its PID, added to PIDS) and
# KPORT; returns 1, with Kamailio's last lines, when it did not start
kamailio_start() {
  local cfg=$1 shm=$2 mods
  shift 2
  mods=$(find /usr/lib -name tm.so -path '*kamailio*' | head -1)
  mods=${mods%/*}
  KPORT=$(free_port)
  rm -rf "$T/run"
  mkdir -p "$T/run"
  # shellcheck disable=SC2086 # KARGS: more options, split (e.g. "-x tlsf -X tlsf")
  kamailio -f "$(dirname "${BASH_SOURCE[0]}")/$cfg" -A "KPORT=$KPORT" ${mods:+-L "$mods"} "$@" ${KARGS:-} -DD -E -n "${KWORKERS:-2}" \
    -m "$shm" -M 16 -Y "$T/run" -P "$T/run/k.pid" -w "$T/run" >"$T/k.out" 2>&1 &
  K=$!
  PIDS+=("$K")
  for _ in $(seq 100); do bound "$KPORT" && break; alive "$K" || break; sleep 0.05; done
  alive "$K" && bound "$KPORT" && return 0
  tail -5 "$T/k.out" | sed 's/^/  /'
  return 1
}

# sipflow_unstarted BACKEND: after a sipflow_start that gave no port, says why
# (a build that refuses the location backend: "not available in this build")
# and stops what is left of it
sipflow_unstarted() {
  if grep -q 'location\.backend' "$T/err"; then
    echo "sipflow $1 backend: not available in this build ($(tail -1 "$T/err"))"
  else
    echo "sipflow $1: did not start: $(tail -1 "$T/err")"
  fi
  exec 3>&-
  kill "$SF" 2>/dev/null
  wait "$SF" 2>/dev/null
}

# backends_redis: when BACKENDS names redis, a redis-server of the script's own
# (redis_start, stopped at exit); without one, redis is taken out of BACKENDS
backends_redis() {
  case " $BACKENDS " in
    *" redis "*) ;;
    *) return ;;
  esac
  if redis_start "$T/redis"; then
    PIDS+=("$REDIS_PID")
  else
    echo "redis-server: not installed or did not start: the redis backend is not measured"
    BACKENDS=$(echo " $BACKENDS " | sed 's/ redis / /')
  fi
}

# traced_binary SIPFLOW: sets BIN to the program valgrind should trace: SIPFLOW,
# or when it is a libtool wrapper (an uninstalled build) the real program under
# .libs/, with the library beside it on LD_LIBRARY_PATH
traced_binary() {
  local d
  BIN=$1
  if head -c 2 "$1" | grep -q '#!'; then
    d=$(dirname "$1")
    BIN=$d/.libs/$(basename "$1")
    [ -x "$d/.libs/lt-$(basename "$1")" ] && BIN=$d/.libs/lt-$(basename "$1")
    export LD_LIBRARY_PATH=$d/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  fi
}

# register_scenario FILE: a sipp scenario that sends one REGISTER per user of
# its injection file (field0: the user; Contact sip:USER@ its own address,
# Expires 3600, no digest) and waits for the 200
register_scenario() {
  cat >"$1" <<'XML'
<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="one REGISTER per user of the injection file">
  <send retrans="500">
    <![CDATA[
      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch];rport
      Max-Forwards: 70
      From: <sip:[field0]@[remote_ip]>;tag=[call_number]
      To: <sip:[field0]@[remote_ip]>
      Call-ID: [call_id]
      CSeq: 1 REGISTER
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      Expires: 3600
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
</scenario>
XML
}

# sf_stat FIELD [SECONDS]: asks the sipflow of sipflow_start (or any whose
# control lines go to fd 3 and whose events go to $T/events) for `status`,
# waits up to SECONDS (default 10) for the new stats line, and prints FIELD's
# number from it
sf_stat() {
  local n
  n=$(grep -c '"event":"stats"' "$T/events")
  echo status >&3
  for _ in $(seq $((${2:-10} * 5))); do
    [ "$(grep -c '"event":"stats"' "$T/events")" -gt "$n" ] && break
    sleep 0.2
  done
  grep '"event":"stats"' "$T/events" | tail -1 | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}

# sf_handed CALLS: sipflow's handed_out and wakeups per call since the last
# call (a status asked on fd 3, its stats line summed over the workers):
# messages read by one worker and run by another, and the times a hand-off
# woke its owner's thread (an eventfd write: the owner was asleep in poll)
SF_HANDED=0
SF_WAKEUPS=0
sf_handed() {
  local calls=$1 before out wake line
  before=$(grep -c '"event":"stats"' "$T/events")
  echo status >&3
  for _ in $(seq 100); do [ "$(grep -c '"event":"stats"' "$T/events")" -gt "$before" ] && break; sleep 0.05; done
  line=$(grep '"event":"stats"' "$T/events" | tail -1)
  out=$(grep -o '"handed_out":[0-9]*' <<<"$line" | cut -d: -f2 | paste -sd+ | bc)
  wake=$(grep -o '"wakeups":[0-9]*' <<<"$line" | cut -d: -f2 | paste -sd+ | bc)
  printf '%-9s handed_out %.2f, wakeups %.2f per call (%s workers), claims held %s\n' sipflow \
    "$(echo "(${out:-0} - $SF_HANDED) / $calls" | bc -l)" "$(echo "(${wake:-0} - $SF_WAKEUPS) / $calls" | bc -l)" "$WORKERS" \
    "$(grep -o '"claims":[0-9]*' <<<"$line" | head -1 | cut -d: -f2)"
  SF_HANDED=${out:-0}
  SF_WAKEUPS=${wake:-0}
}
