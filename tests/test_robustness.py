"""Interrupting a run leaves nothing behind, and a lab left by a killed run is removed at the next start."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from harness.reproduce.netlab.lab import cleanup_stale
from tests.conftest import REPO, bundled_app_by_url, needs_chromium

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="named-namespace labs (the mode these tests check) need root")


def _netns() -> set[str]:
    return set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout.split())


def _processes_with(text: str) -> list[str]:
    out = subprocess.run(["ps", "-eww", "-o", "pid,args"], capture_output=True, text=True, check=False).stdout
    return [line for line in out.splitlines() if text in line and "ps -eww" not in line]


def _lab_processes(tag: str) -> list[str]:
    """Processes of the lab ``tag`` (mf<hex PID>), told apart from a lab of another run whose PID begins
    with the same digits: the tag ends there, or goes on only as a namespace or link name (mf1a2c, mf1a2s0)."""
    whole = re.compile(re.escape(tag) + r"(?:[cs]\d?)?(?![0-9a-z])")
    return [line for line in _processes_with(tag) if whole.search(line)]


@needs_root
def test_stale_lab_from_a_killed_run_is_removed() -> None:
    """Namespaces named after a process that no longer exists are deleted by the next lab."""
    dead = 0x3FFFFE  # above pid_max on Linux, so no live process can own it
    names = [f"mf{dead:x}c", f"mf{dead:x}s"]
    for name in names:
        subprocess.run(["ip", "netns", "add", name], check=True)
    removed = cleanup_stale()
    assert set(names) <= set(removed)
    assert not set(names) & _netns()


@needs_root
@needs_chromium
@pytest.mark.browser
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_interrupt_mid_run_leaves_nothing_behind(tmp_path: Path, sig: signal.Signals) -> None:
    """Stop a network run in the middle of its slow case: no namespace, server or browser survives it."""
    scenario = tmp_path / "scenarios" / "slow.yaml"
    scenario.parent.mkdir()
    scenario.write_text("name: Slow network case\nengines: [chromium]\ngiven:\n  network: {turn: none, udp: blocked}\n"
                        "expect:\n  outcome: media-connection-failed\n  within: 30s\n", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli.main", "run", str(scenario), "--reports",
                             str(tmp_path / "reports")], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    tag = f"mf{proc.pid:x}"
    deadline = time.monotonic() + 60
    # Wait (bounded) until the lab is up with its servers (the peer and coturn), then interrupt.
    while not ({f"{tag}c", f"{tag}s"} <= _netns() and len(_lab_processes(tag)) >= 2):
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the lab never came up"
        time.sleep(0.2)  # test-side polling of an external fact; the harness itself never sleeps
    proc.send_signal(sig)
    output, _ = proc.communicate(timeout=60)
    assert not {f"{tag}c", f"{tag}s"} & _netns(), output
    assert not _lab_processes(tag), output
    assert "Traceback" not in output


@needs_root
@needs_chromium
@pytest.mark.browser
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["SIGINT", "SIGKILL"])
def test_app_url_forwarder_goes_with_an_interrupted_run(tmp_path: Path, sig: signal.Signals) -> None:
    """With app.url the lab also runs a forwarder in the browser's namespace: Ctrl-C, or SIGKILL (no cleanup
    of the run's own; its reaper's), leaves no namespace, forwarder, server or lab directory behind."""
    scenario = tmp_path / "scenarios" / "slow.yaml"
    scenario.parent.mkdir()
    scenario.write_text("name: Slow network case\nengines: [chromium]\ngiven:\n  network: {turn: none, udp: blocked}\n"
                        "expect:\n  outcome: media-connection-failed\n  within: 30s\n", encoding="utf-8")
    with bundled_app_by_url() as url:
        proc = subprocess.Popen([sys.executable, "-m", "harness.cli.main", "run", str(scenario), "--app-url", url,
                                 "--reports", str(tmp_path / "reports")], cwd=tmp_path, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        tag = f"mf{proc.pid:x}"
        deadline = time.monotonic() + 60
        # Wait (bounded) until the forwarder runs (after the peer and coturn), then interrupt.
        while not [line for line in _lab_processes(tag) if "--forward" in line]:
            assert proc.poll() is None, proc.communicate()[0]
            assert time.monotonic() < deadline, "the forwarder never came up"
            time.sleep(0.2)  # test-side polling of an external fact; the harness itself never sleeps
        proc.send_signal(sig)
        output, _ = proc.communicate(timeout=60)
    assert _gone(tag, within=20), f"lab {tag} left behind after {sig.name}:\n{output}"
    assert not list(Path(tempfile.gettempdir()).glob(f"mediafault-lab-{tag}-*")), output
    assert "Traceback" not in output


SLOW_PAIR = """scenarios:
  - name: Slow network case one
    engines: [chromium]
    given: {network: {turn: none, udp: blocked}}
    expect: {outcome: media-connection-failed, within: 30s}
  - name: Slow network case two
    engines: [chromium]
    given: {network: {turn: none, udp: blocked}}
    expect: {outcome: media-connection-failed, within: 30s}
