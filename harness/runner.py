"""Run one planned case in a real browser and collect what the app showed."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from harness.appconfig import Surface
from harness.engines import Browser, LaunchSpec, Page
from harness.errors import EnvironmentProblem, HarnessError
from harness.judge import Check, Verdict, judge
from harness.observation import Observation, Snapshot
from harness.plan import CasePlan
from harness.recorder import Recorder

JS_DIR = Path(__file__).parent / "js"
NAVIGATION_TIMEOUT = 30.0
ACTION_TIMEOUT = 10.0


@cache
def _script(name: str) -> str:
    return (JS_DIR / name).read_text(encoding="utf-8")


class BrowserPool:
    """One browser per launch spec in this process, started on first use and kept for later cases."""

    def __init__(self, headed: bool = False) -> None:
        self.headed = headed
        self._browsers: dict[LaunchSpec, Browser] = {}
        self.launches = 0

    def get(self, plan: CasePlan, recorder: Recorder) -> Browser:
        """The browser for ``plan``'s launch spec."""
        assert plan.launch is not None and plan.route is not None
        browser = self._browsers.get(plan.launch)
        if browser is None:
            flags = " ".join(plan.launch.args) or ", ".join(f"{k}={v}" for k, v in plan.launch.prefs)
            with recorder.step(f"launch {plan.engine} via {plan.route.name} ({flags or 'defaults'})"):
                browser = plan.route.launch(plan.launch, headed=self.headed)
            self._browsers[plan.launch] = browser
            self.launches += 1
        return browser

    def discard(self, spec: LaunchSpec) -> None:
        """Forget (and close) a browser that misbehaved, so the next case starts a new one."""
        browser = self._browsers.pop(spec, None)
        if browser is not None:
            browser.close()

    def close(self) -> None:
        """Close every browser."""
        for browser in self._browsers.values():
            browser.close()
        self._browsers.clear()


@dataclass
class AppTarget:
    """Where the app is for this run."""

    url: str  # the page to open
    telemetry: str | None  # path or URL substring of the app's reporting endpoint

    @property
    def origin(self) -> str:
        """``scheme://host:port`` of the app page (what permissions are keyed on)."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"


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


def case_url(target: AppTarget, plan: CasePlan, bundled: bool, token: str) -> str:
    """The app URL with the bundled app's parameters (profile, case token) when it is ours."""
    if not bundled:
        return target.url
    query = urlencode({"profile": plan.profile, "case": token})
    return f"{target.url}{'&' if '?' in target.url else '?'}{query}"


def run_case(plan: CasePlan, pool: BrowserPool, target: AppTarget, surface: Surface, recorder: Recorder,
             *, bundled: bool = True) -> CaseResult:
    """Run ``plan``: fresh context, conditions applied, steps performed, app watched until judged."""
    timings: dict[str, float] = {}
    t = time.monotonic()
    browser = pool.get(plan, recorder)
    timings["browser"] = time.monotonic() - t
    token = uuid.uuid4().hex[:12]
    url = case_url(target, plan, bundled, token)
    t = time.monotonic()
    page = browser.new_page()
    timings["context"] = time.monotonic() - t
    try:
        with recorder.step(f"apply conditions ({plan.fidelity.value})"):
            for mech in plan.resolution.mechanisms:
                with recorder.step(mech.label()):
                    pass
            if plan.shim:
                page.add_init_script(f"window.__mfShim = {json.dumps(plan.shim)};\n" + _script("shim.js"))
            page.add_init_script(_script("observe.js"))
            if plan.permission:
                page.set_permission("microphone", plan.permission, target.origin)
        t = time.monotonic()
        with recorder.step(f"open {url}"):
            try:
                page.goto(url, NAVIGATION_TIMEOUT)
            except Exception as exc:
                raise EnvironmentProblem(f"could not open the app at {url}: {str(exc).splitlines()[0]}") from exc
        timings["page load"] = time.monotonic() - t
        _check_conditions(page, plan)
        start = time.monotonic()
        for step in plan.source.scenario.when:
            with recorder.step(step.describe()):
                try:
                    if step.click is not None:
                        page.click(step.click, ACTION_TIMEOUT)
                    elif step.wait_for is not None:
                        page.wait_visible(step.wait_for, ACTION_TIMEOUT)
                except Exception as exc:
                    last = _snapshot(page, surface)
                    raise HarnessError(f"step '{step.describe()}' could not be done: {str(exc).splitlines()[0]} "
                                       f"(app state then: {last.state or '?'}, error shown: "
                                       f"{last.code or 'none'})") from exc
        with recorder.step(f"watch the app for up to {plan.expected.within:g}s"):
            obs, verdict, late = _watch(page, plan, surface, target, start)
        timings["time to surface"] = obs.elapsed
        shot = None
        with contextlib.suppress(Exception):  # a screenshot is evidence, not a requirement
            shot = page.screenshot()
        return CaseResult(verdict, obs, browser.version, url, shot, late, timings)
    finally:
        page.close()


