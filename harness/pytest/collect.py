"""pytest collection: a scenario file becomes one item per scenario × engine."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from harness.core.errors import EnvironmentProblem, HarnessError, InputError
from harness.run.plan import CasePlan, plan_case
from harness.scenario.loader import duplicate_names, load_file

if TYPE_CHECKING:
    pass


class ScenarioFailed(AssertionError):
    """The app did not behave as the scenario expects (Allure: failed). Subclasses AssertionError on purpose:
    allure-pytest reports any other exception as *broken*, which is reserved for harness problems."""


def register_tags(config: pytest.Config, tags: list[str]) -> None:
    """Scenario tags become registered markers, so they work under ``--strict-markers`` and with ``-m``."""
    known = {line.split(":")[0].strip() for line in config.getini("markers")}
    for tag in dict.fromkeys(tags):
        if tag not in known:
            config.addinivalue_line("markers", f"{tag}: scenario tag")


class ScenarioFile(pytest.File):
    """A YAML file of scenarios."""

    def collect(self) -> Iterator[ScenarioItem]:
        """Load, validate and expand into cases; bad input fails this file only, with file:line messages."""
        from harness.pytest.session import run_state

        state = run_state(self.config)
        loaded = load_file(self.path)
        duplicates = duplicate_names(loaded, state.names)
        if duplicates:
            raise InputError(duplicates)
        register_tags(self.config, [t for source in loaded for t in source.scenario.tags])
        engines = state.engines
        for source in loaded:
            for engine in source.scenario.engines:
                if engine not in engines:
                    continue
                plan = plan_case(source, engine, state.profile, state.forced_routes.get(engine), state.grid_url,
                                 state.app.url, state.serve_host)
                yield ScenarioItem.from_parent(self, name=plan.name, plan=plan)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        """Bad input is shown as the file:line messages alone, never a traceback."""
        if isinstance(excinfo.value, InputError):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))


# How long a case run side by side took where it ran (its report's duration, not the time it was waited for).
CASE_SECONDS = pytest.StashKey[float]()


class ScenarioItem(pytest.Item):
    """One scenario on one engine."""

    def __init__(self, *, plan: CasePlan, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.plan = plan
        scenario = plan.source.scenario
        self.add_marker(plan.engine)
        for tag in scenario.tags:
            self.add_marker(tag)
        self.user_properties.append(("engine", plan.engine))
        self.user_properties.append(("route", plan.route_info.route))

    def setup(self) -> None:
        """Skip (with the reason) what cannot run here; this happens before any browser starts."""
        from harness.report.evidence import label_case

        label_case(self.plan)
        reason = self.plan.skip_reason
        if reason:
            # Report the skip at the scenario's line, not at this line of the plugin.
            raise pytest.skip.Exception(reason, _use_item_location=True)

    def runtest(self) -> None:
        """Run the case and judge it."""
        from harness.pytest.session import run_state
        from harness.report.evidence import title_case

        title_case(self.plan)
        state = run_state(self.config)
        result = state.run(self.plan, self)
        if not result.verdict.passed:
            raise ScenarioFailed(state.failure_text(self.plan, result))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        """Our own failures are already written for people; show them without a Python traceback."""
        exc = excinfo.value
        if isinstance(exc, ScenarioFailed):
            return str(exc)
        if isinstance(exc, HarnessError | EnvironmentProblem):
            where = self.plan.source.position
            return f"{where}: {self.plan.name} could not run ({type(exc).__name__}): {exc}"
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Any, int, str]:
        """File and 0-based line of the scenario, for pytest's location and JUnit."""
        return self.path, self.plan.source.position.line - 1, self.name
