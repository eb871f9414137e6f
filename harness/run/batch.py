"""Run many cases without pytest (for ``mediafault variants``, ``conformance`` and tools built on the harness),
side by side in lanes.

Such cases mostly wait: on a broken app's ``within``, on an SDK, on the browser's ICE or DTLS timers (measured
on the 2-core reference machine: one broken variant's 43 Chromium cases took 225 s, 27 s of it CPU). Lanes
overlap those waits. The first lane is this process; each other lane is a child process (``python -m
harness.run.batch``) with its own Playwright driver, browser pool and network lab, since all three are per
process: the driver is global, the pool tells a launch's browser by this process's new descendants, and the
lab's namespaces are named after the PID.

Cases are handed out one at a time to whichever lane is free, the longest-bounded first, a lane keeping to
its browser's launch spec while cases of it are left; this process runs what only it can (a Grid's cases)
first, then takes its share. A case a lane could not finish (the lane process died) is run
here afterwards, so a lane's trouble costs time, never a result.

Lane processes can outlive a batch (:class:`Lanes`): one per batch costs each lane its Python start and its
browser launches again (1-3 s of CPU a launch on Chromium), which is most of a short case's cost, so a caller
with several batches (one per broken variant, one per profile) keeps one set of lanes for all of them.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from harness.app.config import Surface
from harness.app.profiles import Profile
from harness.core import procs
from harness.core.errors import MediafaultError
from harness.core.reaper import REAPER
from harness.reproduce.engines import LaunchSpec
from harness.run.plan import CasePlan, plan_case
from harness.run.pool import BrowserPool
from harness.run.recorder import NullRecorder, StepLog
from harness.run.runner import CaseResult, run_case
from harness.run.target import AppTarget
from harness.scenario.loader import SourcedScenario

# What a lane answers for a case: CaseOutcome's fields after its plan, less the lane's PID (known here).
Answer = tuple[str, str, "CaseResult | None", "MediafaultError | None", "StepLog | None", float, int]

STOP_GRACE = 20.0  # seconds a lane gets to stop its browsers and lab (after SIGTERM, or after its last batch)
# How much longer another case may be bounded for a lane to keep to a browser it has rather than start the
# longest case first: a launch costs 1-3 s of CPU, a long case started last costs its whole bound in wall time.
LAUNCH_WORTH = 5.0


@dataclass
class CaseOutcome:
    """How one case ended."""

    plan: CasePlan
    status: str  # passed | failed | skipped | broken
    detail: str = ""
    result: CaseResult | None = None
    lane: int = 0  # the PID of the lane process that ran it; 0: this process
    error: MediafaultError | None = None  # why a broken case could not run
    steps: StepLog | None = None  # its steps and evidence, when the batch records them
    seconds: float = 0.0  # how long it ran
    launches: int = 0  # the browsers its lane had started by its end (0: this process)


@dataclass
class Batch:
    """One app's cases: every scenario of ``scenarios`` on every engine it names that is in ``engines`` (or
    only the ``cases`` given, as (scenario, engine)), against ``target``."""

    scenarios: list[SourcedScenario]
    engines: list[str]
    target: AppTarget
    surface: Surface
    profile: Profile
    cases: list[tuple[SourcedScenario, str]] | None = None
    routes: dict[str, str] = field(default_factory=dict)  # forced routes, by engine (--mf-route)
    timeout: float | None = None  # a case's watchdog (None: its own bounds)
    record: bool = False  # keep each case's steps and evidence (CaseOutcome.steps)

    def plans(self) -> list[CasePlan]:
        """The cases, grouped by launch spec (one launch per configuration)."""
        # Planned with the app's URL: what cannot be reproduced for it (plain http for an https app) is skipped.
        cases = self.cases if self.cases is not None else [
            (s, e) for s in self.scenarios for e in s.scenario.engines if e in self.engines]
        plans = [plan_case(s, e, self.profile, self.routes.get(e), app_url=self.target.fixed_url,
                           app_host=self.target.host) for s, e in cases]
        plans.sort(key=lambda p: p.launch.key if p.launch else "~")
        return plans


def run_batch(scenarios: list[SourcedScenario], engines: list[str], target: AppTarget, surface: Surface,
              profile: Profile, pool: BrowserPool, lanes: int | Lanes = 1) -> list[CaseOutcome]:
    """Every scenario on every engine it names (and that is asked for), in the order planned; with ``lanes``
    above 1 that many at a time (see :func:`run_batches`)."""
    (outcomes,) = run_batches([Batch(scenarios, engines, target, surface, profile)], pool, lanes)
    return outcomes


def run_batches(batches: list[Batch], pool: BrowserPool, lanes: int | Lanes = 1) -> list[list[CaseOutcome]]:
    """Each batch's outcomes, in the order planned; with ``lanes`` above 1 that many cases at a time (see the
    module's docstring). Given a :class:`Lanes`, the batches use its lane processes and leave them running for
    later ones; given a number, their own are started and stopped.

    Every lane goes through the batches in order, moving to the next as soon as no case of its batch is left
    to take, while other lanes finish theirs: the lanes are not left idle at the end of each batch behind its
    longest case. A batch's target is stopped here when this process is done with it (a process has one
    network lab at a time; the caller may stop it again)."""
    count = lanes.count if isinstance(lanes, Lanes) else lanes
    plans = [batch.plans() for batch in batches]
    shared = [[i for i, plan in enumerate(mine) if _lane_can_run(plan)] for mine in plans]
    specs = [batch.target.lane_spec() for batch in batches]
    if count < 2 or sum(map(len, shared)) < 2 or None in specs:
        return [_run_here(batch, mine, range(len(mine)), pool, {}) for batch, mine in zip(batches, plans, strict=True)]
    if not isinstance(lanes, Lanes):
        with Lanes(count) as own:
            return run_batches(batches, pool, own)
    work = [_Work(mine, indices, LaneSetup(batch.scenarios, spec or {}, batch.surface, batch.profile,
                                           pool.settings(), batch.routes, batch.timeout, batch.record))
            for batch, mine, indices, spec in zip(batches, plans, shared, specs, strict=True)]
    done: list[dict[int, CaseOutcome]] = [{} for _ in batches]
    children = lanes.ready(min(count, sum(map(len, shared))) - 1)
    threads = [threading.Thread(target=lane.serve, args=(work, done), daemon=True, name=f"mediafault-lane-{lane.pid}")
               for lane in children]
    for thread in threads:
        thread.start()
    try:
        last = None
        for batch, mine, indices, queue, outcomes in zip(batches, plans, shared, work, done, strict=True):
            # What only this process runs (a Grid's cases), then its share.
            _run_here(batch, mine, [i for i in range(len(mine)) if i not in indices], pool, outcomes, stop=False)
            while (n := queue.take(last, pool.specs())) is not None:
                outcomes[n] = run_one(mine[n], pool, batch.target, batch.surface, batch.timeout, batch.record)
                last = mine[n].launch
            _stop(batch, pool)
    except BaseException:
        lanes.close(hurry=True)  # in the middle of their cases: stop them now, not after them
        raise
    for thread in threads:
        thread.join()
    # What a lane took but could not finish (it died), here.
    return [_run_here(batch, mine, [i for i in range(len(mine)) if i not in outcomes], pool, outcomes)
            for batch, mine, outcomes in zip(batches, plans, done, strict=True)]


def _run_here(batch: Batch, plans: list[CasePlan], indices: Iterable[int], pool: BrowserPool,
              outcomes: dict[int, CaseOutcome], stop: bool = True) -> list[CaseOutcome]:
    """Run ``plans[i]`` for each of ``indices`` in this process into ``outcomes``; with ``stop``, then stop the
    batch's target. The batch's outcomes so far, in order."""
    for i in indices:
        outcomes[i] = run_one(plans[i], pool, batch.target, batch.surface, batch.timeout, batch.record)
    if stop:
        _stop(batch, pool)
    return [outcomes[i] for i in sorted(outcomes)]


def _stop(batch: Batch, pool: BrowserPool) -> None:
    """This process is done with ``batch``: its servers and lab go, and the browsers that lived in the lab."""
    batch.target.stop()
    pool.discard_lab_browsers()


class Lanes:
    """A set of ``count`` lanes (this process is the first) whose processes, with their browsers, serve one
    batch after another until :meth:`close` (or the end of a ``with`` block). A lane that died is replaced at
    the next batch."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._children: list[Lane] = []

    def ready(self, wanted: int) -> list[Lane]:
        """``wanted`` live lane processes (at most ``count - 1``), started where there are fewer."""
        for lane in [lane for lane in self._children if lane.broken]:
            lane.stop(hurry=True)
            self._children.remove(lane)
        while len(self._children) < min(wanted, self.count - 1):
            self._children.append(Lane())
        return self._children[:wanted]

    def close(self, hurry: bool = False) -> None:
        """Stop every lane process: ``hurry`` when they may be in the middle of a case (an interrupt)."""
        children, self._children = self._children, []
        _stop_together(children, hurry)

    def __enter__(self) -> Lanes:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        self.close(hurry=kind is not None)


