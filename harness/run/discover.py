"""Finding where an app shows its errors, for ``mediafault init``: open the app in a real Chromium (the same
routes, pool and page setup as a case), deny the microphone, click the call button once, and see what
appeared. A new short token in an element of its own (``31208``, ``mic-permission-denied``) is the code; a
sentence in an element of its own is the message; an element whose ``data-state`` (or short text) changed
is the state. The browser part (:func:`detect`) returns data; the choice (:func:`propose`) is pure, and
writing the config is the scaffold's job.
"""

from __future__ import annotations

import re
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.app.profiles import get_profile
from harness.core.errors import MediafaultError
from harness.reproduce.engines import Page
from harness.run.judge import ASSERTIVE_REGIONS
from harness.run.plan import plan_case
from harness.run.pool import BrowserPool
from harness.run.recorder import NullRecorder
from harness.run.runner import ACTION_TIMEOUT, NAVIGATION_TIMEOUT, check_conditions, init_scripts, page_script
from harness.run.target import AppTarget
from harness.scenario.loader import load_file

WAIT = 8.0  # seconds to wait after the click for a code and a message to appear
CALL_WORDS = r"\b(call|start|join|dial|connect|talk)\b"  # what a call button's label looks like
# A code is one token: letters, digits and a few separators, no spaces ("31208", "E-MIC-403").
_TOKEN = re.compile(r"^[A-Za-z0-9][\w.:@/-]{0,59}$")
_SCENARIO = """\
name: where the app shows a denied microphone
engines: [chromium]
given:
  permission: {microphone: denied}
when: []
expect: {outcome: permission-denied}
"""


class DetectionFailed(MediafaultError):
    """Detection could not propose a surface; the message says why in one line."""


@dataclass(frozen=True)
class Detected:
    """What one denied call showed, and the ``surface:`` settings that read it."""

    page: str  # the page that was opened (for the config's comment)
    call_button: str
    surface: dict[str, str | None] = field(default_factory=dict)  # Surface key → value
    seen: dict[str, str] = field(default_factory=dict)  # what → "'31208' in <span id=...>", for people
    region: str | None = None  # the live region around the message

    def lines(self) -> list[str]:
        """What was found, one line each, for the terminal."""
        out = [f"clicked {self.call_button} with the microphone denied on {self.page}"]
        out += [f"  {what}: {where}" for what, where in self.seen.items()]
        if "message" in self.surface and self.region not in ASSERTIVE_REGIONS:
            out.append(f"  note: the message is {'in ' + self.region if self.region else 'not in a live region'}, "
                       "not in a role=alert / aria-live=assertive one, so 'expect.alert: true' would fail")
        return out


def _code_score(text: str) -> int:
    """How much ``text`` looks like an error code: 0 not at all, 1 a plain word, 2 digits, separators or
    camelCase (``Error`` beside ``31208`` is a label, not the code)."""
    if not _TOKEN.match(text):
        return 0
    if re.search(r"\d|[-_.:@/]|[a-z][A-Z]", text):
        return 2
    return 1


def _sentence(text: str) -> bool:
    return len(text.split()) >= 2 and len(text) <= 300


def propose(changed: list[dict[str, Any]], page: str, call_button: str) -> Detected | None:
    """The surface settings that read what ``changed`` (js/find.js ``{changed: true}``, in document order)
    shows; None when nothing there looks like an error code or message."""
    surface: dict[str, str | None] = {}
    seen: dict[str, str] = {}
    with_selector = [c for c in changed if c.get("selector")]
    state = next((c for c in with_selector if c.get("attribute")), None)
    if state is None:  # a short word that was there before and changed ("idle" → "error")
        state = next((c for c in with_selector if _code_score(c.get("before") or "") and _code_score(c["text"])
                      and c["text"] != c.get("before")), None)
    codes = [c for c in with_selector if c is not state and not c.get("before") and _code_score(c["text"])]
    code = max(codes, key=lambda c: (_code_score(c["text"]), c.get("region") in ASSERTIVE_REGIONS), default=None)
    sentences = [c for c in with_selector if c is not state and c is not code and _sentence(c["text"])
                 and not (code and code["text"] in c["text"].split())]
    near = [c for c in sentences if code is not None and c.get("region") and c.get("region") == code.get("region")]
    ranked = near or [c for c in sentences if c.get("region") in ASSERTIVE_REGIONS] or sentences
    message = ranked[0] if ranked else None
    if code is None and message is None:
        return None
    if code is not None:
        surface["code"] = code["selector"]
        seen["code"] = f"{code['text']!r} in {code['element']}  →  surface.code: {code['selector']}"
    if message is not None:
        surface["message"] = message["selector"]
        seen["message"] = f"{message['text']!r} in {message['element']}  →  surface.message: {message['selector']}"
    if state is not None:
        surface["state"] = state["selector"]
        surface["state_attribute"] = state.get("attribute")
        value = state.get("value") if state.get("attribute") else state["text"]
        how = f"its {state['attribute']}" if state.get("attribute") else "its text"
        seen["state"] = f"{value!r} ({how}) in {state['element']}  →  surface.state: {state['selector']}"
    return Detected(page, call_button, surface, seen, message.get("region") if message else None)


