"""A Selenium Grid on another machine: its hub and node listen on a non-loopback address inside a network
namespace of the test's own, joined to this machine by a veth pair, so the node's browsers cannot use this
machine's loopback. The built-in catalogue must run there as on a local Grid: the harness serves the app and its
pages on this machine's address on the route to the Grid, and only what truly cannot travel is skipped."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, attachments, bundled_app_by_url
from tests.test_grid import needs_grid

GRID_PORT = 4444
APP_NOTE = "what mediafault did to the app"  # the evidence that says how the app was reached
# What may be skipped on a Grid on another machine, and nothing else: conditions an engine cannot reproduce,
# scenarios for another profile, the network lab (a namespace on this machine), a fake-microphone file (a path
# on this machine).
ALLOWED_SKIPS = ("is unsupported on", "written for the app profile", "needs the local network lab",
                 "needs the fake-microphone file")


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)


@dataclass
class Namespace:
    """The namespace standing for the Grid's machine: its name and both ends' addresses."""

    name: str
    here: str  # this machine's end of the veth pair
    there: str  # the Grid machine's address

    def run(self, *command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        """``command`` inside the namespace."""
        return subprocess.run(["ip", "netns", "exec", self.name, *command], capture_output=True, text=True,
                              env=env, cwd=REPO, timeout=180, check=False)


@pytest.fixture(scope="module")
def namespace() -> Iterator[Namespace]:
    """A network namespace with a veth pair to this machine on 10.239.N.0/30 (N from the PID, so two runs on
    one machine do not collide); deleted, with any process left in it, at the end."""
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("network namespaces need root and iproute2 ('ip')")
    tag = f"{os.getpid() % 100000}"
    name, host_if, ns_if = f"mfg{tag}", f"mfg{tag}h", f"mfg{tag}n"
    subnet = f"10.239.{os.getpid() % 250}"
    made = _ip("netns", "add", name)
    if made.returncode != 0:
        pytest.skip(f"network namespaces are not allowed here: ip netns add: {made.stderr.strip()}")
    try:
        for args in (("link", "add", host_if, "type", "veth", "peer", "name", ns_if),
                     ("link", "set", ns_if, "netns", name),
                     ("addr", "add", f"{subnet}.1/30", "dev", host_if), ("link", "set", host_if, "up"),
                     ("-n", name, "addr", "add", f"{subnet}.2/30", "dev", ns_if),
                     ("-n", name, "link", "set", ns_if, "up"), ("-n", name, "link", "set", "lo", "up")):
            done = _ip(*args)
            assert done.returncode == 0, f"ip {' '.join(args)}: {done.stderr}"
        yield Namespace(name, f"{subnet}.1", f"{subnet}.2")
    finally:
        pids = _ip("netns", "pids", name).stdout.split()
        for pid in pids:  # only processes inside the test's own namespace
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)
        _ip("netns", "del", name)
        _ip("link", "del", host_if)  # gone with the namespace already; this is for a half-made pair
        assert not pids, f"processes were left in the Grid's namespace: {pids}"


@dataclass
class RemoteGrid:
    """The Grid in the namespace: its URL and the environment the CLI runs with."""

    url: str
    env: dict[str, str]
    namespace: Namespace

    def run(self, *args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, str], dict[str, str]]:
        """``mediafault run ARGS`` from here on chromium and webkit: (the process, passed cases by name, skipped
        cases with their reasons); reports go to ``cwd/reports``."""
        run = subprocess.run([sys.executable, "-m", "harness.cli.main", "run", *args, "--grid-url", self.url,
                              "--engine", "chromium", "--engine", "webkit", "-n", "2", "--reports",
                              str(cwd / "reports")],
                             capture_output=True, text=True, env=self.env, cwd=cwd, timeout=900, check=False)
        cases = list(ET.parse(cwd / "reports" / "junit.xml").getroot().iter("testcase"))
        skipped = {c.get("name", ""): c.find("skipped").get("message", "")  # type: ignore[union-attr]
                   for c in cases if c.find("skipped") is not None}
        passed = {c.get("name", ""): "passed" for c in cases if c.get("name") not in skipped}
        return run, passed, skipped


@pytest.fixture(scope="module")
def remote_grid(namespace: Namespace, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RemoteGrid]:
    """``mediafault grid up --host`` on the namespace's address, run inside it (chromium and webkit slots);
    taken down at the end."""
    env = {**os.environ, "MF_GRID_DIR": str(tmp_path_factory.mktemp("grid-state")), "PYTHONPATH": str(REPO)}
    up = namespace.run(sys.executable, "-m", "harness.cli.main", "grid", "up", "--host", namespace.there,
                       "--port", str(GRID_PORT), "--engine", "chromium", "--engine", "webkit", env=env)
    grid_url = f"http://{namespace.there}:{GRID_PORT}"
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"ready at {grid_url}" in up.stdout and f"listening on {namespace.there} only" in up.stdout, up.stdout
        listening = [line.split()[3] for line in namespace.run("ss", "-ltnH", env=env).stdout.splitlines()]
        on_port = [address for address, _, port in (s.rpartition(":") for s in listening) if port == str(GRID_PORT)]
        # Java listens on an IPv6 socket; an IPv4-mapped address is still that one address.
        assert [a.strip("[]").removeprefix("::ffff:") for a in on_port] == [namespace.there], listening
        yield RemoteGrid(grid_url, env, namespace)
    finally:
        down = namespace.run(sys.executable, "-m", "harness.cli.main", "grid", "down", env=env)
        assert down.returncode == 0, down.stdout + down.stderr


def _check_skips(skipped: dict[str, str]) -> None:
    unexpected = {name: why for name, why in skipped.items() if not any(a in why for a in ALLOWED_SKIPS)}
    assert not unexpected, unexpected


@needs_grid
@pytest.mark.browser
def test_the_catalogue_runs_on_a_grid_on_another_address(remote_grid: RemoteGrid, tmp_path: Path) -> None:
    """Hub and node on 10.239.N.2 in their own namespace, run from here: every case the Grid can reproduce
    passes, the rest is skipped only for what cannot travel, and each case says where it was served."""
    run, passed, skipped = remote_grid.run(str(REPO / "scenarios"), cwd=tmp_path)
    assert run.returncode == 0, (run.stdout + run.stderr)[-6000:]
    _check_skips(skipped)
    # Every page condition and every non-network permission and device case runs on both engines.
    assert len(passed) >= 45, (len(passed), sorted(skipped))
    for engine in ("chromium", "webkit"):
        for scenario in ("Embedded in a cross-origin iframe without allow", "Page served over plain http",
                         "App served over https", "Microphone blocked for the site"):
            assert f"{scenario}[{engine}]" in passed, sorted(skipped)
    served = f"served for the Selenium Grid's nodes on {remote_grid.namespace.here}"
    notes = attachments(tmp_path / "reports" / "allure-results", APP_NOTE)
    assert len(notes) == len(passed)  # each passed case says what was done to reach the app
    for note in notes:
        assert served in note, note


@needs_grid
@pytest.mark.browser
def test_an_app_by_url_keeps_its_url_on_a_grid_on_another_address(remote_grid: RemoteGrid, tmp_path: Path) -> None:
    """The bundled app served by another process on this machine's loopback, given as app.url: the nodes reach
    it at that same URL through the harness's proxy on the serve address; what WebKit's http-only proxy cannot
    carry (https pages) is skipped with that reason, everything else passes as with app.dir."""
    paths = [str(REPO / "scenarios" / area) for area in ("permission", "device", "page")]
    with bundled_app_by_url() as url:
        run, passed, skipped = remote_grid.run(*paths, "--app-url", url, cwd=tmp_path)
    assert run.returncode == 0, (run.stdout + run.stderr)[-6000:]
    webkit_https = {n for n, why in skipped.items() if "WebKitWebDriver gives WebKitGTK the harness's proxy" in why}
    assert webkit_https == {"App served over https[webkit]"}, sorted(skipped)
    _check_skips({n: why for n, why in skipped.items() if n not in webkit_https})
    for engine in ("chromium", "webkit"):
        for scenario in ("Embedded in a cross-origin iframe without allow", "Page served over plain http",
                         "Microphone blocked for the site", "No microphone connected"):
            assert f"{scenario}[{engine}]" in passed, sorted(skipped)
    assert "App served over https[chromium]" in passed
    proxy = re.compile(rf"mediafault's proxy \({re.escape(remote_grid.namespace.here)}:\d+\) inserted its observer "
                       rf"script into [1-9]\d* HTML responses? of ")
    notes = attachments(tmp_path / "reports" / "allure-results", APP_NOTE)
    assert len(notes) == len(passed)
    for note in notes:
        assert proxy.search(note), note


@pytest.mark.parametrize(("args", "words"), [
    (["--mf-serve-address", "10.1.2.3"], "it is for a Selenium Grid on another machine; give --mf-grid-url too"),
    (["--mf-grid-url", "http://192.0.2.7:4444", "--mf-serve-address", "0.0.0.0"],
     "0.0.0.0 would make the servers listen on every interface"),
    (["--mf-grid-url", "http://192.0.2.7:4444", "--mf-serve-address", "nodes.example"],
     "'nodes.example' is not an IP address"),
    (["--mf-grid-url", "http://192.0.2.7:4444", "--mf-serve-address", "192.0.2.99"],
     "192.0.2.99 is not an address of this machine"),
])
def test_a_serve_address_that_cannot_work_is_a_usage_error(pytester: pytest.Pytester, args: list[str],
                                                           words: str) -> None:
    """The option is checked before anything runs, and the message says what to give instead."""
    pytester.makefile(".ini", pytest="[pytest]\naddopts = -p no:cacheprovider\n")
    result = pytester.runpytest_subprocess(*args, "--collect-only")
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    assert words in result.stderr.str(), result.stderr.str()
    assert "Traceback" not in result.stderr.str()


def test_grid_up_refuses_every_interface(tmp_path: Path) -> None:
    """``grid up --host 0.0.0.0`` would expose the browsers to every network: refused, nothing started."""
    env = {**os.environ, "MF_GRID_DIR": str(tmp_path), "PYTHONPATH": str(REPO)}
    up = subprocess.run([sys.executable, "-m", "harness.cli.main", "grid", "up", "--host", "0.0.0.0"],
                        capture_output=True, text=True, env=env, cwd=REPO, timeout=60, check=False)
    assert up.returncode == 1, up.stdout + up.stderr
    assert "--host: 0.0.0.0 would make the servers listen on every interface" in up.stdout, up.stdout
    assert not (tmp_path / "state.json").exists()
