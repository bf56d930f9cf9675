# lib.sh: helpers for integration tests that drive running sipflow processes
# (sourced).  Each process reads its control commands from a FIFO and writes
# its events to NAME.events in $T; every wait is on an event line, bounded.
set -u
SIPFLOW=${SIPFLOW:-$PWD/sipflow}
T=$(mktemp -d)
# No process shares state (the secret, the location database) with another
# test or an earlier run: whatever is started directly gets $T/state, what
# start() starts gets $T/NAME.state (a restart under the same state dir passes
# --set core.state_dir).  STATE_DIRECTORY (systemd's) would win over both.
export XDG_STATE_HOME="$T/state"
# the python helpers beside the scripts (sipstream.py) for their heredocs
export PYTHONPATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)${PYTHONPATH:+:$PYTHONPATH}"
unset STATE_DIRECTORY
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
  [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT

# start NAME FLOW ARGS...: runs 'sipflow run FLOW ARGS' with a UDP socket on a
# free loopback port ($LISTEN, default udp:127.0.0.1:0) and its own state
# directory ($T/NAME.state); sets PORT_<NAME> once it listens.  FD_<NAME>
# writes its stdin.  SF_WORKERS=N runs the proxies and the redirect servers
# (registrars) listening on UDP only with --set core.workers=N (docs/workers.md:
# what runs on several workers yet); the others as always.
start() {
  local name=$1 flow=$2
  shift 2
  mkfifo "$T/$name.in"
  # A UA with GStreamer media under ASan: full stacks on malloc, so that leaks
  # inside GStreamer's plugins match their suppressions (tests/lsan.supp); the
  # fast unwinder stops at GLib's frames.  Servers keep the fast one (load tests).
  local asan=${ASAN_OPTIONS:-}
  case "$flow $*" in
    *ua.xml*media.backend=null*) ;;
    *ua.xml*) [ -n "$asan" ] && asan="$asan:fast_unwind_on_malloc=0" ;;
  esac
  local workers=()
  case "$flow ${LISTEN:-} $*" in
    *tcp:* | *tls:* | *ws:* | *wss:*) ;;
    *proxy.xml* | *redirect.xml*) [ -n "${SF_WORKERS:-}" ] && workers=(--set "core.workers=$SF_WORKERS") ;;
  esac
  XDG_STATE_HOME="$T/$name.state" ASAN_OPTIONS=$asan "$SIPFLOW" run "$flow" --listen "${LISTEN:-udp:127.0.0.1:0}" "${workers[@]}" "$@" <"$T/$name.in" \
    >"$T/$name.events" 2>"$T/$name.err" &
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
  # grep -m N (not -q, which stops at the first match) ends after the Nth match;
  # then the tail feeding it is stopped (in a pipe it would wait for more lines)
  # (grep's output goes through cat: writing to /dev/null, grep stops at the first match)
  timeout "$secs" bash -c 'exec 3< <(exec tail -n +1 -F "$1" 2>/dev/null); t=$!
    grep -m "$3" -E -- "$2" <&3 | cat >/dev/null; rc=${PIPESTATUS[0]}; kill "$t" 2>/dev/null; exit "$rc"' \
    _ "$T/$name.events" "$re" "$count"
}

