(req) => {
  // Finding the app's error surface, for people setting mediafault up. One function, four questions:
  //  {find: needles}  where is the text a failing case expected? Asked once at the end of a case whose code
  //    or message check failed (never on every snapshot). For each needle: the visible elements whose text
  //    matches and none of whose children does (the element that holds it), each with a short CSS selector
  //    that picks it out alone; for a code, also an attribute holding exactly that code.
  //  {remember: true}, then {changed: true}  which elements' text (or state attribute) the user's action
  //    changed: for `mediafault init`, which proposes selectors from what appeared.
  //  {buttons: pattern}  the visible, enabled buttons whose text matches (the call button, for init).
  'use strict';
  // The same readings as observe.js: an element's text as the observer reads it, and what a user can see.
  const text = (el) => (el ? (el.innerText || el.textContent || '').trim() : '');
  const visible = (el) => !!el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const esc = (s) => (window.CSS && CSS.escape ? CSS.escape(s) : String(s).replace(/[^\w-]/g, (c) => '\\' + c));
  const quote = (s) => '"' + String(s).replace(/["\\]/g, (c) => '\\' + c) + '"';
  const unique = (sel, el) => {
    try {
      const all = document.querySelectorAll(sel);
      return all.length === 1 && all[0] === el;
    } catch (e) {
      return false;
    }
  };
  // Attributes written for tests first: they are the ones a team keeps stable.
  const TEST_ATTRS = ['data-testid', 'data-test-id', 'data-test', 'data-qa', 'data-cy'];
  const rank = (name) => (TEST_ATTRS.includes(name) ? TEST_ATTRS.indexOf(name) : TEST_ATTRS.length);

  // A selector for ``el`` alone from its own attributes (id, then data-*, then a class), or null. A value
  // that holds the expected text changes with every error, so such an attribute is matched by presence.
  function own(el, needle) {
    const tag = el.tagName.toLowerCase();
    if (el.id && unique('#' + esc(el.id), el)) return '#' + esc(el.id);
    const data = [...el.attributes].filter((a) => a.name.startsWith('data-')).sort((a, b) => rank(a.name) - rank(b.name));
    for (const a of data) {
      const changing = !a.value || a.value.length > 40 || (needle && a.value.includes(needle));
      const sel = changing ? `[${a.name}]` : `[${a.name}=${quote(a.value)}]`;
      if (unique(sel, el)) return sel;
      if (unique(tag + sel, el)) return tag + sel;
    }
    for (const c of el.classList) {
      if (unique('.' + esc(c), el)) return '.' + esc(c);
      if (unique(tag + '.' + esc(c), el)) return tag + '.' + esc(c);
    }
    const role = el.getAttribute('role');
    if (role && unique(`[role=${quote(role)}]`, el)) return `[role=${quote(role)}]`;
    return null;
  }

  // Its own selector, else a short path down from the nearest ancestor that has one (or body).
  function selectorFor(el, needle) {
    const direct = own(el, needle);
    if (direct) return direct;
    const steps = [];
    let node = el;
    while (node.parentElement && node !== document.body && steps.length < 4) {
      const parent = node.parentElement;
      const same = [...parent.children].filter((c) => c.tagName === node.tagName);
      const cls = [...node.classList].find((c) => parent.querySelectorAll(':scope > .' + esc(c)).length === 1);
      let step = node.tagName.toLowerCase();
      if (cls) step += '.' + esc(cls);
      else if (same.length > 1) step += `:nth-of-type(${same.indexOf(node) + 1})`;
      steps.unshift(step);
      const anchor = parent === document.body ? 'body' : own(parent, needle);
      if (anchor) {
        const sel = anchor + ' > ' + steps.join(' > ');
        if (unique(sel, el)) return sel;
      }
      node = parent;
    }
    return null;
  }

  function describe(el) {
    let out = '<' + el.tagName.toLowerCase();
    for (const name of ['id', 'class', ...TEST_ATTRS, 'role', 'aria-live']) {
      const value = el.getAttribute(name);
      if (value) out += ` ${name}=${quote(value.length > 40 ? value.slice(0, 37) + '...' : value)}`;
    }
    return out + '>';
  }

  const elements = document.body ? [...document.body.querySelectorAll('*')] : [];
  const LIVE = '[role=alert],[role=status],[aria-live=assertive],[aria-live=polite]';
  const regionOf = (el) => {
    const region = el.closest(LIVE);
    if (!region) return null;
    return region.getAttribute('role') ? 'role=' + region.getAttribute('role') : 'aria-live=' + region.getAttribute('aria-live');
  };
  const STATE_ATTRS = ['data-state', 'data-status'];
  const ownText = (el) => [...el.childNodes].some((c) => c.nodeType === 3 && c.textContent.trim());
  const reading = (el) => {
    const attr = STATE_ATTRS.find((a) => el.hasAttribute(a));
    return { text: ownText(el) && visible(el) ? text(el) : '', attr: attr || null, value: attr ? el.getAttribute(attr) : null };
  };
  const INTERACTIVE = 'button,a,input,select,textarea,option,label,[role=button]';
  if (req.remember) {
    const before = new WeakMap();
    for (const el of elements) before.set(el, reading(el));
    window.__mfBefore = before;
    return elements.length;
  }
  if (req.changed) {
    const before = window.__mfBefore || new WeakMap();
    const out = [];
    for (const el of elements) {
      if (out.length >= 60) break;
      const now = reading(el);
      const was = before.get(el) || { text: '', attr: null, value: null };
      const textChanged = now.text && now.text !== was.text;
      const stateChanged = now.attr && now.value && now.value !== was.value;
      if (!textChanged && !stateChanged) continue;
      if (el.closest(INTERACTIVE)) continue; // a button's label is not what the app reports
      out.push({
        selector: selectorFor(el, now.text || null), element: describe(el), text: now.text, before: was.text,
        region: regionOf(el), attribute: stateChanged ? now.attr : null, value: stateChanged ? now.value : null,
        was: stateChanged ? was.value : null,
      });
    }
    return out;
  }
  if (req.buttons) {
    const rx = new RegExp(req.buttons, 'i');
    return elements.filter((el) => el.matches('button,[role=button],input[type=button],input[type=submit]'))
      .filter((el) => visible(el) && !el.disabled && el.getAttribute('aria-disabled') !== 'true')
      .map((el) => ({ label: (text(el) || el.value || el.getAttribute('aria-label') || '').trim(), el }))
      .filter((b) => rx.test(b.label))
      .map((b) => ({ label: b.label, selector: selectorFor(b.el, null), element: describe(b.el) }));
  }
  const found = {};
  for (const n of req.find || []) {
    let rx = null;
    if (n.regex != null) {
      try {
        rx = new RegExp(n.regex.replace(/\(\?P</g, '(?<'));
      } catch (e) {
        found[n.key] = [];
        continue;
      }
    }
    const probe = n.exact != null ? n.exact : n.contains;
    const matches = (t) => (n.exact != null ? t === n.exact : n.contains != null ? t.includes(n.contains) : rx.test(t));
    const current = n.current ? (() => { try { return document.querySelector(n.current); } catch (e) { return null; } })() : null;
    const hit = (el, extra) => ({
      selector: selectorFor(el, probe), element: describe(el), text: text(el).slice(0, 200),
      configured: el === current, ...extra,
    });
    const hits = [];
    for (const el of elements) {
      if (hits.length >= 3) break;
      if (probe != null && !(el.textContent || '').includes(probe)) continue; // cheap filter before layout
      const t = text(el);
      if (!matches(t) || !visible(el)) continue;
      if ([...el.children].some((c) => matches(text(c)) && visible(c))) continue; // a child holds it
      hits.push(hit(el, {}));
    }
    if (!hits.length && n.exact != null && n.attributes) {
      for (const el of elements) {
        if (hits.length >= 3) break;
        const a = [...el.attributes].find((x) => x.value.trim() === n.exact && x.name !== 'class' && x.name !== 'id');
        if (a && visible(el)) hits.push(hit(el, { attribute: a.name }));
      }
    }
    if (!hits.length && n.exact != null) {
      // Only inside a longer text ("Error 31208: …"): worth saying, though no selector can read it alone.
      for (const el of elements) {
        if (hits.length >= 1) break;
        const t = text(el);
        if (!t.includes(n.exact) || !visible(el)) continue;
        if ([...el.children].some((c) => text(c).includes(n.exact) && visible(c))) continue;
        hits.push(hit(el, { inside: true }));
      }
    }
    found[n.key] = hits;
  }
  return found;
}
