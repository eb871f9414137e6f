"""Run one planned case in a real browser and collect what the app showed."""

from __future__ import annotations

import contextlib
import io
import json
import math
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from harness.app.config import Surface
from harness.core.errors import EnvironmentProblem, HarnessError, MediafaultError
from harness.reproduce.engines import Page
from harness.reproduce.netlab.lab import NetLab
from harness.run.hints import needles, surface_hints
from harness.run.judge import Check, Verdict, judge
from harness.run.observation import Observation, Snapshot
from harness.run.plan import CasePlan
from harness.run.pool import BrowserPool
from harness.run.recorder import Recorder
from harness.run.target import AppTarget, Location
from harness.scenario.model import Step

JS_DIR = Path(__file__).parent / "js"
STATS_POLL = 0.25  # seconds between judgements of a case that checks getStats figures
TRACE_ATTACHMENT = "playwright trace (open with: playwright show-trace FILE.zip)"
RERUN_EVIDENCE = "rerun with a trace"  # how the rerun of a failed case ended (trace mode "rerun")
NAVIGATION_TIMEOUT = 30.0
ACTION_TIMEOUT = 10.0
APP_PROXY_EVIDENCE = "app proxy"  # evidence key: what the loopback proxy did to an app named by URL
# A case's "time spent" entries that are the app's and its condition's own, from the user's last action: a
# fault's moment (the call connecting) and the app's time to show the outcome. The other entries are the
# harness's (a launch, a context, a page load, the evidence); bench/ tells them apart by these names.
FAULTS_MOMENTS = "faults' moments"
TIME_TO_SURFACE = "time to surface"
OWN_TIME = (FAULTS_MOMENTS, TIME_TO_SURFACE)
WATCHDOG_SLACK = 30.0  # beyond every bound a case waits on; only a hung page or browser gets this far
# Once the user has acted, a page that gives no answer this long past every bound the case waits on is hung
# (a busy loop in the app): its browser is killed then, not only when the whole case's budget runs out.
HANG_SLACK = 3.0
EVIDENCE_TIMEOUT = 20.0  # the screenshot and the trace, after the verdict


@cache
def page_script(name: str) -> str:
    """The text of one of the in-page scripts in js/ (observer, shim, surface finder)."""
    return (JS_DIR / name).read_text(encoding="utf-8")


@dataclass
class PageTracker:
    """What the app's page did besides its error surface: dialogs it opened, leaving the app or reloading,
    popup windows. Each observation updates it; a new document has another observer id."""

    document: str
    href: str
    now_document: str = ""
    now_href: str = ""
    observed: bool = True  # whether the page the case is on now has the harness's observer
    dialogs: dict[tuple[str, int], str] = field(default_factory=dict)
    # window.open calls the observer saw: URL, and whether the browser blocked the window
    opened: dict[tuple[str, int], tuple[str, bool]] = field(default_factory=dict)
    popups: list[str] = field(default_factory=list)  # the windows the browser had open at the end, by URL

    @classmethod
    def start(cls, page: Page) -> PageTracker:
        """The document the case's page opened with."""
        doc, href = page.evaluate("() => [window.__mf ? window.__mf.documentId : '', location.href]")
        return cls(str(doc), str(href), str(doc), str(href))

    def update(self, raw: dict[str, Any]) -> None:
        """Take in one observation (see :func:`_observe_keyed`)."""
        self.now_href = str(raw.get("href") or self.now_href)
        self.observed = "doc" in raw
        self.now_document = str(raw.get("doc") or "")
        for index, dialog in enumerate(raw.get("dialogs") or []):
            self.dialogs.setdefault((self.now_document, index), f"{dialog.get('kind')} {dialog.get('message')!r}")
        for index, opened in enumerate(raw.get("opened") or []):
            self.opened.setdefault((self.now_document, index), (str(opened.get("url")), bool(opened.get("blocked"))))

    def left(self) -> str | None:
        """How the page left the app, if it did."""
        if not self.observed:
            return f"the page left the app: it is now at {self.now_href}, a page without the harness's observer"
        if self.now_document != self.document:
            if self.now_href == self.href:
                return "the app reloaded the page, losing what it showed"
            return f"the page left the app: it navigated to {self.now_href}"
        return None

    def incidents(self) -> list[str]:
        """Everything the page did besides its surface, in words for the report."""
        found = [f"opened a dialog: {text} (dismissed by the harness)" for text in self.dialogs.values()]
        left = self.left()
        if left:
            found.append(left)
        found += [f"tried to open a popup window at {url} (the browser blocked it)" for url, blocked
                  in self.opened.values() if blocked]
        found += [f"opened a popup window at {url} (closed after the case)" for url in self.popup_urls()]
        return found

    def popup_urls(self) -> list[str]:
        """Every popup window: the ``window.open`` calls the observer saw open one, then the browser's other
        windows. A window the app opened may not be at its URL yet (or not even reported) when a fast case
        ends, so browser windows at another URL stand for the recorded calls first; only the rest are popups of
        their own (a link with a target, a page without the observer)."""
        recorded = [url for url, blocked in self.opened.values() if not blocked]
        others = [url for url in self.popups if url not in recorded]
        loading = max(len(recorded) - (len(self.popups) - len(others)), 0)
        return recorded + others[loading:]