def _lane_can_run(plan: CasePlan) -> bool:
    """Whether a lane may run ``plan``: one that runs at all, on a route of this machine's (each lane drives its
    own browsers, WebDriver server and display; a Grid's sessions are few and shared)."""
    return (not plan.skip_reason and plan.launch is not None and plan.route is not None
            and not plan.route.limited_slots)


def side_by_side(plan: CasePlan) -> bool:
    """Whether a pytest run gives ``plan`` to lanes: a case in the network lab, which mostly waits on the
    browser's ICE timers or a shaped link (15-30 s with the CPU idle), and that a lane can run."""
    return _lane_can_run(plan) and plan.launch is not None and plan.launch.netlab


class _Work:
    """The cases the lanes share, taken one at a time: the longest-bounded first, so a long wait does not start
    last, except that a lane keeps to its browser's launch spec while cases of it are left, so that the lanes
    do not each start every browser."""

    def __init__(self, plans: list[CasePlan], indices: list[int], setup: LaneSetup) -> None:
        self.plans = plans
        self.setup = setup  # what a lane needs to run them
        self.where = {id(s): n for n, s in enumerate(setup.scenarios)}  # a plan's scenario → its index there
        self._left = sorted(indices, key=lambda i: -_bound(plans[i]))  # stable: launch specs stay grouped
        self._lock = threading.Lock()

    def take(self, last: LaunchSpec | None, have: Collection[LaunchSpec] = ()) -> int | None:
        """The next case for a lane whose last case had launch spec ``last`` and that has browsers for ``have``
        (None when none is left)."""
        with self._lock:
            if not self._left:
                return None
            first = self._left[0]
            mine = next((i for i in self._left if self.plans[i].launch == last), None)
            if mine is None:
                mine = next((i for i in self._left if self.plans[i].launch in have), None)
            i = first if mine is None or _bound(self.plans[first]) - _bound(self.plans[mine]) > LAUNCH_WORTH \
                else mine
            self._left.remove(i)
            return i

    def empty(self) -> bool:
        """Whether every case has been taken."""
        with self._lock:
            return not self._left