def _check_conditions(page: Page, plan: CasePlan) -> None:
    """Confirm that each condition is really in effect before the user acts."""
    for mech in plan.resolution.mechanisms:
        if mech.query_state is None:
            continue
        seen = page.evaluate("(n) => window.__mf ? window.__mf.permissionState(n) : 'no observer'", "microphone")
        if seen != mech.query_state:
            raise HarnessError(f"condition {mech.condition}={mech.value} is not in effect: the page's "
                               f"permissions.query says {seen!r}, expected {mech.query_state!r} ({mech.how})")


def _snapshot(page: Page, surface: Surface) -> Snapshot:
    try:
        return Snapshot.from_page(page.evaluate("(s) => window.__mf && window.__mf.read(s)", surface.model_dump()))
    except Exception:  # noqa: BLE001 - the page may be gone; report what we can
        return Snapshot()


def _observe(page: Page, surface: Surface, target: AppTarget, start: float) -> Observation:
    raw: dict[str, Any] = page.evaluate(
        "(s) => window.__mf ? ({snap: window.__mf.read(s), console: window.__mf.consoleLines,"
        " beacons: window.__mf.beacons, timeline: window.__mf.timeline}) : null",
        surface.model_dump(),
    ) or {}
    telemetry = []
    for beacon in raw.get("beacons") or []:
        if target.telemetry and target.telemetry in beacon.get("url", ""):
            try:
                telemetry.append(json.loads(beacon.get("body") or "{}"))
            except json.JSONDecodeError:
                telemetry.append({"raw": beacon.get("body")})
    return Observation(
        snapshot=Snapshot.from_page(raw.get("snap")),
        elapsed=time.monotonic() - start,
        console=list(raw.get("console") or []),
        telemetry=telemetry,
        timeline=list(raw.get("timeline") or []),
        page_errors=list(page.events.errors),
    )


def _watch(page: Page, plan: CasePlan, surface: Surface, target: AppTarget,
           start: float) -> tuple[Observation, Verdict, float | None]:
    """Judge on every change of the app's surface until it passes or time runs out.

    After ``within`` the watch goes on for a short grace period, only to tell "surfaced too late" from
    "never surfaced"; a case that passes in the grace period still fails.
    """
    within = plan.expected.within
    grace = min(max(within, 1.0), 5.0)
    surface_arg = surface.model_dump()
    key_js = "(s) => window.__mf ? window.__mf.key(s) : ''"
    while True:
        key = page.evaluate(key_js, surface_arg)  # read before observing, so no change can slip between
        obs = _observe(page, surface, target, start)
        verdict = judge(plan.expected, obs, surface.console)
        elapsed = time.monotonic() - start
        if verdict.passed:
            if elapsed <= within:
                return obs, verdict, None
            late = Check("within", f"<= {within:g}s", f"at {elapsed:.1f}s", False)
            return obs, Verdict((*verdict.checks, late), "surfaced too late"), elapsed - within
        remaining = within + grace - elapsed
        if remaining <= 0:
            return obs, verdict, None
        page.wait_until_changed(key_js, surface_arg, key, remaining)
