#!/bin/bash
# check-blast.sh: bench/sip-blast against sipp at a low rate, so that the
# figures it gives above sipp's limit can be trusted: for each job (proxy,
# redirect, register) a fresh sipflow runs CALLS calls at RATE from sipp (the
# scenarios of bench-proxy.sh and bench-redirect.sh) and a fresh one the same
# from sip-blast, ROUNDS times alternated (sipp, blast, sipp, ...); then per job
# the server's CPU per 1000 calls under each (median over the rounds) and
# their ratio, and the events sipflow wrote per call under each, by kind (the
# same work: the counts should be equal).  With Kamailio installed its CPU per
# 1000 calls under both is compared too (KAMAILIO=no to leave it out).
# Server CPU is user+sys from /proc (lib.sh ticks), so the ratio is noisy on a
# loaded machine: alternated rounds, and the event counts are exact.
# BLAST_ARGS adds options to sip-blast (-1: unbatched sends, as sipp's);
# JOBS picks the jobs (default "proxy redirect register").
# Usage: [ROUNDS=2] [KAMAILIO=no] [BLAST_ARGS=-1] [JOBS=...] bench/check-blast.sh BUILD_DIR [CALLS [RATE]]
#        (defaults: CALLS 2000, RATE 200; BUILD_DIR holds sipflow and bench/sip-blast)
set -u
B=${1:?usage: check-blast.sh BUILD_DIR [CALLS [RATE]]}
CALLS=${2:-2000}
RATE=${3:-200}
ROUNDS=${ROUNDS:-2}
JOBS=${JOBS:-proxy redirect register}
# shellcheck disable=SC2034 # read by lib.sh (sipflow_start)
SIPFLOW=$B/sipflow
BLAST=$B/bench/sip-blast
HERE=$(cd "$(dirname "$0")/.." && pwd)
SCEN=$HERE/tests/integration/sipp
. "$(dirname "$0")/lib.sh"
bench_init
HZ=$(getconf CLK_TCK)
[ -x "$BLAST" ] || { echo "check-blast.sh: $BLAST not built" >&2; exit 2; }
command -v sipp >/dev/null || { echo "check-blast.sh: sipp is not installed" >&2; exit 2; }
KAM=${KAMAILIO:-yes}
command -v kamailio >/dev/null || KAM=no
printf 'sipp:sippass\n' >"$T/users"

# sipp_load JOB PORT: CALLS calls from sipp; prints how many succeeded
sipp_load() {
  local job=$1 port=$2 u=() ok
  case $job in
    proxy)
      UPORT=$(free_port)
      sipp -sf "$SCEN/uas-rr.xml" -p "$UPORT" -i 127.0.0.1 -nostdin -timeout $((CALLS / RATE + 60)) >/dev/null 2>&1 &
      U=$!
      PIDS+=("$U")
      for _ in $(seq 100); do bound "$UPORT" && break; sleep 0.05; done
      u=(-sf "$SCEN/uac-rr.xml" -s callee -key uas "127.0.0.1:$UPORT") ;;
    register) u=(-sf "$SCEN/uac-register.xml" -s sipp -au sipp -ap sippass) ;;
    redirect)
      sipp "127.0.0.1:$port" -sf "$SCEN/uac-register.xml" -p "$(free_port)" -i 127.0.0.1 -nostdin -timeout 30 \
        -s sipp -au sipp -ap sippass -m 1 >/dev/null 2>&1
      u=(-sf "$SCEN/uac-302.xml" -s sipp) ;;
  esac
  sipp "127.0.0.1:$port" "${u[@]}" -p "$(free_port)" -i 127.0.0.1 -nostdin -timeout $((CALLS / RATE + 60)) \
    -timeout_error -m "$CALLS" -r "$RATE" -trace_stat -stf "$T/s.csv" >/dev/null 2>&1
  ok=$(awk -F';' 'NR==1 { for (i = 1; i <= NF; i++) if ($i == "SuccessfulCall(C)") c = i } END { print $c + 0 }' "$T/s.csv")
  rm -f "$T/s.csv"
  [ "$job" = proxy ] && kill "$U" 2>/dev/null
  echo "$ok"
}

# blast_load JOB PORT: the same from sip-blast; prints how many completed
blast_load() {
  # shellcheck disable=SC2086 # BLAST_ARGS: options, split
  "$BLAST" ${BLAST_ARGS:-} -n "$CALLS" -r "$RATE" "$1" "$2" >"$T/blast.out"
  sed -n 's/.* completed=\([0-9]*\) .*/\1/p' "$T/blast.out"
}

