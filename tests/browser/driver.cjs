// driver.cjs: headless Chromium for tests/integration/browser.sh, one browser
// with a page per SIP user agent (page.html, page.js, JsSIP bundled as
// jssip.js).  It serves those files on a free loopback HTTP port (a page
// from http://127.0.0.1 is a secure context: getUserMedia and WebRTC work)
// and prints one JSON line per event on its output, as sipflow's events are
// (the test waits on them with lib.sh's wait_ev); it reads commands, one a line:
//   open NAME QUERY    a page NAME, page.html?QUERY (page.js lists the parameters)
//   call NAME TARGET   NAME calls TARGET (a SIP URI)
//   hangup NAME        NAME ends its call (CANCEL, BYE or a rejection)
//   stop NAME          NAME unregisters and closes its WebSocket
//   quit               (or the end of the input) closes the browser
// Environment: PUPPETEER (the puppeteer-core directory), CHROMIUM, PAGE_DIR
// (this directory), BUNDLE (jssip.js), SPKI (base64 SHA-256 of the server's
// public key: Chromium trusts that certificate, and no other the test's CA signs).
'use strict';
const puppeteer = require(process.env.PUPPETEER);
const http = require('http');
const fs = require('fs');
const path = require('path');
const readline = require('readline');

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const files = {
  '/page.html': [path.join(process.env.PAGE_DIR, 'page.html'), 'text/html'],
  '/page.js': [path.join(process.env.PAGE_DIR, 'page.js'), 'text/javascript'],
  '/jssip.js': [process.env.BUNDLE, 'text/javascript'],
};

(async () => {
  const server = http.createServer((req, res) => {
    const f = files[new URL(req.url, 'http://x').pathname];
    // (no favicon: a 204 keeps a 404 out of the pages' consoles)
    if (!f) { res.writeHead(req.url === '/favicon.ico' ? 204 : 404); res.end(); return; }
    res.writeHead(200, { 'Content-Type': f[1], 'Cache-Control': 'no-store' });
    fs.createReadStream(f[0]).pipe(res);
  });
  await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
  const base = `http://127.0.0.1:${server.address().port}`;
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM, headless: true, timeout: 20000,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--no-first-run',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      // the browsers' own media between two pages: host candidates on loopback
      '--allow-loopback-in-peer-connection',
      `--ignore-certificate-errors-spki-list=${process.env.SPKI}`],
  });
  const pages = new Map();
  out({ event: 'ready', http: base, version: await browser.version() });

  const commands = {
    async open(name, query) {
      const page = await browser.newPage();
      pages.set(name, page);
      await page.exposeFunction('sfReport', (json) => out(Object.assign({ page: name }, JSON.parse(json))));
      page.on('console', (m) => { if (m.type() === 'error') out({ page: name, event: 'console', text: m.text() }); });
      page.on('pageerror', (e) => out({ page: name, event: 'pageerror', text: String(e) }));
      await page.goto(`${base}/page.html?${query}`, { waitUntil: 'load', timeout: 10000 });
      out({ page: name, event: 'loaded' });
    },
    call: (name, target) => pages.get(name).evaluate((t) => { window.sfCall(t); }, target),
    hangup: (name) => pages.get(name).evaluate(() => { window.sfHangup(); }),
    stop: (name) => pages.get(name).evaluate(() => { window.sfStop(); }),
  };
  const quit = async () => {
    await browser.close().catch(() => {});
    server.close();
    out({ event: 'quit' });
    process.exit(0);
  };
  const rl = readline.createInterface({ input: process.stdin });
  for await (const line of rl) {
    const [cmd, name, ...rest] = line.trim().split(/\s+/);
    if (cmd === 'quit') break;
    if (!commands[cmd] || (name && !pages.has(name) && cmd !== 'open')) {
      out({ event: 'error', text: `unknown command or page: ${line}` });
      continue;
    }
    try {
      await commands[cmd](name, rest.join(' '));
    } catch (e) {
      out({ page: name, event: 'error', text: String(e && e.message || e).split('\n')[0] });
    }
  }
  await quit();
})().catch((e) => { out({ event: 'error', text: String(e && e.message || e).split('\n')[0] }); process.exit(1); });
