"""Where the expected code or message is when the configured surface did not show it.

A user who points mediafault at a new app with the default ``surface:`` selectors sees every case fail
with "nothing surfaced", although the app shows the right code, only in another element. After a failed
code or message check the runner asks the page once (``js/find.js``) for the elements that hold the
expected text, and this module turns that answer into a hint naming the element and the ``surface:``
setting that would read it. Pure: the page's answer is data handed in; nothing here touches a browser.
"""

from __future__ import annotations

import json
from typing import Any

from harness.app.config import Surface
from harness.run.judge import Expected, Verdict

CONFIG_FILE = "mediafault.yaml"


def needles(expected: Expected, verdict: Verdict, surface: Surface) -> list[dict[str, Any]]:
    """What to look for on the page: the expected code and message whose checks failed (empty: nothing)."""
    failing = {c.what for c in verdict.checks if not c.ok}
    out: list[dict[str, Any]] = []
    if "code" in failing and expected.code is not None and expected.code.strip():
        out.append({"key": "code", "exact": expected.code.strip(), "attributes": True, "current": surface.code})
    message = expected.message
    if "message" in failing and message is not None:
        out.append({"key": "message", "exact": message.exact.strip() if message.exact is not None else None,
                    "contains": message.contains, "regex": message.regex, "current": surface.message})
    return out


def surface_hints(expected: Expected, found: dict[str, Any], surface: Surface) -> tuple[str, ...]:
    """One hint per expected text the page holds outside the configured element, from ``find.js``'s answer."""
    hints = []
    if expected.code is not None:
        code = expected.code.strip()
        hits = [h for h in found.get("code") or [] if h.get("attribute") or h.get("inside")
                or str(h.get("text", "")).strip() == code]
        hint = _code_hint(code, hits, surface)
        if hint:
            hints.append(hint)
    if expected.message is not None:
        message = expected.message
        hits = [h for h in found.get("message") or [] if message.matches(str(h.get("text", "")))]
        hint = _message_hint(message.describe(), hits)
        if hint:
            hints.append(hint)
    return tuple(hints)


def _setting(key: str, selector: str) -> str:
    # JSON strings are YAML double-quoted scalars: the line can be pasted into the config as it is.
    return f"surface.{key}: {json.dumps(selector)}"


def _placed(what: str, hit: dict[str, Any], key: str) -> str:
    """``the expected code '31208' is on the page in <span id="c"> (selector: #c); set surface.code: …``."""
    element, selector = hit.get("element", "an element"), hit.get("selector")
    if not selector:
        return (f"{what} is on the page in {element}, but no short selector picks that element out alone; give it "
                f"an id or a data-testid and set surface.{key} to that in {CONFIG_FILE}")
    return f"{what} is on the page in {element} (selector: {selector}); set {_setting(key, selector)} in {CONFIG_FILE}"


def _code_hint(code: str, hits: list[dict[str, Any]], surface: Surface) -> str | None:
    what = f"the expected code {code!r}"
    for hit in hits:
        if hit.get("attribute") and hit.get("configured"):
            return (f"{what} is in the {hit['attribute']} attribute of the element surface.code picks "
                    f"({hit.get('element')}); set surface.code_attribute: {hit['attribute']} in {CONFIG_FILE}")
        if hit.get("attribute"):
            element, selector, name = hit.get("element"), hit.get("selector"), hit["attribute"]
            if not selector:
                continue
            return (f"{what} is on the page in the {name} attribute of {element} (selector: {selector}); set "
                    f"{_setting('code', selector)} and surface.code_attribute: {name} in {CONFIG_FILE}")
        if hit.get("inside"):
            text = str(hit.get("text", ""))
            shown = text if len(text) <= 60 else text[:57] + "..."
            return (f"{what} is on the page only inside the text of {hit.get('element')} ({shown!r}); point "
                    f"surface.code at an element (or attribute, with surface.code_attribute) that holds just the code")
        if hit.get("configured"):
            if surface.code_attribute:
                return (f"{what} is the text of the element surface.code picks ({hit.get('element')}), but its "
                        f"{surface.code_attribute} attribute is read first; set surface.code_attribute: null in "
                        f"{CONFIG_FILE} to read the text")
            continue
        return _placed(what, hit, "code")
    return None


def _message_hint(described: str, hits: list[dict[str, Any]]) -> str | None:
    for hit in hits:
        if not hit.get("configured"):
            return _placed(f"the expected message {described}", hit, "message")
    return None
