"""The network lab's cases side by side (``--mf-lanes``): under ``-n 2`` they all go to one worker, which runs them
in lane processes at once, and each is reported as if run there: its outcome (passed, failed with its table,
broken with its own error), its steps and evidence in Allure, its own duration in JUnit and Allure, and the
launches of the processes that ran it. With ``--mf-lanes 1`` the worker runs them itself, one at a time."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import BUNDLED_APP, REPO, needs_chromium, run
from tests.test_lab_url import needs_lab

pytestmark = [needs_chromium, needs_lab, pytest.mark.browser]

RELAY = REPO / "scenarios" / "network" / "relay.yaml"
# Two cases of the test's own besides the catalogue's quick relay cases: one the app fails (it reports the relay
# problem, not this code) and one that cannot run (its step names no element a browser can look for).
OWN = """scenarios:
  - name: Wrong code expected
    tags: [network]
    given:
      network: {turn: udp, policy: relay, credentials: wrong}
    expect: {code: no-such-code, within: 8s}
  - name: Step that cannot be done
    tags: [network]
    given:
      network: {turn: udp, policy: relay}
    when: [{click: "button["}]
    expect: {outcome: none, state: connected, within: 15s}
"""
QUICK = "Call forced through the TURN relay", "Corporate firewall blocks UDP, TURN over TCP saves the call", \
    "Wrong TURN credentials"


def _project(pytester: pytest.Pytester) -> None:
    """The bundled app, the catalogue's relay cases and the test's own."""
    (pytester.path / "mediafault.yaml").write_text(f"app:\n  dir: {BUNDLED_APP}\n", encoding="utf-8")
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "relay.yaml").write_text(RELAY.read_text(encoding="utf-8").replace(
        "../../docs/", str(REPO / "docs") + "/"), encoding="utf-8")
    (pytester.path / "scenarios" / "own.yaml").write_text(OWN, encoding="utf-8")


def _junit(path: Path) -> dict[str, tuple[float, dict[str, str], str]]:
    """Test name → (seconds, properties, failure or error text)."""
    out = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        props = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        text = " ".join((n.get("message", "") + (n.text or "")) for n in case if n.tag in ("failure", "error"))
        out[case.get("name", "")] = (float(case.get("time", "0")), props, text)
    return out


def _allure(results: Path) -> dict[str, dict[str, Any]]:
    """Test name → its Allure result."""
    return {r["name"]: r for r in (json.loads(p.read_text(encoding="utf-8")) for p in results.glob("*-result.json"))}


def _step_names(result: dict[str, Any]) -> list[str]:
    """Every step's name, nested ones included."""
    steps, names = list(result.get("steps", [])), []
    while steps:
        step = steps.pop(0)
        names.append(step["name"])
        steps.extend(step.get("steps", []))
    return names


def test_network_cases_run_side_by_side_and_are_reported_as_their_own(pytester: pytest.Pytester) -> None:
    """Three passing cases, a failing and a broken one: each as the report would have it from the worker."""
    _project(pytester)
    result, ended, allure = run(pytester, "lanes", "scenarios", "-n", "2", "--mf-engine", "chromium",
                                "--mf-lanes", "3", "-k", "forced or Corporate or credentials or expected or cannot")
    names = [f"{n}[chromium]" for n in (*QUICK, "Wrong code expected", "Step that cannot be done")]
    assert sorted(ended) == sorted(names), result.stdout.str()
    assert [ended[f"{n}[chromium]"] for n in QUICK] == ["passed"] * 3, result.stdout.str()
    assert ended["Wrong code expected[chromium]"].startswith("failure"), result.stdout.str()
    assert ended["Step that cannot be done[chromium]"].startswith("failure"), result.stdout.str()  # and broken:
    junit = _junit(pytester.path / "junit-lanes.xml")
    failed = junit["Wrong code expected[chromium]"][2]
    assert "no-such-code" in failed and "relay-unreachable" in failed, failed  # the expected-vs-observed table
    broken = junit["Step that cannot be done[chromium]"]
    assert "could not run (HarnessError)" in broken[2] and "button[" in broken[2], broken[2]
    assert broken[1].get("status") == "broken", broken[1]
    # Lane processes ran them: the launches name more than one process.
    pids = {props["launches"].split("=")[0] for _, props, _ in junit.values()}
    assert len(pids) >= 2, pids
    # Each its own duration, as the lane that ran it measured it, the same in both reports: not how long the
    # worker waited (the whole batch for the first case read, nothing for the others). Bounded by the run's own
    # wall time, not by a fixed figure: a failing case runs again with a trace, and a loaded machine is slower.
    results = _allure(allure)
    for name in names:
        seconds = junit[name][0]
        assert 0.3 < seconds < result.duration, (name, seconds, result.duration)
        allure_seconds = (results[name]["stop"] - results[name]["start"]) / 1000
        assert abs(allure_seconds - seconds) < 0.05, (name, allure_seconds, seconds)
        lane_said = [float(m.group(1)) for s in _step_names(results[name])
                     if (m := re.match(r"run side by side .* \(([\d.]+) s\)$", s))]
        assert len(lane_said) == 1 and abs(lane_said[0] - seconds) <= 0.051, (name, lane_said, seconds)
    # Their steps and evidence, as if run in the worker.
    for name in (f"{n}[chromium]" for n in QUICK):
        steps = _step_names(results[name])
        assert any(s.startswith("network lab: ") for s in steps) and any(s.startswith("open ") for s in steps), steps
        assert any(s.startswith("run side by side with the run's other network cases") for s in steps), steps
        kept = {a["name"] for a in results[name].get("attachments", [])}
        assert {"network lab evidence", "time spent (seconds)"} <= kept, kept
    # Under -n 2 one worker had them all (xdist's thread label names the worker).
    threads = {label["value"] for r in results.values() for label in r["labels"] if label["name"] == "thread"}
    assert len(threads) == 1, threads
    assert "Traceback" not in result.stdout.str()


def test_one_lane_runs_them_in_the_worker(pytester: pytest.Pytester) -> None:
    """``--mf-lanes 1``: the worker runs its network cases itself, as before lanes."""
    _project(pytester)
    result, ended, allure = run(pytester, "one", "scenarios", "--mf-engine", "chromium", "--mf-lanes", "1",
                                "-k", "credentials or forced")
    assert sorted(ended.values()) == ["passed", "passed"], result.stdout.str()
    pids = {props["launches"].split("=")[0] for _, props, _ in _junit(pytester.path / "junit-one.xml").values()}
    assert len(pids) == 1, pids
    for outcome in _allure(allure).values():
        assert not any(s.startswith("run side by side") for s in _step_names(outcome))
