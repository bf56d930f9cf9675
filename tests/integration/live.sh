#!/bin/bash
# live.sh: the live view (run --http ADDR:PORT, docs/teaching.md "The live
# view").  bob (xml/ua.xml) serves it on a free loopback port; alice calls him
# with a display name that carries markup (</text><script>...); bob answers.
# While the call is in progress headless Chromium (the Debian package chromium,
# driven by puppeteer-core, which npm installs into the build directory, never
# the source tree) opens the page and waits until the DOM shows bob's call in
# InCall with Idle, Ringing, Answered reached and its picture's InCall node
# lit; it takes a screenshot (tests/live-view.png in the build directory), hangs
# up through alice's control FIFO and waits for the call to be marked ended.
# Then, with curl: /events carried the state events; POST gets 405 (a 64 MiB
# body is not kept, a GET with a body gets 413); a Host
# that is not a loopback name gets 403, so does a request another site's page
# makes (Sec-Fetch-Site); a stream open past the element's ping (15 s) goes on;
# a 17th event stream gets 503; a
# non-loopback --http address is refused, naming core.http_public.  A missing
# Chromium, node or npm fails the test (it never skips).  Every wait is bounded.
. "$(dirname "$0")/lib.sh"

builddir=$PWD
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ] || ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "not ok - the live view's test needs $CHROMIUM, node and npm (Debian packages chromium, nodejs, npm;" \
    "scripts/setup-deps installs them)"
  exit 1
fi

# puppeteer-core in the build directory, once (lib.sh npm_dir).
pp=$builddir/node/node_modules/puppeteer-core
npm_dir "$builddir/node" "puppeteer-core@$PUPPETEER_VERSION" || exit 1
[ -f "$pp/package.json" ] && pass "puppeteer-core $PUPPETEER_VERSION in $builddir/node" ||
  { fail "no puppeteer-core in $builddir/node"; exit 1; }

# 1. the live view refuses what it must not serve
expect_rc "--http on a non-loopback address is refused" 1 \
  "$SIPFLOW" run ua.xml --listen udp:127.0.0.1:0 --set media.backend=null --http 192.0.2.1:8080
has "... naming core.http_public" "$T/err" "core.http_public = true"
expect_rc "core.http = 0.0.0.0:PORT is refused too" 1 \
  "$SIPFLOW" run ua.xml --listen udp:127.0.0.1:0 --set media.backend=null --set core.http=0.0.0.0:0
expect_rc "--http without a port is a usage error" 1 \
  "$SIPFLOW" run ua.xml --listen udp:127.0.0.1:0 --set media.backend=null --http 127.0.0.1

# A flow's text reaches the picture escaped: a description carrying markup.
sed 's|<description>.*</description>|<description>\&lt;/text\&gt;\&lt;script\&gt;window.pwned=1\&lt;/script\&gt; "q" \\b</description>|' \
  "${SF_SRCDIR:-$(dirname "$0")/../..}/xml/examples/uas-answer.xml" >"$T/attack.xml"
# (a small ASan quarantine: freed memory is given back, so that its size shows what is kept)
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:fast_unwind_on_malloc=0:quarantine_size_mb=4} \
  start evil "$T/attack.xml" --set media.backend=null --http localhost:0 || exit 1
if wait_ev evil '"transport":"http"' 10; then
  EVIL=http://127.0.0.1:$(grep -m1 '"transport":"http"' "$T/evil.events" | sed 's/.*"port":\([0-9]*\).*/\1/')
  curl -s --max-time 5 "$EVIL/machine/uas-answer.svg" >"$T/evil.svg"
  grep -q '&lt;script&gt;window.pwned' "$T/evil.svg" && ! grep -qi '<script' "$T/evil.svg" &&
    pass "a flow description carrying </text><script> is escaped in its picture" ||
    fail "the picture of a hostile description" "$(grep -i -m3 'script' "$T/evil.svg")"
  # Any web page can POST to a loopback port: the body is not kept (libsoup
  # reads it before a handler runs), and a GET with a body is refused.
  rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$PID_evil/status"; }
  before=$(rss)
  got=$(head -c $((64 * 1024 * 1024)) /dev/zero |
    curl -s -o /dev/null -w '%{http_code}' --max-time 30 -X POST -H 'Expect:' --data-binary @- "$EVIL/")
  after=$(rss)
  [ "$got" = 405 ] && [ -n "$before" ] && [ -n "$after" ] && [ $((after - before)) -lt 16384 ] &&
    pass "a POST of 64 MiB gets 405 and is not kept (${before} kB -> ${after} kB)" ||
    fail "a POST of 64 MiB" "status $got, ${before} kB -> ${after} kB"
  got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -X GET --data-binary 'x=1' "$EVIL/instances")
  [ "$got" = 413 ] && pass "a GET with a body gets 413" || fail "a GET with a body" "status $got"
