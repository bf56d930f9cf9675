#!/bin/bash
# bench-callgrind.sh: instructions per call of the proxy (INVITE..BYE through
# Record-Route, tests/integration/sipp/uac-rr.xml to uas-rr.xml), of the
# redirect server (INVITE/302/ACK after one registration, uac-302.xml) or per
# registration with digest at the redirect server (register: REGISTER, 401,
# REGISTER with credentials, 200; uac-register.xml), counted
# by valgrind's callgrind on the sipflow process: one run of N and one of 2N
# calls at 20 calls/s, each in a fresh process, and the difference divided by
# N, so start-up and shutdown cancel out.  Machine load does not change the
# count, which the CPU-time benchmarks cannot say.  Needs valgrind and sipp.
# CG_RATE (default 20): calls a second (register at 5/s: under valgrind sipp resends
# some first REGISTERs at 20/s, and each resend is challenged again since the gate).
# Usage: bench/bench-callgrind.sh SIPFLOW proxy|redirect|register [N]   (N default 200)
# SIPFLOW may be a libtool wrapper (an uninstalled build): the real program
# under .libs/ is traced, with the library beside it.
# SIPFLOW_ARGS (optional) is added to sipflow's command line, for example
# SIPFLOW_ARGS="--events calls"; EVENTS_OUT (optional) names a file that gets
# the event lines of the 2N run, to count them by event; CG_OUT (optional)
# names a file that gets that run's callgrind output, for callgrind_annotate
# (and CG_OUT.n the N run's, to subtract one from the other by function).
# WORKERS (optional, default 1) runs sipflow with core.workers=WORKERS (the
# proxy with core.worker_source=own, as bench-proxy.sh): the workers' threads
# are counted together (valgrind runs them one at a time);
# CG_ARGS (optional) is added to valgrind's command line, for example
# CG_ARGS=--separate-threads=yes.
# SIPFLOW may be the word kamailio: Kamailio (bench/kamailio-proxy.cfg for
# proxy, bench/kamailio-registrar.cfg for redirect and register, memory
# location, digest against the same password) does the same job under the
# same callgrind, KWORKERS (default 1) UDP children; every process it forks
# stays under valgrind and writes a file of its own, and their totals are
# summed: the peer's instructions per call from the same kind of run, which
# the machine's load does not change either (the kernel's work, syscalls
# and wake-ups, is in neither count). KARGS (optional) is added to
# Kamailio's command line: KARGS="-x tlsf -X tlsf" runs it with its TLSF
# allocator instead of q_malloc, whose free-list search is most of its
# instructions on these jobs.
set -u
SIPFLOW=${1:?usage: bench-callgrind.sh SIPFLOW proxy|redirect [N]}
JOB=${2:?usage: bench-callgrind.sh SIPFLOW proxy|redirect [N]}
N=${3:-200}
HERE=$(cd "$(dirname "$0")/.." && pwd)
SCEN=$HERE/tests/integration/sipp
T=$(mktemp -d)
export XDG_STATE_HOME="$T/state" # its own location database and secret
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
command -v valgrind >/dev/null || { echo "bench-callgrind: valgrind is not installed" >&2; exit 1; }
command -v sipp >/dev/null || { echo "bench-callgrind: sipp is not installed" >&2; exit 1; }

. "$(dirname "$0")/lib.sh"
if [ "$SIPFLOW" = kamailio ]; then
  command -v kamailio >/dev/null || PATH=$PATH:/usr/sbin
  command -v kamailio >/dev/null || { echo "bench-callgrind: kamailio is not installed" >&2; exit 1; }
else
  traced_binary "$SIPFLOW"
fi

