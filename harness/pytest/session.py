"""Per-run state behind the pytest plugin: settings, the app server, the browser pool, the results."""

from __future__ import annotations

import argparse
import difflib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.app.config import BUNDLED_APP, AppConfig, find_config, load_config
from harness.app.profiles import Profile, get_profile
from harness.core.errors import HarnessError, InputError
from harness.pytest.collect import CASE_SECONDS
from harness.report.matrix import Cell
from harness.run import lane_count, spare_lanes
from harness.run.plan import CasePlan
from harness.run.pool import SCREENSHOT_MODES, TRACE_MODES, BrowserPool
from harness.run.runner import RERUN_EVIDENCE, CaseResult, run_case
from harness.run.target import AppTarget
from harness.scenario.loader import SourcedScenario
from harness.scenario.model import ENGINES

if TYPE_CHECKING:
    from harness.run.batch import CaseOutcome
    from harness.run.recorder import Recorder

_KEY = pytest.StashKey["RunState"]()
# In an xdist worker's input: whether the controller sends the network cases to one worker all together.
LANES_SCOPE = "mf_lanes_scope"


def option(config: pytest.Config, name: str) -> Any:
    """An option's value: the command line first, then the ini twin (``mf_<name>``), then the default.

    An on/off switch given on the command line (``--mf-no-matrix``: False) wins over the ini too."""
    value = config.getoption(f"mf_{name}", default=None)
    if value is not None and value != []:
        return value
    return config.getini(f"mf_{name}")