def run_one(plan: CasePlan, pool: BrowserPool, target: AppTarget, surface: Surface, timeout: float | None = None,
            record: bool = False) -> CaseOutcome:
    """Run one planned case (a plan with a skip reason is skipped with it); with ``record``, keep its steps and
    evidence in the outcome."""
    if procs.interrupted():  # an interrupt a Playwright call swallowed: stop here, not case after case
        raise KeyboardInterrupt("interrupted")
    if plan.skip_reason:
        return CaseOutcome(plan, "skipped", plan.skip_reason)
    steps = StepLog() if record else None
    start = time.monotonic()
    try:
        result = run_case(plan, pool, target, surface, steps or NullRecorder(), timeout)
    except MediafaultError as exc:
        return CaseOutcome(plan, "broken", str(exc), error=exc, steps=steps, seconds=time.monotonic() - start)
    verdict = result.verdict
    return CaseOutcome(plan, "passed" if verdict.passed else "failed", verdict.category or "", result, steps=steps,
                       seconds=time.monotonic() - start)


def _bound(plan: CasePlan) -> float:
    """How long the case may wait at most for its outcome (a broken app's case takes about this long)."""
    expect = plan.source.scenario.expect
    return expect.within + (expect.hold or 0.0)


@dataclass
class LaneSetup:
    """What a lane process needs to plan and run the batch's cases as this process would."""

    scenarios: list[SourcedScenario]
    target: dict[str, Any]  # AppTarget's arguments (AppTarget.lane_spec)
    surface: Surface
    profile: Profile
    pool: tuple[bool, str, str]  # BrowserPool.settings()
    routes: dict[str, str] = field(default_factory=dict)  # Batch.routes
    timeout: float | None = None  # Batch.timeout
    record: bool = False  # Batch.record


