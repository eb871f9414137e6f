"""What a case's faults reach in the network lab: the call's media path (TURN here) and not the peer's
HTTP port (an ``app.dir`` page, its telemetry, the signalling POST), so ``app.dir`` gets what ``app.url``
gets (its server is forwarded off the link). Measured from inside the browser's namespace, on a real lab."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from harness.reproduce.netlab.lab import SERVER_IP, TURN_PORT, NetLab
from harness.scenario.model import Shape
from tests.conftest import BUNDLED_APP
from tests.test_lab_url import needs_root

pytestmark = needs_root

# From the browser's side, on a new connection each: a page request, the signalling preflight, and a TCP
# connection to TURN; how long each took, or why it failed.
PROBE = """
import json, socket, sys, time, urllib.request
app, turn, turn_port = sys.argv[1], sys.argv[2], int(sys.argv[3])
out = {}
for name, method in (("page", "GET"), ("signalling", "OPTIONS")):
    url = app + ("/index.html" if name == "page" else "/offer")
    headers = {"Origin": "http://localhost:5173", "Access-Control-Request-Method": "POST"}
    start = time.monotonic()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method, headers=headers), timeout=3) as r:
            out[name] = [r.status, time.monotonic() - start]
    except OSError as exc:
        out[name] = [type(getattr(exc, "reason", exc)).__name__, time.monotonic() - start]
start = time.monotonic()
try:
    socket.create_connection((turn, turn_port), timeout=3).close()
    out["turn"] = ["connected", time.monotonic() - start]
except OSError as exc:
    out["turn"] = [type(exc).__name__, time.monotonic() - start]
print(json.dumps(out))
"""
LATENCY_MS = 400  # each way: a TCP handshake crosses the link twice (0.8 s); a request on a new connection four times


def _probe(lab: NetLab) -> dict[str, list[Any]]:
    done = subprocess.run(["ip", "netns", "exec", lab.client_ns, sys.executable, "-c", PROBE, lab.app_origin,
                           SERVER_IP, str(TURN_PORT)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, list[Any]] = json.loads(done.stdout)  # name → [status or error, seconds]
    return result


def test_faults_take_the_media_path_and_leave_the_page_and_signalling() -> None:
    """With a 400 ms link, a TCP connection to TURN takes at least two crossings while the page and the
    signalling preflight answer at once; with the link dropped mid-call, TURN cannot be reached and the
    page and the signalling still answer."""
    lab = NetLab(BUNDLED_APP)
    lab.start()
    try:
        lab.apply(block_udp=False, shape=Shape(latency=LATENCY_MS))
        shaped = _probe(lab)
        lab.drop()
        dropped = _probe(lab)
    finally:
        lab.stop()
    assert shaped["page"][0] == 200 and shaped["page"][1] < 0.4, shaped
    assert shaped["signalling"][0] == 204 and shaped["signalling"][1] < 0.4, shaped
    assert shaped["turn"][0] == "connected" and shaped["turn"][1] >= 2 * LATENCY_MS / 1000, shaped
    assert (dropped["page"][0], dropped["signalling"][0]) == (200, 204), dropped
    assert dropped["turn"][0] in ("timeout", "TimeoutError"), dropped