"""


def _lab_owned_below(root: int) -> str | None:
    """The tag of a lab, with its servers up, made by a process below ``root`` (None if there is none yet)."""
    from harness.core.procs import descendants

    below = descendants(root)
    for name in _netns():
        if name.endswith("c") and name.startswith("mf") and int(name[2:-1], 16) in below:
            tag = name[:-1]
            if len(_lab_processes(tag)) >= 2:  # the peer and coturn run
                return tag
    return None


def _gone(tag: str, within: float) -> bool:
    """Whether the lab ``tag`` and every process of it are gone, waiting (bounded) for the reaper."""
    deadline = time.monotonic() + within
    while {f"{tag}c", f"{tag}s"} & _netns() or _lab_processes(tag):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)  # test-side polling of an external fact
    return True


@needs_root
@needs_chromium
@pytest.mark.browser
@pytest.mark.parametrize(("how", "args"), [("killed worker", ["-n", "2", "--lanes", "1"]),
                                           ("SIGTERM to a parallel run", ["-n", "2"]),
                                           ("SIGTERM to a soak", ["--repeat", "2", "-n", "2"])])
def test_parallel_run_stopped_abruptly_leaves_nothing_behind(tmp_path: Path, how: str, args: list[str]) -> None:
    """A worker killed with SIGKILL (no cleanup of its own: its reaper removes the lab and servers), and
    SIGTERM sent to the run's own process only (as job runners do): nothing of the lab survives. The killed
    worker runs its case itself (one lane): a lane that dies is another story, told in test_lanes.py."""
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "slow.yaml").write_text(SLOW_PAIR, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli.main", "run", "scenarios", *args, "--reports",
                             str(tmp_path / "reports")], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 90
    tag = None
    while tag is None:
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "no lab came up"
        tag = _lab_owned_below(proc.pid)
        time.sleep(0.2)  # test-side polling of an external fact
    if how == "killed worker":
        os.kill(int(tag[2:], 16), signal.SIGKILL)
    else:
        proc.send_signal(signal.SIGTERM)
    output, _ = proc.communicate(timeout=180)
    assert _gone(tag, within=20), f"lab {tag} left behind after {how}:\n{output}"
    # The owner's PID is the reaper's last argument; matched whole, as a reaper of another run (owner 16540)
    # holds this owner's digits (1654) too.
    reapers = [line for line in _processes_with("harness.core.reaper --owner")
               if line.split()[-1] == str(int(tag[2:], 16))]
    assert not reapers, "a reaper outlived its worker"
    if how == "killed worker":
        assert proc.returncode == 1, output
        # The crashed case is in the matrix as broken; the other case still ran.
        assert re.search(r"Slow network case \w+ +BROKEN .*its worker crashed", output), output
        assert re.search(r"Slow network case \w+ +pass", output), output
    else:
        assert proc.returncode != 0, output
        assert "warnings summary" not in output, output  # pytest's own, about how harness was imported
        if how == "SIGTERM to a parallel run":
            assert re.search(r"mediafault: interrupted after \d+ case\(s\)", output), output
        assert "Traceback" not in output
    if "--repeat" in args:
        assert "the soak stopped at repetition 1 on signal SIGTERM" in output


WEBKIT_WAITS = """scenarios:
  - name: Waits on WebKit one
    engines: [webkit]
    given: {permission: {microphone: prompt}}
    expect: {outcome: none, state: requesting, within: 5s, hold: 25s}
  - name: Waits on WebKit two
    engines: [webkit]
    given: {permission: {microphone: prompt}}
    expect: {outcome: none, state: requesting, within: 5s, hold: 25s}