# location_count NAME BINDINGS AORS: asks NAME 'location count' on its
# standard input and waits (bounded) for the reply to say BINDINGS bindings of
# AORS addresses-of-record.
location_count() {
  cmd "$1" location count
  wait_ev "$1" "\"event\":\"reply\",\"command\":\"location\",\"ok\":true,\"bindings\":$2,\"aors\":$3" 10
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

# expect_rc DESC RC CMD...: runs CMD, output in $T/out and $T/err
expect_rc() {
  local desc=$1 want=$2
  shift 2
  "$@" >"$T/out" 2>"$T/err"
  local rc=$?
  if [ "$rc" = "$want" ]; then pass "$desc"; else fail "$desc (exit $rc, wanted $want)" "$(head -5 "$T/err")"; fi
}
# has DESC FILE TEXT: FILE contains TEXT
has() {
  if grep -qF -- "$3" "$2"; then pass "$1"; else fail "$1" "no '$3' in $(basename "$2"):" "$(head -5 "$2")"; fi
}

# ---- sipp (the Debian package sip-tester): a missing sipp fails loudly ----
need_sipp() {
  command -v sipp >/dev/null && return 0
  echo "not ok - sipp is not installed (Debian package sip-tester; scripts/setup-deps installs it)"
  exit 1
}

# udp_bound PORT: something listens on 127.0.0.1:PORT/udp (from /proc/net/udp).
udp_bound() { grep -q -i "^ *[0-9]*: 0100007F:$(printf '%04X' "$1") " /proc/net/udp; }

# sipp_stats NAME: OK, FAILED, RETRANS from the last row of $T/NAME.csv (-trace_stat -stf).
sipp_stats() {
  local header last
  header=$(head -1 "$T/$1.csv" 2>/dev/null | tr ';' '\n')
  last=$(tail -1 "$T/$1.csv" 2>/dev/null | tr ';' '\n')
  col() { paste <(echo "$header") <(echo "$last") | awk -F'\t' -v k="$1" '$1 == k { print $2 }'; }
  OK=$(col 'SuccessfulCall(C)')
  FAILED=$(col 'FailedCall(C)')
  RETRANS=$(col 'Retransmissions(C)')
}

# sipp_run NAME TARGET ARGS...: sipp in the foreground toward TARGET (host:port)
# from a free local port (retried when it could not bind: exit 254); sets SIPP_RC
# and the sipp_stats values.
sipp_run() {
  local name=$1 target=$2 try
  shift 2
  for try in 1 2 3 4 5; do
    local lport=$((20000 + (RANDOM % 20000)))
    rm -f "$T/$name"*.csv
    rm -f "$T/$name.errors"
    timeout 150 sipp "$target" -p "$lport" -i 127.0.0.1 -nostdin -timeout 120 -timeout_error \
      -trace_stat -stf "$T/$name.csv" -trace_err -error_file "$T/$name.errors" "$@" >"$T/$name.out" 2>&1
    SIPP_RC=$?
    [ "$SIPP_RC" != 254 ] && break
  done
  sipp_errors "$name"
  sipp_stats "$name"
}

# sipp_errors NAME: a sipp that failed leaves what it did not expect (its
# -trace_err file) at the end of NAME.out, where the tests' failure reports
# read their tail.
sipp_errors() {
  [ "${SIPP_RC:-0}" != 0 ] && [ -s "$T/$1.errors" ] || return 0
  { echo "---- sipp's errors ($1):"; tail -n 40 "$T/$1.errors"; } >>"$T/$1.out"
}

# sipp_server NAME ARGS...: sipp in the background (a UAS or registrar scenario)
# on a free local port, once it is bound; sets SIPP_PORT and SIPP_PID.
sipp_server() {
  local name=$1 try i
  shift
  for try in 1 2 3 4 5; do
    SIPP_PORT=$((20000 + (RANDOM % 20000)))
    udp_bound "$SIPP_PORT" && continue
    rm -f "$T/$name"*.csv
    rm -f "$T/$name.errors"
    timeout 150 sipp -p "$SIPP_PORT" -i 127.0.0.1 -nostdin -timeout 120 -timeout_error \
      -trace_stat -stf "$T/$name.csv" -trace_err -error_file "$T/$name.errors" "$@" >"$T/$name.out" 2>&1 &
    SIPP_PID=$!
    PIDS+=("$SIPP_PID")
    for i in $(seq 50); do # bounded: 5 s for the socket to appear
      udp_bound "$SIPP_PORT" && return 0
      kill -0 "$SIPP_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill "$SIPP_PID" 2>/dev/null
    wait "$SIPP_PID" 2>/dev/null
  done
  return 1
}

# sipp_server_wait NAME: waits (bounded) for the background sipp to end; SIPP_RC and stats.
sipp_server_wait() {
  timeout 150 tail --pid="$SIPP_PID" -f /dev/null || kill "$SIPP_PID" 2>/dev/null
  wait "$SIPP_PID" 2>/dev/null
  SIPP_RC=$?
  sipp_errors "$1"
  sipp_stats "$1"
}

# ep_stats NAME: sends our NAME the status command and waits (bounded) for
# the new stats line; sets STATS to it.
ep_stats() {
  local before
  before=$(count "$1" '"event":"stats"')
  cmd "$1" status
  wait_ev "$1" '"event":"stats"' 10 $((before + 1)) || return 1
  STATS=$(grep '"event":"stats"' "$T/$1.events" | tail -1)
}
# ep_field KEY: the number KEY of the last ep_stats line (the sum: with
# workers, the line's "workers" list repeats some keys per worker after it).
ep_field() { echo "$STATS" | grep -o "\"$1\":[0-9]*" | head -1 | cut -d: -f2; }
# ep_ended NAME: waits (bounded) until every instance our NAME created has
# ended; STATS is then its last stats line.
ep_ended() {
  ep_stats "$1" || return 1
  local created
  created=$(ep_field instances_created)
  wait_ev "$1" '"event":"instance_end"' 90 "$created" || return 1
  ep_stats "$1" && [ "$(ep_field instances_live)" = 0 ]
}

# size FILE BYTES: FILE holds at least BYTES (a recording growing: no event says so).
size() { [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -ge "$2" ]; }
# decs N: baresip's sndfile module (snd_path $T/snd) wrote at least N recordings of what it heard.
decs() { [ "$(ls "$T"/snd/dump-*-dec.wav 2>/dev/null | wc -l)" -ge "$1" ]; }

# retry SECS CMD...: CMD again every 0.2 s until it succeeds, SECS at most
# (for a state no event says: a change a server reads at its next poll).
retry() {
  local secs=$1 i
  shift
  for i in $(seq $((secs * 5))); do
    "$@" && return 0
    sleep 0.2
  done
  return 1
}

# reg NAME USER PASSWORD TARGET: one sipp REGISTER (tests/integration/sipp/
# uac-register.xml) through an MD5 challenge; 0 on 200.
reg() {
  sipp_run "$1" "$4" -sf "$(dirname "${BASH_SOURCE[0]}")/sipp/uac-register.xml" -s "$2" -au "$2" -ap "$3" -m 1 -timeout 10
  [ "$SIPP_RC" = 0 ]
}

# ---- redis-server (the Debian package redis-server): a missing one fails loudly ----
need_redis() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null && return 0
  echo "not ok - redis-server is not installed (Debian package redis-server; scripts/setup-deps installs it)"
  exit 1
}

