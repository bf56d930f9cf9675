#!/bin/bash
# bench-tls.sh: what TLS costs the record-routing proxy (xml/proxy.xml), beside
# Kamailio with its tls module (bench/kamailio-proxy.cfg with -A WITH_TLS,
# Debian kamailio-tls-modules) in the same run:
#  - CPU per 1000 calls over TLS and over UDP: the calls of bench-proxy.sh
#    (INVITE, 100, 180, 200, ACK and BYE along the Record-Route, 200), driven
#    by bench/sip-load.py (Debian's sipp has no TLS), the same generator for
#    both transports; over TLS the caller keeps CONNS connections to the proxy
#    and the proxy one to the callee, opened before the count starts (the
#    handshakes are measured apart, below).  Each round runs the four cases
#    (sipflow UDP, sipflow TLS, Kamailio UDP, Kamailio TLS), every other round
#    in the reverse order, both servers up throughout; the server's CPU is
#    user+sys from /proc/PID/stat (its threads, Kamailio's processes summed)
#    before and after each run; the generator's is not counted.
#  - memory per idle TLS connection: fresh servers, a warm-up of 16 connections
#    opened and closed, then IDLE connections, each having sent an OPTIONS and
#    had its answer (483: Max-Forwards 0) and held open; the growth / IDLE of
#    sipflow's VmRSS and Pss, and of Kamailio's shared memory in use (core.shmmem
#    real_used: its connections and OpenSSL's allocations live there), its
#    private memory (pkg.stats, all processes) and its Pss (all processes);
#    the server CPU spent meanwhile / IDLE is the cost of a connection's set-up
#    (TCP, TLS handshake with a 2048-bit RSA certificate, one request).
# The certificates are made here with openssl (a throwaway CA, a certificate for
# 127.0.0.1 that both servers and the generator's callee use).
# Usage: bench/bench-tls.sh SIPFLOW [CALLS [RATE [ROUNDS]]]
#   (defaults 3000 calls at 300/s, 3 rounds; ROUNDS 0: the memory figure
#   only); IDLE (default 1000), CONNS (4).
set -u
SIPFLOW=${1:?usage: bench-tls.sh SIPFLOW [CALLS [RATE [ROUNDS]]]}
CALLS=${2:-3000}
RATE=${3:-300}
ROUNDS=${4:-3}
IDLE=${IDLE:-1000}
CONNS=${CONNS:-4}
HERE=$(cd "$(dirname "$0")" && pwd)
LOAD=$HERE/sip-load.py
. "$HERE/lib.sh"
bench_init
HZ=$(getconf CLK_TCK)
for c in openssl python3 bc; do
  command -v "$c" >/dev/null || { echo "$c: not installed: needed"; exit 1; }
done

# ---- a throwaway CA and the servers' certificate ----
C=$T/certs
mkdir -p "$C"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$C/ca.key" -out "$C/ca.pem" -days 2 -subj /CN=bench-ca \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null &&
  openssl req -new -newkey rsa:2048 -nodes -keyout "$C/server.key" -out "$C/server.csr" -subj /CN=localhost 2>/dev/null &&
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >"$C/server.ext" &&
  openssl x509 -req -in "$C/server.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial -days 2 \
    -extfile "$C/server.ext" -out "$C/server.pem" 2>/dev/null || { echo "openssl could not make the certificates"; exit 1; }
printf '[tls]\ncertificate = %s\nkey = %s\nca_file = %s\n' "$C/server.pem" "$C/server.key" "$C/ca.pem" >"$T/sf.conf"
TLSARGS=(--cert "$C/server.pem" --key "$C/server.key" --ca "$C/ca.pem")