"""


def _webkit_available() -> bool:
    from harness.reproduce.engines import pick_route

    route, _ = pick_route("webkit", None, None)
    return route is not None and route.name == "selenium-webkitgtk"


@pytest.mark.browser
@pytest.mark.skipif(not _webkit_available(),
                    reason="needs the WebKitGTK route (apt-get install webkit2gtk-driver xvfb)")
def test_killed_worker_leaves_no_display_driver_or_browser(tmp_path: Path) -> None:
    """The WebKit route's Xvfb, WebKitWebDriver and MiniBrowser run in sessions of their own, so a worker
    killed outright would leave them running; its reaper removes them."""
    from harness.core.procs import _below, _parents, descendants

    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "wait.yaml").write_text(WEBKIT_WAITS, encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli.main", "run", "scenarios", "-n", "2", "--reports",
                             str(tmp_path / "reports")], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    deadline = time.monotonic() + 90
    worker, started = 0, set()
    while not worker:
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "no WebKit session came up"
        # One snapshot for both: a MiniBrowser started between two would have no parent in the first, and
        # would be taken for the worker itself.
        parents = _parents()
        for pid in _below(proc.pid, parents):
            with contextlib.suppress(OSError):
                if "MiniBrowser" in Path(f"/proc/{pid}/cmdline").read_text():
                    up = pid
                    while parents[up] != proc.pid:
                        up = parents[up]
                    worker = up
        time.sleep(0.2)  # test-side polling of an external fact
    started = descendants(worker)  # Xvfb, WebKitWebDriver, MiniBrowser and WebKit's helper processes
    names = {Path(f"/proc/{pid}/exe").resolve().name for pid in started if Path(f"/proc/{pid}").exists()}
    assert {"Xvfb", "WebKitWebDriver", "MiniBrowser"} <= names, names
    os.kill(worker, signal.SIGKILL)
    output, _ = proc.communicate(timeout=180)
    deadline = time.monotonic() + 20
    while [p for p in started if Path(f"/proc/{p}").exists()] and time.monotonic() < deadline:
        time.sleep(0.2)  # test-side polling of an external fact
    left = []
    for pid in started:
        with contextlib.suppress(OSError):
            left.append(Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ").strip())
    assert not left, f"left running after the worker was killed: {left}\n{output}"
    assert re.search(r"Waits on WebKit \w+ +BROKEN .*its worker crashed", output), output


# It freezes 1 s after the click, so the watch has read 'calling' first (the message must say what it last saw):
# at 100 ms, CI once froze it before the first read on a loaded machine ("nothing read from the page yet").
HUNG_APP = """<!doctype html><title>hangs</title>
<div id="status" data-state="idle">idle</div>
<button id="call" onclick="document.getElementById('status').dataset.state = 'calling';
  setTimeout(() => { while (true) {} }, 1000)">Call</button>
