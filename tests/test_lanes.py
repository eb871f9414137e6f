"""Lanes (harness.run.batch): a batch's cases run side by side in processes of their own, with the outcomes they
would have had here, a failure's evidence included; a lane that dies costs time, not a
result; a launch in this process never takes a lane's browsers for its own; an interrupted run leaves no
lane, lab or browser behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.app.config import Surface
from harness.app.profiles import get_profile
from harness.core import procs
from harness.reproduce.netlab.lab import userns_available
from harness.run.batch import Batch, CaseOutcome, Lane, Lanes, run_batch, run_batches
from harness.run.pool import BrowserPool
from harness.run.target import AppTarget
from harness.scenario.loader import load_paths
from tests.conftest import BUNDLED_APP, REPO, needs_chromium

needs_lab = pytest.mark.skipif(os.geteuid() != 0 and not userns_available(),
                               reason="the network lab needs root or unprivileged user namespaces")

# Two that pass within seconds, and one the app cannot meet (the call connects; it expects a relay failure):
# the failed verdict and its table must come back from whichever lane ran it.
CASES = """scenarios:
  - name: Relay over UDP
    engines: [chromium]
    given: {network: {turn: udp, policy: relay}}
    expect: {outcome: none, state: connected, connection: {candidate: relay, relay_protocol: udp}, within: 15s}
  - name: Relay over TCP
    engines: [chromium]
    given: {network: {turn: tcp, policy: relay, udp: blocked}}
    expect: {outcome: none, state: connected, connection: {candidate: relay, relay_protocol: tcp}, within: 15s}
  - name: Expects a failure that does not come
    engines: [chromium]
    given: {network: {turn: udp, policy: relay}}
    expect: {outcome: relay-unreachable, within: 4s}
  - name: Denied microphone, no lab
    engines: [chromium]
    given: {permission: {microphone: denied}}
    expect: {outcome: permission-denied}
"""
EXPECTED = {"Relay over UDP": "passed", "Relay over TCP": "passed", "Expects a failure that does not come": "failed",
            "Denied microphone, no lab": "passed"}


# Ctrl-C as a terminal delivers it: a CI job runner may start the suite with SIGINT ignored, which its children
# inherit and which would make Python ignore the signal these tests send.
TERMINAL = ("import signal, sys\nsignal.signal(signal.SIGINT, signal.default_int_handler)\n"
            "from harness.cli.main import main\nsys.exit(main(sys.argv[1:]))\n")


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its parent does not)."""
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return False


def _netns() -> set[str]:
    return set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout.split())


def _batch(tmp_path: Path, lanes: int | Lanes, pool: BrowserPool | None = None) -> list[CaseOutcome]:
    (tmp_path / "cases.yaml").write_text(CASES, encoding="utf-8")
    scenarios, errors = load_paths([tmp_path / "cases.yaml"])
    assert not errors
    own = pool is None
    pool = pool or BrowserPool()
    target = AppTarget(None, BUNDLED_APP, Surface().telemetry, profile_params=True)
    try:
        return run_batch(scenarios, ["chromium"], target, Surface(), get_profile("generic"), pool, lanes)
    finally:
        target.stop()
        pool.discard_lab_browsers()
        if own:
            pool.close()


def _check(outcomes: list[CaseOutcome]) -> None:
    assert {o.plan.source.scenario.name: o.status for o in outcomes} == EXPECTED, \
        [(o.plan.name, o.status, o.detail) for o in outcomes]
    (failed,) = [o for o in outcomes if o.status == "failed"]
    assert failed.result is not None and "relay-unreachable" in failed.result.verdict.table()
    assert failed.detail == failed.result.verdict.category