@dataclass
class CaseResult:
    """What running a case produced."""

    verdict: Verdict
    observation: Observation
    browser_version: str
    url: str
    screenshot: bytes | None = None
    late: float | None = None  # seconds after ``within`` at which the expected surface finally appeared
    timings: dict[str, float] = field(default_factory=dict)
    evidence: dict[str, Any] = field(default_factory=dict)  # network lab: counters, TURN log, ICE config


@dataclass
class CaseWatch:
    """Where a running case is, for the watchdog's report when it never finishes."""

    phase: str = "starting the browser"
    last: Snapshot | None = None
    fired: bool = False
    on_hang: Callable[[], None] | None = None
    page: Page | None = None  # the case's page, once it has one
    limit: float | None = None  # the bound of the phase the case is in, when it has one of its own
    _timer: threading.Timer | None = None

    def bound(self, seconds: float | None, phase: str | None = None) -> None:
        """Give the phase that starts now a bound of its own (None: only the case's budget applies): a
        page that blocks every call into it (a busy loop) is found when its phase ends, not at the budget."""
        if phase is not None:
            self.phase = phase
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.limit = seconds
        if seconds is not None and self.on_hang is not None:
            self._timer = threading.Timer(seconds, self.on_hang)
            self._timer.daemon = True
            self._timer.start()

    def seen(self) -> str:
        """``last seen: state 'connecting', no error``."""
        if self.last is None:
            return "nothing read from the page yet"
        return (f"last seen: state {self.last.state or '?'!r}, "
                + (f"error {self.last.code!r}" if self.last.code else "no error"))

    def crashed(self, failure: BaseException | None = None) -> bool:
        """Whether the case's page has crashed (its renderer process died). Given the ``failure`` of a call
        into the page, its route first has a bounded moment to learn that: a route may hear that the page
        closed before it hears why."""
        if self.page is None:
            return False
        if failure is not None:
            self.page.learn_crash(failure)
        return self.page.events.crashed

    def describe(self) -> str:
        """``while watching the app (last seen: state 'connecting', no error)``."""
        return f"while {self.phase} ({self.seen()})"


class PageHung(EnvironmentProblem):
    """The page stopped answering (a busy loop in the app, a hung browser), so its browser was killed."""

    def __init__(self, watch: CaseWatch, budget: float) -> None:
        waited = f"no answer for {watch.limit:.0f}s" if watch.limit is not None else f"the case's {budget:g}s ran out"
        super().__init__(f"the page stopped answering {watch.describe()}: {waited} (a hung app or browser, e.g. "
                         "a busy loop in the app); the browser was killed and the next case starts a new one")
        self.last_seen = watch.seen()


def grace_after(within: float) -> float:
    """How long the watch goes on after ``within``, only to tell "surfaced too late" from "never"."""
    return min(max(within, 1.0), 5.0)


def case_budget(plan: CasePlan) -> float:
    """The most a case may take before the watchdog kills its browser: every bound it waits on, plus slack."""
    during = plan.source.scenario.during
    moments = plan.expected.within * len(during)  # each fault's moment may take 'within' to come
    outages = sum(f.for_ or 0.0 for f in during)
    return NAVIGATION_TIMEOUT + ACTION_TIMEOUT * len(plan.source.scenario.when) + moments + \
        _reaction_bound(plan) + outages + WATCHDOG_SLACK


