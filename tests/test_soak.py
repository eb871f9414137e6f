"""The soak run: repetitions read back from JUnit XML, flaky cases found and reported."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.report.flakes import Soak, read_junit
from tests.conftest import REPO, needs_chromium

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="scenarios.a" name="Steady[chromium]"/>
<testcase classname="scenarios.a" name="Wobbly[chromium]">{wobbly}</testcase>
<testcase classname="scenarios.a" name="Unsupported[webkit]"><skipped message="unsupported"/></testcase>
<testcase classname="scenarios.a" name="Hung[chromium]">
  <failure message="x could not run (EnvironmentProblem)"/></testcase>
</testsuite></testsuites>"""


def _soak(tmp_path: Path, wobbles: list[str]) -> Soak:
    soak = Soak()
    for i, wobbly in enumerate(wobbles):
        path = tmp_path / f"junit-{i}.xml"
        path.write_text(JUNIT.format(wobbly=wobbly), encoding="utf-8")
        soak.runs.append(read_junit(path))
    return soak


def test_a_case_whose_outcome_changes_is_flaky(tmp_path: Path) -> None:
    soak = _soak(tmp_path, ["", '<failure message="wrong code"/>', ""])
    assert list(soak.flaky()) == ["scenarios.a::Wobbly[chromium]"]
    assert soak.flaky()["scenarios.a::Wobbly[chromium]"] == {"passed": 2, "failed": 1}
    assert soak.always_failing() == ["scenarios.a::Hung[chromium]"]
    text = soak.markdown()
    assert "# Soak: 3 repetitions of 4 cases" in text
    assert "1 flaky, 1 failing every time, 1 passing every time, 1 skipped every time." in text
    assert "| Wobbly[chromium] | 2× passed, 1× failed |" in text


def test_steady_outcomes_are_not_flaky(tmp_path: Path) -> None:
    soak = _soak(tmp_path, ["", ""])
    assert not soak.flaky()
    assert "0 flaky" in soak.markdown()


@needs_chromium
@pytest.mark.browser
def test_repeat_runs_every_repetition_and_writes_the_report(tmp_path: Path) -> None:
    """`mediafault run --repeat 2`: two JUnit files, a flakes.md that counts both, exit 0 when steady."""
    proc = subprocess.run([sys.executable, "-m", "harness.cli.main", "run", str(REPO / "scenarios" / "permission"
                                                                           / "denied.yaml"),
                           "--engine", "chromium", "--repeat", "2", "--reports", str(tmp_path / "reports")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "--- repetition 2 of 2" in proc.stdout
    assert sorted(p.name for p in (tmp_path / "reports" / "repeat").iterdir()) == ["junit-1.xml", "junit-2.xml"]
    flakes = (tmp_path / "reports" / "flakes.md").read_text(encoding="utf-8")
    assert "# Soak: 2 repetitions of 1 cases" in flakes and "0 flaky" in flakes


@pytest.mark.parametrize(("ignored", "sent", "expected"), [
    (False, "SIGTERM", "(-15, <Signals.SIGTERM: 15>)"),
    # A job a script put in the background ignores SIGINT, and so does the repetition it starts: the soak must
    # not report a stop that never happened (it did, and then ran the whole repetition on).
    (True, "SIGINT", "(0, None)"),
])
def test_a_soak_passes_on_the_signals_its_repetition_obeys(ignored: bool, sent: str, expected: str) -> None:
    """The signal a soak receives goes on to the running repetition; one the soak ignores stays ignored."""
    child = f"import os, signal; os.kill(os.getppid(), signal.{sent}); signal.pause() if not {ignored} else None"
    script = ("import signal, sys\n"
              + (f"signal.signal(signal.{sent}, signal.SIG_IGN)\n" if ignored else "")
              + "from harness.cli.running import _run_forwarding_signals\n"
              + f"print(_run_forwarding_signals([sys.executable, '-c', {child!r}]))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert done.stdout.strip() == expected, done.stdout + done.stderr