@needs_lab
@needs_chromium
@pytest.mark.browser
def test_lab_cases_run_in_lanes_with_the_outcomes_they_have_here(tmp_path: Path) -> None:
    """Four cases (three in the lab) on two lanes: the lane process ran some, this process the others; every
    outcome is what the case gives (the same statuses as one after the other, the failure with its verdict
    table); the lane and its lab are gone afterwards."""
    outcomes = _batch(tmp_path, lanes=2)
    _check(outcomes)
    lanes = {o.lane for o in outcomes}
    assert len(lanes) == 2 and 0 in lanes, [(o.plan.name, o.lane) for o in outcomes]
    (lane,) = lanes - {0}
    assert not _alive(lane)
    if os.geteuid() == 0:
        assert not {f"mf{lane:x}c", f"mf{lane:x}s"} & _netns()


@needs_lab
@needs_chromium
@pytest.mark.browser
def test_a_lane_that_dies_leaves_its_cases_to_this_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lane process that exits at once (as one that crashes would): every case still runs, here, with the
    same outcomes."""
    monkeypatch.setattr(Lane, "command", (sys.executable, "-c", "import sys; sys.exit(3)"))
    outcomes = _batch(tmp_path, lanes=3)
    _check(outcomes)
    assert all(o.lane == 0 for o in outcomes)


@needs_lab
@needs_chromium
@pytest.mark.browser
def test_kept_lanes_serve_the_next_batch_with_the_browsers_they_have(tmp_path: Path) -> None:
    """One set of lanes for two batches (two apps, as ``variants`` runs them): the same lane process runs
    cases of both with the same outcomes; the browser it started outside the lab in the first is the one it
    uses in the second (no new launch); its lab goes with each batch; after close() nothing of it is left."""
    pool = BrowserPool()
    lanes = Lanes(2)
    try:
        first = _batch(tmp_path, lanes, pool)
        _check(first)
        (lane,) = {o.lane for o in first} - {0}
        kept = procs.descendants(lane)
        assert kept, "the lane keeps no browser between batches"
        if os.geteuid() == 0:
            assert not {f"mf{lane:x}c", f"mf{lane:x}s"} & _netns(), "the first batch's lab outlived it"
        second = _batch(tmp_path, lanes, pool)
        _check(second)
        assert {o.lane for o in second} - {0} == {lane}, [(o.plan.name, o.lane) for o in second]
        assert kept <= procs.descendants(lane), "the lane's browser was started again"
    finally:
        lanes.close()
        pool.close()
    assert not _alive(lane)
    deadline = time.monotonic() + 20
    while left := {pid for pid in kept if _alive(pid)}:  # a browser's helpers exit just after it
        assert time.monotonic() < deadline, f"left behind by the lane: {_commands(left)}"
        time.sleep(0.2)  # test-side polling of an external fact


def _commands(pids: set[int]) -> list[str]:
    """What each of ``pids`` runs (for a message)."""
    out = []
    for pid in sorted(pids):
        try:
            out.append(f"{pid}: " + Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:200])
        except OSError:
            out.append(f"{pid}: gone")
    return out


@needs_lab
@needs_chromium
@pytest.mark.browser
def test_batches_run_together_give_each_its_own_outcomes(tmp_path: Path) -> None:
    """Two apps' batches in one run (each lane goes on to the second while the first's last cases finish):
    each batch's outcomes are its own, the lane ran cases of both, and no lab is left."""
    (tmp_path / "cases.yaml").write_text(CASES, encoding="utf-8")
    scenarios, errors = load_paths([tmp_path / "cases.yaml"])
    assert not errors
    targets = [AppTarget(None, BUNDLED_APP, Surface().telemetry, profile_params=True) for _ in range(2)]
    pool = BrowserPool()
    try:
        results = run_batches([Batch(scenarios[::-1] if n else scenarios, ["chromium"], target, Surface(),
                                     get_profile("generic")) for n, target in enumerate(targets)], pool, lanes=2)
    finally:
        for target in targets:
            target.stop()
        pool.close()
    assert len(results) == 2
    for outcomes in results:
        _check(outcomes)
    ran = [{o.lane for o in outcomes} - {0} for outcomes in results]
    assert ran[0] and ran[0] == ran[1], ran
    (lane,) = ran[0]
    if os.geteuid() == 0:
        assert not {f"mf{lane:x}c", f"mf{lane:x}s", f"mf{os.getpid():x}c", f"mf{os.getpid():x}s"} & _netns()


