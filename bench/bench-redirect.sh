#!/bin/bash
# bench-redirect.sh: CPU time of xml/redirect.xml under sipp at a fixed rate
# (issue 7's benchmark), and of Kamailio set up for the same job when it is
# installed, from the same run:
#  - REGISTER with digest: each registration is REGISTER, 401, REGISTER with
#    credentials, 200 (tests/integration/sipp/uac-register.xml);
#  - redirect: INVITE, 302 with the registered contact, ACK
#    (tests/integration/sipp/uac-302.xml), after one registration.
# Server CPU is user+sys from /proc/PID/stat (fields 14, 15), summed over the
# server's processes (Kamailio forks), before and after each run.
# Usage: bench/bench-redirect.sh SIPFLOW [CALLS [RATE]]   (defaults 5000, 1000)
set -u
SIPFLOW=${1:?usage: bench-redirect.sh SIPFLOW [CALLS [RATE]]}
CALLS=${2:-5000}
RATE=${3:-1000}
HERE=$(cd "$(dirname "$0")/.." && pwd)
SCEN=$HERE/tests/integration/sipp
T=$(mktemp -d)
export XDG_STATE_HOME="$T/state" # its own location database and secret
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
HZ=$(getconf CLK_TCK)

. "$(dirname "$0")/lib.sh"

# run NAME PORT SCENARIO ARGS...: one sipp run; prints "successful wall"
run() {
  local name=$1 port=$2 scen=$3
  shift 3
  local start end ok
  start=$(date +%s.%N)
  sipp "127.0.0.1:$port" -sf "$scen" -p $((20000 + RANDOM % 20000)) -i 127.0.0.1 -nostdin -timeout 300 -timeout_error \
    -trace_stat -stf "$T/$name.csv" "$@" >/dev/null 2>&1
  end=$(date +%s.%N)
  ok=$(awk -F';' 'NR==1 { for (i = 1; i <= NF; i++) if ($i == "SuccessfulCall(C)") c = i } END { print $c }' "$T/$name.csv")
  echo "${ok:-0} $(echo "$end - $start" | bc -l)"
}

# measure LABEL PORT PIDS: the REGISTER run, then one registration and the 302 run
measure() {
  local label=$1 port=$2
  shift 2
  local b a res
  b=$(ticks "$@")
  res=$(run "$label-reg" "$port" "$SCEN/uac-register.xml" -s sipp -au sipp -ap sippass -m "$CALLS" -r "$RATE")
  a=$(ticks "$@")
  printf '%-9s REGISTER+digest: %s of %s at %s/s, wall %.1f s, server CPU %.2f s = %.1f ms per 1000\n' "$label" \
    "${res% *}" "$CALLS" "$RATE" "${res#* }" "$(echo "($a - $b) / $HZ" | bc -l)" "$(echo "($a - $b) * 1000000 / $HZ / $CALLS" | bc -l)"
  b=$(ticks "$@")
  res=$(run "$label-302" "$port" "$SCEN/uac-302.xml" -s sipp -m "$CALLS" -r "$RATE")
  a=$(ticks "$@")
  printf '%-9s INVITE/302/ACK:  %s of %s at %s/s, wall %.1f s, server CPU %.2f s = %.1f ms per 1000\n' "$label" \
    "${res% *}" "$CALLS" "$RATE" "${res#* }" "$(echo "($a - $b) / $HZ" | bc -l)" "$(echo "($a - $b) * 1000000 / $HZ / $CALLS" | bc -l)"
}

# ---- sipflow ----
printf 'sipp:sippass\n' >"$T/users"
mkfifo "$T/in"
# sip.rate_limit off: sipp's one address sends far more than a phone would (an
# older build without the key: EXTRA= bench/bench-redirect.sh ...)
# shellcheck disable=SC2086
"$SIPFLOW" run redirect.xml --listen udp:127.0.0.1:0 --set "registrar.users=$T/users" --set auth.algorithms=MD5 ${EXTRA---set sip.rate_limit=0} \
  --log-level error <"$T/in" >"$T/events" 2>"$T/err" &
SF=$!
PIDS+=("$SF")
exec 3>"$T/in"
for _ in $(seq 100); do grep -q '"listening"' "$T/events" 2>/dev/null && break; sleep 0.05; done
PORT=$(sed -n 's/.*"listening".*"port":\([0-9]*\).*/\1/p' "$T/events" | head -1)
measure sipflow "$PORT" "$SF"
echo quit >&3

# ---- Kamailio, set up for the same job (docs/testing.md) ----
if ! command -v kamailio >/dev/null; then
  echo "kamailio: not installed (Debian package kamailio): no comparison"
  exit 0
fi
KPORT=$((20000 + RANDOM % 20000))
MODS=$(dirname "$(find /usr/lib -name registrar.so -path '*kamailio*' | head -1)")
cat >"$T/kamailio.cfg" <<CFG
#!KAMAILIO
debug=0
log_stderror=yes
children=2
listen=udp:127.0.0.1:$KPORT
mpath="$MODS/"
loadmodule "tm.so"
loadmodule "sl.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"
loadmodule "auth.so"
modparam("usrloc", "db_mode", 0)
request_route {
  if (!mf_process_maxfwd_header("10")) { sl_send_reply("483", "Too Many Hops"); exit; }
  if (is_method("ACK")) { t_check_trans(); exit; }
  if (is_method("REGISTER")) {
    # flags 0: a plain password; www_challenge flags 1: qop=auth, as sipflow asks
    if (!pv_www_authenticate("\$td", "sippass", "0")) { www_challenge("\$td", "1"); exit; }
    if (!save("location")) sl_reply_error();
    exit;
  }
  if (is_method("INVITE")) {
    if (!t_newtran()) { sl_reply_error(); exit; }
    if (!lookup("location")) { t_reply("404", "Not Found"); exit; }
    t_reply("302", "Moved Temporarily");
    exit;
  }
  sl_send_reply("405", "Method Not Allowed");
}
CFG
mkdir -p "$T/run"
kamailio -f "$T/kamailio.cfg" -DD -E -n 2 -m $((RATE * 70 / 1000 + 64)) -M 16 -Y "$T/run" -P "$T/run/k.pid" -w "$T/run" \
  >"$T/k.out" 2>&1 &
K=$!
PIDS+=("$K")
for _ in $(seq 100); do grep -q -i ":$(printf '%04X' "$KPORT") " /proc/net/udp && break; sleep 0.05; done
measure kamailio "$KPORT" "$K"