# start_kamailio: Kamailio under callgrind for JOB on a free port; sets port and sf
start_kamailio() {
  local cfg=kamailio-registrar.cfg mods i
  [ "$JOB" = proxy ] && cfg=kamailio-proxy.cfg
  mods=$(find /usr/lib -name tm.so -path '*kamailio*' | head -1)
  mods=${mods%/*}
  port=$(free_port)
  rm -rf "$T/run"
  mkdir -p "$T/run"
  valgrind --tool=callgrind ${CG_ARGS:-} --callgrind-out-file="$T/cg.out.%p" kamailio -f "$HERE/bench/$cfg" \
    -A "KPORT=$port" -A "KCHILDREN=${KWORKERS:-1}" ${mods:+-L "$mods"} -DD -E -n "${KWORKERS:-1}" -m 256 -M 16 \
    ${KARGS:-} -Y "$T/run" -P "$T/run/k.pid" -w "$T/run" >"$T/k.out" 2>&1 &
  sf=$!
  PIDS+=("$sf")
  for i in $(seq 600); do # bounded: a minute for valgrind to start it
    bound "$port" && return 0
    alive "$sf" || break
    sleep 0.1
  done
  echo "bench-callgrind: kamailio did not start" >&2
  tail -5 "$T/k.out" >&2
  exit 1
}

# instructions CALLS: the sipflow process's total instruction count for CALLS calls
instructions() {
  local calls=$1 port uport u sf
  : >"$T/events"
  rm -f "$T/in" "$T/cg.out"
  mkfifo "$T/in"
  if [ "$JOB" = proxy ]; then
    uport=$(free_port)
    sipp -sf "$SCEN/uas-rr.xml" -p "$uport" -i 127.0.0.1 -nostdin -timeout 600 >/dev/null 2>&1 &
    u=$!
    PIDS+=("$u")
  fi
  if [ "$SIPFLOW" = kamailio ]; then
    start_kamailio
  elif [ "$JOB" = proxy ]; then
    valgrind --tool=callgrind ${CG_ARGS:-} --callgrind-out-file="$T/cg.out" "$BIN" run proxy.xml --listen udp:127.0.0.1:0 \
      --set proxy.trusted=127.0.0.0/8 --set "core.workers=${WORKERS:-1}" --set core.worker_source=own \
      --log-level error ${SIPFLOW_ARGS:-} <"$T/in" >"$T/events" 2>"$T/err" &
  else
    printf 'sipp:sippass\n' >"$T/users"
    valgrind --tool=callgrind ${CG_ARGS:-} --callgrind-out-file="$T/cg.out" "$BIN" run redirect.xml --listen udp:127.0.0.1:0 \
      --set "registrar.users=$T/users" --set auth.algorithms=MD5 --set sip.rate_limit=0 --set "core.workers=${WORKERS:-1}" --log-level error ${SIPFLOW_ARGS:-} \
      <"$T/in" >"$T/events" 2>"$T/err" &
  fi
  if [ "$SIPFLOW" != kamailio ]; then
    sf=$!
    PIDS+=("$sf")
    exec 3>"$T/in"
    for _ in $(seq 600); do grep -q '"listening"' "$T/events" && break; sleep 0.1; done
    port=$(sed -n 's/.*"listening".*"port":\([0-9]*\).*/\1/p' "$T/events" | head -1)
    [ -n "$port" ] || { echo "bench-callgrind: sipflow did not start" >&2; tail -5 "$T/err" >&2; exit 1; }
  fi
  if [ "$JOB" = proxy ]; then
    sipp "127.0.0.1:$port" -sf "$SCEN/uac-rr.xml" -p "$(free_port)" -i 127.0.0.1 -nostdin -timeout 600 \
      -s callee -key uas "127.0.0.1:$uport" -m "$calls" -r "${CG_RATE:-20}" >/dev/null 2>&1
  elif [ "$JOB" = register ]; then
    sipp "127.0.0.1:$port" -sf "$SCEN/uac-register.xml" -p "$(free_port)" -i 127.0.0.1 -nostdin -timeout 600 \
      -s sipp -au sipp -ap sippass -m "$calls" -r "${CG_RATE:-20}" >/dev/null 2>&1
  else
    sipp "127.0.0.1:$port" -sf "$SCEN/uac-register.xml" -p "$(free_port)" -i 127.0.0.1 -nostdin -timeout 600 \
      -s sipp -au sipp -ap sippass -m 1 >/dev/null 2>&1
    sipp "127.0.0.1:$port" -sf "$SCEN/uac-302.xml" -p "$(free_port)" -i 127.0.0.1 -nostdin -timeout 600 \
      -s sipp -m "$calls" -r "${CG_RATE:-20}" >/dev/null 2>&1
  fi
  if [ "$SIPFLOW" = kamailio ]; then
    kill -TERM "$sf" 2>/dev/null # its children end with it, each writing its file
  else
    echo quit >&3
    exec 3>&-
  fi
  wait "$sf"
  [ "$JOB" = proxy ] && kill "$u" 2>/dev/null
  [ -n "${EVENTS_OUT:-}" ] && cp "$T/events" "$EVENTS_OUT"
  # With --separate-threads=yes each thread has a file of its own (cg.out-01...)
  if [ -n "${CG_OUT:-}" ]; then
    for f in "$T"/cg.out*; do cp "$f" "$CG_OUT${CG_SUFFIX:-}${f#"$T"/cg.out}"; done
  fi
  awk 'FNR == 1 { seen = 0 } !seen && /^(summary|totals):/ { n += $2; seen = 1 } END { print n }' "$T"/cg.out*
  rm -f "$T"/cg.out*
}

one=$(CG_SUFFIX=.n instructions "$N")
two=$(instructions $((2 * N)))
echo "$JOB: $N calls $one instructions, $((2 * N)) calls $two instructions: $(((two - one) / N)) per call"
