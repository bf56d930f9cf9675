#!/bin/bash
# bench-register-syscalls.sh: system calls of sipflow (every thread: the
# SQLite writer's too) per registration with digest (REGISTER, 401, REGISTER
# with credentials, 200; tests/integration/sipp/uac-register.xml, as
# bench-redirect.sh and bench-callgrind.sh run it) on one location store,
# counted by strace -f -c over CALLS registrations at RATE/s.  What the
# location store costs the kernel: the memory store against the sqlite one,
# or one build against another.  strace slows each call down, so its times
# say nothing; the counts do not depend on the machine's load (the futex and
# poll counts a little: a lock found taken, a turn that found work waiting).
# The counts include start-up and shutdown (a few hundred calls): compare runs
# of the same CALLS.  Needs strace and sipp.
# Usage: bench/bench-register-syscalls.sh SIPFLOW [BACKEND [CALLS [RATE]]]
#        (defaults: sqlite, 1000, 200)
set -u
SIPFLOW=${1:?usage: bench-register-syscalls.sh SIPFLOW [BACKEND [CALLS [RATE]]]}
BACKEND=${2:-sqlite}
CALLS=${3:-1000}
RATE=${4:-200}
HERE=$(cd "$(dirname "$0")/.." && pwd)
SCEN=$HERE/tests/integration/sipp
command -v strace >/dev/null || { echo "bench-register-syscalls: strace is not installed" >&2; exit 1; }
command -v sipp >/dev/null || { echo "bench-register-syscalls: sipp is not installed" >&2; exit 1; }
. "$(dirname "$0")/lib.sh"
bench_init
# an absolute path: the loader's search of a relative library path costs calls of its own
SIPFLOW=$(cd "$(dirname "$SIPFLOW")" && pwd)/$(basename "$SIPFLOW")
traced_binary "$SIPFLOW" # strace follows the real program, not the libtool wrapper's shell

printf 'sipp:sippass\n' >"$T/users"
# sipflow_start runs "$SIPFLOW" run ...: a wrapper that runs it under strace
cat >"$T/traced" <<EOF
#!/bin/sh
exec strace -f -c -o "$T/strace.out" "$BIN" "\$@"
EOF
chmod +x "$T/traced"
SIPFLOW=$T/traced
sipflow_start redirect.xml --listen udp:127.0.0.1:0 --set "registrar.users=$T/users" --set auth.algorithms=MD5 \
  --set sip.rate_limit=0 --set "location.backend=$BACKEND" --log-level error
[ -n "$SF_PORT" ] || { echo "bench-register-syscalls: sipflow did not start" >&2; tail -5 "$T/err" >&2; exit 1; }
sipp "127.0.0.1:$SF_PORT" -sf "$SCEN/uac-register.xml" -p "$(free_port)" -i 127.0.0.1 -nostdin -timeout 600 \
  -s sipp -au sipp -ap sippass -m "$CALLS" -r "$RATE" >/dev/null 2>&1 || echo "bench-register-syscalls: sipp failed" >&2
echo quit >&3
exec 3>&-
wait "$SF"
echo "$BACKEND, $CALLS registrations at $RATE/s: system calls per registration (strace -f -c)"
# strace -c's rows: % time, seconds, usecs/call, calls, [errors,] syscall
awk -v n="$CALLS" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $4 / n >= 0.05 { printf "  %-12s %8.2f\n", $NF, $4 / n }' "$T/strace.out"