else
  fail "the live view of $T/attack.xml did not start" "$(tail -3 "$T/evil.err")"
fi
stop evil || fail "the hostile flow's element exit" "$(err_report "$T/evil.err")"

# 2. a call in progress
common=(--set sip.t1_ms=100 --set media.rtp_ports=42000-42999 --set media.backend=null)
# Full stacks under ASan: Graphviz's and the fonts' own leaks match tests/lsan.supp.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:fast_unwind_on_malloc=0} \
  start bob ua.xml "${common[@]}" --set ua.uri=sip:bob@127.0.0.1 --http 127.0.0.1:0 --messages || exit 1
start alice ua.xml "${common[@]}" --set ua.uri=sip:alice@127.0.0.1 \
  --set 'ua.display_name=</text><script>window.pwned=1</script>' || exit 1
if ! wait_ev bob '"event":"listening","transport":"http"' 10; then
  fail "bob does not announce the live view" "$(tail -3 "$T/bob.err")"
  exit 1
fi
HTTP=$(grep -m1 '"transport":"http"' "$T/bob.events" | sed 's/.*"port":\([0-9]*\).*/\1/')
BASE=http://127.0.0.1:$HTTP
pass "bob's live view listens on $BASE (its listening event)"
# An event stream open past the element's first ping (every 15 s), as a page's is.
curl -sN --max-time 60 "$BASE/events" >"$T/long.sse" 2>/dev/null &
long_pid=$!
long_from=$(date +%s)
PIDS+=($long_pid)

cmd alice call "sip:bob@127.0.0.1:$PORT_bob"
wait_ev bob '"event":"incoming"' 5 && B=$(last_call bob) || B=
[ -n "$B" ] && pass "bob rings for alice ($B)" || { fail "no incoming call at bob" "$(tail -3 "$T/alice.err")"; exit 1; }
cmd bob answer
wait_ev bob "\"call\":\"$B\".*\"to\":\"InCall\"" 5 && pass "bob's call $B in InCall" ||
  { fail "bob not in call" "$(states bob "$B")"; exit 1; }

# 3. the page, in headless Chromium
SHOT=$builddir/tests/live-view.png
mkdir -p "$builddir/tests"
rm -f "$SHOT"
cat >"$T/page.cjs" <<'EOF'
// Opens the live view, waits for the call's state in the DOM, reports what it saw (key=value lines).
const puppeteer = require(process.env.PUPPETEER);
const fs = require('fs');
const out = (k, v) => console.log(k + '=' + (typeof v === 'string' ? v : JSON.stringify(v)));
(async () => {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM, headless: true, timeout: 20000,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    const problems = [];
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warn') problems.push(m.text()); });
    page.on('pageerror', (e) => problems.push(String(e)));
    await page.setViewport({ width: 1400, height: 1000 });
    await page.goto(process.env.BASE + '/', { waitUntil: 'load', timeout: 15000 });
    const sel = `section.instance[data-handle="${process.env.CALL}"][data-machine="ua"]`;
    await page.waitForSelector(sel + '[data-state="InCall"]', { timeout: 15000 });
    await page.waitForFunction((s) => document.querySelector(s + ' .picture svg g.node.current'),
      { timeout: 15000 }, sel);
    const seen = await page.$eval(sel, (el) => ({
      reached: el.dataset.reached,
      current: [...el.querySelectorAll('.picture svg g.node.current title')].map((t) => t.textContent),
      lit: [...el.querySelectorAll('.picture svg g.node.reached title')].map((t) => t.textContent),
    }));
    out('reached', seen.reached);
    out('current', seen.current.join(' '));
    out('lit', seen.lit.join(' '));
    const attack = await page.evaluate(() => ({
      pwned: typeof window.pwned,
      scripts: document.querySelectorAll('script').length,
      shown: [...document.querySelectorAll('#events li')].some((li) => li.textContent.includes('</text><script>')),
    }));
    out('pwned', attack.pwned);
    out('scripts', String(attack.scripts));
    out('shown', String(attack.shown));
    await page.screenshot({ path: process.env.SHOT, fullPage: true });
    // The caller hangs up (alice's control FIFO); the page marks the call ended.
    fs.appendFileSync(process.env.ALICE_IN, 'hangup\n');
    await page.waitForSelector(sel + '[data-ended="true"]', { timeout: 15000 });
    out('ended', await page.$eval(sel, (el) => el.dataset.state));
    out('problems', problems.join(' | '));
  } finally {
    await browser.close();
  }
})().catch((e) => { console.log('error=' + String(e && e.message || e).split('\n')[0]); process.exit(1); });
EOF
PUPPETEER=$pp CHROMIUM=$CHROMIUM BASE=$BASE CALL=$B SHOT=$SHOT ALICE_IN=$T/alice.in \
  timeout 45 node "$T/page.cjs" >"$T/page.out" 2>"$T/page.err"
