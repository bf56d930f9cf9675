#!/bin/bash
# browser.sh: browser clients over WebSocket (RFC 7118) at a registrar and
# proxy.  JsSIP user agents (npm's jssip, bundled with esbuild into the build
# directory) run in pages of one headless Chromium (Debian chromium, driven by
# puppeteer-core: tests/browser/driver.cjs), with fake media devices, trusting
# the server's certificate from the test's throwaway CA (its key's SPKI hash):
#  1. alice and bob register over WSS through a digest challenge (a wrong
#     password is refused); alice calls bob through the proxy, bob's page
#     answers, both reach the confirmed state (the browsers negotiate their
#     own media, DTLS-SRTP between themselves); alice's BYE ends the call on
#     both sides;
#  2. carol and dave register over WS; a sipflow UA (xml/ua.xml, no media)
#     calls them through the proxy over UDP: the INVITE reaches each over its
#     own connection; carol's page answers (page.js's plain=1: an RTP/AVP
#     offer, no media flows), the UA's BYE ends it; dave's page rejects (486).
# The server under test is start_server's (one place); SF_BROWSER_SERVER=kamailio
# runs the same against Kamailio (tests/browser/kamailio-ws.cfg).  npm
# packages go into the build directory (lib.sh npm_dir), never the source
# tree.  A missing Chromium, node or npm fails the test.  Every wait is bounded.
# In make check (tests/Makefile.inc).
. "$(dirname "$0")/lib.sh"

builddir=$PWD
SRC=$(cd "${SF_SRCDIR:-$(dirname "$0")/../..}" && pwd)
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
# The server under test: sipflow's proxy; SF_BROWSER_SERVER=kamailio runs the same test against Kamailio.
SERVER=${SF_BROWSER_SERVER:-sipflow}
if [ ! -x "$CHROMIUM" ] || ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "not ok - the browser test needs $CHROMIUM, node and npm (Debian packages chromium, nodejs, npm;" \
    "scripts/setup-deps installs them)"
  exit 1
fi

# 0. puppeteer-core, jssip 3.13 (CommonJS only) and esbuild in the build
# directory, once; jssip bundled for the page (again only when it changed).
NB=$builddir/node-browser
npm_dir "$NB" "puppeteer-core@$PUPPETEER_VERSION" jssip@3.13.8 esbuild@0.28.2 || exit 1
if [ ! -s "$NB/jssip.js" ] || [ "$NB/.specs" -nt "$NB/jssip.js" ]; then
  "$NB/node_modules/.bin/esbuild" "$NB/node_modules/jssip" --bundle --format=iife --global-name=JsSIP \
    --log-level=warning --outfile="$NB/jssip.js.$$" >"$T/esbuild.log" 2>&1 && mv "$NB/jssip.js.$$" "$NB/jssip.js" ||
    { rm -f "$NB/jssip.js.$$"; fail "esbuild could not bundle jssip" "$(tail -5 "$T/esbuild.log")"; exit 1; }
fi
pass "puppeteer-core, jssip and esbuild in $NB; jssip bundled for the page"

# The throwaway CA and the server's certificate; the users (one password).
mkca ca && mkcert server ca IP:127.0.0.1 DNS:localhost || { fail "no certificates (openssl)"; exit 1; }
SPKI=$(openssl x509 -in "$CERTS/server.pem" -pubkey -noout | openssl pkey -pubin -outform der |
  openssl dgst -sha256 -binary | base64)
PW=browser-pw
printf '%s:%s\n' alice "$PW" bob "$PW" carol "$PW" dave "$PW" caller "$PW" >"$T/users"

