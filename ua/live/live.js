// live.js: the live view's page (docs/teaching.md, "The live view").  It reads
// /events (Server-Sent Events: the lines kept, then each as it comes), draws
// each instance with its machine's picture (/machine/NAME.svg) and lights the
// current state.  Every text from an event goes in as text (textContent), never
// as markup; the pictures are parsed as SVG and stripped of scripts and
// handlers before they are shown.  The DOM says what is shown, for tests:
// section.instance[data-handle][data-machine][data-scope][data-state][data-reached][data-ended].
'use strict';
(function () {
  const MAX_EVENTS = 500;     // event rows kept on the page
  const MAX_ENDED = 30;       // ended instances kept, the latest
  const POLL_MS = 5000;       // /instances: instances older than the kept events, and ends missed
  const LADDER_MS = 1000;     // the ladder is fetched again this long after the last event
                              // (no sooner than the element draws it again: sf-ua-http.c, LADDER_MIN_US)

  const svgs = new Map();        // machine name -> Promise of its SVG text
  const scopes = new Map();      // machine name -> its scope (/machines): transactions are shown last
  const instances = new Map();   // handle -> {el, machine, state, reached[], ended, seen}
  const byId = (id) => document.getElementById(id);
  let received = 0, lastId = '', ladderTimer = 0, skipped = 0;

  function svgText(machine) {
    if (!svgs.has(machine)) {
      svgs.set(machine, fetch('/machine/' + encodeURIComponent(machine) + '.svg')
        .then((r) => (r.ok ? r.text() : Promise.reject(new Error(machine + ': ' + r.status)))));
    }
    return svgs.get(machine);
  }

  let machinesAsked = null;
  function scopeOf(machine) {
    if (scopes.has(machine)) return Promise.resolve(scopes.get(machine));
    if (!machinesAsked) {
      machinesAsked = fetch('/machines').then((r) => r.json()).then((list) => {
        for (const m of list) if (typeof m.name === 'string') scopes.set(m.name, String(m.scope));
      }).catch(() => {}).finally(() => { machinesAsked = null; });
    }
    return machinesAsked.then(() => scopes.get(machine) || '');
  }

  // Graphviz's SVG, parsed; scripts, foreign objects, handlers and outside links removed.
  function parseSvg(text) {
    const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
    const svg = doc.documentElement;
    if (!svg || svg.nodeName !== 'svg') return null;
    for (const bad of svg.querySelectorAll('script, foreignObject, iframe, object, embed')) bad.remove();
    for (const el of [svg, ...svg.querySelectorAll('*')]) {
      for (const a of [...el.attributes]) {
        const v = a.value.trim().toLowerCase();
        if (a.name.toLowerCase().startsWith('on') ||
            ((a.localName === 'href') && !v.startsWith('#'))) el.removeAttribute(a.name);
      }
    }
    return document.importNode(svg, true);
  }

  function mark(inst) {
    const svg = inst.el.querySelector('.picture svg');
    if (!svg) return;
    for (const g of svg.querySelectorAll('g.node')) {
      const title = g.querySelector('title');
      const name = title ? title.textContent : '';
      g.classList.toggle('current', name === inst.state);
      g.classList.toggle('reached', inst.reached.includes(name));
    }
  }

  function show(inst) {
    const el = inst.el;
    el.dataset.state = inst.state;
    el.dataset.reached = inst.reached.join(' ');
    el.dataset.ended = inst.ended ? 'true' : 'false';
    el.classList.toggle('ended', inst.ended);
    el.querySelector('.state').textContent = inst.state + (inst.ended ? ' (ended)' : '');
    el.querySelector('.reached').textContent = inst.reached.join(' \u2192 ');
    mark(inst);
  }

  function reach(inst, state) {
    if (state && !inst.reached.includes(state)) inst.reached.push(state);
  }

  function instance(handle, machine, first) {
    let inst = instances.get(handle);
    if (inst) return inst;
    const el = document.createElement('section');
    el.className = 'instance';
    el.dataset.handle = handle;
    el.dataset.machine = machine;
    scopeOf(machine).then((scope) => { el.dataset.scope = scope; });
    const h = document.createElement('h3');
    h.textContent = machine + ' ' + handle + ': ';
    const st = document.createElement('span');
    st.className = 'state';
    h.appendChild(st);
    const reached = document.createElement('p');
    reached.className = 'reached';
    const pic = document.createElement('div');
    pic.className = 'picture';
    el.append(h, reached, pic);
    byId('instances').appendChild(el);
    inst = { el, machine, state: first || '', reached: [], ended: false, seen: Date.now() };
    reach(inst, first);
    instances.set(handle, inst);
    svgText(machine).then((text) => {
      const svg = parseSvg(text);
      if (svg) { pic.appendChild(svg); mark(inst); }
    }).catch((e) => { pic.textContent = 'no picture (' + e.message + ')'; });
    show(inst);
    return inst;
  }

  function prune() {
    const ended = [...instances.entries()].filter(([, i]) => i.ended);
    for (const [handle, inst] of ended.slice(0, Math.max(0, ended.length - MAX_ENDED))) {
      inst.el.remove();
      instances.delete(handle);
    }
  }

  function end(handle) {
    const inst = instances.get(handle);
    if (!inst || inst.ended) return;
    inst.ended = true;
    show(inst);
    prune();
  }

  function addEventRow(line, ev) {
    const li = document.createElement('li');
    li.textContent = line;
    li.dataset.event = typeof ev.event === 'string' ? ev.event : '';
    const list = byId('events');
    list.appendChild(li);
    while (list.childElementCount > MAX_EVENTS) list.firstElementChild.remove();
  }

  function onLine(line) {
    let ev;
    try { ev = JSON.parse(line); } catch (e) { skipped++; return; }
    if (ev === null || typeof ev !== 'object') { skipped++; return; }
    received++;
    addEventRow(line, ev);
    const handle = typeof ev.call === 'string' ? ev.call : typeof ev.instance === 'string' ? ev.instance : null;
    if (ev.event === 'state' && handle && typeof ev.machine === 'string' && typeof ev.to === 'string') {
      const inst = instance(handle, ev.machine, typeof ev.from === 'string' ? ev.from : ev.to);
      reach(inst, ev.to);
      inst.state = ev.to;
      inst.seen = Date.now();
      show(inst);
    } else if (ev.event === 'instance_end' && handle) {
      end(handle);
    }
  }

  function counts() {
    byId('counts').textContent = received + ' events' + (skipped ? ', ' + skipped + ' unreadable' : '');
    document.body.dataset.events = String(received);
  }

  function reloadLadder() {
    clearTimeout(ladderTimer);
    ladderTimer = setTimeout(() => {
      byId('ladder').src = '/ladder.svg?after=' + encodeURIComponent(lastId);
    }, LADDER_MS);
  }

  // The live instances: those older than the kept events appear, those whose end was missed end.
  function poll() {
    const asked = Date.now();
    fetch('/instances').then((r) => r.json()).then((list) => {
      const live = new Set();
      for (const i of list) {
        if (typeof i.handle !== 'string' || typeof i.machine !== 'string') continue;
        live.add(i.handle);
        const inst = instance(i.handle, i.machine, i.state);
        if (!inst.ended && inst.state !== i.state && inst.seen < asked) {
          reach(inst, i.state);
          inst.state = i.state;
          show(inst);
        }
      }
      for (const [handle, inst] of instances)
        if (!live.has(handle) && !inst.ended && inst.seen < asked) end(handle);
    }).catch(() => {});
  }

  const es = new EventSource('/events');
  es.onopen = () => {
    byId('status').textContent = 'connected';
    byId('status').dataset.connected = 'true';
  };
  es.onerror = () => {
    byId('status').textContent = 'reconnecting';
    byId('status').dataset.connected = 'false';
  };
  es.onmessage = (e) => {
    lastId = e.lastEventId;
    onLine(e.data);
    counts();
    reloadLadder();
  };
  es.addEventListener('ready', () => {
    document.body.dataset.ready = 'true';
    poll();
  });
  setInterval(poll, POLL_MS);
})();