# server_start WHO JOB: a fresh sipflow or Kamailio for JOB; sets SPID, SPORT
server_start() {
  if [ "$1" = sipflow ]; then
    if [ "$2" = proxy ]; then
      sipflow_start proxy.xml --listen udp:127.0.0.1:0 --set proxy.trusted=127.0.0.0/8 --log-level error
    else
      rm -rf "$XDG_STATE_HOME"
      sipflow_start redirect.xml --listen udp:127.0.0.1:0 --set "registrar.users=$T/users" --set auth.algorithms=MD5 \
        --set sip.rate_limit=0 --log-level error
    fi
    SPID=$SF SPORT=$SF_PORT
  else
    local cfg=kamailio-registrar.cfg
    [ "$2" = proxy ] && cfg=kamailio-proxy.cfg
    kamailio_start "$cfg" 128 || return 1
    SPID=$K SPORT=$KPORT
  fi
}

server_stop() {
  if [ "$1" = sipflow ]; then
    echo quit >&3
    exec 3>&-
  else
    kill "$SPID"
  fi
  wait "$SPID" 2>/dev/null
}

# one WHO JOB LOAD ROUND: appends "JOB WHO LOAD ROUND OK MS_PER_1000" to
# $T/results and, for sipflow, its events by kind to $T/ev.JOB.LOAD.ROUND
one() {
  local who=$1 job=$2 load=$3 round=$4 b a ok
  server_start "$who" "$job" || { echo "$who $job: did not start"; return; }
  b=$(ticks "$SPID")
  "${load}_load" "$job" "$SPORT" >"$T/ok" # not in a subshell: sipp's UAS joins PIDS
  ok=$(cat "$T/ok")
  a=$(ticks "$SPID")
  server_stop "$who"
  # counted once sipflow has quit: the instances still live then end at exit
  # (reason "exit"), so the counts do not depend on when the run stopped
  [ "$who" = sipflow ] &&
    sed -n 's/.*"event":"\([a-z_]*\)".*/\1/p' "$T/events" | sort | uniq -c | awk '{ print $2, $1 }' >"$T/ev.$job.$load.$round"
  printf '%s %s %s %s %s %.1f\n' "$job" "$who" "$load" "$round" "$ok" "$(echo "($a - $b) * 1000000 / $HZ / $CALLS" | bc -l)" |
    tee -a "$T/results"
}

WHOS=sipflow
[ "$KAM" = no ] || WHOS="sipflow kamailio"
echo "job who load round completed ms_per_1000_calls"
for job in $JOBS; do
  for round in $(seq "$ROUNDS"); do
    for who in $WHOS; do
      one "$who" "$job" sipp "$round"
      one "$who" "$job" blast "$round"
    done
  done
done

echo
echo "$CALLS calls at $RATE/s, median of $ROUNDS alternated rounds: server CPU ms per 1000 calls"
echo "| job | server | under sipp | under sip-blast | blast / sipp |"
echo "|---|---|---|---|---|"
for job in $JOBS; do
  for who in $WHOS; do
    awk -v job="$job" -v who="$who" '
      function med(a, n,   i, j, x) { for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { x = a[j]; a[j] = a[j - 1]; a[j - 1] = x }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
      $1 == job && $2 == who && $3 == "sipp" { s[++ns] = $6 }
      $1 == job && $2 == who && $3 == "blast" { b[++nb] = $6 }
      END { if (ns && nb) { ms = med(s, ns); mb = med(b, nb)
              printf "| %s | %s | %.1f | %.1f | %.2f |\n", job, who, ms, mb, (ms > 0 ? mb / ms : 0) } }' "$T/results"
  done
done
echo
echo "sipflow's events per call, by kind (round 1; listening and flow are once per run)"
echo "| job | event | under sipp | under sip-blast | same |"
echo "|---|---|---|---|---|"
MISMATCH=0
for job in $JOBS; do
  [ -f "$T/ev.$job.sipp.1" ] && [ -f "$T/ev.$job.blast.1" ] || continue
  join -a 1 -a 2 -e 0 -o 0,1.2,2.2 <(sort "$T/ev.$job.sipp.1") <(sort "$T/ev.$job.blast.1") |
    awk -v job="$job" -v n="$CALLS" '
      $1 == "listening" || $1 == "flow" { next }
      { s = $2 / n; b = $3 / n; same = (s - b < 0.01 && b - s < 0.01) ? "yes" : "NO"; if (same == "NO") bad = 1
        printf "| %s | %s | %.2f | %.2f | %s |\n", job, $1, s, b, same }
      END { exit bad }' || MISMATCH=1
done
exit $MISMATCH