# start_server: the registrar and proxy under test on free loopback ports;
# sets WSS (wss://127.0.0.1:PORT), WS (ws://...), UDP (127.0.0.1:PORT) and
# SERVER_PID.
start_server() {
  case $SERVER in
    sipflow)
      conf px server
      LISTEN=wss:127.0.0.1:0 start px proxy.xml -c "$T/px.conf" --listen ws:127.0.0.1:0 --listen udp:127.0.0.1:0 \
        --set "registrar.users=$T/users" --set sip.t1_ms=100 --log-level warning || return 1
      lport() { grep '"event":"listening".*"transport":"'"$1"'"' "$T/px.events" | head -1 | sed 's/.*"port":\([0-9]*\).*/\1/'; }
      WSS=wss://127.0.0.1:$(lport wss) WS=ws://127.0.0.1:$(lport ws) UDP=127.0.0.1:$(lport udp) SERVER_PID=$PID_px
      ;;
    kamailio)
      local mods try p1 p2 p3 i
      command -v kamailio >/dev/null && mods=$(find /usr/lib -name websocket.so -path '*kamailio*' | head -1) &&
        [ -n "$mods" ] && [ -n "$(find /usr/lib -name tls.so -path '*kamailio*' | head -1)" ] || {
        echo "not ok - Kamailio with its websocket and tls modules is needed (Debian kamailio," \
          "kamailio-websocket-modules, kamailio-tls-modules)"
        exit 1
      }
      mkdir -p "$T/kam"
      for try in 1 2 3 4 5; do
        p1=$((20000 + RANDOM % 20000)) p2=$((20000 + RANDOM % 20000)) p3=$((20000 + RANDOM % 20000))
        udp_bound "$p1" || tcp_bound "$p2" || tcp_bound "$p3" && continue
        [ "$p1" != "$p2" ] && [ "$p2" != "$p3" ] && [ "$p1" != "$p3" ] || continue
        kamailio -f "$SRC/tests/browser/kamailio-ws.cfg" -L "$(dirname "$mods")" -A "KPORT=$p1" -A "KWSPORT=$p2" \
          -A "KWSSPORT=$p3" -A "TLSCERT=\"$CERTS/server.pem\"" -A "TLSKEY=\"$CERTS/server.key\"" -A "PASSWORD=\"$PW\"" \
          -DD -E -n 2 -m 64 -M 8 -Y "$T/kam" -P "$T/kam/kamailio.pid" -w "$T/kam" >"$T/px.events" 2>&1 &
        SERVER_PID=$!
        PIDS+=("$SERVER_PID")
        # no event says Kamailio is ready: its sockets appearing do (5 s at most)
        if retry 5 eval 'udp_bound $p1 && tcp_bound $p2 && tcp_bound $p3'; then
          WSS=wss://127.0.0.1:$p3 WS=ws://127.0.0.1:$p2 UDP=127.0.0.1:$p1
          return 0
        fi
        kill "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
      done
      fail "Kamailio did not start" "$(tail -5 "$T/px.events")"
      return 1
      ;;
  esac
}
start_server || exit 1
pass "$SERVER listens: $WSS, $WS, udp $UDP"

# The browser: driver.cjs reads commands from $T/br.in, its events in $T/br.events.
mkfifo "$T/br.in"
PUPPETEER=$NB/node_modules/puppeteer-core CHROMIUM=$CHROMIUM PAGE_DIR=$SRC/tests/browser BUNDLE=$NB/jssip.js \
  SPKI=$SPKI timeout 120 node "$SRC/tests/browser/driver.cjs" <"$T/br.in" >"$T/br.events" 2>"$T/br.err" &
