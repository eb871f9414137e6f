// Page-level emulation for conditions an engine cannot produce natively. It behaves like the browser
// would: the same DOMException names and messages (passed in per engine), permissions.query states,
// PermissionStatus 'change', track 'ended' and 'devicechange' events. Everything it does is reported as
// "emulated". Configured through window.__mfShim, set just before this script runs.
(() => {
  'use strict';
  const cfg = window.__mfShim || {};
  const text = Object.fromEntries(cfg.messages || []);
  const control = { revoked: false, unplugged: false, cameraUnplugged: false, tracks: [], statuses: [] };
  window.__mfShimControl = control;
  const md = navigator.mediaDevices;
  if (!md || !md.getUserMedia) return; // an insecure page has no media API to emulate

  const realGUM = md.getUserMedia.bind(md);
  const realEnum = md.enumerateDevices.bind(md);
  const realQuery = navigator.permissions && navigator.permissions.query.bind(navigator.permissions);

  // Camera failures speak the browser's video wording where it differs ("Could not start video source").
  const videoText = Object.assign({}, text, Object.fromEntries(cfg.videoMessages || []));

  function domError(name, kind) {
    const words = kind === 'video' ? videoText : text;
    if (name === 'OverconstrainedError') {
      if (typeof window.OverconstrainedError === 'function') {
        try { return new window.OverconstrainedError('deviceId', words.OverconstrainedError || ''); } catch (e) { /* old signature */ }
      }
      const e = new DOMException(words.OverconstrainedError || '', 'OverconstrainedError');
      Object.defineProperty(e, 'constraint', { value: 'deviceId' });
      return e;
    }
    return new DOMException(words[name] || '', name);
  }

  // Settings per capture kind: the microphone's keep their original names, the camera's are prefixed.
  const kinds = {
    audio: { deny: cfg.deny, prompt: cfg.prompt, missing: cfg.noMicrophone, busy: cfg.busy,
      overconstrained: cfg.overconstrained, aborted: cfg.aborted, permission: 'microphone', device: 'audioinput' },
    video: { deny: cfg.cameraDeny, prompt: cfg.cameraPrompt, missing: cfg.noCamera, busy: cfg.cameraBusy,
      overconstrained: cfg.cameraOverconstrained, permission: 'camera', device: 'videoinput' },
  };
  const kindOf = (permissionName) => (permissionName === 'camera' ? kinds.video : kinds.audio);

  function forcedState(name) {
    const k = kindOf(name);
    if ((k === kinds.audio && control.revoked) || k.deny) return 'denied';
    if (k.prompt) return 'prompt';
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
    get state() { return forcedState(this.name) || (this._real ? this._real.state : 'prompt'); }
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
      try { real = await realQuery(desc); } catch (e) { if (!forcedState(name)) throw e; }
      const status = new ShimStatus(name, real);
      control.statuses.push(status);
      return status;
    };
  }

  const gone = (k) => k.missing || (k === kinds.audio ? control.unplugged : control.cameraUnplugged);
  if (cfg.noMicrophone || cfg.noCamera || cfg.faults) {
    md.enumerateDevices = () => realEnum().then((list) =>
      list.filter((d) => !Object.values(kinds).some((k) => d.kind === k.device && gone(k))));
  }

  function silence(stream) {
    // A live track that carries digital silence, from WebAudio; the real microphone is released.
    const ctx = new (window.AudioContext || window.webkitAudioContext)();
    const dest = ctx.createMediaStreamDestination();
    stream.getAudioTracks().forEach((t) => t.stop());
    return new MediaStream([...dest.stream.getAudioTracks(), ...stream.getVideoTracks()]);
  }

  // What a browser checks, in its order: permission, then the device, then the constraints; the
  // microphone before the camera when a request asks for both.
  function refusal(k, kind) {
    if (forcedState(k.permission) === 'denied') return Promise.reject(domError('NotAllowedError', kind));
    if (k.prompt) return new Promise(() => {}); // the prompt stays open: nobody answers
    if (gone(k)) return Promise.reject(domError('NotFoundError', kind));
    if (k.busy) return Promise.reject(domError('NotReadableError', kind));
    if (k.overconstrained) return Promise.reject(domError('OverconstrainedError', kind));
    // AbortError: the device exists and is allowed but could not be started for a reason that is not a
    // hardware one (spec). The message comes from cfg.messages like the others. No harness condition sets
    // `aborted` yet: it is here for a future device.microphone value that exercises the app's generic mapping.
    if (k.aborted) return Promise.reject(domError('AbortError', kind));
    return null;
  }

  md.getUserMedia = function (constraints) {
    const audio = constraints && constraints.audio;
    const video = constraints && constraints.video;
    if (cfg.gesture && !(window.__mf && window.__mf.activation())) {
      return Promise.reject(domError('NotAllowedError', video && !audio ? 'video' : 'audio'));
    }
    const refused = (audio && refusal(kinds.audio, 'audio')) || (video && refusal(kinds.video, 'video'));
    if (refused) return refused;
    return realGUM(constraints).then((stream) => {
      const out = audio && cfg.silent ? silence(stream) : stream;
      control.tracks.push(...out.getTracks());
      return out;
    });
  };

  function endTracks(kind) {
    for (const track of control.tracks) {
      if (track.readyState === 'ended' || (kind && track.kind !== kind)) continue;
      track.stop(); // stop() alone fires no 'ended'; a browser that loses the device does
      track.dispatchEvent(new Event('ended'));
    }
  }

  control.revoke = () => {
    control.revoked = true;
    control.statuses.forEach((s) => s.dispatchEvent(new Event('change')));
    // Chromium fires 'change' first and ends the track ~2 ms later; keep that order.
    setTimeout(() => endTracks('audio'), 2);
  };
  control.unplug = () => {
    control.unplugged = true;
    endTracks('audio');
    md.dispatchEvent(new Event('devicechange'));
  };
  control.unplugCamera = () => {
    control.cameraUnplugged = true;
    endTracks('video');
    md.dispatchEvent(new Event('devicechange'));
  };
})();
