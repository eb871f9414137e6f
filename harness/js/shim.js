// Page-level emulation for conditions an engine cannot produce natively. It behaves like the browser
// would: the same DOMException names and messages, permissions.query states and events. Everything it
// does is reported as "emulated". Configured through window.__mfShim, set just before this script.
(() => {
  'use strict';
  const cfg = window.__mfShim || {};
  const md = navigator.mediaDevices;
  if (!md) return;
  const realGUM = md.getUserMedia.bind(md);
  const realEnum = md.enumerateDevices.bind(md);
  const MESSAGES = {
    NotFoundError: cfg.notFoundMessage || 'Requested device not found',
    NotReadableError: cfg.notReadableMessage || 'Could not start audio source',
    NotAllowedError: cfg.notAllowedMessage || 'Permission denied',
  };
  if (cfg.noMicrophone) {
    md.enumerateDevices = () => realEnum().then((list) => list.filter((d) => d.kind !== 'audioinput'));
  }
  md.getUserMedia = function (constraints) {
    const wantsAudio = constraints && constraints.audio;
    if (wantsAudio && cfg.noMicrophone) {
      return Promise.reject(new DOMException(MESSAGES.NotFoundError, 'NotFoundError'));
    }
    return realGUM(constraints);
  };
})();