"""


@needs_chromium
@pytest.mark.browser
def test_hung_page_is_killed_and_the_next_case_runs(pytester: pytest.Pytester) -> None:
    """An app that freezes its page: the case is broken after its timeout, saying where it was and what it
    last saw; its browser is killed by PID and the next case gets a new one."""
    pytester.makefile(".ini", pytest="[pytest]\naddopts = -p no:cacheprovider\n")
    (pytester.path / "app").mkdir()
    (pytester.path / "app" / "index.html").write_text(HUNG_APP, encoding="utf-8")
    pytester.makefile(".yaml", mediafault="app:\n  dir: app\n")
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "hang.yaml").write_text(
        "scenarios:\n"
        "  - name: App freezes after the click\n    engines: [chromium]\n"
        "    expect: {code: x, message: y, within: 2s}\n"
        "  - name: Next case still runs\n    engines: [chromium]\n    when: []\n"
        "    expect: {state: idle, within: 3s}\n", encoding="utf-8")
    started = time.monotonic()
    result = pytester.runpytest_subprocess("scenarios", "--mf-case-timeout", "10", "-p", "no:randomly",
                                           "--junitxml", "junit.xml")
    result.assert_outcomes(passed=1, failed=1)
    # Found when the watch's own bound ends (within 2 s + grace 2 s + slack), before the case's 10 s budget.
    result.stdout.fnmatch_lines(["*App freezes after the click[[]chromium[]] could not run (PageHung): the page "
                                 "stopped answering while watching the app (last seen: state 'calling', no "
                                 "error): no answer for *s*the browser was killed*"])
    assert time.monotonic() - started < 90
    junit = (pytester.path / "junit.xml").read_text(encoding="utf-8")
    assert "stopped answering" in junit
    assert not _orphan_browsers(time.monotonic() - started), "a browser of the run survived it"


def _orphan_browsers(younger_than: float) -> list[str]:
    """Live browser processes re-parented to init that started within the last ``younger_than`` seconds
    (a killed one that init has not reaped yet is a zombie, not a browser left running)."""
    out = subprocess.run(["ps", "-eww", "-o", "ppid=,etimes=,stat=,args="], capture_output=True, text=True,
                         check=False).stdout
    found = []
    for line in out.splitlines():
        ppid, age, stat, args = line.split(None, 3)
        if ppid == "1" and int(age) <= younger_than and not stat.startswith("Z") and "chrome_crashpad" not in args and (
                "chromium" in args.split()[0] or "chrome" in args.split()[0]):
            found.append(line)
    return found


def _holders() -> list[str]:
    return [line for line in _processes_with(" infinity") if line.split()[1].startswith("mf")]


@pytest.mark.skipif(not __import__("harness.reproduce.netlab.lab", fromlist=["x"]).userns_available(),
                    reason="unprivileged user namespaces are not allowed here")
def test_stale_rootless_lab_from_a_killed_run_is_removed() -> None:
    """A rootless lab lives as long as its holder processes; holders of a dead run are killed at the next start."""
    name = f"mf{0x3FFFFD:x}s"  # above pid_max: its owner cannot be alive
    code = f"import os; os.execvp('sleep', [{name!r}, 'infinity'])"
    holder = subprocess.Popen(["unshare", "-Urn", sys.executable, "-c", code], start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not any(name in line for line in _holders()):
            assert time.monotonic() < deadline, "the holder never started"
            time.sleep(0.05)  # test-side polling of an external fact
        assert name in cleanup_stale()
        assert holder.wait(timeout=10) == -signal.SIGKILL
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=10)


@needs_chromium
@pytest.mark.browser
@pytest.mark.skipif(not __import__("harness.reproduce.netlab.lab", fromlist=["x"]).userns_available(),
                    reason="unprivileged user namespaces are not allowed here")
def test_rootless_lab_runs_network_cases_and_leaves_nothing(pytester: pytest.Pytester,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The user-namespace lab (what a non-root user gets; forced here with MEDIAFAULT_LAB=userns): a call
    through TURN over TCP with UDP blocked connects, in Chromium and Firefox, and no holder, namespace or
    server survives the run."""
    monkeypatch.setenv("MEDIAFAULT_LAB", "userns")
    pytester.makefile(".ini", pytest="[pytest]\naddopts = -p no:cacheprovider\n")
    before = _netns()
    result = pytester.runpytest_subprocess(str(REPO / "scenarios" / "network" / "relay.yaml"), "-k",
                                           "Corporate", "--mf-engine", "chromium", "--mf-engine", "firefox",
                                           "-p", "no:randomly")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed") == 2 or outcomes == {"passed": 1, "skipped": 1}, result.stdout.str()
    assert _netns() == before  # rootless labs never create named namespaces
    assert not _orphans(_holders() + _processes_with("harness.reproduce.netlab.peer") + _processes_with("turnserver"))


# A server that hangs at its first start and is ready at the next one, as coturn once did in CI: the first
# start writes its PID into the marker file and then says nothing.
HANGS_ONCE = """
import os, sys, time
marker = sys.argv[1]
if not os.path.exists(marker):
    open(marker, "w").write(str(os.getpid()))
    print("starting", flush=True)
    time.sleep(3600)
print("ready", flush=True)
"""


@pytest.mark.skipif(os.geteuid() != 0 and not __import__("harness.reproduce.netlab.lab", fromlist=["x"])
                    .userns_available(), reason="no network lab is possible here (neither root nor user namespaces)")
