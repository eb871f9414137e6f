"""What the observer records as a user gesture, on every engine, on two tiny pages: one that asks for the
microphone as soon as it loads and again on the Call click, and one that asks only on the click.

Firefox is driven over WebDriver BiDi, and Playwright evaluates every script there (its own included)
with ``userActivation: true``: the page has transient activation from the harness's first look at it,
with no user input at all. navigator.userActivation alone then says "gesture" for a request made at
load, so both the ``on-gesture`` check and the ``gesture: required`` shim passed an app that asks at load.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.app.config import Surface
from harness.app.profiles import get_profile
from harness.run.batch import CaseOutcome, run_batch
from harness.run.pool import BrowserPool
from harness.run.target import AppTarget
from harness.scenario.loader import load_paths
from harness.scenario.model import ENGINES
from tests.conftest import needs_chromium, needs_engine

pytestmark = [needs_chromium, pytest.mark.browser]

# The request at load comes from an external script, as an app's does: it runs once the script has
# arrived, after the driver has already evaluated in the new page (an inline one may run before that).
ASK = ("navigator.mediaDevices.getUserMedia({ audio: true })"
       ".then((s) => s.getTracks().forEach((t) => t.stop()), () => {});")
PAGES = {
    "asks-at-load": f"{ASK}\ndocument.getElementById('call').addEventListener('click', () => {{ {ASK} }});\n",
    "asks-on-click": f"document.getElementById('call').addEventListener('click', () => {{ {ASK} }});\n",
}
SCENARIOS = """\
scenarios:
  - name: Asks only from a gesture
    expect: {microphone_request: on-gesture, within: 3s}
  - name: Gesture required
    given: {gesture: required}
    expect: {microphone_request: on-gesture, within: 3s, hold: 1s}   # held: the click's request has settled
"""


@pytest.fixture(scope="module")
def pool() -> Iterator[BrowserPool]:
    """One browser per engine and launch configuration for the module."""
    shared = BrowserPool()
    yield shared
    shared.close()


def run_page(tmp_path: Path, page: str, engine: str, pool: BrowserPool) -> dict[str, CaseOutcome]:
    """Both scenarios against the tiny page ``page`` on ``engine``, by scenario name."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "index.html").write_text(textwrap.dedent("""\
        <!doctype html>
        <html><head><meta charset="utf-8"><title>tiny</title></head>
        <body><button id="call" type="button">Call</button><script src="app.js"></script></body></html>
        """), encoding="utf-8")
    (app / "app.js").write_text(PAGES[page], encoding="utf-8")
    (tmp_path / "gesture.yaml").write_text(SCENARIOS, encoding="utf-8")
    scenarios, errors = load_paths([tmp_path / "gesture.yaml"])
    assert not errors
    target = AppTarget(None, app, None, profile_params=False)
    try:
        outcomes = run_batch(scenarios, [engine], target, Surface(), get_profile("generic"), pool)
    finally:
        target.stop()
    return {o.plan.source.scenario.name: o for o in outcomes}


def requests(outcome: CaseOutcome) -> list[str]:
    """The observer's getUserMedia lines, with how each ended."""
    assert outcome.result is not None, f"{outcome.plan.name}: {outcome.status} {outcome.detail}"
    return [f"{e['event']}: {e['detail']}" for e in outcome.result.observation.timeline
            if str(e.get("event", "")).startswith("getUserMedia")]


@pytest.mark.parametrize("engine", [pytest.param(e, marks=needs_engine(e)) for e in ENGINES])
def test_a_request_at_load_is_not_a_gesture(engine: str, tmp_path: Path, pool: BrowserPool) -> None:
    """At load: recorded without a gesture (the on-gesture check fails) and refused under gesture: required;
    the click's request: recorded as a gesture and granted."""
    cases = run_page(tmp_path, "asks-at-load", engine, pool)
    free, required = cases["Asks only from a gesture"], cases["Gesture required"]
    seen = requests(free)
    assert seen[0] == 'getUserMedia: {"audio":true} (no user gesture)', seen
    assert 'getUserMedia: {"audio":true} (user gesture)' in seen, seen
    assert free.status == "failed" and free.result is not None
    assert "2 call(s), 1 without a user gesture" in free.result.verdict.table()
    seen = requests(required)
    assert seen[0].endswith("(no user gesture)") and seen[1].startswith("getUserMedia rejected: NotAllowedError"), seen
    assert seen[-1].startswith("getUserMedia resolved"), seen  # the click's request was granted


@pytest.mark.parametrize("engine", [pytest.param(e, marks=needs_engine(e)) for e in ENGINES])
def test_a_request_on_click_is_a_gesture(engine: str, tmp_path: Path, pool: BrowserPool) -> None:
    """The app that asks only on the click passes both, and its request is granted under gesture: required."""
    cases = run_page(tmp_path, "asks-on-click", engine, pool)
    for outcome in cases.values():
        assert outcome.status == "passed", f"{outcome.plan.name}: {outcome.detail} {requests(outcome)}"
        assert requests(outcome)[0] == 'getUserMedia: {"audio":true} (user gesture)'
    assert requests(cases["Gesture required"])[-1].startswith("getUserMedia resolved")
