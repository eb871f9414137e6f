// Page-level emulation for conditions an engine cannot produce natively. It behaves like the browser
// would: the same DOMException names and messages (passed in per engine), permissions.query states,
// PermissionStatus 'change', track 'ended' and 'devicechange' events. Everything it does is reported as
// "emulated". Configured through window.__mfShim, set just before this script runs.
(() => {
  'use strict';
  const cfg = window.__mfShim || {};
  const text = Object.fromEntries(cfg.messages || []);
  const control = { revoked: false, unplugged: false, tracks: [], statuses: [] };
  window.__mfShimControl = control;
  const md = navigator.mediaDevices;
  if (!md || !md.getUserMedia) return; // an insecure page has no media API to emulate

  const realGUM = md.getUserMedia.bind(md);
  const realEnum = md.enumerateDevices.bind(md);
  const realQuery = navigator.permissions && navigator.permissions.query.bind(navigator.permissions);

  function domError(name) {
    if (name === 'OverconstrainedError') {
      if (typeof window.OverconstrainedError === 'function') {
        try { return new window.OverconstrainedError('deviceId', text.OverconstrainedError || ''); } catch (e) { /* old signature */ }
      }
      const e = new DOMException(text.OverconstrainedError || '', 'OverconstrainedError');
      Object.defineProperty(e, 'constraint', { value: 'deviceId' });
      return e;
    }
    return new DOMException(text[name] || '', name);
  }

  function forcedState() {
    if (control.revoked || cfg.deny) return 'denied';
    if (cfg.prompt) return 'prompt';
    return null;
  }

  // A PermissionStatus whose state the shim can change, forwarding the real one's events otherwise.
  class ShimStatus extends EventTarget {
    constructor(name, real) {
      super();
      this.name = name;
      this._real = real;
      this._onchange = null;
      if (real) real.addEventListener('change', () => this.dispatchEvent(new Event('change')));
    }
    get state() { return forcedState() || (this._real ? this._real.state : 'prompt'); }
    get onchange() { return this._onchange; }
    set onchange(fn) {
      if (this._onchange) this.removeEventListener('change', this._onchange);
      this._onchange = fn;
      if (fn) this.addEventListener('change', fn);
    }
  }

  if (realQuery) {
    navigator.permissions.query = async function (desc) {
      const name = desc && desc.name;
      if (name !== 'microphone' && name !== 'camera') return realQuery(desc);
      let real = null;
      try { real = await realQuery(desc); } catch (e) { if (!forcedState()) throw e; }
      const status = new ShimStatus(name, real);
      control.statuses.push(status);
      return status;
    };
  }

  if (cfg.noMicrophone || cfg.faults) {
    md.enumerateDevices = () => realEnum().then((list) =>
      (cfg.noMicrophone || control.unplugged) ? list.filter((d) => d.kind !== 'audioinput') : list);
  }

  function silence(stream) {
    // A live track that carries digital silence, from WebAudio; the real microphone is released.
    const ctx = new (window.AudioContext || window.webkitAudioContext)();
    const dest = ctx.createMediaStreamDestination();
    stream.getAudioTracks().forEach((t) => t.stop());
    return new MediaStream([...dest.stream.getAudioTracks(), ...stream.getVideoTracks()]);
  }

  md.getUserMedia = function (constraints) {
    const audio = constraints && constraints.audio;
    if (cfg.gesture && !(window.__mf && window.__mf.activation())) {
      return Promise.reject(domError('NotAllowedError'));
    }
    if (forcedState() === 'denied') return Promise.reject(domError('NotAllowedError'));
    if (cfg.prompt) return new Promise(() => {}); // the prompt stays open: nobody answers
    if (audio && (cfg.noMicrophone || control.unplugged)) return Promise.reject(domError('NotFoundError'));
    if (audio && cfg.busy) return Promise.reject(domError('NotReadableError'));
    if (audio && cfg.overconstrained) return Promise.reject(domError('OverconstrainedError'));
    return realGUM(constraints).then((stream) => {
      const out = audio && cfg.silent ? silence(stream) : stream;
      control.tracks.push(...out.getTracks());
      return out;
    });
  };

  function endTracks() {
    for (const track of control.tracks) {
      if (track.readyState === 'ended') continue;
      track.stop(); // stop() alone fires no 'ended'; a browser that loses the device does
      track.dispatchEvent(new Event('ended'));
    }
  }

  control.revoke = () => {
    control.revoked = true;
    control.statuses.forEach((s) => s.dispatchEvent(new Event('change')));
    // Chromium fires 'change' first and ends the track ~2 ms later; keep that order.
    setTimeout(endTracks, 2);
  };
  control.unplug = () => {
    control.unplugged = true;
    endTracks();
    md.dispatchEvent(new Event('devicechange'));
  };
})();