def run_case(plan: CasePlan, pool: BrowserPool, target: AppTarget, surface: Surface, recorder: Recorder,
             timeout: float | None = None) -> CaseResult:
    """Run ``plan``: fresh context, conditions applied, steps performed, app watched until judged.

    A case that outlives ``timeout`` (default :func:`case_budget`; a hung page blocks every call into
    it) has its browser killed by PID; a browser that crashes or is killed is discarded, so the next
    case starts a new one, and the case is reported broken with where it was and what was last seen.
    With the pool's trace mode "rerun", a failed case on a route that can trace is run once more,
    recording a trace; the verdict stays the first run's, and the evidence says how the rerun ended.
    """
    result = _run_watched(plan, pool, target, surface, recorder, timeout, pool.trace == "on-failure")
    if result.verdict.passed or pool.trace != "rerun" or plan.route is None or not plan.route.traces:
        return result
    kept = _TraceOnly()
    with recorder.step("run again, recording a Playwright trace of the failure"):
        try:
            again = _run_watched(plan, pool, target, surface, kept, timeout, True)
        except MediafaultError as exc:
            rerun = f"could not run: {first_line(exc)}"
        else:
            same = again.verdict.category == result.verdict.category
            rerun = (f"failed the same way ({again.verdict.category})" if same else
                     f"failed otherwise ({again.verdict.category})" if not again.verdict.passed else
                     "passed: the failure did not repeat, so the case may be flaky")
        with recorder.step(f"the rerun {rerun}"):
            pass
    if kept.trace is not None:  # beside the case's other evidence, not inside the step
        recorder.attach(TRACE_ATTACHMENT, kept.trace, "zip")
    result.evidence[RERUN_EVIDENCE] = rerun
    return result


class _TraceOnly:
    """The recorder of a rerun: keeps its trace, drops the rest (its steps would repeat the first run's)."""

    def __init__(self) -> None:
        self.trace: str | bytes | None = None

    def step(self, title: str) -> contextlib.AbstractContextManager[None]:
        """Nothing is recorded."""
        return contextlib.nullcontext()

    def attach(self, name: str, body: str | bytes, kind: str) -> None:
        """Keep the trace."""
        if name == TRACE_ATTACHMENT:
            self.trace = body


def _run_watched(plan: CasePlan, pool: BrowserPool, target: AppTarget, surface: Surface, recorder: Recorder,
                 timeout: float | None, trace: bool) -> CaseResult:
    """One run of ``plan`` under the watchdog (see :func:`run_case`); ``trace``: record a Playwright trace."""
    assert plan.launch is not None
    budget = timeout or case_budget(plan)
    spec = plan.launch

    def fire() -> None:
        watch.fired = True
        pool.kill(spec)

    watch = CaseWatch(on_hang=fire)
    watchdog = threading.Timer(budget, fire)
    watchdog.daemon = True
    watchdog.start()

    try:
        return _run_case(plan, pool, target, surface, recorder, watch, trace)
    except MediafaultError as exc:
        # The route was asked about a crash in _run_case, before the page was closed; here it is only read.
        if watch.fired or watch.crashed():  # the harness's own error then only followed from it
            pool.discard(spec)
            raise _broken_page(watch, budget, exc) from None
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of the browser itself, reported as broken
        broken = watch.fired or watch.crashed()  # read before discarding, which silences the browser's news
        pool.discard(spec)
        if broken:
            raise _broken_page(watch, budget, exc) from None
        raise EnvironmentProblem(f"the browser failed {watch.describe()}: {first_line(exc)}; it was discarded and "
                                 "the next case starts a new one") from None
    finally:
        watchdog.cancel()
        watch.bound(None)


def _broken_page(watch: CaseWatch, budget: float, exc: BaseException) -> EnvironmentProblem:
    """What to report when the page hung (the watchdog fired) or crashed; its browser was discarded."""
    if watch.fired:
        return PageHung(watch, budget)
    return EnvironmentProblem(f"the page crashed {watch.describe()}: its renderer process died ({first_line(exc)}); "
                              "the browser was discarded and the next case starts a new one")


# The observer's change key; a page without the observer (the app left for another page) keys on its URL.
KEY_JS = "(s) => window.__mf ? window.__mf.key(s) : 'no observer ' + location.href"


