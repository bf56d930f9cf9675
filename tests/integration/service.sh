#!/bin/bash
# service.sh: sipflow run as systemd runs it (data/sipflow.service,
# docs/operations.md), systemd played by the test:
#  - sd_notify: RELOADING=1 and READY=1 again at SIGHUP;
#  - sd_notify: READY=1 only once the SIP socket answers (a request sent the
#    moment READY=1 arrives gets its answer), STATUS= naming the control socket,
#    WATCHDOG=1 at half of WATCHDOG_USEC, STOPPING=1 at SIGTERM
#  - RUNTIME_DIRECTORY and STATE_DIRECTORY: the control socket and every state
#    file (the secret, location.sqlite, users.sqlite) land there; 'sipflow ctl'
#    with no socket reaches it; the example configuration runs
#  - log levels: debug has a line per SIP message (direction, protocol,
#    addresses, start line, Call-ID) and per transition; info the end of each
#    instance but no message; the default neither (a run each)
#  - the journal: with JOURNAL_STREAM naming standard error, lines go to the
#    journal's socket (a datagram socket the test makes in a mount namespace of
#    its own) with their fields: CALL_ID, SIPFLOW_TRANSACTION, PRIORITY
#  - the unit: 'systemd-analyze verify' finds nothing to say; 'make install'
#    puts it in systemd's unit directory with the paths substituted
# A control socket left by a SIGKILL is cli.sh's (a real SIGKILL, the restart
# warns and takes commands).
# Every wait is on a line, bounded; nothing sleeps.
. "$(dirname "$0")/lib.sh"
SRC=${SF_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
command -v systemd-analyze >/dev/null || {
  echo "not ok - systemd-analyze is not installed (Debian package systemd; scripts/setup-deps installs it)"
  exit 1
}
command -v unshare >/dev/null || { echo "not ok - unshare is not installed (Debian package util-linux)"; exit 1; }

# A free UDP port on loopback (the notify listener sends to it at READY=1).
free_port() {
  python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# options PORT [CALLID]: one OPTIONS to 127.0.0.1:PORT; prints the answer's start line.
options() {
  python3 - "$@" <<'EOF'
import socket, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(5)
lp = s.getsockname()[1]
cid = sys.argv[2] if len(sys.argv) > 2 else "svc-%d" % lp
m = ("OPTIONS sip:nobody@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-svc-%d\r\n"
     "From: <sip:probe@127.0.0.1>;tag=p%d\r\nTo: <sip:nobody@127.0.0.1>\r\nCall-ID: %s\r\nCSeq: 1 OPTIONS\r\n"
     "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n" % (port, lp, lp, lp, cid))
s.sendto(m.encode(), ("127.0.0.1", port))
try:
    print(s.recv(65535).decode(errors="replace").split("\r\n")[0])
except socket.timeout:
    print("no answer")
EOF
}

# ---- systemd's side of sd_notify: a datagram socket; each datagram's
# assignments one a line in notify.events.  At READY=1 it sends an OPTIONS to
# the SIP port and writes what came back.
PORT=$(free_port)
timeout 60 python3 - "$T/notify" "$PORT" >"$T/notify.events" 2>&1 <<'EOF' &
import os, socket, sys
path, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(path)
print("bound", flush=True)
while True:
    d = s.recv(4096).decode(errors="replace")
    for line in d.split("\n"):
        print(line, flush=True)
    if "READY=1" in d.split("\n"):
        p = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        p.bind(("127.0.0.1", 0))
        p.settimeout(5)
        lp = p.getsockname()[1]
        m = ("OPTIONS sip:nobody@127.0.0.1:%d SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-ready-%d\r\n"
             "From: <sip:probe@127.0.0.1>;tag=r%d\r\nTo: <sip:nobody@127.0.0.1>\r\nCall-ID: ready-%d\r\n"
             "CSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n" % (port, lp, lp, lp, lp))
        p.sendto(m.encode(), ("127.0.0.1", port))
        try:
            print("answer at ready: " + p.recv(65535).decode(errors="replace").split("\r\n")[0], flush=True)
        except socket.timeout:
            print("answer at ready: none", flush=True)
    if "STOPPING=1" in d.split("\n"):
        break
EOF
PIDS+=($!)
wait_ev notify '^bound' 10 || fail "the notify listener did not start" "$(cat "$T/notify.events")"

# ---- the service: as data/sipflow.service starts it (standard input
# /dev/null, systemd's directories in the environment, the example
# configuration), its watchdog at 300 ms (WATCHDOG_PID: this very process)
mkdir -p "$T/run" "$T/lib"
chmod 700 "$T/lib"
NOTIFY_SOCKET="$T/notify" RUNTIME_DIRECTORY="$T/run" STATE_DIRECTORY="$T/lib" WATCHDOG_USEC=300000 \
  bash -c 'export WATCHDOG_PID=$$; exec "$@"' _ "$SIPFLOW" run proxy.xml --config "$SRC/data/sipflow.conf.example" \
  --listen "udp:127.0.0.1:$PORT" --set sip.t1_ms=50 --log-level debug </dev/null >"$T/svc.events" 2>"$T/svc.err" &
SVC=$!
PIDS+=($SVC)
if wait_ev notify '^READY=1$' 20; then
  pass "READY=1 sent"
else
  fail "no READY=1" "$(tail -5 "$T/svc.err")"
fi
wait_ev notify '^answer at ready' 10
has "... once the SIP socket answers (an OPTIONS sent at READY=1 is answered)" "$T/notify.events" \
  "answer at ready: SIP/2.0 "
has "... with a STATUS naming the flow and the control socket" "$T/notify.events" \
  "STATUS=running proxy.xml, control socket $T/run/control"
wait_ev notify '^WATCHDOG=1$' 10 3 && pass "WATCHDOG=1 again and again (WATCHDOG_USEC set)" ||
  fail "no watchdog pings" "$(cat "$T/notify.events")"

# ---- the directories
[ -S "$T/run/control" ] && pass "the control socket in RUNTIME_DIRECTORY, without --control" ||
  fail "no control socket in $T/run" "$(ls -la "$T/run")"
has "... announced by the listening event" "$T/svc.events" "\"transport\":\"control\",\"path\":\"$T/run/control\""
RUNTIME_DIRECTORY="$T/run" expect_rc "sipflow ctl with no socket finds it there" 0 "$SIPFLOW" ctl status
has "... and prints the reply" "$T/out" '{"ok":true,"calls":[]}'
expect_rc "... as the socket named" 0 "$SIPFLOW" ctl "$T/run/control" location count
expect_rc "ctl with no socket and no RUNTIME_DIRECTORY: the service's path" 1 env -u RUNTIME_DIRECTORY \
  "$SIPFLOW" ctl status
has "... named in the error" "$T/err" "cannot connect to '/run/sipflow/control'"
for f in secret location.sqlite users.sqlite; do
  [ -f "$T/lib/$f" ] && pass "$f in STATE_DIRECTORY" || fail "no $f in STATE_DIRECTORY" "$(ls -la "$T/lib")"
done
[ ! -e "$T/state/sipflow" ] && pass "... and nothing in XDG_STATE_HOME" || fail "state in XDG_STATE_HOME" "$(ls -R "$T/state")"

# ---- log levels: debug (the service above)
answer=$(options "$PORT" svc-debug-1)
case $answer in "SIP/2.0 "*) pass "the service answers an OPTIONS ($answer)" ;; *) fail "no answer: $answer" ;; esac
retry 5 grep -q "sent udp 127.0.0.1:$PORT -> 127.0.0.1:[0-9]*: SIP/2.0 [0-9]* .*Call-ID svc-debug-1)" "$T/svc.err"
grep -Eq "debug: received udp 127.0.0.1:$PORT <- 127.0.0.1:[0-9]+: OPTIONS sip:nobody@127.0.0.1:$PORT SIP/2.0 \([0-9]+ bytes, Call-ID svc-debug-1\)" \
  "$T/svc.err" && pass "debug: a line for the request received (addresses, start line, Call-ID)" ||
  fail "no line for the request" "$(grep debug "$T/svc.err" | head -5)"