class RunState:
    """Everything one pytest process needs to run cases; started lazily, stopped at session end."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        engines = option(config, "engine") or list(ENGINES)
        # The command line checks its choices; the ini twin is free text, and an engine dropped there without
        # a word would leave a run with fewer engines (or none: "no tests ran") than the user asked for.
        _check_choices("mf_engine", [str(e) for e in engines], ENGINES, "engine", several=True)
        self.engines: list[str] = [e for e in ENGINES if e in engines]
        self.forced_routes: dict[str, str] = {}
        for item in option(config, "route") or []:
            engine, _, route = str(item).partition("=")
            if engine not in ENGINES or not route:
                raise pytest.UsageError(f"--mf-route (ini: mf_route) expects ENGINE=ROUTE (e.g. "
                                        f"chromium=playwright-system) with ENGINE one of {', '.join(ENGINES)}, "
                                        f"got {item!r}")
            self.forced_routes[engine] = route
        explicit = option(config, "config")
        config_path = Path(explicit) if explicit else find_config(Path(config.rootpath))
        if explicit and not Path(explicit).is_file():
            raise pytest.UsageError(f"--mf-config {explicit}: no such file")
        self.app_config, self.config_path = load_config(config_path)
        app_url = option(config, "app_url")
        if app_url:
            self.app_config = self.app_config.model_copy(update={"url": app_url})
        profile_name = option(config, "profile") or self.app_config.profile
        profile_dirs: tuple[Path, ...] = ()
        if self.app_config.profiles_dir and self.config_path:
            profile_dirs = (self.config_path.parent / self.app_config.profiles_dir,)
        # An unknown name from mediafault.yaml is reported at its 'profile:' line; one from the command line
        # or the ini names the option.
        try:
            self.profile: Profile = get_profile(profile_name, profile_dirs,
                                                None if option(config, "profile") else self.config_path)
        except InputError as exc:
            if not option(config, "profile"):
                raise
            raise pytest.UsageError("\n".join(f"--mf-profile (ini: mf_profile) {profile_name}: {p.message}"
                                              + (f"\n  hint: {p.hint}" if p.hint else "")
                                              for p in exc.problems)) from None
        self.headed = bool(option(config, "headed"))
        timeout = option(config, "case_timeout")
        try:
            self.case_timeout: float | None = float(timeout) if timeout not in (None, "") else None
        except ValueError:
            raise pytest.UsageError(f"mf_case_timeout must be a number of seconds, got {timeout!r}") from None
        self.trace = str(option(config, "trace") or TRACE_MODES[0])
        _check_choices("mf_trace", [self.trace], TRACE_MODES, "trace mode")
        self.screenshots = str(option(config, "screenshot") or SCREENSHOT_MODES[0])
        _check_choices("mf_screenshot", [self.screenshots], SCREENSHOT_MODES, "screenshot mode")
        self.grid_url: str | None = option(config, "grid_url") or None
        if self.grid_url:
            from harness.reproduce.engines.grid_route import check_grid_url

            bad = check_grid_url(self.grid_url)
            if bad:
                raise pytest.UsageError(f"--mf-grid-url: {bad}")
        self.serve_host = self._serve_host(option(config, "serve_address") or None)
        lanes = option(config, "lanes")
        workerinput = getattr(config, "workerinput", None)
        try:
            self.lanes = spare_lanes(xdist_workers(config)) if lanes in (None, "", "auto") else lane_count(str(lanes))
        except argparse.ArgumentTypeError as exc:
            raise pytest.UsageError(f"mf_lanes = {lanes}: {exc} (ini key mf_lanes, option --mf-lanes)") from None
        # An xdist worker runs the network cases side by side only when they all come to it together.
        self.side_by_side = self.lanes > 1 and (workerinput is None or bool(workerinput.get(LANES_SCOPE)))
        self._lane_outcomes: dict[tuple[str, str, str], CaseOutcome] | None = None
        self.names: dict[str, SourcedScenario] = {}
        self.cells: list[Cell] = []
        self._pool: BrowserPool | None = None
        self._target: AppTarget | None = None

    def _serve_host(self, given: str | None) -> str | None:
        """Where the harness's servers listen for a Grid on another machine (None: loopback)."""
        if not self.grid_url:
            if given:
                raise pytest.UsageError(f"--mf-serve-address {given}: it is for a Selenium Grid on another "
                                        "machine; give --mf-grid-url too, or drop it")
            return None
        from harness.reproduce.engines.grid_route import serve_address

        try:
            address = serve_address(self.grid_url, given)
        except ValueError as exc:
            raise pytest.UsageError(f"--mf-serve-address (ini: mf_serve_address): {exc}") from None
        return None if address == "127.0.0.1" else address

    @property
    def app(self) -> AppConfig:
        """The app under test's configuration."""
        return self.app_config

    def target(self) -> AppTarget:
        """Where the app is (its servers start on first use)."""
        if self._target is None:
            app = self.app_config
            root: Path | None = None
            if not app.url:
                root = BUNDLED_APP
                if app.dir:
                    base = self.config_path.parent if self.config_path else Path(self.config.rootpath)
                    root = (base / app.dir).resolve()
            self._target = AppTarget(app.url, root, app.surface.telemetry, profile_params=not (app.url or app.dir),
                                     serve_host=self.serve_host)
        return self._target

    def pool(self) -> BrowserPool:
        """This process's browsers."""
        if self._pool is None:
            self._pool = BrowserPool(headed=self.headed, trace=self.trace, screenshots=self.screenshots)
        return self._pool

    def run(self, plan: CasePlan, item: pytest.Item) -> CaseResult:
        """Run one case, with its evidence sent to the report."""
        from harness.report.evidence import recorder_for

        recorder = recorder_for(item)
        pool = self.pool()
        outcome = self._side_by_side(plan, item)
        if outcome is not None:
            result = self._told(outcome, item, recorder)
        else:
            try:
                result = run_case(plan, pool, self.target(), self.app_config.surface, recorder, self.case_timeout)
            finally:
                # This process's launches so far; the controller keeps each process's last count, so the end of
                # the run can say how many browsers were started in all (a broken case may have started one).
                item.user_properties.append(("launches", f"{os.getpid()}={pool.launches}"))
        item.user_properties.append(("browser", result.browser_version))
        if result.observation.incidents:
            item.user_properties.append(("page", "; ".join(result.observation.incidents)))
        # Which checks failed, so the matrix cell can say "FAIL message" and not only the codes.
        item.user_properties.append(("failed_checks", ",".join(c.what for c in result.verdict.checks if not c.ok)))
        snap = result.observation.snapshot
        item.user_properties.append(("surfaced", snap.code or (f"{snap.state} (no error)" if snap.state else "")))
        from harness.report.evidence import attach_result

        attach_result(item, plan, result)
        return result

    def _side_by_side(self, plan: CasePlan, item: pytest.Item) -> CaseOutcome | None:
        """How ``plan`` ended in a lane, for a network case: at the first one, every network case of this
        process's run is run side by side (:data:`lanes` at a time, this process being one lane), and the
        others then only read theirs. None: the case is to be run here, as usual."""
        from harness.run.batch import Batch, run_batches, side_by_side

        if not self.side_by_side or not side_by_side(plan):
            return None
        if self._lane_outcomes is None:
            self._lane_outcomes = {}  # whatever happens next, the run goes on case by case
            target = self.target()
            spec = target.lane_spec()
            plans = [p for i in item.session.items if (p := getattr(i, "plan", None)) is not None and side_by_side(p)]
            if spec is None or len(plans) < 2:
                return None
            scenarios = list({id(p.source): p.source for p in plans}.values())
            batch = Batch(scenarios, self.engines, AppTarget(**spec), self.app_config.surface, self.profile,
                          [(p.source, p.engine) for p in plans], self.forced_routes, self.case_timeout, record=True)
            (outcomes,) = run_batches([batch], self.pool(), self.lanes)
            self._lane_outcomes = {_case_key(o.plan): o for o in outcomes}
        return self._lane_outcomes.pop(_case_key(plan), None)

    def _told(self, outcome: CaseOutcome, item: pytest.Item, recorder: Recorder) -> CaseResult:
        """A case run side by side, told to the report as if it had run here: its steps and evidence, its
        browser launches, its own duration (see the plugin's makereport), its error if it could not run."""
        if outcome.steps is not None:
            outcome.steps.replay(recorder)
        lane = outcome.lane or os.getpid()
        launches = outcome.launches if outcome.lane else self.pool().launches
        item.user_properties.append(("launches", f"{lane}={launches}"))
        with recorder.step(f"run side by side with the run's other network cases, in process {lane} "
                           f"({outcome.seconds:.1f} s)"):
            pass
        item.stash[CASE_SECONDS] = outcome.seconds
        if outcome.error is not None:
            raise outcome.error
        if outcome.result is None:  # a plan that cannot run is skipped before this (ScenarioItem.setup)
            raise HarnessError(f"the case ended {outcome.status} without a result: {outcome.detail}")
        return outcome.result

    def failure_text(self, plan: CasePlan, result: CaseResult) -> str:
        """The failure message: where, what kind, and the expected-vs-observed table."""
        verdict = result.verdict
        lines = [
            f"{plan.source.position_of('expect')}: {plan.name}: {verdict.category}{plan.source.case_note()}",
            f"  engine {plan.engine} via {plan.route_info.route} ({result.browser_version}), "
            f"conditions {plan.fidelity.value}, profile {plan.profile}",
            verdict.table(),
        ]
        obs = result.observation
        if obs.timeline:
            lines.append("  last events: " + "; ".join(f"{e['event']} {e.get('detail') or ''}".strip()
                                                       for e in obs.timeline[-4:]))
        if obs.page_errors:
            lines.append("  page errors: " + "; ".join(obs.page_errors[-3:]))
        if obs.incidents:
            lines.append("  the app's page also: " + "; ".join(obs.incidents))
        rerun = result.evidence.get(RERUN_EVIDENCE)
        if rerun:
            lines.append(f"  run again with a Playwright trace (in the report): the rerun {rerun}")
        return "\n".join(lines)

    def close(self) -> None:
        """Stop browsers and the app server (idempotent; also runs on interrupt)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        if self._target is not None:
            self._target.stop()
            self._target = None


def _check_choices(key: str, values: list[str], allowed: tuple[str, ...], what: str, several: bool = False) -> None:
    """A usage error naming the bad value, its ini key and option, and the values allowed."""
    bad = [v for v in values if v not in allowed]
    if bad:
        close = difflib.get_close_matches(bad[0], allowed, n=1)
        guess = f" (did you mean {close[0]!r}?)" if close else ""
        choose = "one or more of (space-separated in the ini)" if several else "one of"
        raise pytest.UsageError(f"{key} = {' '.join(values)}: {bad[0]!r} is not a{'n' if what[0] in 'aeiou' else ''} "
                                f"{what}{guess}; use {choose}: {', '.join(allowed)} (ini key {key}, option "
                                f"--{key.replace('_', '-')})")


def _case_key(plan: CasePlan) -> tuple[str, str, str]:
    """A case as its test id names it: scenario file, scenario name, engine."""
    return str(plan.source.path), plan.source.scenario.name, plan.engine


def xdist_workers(config: pytest.Config) -> int:
    """How many xdist workers the run has (1 without xdist), the same on the controller and on each worker:
    the lanes' default (spare_lanes) and the scheduler's groups both follow it, and must agree."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput:
        return int(workerinput["workercount"])
    return len(getattr(config.option, "tx", None) or []) or 1


def run_state(config: pytest.Config) -> RunState:
    """The run state of this pytest process (created on first use)."""
    state = config.stash.get(_KEY, None)
    if state is None:
        state = RunState(config)
        config.stash[_KEY] = state
    return state


def existing_state(config: pytest.Config) -> RunState | None:
    """The run state if one was created."""
    return config.stash.get(_KEY, None)
