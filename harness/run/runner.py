"""Run one planned case in a real browser and collect what the app showed."""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from harness.app.config import Surface
from harness.core.errors import EnvironmentProblem, HarnessError, MediafaultError
from harness.reproduce.engines import Page
from harness.reproduce.netlab.lab import NetLab
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
NAVIGATION_TIMEOUT = 30.0
ACTION_TIMEOUT = 10.0
WATCHDOG_SLACK = 30.0  # beyond every bound a case waits on; only a hung page or browser gets this far


@cache
def _script(name: str) -> str:
    return (JS_DIR / name).read_text(encoding="utf-8")


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

    def describe(self) -> str:
        """``while watching the app (last seen: state 'connecting', no error)``."""
        seen = "nothing read from the page yet"
        if self.last is not None:
            seen = (f"last seen: state {self.last.state or '?'!r}, "
                    + (f"error {self.last.code!r}" if self.last.code else "no error"))
        return f"while {self.phase} ({seen})"


def case_budget(plan: CasePlan) -> float:
    """The most a case may take before the watchdog kills its browser: every bound it waits on, plus slack."""
    expected = plan.expected
    grace = min(max(expected.within, 1.0), 5.0)
    outages = sum(f.for_ or 0.0 for f in plan.source.scenario.during)
    return NAVIGATION_TIMEOUT + ACTION_TIMEOUT * len(plan.source.scenario.when) + expected.within + grace + \
        (expected.hold or 0.0) + outages + WATCHDOG_SLACK


def run_case(plan: CasePlan, pool: BrowserPool, target: AppTarget, surface: Surface, recorder: Recorder,
             timeout: float | None = None) -> CaseResult:
    """Run ``plan``: fresh context, conditions applied, steps performed, app watched until judged.

    A case that outlives ``timeout`` (default :func:`case_budget`; a hung page blocks every call into
    it) has its browser killed by PID; a browser that crashes or is killed is discarded, so the next
    case starts a new one, and the case is reported broken with where it was and what was last seen.
    """
    assert plan.launch is not None
    watch = CaseWatch()
    budget = timeout or case_budget(plan)
    spec = plan.launch

    def fire() -> None:
        watch.fired = True
        pool.kill(spec)

    watchdog = threading.Timer(budget, fire)
    watchdog.daemon = True
    watchdog.start()
    hung = (f"the case did not finish within {budget:g}s {{}}: the page stopped answering (a hung app or "
            "browser); the browser was killed and the next case starts a new one")
    try:
        return _run_case(plan, pool, target, surface, recorder, watch)
    except MediafaultError:
        if watch.fired:
            pool.discard(spec)
            raise EnvironmentProblem(hung.format(watch.describe())) from None
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of the browser itself, reported as broken
        pool.discard(spec)
        if watch.fired:
            raise EnvironmentProblem(hung.format(watch.describe())) from None
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise EnvironmentProblem(f"the browser failed {watch.describe()}: {first}; it was discarded and the next "
                                 "case starts a new one") from None
    finally:
        watchdog.cancel()


def _run_case(plan: CasePlan, pool: BrowserPool, target: AppTarget, surface: Surface, recorder: Recorder,
              watch: CaseWatch) -> CaseResult:
    timings: dict[str, float] = {}
    network = plan.source.scenario.given.network
    lab = target.lab() if network is not None else None
    t = time.monotonic()
    browser = pool.get(plan, recorder, lab.browser_wrapper if lab else None)
    timings["browser"] = time.monotonic() - t
    watch.phase = "preparing the page"
    token = uuid.uuid4().hex[:12]
    timers: list[threading.Timer] = []  # a dropped network's restore, due while the app is watched
    t = time.monotonic()
    page = browser.new_page()
    if pool.trace:
        page.start_trace()
    timings["context"] = time.monotonic() - t
    passed = False
    try:
        with recorder.step(f"apply conditions ({plan.fidelity.value})"):
            for mech in plan.resolution.mechanisms:
                with recorder.step(mech.label()):
                    pass
            if plan.shim:
                page.add_init_script(f"window.__mfShim = {json.dumps(_jsonable(plan.shim))};\n" + _script("shim.js"))
            page.add_init_script(_script("observe.js"))
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
        # Checked in the top-level page, whose origin the permission is set for; a frame without
        # allow="microphone" rightly reports 'denied'.
        _check_conditions(page, plan)
        page.use_frame(where.frame)
        page.evaluate("(s) => window.__mf && window.__mf.follow(s)", surface.model_dump())
        start = time.monotonic()
        mark = int(page.evaluate("() => window.__mf ? window.__mf.timeline.length : 0"))
        watch.phase = "doing the scenario's steps"
        for step in plan.source.scenario.when:
            with recorder.step(step.describe()):
                _do_step(page, step, surface)
        faults = _inject_faults(page, plan, surface, where, recorder, start, mark, lab, timers)
        if faults is not None:  # a milestone never came: that is the verdict
            obs = _observe(page, surface, target, start)
            return CaseResult(faults, obs, browser.version, where.display, _screenshot(page), None, timings)
        watch.phase = "watching the app"
        with recorder.step(f"watch the app for up to {plan.expected.within:g}s"):
            obs, verdict, late = _watch(page, plan, surface, target, start, watch)
        timings["time to surface"] = obs.elapsed
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
        passed = verdict.passed
        return CaseResult(verdict, obs, browser.version, where.display, _screenshot(page), late, timings, evidence)
    finally:
        for timer in timers:
            timer.cancel()
        trace = page.stop_trace(keep=not passed)
        if trace:
            recorder.attach(TRACE_ATTACHMENT, trace, "zip")
        page.close()
        target.forget(token)
        if lab is not None:
            lab.clear()


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