# tcp_bound PORT: something listens on 127.0.0.1:PORT/tcp (from /proc/net/tcp).
tcp_bound() { grep -q -i "^ *[0-9]*: 0100007F:$(printf '%04X' "$1") " /proc/net/tcp; }

# The password of the redis-servers tests start (requirepass): a Redis without
# one runs what anything reaching it sends, and the servers refuse it unless
# told (location.redis_without_password); REDIS_PASS= (empty) starts one without.
REDIS_PASS=${REDIS_PASS-test-redis-pass-$$}

# redis_start NAME [PORT] [ARGS...]: a redis-server of the test's own on
# 127.0.0.1:PORT (default: a free one), no persistence, requirepass $REDIS_PASS
# unless empty, its log in $T/NAME.events; sets RPORT_<NAME>, PID_<NAME>.
redis_start() {
  local name=$1 port=${2:-} try
  shift
  [ $# -gt 0 ] && shift
  for try in 1 2 3 4 5; do
    [ -n "$port" ] || { port=$((20000 + (RANDOM % 20000))); tcp_bound "$port" && { port=; continue; }; }
    : >"$T/$name.events"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
      ${REDIS_PASS:+--requirepass "$REDIS_PASS"} "$@" >"$T/$name.events" 2>&1 &
    eval "PID_$name=$!"
    PIDS+=($!)
    if wait_ev "$name" 'Ready to accept connections' 10; then
      eval "RPORT_$name=$port"
      return 0
    fi
    kill "$!" 2>/dev/null
    port=
  done
  return 1
}

# rcli_to PORT ARGS...: redis-cli to 127.0.0.1:PORT with $REDIS_PASS (from the
# environment, not argv), bounded.
rcli_to() {
  local port=$1
  shift
  env ${REDIS_PASS:+REDISCLI_AUTH="$REDIS_PASS"} timeout 5 redis-cli -p "$port" "$@"
}

# ---- Prometheus metrics (run --metrics): MPORT is the port scrape reads by default.
# scrape NAME [PORT]: GET /metrics into $T/NAME.prom (python3, bounded)
scrape() {
  python3 - "http://127.0.0.1:${2:-$MPORT}/metrics" "$T/$1.prom" <<'EOF'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=5) as r:
    assert r.status == 200, r.status
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers["Content-Type"]
    open(sys.argv[2], "wb").write(r.read())
EOF
}
# val NAME SERIES: the value of SERIES (name{labels}) in NAME's scrape, 0 when absent
val() { awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print 0 }' "$T/$1.prom"; }
# expect_metric NAME SERIES WANT
expect_metric() {
  local got
  got=$(val "$1" "$2")
  [ "$got" = "$3" ] && pass "$1: $2 = $3" || fail "$1: $2 = $got, wanted $3"
}
# metrics_port NAME: the port of NAME's 'listening' event for transport metrics
metrics_port() { grep -m1 '"transport":"metrics"' "$T/$1.events" | sed 's/.*"port":\([0-9]*\).*/\1/'; }
# stat_of NAME FIELD: FIELD of NAME's newest stats event (after asking for one: the status command)
stat_of() {
  local before
  before=$(count "$1" '"event":"stats"')
  cmd "$1" status
  wait_ev "$1" '"event":"stats"' 5 $((before + 1)) || return 1
  grep '"event":"stats"' "$T/$1.events" | tail -1 | grep -o "\"$2\":[0-9]*" | cut -d: -f2
}

