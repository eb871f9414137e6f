"""Two CI jobs often share a runner: two ``mediafault run`` started together in different checkouts, with
network scenarios, must not collide (lab namespaces and addresses, ports, displays, the stale-lab clean-up,
each run's reports)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import REPO, needs_chromium

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the network lab's named namespaces need root")

# The first run's slow case keeps its lab up (ICE gives up after about 15 s) while the second run starts
# its own lab, whose start removes stale labs: it must leave the first run's live lab alone.
FIRST = """scenarios:
  - name: First run, no way through
    engines: [chromium]
    given: {network: {turn: none, udp: blocked}}
    expect: {outcome: media-connection-failed, within: 30s}
  - name: First run, relay
    engines: [chromium]
    given: {network: {turn: udp, policy: relay}}
    expect: {state: connected, within: 15s}
"""
SECOND = """scenarios:
  - name: Second run, relay
    engines: [chromium, firefox]
    given: {network: {turn: udp, policy: relay}}
    expect: {state: connected, within: 15s}
  - name: Second run, denied microphone
    engines: [chromium, firefox, webkit]
    given: {permission: {microphone: denied}}
    expect: {outcome: permission-denied, within: 5s}
"""


def _netns() -> set[str]:
    return set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout.split())


def _start(checkout: Path, text: str, *args: str) -> subprocess.Popen[str]:
    (checkout / "scenarios").mkdir(parents=True)
    (checkout / "scenarios" / "network.yaml").write_text(text, encoding="utf-8")
    return subprocess.Popen([sys.executable, "-m", "harness.cli.main", "run", "scenarios", "--reports", "reports",
                             *args],
                            cwd=checkout, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})


def _cases(checkout: Path) -> dict[str, str]:
    """Each case of the run's JUnit XML with its outcome."""
    junit = ET.parse(checkout / "reports" / "junit.xml").getroot()
    return {case.get("name", ""): "failed" if case.find("failure") is not None
            else "skipped" if case.find("skipped") is not None else "passed" for case in junit.iter("testcase")}


@needs_root
@needs_chromium
@pytest.mark.browser
def test_two_runs_at_once_do_not_collide(tmp_path: Path) -> None:
    """The second run starts while the first one's lab is up; both pass, each with its own reports."""
    # The first run's cases one after the other, so its lab outlives the slow one (side by side in lanes, both
    # end with it, and the window for the second run closes); the second run has its default lanes.
    first = _start(tmp_path / "one", FIRST, "--lanes", "1")
    lab = {f"mf{first.pid:x}c", f"mf{first.pid:x}s"}
    deadline = time.monotonic() + 120
    while not lab <= _netns():  # wait (bounded) for the first run's lab, then start the second run
        assert first.poll() is None, first.communicate()[0]
        assert time.monotonic() < deadline, "the first run's lab never came up"
        time.sleep(0.2)  # test-side polling of an external fact; the harness itself never sleeps
    second = _start(tmp_path / "two", SECOND)
    second_lab = {f"mf{second.pid:x}c", f"mf{second.pid:x}s"}
    seen_together = False
    while first.poll() is None or second.poll() is None:
        live = _netns()
        seen_together = seen_together or (lab | second_lab) <= live
        assert time.monotonic() < deadline + 300, "the runs did not end"
        time.sleep(0.2)
    out_first, out_second = first.communicate()[0], second.communicate()[0]
    assert first.returncode == 0, out_first
    assert second.returncode == 0, out_second
    assert seen_together, "the two labs never ran at the same time: the test proved nothing"
    assert set(_cases(tmp_path / "one")) == {"First run, no way through[chromium]", "First run, relay[chromium]"}
    second_cases = _cases(tmp_path / "two")
    assert {name for name, outcome in second_cases.items() if outcome == "passed"} >= {
        "Second run, relay[chromium]", "Second run, relay[firefox]", "Second run, denied microphone[chromium]"}
    assert not (lab | second_lab) & _netns(), "a lab outlived its run"
