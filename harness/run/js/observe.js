// Installed before the app's own scripts. Reads the app's error surface (selectors from the app config)
// and records getUserMedia / permission activity without changing it, for the report's timeline.
(() => {
  'use strict';
  if (window.__mf) return;
  const t0 = performance.now();
  const timeline = [];
  // The harness waits in the page with a MutationObserver (every route); non-DOM news (a console line, a
  // beacon, a timeline entry) wakes those waiters here. A copy: a waiter that is done leaves the list.
  const poke = () => [...(window.__mfWaiters || [])].forEach((check) => check());
  // Returns the entry's index so a later entry can name the one it answers (a resolution → its request).
  const note = (event, detail, extra) => {
    timeline.push({ t: Math.round(performance.now() - t0), event, detail, ...extra });
    poke();
    return timeline.length - 1;
  };
  const text = (el) => (el ? (el.innerText || el.textContent || '').trim() : '');
  // What a user could see: in the layout (not display:none, not inside a hidden element) and not hidden by
  // visibility. An offered link that is not shown is not offered.
  const visible = (el) => !!el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const LIVE = '[role=alert],[role=status],[aria-live=assertive],[aria-live=polite]';

  // Transient user activation, as browsers define it for getUserMedia on iOS: a trusted click or key press
  // in this document in the last five seconds (the window Chromium and Firefox keep it), and, where the
  // engine has navigator.userActivation, the browser agreeing it is still active. The engine's flag alone
  // is not enough: automation grants activation without any input (Playwright drives Firefox over WebDriver
  // BiDi and evaluates every script, its own included, with userActivation: true), so a page that asks at
  // load was recorded as asking from a gesture on Firefox.
  const ACTIVATION_MS = 5000;
  let lastTrustedInput = -Infinity;
  for (const type of ['pointerdown', 'mousedown', 'keydown', 'touchend', 'click']) {
    window.addEventListener(type, (e) => { if (e.isTrusted) lastTrustedInput = performance.now(); }, true);
  }
  const activation = () => performance.now() - lastTrustedInput < ACTIVATION_MS
    && (!navigator.userActivation || navigator.userActivation.isActive);

  function read(s) {
    const codeEl = s.code ? document.querySelector(s.code) : null;
    const msgEl = s.message ? document.querySelector(s.message) : null;
    const stateEl = s.state ? document.querySelector(s.state) : null;
    const code = codeEl ? ((s.code_attribute && codeEl.getAttribute(s.code_attribute)) || text(codeEl)) : '';
    const region = msgEl ? msgEl.closest(LIVE) : null;
    let regionName = null;
    if (region) {
      regionName = region.getAttribute('role') ? 'role=' + region.getAttribute('role')
        : 'aria-live=' + region.getAttribute('aria-live');
    }
    const state = stateEl ? ((s.state_attribute && stateEl.getAttribute(s.state_attribute)) || text(stateEl)) : '';
    const warnEl = s.warning ? document.querySelector(s.warning) : null;
    const warning = warnEl ? ((s.warning_attribute && warnEl.getAttribute(s.warning_attribute)) || text(warnEl)) : '';
    const helpEl = s.help ? document.querySelector(s.help) : null;
    const fallbackEl = s.fallback ? document.querySelector(s.fallback) : null;
    return {
      code: code || null, message: text(msgEl) || null, region: regionName, state: state || null,
      warning: warning || null, help: visible(helpEl) ? text(helpEl) || null : null, fallback: visible(fallbackEl),
    };
  }

  // Console lines and outgoing reports are recorded in the page itself so every engine and route sees
  // them the same way (WebDriver routes have no console or network events), and so a new line or beacon
  // wakes the harness's wait just like a DOM change does.
  const consoleLines = [];
  const beacons = [];
  for (const level of ['log', 'info', 'warn', 'error', 'debug']) {
    const original = console[level];
    console[level] = function (...args) {
      consoleLines.push(args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' '));
      poke();
      return original.apply(this, args);
    };
  }
  const bodyText = (body) => (typeof body === 'string' ? body : body instanceof Blob ? '[blob]' : body == null ? '' : String(body));
  if (navigator.sendBeacon) {
    const original = navigator.sendBeacon;
    navigator.sendBeacon = function (url, body) {
      if (body instanceof Blob) body.text().then((t) => { beacons.push({ url: String(url), body: t, via: 'sendBeacon' }); poke(); });
      else { beacons.push({ url: String(url), body: bodyText(body), via: 'sendBeacon' }); poke(); }
      return original.call(this, url, body);
    };
  }
  if (window.fetch) {
    const original = window.fetch;
    window.fetch = function (input, init) {
      const method = (init && init.method) || (input && input.method) || 'GET';
      if (method.toUpperCase() !== 'GET') {
        beacons.push({ url: String((input && input.url) || input), body: bodyText(init && init.body), via: 'fetch' });
        poke();
      }
      return original.apply(this, arguments);
    };
  }

  // Peer connections the app makes, tracked (not changed) so getStats can describe the media path.
  const pcs = [];
  if (window.RTCPeerConnection) {
    const Original = window.RTCPeerConnection;
    const Tracked = function (...args) {
      const pc = new Original(...args);
      pcs.push(pc);
      pc.addEventListener('connectionstatechange', () => note('pc connectionState', pc.connectionState));
      pc.addEventListener('iceconnectionstatechange', () => note('pc iceConnectionState', pc.iceConnectionState));
      pc.addEventListener('icecandidateerror', (e) => note('icecandidateerror', `${e.errorCode} ${e.errorText || ''} ${e.url || ''}`.trim()));
      // A remote track unmutes when its first packets arrive: the event that says media flows.
      pc.addEventListener('track', (e) => e.track.addEventListener('unmute', () => note('remote media flowing', e.track.kind)));
      return pc;
    };
    Tracked.prototype = Original.prototype;
    Object.setPrototypeOf(Tracked, Original);
    window.RTCPeerConnection = Tracked;
  }

  // getStats can take seconds to settle (Firefox while its TURN allocations are refused), and the harness
  // reads stats with every observation: a read must never wait on it, or a slow getStats looks like a hung
  // page. At most one call is in flight; a read that finds it unsettled gets the last figures, marked pending.
  let statsCall = null;
  let lastStats = {};
  async function stats() {
    const pc = pcs[pcs.length - 1];
    if (!pc || pc.connectionState === 'closed') return pc ? { connectionState: 'closed' } : {};
    if (!statsCall) {
      statsCall = describeStats(pc).then((out) => { lastStats = out; return out; }, () => lastStats)
        .finally(() => { statsCall = null; });
    }
    const settled = await Promise.race([statsCall, new Promise((resolve) => setTimeout(() => resolve(null), 500))]);
    return settled || { ...lastStats, connectionState: pc.connectionState, iceConnectionState: pc.iceConnectionState, pending: true };
  }

  async function describeStats(pc) {
    const report = await pc.getStats();
    const byId = new Map();
    report.forEach((s) => byId.set(s.id, s));
    let pair = null;
    report.forEach((s) => { if (s.type === 'transport' && s.selectedCandidatePairId) pair = byId.get(s.selectedCandidatePairId); });
    if (!pair) report.forEach((s) => { if (s.type === 'candidate-pair' && (s.selected || (s.nominated && s.state === 'succeeded'))) pair = s; });
    const local = pair ? byId.get(pair.localCandidateId) : null;
    const out = { connectionState: pc.connectionState, iceConnectionState: pc.iceConnectionState };
    if (local) {
      out.candidate = local.candidateType;
      out.relayProtocol = local.relayProtocol || null;
      out.protocol = local.protocol;
      out.rtt = pair.currentRoundTripTime ?? null;
    }
    report.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') {
        out.packetsReceived = s.packetsReceived; out.packetsLost = s.packetsLost; out.jitter = s.jitter;
      }
    });
    return out;
  }

  // The app's states in order, recorded on every DOM change once the harness says where the state is,
  // so a state that lasts less than one of the harness's polls (a brief 'reconnecting') is not missed.
  const states = [];
  function follow(s) {
    const record = () => {
      const state = read(s).state;
      if (state && states[states.length - 1] !== state) { states.push(state); poke(); }
    };
    record();
    new MutationObserver(record).observe(document, { subtree: true, childList: true, attributes: true, characterData: true });
  }

  // Dialogs the app opens (alert, confirm, prompt), recorded with their text before the browser shows them;
  // the harness dismisses them as a user closing the box would, and the report names them.
  const dialogs = [];
  for (const kind of ['alert', 'confirm', 'prompt']) {
    const original = window[kind];
    if (typeof original !== 'function') continue;
    window[kind] = function (message, ...rest) {
      dialogs.push({ t: Math.round(performance.now() - t0), kind, message: String(message === undefined ? '' : message) });
      poke();
      return original.call(this, message, ...rest);
    };
  }
  // Popup windows the app opens, recorded at the call: the browser reports a new window to the harness only
  // after it exists, which can be after a fast case has already ended.
  const opened = [];
  const originalOpen = window.open;
  if (typeof originalOpen === 'function') {
    window.open = function (url, ...rest) {
      let where = url === undefined || url === null || url === '' ? 'about:blank' : String(url);
      try { where = new URL(where, location.href).href; } catch (e) { /* kept as the app gave it */ }
      const t = Math.round(performance.now() - t0);
      const opening = originalOpen.call(this, url, ...rest);
      opened.push({ t, url: where, blocked: !opening });
      poke();
      return opening;
    };
  }
  // Which document this is: a new one (the app navigated or reloaded) has another id.
  const documentId = Math.random().toString(36).slice(2);

  window.__mf = {
    dialogs, opened, documentId,
    timeline, note, read, consoleLines, beacons, activation, stats, states, follow,
    permissionState: (name) => (rawQuery ? rawQuery(name) : Promise.resolve('unsupported')),
    key: (s) => [JSON.stringify(read(s)), consoleLines.length, beacons.length, timeline.length, states.length].join('|'),
  };

  const md = navigator.mediaDevices;
  if (md && md.getUserMedia) {
    const original = md.getUserMedia;
    md.getUserMedia = function (constraints) {
      const request = note('getUserMedia', JSON.stringify(constraints) + (activation() ? ' (user gesture)' : ' (no user gesture)'));
      return original.call(this, constraints).then(
        (stream) => {
          const tracks = stream.getTracks();
          note('getUserMedia resolved', tracks.map((t) => t.label).join(', '),
            { request, kinds: [...new Set(tracks.map((t) => t.kind))] });
          tracks.forEach((t) => t.addEventListener('ended', () => note('track ended', t.label)));
          return stream;
        },
        (err) => { note('getUserMedia rejected', `${err.name}: ${err.message}`, { request }); throw err; });
    };
  }
  // Every capture track the app obtained, and whether it was released: stopped by the app, or ended by the
  // browser (a revoked permission, a device gone). A track left live keeps the browser's recording
  // indicator on after the call. Wraps the getUserMedia above (and the shim's, when one runs), so the tracks
  // recorded are the ones the app received; clones the app makes hold the device too.
  const captured = new Map(); // track → its record
  function capture(track, via) {
    if (captured.has(track)) return;
    captured.set(track, { kind: track.kind, label: track.label, via, stopped: false });
    track.addEventListener('ended', () => note('capture track ended', `${track.kind}: ${track.label}`));
  }
  if (window.MediaStreamTrack) {
    const proto = MediaStreamTrack.prototype;
    const originalStop = proto.stop;
    proto.stop = function () {
      const record = captured.get(this);
      if (record && !record.stopped && this.readyState !== 'ended') {
        record.stopped = true;
        note('capture track stopped', `${this.kind}: ${this.label}`); // a timeline entry wakes the waits
      }
      return originalStop.apply(this, arguments);
    };
    const originalClone = proto.clone;
    proto.clone = function () {
      const copy = originalClone.apply(this, arguments);
      if (captured.has(this)) capture(copy, 'clone');
      return copy;
    };
  }
  if (md && md.getUserMedia) {
    const inner = md.getUserMedia;
    md.getUserMedia = function (constraints) {
      return inner.call(this, constraints).then((stream) => {
        stream.getTracks().forEach((t) => capture(t, 'getUserMedia'));
        return stream;
      });
    };
  }
  window.__mf.captures = () => [...captured].map(([track, r]) => ({ ...r, readyState: track.readyState }));

  let rawQuery = null;
  if (navigator.permissions && navigator.permissions.query) {
    const original = navigator.permissions.query;
    rawQuery = (name) => original.call(navigator.permissions, { name }).then((s) => s.state, (e) => 'error: ' + e.name);
    navigator.permissions.query = function (desc) {
      return original.call(this, desc).then((status) => {
        note('permissions.query', `${desc && desc.name}: ${status.state}`);
        status.addEventListener('change', () => note('permission change', `${desc && desc.name}: ${status.state}`));
        return status;
      }, (err) => { note('permissions.query rejected', `${err.name}: ${err.message}`); throw err; });
    };
  }
})();