# ---- starting the servers ----
# sf_up: sipflow's proxy on UDP and TLS (SF, SF_UDP, SF_TLS); the connection
# limits above IDLE, connections kept an hour
sf_up() {
  sipflow_start proxy.xml -c "$T/sf.conf" --listen udp:127.0.0.1:0 --listen tls:127.0.0.1:0 \
    --set proxy.trusted=127.0.0.0/8 --set sip.tcp_idle=3600 --set "sip.tcp_max_per_source=$((IDLE + 64))" \
    --set "sip.tcp_max_connections=$((IDLE + 128))" --log-level error
  SF_UDP=$(sed -n 's/.*"listening".*"transport":"udp".*"port":\([0-9]*\).*/\1/p' "$T/events" | head -1)
  SF_TLS=$(sed -n 's/.*"listening".*"transport":"tls".*"port":\([0-9]*\).*/\1/p' "$T/events" | head -1)
  if [ -z "$SF_PORT" ] || [ -z "$SF_TLS" ]; then
    echo "sipflow: did not start on UDP and TLS:"
    tail -5 "$T/err" | sed 's/^/  /'
    exit 1
  fi
}
sf_down() {
  (echo quit >&3) 2>/dev/null
  exec 3>&-
  for _ in $(seq 50); do alive "$SF" || break; sleep 0.1; done
  kill "$SF" 2>/dev/null
  wait "$SF" 2>/dev/null
}
# k_up [ARGS...]: Kamailio on UDP (KPORT) and TLS (KTLS), kamcmd on $T/run/ctl
k_up() {
  KTLS=$(free_port)
  # shared memory: about 150 KB per call/s (bench-proxy.sh), and room for
  # OpenSSL's per-connection state
  if ! kamailio_start kamailio-proxy.cfg $((RATE * 150 / 1000 + IDLE / 2 + 256)) -A WITH_TLS -A "KTLSPORT=$KTLS" \
    -A "TLSCERT=\"$C/server.pem\"" -A "TLSKEY=\"$C/server.key\"" -A "TLSCA=\"$C/ca.pem\"" -A "CTL=\"unix:$T/run/ctl\"" "$@"; then
    echo "kamailio: did not start: not measured"
    K=
    return 1
  fi
  for _ in $(seq 100); do tcp_bound "$KTLS" && [ -S "$T/run/ctl" ] && return 0; sleep 0.05; done
  echo "kamailio: no TLS port or no ctl socket"
  K=
  return 1
}
k_down() {
  kill "$K" 2>/dev/null
  wait "$K" 2>/dev/null
}

# ---- CPU per 1000 calls ----
# run WHO TRANSPORT PORT PID: one run of the generator; sets CPU_MS (server
# CPU per 1000 calls) and prints the run's line
declare -A RES
run() {
  local who=$1 tr=$2 port=$3 pid=$4 g b a ok failed wall gcpu
  rm -f "$T/gen.out"
  python3 "$LOAD" calls --transport "$tr" --port "$port" --uport "$(free_port)" --calls "$CALLS" --rate "$RATE" \
    --conns "$CONNS" --bound 40 "${TLSARGS[@]}" >"$T/gen.out" 2>"$T/gen.err" &
  g=$!
  for _ in $(seq 200); do grep -q started "$T/gen.out" 2>/dev/null && break; alive "$g" || break; sleep 0.05; done
  b=$(ticks "$pid")
  wait "$g"
  a=$(ticks "$pid")
  read -r ok failed wall gcpu < <(tail -1 "$T/gen.out")
  if [ -z "${gcpu:-}" ]; then
    echo "$who $tr: the generator failed:"
    tail -3 "$T/gen.err" | sed 's/^/  /'
    return 1
  fi
  CPU_MS=$(echo "($a - $b) * 1000000 / $HZ / $CALLS" | bc -l)
  printf '%-8s %-3s %s of %s calls at %s/s (%s failed), wall %.1f s, server CPU %.2f s = %.0f ms per 1000 (generator %.1f s)\n' \
    "$who" "$tr" "$ok" "$CALLS" "$RATE" "$failed" "$wall" "$(echo "($a - $b) / $HZ" | bc -l)" "$CPU_MS" "$gcpu"
}

