# lib.sh: helpers for integration tests that drive running sipflow processes
# (sourced).  Each process reads its control commands from a FIFO and writes
# its events to NAME.events in $T; every wait is on an event line, bounded.
set -u
SIPFLOW=${SIPFLOW:-$PWD/sipflow}
T=$(mktemp -d)
PIDS=()
n=0
fails=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() {
  n=$((n + 1)); fails=$((fails + 1)); echo "not ok $n - $1"
  [ $# -gt 1 ] && printf '    %s\n' "${@:2}"
  return 0
}
MAIN_PID=$BASHPID
cleanup() {
  [ "$BASHPID" = "$MAIN_PID" ] || return 0 # not in a subshell
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$T"
}
trap cleanup EXIT

# start NAME FLOW ARGS...: runs 'sipflow run FLOW ARGS' with a UDP socket on a
# free loopback port; sets PORT_<NAME> once it listens.  FD_<NAME> writes its stdin.
start() {
  local name=$1 flow=$2
  shift 2
  mkfifo "$T/$name.in"
  "$SIPFLOW" run "$flow" --listen udp:127.0.0.1:0 "$@" <"$T/$name.in" >"$T/$name.events" 2>"$T/$name.err" &
  PIDS+=($!)
  eval "PID_$name=$!"
  exec {fd}>"$T/$name.in"
  eval "FD_$name=$fd"
  if ! wait_ev "$name" '"event":"listening"' 10; then
    fail "$name did not start" "$(tail -5 "$T/$name.err")"
    return 1
  fi
  local port
  port=$(grep -m1 '"event":"listening"' "$T/$name.events" | sed 's/.*"port":\([0-9]*\).*/\1/')
  eval "PORT_$name=$port"
}

# cmd NAME COMMAND...: one control command to NAME.
cmd() {
  local name=$1
  shift
  local fd
  eval "fd=\$FD_$name"
  printf '%s\n' "$*" >&"$fd"
}

# wait_ev NAME REGEX [SECONDS] [COUNT]: waits until NAME.events has COUNT (default 1)
# lines matching the extended REGEX.
wait_ev() {
  local name=$1 re=$2 secs=${3:-10} count=${4:-1}
  timeout "$secs" bash -c 'tail -n +1 -F "$1" 2>/dev/null | grep -m "$3" -E -q -- "$2"' _ "$T/$name.events" "$re" "$count"
}

# count NAME REGEX: lines of NAME.events matching REGEX.
count() { grep -c -E -- "$2" "$T/$1.events"; }

# states NAME CALL: the states call CALL of NAME went through, space-separated.
states() {
  grep -E "\"event\":\"state\".*\"call\":\"$2\"" "$T/$1.events" | grep -o '"to":"[A-Za-z]*"' | cut -d'"' -f4 | tr '\n' ' '
}

# last_call NAME: the handle of NAME's latest incoming call.
last_call() { grep '"event":"incoming"' "$T/$1.events" | tail -1 | sed 's/.*"call":"\([a-z0-9]*\)".*/\1/'; }

# stop NAME: quit, and wait (bounded) for the process to end; returns its exit code.
stop() {
  local name=$1 pid fd rc
  eval "pid=\$PID_$name; fd=\$FD_$name"
  printf 'quit\n' >&"$fd" 2>/dev/null
  timeout 20 tail --pid="$pid" -f /dev/null || kill "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  rc=$?
  eval "exec $fd>&-"
  return $rc
}

summary() {
  echo "$1: $n checks, $fails failed"
  [ "$fails" = 0 ]
}