grep -Eq "debug: sent udp 127.0.0.1:$PORT -> 127.0.0.1:[0-9]+: SIP/2.0 [0-9]{3} .*Call-ID svc-debug-1\)" "$T/svc.err" &&
  pass "... and for the response sent" || fail "no line for the response" "$(grep debug "$T/svc.err" | head -5)"
# ---- SIGHUP (the unit's ExecReload=): RELOADING=1 with MONOTONIC_USEC, then READY=1 again
kill -HUP "$SVC"
wait_ev notify '^RELOADING=1$' 10 && wait_ev notify '^MONOTONIC_USEC=[0-9]+$' 10 && pass "SIGHUP: RELOADING=1 and MONOTONIC_USEC" ||
  fail "no RELOADING=1" "$(cat "$T/notify.events")"
wait_ev notify '^READY=1$' 10 2 && wait_ev notify '^STATUS=configuration reloaded$' 10 &&
  pass "... then READY=1 with STATUS=configuration reloaded" || fail "no READY=1 after the reload" "$(cat "$T/notify.events")"
# ---- SIGTERM: STOPPING=1, a clean exit, the socket removed
kill -TERM "$SVC"
wait_ev notify '^STOPPING=1$' 10 && pass "SIGTERM: STOPPING=1" || fail "no STOPPING=1" "$(cat "$T/notify.events")"
timeout 20 tail --pid="$SVC" -f /dev/null
wait "$SVC"
rc=$?
[ "$rc" = 0 ] && pass "... and exit 0" || fail "exit $rc after SIGTERM" "$(err_report "$T/svc.err")"
[ ! -e "$T/run/control" ] && pass "... the control socket removed" || fail "control socket left"
has "... the shutdown logged at level message" "$T/svc.err" "sipflow: message: shutting down (SIGTERM)"