def detect(url: str | None, app_dir: str | None, call_button: str | None = None, wait: float = WAIT) -> Detected:
    """Open the app in Chromium with the microphone denied, click the call button (``call_button``, or the
    one visible button that looks like one) and propose the surface from what appeared."""
    pool = BrowserPool()
    target = AppTarget(url, Path(app_dir).resolve() if app_dir else None, None, profile_params=False)
    try:
        with tempfile.TemporaryDirectory(prefix="mediafault-init-") as tmp:
            path = Path(tmp) / "detect.yaml"
            path.write_text(_SCENARIO, encoding="utf-8")
            plan = plan_case(load_file(path)[0], "chromium", get_profile("generic"))
            if plan.skip_reason:
                raise DetectionFailed(f"no browser to look with ({plan.skip_reason})")
            page = pool.get(plan, NullRecorder()).new_page()
            try:
                token = uuid.uuid4().hex[:12]
                for script in init_scripts(plan):
                    page.add_init_script(script)
                where = target.locate(plan, token, page.server_injection())
                for name, setting in plan.permissions:
                    page.set_permission(name, setting, where.permission_origin)
                page.goto(where.page_url, NAVIGATION_TIMEOUT)
                check_conditions(page, plan)
                shown = url or f"the files in {app_dir} (served on loopback)"
                return _look(page, shown, call_button, wait)
            finally:
                page.close()
                target.forget(token)
    except DetectionFailed:
        raise
    except MediafaultError as exc:
        raise DetectionFailed(str(exc).splitlines()[0]) from None
    except Exception as exc:  # noqa: BLE001 - any browser failure: detection is optional, say why in a line
        raise DetectionFailed((str(exc).splitlines() or [type(exc).__name__])[0]) from None
    finally:
        pool.close()
        target.stop()


def _look(page: Page, shown: str, call_button: str | None, wait: float) -> Detected:
    find = page_script("find.js")
    button = call_button or _call_button(page, find)
    mark = int(page.evaluate("() => window.__mf ? window.__mf.timeline.length : 0"))
    page.evaluate(find, {"remember": True})
    page.click(button, ACTION_TIMEOUT)
    key_js = "() => document.body ? document.body.innerText : ''"
    deadline = time.monotonic() + wait
    while True:
        key = page.evaluate(key_js)
        found = propose(page.evaluate(find, {"changed": True}) or [], shown, button)
        remaining = deadline - time.monotonic()
        if (found is not None and {"code", "message"} <= set(found.surface)) or remaining <= 0:
            break
        page.wait_until_changed(key_js, None, key, remaining)
    if found is not None:
        return found
    timeline = page.evaluate("() => window.__mf ? window.__mf.timeline : []") or []
    asked = [e for e in timeline[mark:] if e.get("event") == "getUserMedia"]
    if not asked:
        raise DetectionFailed(f"clicking {button} on {shown} did not ask for the microphone; give the call button "
                              "with --call-button")
    raise DetectionFailed(f"the microphone was refused after clicking {button}, but nothing that looks like an "
                          f"error code or message appeared on {shown} within {wait:g}s")


def _call_button(page: Page, find: str) -> str:
    buttons: list[dict[str, Any]] = page.evaluate(find, {"buttons": CALL_WORDS}) or []
    usable = [b for b in buttons if b.get("selector")]
    voice = [b for b in usable if not re.search(r"video|camera", str(b.get("label")), re.I)]
    if len(usable) > 1 and len(voice) == 1:  # "Call" beside "Video call": the scenarios are about the microphone
        usable = voice
    if len(usable) == 1:
        return str(usable[0]["selector"])
    if not usable:
        raise DetectionFailed("no visible button whose text looks like call, start, join or dial; give the call "
                              "button with --call-button SELECTOR")
    labels = ", ".join(f"{b['label']!r} ({b['selector']})" for b in usable)
    raise DetectionFailed(f"several buttons could start a call: {labels}; give one with --call-button")
