// Four things that only work on the app's own origin: a cookie the server set and gets back, a CORS
// request the second origin answers only for this origin, a service worker, and a websocket to the same
// host. The status element ends up saying how each went, e.g. "cookie ok cors ok sw ok ws ok".
(() => {
  'use strict';
  const LIMIT = 8000;
  const bounded = (name, promise) => Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error('no answer in ' + LIMIT + 'ms')), LIMIT)),
  ]).then(() => name + ' ok', (e) => name + ' failed (' + (e && e.message ? e.message : e) + ')');

  const cookie = async () => {
    if (!document.cookie.includes('mfsession=s3cr3t')) throw new Error('no cookie in document.cookie');
    const back = await (await fetch('/whoami', { credentials: 'same-origin' })).text();
    if (back !== 's3cr3t') throw new Error('server got ' + JSON.stringify(back));
  };
  const cors = async () => {
    const reply = await fetch(window.API_ORIGIN + '/cors', { mode: 'cors' });
    const body = await reply.json();
    if (body.origin !== location.origin) throw new Error('the API saw origin ' + body.origin);
  };
  const sw = async () => {
    if (!navigator.serviceWorker) throw new Error('no navigator.serviceWorker');
    await navigator.serviceWorker.register('/sw.js');
    const registration = await navigator.serviceWorker.ready;
    if (!registration.active) throw new Error('no active worker');
  };
  const ws = () => new Promise((resolve, reject) => {
    const socket = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws');
    socket.onopen = () => socket.send('ping');
    socket.onmessage = (e) => { socket.close(); e.data === 'pong' ? resolve() : reject(new Error('got ' + e.data)); };
    socket.onerror = () => reject(new Error('websocket error'));
  });

  const start = () => Promise.all([bounded('cookie', cookie()), bounded('cors', cors()), bounded('sw', sw()),
    bounded('ws', ws())]).then((parts) => {
    const status = document.getElementById('status');
    status.textContent = parts.join(' ');
    status.setAttribute('data-state', parts.join(' '));
  });
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