# ---- log levels: info and the default, one OPTIONS each
# level LEVEL...: a run of proxy.xml with those options, one OPTIONS, quit; its standard error in $T/level.err
level() {
  local port
  port=$(free_port)
  mkfifo "$T/level.in"
  "$SIPFLOW" run proxy.xml --listen "udp:127.0.0.1:$port" --set sip.t1_ms=50 "$@" <"$T/level.in" \
    >"$T/level.events" 2>"$T/level.err" &
  local pid=$!
  PIDS+=($pid)
  exec {lfd}>"$T/level.in"
  wait_ev level '"event":"listening"' 10 || fail "run $* did not start" "$(tail -3 "$T/level.err")"
  options "$port" svc-level >/dev/null
  wait_ev level '"event":"instance_end".*"machine":"proxy"' 10
  printf 'quit\n' >&"$lfd"
  timeout 20 tail --pid="$pid" -f /dev/null
  wait "$pid"
  exec {lfd}>&-
  rm -f "$T/level.in"
}
# (the service challenges the OPTIONS statelessly: its users file; here the
# proxy runs it through a transaction and its flow)
level --log-level debug
grep -Eq 'debug: t[0-9]+ nist: Start -> Trying on sip:OPTIONS' "$T/level.err" &&
  pass "debug: a line per transition (instance, machine, from -> to, event)" ||
  fail "no transition line" "$(grep debug "$T/level.err" | head -5)"
grep -Eq 'debug: p[0-9]+ proxy: Idle -> Routing on sip:OPTIONS' "$T/level.err" && pass "... the proxy's too" ||
  fail "no proxy transition" "$(grep debug "$T/level.err" | head -8)"
level --log-level info
grep -Eq 'info: p[0-9]+ proxy: ended in [A-Za-z]+ \(.*\) after [0-9.]+ s' "$T/level.err" &&
  pass "info: a line for each instance's end" || fail "info: no instance end" "$(head -5 "$T/level.err")"
has "... and the start (message)" "$T/level.err" "sipflow: message: ready: running proxy.xml"
! grep -q 'debug:\|received udp\|-> Routing' "$T/level.err" && pass "... but no message or transition" ||
  fail "info shows debug lines" "$(grep 'debug' "$T/level.err" | head -3)"
level
[ ! -s "$T/level.err" ] && pass "the default (warning): none of these" || fail "warning level wrote" "$(head -5 "$T/level.err")"

# ---- the journal: JOURNAL_STREAM names standard error, the journal's socket
# (/run/systemd/journal/socket) a listener of the test's in a mount namespace of
# its own; each datagram's fields, one a line, in journal.events
cat >"$T/journal.sh" <<'EOF'
set -u
T=$1 SIPFLOW=$2 PORT=$3
mount -t tmpfs tmpfs /run/systemd || exit 3
mkdir -p /run/systemd/journal
timeout 30 python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/run/systemd/journal/socket")
print("bound", flush=True)
while True:
    d = s.recv(65536).decode(errors="replace")
    print("--", flush=True)
    print(d, flush=True)
' >"$T/journal.events" 2>&1 &
J=$!
timeout 10 grep -m1 -q bound <(tail -n +1 -F "$T/journal.events" 2>/dev/null)
: >"$T/journal.err"
JOURNAL_STREAM="$(stat -c %d:%i "$T/journal.err")" "$SIPFLOW" run proxy.xml --listen "udp:127.0.0.1:$PORT" \
  --set sip.t1_ms=50 --log-level debug <"$T/journal.in" >"$T/jrun.events" 2>>"$T/journal.err" &