rc=$?
val() { sed -n "s/^$1=//p" "$T/page.out" | head -1; }
[ "$rc" = 0 ] && pass "Chromium loaded the page and saw the call" ||
  fail "the page check failed (exit $rc)" "$(cat "$T/page.out")" "$(tail -5 "$T/page.err")" \
    "bob: $(tail -3 "$T/bob.err")"
reached=$(val reached)
missing=
for st in Idle Ringing Answered InCall; do
  case " $reached " in *" $st "*) ;; *) missing="$missing $st" ;; esac
done
[ -z "$missing" ] && pass "the DOM: $B in InCall, reached $reached" ||
  fail "the DOM's states reached: no$missing" "data-reached='$reached'"
[ "$(val current)" = InCall ] && pass "the machine's picture has InCall lit (g.node.current)" ||
  fail "the picture's current node" "current='$(val current)'"
lit=$(val lit)
case " $lit " in
  *" Idle "*) pass "the states reached are marked in the picture ($lit)" ;;
  *) fail "reached nodes in the picture" "lit='$lit'" ;;
esac
[ "$(val pwned)" = undefined ] && [ "$(val scripts)" = 1 ] && [ "$(val shown)" = true ] &&
  pass "a display name carrying </text><script> is shown as text, never run" ||
  fail "markup from an event" "pwned=$(val pwned) scripts=$(val scripts) shown=$(val shown)"
[ -s "$SHOT" ] && [ "$(head -c 8 "$SHOT" | od -An -c | tr -d ' ')" = '211PNG\r\n032\n' ] &&
  pass "a screenshot of the call in progress: $SHOT" || fail "no screenshot at $SHOT"
[ "$(val ended)" = CallEnded ] && pass "the page marks the call ended after the hang-up (CallEnded)" ||
  fail "the page after the hang-up" "ended='$(val ended)'"
[ -z "$(val problems)" ] && pass "no error in the page's console (scripts, CSP)" ||
  fail "the page's console" "$(val problems)"

# 4. the routes, with curl
code() { curl -s -o "$T/body" -w '%{http_code}' --max-time 5 "$@"; }
timeout 5 curl -sN "$BASE/events" 2>/dev/null | sed '/^event: ready/q' >"$T/sse"
grep -q "^data: .*\"event\":\"state\".*\"call\":\"$B\".*\"to\":\"InCall\"" "$T/sse" &&
  grep -q '^id: [0-9]' "$T/sse" && pass "/events delivered the state events (SSE, with ids), the history first" ||
  fail "/events" "$(head -5 "$T/sse")"
[ "$(code -X POST "$BASE/")" = 405 ] && curl -s -i -X POST "$BASE/" | grep -qi '^allow: GET, HEAD' &&
  pass "POST / gets 405 (Allow: GET, HEAD)" || fail "POST /" "$(cat "$T/body")"
[ "$(code -X DELETE "$BASE/instances")" = 405 ] && pass "DELETE /instances gets 405" || fail "DELETE"
[ "$(code -H 'Host: sipflow.example:80' "$BASE/")" = 403 ] &&
  pass "a Host that is not a loopback name gets 403 (DNS rebinding)" || fail "Host check" "$(cat "$T/body")"
[ "$(code -H 'Sec-Fetch-Site: cross-site' "$BASE/ladder.svg")" = 403 ] &&
  [ "$(code -H 'Sec-Fetch-Site: same-site' "$BASE/machine/ua.svg")" = 403 ] &&
  [ "$(code -H 'Sec-Fetch-Site: same-origin' "$BASE/instances")" = 200 ] &&
  [ "$(code -H 'Sec-Fetch-Site: none' "$BASE/")" = 200 ] &&
  pass "a request another site's page makes gets 403 (Sec-Fetch-Site)" || fail "Sec-Fetch-Site" "$(cat "$T/body")"
[ "$(code "$BASE/machines")" = 200 ] && grep -q '"name":"ua".*"name":"ist"' "$T/body" &&
  pass "/machines: the flow's machines and the transaction machines seen" || fail "/machines" "$(cat "$T/body")"
[ "$(code "$BASE/machine/ist.svg")" = 200 ] && grep -q '<title>Proceeding</title>' "$T/body" &&
  pass "/machine/ist.svg: the INVITE server transaction drawn" || fail "/machine/ist.svg" "$(head -3 "$T/body")"