PID_br=$!
PIDS+=($PID_br)
exec {FD_br}>"$T/br.in"
wait_ev br '"event":"ready"' 30 && pass "headless Chromium is up ($(grep -o '"version":"[^"]*"' "$T/br.events"))" ||
  { fail "the browser did not start" "$(tail -5 "$T/br.err")" "$(tail -3 "$T/br.events")"; exit 1; }
# ev PAGE EVENT [SECONDS] [COUNT]: waits for PAGE's EVENT
ev() { wait_ev br "\"page\":\"$1\",\"event\":\"$2\"" "${3:-10}" "${4:-1}"; }
# last PAGE EVENT: PAGE's latest EVENT line
last() { grep "\"page\":\"$1\",\"event\":\"$2\"" "$T/br.events" | tail -1; }
# open NAME QUERY...: a page for sip:NAME@sipflow.test with the password, at server URL $WS or $WSS
open_page() {
  local name=$1 url=$2
  shift 2
  cmd br open "$name" "ws=$url&uri=sip:$name@sipflow.test&password=$PW$(printf '&%s' "$@")"
}
trouble() { grep -E '"event":"(error|pageerror|console|registrationFailed|failed)"' "$T/br.events" | tail -5; }

# 1. two browsers over WSS
open_page alice "$WSS" mode=none
open_page bob "$WSS" mode=answer
cmd br open eve "ws=$WSS&uri=sip:alice@sipflow.test&password=wrong"
ev alice registered 15 && ev bob registered 15 && pass "alice and bob register over WSS (digest)" ||
  { fail "registration over WSS" "$(trouble)" "$(tail -5 "$T/px.events")"; exit 1; }
ev eve registrationFailed 15 && ! grep -q '"page":"eve","event":"registered"' "$T/br.events" &&
  pass "a wrong password is refused: $(last eve registrationFailed)" || fail "the wrong password" "$(grep '"eve"' "$T/br.events")"
cmd br call alice sip:bob@sipflow.test
ev bob incoming 10 && last bob incoming | grep -q '"via":"SIP/2.0/WSS ' &&
  pass "bob's page rings: the INVITE came over his WSS connection" || fail "no INVITE at bob" "$(trouble)" "$(last bob incoming)"
ev alice confirmed 10 && ev bob confirmed 10 && pass "alice and bob reach the confirmed state" ||
  fail "the call is not confirmed" "$(trouble)"
ev alice ice'","state":"connected' 10 && pass "the browsers' own media connects (ICE, DTLS-SRTP between them)" ||
  fail "the browsers' media" "$(grep '"event":"ice"' "$T/br.events")"
cmd br hangup alice
ev bob ended 10 && last bob ended | grep -q '"originator":"remote"' && ev alice ended 10 &&
  pass "alice's BYE ends the call on both sides" || fail "the BYE" "$(last bob ended)" "$(last alice ended)" "$(trouble)"

# 2. a sipflow UA over UDP calls browsers registered over WS
open_page carol "$WS" mode=answer plain=1
open_page dave "$WS" mode=reject
ev carol registered 15 && ev dave registered 15 && pass "carol and dave register over WS" ||
  { fail "registration over WS" "$(trouble)"; exit 1; }
start caller ua.xml --set media.backend=null --set sip.t1_ms=100 --set ua.uri=sip:caller@sipflow.test \
  --set ua.password="$PW" --set "ua.outbound_proxy=sip:$UDP" || exit 1
cmd caller call sip:carol@sipflow.test
ev carol incoming 10 && last carol incoming | grep -q '"via":"SIP/2.0/WS ' &&
  pass "the UA's INVITE reaches carol over her WS connection" || fail "no INVITE at carol" "$(trouble)" "$(tail -3 "$T/caller.err")"
ev carol confirmed 10 && wait_ev caller '"to":"InCall"' 10 && pass "carol's page answers: confirmed, the UA in InCall" ||
  fail "carol's answer" "$(trouble)" "$(grep -E 'call_end|"to":' "$T/caller.events" | tail -3)"
cmd caller hangup
ev carol ended 10 && last carol ended | grep -q '"originator":"remote"' && pass "the UA's BYE ends carol's call" ||
  fail "the BYE to carol" "$(last carol ended)"
cmd caller call sip:dave@sipflow.test
ev dave incoming 10 && wait_ev caller '"event":"call_end".*"status":486' 10 &&
  pass "dave's page rejects: the UA gets 486" || fail "dave's rejection" "$(grep call_end "$T/caller.events" | tail -1)" "$(trouble)"

# 3. the end: the pages unregister, the browser and the server go
for p in alice bob carol dave; do cmd br stop "$p"; done
ev alice unregistered 10 && ev bob unregistered 10 && ev carol unregistered 10 && ev dave unregistered 10 &&
  pass "the pages unregister" || fail "unregistration" "$(trouble)"
[ -z "$(grep -E '"event":"(error|pageerror)"' "$T/br.events")" ] && pass "no error in the pages or the driver" ||
  fail "errors in the browser" "$(grep -E '"event":"(error|pageerror)"' "$T/br.events" | head -5)"
cmd br quit
timeout 20 tail --pid="$PID_br" -f /dev/null && wait_ev br '"event":"quit"' 1 && pass "the browser closes" ||
  fail "the browser did not close" "$(tail -3 "$T/br.err")"
stop caller || fail "the UA's exit" "$(err_report "$T/caller.err")"
kill -0 "$SERVER_PID" 2>/dev/null && pass "$SERVER is still running" || fail "$SERVER died" "$(tail -5 "$T/px.events")"
case $SERVER in
  sipflow) stop px || fail "the proxy's exit" "$(err_report "$T/px.err")" ;;
  kamailio) kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null ;;
esac
summary browser.sh