def _run_case(plan: CasePlan, pool: BrowserPool, target: AppTarget, surface: Surface, recorder: Recorder,
              watch: CaseWatch, trace: bool) -> CaseResult:
    timings: dict[str, float] = {}
    network = plan.source.scenario.given.network
    lab = target.lab() if network is not None else None
    t = time.monotonic()
    site = target.site_origins() if plan.launch and plan.launch.site_permissions else ()
    browser = pool.get(plan, recorder, lab.browser_wrapper if lab else None, site)
    timings["browser"] = time.monotonic() - t
    watch.phase = "preparing the page"
    token = uuid.uuid4().hex[:12]
    timers: list[threading.Timer] = []  # a dropped network's restore, due while the app is watched
    t = time.monotonic()
    page = browser.new_page()
    watch.page = page
    if trace:
        page.start_trace()
    timings["context"] = time.monotonic() - t
    passed = False
    where: Location | None = None
    tracker: PageTracker | None = None
    try:
        t = time.monotonic()
        with recorder.step(f"apply conditions ({plan.fidelity.value})"):
            for mech in plan.resolution.mechanisms:
                with recorder.step(mech.label()):
                    pass
            for script in init_scripts(plan):
                page.add_init_script(script)
            where = target.locate(plan, token, page.server_injection())
            turn_mark = len(lab.turn_lines) if lab else 0
            if lab is not None and network is not None:
                link = "drop all UDP on the link" if network.udp == "blocked" else "link open"
                shape = network.link_shape()
                if shape is not None:
                    link += f", impaired ({shape.describe()}) by {lab.shaping_method()}"
                with recorder.step(f"network lab: {link}, TURN {network.turn}, policy {network.policy}, "
                                   f"credentials {network.credentials}"):
                    lab.apply(block_udp=network.udp == "blocked", shape=shape)
            for name, setting in plan.permissions if not _insecure(plan) else ():
                try:
                    page.set_permission(name, setting, where.permission_origin)
                except Exception as exc:
                    raise HarnessError(f"could not set the {name} permission to {setting!r} for "
                                       f"{where.permission_origin}: {str(exc).splitlines()[0]}") from exc
            if plan.site_permissions:
                states = ", ".join(f"{name} {setting}" for name, setting in plan.site_permissions)
                with recorder.step(f"site permissions of {where.permission_origin}: {states} (the browser's site "
                                   "permissions file gives each combination its own host name under .localhost)"):
                    pass
        timings["conditions"] = time.monotonic() - t
        t = time.monotonic()
        watch.phase = f"opening {where.display}"
        with recorder.step(f"open {where.display}"):
            try:
                page.goto(where.page_url, NAVIGATION_TIMEOUT)
            except MediafaultError:
                raise
            except Exception as exc:  # noqa: BLE001 - any navigation failure; its text may hold secrets
                why = str(exc).splitlines()[0].replace(where.page_url, where.display)
                raise EnvironmentProblem(f"could not open {where.display}: {why}") from None
        timings["page load"] = time.monotonic() - t
        target.check_proxied()
        # Checked in the top-level page, whose origin the permission is set for; a frame without
        # allow="microphone" rightly reports 'denied'.
        check_conditions(page, plan)
        page.use_frame(where.frame)
        start = time.monotonic()
        # The observer starts following the app's states; where its timeline stands marks "the user acts".
        mark = int(page.evaluate("(s) => window.__mf ? (window.__mf.follow(s), window.__mf.timeline.length) : 0",
                                 surface.model_dump()) or 0)
        tracker = PageTracker.start(page)
        watch.phase = "doing the scenario's steps"
        # 'within' counts from the last click (from here without one): the time a click waited for a late
        # button (an SDK loading) is not the app's time to react, while a wait_for after it waits on the app.
        acted = start
        for step in plan.source.scenario.when:
            with recorder.step(step.describe()):
                clicked = _do_step(page, step, surface, watch, _reaction_bound(plan))
            acted = clicked if clicked is not None else acted
        timings["steps"] = time.monotonic() - start
        watch.bound(None, "waiting for the faults' moments")
        faults, since = _inject_faults(page, plan, surface, where, recorder, acted, mark, lab, timers)
        if plan.source.scenario.during:
            timings[FAULTS_MOMENTS] = since - acted
        if faults is not None:  # a milestone never came: that is the verdict
            obs = _observe(page, surface, target, acted, tracker)
            return CaseResult(faults, obs, browser.version, where.display, _screenshot(page), None, timings)
        watch.bound(max(_reaction_bound(plan) - (time.monotonic() - since), 0.0) + HANG_SLACK, "watching the app")
        with recorder.step(f"watch the app for up to {plan.expected.within:g}s"):
            obs, verdict, late = _watch(page, plan, surface, target, since, watch, tracker)
        watch.bound(EVIDENCE_TIMEOUT, "gathering the evidence")
        t = time.monotonic()
        tracker.popups = page.popups()
        obs.incidents = tracker.incidents()
        if obs.incidents:
            with recorder.step("the app's page also: " + "; ".join(obs.incidents)):
                pass
        timings[TIME_TO_SURFACE] = obs.elapsed
        verdict = _with_hints(page, plan, surface, verdict, timings)
        evidence: dict[str, Any] = {}
        if lab is not None and network is not None:
            for timer in timers:
                timer.cancel()
            evidence = {"ice config": lab.ice_config(network.turn, network.policy, network.credentials == "wrong"),
                        "packet counters": lab.counters(), "turn log": lab.turn_log(turn_mark),
                        "stats": obs.stats, "app states": obs.states}
            for server in evidence["ice config"]["iceServers"]:
                server["credential"] = "***"
            shaped = lab.clear()  # stops the shaper, which then reports what it did
            if shape is not None:
                evidence["link impairment"] = {"asked": shape.describe(), "method": lab.shaping_method(), **shaped}
        proxied = target.proxy_evidence()
        if proxied:
            evidence[APP_PROXY_EVIDENCE] = proxied
        passed = verdict.passed
        screenshot = _screenshot(page) if not passed or pool.screenshots == "always" else None
        timings["evidence"] = time.monotonic() - t
        return CaseResult(verdict, obs, browser.version, where.display, screenshot, late, timings, evidence)
    except Exception as exc:
        # Asked here, before the page is closed below: a closed page no longer hears why it went (a hung
        # page's browser was killed, and the answer would change nothing). _run_watched reads the answer.
        if watch.fired or watch.crashed(exc):
            raise
        closed = _window_closed(plan, page, watch, tracker, surface)
        if closed is None:
            raise
        return CaseResult(*closed, browser.version, where.display if where else "", None, None, timings)
    finally:
        t = time.monotonic()
        for timer in timers:
            timer.cancel()
        recorded = page.stop_trace(keep=not passed)
        if recorded:
            # The trace records the page's URL and requests, and in the lab those carry the TURN password.
            recorder.attach(TRACE_ATTACHMENT, redact_archive(recorded, lab.secrets()) if lab else recorded, "zip")
        page.close()
        target.forget(token)
        if lab is not None:
            lab.clear()
        timings["closing"] = time.monotonic() - t  # the result holds this dict: it gets the figure too