wait $!
kill $J
EOF
JPORT=$(free_port)
mkfifo "$T/journal.in"
unshare -m --propagation private bash "$T/journal.sh" "$T" "$SIPFLOW" "$JPORT" &
JNS=$!
PIDS+=($JNS)
exec {jfd}>"$T/journal.in"
wait_ev jrun '"event":"listening"' 10 || fail "the run with the journal did not start" "$(cat "$T/journal.err" 2>&1 | head -3)"
options "$JPORT" svc-journal >/dev/null
wait_ev jrun '"event":"instance_end".*"machine":"proxy"' 10
printf 'quit\n' >&"$jfd"
exec {jfd}>&-
timeout 20 tail --pid="$JNS" -f /dev/null
wait "$JNS"
grep -q '^MESSAGE=received udp .*Call-ID svc-journal)$' "$T/journal.events" &&
  pass "the journal: the line sent to its socket" || fail "no line in the journal" "$(head -20 "$T/journal.events")"
grep -q '^CALL_ID=svc-journal$' "$T/journal.events" && pass "... with CALL_ID as a field" ||
  fail "no CALL_ID field" "$(head -20 "$T/journal.events")"
grep -q '^SIPFLOW_TRANSACTION=t[0-9]*$' "$T/journal.events" && pass "... SIPFLOW_TRANSACTION (the response's)" ||
  fail "no SIPFLOW_TRANSACTION field" "$(head -20 "$T/journal.events")"
grep -q '^SIPFLOW_INSTANCE=p[0-9]*$' "$T/journal.events" && grep -q '^SIPFLOW_MACHINE=proxy$' "$T/journal.events" &&
  pass "... SIPFLOW_INSTANCE and SIPFLOW_MACHINE (the transitions')" ||
  fail "no SIPFLOW_INSTANCE field" "$(grep SIPFLOW "$T/journal.events" | head -5)"
grep -q '^PRIORITY=7$' "$T/journal.events" && grep -q '^SYSLOG_IDENTIFIER=sipflow$' "$T/journal.events" &&
  pass "... PRIORITY (7: debug) and SYSLOG_IDENTIFIER" || fail "no PRIORITY" "$(head -20 "$T/journal.events")"
! grep -q 'debug:' "$T/journal.err" && pass "... and not on standard error too" ||
  fail "lines on standard error as well" "$(head -3 "$T/journal.err")"

# ---- the unit
UNIT=${SF_BUILDDIR:-$PWD}/data/sipflow.service
if [ -f "$UNIT" ]; then
  # ExecStart names the installed sipflow: the one built here for the check
  bindir=$(sed -n 's|^ExecStart=\(.*\)/sipflow run .*|\1|p' "$UNIT")
  sed "s|^ExecStart=$bindir/sipflow |ExecStart=$SIPFLOW |" "$UNIT" >"$T/sipflow.service"
  # (--man=no: the man page is not installed yet)
  timeout 60 systemd-analyze verify --man=no "$T/sipflow.service" >"$T/verify.out" 2>&1
  rc=$?
  [ "$rc" = 0 ] && [ ! -s "$T/verify.out" ] && pass "systemd-analyze verify: nothing to say" ||
    fail "systemd-analyze verify (exit $rc)" "$(head -10 "$T/verify.out")"
  unitdir=$(sed -n 's/^systemdsystemunitdir = //p' "${SF_BUILDDIR:-$PWD}/Makefile")
  if [ -n "$unitdir" ]; then
    make -s -C "${SF_BUILDDIR:-$PWD}" install-systemdsystemunitDATA DESTDIR="$T/root" >"$T/install.out" 2>&1
    if [ -f "$T/root$unitdir/sipflow.service" ]; then
      pass "make install puts the unit in $unitdir"
      ! grep -q '@[a-z]*@' "$T/root$unitdir/sipflow.service" && grep -q "^ExecStart=$bindir/sipflow run proxy.xml --config /.*/sipflow/sipflow.conf$" "$T/root$unitdir/sipflow.service" &&
        pass "... with the paths substituted" || fail "substitutions" "$(grep -n '@\|ExecStart' "$T/root$unitdir/sipflow.service")"
    else
      fail "make install-systemdsystemunitDATA put nothing in $unitdir" "$(head -5 "$T/install.out")"
    fi
  else
    fail "configure found no systemd unit directory (pkg-config systemd: Debian package systemd)"
  fi
else
  fail "no built unit $UNIT"
fi

summary service