def test_a_launch_here_does_not_count_what_a_lane_started() -> None:
    """What a child kept apart starts below itself is not counted as started here; without keep_apart it is
    (so the first assertion shows the check can fail)."""
    script = "import subprocess, sys; p = subprocess.Popen(['sleep', '30']); print(p.pid, flush=True); p.wait()"
    before = procs.descendants()
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        grandchild = int(child.stdout.readline())
        assert grandchild in procs.started_by(before)
        procs.keep_apart(child.pid)
        assert grandchild not in procs.started_by(before)
        procs.rejoin(child.pid)
        assert grandchild in procs.started_by(before)
    finally:
        procs.rejoin(child.pid)
        procs.kill_tree({child.pid})
        child.wait()


@pytest.mark.skipif(os.geteuid() != 0, reason="checks the lanes' named namespaces (root)")
@needs_chromium
@pytest.mark.browser
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupted_variants_leave_no_lane_lab_or_browser(sig: signal.Signals) -> None:
    """``mediafault variants`` stopped while its lanes wait in their labs (SIGTERM to it alone, as a job runner
    sends it; SIGINT as a terminal's Ctrl-C, to the whole group): every lane, its lab and its browser go."""
    proc = subprocess.Popen([sys.executable, "-c", TERMINAL, "variants", "ignores-call-quality", "--lanes", "3"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, process_group=0,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 120
    lanes: set[int] = set()
    while len(lanes) < 2:  # both lanes have a lab up
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the lanes' labs never came up"
        below = procs.children(proc.pid)
        lanes = {pid for pid in below if f"mf{pid:x}c" in _netns()}
        time.sleep(0.2)  # test-side polling of an external fact
    everything = procs.descendants(proc.pid)
    if sig == signal.SIGINT:
        os.killpg(proc.pid, sig)
    else:
        proc.send_signal(sig)
    output, _ = proc.communicate(timeout=90)
    assert proc.returncode == 130, output
    assert "interrupted; browsers and servers were stopped" in output
    assert "Traceback" not in output
    deadline = time.monotonic() + 20
    while True:  # the reapers may still be finishing
        left = {f"mf{pid:x}{end}" for pid in lanes | {proc.pid} for end in "cs"} & _netns()
        alive = {pid for pid in everything if _alive(pid)}
        if not left and not alive:
            break
        assert time.monotonic() < deadline, f"left behind: namespaces {left}, processes {alive}\n{output}"
        time.sleep(0.2)  # test-side polling of an external fact


def test_an_interrupt_a_call_swallowed_still_stops_the_batch_at_the_next_case() -> None:
    """Ctrl-C that lands inside a Playwright call can end as that call's failure (the terminal's Ctrl-C kills
    the driver too), with no KeyboardInterrupt reaching the harness: the next case must not start."""
    script = ("import os, signal\n"
              "signal.signal(signal.SIGINT, signal.default_int_handler)  # see TERMINAL\n"
              "from harness.core import procs\n"
              "from harness.run.batch import run_one\n"
              "procs.stop_on_signals()\n"
              "try:\n"
              "    os.kill(os.getpid(), signal.SIGINT)\n"
              "except KeyboardInterrupt:\n"
              "    pass  # as a Playwright call would swallow it\n"
              "try:\n"
              "    run_one(None, None, None, None)  # type: ignore[arg-type]\n"
              "except KeyboardInterrupt:\n"
              "    print('stopped')\n"
              "else:\n"
              "    print('went on')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.stdout.strip() == "stopped", done.stdout + done.stderr
