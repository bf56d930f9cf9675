#!/bin/bash
# bench-flood.sh: what an unauthenticated flood costs xml/proxy.xml in memory:
# N REGISTERs without credentials for a user of ours (each one challenged
# 401), sent at RATE a second from one source, from the python3 sender of the
# tests (tests/integration/sipcat.py).  Prints the proxy's RSS before and at
# its peak (VmHWM), and its stats once everything it received is answered:
# instances and transactions still live, answers made statelessly.
# Run it on a build without sanitizers (ASan's quarantine hides freed memory).
# EXTRA (environment) adds --set options: the current proxy is run with
# sip.rate_limit=0 so that the whole flood reaches it and its secret in a
# throwaway state directory; an older build without those keys is run with
# EXTRA= .
# Usage: bench/bench-flood.sh SIPFLOW [N [RATE]]   (defaults 20000, 4000)
set -u
SIPFLOW=${1:?usage: bench-flood.sh SIPFLOW [N [RATE]]}
N=${2:-20000}
RATE=${3:-4000}
T=$(mktemp -d)
export XDG_STATE_HOME="$T/state" # its own location database and secret
EXTRA=${EXTRA---set sip.rate_limit=0 --set core.state_dir=$T/state}
HERE=$(cd "$(dirname "$0")/.." && pwd)
trap 'kill "$PX" 2>/dev/null; wait 2>/dev/null; rm -rf "$T"' EXIT

printf 'alice:secret\n' >"$T/users"
mkfifo "$T/in"
# shellcheck disable=SC2086
"$SIPFLOW" run proxy.xml --listen udp:127.0.0.1:0 --set "registrar.users=$T/users" $EXTRA \
  --log-level error <"$T/in" >"$T/events" 2>"$T/err" &
PX=$!
exec 3>"$T/in"
for _ in $(seq 100); do grep -q '"event":"listening"' "$T/events" && break; sleep 0.1; done
PORT=$(grep -m1 '"event":"listening"' "$T/events" | sed 's/.*"port":\([0-9]*\).*/\1/')
[ -n "$PORT" ] || { echo "the proxy did not start: $(tail -3 "$T/err")"; exit 1; }
rss() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$PX/status"; }
stats() { # the newest stats event, after asking for one
  local n
  n=$(grep -c '"event":"stats"' "$T/events")
  echo status >&3
  for _ in $(seq 100); do [ "$(grep -c '"event":"stats"' "$T/events")" -gt "$n" ] && break; sleep 0.05; done
  grep '"event":"stats"' "$T/events" | tail -1
}
field() { grep -o "\"$2\":[0-9]*" <<<"$1" | cut -d: -f2; }

cat >"$T/reg.sip" <<EOF
REGISTER sip:sipflow.test SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKfl{cid};rport
Max-Forwards: 70
From: <sip:alice@sipflow.test>;tag=f{n}
To: <sip:alice@sipflow.test>
Call-ID: flood-{cid}
CSeq: 1 REGISTER
Contact: <sip:alice@127.0.0.1:9>
Expires: 600

EOF
before=$(rss VmRSS)
python3 "$HERE/tests/integration/sipcat.py" send "127.0.0.1:$PORT" "$T/reg.sip" --count "$N" --timeout 0 --rate "$RATE" >/dev/null
prev=-1
for _ in $(seq 200); do
  s=$(stats)
  rcv=$(field "$s" sip_received)
  [ "$rcv" = "$prev" ] && break
  prev=$rcv
  sleep 0.2
done
peak=$(rss VmHWM)
after=$(rss VmRSS)
echo "flood: $N REGISTERs at $RATE/s, $rcv received"
echo "RSS before ${before} kB, peak ${peak} kB, after ${after} kB"
echo "instances_live $(field "$s" instances_live), transactions_live $(field "$s" transactions_live), stateless_answers $(field "$s" stateless_answers), transactions $(field "$s" transactions)"
