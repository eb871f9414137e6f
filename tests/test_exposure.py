"""Secrets and exposure: a network run keeps the lab's TURN password out of every artifact, and every server
the harness starts listens on loopback or inside the lab's own namespaces."""

from __future__ import annotations

import base64
import binascii
import contextlib
import io
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from harness.core import procs
from tests.conftest import REPO, needs_chromium

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the network lab's named namespaces need root")

# Two network scenarios (the relay with the right and the wrong password: the wrong one is 'not-' + the
# secret, so it carries the secret too) and one page scenario, on the two engines with a trace.
SCENARIOS = """scenarios:
  - name: Relay with the right password
    engines: [chromium, firefox]
    given: {network: {turn: udp, policy: relay}}
    expect: {state: connected, within: 20s}
  - name: Relay with the wrong password
    engines: [chromium, firefox]
    given: {network: {turn: udp, policy: relay, credentials: wrong}}
    expect: {outcome: relay-unreachable, within: 10s}
  - name: Denied microphone beside them
    engines: [chromium]
    given: {permission: {microphone: denied}}
    expect: {outcome: permission-denied, within: 5s}
"""
LISTEN = re.compile(r"^(?P<proto>\S+)\s+\S+\s+\S+\s+\S+\s+(?P<local>\S+)\s+\S+\s+users:\((?P<users>.*)\)$")
PID = re.compile(r"pid=(\d+)")
BASE64 = re.compile(rb"[A-Za-z0-9+/]{64,}={0,2}")


def _listening(pids: set[int]) -> set[tuple[str, str, int]]:
    """(protocol, local address, pid) of every TCP listener and bound UDP socket that one of ``pids`` holds
    in this (the root) network namespace; sockets inside the lab's namespaces are not visible here."""
    out = subprocess.run(["ss", "-H", "-lntup"], capture_output=True, text=True, check=False).stdout
    found = set()
    for line in out.splitlines():
        match = LISTEN.match(line.strip())
        if match is None:
            continue
        for pid in map(int, PID.findall(match["users"])):
            if pid in pids:
                found.add((match["proto"], match["local"], pid))
    return found


def _turn_password(pids: set[int]) -> str | None:
    """The TURN password of the run's coturn, read off its command line (--user=mf:PASSWORD)."""
    for pid in pids:
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for arg in args:
            if arg.startswith(b"--user=mf:"):
                return arg.removeprefix(b"--user=mf:").decode()
    return None


def _unpacked(name: str, data: bytes) -> list[tuple[str, bytes]]:
    """``data``, the members of it when it is a zip (Playwright traces), and the decoded base64 strings in it
    when it is a page or script (the single-file report embeds every attachment that way)."""
    found = [(name, data)]
    if zipfile.is_zipfile(io.BytesIO(data)):
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for member in archive.namelist():
                found += _unpacked(f"{name}!{member}", archive.read(member))
    elif name.endswith((".html", ".js")):
        for number, blob in enumerate(BASE64.findall(data)):
            with contextlib.suppress(binascii.Error):
                found += _unpacked(f"{name}#base64-{number}", base64.b64decode(blob, validate=True))
    return found


def _artifacts(root: Path) -> list[tuple[str, bytes]]:
    """Every file under ``root``, unpacked (see :func:`_unpacked`)."""
    return [part for path in sorted(root.rglob("*")) if path.is_file()
            for part in _unpacked(str(path.relative_to(root)), path.read_bytes())]


@needs_root
@needs_chromium
@pytest.mark.browser
def test_network_run_keeps_the_secret_and_its_servers_to_itself(tmp_path: Path) -> None:
    """During a network run every listening socket of the run's processes in the root namespace is on
    loopback; afterwards no artifact (JUnit, Allure results, screenshots, traces, the HTML report, the
    output) holds the TURN password, plain or URL-encoded."""
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "secret.yaml").write_text(SCENARIOS, encoding="utf-8")
    reports = tmp_path / "reports"
    # The trace is recorded on failure only: a failing case must leave one, so the traces are searched too.
    (tmp_path / "scenarios" / "failing.yaml").write_text(
        "name: Relay case that fails on purpose\nengines: [chromium]\ngiven: {network: {turn: udp, policy: relay}}\n"
        "expect: {state: on-purpose-never-shown, within: 2s}\n", encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli.main", "run", "scenarios", "--reports", str(reports),
                             "--report"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    sockets: set[tuple[str, str, int]] = set()
    password = None
    deadline = time.monotonic() + 300
    while True:
        try:
            proc.wait(timeout=0.3)  # poll the run's sockets until it ends (bounded below)
            break
        except subprocess.TimeoutExpired:
            pids = procs.descendants(proc.pid) | {proc.pid}
            sockets |= _listening(pids)
            password = password or _turn_password(pids)
            assert time.monotonic() < deadline, "the run did not end in 300 s"
    output = proc.stdout.read() if proc.stdout else b""
    assert proc.returncode == 1, output.decode(errors="replace")  # only the case that fails on purpose
    assert password, "never saw the lab's coturn running: did the network cases run?\n" + output.decode()
    assert sockets, "saw no listening socket at all: the run's app server should have been one"
    exposed = {s for s in sockets if not s[1].startswith(("127.", "[::1]", "[::ffff:127."))}
    assert not exposed, f"listening beyond loopback: {sorted(exposed)}"

    forms = {password.encode(), quote(password).encode(), quote_plus(password).encode()}
    artifacts = [("mediafault run output", output), *_artifacts(reports)]
    assert any(name.endswith(".zip") for name, _ in artifacts), "no trace was written: the search missed them"
    assert any("#base64-" in name and "!" in name for name, _ in artifacts), "the single-file report was not unpacked"
    leaks = [name for name, data in artifacts if any(form in data for form in forms)]
    assert not leaks, f"the TURN password is in {leaks}"