sf_up
HAVE_K=1
if ! command -v kamailio >/dev/null; then
  echo "kamailio: not installed (Debian package kamailio, kamailio-tls-modules): no comparison"
  HAVE_K=
elif ! k_up; then
  HAVE_K=
fi
CASES=("sipflow udp" "sipflow tls")
[ -n "$HAVE_K" ] && CASES+=("kamailio udp" "kamailio tls")
echo "== CPU: $CALLS calls at $RATE/s per run, $ROUNDS rounds, TLS over $CONNS caller connections"
for r in $(seq "$ROUNDS"); do
  order=("${CASES[@]}")
  if [ $((r % 2)) = 0 ]; then
    order=()
    for ((i = ${#CASES[@]} - 1; i >= 0; i--)); do order+=("${CASES[$i]}"); done
  fi
  for c in "${order[@]}"; do
    read -r who tr <<<"$c"
    if [ "$who" = sipflow ]; then
      alive "$SF" || { echo "sipflow exited:"; tail -3 "$T/err"; exit 1; }
      port=$SF_UDP; [ "$tr" = tls ] && port=$SF_TLS
      run "$who" "$tr" "$port" "$SF" && RES[$who.$tr.$r]=$CPU_MS
    else
      alive "$K" || { echo "kamailio exited:"; tail -3 "$T/k.out"; exit 1; }
      port=$KPORT; [ "$tr" = tls ] && port=$KTLS
      run "$who" "$tr" "$port" "$K" && RES[$who.$tr.$r]=$CPU_MS
    fi
  done
done
grep -q -i 'out of mem' "$T/k.out" 2>/dev/null && echo "kamailio: ran out of shared memory: its figures measure retransmissions"
sf_down
[ -n "$HAVE_K" ] && k_down

# ratios per round, and their medians
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio_row() { # ratio_row LABEL NUM DEN
  local label=$1 n=$2 d=$3 r vals=() list=''
  for r in $(seq "$ROUNDS"); do
    [ -n "${RES[$n.$r]:-}" ] && [ -n "${RES[$d.$r]:-}" ] || continue
    vals+=("$(echo "${RES[$n.$r]} / ${RES[$d.$r]}" | bc -l)")
    list="$list$(printf '%.2f ' "${vals[-1]}")"
  done
  [ ${#vals[@]} -gt 0 ] && printf '| %s | %s| %.2f |\n' "$label" "$list" "$(median "${vals[@]}")"
}
[ "$ROUNDS" -gt 0 ] && echo && echo "| case | ms CPU per 1000 calls, per round | median |"
[ "$ROUNDS" -gt 0 ] && echo "|---|---|---|"
for c in "${CASES[@]}"; do
  k=${c/ /.}
  vals=()
  for r in $(seq "$ROUNDS"); do [ -n "${RES[$k.$r]:-}" ] && vals+=("${RES[$k.$r]}"); done
  [ ${#vals[@]} -gt 0 ] && printf '| %s | %s | %.0f |\n' "$c" "$(printf '%.0f ' "${vals[@]}")" "$(median "${vals[@]}")"
done
[ "$ROUNDS" -gt 0 ] && printf '\n| ratio | per round | median |\n|---|---|---|\n'
ratio_row "sipflow TLS / UDP" sipflow.tls sipflow.udp
if [ -n "$HAVE_K" ]; then
  ratio_row "Kamailio TLS / UDP" kamailio.tls kamailio.udp
  ratio_row "sipflow / Kamailio, TLS" sipflow.tls kamailio.tls
  ratio_row "sipflow / Kamailio, UDP" sipflow.udp kamailio.udp
fi

# ---- memory per idle TLS connection ----
# idle PORT PID: the generator's IDLE connections held; sets the figures
# through the callbacks mem_before / mem_after (run while they are open)
idle() {
  local port=$1 pid=$2 g b a n
  echo | python3 "$LOAD" idle --port "$port" --conns 16 --ca "$C/ca.pem" >/dev/null 2>&1 # warm-up
  sleep 0.5
  mem_before
  rm -f "$T/idle.in" "$T/idle.out"
  mkfifo "$T/idle.in"
  b=$(ticks "$pid")
  python3 "$LOAD" idle --port "$port" --conns "$IDLE" --ca "$C/ca.pem" <"$T/idle.in" >"$T/idle.out" 2>&1 &
  g=$!
  exec 4>"$T/idle.in"
  for _ in $(seq 1200); do grep -q ready "$T/idle.out" 2>/dev/null && break; alive "$g" || break; sleep 0.1; done
  a=$(ticks "$pid")
  sleep 1 # what the server still does after the last answer (handshake threads ending)
  n=$(sed -n 's/^ready \([0-9]*\).*/\1/p' "$T/idle.out")
  echo "  $(cat "$T/idle.out")"
  if ! alive "$pid"; then
    echo "  the server exited while the connections were opened: not measured"
  elif [ "${n:-0}" -gt 0 ]; then
    mem_after "$n"
    printf '  set-up CPU: %.2f s for %s connections = %.2f ms per connection\n' "$(echo "($a - $b) / $HZ" | bc -l)" \
      "$n" "$(echo "($a - $b) * 1000 / $HZ / $n" | bc -l)"
  fi
  exec 4>&-
  wait "$g"
}
rss() { awk '$1 == "VmRSS:" { print $2 }' "/proc/$1/status"; }
echo
echo "== memory per idle TLS connection ($IDLE connections, each after one OPTIONS answered)"
sf_up
mem_before() { R0=$(rss "$SF"); P0=$(pss "$SF"); }
mem_after() {
  R1=$(rss "$SF"); P1=$(pss "$SF")
  printf '  sipflow: VmRSS %s -> %s kB, Pss %s -> %s kB: %.1f kB (RSS), %.1f kB (Pss) per connection\n' \
    "$R0" "$R1" "$P0" "$P1" "$(echo "($R1 - $R0) / $1" | bc -l)" "$(echo "($P1 - $P0) / $1" | bc -l)"
}
echo "sipflow:"
idle "$SF_TLS" "$SF"
sf_down
[ -n "$HAVE_K" ] || exit 0
# one TCP worker: two crash Debian's Kamailio 5.6.3 + OpenSSL 3 under a burst
# of handshakes (bench/kamailio-proxy.cfg); the CPU runs above open 5
# connections and keep Kamailio's default of two
k_up -A KTCPCHILDREN=1 || exit 1
kshm() { kamcmd -s "unix:$T/run/ctl" core.shmmem | awk '$1 == "real_used:" { print $2 }'; }
kpkg() { kamcmd -s "unix:$T/run/ctl" pkg.stats | awk '$1 == "real_used:" { s += $2 } END { print s }'; }
mem_before() { S0=$(kshm); G0=$(kpkg); P0=$(pss "$K"); }
mem_after() {
  S1=$(kshm); G1=$(kpkg); P1=$(pss "$K")
  printf '  kamailio: shm real_used %s -> %s B, pkg real_used (all processes) %s -> %s B, Pss %s -> %s kB\n' \
    "$S0" "$S1" "$G0" "$G1" "$P0" "$P1"
  printf '  kamailio: %.1f kB shm + %.1f kB pkg = %.1f kB per connection; Pss %.1f kB per connection\n' \
    "$(echo "($S1 - $S0) / 1024 / $1" | bc -l)" "$(echo "($G1 - $G0) / 1024 / $1" | bc -l)" \
    "$(echo "($S1 - $S0 + $G1 - $G0) / 1024 / $1" | bc -l)" "$(echo "($P1 - $P0) / $1" | bc -l)"
}
echo "kamailio:"
idle "$KTLS" "$K"
k_down