# ---- TLS: a throwaway CA made by the test (openssl), its files in $CERTS ----
CERTS=$T/certs
# mkca NAME: a self-signed CA certificate and key, $CERTS/NAME.pem and .key
mkca() {
  mkdir -p "$CERTS"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$CERTS/$1.key" -out "$CERTS/$1.pem" -days 2 -subj "/CN=$1" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
# mkcert NAME CA SAN...: $CERTS/NAME.pem and .key, signed by the CA made by
# mkca CA, for the subjectAltNames SAN (DNS:NAME, IP:ADDR), server and client use
mkcert() {
  local name=$1 ca=$2
  shift 2
  local san
  san=$(IFS=,; echo "$*")
  openssl req -new -newkey rsa:2048 -nodes -keyout "$CERTS/$name.key" -out "$CERTS/$name.csr" -subj "/CN=$name" 2>/dev/null &&
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$san" >"$CERTS/$name.ext" &&
    openssl x509 -req -in "$CERTS/$name.csr" -CA "$CERTS/$ca.pem" -CAkey "$CERTS/$ca.key" -CAcreateserial -days 2 \
      -extfile "$CERTS/$name.ext" -out "$CERTS/$name.pem" 2>/dev/null
}
# conf NAME CERT [LINE...]: $T/NAME.conf, a [tls] section with $CERTS/CERT.pem and
# .key, trusting the CA "ca" (paths relative to the file), then the LINEs
conf() {
  local name=$1 cert=$2
  shift 2
  { echo "[tls]"; echo "certificate = certs/$cert.pem"; echo "key = certs/$cert.key"; echo "ca_file = certs/ca.pem"
    printf '%s\n' "$@"; } >"$T/$name.conf"
}
# tls_port NAME: the port of NAME's first TLS 'listening' event
tls_port() { grep '"event":"listening".*"transport":"tls"' "$T/$1.events" | head -1 | sed 's/.*"port":\([0-9]*\).*/\1/'; }

# baresip_config SOURCE [LINE...]: $T/baresip/config for a baresip (baresip-core) on
# 127.0.0.1:$BS with its cons module on $CONS (commands over UDP), SOURCE the
# aufile it sends, no audio played; then the LINEs (modules, sip_cafile...).
baresip_config() {
  local src=$1
  shift
  mkdir -p "$T/baresip"
  { printf '%s\n' "poll_method epoll" "sip_listen 127.0.0.1:$BS" "net_interface 127.0.0.1" "dns_server 127.0.0.1:53" \
      "audio_source aufile,$src" "audio_player aubridge,nil" "audio_alert aubridge,nil" \
      "module_path /usr/lib/baresip/modules" "module g711.so" "module aufile.so" "module aubridge.so" "module cons.so"
    printf '%s\n' "$@" "module_app account.so" "module_app menu.so" "cons_listen 127.0.0.1:$CONS"; } >"$T/baresip/config"
}

# ---- npm packages for the tests that drive Chromium (live.sh, browser.sh) ----
# puppeteer-core: Node 18 and later (Debian 12 has 18, this machine 20);
# Chromium 156 speaks its protocol.
PUPPETEER_VERSION=24.43.1
# npm_dir DIR PKG@VERSION...: the packages installed into DIR (in the build
# directory, never the source tree), once: a DIR that holds these very
# versions is kept.  Installed beside, then renamed into place (a rename is
# atomic: two builds at once cannot see half of it).  1 with npm's last lines
# when npm fails.
npm_dir() {
  local dir=$1 tmp
  shift
  [ "$(cat "$dir/.specs" 2>/dev/null)" = "$*" ] && return 0
  tmp=$dir.tmp.$$
  rm -rf "$tmp"
  if ! timeout 180 npm install --prefix "$tmp" --no-audit --no-fund --no-package-lock --loglevel=error \
    "$@" >"$T/npm.log" 2>&1; then
    rm -rf "$tmp"
    echo "not ok - npm could not install $* into $dir"
    sed 's/^/    /' "$T/npm.log" | tail -10
    return 1
  fi
  echo "$*" >"$tmp/.specs"
  rm -rf "$dir.old.$$"
  [ -d "$dir" ] && mv "$dir" "$dir.old.$$"
  mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
  rm -rf "$dir.old.$$"
  [ "$(cat "$dir/.specs" 2>/dev/null)" = "$*" ]
}

# need CMD:PACKAGE...: every peer a test drives must be there (.ci/run and
# scripts/setup-deps install them); a missing one fails the test loudly.
need() {
  local p
  for p in "$@"; do
    command -v "${p%%:*}" >/dev/null && continue
    echo "not ok - ${p%%:*} is not installed (Debian package ${p#*:}; scripts/setup-deps installs it)"
    exit 1
  done
}

# port_used PORT: some socket (UDP or TCP, any address) has PORT bound.
port_used() { awk -v p=":$(printf '%04X' "$1")" 'NR > 1 && substr($2, length($2) - 4) == p { f = 1 } END { exit !f }' \
  /proc/net/udp /proc/net/tcp /proc/net/udp6 /proc/net/tcp6 2>/dev/null; }
# free_ports N: a base port B (even) with B..B+N-1 bound by no one; sets BASE
# (for peers that take ports we cannot ask the kernel for: baresip, linphonec;
# a UA's media.rtp_ports, so that tests run side by side).  The bound ports
# are read once: a range of a hundred or more is checked in the shell.
free_ports() {
  local -A used=()
  local p try i
  for p in $(awk 'FNR > 1 { print substr($2, length($2) - 3) }' /proc/net/udp /proc/net/tcp /proc/net/udp6 /proc/net/tcp6 2>/dev/null); do
    used[$((16#$p))]=1
  done
  for try in $(seq 50); do
    BASE=$((20000 + 2 * (RANDOM % 10000)))
    for ((i = 0; i < $1; i++)); do [ -n "${used[$((BASE + i))]:-}" ] && continue 2; done
    return 0
  done
  return 1
}

# err_report FILE: what a failed exit check shows of a process's standard
# error: where a sanitizer reported, the report with each leak's first frames
# that are not the allocator's (so that a leak inside a library can be told
# from one of ours without the file, which is gone once the test ends), at
# most 80 lines; otherwise the last three lines.
err_report() {
  if grep -q 'ERROR: \(LeakSanitizer\|AddressSanitizer\)\|runtime error:' "$1" 2>/dev/null; then
    awk '/ERROR: (LeakSanitizer|AddressSanitizer)|runtime error:/ { on = 1 }
      !on { next }
      /^(Direct|Indirect) leak/ { print; k = 0; next }
      /^ *#[0-9]+ / {
        if (k < 14 && $0 !~ /libasan|asan_malloc|in (g_malloc|g_malloc0|g_slice_alloc|g_slice_alloc0|g_realloc|g_try_malloc) /) { print; k++ }
        next
      }
      NF { print }' "$1" | head -80
  else
    tail -3 "$1"
  fi
}
