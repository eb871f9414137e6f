"""The lab's user-space shaper: its timing decisions (pure) and its netlink queue on a real link."""

from __future__ import annotations

import itertools
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
from collections.abc import Iterator

import pytest

from harness.reproduce.netlab.shaper import ShapeParams, Shaper


def _run(params: ShapeParams, packets: int = 2000, size: int = 200, gap: float = 0.02) -> list[float | None]:
    shaper = Shaper(params, random.Random(7))
    return [shaper.release_time(i * gap, size) for i in range(packets)]


def test_delay_is_added_to_every_packet() -> None:
    releases = _run(ShapeParams(latency_ms=150))
    delays = [r - i * 0.02 for i, r in enumerate(releases) if r is not None]
    assert len(delays) == 2000
    assert min(delays) == pytest.approx(0.150) and max(delays) == pytest.approx(0.150)


def test_loss_drops_about_the_asked_share() -> None:
    releases = _run(ShapeParams(loss_pct=15))
    lost = sum(r is None for r in releases) / len(releases)
    assert 0.12 < lost < 0.18


def test_jitter_varies_the_delay_without_reordering() -> None:
    releases = [r for r in _run(ShapeParams(latency_ms=100, jitter_ms=30)) if r is not None]
    delays = [r - i * 0.02 for i, r in enumerate(releases)]
    assert statistics.pstdev(delays) > 0.01
    assert releases == sorted(releases)


def test_rate_cap_serialises_packets() -> None:
    # 1000-byte packets every 20 ms = 400 kbit/s offered into a 100 kbit/s link: each takes 80 ms to send.
    releases = [r for r in _run(ShapeParams(rate_kbit=100), packets=10, size=1000) if r is not None]
    gaps = [b - a for a, b in itertools.pairwise(releases)]
    assert all(g == pytest.approx(0.080) for g in gaps)


@pytest.fixture
def link() -> Iterator[tuple[str, str]]:
    """Two namespaces joined by a veth, removed afterwards."""
    if os.geteuid() != 0 or not shutil.which("iptables"):
        pytest.skip("needs root and iptables (the network lab's requirements)")
    tag = f"mfq{os.getpid():x}"
    a, b = f"{tag}a", f"{tag}b"
    cmds = [["ip", "netns", "add", a], ["ip", "netns", "add", b],
            ["ip", "link", "add", f"{tag}0", "netns", a, "type", "veth", "peer", "name", f"{tag}1", "netns", b],
            ["ip", "-n", a, "addr", "add", "10.239.0.1/24", "dev", f"{tag}0"],
            ["ip", "-n", b, "addr", "add", "10.239.0.2/24", "dev", f"{tag}1"],
            ["ip", "-n", a, "link", "set", f"{tag}0", "up"], ["ip", "-n", b, "link", "set", f"{tag}1", "up"],
            ["ip", "netns", "exec", b, "iptables", "-A", "OUTPUT", "-o", f"{tag}1", "-j", "NFQUEUE",
             "--queue-num", "5", "--queue-bypass"]]
    try:
        for cmd in cmds:
            subprocess.run(cmd, check=True, capture_output=True, timeout=30)
        yield a, b
    finally:
        for ns in (a, b):
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True, timeout=30)


ECHO = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.239.0.2", 9999)); print("ready", flush=True)
while True:
    d, a = s.recvfrom(2000); s.sendto(d, a)
"""

PROBE = """
import socket, sys, time, json
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.3); rtts = []; lost = 0
for i in range(60):
    t = time.monotonic(); s.sendto(b"x" * 100, ("10.239.0.2", 9999))
    try:
        s.recvfrom(2000); rtts.append(time.monotonic() - t)
    except socket.timeout:
        lost += 1
print(json.dumps({"rtts": rtts, "lost": lost}))
"""


def _spawn(ns: str, args: list[str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, *args], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_shaper_delays_and_drops_real_packets(link: tuple[str, str]) -> None:
    """Through a real NFQUEUE: round trips grow by the delay, and the loss shows up and is reported."""
    a, b = link
    echo = _spawn(b, ["-c", ECHO])
    shaper = _spawn(b, ["-m", "harness.reproduce.netlab.shaper", "--queue", "5", "--latency-ms", "80", "--loss", "20",
                        "--seed", "3"])
    try:
        out = subprocess.run(["ip", "netns", "exec", a, sys.executable, "-c", PROBE], capture_output=True,
                             text=True, timeout=120, check=True).stdout
    finally:
        shaper.terminate()
        report, _ = shaper.communicate(timeout=10)
        echo.kill()
        echo.wait(timeout=10)
    probe = json.loads(out)
    assert min(probe["rtts"]) >= 0.079, probe["rtts"]
    assert 3 <= probe["lost"] <= 25, probe
    (lane,) = json.loads(report.strip().splitlines()[-1])
    assert lane["queue"] == 5 and lane["dropped"] == probe["lost"]
    assert lane["mean_delay_ms"] == pytest.approx(80, abs=1)