WINDOW_CLOSED = "the app closed its own window (window.close())"


def _window_closed(plan: CasePlan, page: Page, watch: CaseWatch, tracker: PageTracker | None,
                   surface: Surface) -> tuple[Verdict, Observation] | None:
    """The verdict on a case whose app closed its own window, which failed the call that met it; None when the
    window did not close (the caller has ruled out a crash first: Firefox closes a crashed page's window before
    its browser). The app's checks are judged on what it showed last, and the case fails: nothing it would
    have shown afterwards can be seen. Its browser is fine and is kept."""
    if not page.events.window_closed:
        return None
    incidents = [*(tracker.incidents() if tracker else []), WINDOW_CLOSED]
    obs = Observation(snapshot=watch.last or Snapshot(), page_errors=list(page.events.errors), incidents=incidents,
                      left=WINDOW_CLOSED)
    closed = Check("window", "open until the case is judged", f"closed by the app while {watch.phase}", False)
    return Verdict((*judge(plan.expected, obs, surface.console).checks, closed), "page left the app"), obs


def redact_archive(data: bytes, secrets: set[str]) -> bytes:
    """A copy of the zip ``data`` with every occurrence of ``secrets`` in its members replaced by ``***``."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            member = src.read(info)
            for secret in secrets:
                member = member.replace(secret.encode(), b"***")
            dst.writestr(info, member)
    return out.getvalue()


def _with_hints(page: Page, plan: CasePlan, surface: Surface, verdict: Verdict, timings: dict[str, float]) -> Verdict:
    """``verdict`` with where the expected code or message is on the page, when a check of them failed and the
    text is elsewhere: one lookup at the end of the case, never on every snapshot."""
    wanted = needles(plan.expected, verdict, surface)
    if not wanted:
        return verdict
    t = time.monotonic()
    try:
        found = page.evaluate(page_script("find.js"), {"find": wanted})
    except Exception:  # noqa: BLE001 - a hint is extra: the verdict stands without it
        return verdict
    finally:
        timings["surface lookup"] = time.monotonic() - t
    hints = surface_hints(plan.expected, found if isinstance(found, dict) else {}, surface)
    return replace(verdict, hints=hints) if hints else verdict


def init_scripts(plan: CasePlan) -> list[str]:
    """What runs in the page before the app's own scripts: the emulation shim (when a condition needs it),
    then the observer."""
    shim = [f"window.__mfShim = {json.dumps(_jsonable(plan.shim))};\n" + page_script("shim.js")] if plan.shim else []
    return [*shim, page_script("observe.js")]


def _jsonable(value: Any) -> Any:
    """Shim settings hold tuples of pairs (hashable plans); JSON wants dicts and lists."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    return value