[ "$(code "$BASE/machine/nosuch.svg")" = 404 ] && pass "an unknown machine: 404" || fail "unknown machine"
[ "$(code "$BASE/ladder.svg")" = 200 ] && grep -q '<svg' "$T/body" && xmllint --noout "$T/body" &&
  grep -q '<g class="msg"' "$T/body" && grep -q '>INVITE sip:bob@127.0.0.1:[0-9]* SIP/2.0<' "$T/body" &&
  grep -q '>ua c1: Ringing -&gt; Answered<' "$T/body" &&
  pass "/ladder.svg: the run so far as a ladder (the INVITE, bob's states)" || fail "/ladder.svg" "$(head -c 600 "$T/body")"
# A ladder is drawn again at most once a second, whatever the new lines and the requests.
ms() { echo $(($(date +%s%N) / 1000000)); }
sip_options() { # an OPTIONS to bob: new lines in his ring (--messages)
  printf 'OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bK%s\r\nMax-Forwards: 70\r\nFrom: <sip:t@127.0.0.1>;tag=1\r\nTo: <sip:bob@127.0.0.1>\r\nCall-ID: %s\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n' \
    "$1" "$1" >"$T/options"
  cat "$T/options" >"/dev/udp/127.0.0.1/$PORT_bob" # one write, one datagram
  wait_ev bob "\"call_id\":\"$1\"" 5
}
curl -s --max-time 10 "$BASE/ladder.svg" >"$T/ladder.1"
t0=$(ms)
sip_options ladder-throttle-1
curl -s --max-time 10 "$BASE/ladder.svg" >"$T/ladder.2"
t1=$(ms)
sleep 1.1
curl -s --max-time 10 "$BASE/ladder.svg" >"$T/ladder.3"
if [ $((t1 - t0)) -lt 900 ]; then
  cmp -s "$T/ladder.1" "$T/ladder.2" && ! grep -q ladder-throttle-1 "$T/ladder.2" &&
    pass "/ladder.svg asked again within a second after new lines: the drawing kept" ||
    fail "/ladder.svg drawn again within a second"
else
  pass "/ladder.svg asked again within a second: the machine was too slow to tell ($((t1 - t0)) ms)"
fi
grep -q ladder-throttle-1 "$T/ladder.3" && pass "/ladder.svg a second later: drawn again, with the new lines" ||
  fail "/ladder.svg a second later" "$(head -c 300 "$T/ladder.3")"
sleep $((long_from + 17 - $(date +%s))) 2>/dev/null
sip_options after-ping
timeout 5 bash -c 'until grep -q after-ping "$1"; do sleep 0.1; done' _ "$T/long.sse"
grep -q '^: ping' "$T/long.sse" && grep -q '^data: .*"call_id":"after-ping"' "$T/long.sse" &&
  pass "an event stream open past a ping gets its comment and the lines after it" ||
  fail "the stream open past a ping" "$(tail -c 300 "$T/long.sse")" "$(grep -m3 ERROR -A3 "$T/bob.err")"
kill "$long_pid" 2>/dev/null
wait "$long_pid" 2>/dev/null
mapfile -t PIDS < <(printf '%s\n' "${PIDS[@]}" | grep -vx "$long_pid") # reaped
[ "$(code "$BASE/instances?kill=c1")" = 200 ] && pass "/instances (a query parameter changes nothing)" ||
  fail "/instances"

# 17 event streams: 16 are served, the 17th gets 503; once they close, the slots are free again.
spids=()
npids=${#PIDS[@]}
for i in $(seq 16); do
  curl -sN --max-time 30 "$BASE/events" >"$T/stream.$i" 2>/dev/null &
  spids+=($!)
  PIDS+=($!)
done
open=0
for i in $(seq 16); do
  timeout 5 bash -c 'until grep -q "^event: ready" "$1"; do sleep 0.05; done' _ "$T/stream.$i" && open=$((open + 1))
done
[ "$open" = 16 ] && pass "16 event streams open at once" || fail "16 streams: only $open got their history"
[ "$(code "$BASE/events")" = 503 ] && pass "a 17th event stream gets 503" || fail "17th stream" "$(cat "$T/body")"
kill "${spids[@]}" 2>/dev/null
wait "${spids[@]}" 2>/dev/null
PIDS=("${PIDS[@]:0:npids}") # reaped: the exit trap must not signal their ids again
# (a stream that gets its slot stays open: curl ends it at --max-time with 200)
timeout 10 bash -c 'until [ "$(curl -s -o /dev/null -w "%{http_code}" --max-time 1 "$1/events")" = 200 ]; do :; done' \
  _ "$BASE" && pass "closed streams give their slots back" || fail "the slots of closed streams"

stop alice
stop bob && pass "bob exits cleanly with the live view (no leak, no error)" || fail "bob's exit" "$(err_report "$T/bob.err")"

summary live