def test_a_lab_server_that_hangs_as_it_starts_is_stopped_and_started_again(tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A server given ``restart_after`` that is not ready in that time is stopped (the hung process is gone)
    and started once more, and its output says so; one that hangs again fails with both starts in the
    message, and the lab stops cleanly either way."""
    from harness.core.errors import EnvironmentProblem
    from harness.reproduce.netlab import lab as lab_module

    lab = lab_module.NetLab(None)
    lab.start()
    try:
        marker = tmp_path / "first-pid"
        lines = lab._spawn([sys.executable, "-c", HANGS_ONCE, str(marker)], "ready", restart_after=1.0)
        assert lines == ["ready"], lines
        note = lab.turn_log(len(lab.turn_lines))  # what each case's evidence shows, whatever it is given
        assert len(note) == 1 and note[0].startswith("mediafault: a first start hung and was stopped, then made "
                                                     "again"), note
        assert "did not start in the lab within 1s: starting" in note[0], note
        first = int(marker.read_text())
        assert not Path(f"/proc/{first}").exists(), "the hung first start was left running"

        monkeypatch.setattr(lab_module, "START_TIMEOUT", 1.5)
        always = tmp_path / "never-removed"
        always.write_text("0")
        hangs = [sys.executable, "-c", HANGS_ONCE.replace("not os.path.exists(marker)", "True"), str(always)]
        with pytest.raises(EnvironmentProblem, match=r"within 1.5s: starting \(that was a second start: the "
                                                     r"first had hung for 1s\)$"):
            lab._spawn(hangs, "ready", restart_after=1.0)
    finally:
        lab.stop()
    assert not _processes_with(str(always)), "a hung start outlived the lab"


def _orphans(lines: list[str]) -> list[str]:
    """Lab processes whose run (the PID in their lab tag, mf<hex>) is gone; other runs may be live."""
    out = []
    for line in lines:
        tag = re.search(r"mf([0-9a-f]+)", line)
        if tag and not Path(f"/proc/{int(tag.group(1), 16)}").exists():
            out.append(line)
    return out


def test_without_root_or_user_namespaces_network_cases_skip_with_the_reason() -> None:
    """No lab is possible: network conditions (and a mid-call drop) are unsupported, never run half-way."""
    from harness.reproduce.conditions import Fidelity, Host, resolve_value

    nowhere = Host(namespaces=False)
    for condition, value in (("network", "turn=tcp policy=relay udp=blocked credentials=valid"),
                             ("during.drop-network", "after call-connected")):
        for engine in ("chromium", "firefox"):
            mech = resolve_value(engine, condition, value, nowhere)
            assert mech.fidelity is Fidelity.unsupported
            assert "needs root or unprivileged user namespaces" in mech.how
        assert resolve_value("chromium", condition, value, Host()).fidelity is Fidelity.native


def test_an_interrupted_playwright_call_prints_no_asyncio_traceback() -> None:
    """After an interrupt, the Playwright call it broke off fails when its browser closes, and asyncio would
    print that unretrieved failure's traceback (seen once in a SIGTERM'd soak). The driver's log filter
    drops exactly that; any other unretrieved error still shows."""
    script = """
import asyncio, gc, threading
from harness.reproduce.engines import playwright_route
from playwright._impl._errors import TargetClosedError
playwright_route.driver()  # installs the filter
async def lost(exc):
    future = asyncio.get_running_loop().create_future()
    future.set_exception(exc)
    del future
    gc.collect()
def run(exc):  # in a thread: the driver's own loop is the main thread's running loop
    thread = threading.Thread(target=asyncio.run, args=(lost(exc),))
    thread.start()
    thread.join()
run(TargetClosedError("Page.add_init_script: Target page, context or browser has been closed"))
run(ValueError("a real problem"))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    assert out.returncode == 0, out.stderr
    assert "TargetClosedError" not in out.stderr, out.stderr
    assert "ValueError: a real problem" in out.stderr, out.stderr


@needs_chromium
@pytest.mark.browser
def test_an_interrupt_inside_a_playwright_listener_prints_no_traceback_and_still_stops() -> None:
    """SIGTERM that arrives while a Playwright event listener runs (seen once in a lane: CI's rehearsal printed
    Playwright's "Error occurred in event listener" and a traceback) stops the work at the next call, with no
    traceback; an ordinary error in a listener still prints."""
    script = """
import os, signal, time
from harness.core import procs
from harness.reproduce.engines import pick_route
from harness.reproduce.engines.base import LaunchSpec
procs.stop_on_signals()
route = pick_route("chromium")[0]
browser = route.launch(LaunchSpec("chromium", route.name))
raw = browser.new_page()._page
raw.goto("data:text/html,<p>app</p>")
def broken(_message):
    raise ValueError("a real problem")
raw.once("console", broken)
raw.evaluate("console.log('one')")
try:
    raw.wait_for_timeout(200)  # the listener runs while the driver is waited on
    raw.evaluate("1")
except ValueError:
    pass  # Playwright raises a listener's error at the next call
def busy(_message):
    os.kill(os.getpid(), signal.SIGTERM)
    end = time.monotonic() + 10
    while time.monotonic() < end:  # the signal's exception is raised here, inside the listener
        pass
    print("the signal never came")
raw.once("console", busy)
try:
    raw.evaluate("console.log('two')")
    raw.wait_for_timeout(200)
    raw.evaluate("1")
except KeyboardInterrupt:
    print("stopped")
else:
    print("went on")
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=90,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    assert "stopped" in out.stdout, out.stdout + out.stderr
    assert "ValueError: a real problem" in out.stderr, out.stderr
    assert out.stderr.count("Error occurred in event listener") == 1, out.stderr
    assert "KeyboardInterrupt" not in out.stderr, out.stderr
    assert "never awaited" not in out.stderr, out.stderr  # the driver's stop, which the interrupt left half done