def _screenshot(page: Page) -> bytes | None:
    with contextlib.suppress(Exception):  # a screenshot is evidence, not a requirement
        return page.screenshot()
    return None


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message that says something (Selenium's start with 'Message:')."""
    text = str(getattr(exc, "msg", None) or exc).removeprefix("Message:")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else f"{type(exc).__name__} (the driver gave no message)"


def _reaction_bound(plan: CasePlan) -> float:
    """How long the app may take to react once the user acts: ``within``, the grace after it, any ``hold``."""
    expected = plan.expected
    return expected.within + grace_after(expected.within) + (expected.hold or 0.0)


# Why an element cannot be clicked, read in the page: people need "no element matches '#call'" or "covered
# by <div id=overlay>", not a driver's timeout.
CLICKABLE_JS = """async (sel) => {
  const describe = (el) => '<' + el.tagName.toLowerCase() + (el.id ? ' id=' + el.id : '')
    + (el.className && typeof el.className === 'string' ? ' class="' + el.className + '"' : '') + '>';
  let all;
  try { all = document.querySelectorAll(sel); } catch (e) { return {invalid: String(e.message || e)}; }
  const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const buttons = [...document.querySelectorAll('button, [role=button], input[type=button], input[type=submit], a')]
    .filter(shown).slice(0, 8)
    .map((el) => describe(el) + ' ' + JSON.stringify((el.innerText || el.value || '').trim()));
  if (!all.length) return {count: 0, buttons};
  const el = all[0];
  if (!shown(el)) return {count: all.length, hidden: true};
  if (el.disabled || el.getAttribute('aria-disabled') === 'true') return {count: all.length, disabled: true};
  const box = el.getBoundingClientRect();
  const top = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  if (top && top !== el && !el.contains(top)) return {count: all.length, covered: describe(top)};
  // Where a click would land, once the element holds still for a frame (a frame that never comes, as in a
  // hidden page, leaves the driver's own checks to decide).
  const later = await Promise.race([new Promise((r) => requestAnimationFrame(() => r(el.getBoundingClientRect()))),
                                    new Promise((r) => setTimeout(() => r(null), 100))]);
  const still = later && later.left === box.left && later.top === box.top && later.width === box.width
    && later.height === box.height;
  const x = box.left + box.width / 2, y = box.top + box.height / 2;
  const inside = top === el || (top && el.contains(top));
  return {count: all.length, at: still && inside ? [x, y] : null};
}"""


def _look_clickable(page: Page, selector: str) -> dict[str, Any] | None:
    """What CLICKABLE_JS finds for ``selector`` (None when the page cannot be asked)."""
    try:
        found = page.evaluate(CLICKABLE_JS, selector)
    except MediafaultError:
        raise
    except Exception:  # noqa: BLE001 - the page may be gone or hung; the caller reports what it has
        return None
    return found if isinstance(found, dict) else {}


def _why_not_clickable(page: Page, selector: str, found: dict[str, Any] | None = None) -> str | None:
    """What stops a click on ``selector``, in words (None when nothing visible does, or the page is gone)."""
    found = found if found is not None else (_look_clickable(page, selector) or {})
    if found.get("invalid"):
        return f"'{selector}' is not a valid CSS selector ({found['invalid']})"
    if found.get("count") == 0:
        buttons = ", ".join(found.get("buttons") or []) or "none"
        return f"no element matches '{selector}' (what the page offers to click: {buttons})"
    if found.get("hidden"):
        return f"'{selector}' is on the page but not visible"
    if found.get("disabled"):
        return f"'{selector}' is disabled"
    if found.get("covered"):
        return f"'{selector}' is covered by {found['covered']}, which would get the click"
    return None


def _do_step(page: Page, step: Step, surface: Surface, watch: CaseWatch, reaction: float) -> float | None:
    """Do one step; a click is first waited for (the element may come late), then done under the bound of the
    app's reaction, since an app that hangs in its click handler blocks the click itself. Returns when a
    click was made (its element ready), None for a step that is not a click."""
    try:
        if step.click is not None:
            watch.bound(ACTION_TIMEOUT + HANG_SLACK, f"waiting for '{step.click}' to be clickable")
            # One look in the page answers at once for the usual button that is already there and still; the
            # driver's own wait (as long as a click on Chromium) is for one that comes late or moves.
            found = _look_clickable(page, step.click)
            at = found.get("at") if found is not None and _why_not_clickable(page, step.click, found) is None else None
            if at is None:
                page.wait_clickable(step.click, ACTION_TIMEOUT)
            watch.bound(reaction + HANG_SLACK, f"clicking '{step.click}'")
            clicked = time.monotonic()
            page.click(step.click, ACTION_TIMEOUT, (float(at[0]), float(at[1])) if at else None)
            return clicked
        if step.wait_for is not None:
            watch.bound(ACTION_TIMEOUT + HANG_SLACK, f"waiting for '{step.wait_for}'")
            page.wait_visible(step.wait_for, ACTION_TIMEOUT)
        return None
    except MediafaultError:
        raise
    except Exception as exc:
        if watch.fired or watch.crashed(exc):  # the runner reports the page, not the step
            raise
        why = _why_not_clickable(page, step.click) if step.click is not None else None
        last = _snapshot(page, surface)
        detail = why or first_line(exc)
        raise HarnessError(f"step '{step.describe()}' could not be done: {detail} "
                           f"(app state then: {last.state or '?'}, error shown: {last.code or 'none'})") from exc


MILESTONES = {
    # milestone → JS predicate over the observer, given [surface, timeline index when the user started
    # acting]: a getUserMedia *requested* after the user acted resolved with an audio (a video) track (an
    # app that also asks at page load must not trigger the fault early) / the app says it is connected.
    "microphone-acquired": "([s, mark]) => window.__mf.timeline.slice(mark).some((e) => e.event === "
                           "'getUserMedia resolved' && e.request >= mark && e.kinds.includes('audio'))",
    "camera-acquired": "([s, mark]) => window.__mf.timeline.slice(mark).some((e) => e.event === "
                       "'getUserMedia resolved' && e.request >= mark && e.kinds.includes('video'))",
    "call-connected": "([s, mark]) => window.__mf.read(s).state === 'connected'",
}


def _inject_faults(page: Page, plan: CasePlan, surface: Surface, where: Location, recorder: Recorder,
                   acted: float, mark: int, lab: NetLab | None, timers: list[threading.Timer]
                   ) -> tuple[Verdict | None, float]:
    """Wait for each fault's moment and inject it; a moment that never comes fails the case (the verdict).
    Returns also when the app's time to react starts: at the last fault, or at ``acted`` (the last click)
    when there is none.

    Each moment must come within ``within`` of the previous one (of the click, for the first): a fault once the
    call is connected gives the call that long to connect, then the app that long to react to the fault.
    A network drop with ``for`` is restored by a timer while the app is watched (the caller cancels
    what is still pending when the case ends, and the lab's clear restores the link anyway).
    """
    faults = [m for m in plan.resolution.mechanisms if m.fault]
    surface_arg = surface.model_dump()
    key_js = KEY_JS
    since = acted
    for fault, spec in zip(faults, plan.source.scenario.during, strict=True):
        deadline = since + plan.expected.within
        reached = False
        while not reached:
            key = page.evaluate(key_js, surface_arg)
            reached = bool(page.evaluate(MILESTONES[spec.after], [surface_arg, mark]))
            if reached or time.monotonic() >= deadline:
                break
            page.wait_until_changed(key_js, surface_arg, key, deadline - time.monotonic())
        if not reached:
            snap = _snapshot(page, surface)
            seen = f"not reached (state {snap.state or '?'}, error {snap.code or 'none'})"
            return Verdict((Check(f"milestone {spec.after}", f"within {plan.expected.within:g}s", seen, False),),
                           "milestone not reached"), since
        lasting = f" for {spec.for_:g}s" if spec.for_ is not None else ""
        with recorder.step(f"inject {spec.do}{lasting} after {spec.after} ({fault.fidelity.value})"):
            if fault.fault == "permission-denied":
                page.set_permission("microphone", "denied", where.permission_origin)
            elif fault.fault == "shim:revoke":
                page.evaluate("() => window.__mfShimControl.revoke()")
            elif fault.fault == "shim:unplug":
                page.evaluate("() => window.__mfShimControl.unplug()")
            elif fault.fault == "shim:unplug-camera":
                page.evaluate("() => window.__mfShimControl.unplugCamera()")
            elif fault.fault == "drop-network":
                assert lab is not None  # the model requires given.network with drop-network
                lab.drop()
                if spec.for_ is not None:
                    timer = threading.Timer(spec.for_, lab.restore)
                    timer.daemon = True
                    timer.start()
                    timers.append(timer)
        since = time.monotonic()
    return None, since


def _insecure(plan: CasePlan) -> bool:
    # Browsers refuse permission overrides for an insecure origin, and its page has no media API to use one.
    return plan.source.scenario.given.page.origin == "http-insecure"


def check_conditions(page: Page, plan: CasePlan) -> None:
    """Confirm that each condition is really in effect before the user acts."""
    for mech in plan.resolution.mechanisms:
        if mech.query_state is None or _insecure(plan):
            continue
        seen = page.evaluate("(n) => window.__mf ? window.__mf.permissionState(n) : 'no observer'",
                             mech.permission_name)
        if seen != mech.query_state:
            raise HarnessError(f"condition {mech.condition}={mech.value} is not in effect: the page's "
                               f"permissions.query says {seen!r}, expected {mech.query_state!r} ({mech.how})")


def _snapshot(page: Page, surface: Surface) -> Snapshot:
    try:
        return Snapshot.from_page(page.evaluate("(s) => window.__mf && window.__mf.read(s)", surface.model_dump()))
    except Exception:  # noqa: BLE001 - the page may be gone; report what we can
        return Snapshot()


def _observe(page: Page, surface: Surface, target: AppTarget, start: float, tracker: PageTracker) -> Observation:
    return _observe_keyed(page, surface, target, start, tracker)[1]


def _observe_keyed(page: Page, surface: Surface, target: AppTarget, start: float,
                   tracker: PageTracker) -> tuple[str, Observation]:
    """The observer's change key and everything it saw, in one round trip."""
    raw: dict[str, Any] = page.evaluate(
        "async (s) => window.__mf ? ({key: window.__mf.key(s), snap: window.__mf.read(s), console: "
        "window.__mf.consoleLines, beacons: window.__mf.beacons, timeline: window.__mf.timeline, states: "
        "window.__mf.states, dialogs: window.__mf.dialogs, opened: window.__mf.opened, "
        "doc: window.__mf.documentId, href: location.href, "
        "captures: window.__mf.captures ? window.__mf.captures() : [], "
        "stats: await window.__mf.stats()}) : ({key: 'no observer ' + location.href, href: location.href})",
        surface.model_dump(),
    ) or {}
    tracker.update(raw)
    telemetry = []
    for beacon in raw.get("beacons") or []:
        if target.telemetry and target.telemetry in beacon.get("url", ""):
            try:
                telemetry.append(json.loads(beacon.get("body") or "{}"))
            except json.JSONDecodeError:
                telemetry.append({"raw": beacon.get("body")})
    return str(raw.get("key", "")), Observation(
        snapshot=Snapshot.from_page(raw.get("snap")),
        elapsed=time.monotonic() - start,
        console=list(raw.get("console") or []),
        telemetry=telemetry,
        timeline=list(raw.get("timeline") or []),
        page_errors=list(page.events.errors),
        stats=raw.get("stats") or {},
        states=list(raw.get("states") or []),
        incidents=tracker.incidents(),
        left=tracker.left(),
        captures=list(raw.get("captures") or []),
    )


def _watch(page: Page, plan: CasePlan, surface: Surface, target: AppTarget,
           start: float, watch: CaseWatch, tracker: PageTracker) -> tuple[Observation, Verdict, float | None]:
    """Judge on every change of the app's surface until it passes or time runs out.

    After ``within`` the watch goes on for a short grace period, only to tell "surfaced too late" from
    "never surfaced"; a case that passes in the grace period still fails.
    """
    within = plan.expected.within
    grace = grace_after(within)
    surface_arg = surface.model_dump()
    key_js = KEY_JS
    hold = plan.expected.hold
    held_from: float | None = None
    # getStats figures (packets received, the selected pair) change without any page event, so a check on
    # them is polled; otherwise a call whose media started just after the last event was judged only at the
    # deadline ("connected" at 0.5 s, reported too late at 15 s).
    poll = STATS_POLL if plan.expected.connection is not None else math.inf
    while True:
        # Key and observation come from one evaluation, so no change can slip between them.
        key, obs = _observe_keyed(page, surface, target, start, tracker)
        watch.last = obs.snapshot
        verdict = judge(plan.expected, obs, surface.console)
        elapsed = time.monotonic() - start
        if held_from is not None and not verdict.passed:
            broke = Check("hold", f"keeps matching for {hold:g}s", f"changed after {elapsed - held_from:.1f}s", False)
            return obs, Verdict((*verdict.checks, broke), "did not hold"), None
        if verdict.passed:
            if held_from is None:
                if elapsed > within:
                    late = Check("within", f"<= {within:g}s", f"at {elapsed:.1f}s", False)
                    return obs, Verdict((*verdict.checks, late), "surfaced too late"), elapsed - within
                held_from = elapsed
            if not hold or elapsed - held_from >= hold:
                return obs, verdict, None
            page.wait_until_changed(key_js, surface_arg, key, min(held_from + hold - elapsed, poll))
            continue
        # Past the deadline, keep watching only when nothing surfaced: a wrong code is already the answer.
        limit = within + grace if verdict.category == "nothing surfaced" else within
        remaining = limit - elapsed
        if remaining <= 0:
            return obs, verdict, None
        page.wait_until_changed(key_js, surface_arg, key, min(remaining, poll))
