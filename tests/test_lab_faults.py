"""What a case's faults reach in the network lab: the call (the signalling POST to the lab's peer, and
with it TURN and media) and not the app's page or its own server, with ``app.dir`` as with ``app.url``
(whose server is forwarded off the link). Measured from inside the browser's namespace, on a real lab."""

from __future__ import annotations

import json
import subprocess
import sys

from harness.reproduce.netlab.lab import NetLab
from harness.scenario.model import Shape
from tests.conftest import BUNDLED_APP
from tests.test_lab_url import needs_root

pytestmark = needs_root

# One request per URL on a new connection, from the browser's side: how long it took, or why it failed.
PROBE = """
import json, sys, time, urllib.request
out = {}
for name, url, method in json.loads(sys.argv[1]):
    headers = {"Origin": "http://10.237.0.2:8080", "Access-Control-Request-Method": "POST"}
    start = time.monotonic()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method=method, headers=headers), timeout=3) as r:
            out[name] = [r.status, time.monotonic() - start]
    except OSError as exc:
        out[name] = [type(getattr(exc, "reason", exc)).__name__, time.monotonic() - start]
print(json.dumps(out))
"""
LATENCY_MS = 400  # each way: a new connection and one request cross the link four times (1.6 s)


def _probe(lab: NetLab) -> dict[str, list[object]]:
    urls = [("page", f"{lab.app_origin}/index.html", "GET"), ("signalling", lab.signal_url, "OPTIONS")]
    done = subprocess.run(["ip", "netns", "exec", lab.client_ns, sys.executable, "-c", PROBE, json.dumps(urls)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    result: dict[str, list[object]] = json.loads(done.stdout)
    return result


def test_faults_take_the_call_and_leave_the_apps_page() -> None:
    """With a 400 ms link, the signalling preflight takes at least 1.2 s and the app's page answers at once;
    with the link dropped mid-call, the signalling times out and the page still answers."""
    lab = NetLab(BUNDLED_APP)
    lab.start()
    try:
        lab.apply(block_udp=False, shape=Shape(latency=LATENCY_MS))
        shaped = _probe(lab)
        lab.drop()
        dropped = _probe(lab)
    finally:
        lab.stop()
    page, signalling = shaped["page"], shaped["signalling"]
    assert page[0] == 200 and float(str(page[1])) < 0.4, shaped
    assert signalling[0] == 204 and float(str(signalling[1])) >= 3 * LATENCY_MS / 1000, shaped
    assert dropped["page"][0] == 200, dropped
    assert dropped["signalling"][0] in ("timeout", "TimeoutError"), dropped