def _do_step(page: Page, step: Step, surface: Surface) -> None:
    try:
        if step.click is not None:
            page.click(step.click, ACTION_TIMEOUT)
        elif step.wait_for is not None:
            page.wait_visible(step.wait_for, ACTION_TIMEOUT)
    except Exception as exc:
        last = _snapshot(page, surface)
        raise HarnessError(f"step '{step.describe()}' could not be done: {str(exc).splitlines()[0]} "
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
                   start: float, mark: int, lab: NetLab | None, timers: list[threading.Timer]) -> Verdict | None:
    """Wait for each fault's moment and inject it; a moment that never comes fails the case.

    A network drop with ``for`` is restored by a timer while the app is watched (the caller cancels
    what is still pending when the case ends, and the lab's clear restores the link anyway).
    """
    faults = [m for m in plan.resolution.mechanisms if m.fault]
    surface_arg = surface.model_dump()
    key_js = "(s) => window.__mf ? window.__mf.key(s) : ''"
    for fault, spec in zip(faults, plan.source.scenario.during, strict=True):
        deadline = start + plan.expected.within
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
                           "milestone not reached")
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
    return None


def _insecure(plan: CasePlan) -> bool:
    # Browsers refuse permission overrides for an insecure origin, and its page has no media API to use one.
    return plan.source.scenario.given.page.origin == "http-insecure"


def _check_conditions(page: Page, plan: CasePlan) -> None:
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


def _observe(page: Page, surface: Surface, target: AppTarget, start: float) -> Observation:
    return _observe_keyed(page, surface, target, start)[1]


def _observe_keyed(page: Page, surface: Surface, target: AppTarget, start: float) -> tuple[str, Observation]:
    """The observer's change key and everything it saw, in one round trip."""
    raw: dict[str, Any] = page.evaluate(
        "async (s) => window.__mf ? ({key: window.__mf.key(s), snap: window.__mf.read(s), console: "
        "window.__mf.consoleLines, beacons: window.__mf.beacons, timeline: window.__mf.timeline, states: "
        "window.__mf.states, captures: window.__mf.captures ? window.__mf.captures() : [], "
        "stats: await window.__mf.stats()}) : null",
        surface.model_dump(),
    ) or {}
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
        captures=list(raw.get("captures") or []),
    )


def _watch(page: Page, plan: CasePlan, surface: Surface, target: AppTarget,
           start: float, watch: CaseWatch) -> tuple[Observation, Verdict, float | None]:
    """Judge on every change of the app's surface until it passes or time runs out.

    After ``within`` the watch goes on for a short grace period, only to tell "surfaced too late" from
    "never surfaced"; a case that passes in the grace period still fails.
    """
    within = plan.expected.within
    grace = min(max(within, 1.0), 5.0)
    surface_arg = surface.model_dump()
    key_js = "(s) => window.__mf ? window.__mf.key(s) : ''"
    hold = plan.expected.hold
    held_from: float | None = None
    # getStats figures (packets received, the selected pair) change without any page event, so a check on
    # them is polled; otherwise a call whose media started just after the last event was judged only at the
    # deadline ("connected" at 0.5 s, reported too late at 15 s).
    poll = STATS_POLL if plan.expected.connection is not None else math.inf
    while True:
        # Key and observation come from one evaluation, so no change can slip between them.
        key, obs = _observe_keyed(page, surface, target, start)
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
