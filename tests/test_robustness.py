"""Interrupting a run leaves nothing behind, and a lab left by a killed run is removed at the next start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.netlab.lab import cleanup_stale
from tests.conftest import REPO, needs_chromium

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="the network lab needs root in this version")


def _netns() -> set[str]:
    return set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout.split())


def _processes_with(text: str) -> list[str]:
    out = subprocess.run(["ps", "-eww", "-o", "pid,args"], capture_output=True, text=True, check=False).stdout
    return [line for line in out.splitlines() if text in line and "ps -eww" not in line]


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
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "run", str(scenario), "--reports",
                             str(tmp_path / "reports")], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    tag = f"mf{proc.pid:x}"
    deadline = time.monotonic() + 60
    # Wait (bounded) until the lab is up with its servers (the peer and coturn), then interrupt.
    while not ({f"{tag}c", f"{tag}s"} <= _netns() and len(_processes_with(tag)) >= 2):
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the lab never came up"
        time.sleep(0.2)  # test-side polling of an external fact; the harness itself never sleeps
    proc.send_signal(sig)
    output, _ = proc.communicate(timeout=60)
    assert not {f"{tag}c", f"{tag}s"} & _netns(), output
    assert not _processes_with(tag), output
    assert "Traceback" not in output
