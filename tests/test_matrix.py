"""Every cell of the support matrix, on every engine and route this machine has: the built-in catalogue
either passes against the bundled app or is skipped for exactly the reason the condition table gives; and the
end-of-run matrix says what failed in a cell."""

from __future__ import annotations

import pytest

from harness.pytest.plugin import broken_summary
from harness.report.matrix import Cell, render
from harness.reproduce.engines import pick_route
from harness.run.observation import Snapshot
from harness.run.runner import CaseWatch, PageHung
from tests.conftest import REPO, WriteScenario, needs_chromium

ROUTES = [("chromium", "playwright-system"), ("chromium", "selenium-chromedriver"), ("firefox", "playwright-system"),
          ("webkit", "selenium-webkitgtk")]


@pytest.mark.browser
@pytest.mark.parametrize(("engine", "route"), ROUTES, ids=[f"{e}-{r}" for e, r in ROUTES])
def test_catalogue_on_engine(pytester: pytest.Pytester, engine: str, route: str) -> None:
    """All cases pass or are skipped as unsupported; none fails or breaks; skips name their reason."""
    found, info = pick_route(engine, route)
    if found is None:
        pytest.skip(f"{engine} via {route} is not available here: {info.reason}")
    pytester.makefile(".ini", pytest="[pytest]\naddopts = --strict-markers -p no:cacheprovider\n")
    # On two workers, as './bootstrap run' runs it: the cases mostly wait on browser timers (the network ones
    # 8-30 s each), so overlapping them took Firefox's cell from 169 s to 82 s and Chromium's from 133 s to
    # 78 s on the 2-core reference machine, beside the suite's other worker; and the plugin's scheduling of
    # launch groups over workers is exercised on every engine and route. Each worker runs its network cases
    # one at a time: beside the suite's other worker the cores are busy, which a user's run leaves to its
    # lanes (test_side_by_side.py runs those).
    result = pytester.runpytest_subprocess(str(REPO / "scenarios"), "--mf-engine", engine, "--mf-route",
                                           f"{engine}={route}", "-rs", "-n", "2", "--mf-lanes", "1",
                                           "--rootdir", str(pytester.path))
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("errors", 0) == 0, result.stdout.str()
    assert outcomes.get("passed", 0) > 0
    skips = [line for line in result.stdout.lines if line.startswith("SKIPPED")]
    assert len(skips) == outcomes.get("skipped", 0)
    for line in skips:
        # A stated reason, not a crash: unsupported here, needs the lab, or written for another app profile.
        assert (f"is unsupported on {engine}: " in line or "network lab" in line
                or "written for the app profile(s)" in line), line


@pytest.mark.parametrize(("cell", "text"), [
    (Cell("S", "chromium", "failed", "mic-permission-denied", "mic-permission-denied", failed_checks="message"),
     "FAIL message"),
    (Cell("S", "chromium", "failed", "mic-permission-denied", "mic-generic", failed_checks="code,message"),
     "FAIL code mic-permission-denied→mic-generic, message"),
    (Cell("S", "chromium", "failed", "mic-permission-denied", "mic-permission-denied",
          failed_checks="alert region"), "FAIL alert"),
    (Cell("S", "chromium", "failed", "mic-permission-denied", "mic-permission-denied", failed_checks="within"),
     "FAIL too late"),
    (Cell("S", "chromium", "broken", "mic-permission-denied",
          broken="timeout (last seen: state 'connecting', no error)"),
     "BROKEN timeout (last seen: state 'connecting', no error)"),
    (Cell("S", "chromium", "failed", "mic-permission-denied", "mic-generic"), "FAIL mic-permission-denied→mic-generic"),
])
def test_cell_says_what_failed(cell: Cell, text: str) -> None:
    """A failing cell names the failing check: a right code with a wrong message must not read like a code
    problem ('FAIL mic-permission-denied→mic-permission-denied'); a hung case says timeout and what was seen."""
    row = render([cell]).splitlines()[2]
    assert row.split(None, 1)[1] == text, row


def test_broken_summary_of_a_hung_case() -> None:
    """The watchdog's message becomes 'timeout (last seen: …)'; other errors keep their first line, cut short."""
    watch = CaseWatch(phase="watching the app", last=Snapshot(state="connecting"), limit=12.0)
    hung = PageHung(watch, 41.0)
    assert str(hung).startswith("the page stopped answering while watching the app (last seen: state "
                                "'connecting', no error): no answer for 12s")
    assert broken_summary(hung) == "timeout (last seen: state 'connecting', no error)"
    assert broken_summary(RuntimeError("short\nsecond line")) == "short"
    assert len(broken_summary(RuntimeError("x" * 200))) == 60


@needs_chromium
@pytest.mark.browser
def test_matrix_of_a_wrong_message_says_message(project: pytest.Pytester, write_scenario: WriteScenario) -> None:
    """End to end: the right code with a wrong message is 'FAIL message' in the matrix."""
    write_scenario("wrong-message.yaml", """
        name: Wrong message only
        engines: [chromium]
        given:
          permission: {microphone: denied}
        expect:
          outcome: permission-denied
          message: {contains: "a text this app never shows"}
    """)
    result = project.runpytest_subprocess("--mf-matrix")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["Wrong message only  FAIL message"])
