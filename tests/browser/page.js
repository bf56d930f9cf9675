// page.js: one JsSIP user agent in a page of tests/integration/browser.sh.
// The URL's parameters set it up:
//   ws        the server's WebSocket URL (wss://127.0.0.1:PORT or ws://...)
//   uri       the address of record (sip:alice@sipflow.test)
//   password  the digest password
//   mode      what an incoming call gets: answer, reject (486) or nothing
//   plain     1: the caller is a UA without WebRTC media (an RTP/AVP offer,
//             no ICE, no DTLS), as sipflow's UA is: its offer is given to
//             Chromium dressed as a WebRTC one and the answer sent back
//             undressed, so that the signalling can be tested (no media flows)
// What happens is reported through window.sfReport (driver.cjs exposes it:
// one JSON line per event on the driver's output); the driver calls
// sfCall(TARGET), sfHangup() and sfStop().
'use strict';
(() => {
  const q = new URLSearchParams(location.search);
  const report = (event, fields) => window.sfReport(JSON.stringify(Object.assign({ event }, fields || {})));
  let session = null;

  // An RTP/AVP offer as Chromium takes it: the WebRTC profile, made-up ICE
  // credentials and DTLS fingerprint (nothing will answer them), one mid.
  const dress = (sdp) => sdp.replace(/^(m=audio \d+) RTP\/AVP (.*)$/m, (m, head, fmts) =>
    `${head} UDP/TLS/RTP/SAVPF ${fmts}\r\na=mid:0\r\na=rtcp-mux\r\na=setup:actpass\r\n` +
    'a=ice-ufrag:sfua\r\na=ice-pwd:sipflowsipflowsipflowsip\r\na=fingerprint:sha-256 ' +
    Array.from({ length: 32 }, (_, i) => (i * 7 + 16).toString(16).toUpperCase()).join(':'));
  // ... and Chromium's answer as such a UA reads it: RTP/AVP, without ICE and DTLS.
  const undress = (sdp) => sdp.replace(/ UDP\/TLS\/RTP\/SAVPF /g, ' RTP/AVP ')
    .split('\r\n').filter((l) => !/^a=(fingerprint|setup|ice-|candidate|end-of-candidates)/.test(l)).join('\r\n');

  const watch = (s) => {
    session = s;
    const info = (e) => ({ cause: e && e.cause, originator: e && e.originator,
      status: e && e.message && e.message.status_code });
    s.on('progress', (e) => report('progress', info(e)));
    s.on('accepted', (e) => report('accepted', info(e)));
    s.on('confirmed', (e) => report('confirmed', info(e)));
    s.on('ended', (e) => report('ended', info(e)));
    s.on('failed', (e) => report('failed', info(e)));
    s.on('peerconnection', (e) => e.peerconnection.addEventListener('iceconnectionstatechange',
      () => report('ice', { state: e.peerconnection.iceConnectionState })));
    if (s.connection) { // an incoming session has its connection already
      s.connection.addEventListener('iceconnectionstatechange',
        () => report('ice', { state: s.connection.iceConnectionState }));
    }
    if (q.get('plain') === '1') {
      s.on('sdp', (e) => { e.sdp = e.originator === 'remote' ? dress(e.sdp) : undress(e.sdp); });
    }
  };

  window.addEventListener('load', () => {
    JsSIP.debug.disable('JsSIP:*');
    const ua = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(q.get('ws'))],
      uri: q.get('uri'),
      password: q.get('password'),
      register: true,
      register_expires: 300,
      session_timers: false,
      user_agent: 'sipflow-test JsSIP ' + JsSIP.version,
    });
    ua.on('connected', () => report('connected'));
    ua.on('disconnected', () => report('disconnected'));
    ua.on('registered', () => report('registered'));
    ua.on('unregistered', () => report('unregistered'));
    ua.on('registrationFailed', (e) => report('registrationFailed',
      { cause: e.cause, status: e.response && e.response.status_code }));
    ua.on('newRTCSession', (e) => {
      if (e.originator !== 'remote') return;
      watch(e.session);
      report('incoming', { from: e.request.from.uri.toString(), via: e.request.getHeader('Via') });
      if (q.get('mode') === 'reject') {
        e.session.terminate({ status_code: 486 });
      } else if (q.get('mode') === 'answer') {
        e.session.answer({ mediaConstraints: { audio: true, video: false } });
      }
    });
    window.sfCall = (target) => watch(ua.call(target, { mediaConstraints: { audio: true, video: false } }));
    window.sfHangup = () => session && session.terminate();
    window.sfStop = () => ua.stop();
    document.getElementById('state').textContent = 'started';
    ua.start();
  });
})();
