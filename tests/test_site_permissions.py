"""Firefox's permission states as the app origins' own: cases that differ only in their permissions share one
browser (each state is a host name under .localhost in a site permissions file written at launch), and the
permission pre-check breaks a case whose origin did not get its state, so the file can never pass a case
for the wrong reason."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.app.config import BUNDLED_APP, Surface
from harness.app.profiles import get_profile
from harness.core.resources import bundled
from harness.run.batch import CaseOutcome, run_batch
from harness.run.pool import BrowserPool
from harness.run.target import AppTarget
from harness.scenario.loader import SourcedScenario, load_paths
from tests.conftest import needs_chromium, needs_engine

pytestmark = [needs_chromium, needs_engine("firefox"), pytest.mark.browser]

# Microphone denied, granted, blocked by policy and unanswered, and the camera blocked: five permission
# configurations, five Firefox launches with the states as prefs.
NAMES = ["Microphone blocked for the site", "Microphone allowed, call can start",
         "Microphone blocked by company policy", "Permission prompt left unanswered", "Camera blocked for the site"]


@pytest.fixture(scope="module")
def scenarios() -> list[SourcedScenario]:
    """The catalogue's scenarios named in :data:`NAMES`."""
    loaded, errors = load_paths([bundled("scenarios") / "permission", bundled("scenarios") / "camera"])
    assert not errors
    chosen = [s for s in loaded if s.scenario.name in NAMES]
    assert sorted(s.scenario.name for s in chosen) == sorted(NAMES)
    return chosen


@pytest.fixture
def pool() -> Iterator[BrowserPool]:
    """A pool of the test's own, so its launches can be counted."""
    shared = BrowserPool()
    yield shared
    shared.close()


def run(scenarios: list[SourcedScenario], pool: BrowserPool, target: AppTarget | None = None) -> dict[str, CaseOutcome]:
    """The scenarios on Firefox against the bundled app, by scenario name."""
    target = target or AppTarget(None, BUNDLED_APP, Surface().telemetry, profile_params=True)
    try:
        return {o.plan.source.scenario.name: o for o in run_batch(scenarios, ["firefox"], target, Surface(),
                                                                  get_profile("generic"), pool)}
    finally:
        target.stop()


def test_permission_states_share_one_firefox(scenarios: list[SourcedScenario], pool: BrowserPool) -> None:
    """Every case passes in one browser, each at its own origin; a second app server (the next variant of
    `mediafault variants`) gets the same ports, so the browser stays."""
    outcomes = run(scenarios, pool)
    assert {n: (o.status, o.detail) for n, o in outcomes.items() if o.status != "passed"} == {}
    assert pool.launches == 1
    # The unanswered prompt has no site permission: it is the app's plain origin, where nothing is set.
    assert outcomes["Permission prompt left unanswered"].plan.site_permissions == ()
    assert outcomes["Camera blocked for the site"].plan.site_permissions == (("camera", "denied"),
                                                                             ("microphone", "granted"))
    again = run(scenarios[:2], pool)
    assert all(o.status == "passed" for o in again.values()), again
    assert pool.launches == 1


def test_a_site_file_that_misses_the_origin_breaks_the_case(scenarios: list[SourcedScenario],
                                                            pool: BrowserPool) -> None:
    """If the browser's site permissions did not cover the case's origin (its state left at the prompt), the
    pre-check stops the case as broken instead of judging the app under the wrong condition."""

    class NoSites(AppTarget):
        def site_origins(self) -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
            return ()

    denied = [s for s in scenarios if s.scenario.name in ("Microphone blocked for the site",
                                                          "Microphone allowed, call can start")]
    outcomes = run(denied, pool, NoSites(None, BUNDLED_APP, None, profile_params=True))
    for outcome in outcomes.values():
        assert outcome.status == "broken", (outcome.status, outcome.detail)
        assert "prompt" in outcome.detail, outcome.detail
