"""xdist scheduling by browser launch: cases that share a launch configuration go to a worker together, in
chunks of at least :data:`MIN_GROUP`, so a configuration is launched at most once per worker (a worker's
BrowserPool keeps what it started), and on more than one worker only when its cases are more than a worker's
share of the run. The network lab's cases,
with lanes (``--mf-lanes``), go to one worker together, which runs them side by side.

xdist's own ``loadgroup`` needs a group suffix on every node id, which pytest 9.2 no longer lets a plugin
add and which would change test ids (and so report history) between serial and parallel runs. Instead
the controller works out each case's launch group from the scenario files themselves.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from xdist.scheduler import LoadScopeScheduling

from harness.core.errors import InputError
from harness.run.batch import side_by_side
from harness.run.plan import plan_case, split_case_id
from harness.scenario.loader import SourcedScenario, load_file

MIN_GROUP = 4  # cases per launch before a launch configuration is split across workers
LANES_GROUP = "mediafault-lanes"  # the group of the cases a worker runs side by side in lanes


def chunk(keys: dict[str, str], workers: int) -> dict[str, str]:
    """Split the launch keys whose cases are more than a worker's share of the run into chunks, so a big group
    still spreads over the workers while the others are launched once.

    A group is split only when it alone exceeds a worker's share (the run's cases over ``workers``): a
    smaller one is balanced by the other groups, and splitting it would launch its browser once more for
    nothing (in the built-in catalogue on two workers, one launch more per engine: 3.5-4 s for Firefox). A
    chunk has at least :data:`MIN_GROUP` cases (a launch costs about as much as a few cases) and a key makes
    at most ``workers`` chunks, so no worker is handed the same configuration twice.
    """
    members: dict[str, list[str]] = {}
    for nodeid, key in keys.items():
        members.setdefault(key, []).append(nodeid)
    share = max(MIN_GROUP, math.ceil(len(keys) / max(workers, 1)))
    out: dict[str, str] = {}
    for key, ids in members.items():
        pieces = min(max(workers, 1), math.ceil(len(ids) / share))
        size = max(MIN_GROUP, math.ceil(len(ids) / pieces))
        for n, nodeid in enumerate(ids):
            out[nodeid] = f"{key}#{n // size}"
    return out


def launch_groups(config: pytest.Config, nodeids: list[str], workers: int) -> dict[str, str]:
    """Node id → launch group for every scenario case in ``nodeids`` (other tests are left out)."""
    from harness.pytest.session import run_state

    state = run_state(config)
    files: dict[str, list[SourcedScenario]] = {}
    keys: dict[str, str] = {}
    together: list[str] = []
    for nodeid in nodeids:
        case = split_case_id(nodeid)
        if case is None:
            continue
        path, name, engine = case
        if path not in files:
            try:
                files[path] = load_file(Path(config.rootpath) / path)
            except (InputError, OSError):
                files[path] = []
        source = next((s for s in files[path] if s.scenario.name == name), None)
        if source is None:
            continue
        plan = plan_case(source, engine, state.profile, state.forced_routes.get(engine), state.grid_url,
                         state.app.url, state.serve_host)
        if state.lanes > 1 and side_by_side(plan):
            together.append(nodeid)
        else:
            keys[nodeid] = plan.launch.key if plan.launch else f"unavailable-{engine}"
    # The network cases all go to one worker, which runs them side by side in lanes (session.RunState).
    return {**chunk(keys, workers), **dict.fromkeys(together, LANES_GROUP)}


class LaunchScheduling(LoadScopeScheduling):  # type: ignore[misc]
    """``loadscope`` where a scope is a launch group (falls back to the module for other tests)."""

    def __init__(self, config: pytest.Config, log: Any = None,
                 groups: Callable[[list[str]], dict[str, str]] | None = None) -> None:
        super().__init__(config, log)
        self._groups_of = groups
        self._groups: dict[str, str] | None = None

    def _split_scope(self, nodeid: str) -> str:
        if self._groups is None:
            self._groups = self._groups_of(list(self.collection or [])) if self._groups_of else {}
        group = self._groups.get(nodeid)
        return group if group is not None else str(super()._split_scope(nodeid))

    def remove_node(self, node: Any) -> str | None:
        """A worker went away. ``loadscope`` would queue its whole group again, the case that was running
        when it crashed included, so that case would run twice and be reported twice (broken, then maybe
        passed). It is reported once, as crashed; the rest of its group goes to another worker."""
        crashed = None
        for unit in self.assigned_work.get(node, {}).values():
            pending = [nodeid for nodeid, done in unit.items() if not done]
            if pending:
                crashed = pending[0]
                unit[crashed] = True
                break
        super().remove_node(node)
        for scope in [scope for scope, unit in self.workqueue.items() if all(unit.values())]:
            del self.workqueue[scope]  # nothing left to run there
        return crashed