class Lane:
    """A lane process: per batch it takes a :class:`LaneSetup`, then ``(scenario index, engine)`` and answers
    with the :class:`CaseOutcome` less its plan, one case at a time, then ``None``; the end of its input stops
    it. All pickled."""

    command = (sys.executable, "-m", "harness.run.batch")

    def __init__(self) -> None:
        # stderr is shared, so a lane's warnings reach the user; stdout carries the answers.
        self._proc = subprocess.Popen(self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self.pid = self._proc.pid
        # Its browsers are its own: a launch in this process must not count them as that launch's.
        procs.keep_apart(self.pid)
        REAPER.watch_process(self.pid)  # gone with this process, however it ends
        self.broken = False  # it failed a batch: not to be given another
        self.specs: set[LaunchSpec] = set()  # the launch specs it has a browser for, as far as known here
        self._stopping = False
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._to: IO[bytes] = self._proc.stdin
        self._from: IO[bytes] = self._proc.stdout

    def serve(self, work: list[_Work], done: list[dict[int, CaseOutcome]]) -> None:
        """Run cases from each batch's ``work`` in turn, moving on when none of a batch is left to take, until all
        are taken or this lane fails (its case is then left undone)."""
        last = None
        try:
            for queue, outcomes in zip(work, done, strict=True):
                if queue.empty():
                    continue  # the others took it all: no need to set it up
                self._send(queue.setup)  # here, not in __init__: the lanes start side by side
                while not self._stopping and (i := queue.take(last, self.specs)) is not None:
                    plan = queue.plans[i]
                    self._send((queue.where[id(plan.source)], plan.engine))
                    status, detail, result, error, steps, seconds, launches = pickle.load(self._from)
                    outcomes[i] = CaseOutcome(plan, status, detail, result, self.pid, error, steps, seconds, launches)
                    last = plan.launch
                    if last is not None:
                        self.specs.add(last)
                self._send(None)
                # Its lab stops with the batch, and the browsers in it.
                self.specs = {spec for spec in self.specs if not spec.netlab}
        except (OSError, ValueError, EOFError, pickle.UnpicklingError):  # ValueError: closed by stop()
            self.broken = True  # one that died leaves its cases to the others

    def _send(self, message: object) -> None:
        pickle.dump(message, self._to)
        self._to.flush()

    def end(self) -> None:
        """Tell the lane there is no more work: it stops its browsers and exits."""
        self._stopping = True
        with contextlib.suppress(OSError):
            self._to.close()

    def stop(self, hurry: bool = False) -> None:
        """Let the lane stop its browsers and lab and wait for it: when told there is no more work it gets
        :data:`STOP_GRACE`; in a ``hurry`` (in the middle of a case) it is told with SIGTERM after 1 s, then has
        :data:`STOP_GRACE`. Killed if it has not stopped by then."""
        _stop_together([self], hurry)


def _stop_together(lanes: list[Lane], hurry: bool) -> None:
    """:meth:`Lane.stop` for several lanes side by side: each step's wait is shared, so an interrupt with three
    lanes takes as long as with one (one after another, each lane's second of grace and its own stop added up:
    4.8 s against 1.1 s, measured on Chromium's network cases)."""
    for lane in lanes:
        lane.end()  # all told at once, so they close their browsers side by side
    left = _still_running(lanes, 1.0 if hurry else STOP_GRACE)
    for lane in left:
        with contextlib.suppress(ProcessLookupError):
            lane._proc.send_signal(signal.SIGTERM)
    for lane in _still_running(left, STOP_GRACE):
        procs.kill_tree({lane.pid})
        lane._proc.wait()
    for lane in lanes:
        lane._from.close()
        procs.rejoin(lane.pid)
        REAPER.forget_process(lane.pid)


def _still_running(lanes: list[Lane], within: float) -> list[Lane]:
    """The lanes that have not exited ``within`` seconds from now (one deadline for all)."""
    deadline = time.monotonic() + within
    left = []
    for lane in lanes:
        try:
            lane._proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            left.append(lane)
    return left


def _lane_main() -> int:
    """A lane process: for each batch read the setup, then run each case it is given and answer with how it
    ended; its browsers serve every batch (those in a batch's lab go with the lab)."""
    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever prints goes to stderr, not into the answers
    asks = sys.stdin.buffer
    procs.stop_on_signals()
    pool: BrowserPool | None = None
    try:
        while True:
            setup: LaneSetup = pickle.load(asks)
            if pool is None or pool.settings() != setup.pool:
                _quietly(pool.close if pool else None)
                pool = BrowserPool(*setup.pool)
            target = AppTarget(**setup.target)
            try:
                while (ask := pickle.load(asks)) is not None:
                    index, engine = ask
                    plan = plan_case(setup.scenarios[index], engine, setup.profile, setup.routes.get(engine),
                                     app_url=setup.target["url"], app_host=setup.target["host"])
                    o = run_one(plan, pool, target, setup.surface, setup.timeout, setup.record)
                    answer: Answer = (o.status, o.detail, o.result, o.error, o.steps, o.seconds, pool.launches)
                    pickle.dump(answer, answers)
                    answers.flush()
            finally:
                _quietly(target.stop, pool.discard_lab_browsers)
    except EOFError:
        return 0
    except (BrokenPipeError, KeyboardInterrupt):
        return 1
    finally:
        _quietly(pool.close if pool else None)


def _quietly(*steps: Callable[[], object] | None) -> None:
    """Run each clean-up step even if an interrupt (SIGTERM while stopping) cuts one short: a lane that is
    stopping anyway has nothing to tell about it."""
    for step in steps:
        if step is not None:
            with contextlib.suppress(KeyboardInterrupt):
                step()


if __name__ == "__main__":
    try:
        sys.exit(_lane_main())
    except KeyboardInterrupt:  # before the loop: nothing of its own to stop yet
        sys.exit(130)
