"""Apps that misbehave: each case still ends within its bounds with a verdict that names what happened, the
evidence is in the report, and the next case in the same worker runs normally, on every engine.

The app is a small page of its own: ``#call`` asks for the microphone and shows the error as a correct app
does; ``#hostile`` does one hostile thing (chosen per test) and then, where the hostile thing lets it, goes
on like ``#call``. Each run has a warm-up case (it starts the browser), the hostile one, and a normal one
after it, in one process.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.core import procs
from harness.reproduce.engines import pick_route
from tests.conftest import WriteScenario, needs_chromium

pytestmark = [needs_chromium, pytest.mark.browser]

APP = """<!doctype html>
<html><head><meta charset="utf-8"><title>Hostile test app</title></head><body>
<p id="status" data-state="idle">idle</p>
<button id="call" type="button">Call</button>
<span style="position:relative; display:inline-block">
  <button id="hostile" type="button">Hostile call</button>
  <div id="overlay" style="display:none; position:absolute; inset:0; background:rgba(0,0,0,.3)"></div>
</span>
<div id="error" role="alert" aria-live="assertive" hidden>
  <span id="error-code" data-error-code=""></span> <span id="error-message"></span>
</div>
<script>
const $ = (id) => document.getElementById(id);
async function call() {
  $('status').dataset.state = 'calling';
  try {
    const stream = await navigator.mediaDevices.getUserMedia({audio: true});
    stream.getTracks().forEach((t) => t.stop());
    $('status').dataset.state = 'connected';
  } catch (err) {
    $('status').dataset.state = 'failed';
    $('error-code').dataset.errorCode = 'mic-permission-denied';
    $('error-message').textContent = 'Microphone access needed';
    $('error').hidden = false;
    after(err);
  }
}
function after(err) {}
$('call').addEventListener('click', call);
</script>
<script>
HOSTILE
</script>
</body></html>
"""

# What '#hostile' does, and what a run must say about it.
BEHAVIOURS = {
    "alert": "$('hostile').addEventListener('click', () => {\n"
             "  after = () => alert('Microphone blocked: please allow it'); call(); });",
    "confirm": "$('hostile').addEventListener('click', () => {\n"
               "  after = () => { window.answer = confirm('Retry with the microphone?'); }; call(); });",
    "prompt": "$('hostile').addEventListener('click', () => {\n"
              "  after = () => { window.answer = prompt('Describe the problem'); }; call(); });",
    "busy-loop": "$('hostile').addEventListener('click', () => { for (;;) {} });",
    "navigates-away": "$('hostile').addEventListener('click', () => { location.href = 'other.html'; });",
    "reloads": "$('hostile').addEventListener('click', () => { location.reload(); });",
    "popup": "$('hostile').addEventListener('click', () => { window.open('other.html', 'help'); call(); });",
    "beforeunload": "window.addEventListener('beforeunload', (e) => { e.preventDefault(); e.returnValue = ''; });\n"
                    "$('hostile').addEventListener('click', call);",
    "disabled-button": "$('hostile').disabled = true;",
    "covered-button": "$('overlay').style.display = 'block';",
    "missing-button": "$('hostile').remove();",
    # getStats that never settles (an SDK's wrapper gone wrong): the harness reads stats with every
    # observation, and must neither wait on them nor take the page for hung.
    "stalled-getstats": "$('hostile').addEventListener('click', () => {\n"
                        "  if (window.RTCPeerConnection) {  // WebKitGTK builds without WebRTC have none\n"
                        "    RTCPeerConnection.prototype.getStats = () => new Promise(() => {});\n"
                        "    window.pc = new RTCPeerConnection(); }\n"
                        "  call(); });",
}


@dataclass(frozen=True)
class Outcome:
    """What the hostile case must end as, and words its report must carry."""

    status: str  # passed / failed / error (JUnit: error = broken)
    words: tuple[str, ...]


EXPECTED = {
    "alert": Outcome("passed", ("alert", "Microphone blocked: please allow it")),
    "confirm": Outcome("passed", ("confirm", "Retry with the microphone?")),
    "prompt": Outcome("passed", ("prompt", "Describe the problem")),
    "busy-loop": Outcome("error", ("stopped answering",)),
    "navigates-away": Outcome("failed", ("left the app", "other.html")),
    "reloads": Outcome("failed", ("reloaded",)),
    "popup": Outcome("passed", ("popup", "other.html")),
    "beforeunload": Outcome("passed", ()),
    "disabled-button": Outcome("error", ("'#hostile'", "disabled")),
    "covered-button": Outcome("error", ("'#hostile'", "covered", "overlay")),
    "missing-button": Outcome("error", ("no element matches '#hostile'",)),
    "stalled-getstats": Outcome("passed", ()),
}
WITHIN = 3.0
# A hostile case ends within its scenario's bound plus this: the grace after 'within' (as long as 'within'
# here), the harness's reaction to a hung page, the page load and the evidence. A warm-up case starts each
# engine's browser first, so no launch is counted.
SLACK = 12.0


def _engines() -> list[str]:
    return [engine for engine in ("chromium", "firefox", "webkit") if pick_route(engine)[0] is not None]


def _project(project: pytest.Pytester, write_scenario: WriteScenario, hostile: str,
             cases: list[tuple[str, str]]) -> None:
    """The app with ``hostile`` as its script, and one denied-microphone scenario per (name, button)."""
    app = project.path / "app"
    app.mkdir()
    (app / "index.html").write_text(APP.replace("HOSTILE", hostile), encoding="utf-8")
    (app / "other.html").write_text("<p>Another page</p>", encoding="utf-8")
    (project.path / "mediafault.yaml").write_text("app:\n  dir: app\n", encoding="utf-8")
    expect = f"{{outcome: permission-denied, within: {WITHIN:g}s}}"
    write_scenario("hostile.yaml", "scenarios:\n" + "".join(
        f"  - name: {name}\n    given: {{permission: {{microphone: denied}}}}\n"
        f"    when: [{{click: \"{button}\"}}]\n    expect: {expect}\n" for name, button in cases))


@dataclass(frozen=True)
class Ended:
    """How one case ended, read from the run's JUnit XML."""

    status: str  # passed / failed / error (JUnit: error = broken)
    text: str  # the failure's message and body
    evidence: str  # the text and every property (the report's evidence)
    seconds: float


def _junit_cases(path: Path) -> dict[str, Ended]:
    """Every case of a run's JUnit XML, by its name."""
    ended = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        props = {p.get("name"): p.get("value", "") for p in case.iter("property")}
        status = "failed" if case.find("failure") is not None else "passed"
        status = "error" if props.get("status") == "broken" else status
        text = " ".join(filter(None, (node.get("message", "") + (node.text or "") for node in case)))
        ended[case.get("name", "")] = Ended(status, text, text + " " + " ".join(props.values()),
                                            float(case.get("time", "0")))
    return ended


@pytest.mark.parametrize("behaviour", list(BEHAVIOURS))
def test_hostile_app(project: pytest.Pytester, write_scenario: WriteScenario, behaviour: str) -> None:
    """The hostile case ends in time with a verdict naming what happened; the next case passes."""
    engines = _engines()
    _project(project, write_scenario, BEHAVIOURS[behaviour],
             [("Warm-up", "#call"), (f"Hostile {behaviour}", "#hostile"), ("Next case", "#call")])
    start = time.monotonic()
    result = project.runpytest_subprocess(*[f"--mf-engine={e}" for e in engines], "--junitxml=junit.xml",
                                          "-p", "no:randomly")
    took = time.monotonic() - start
    output = result.stdout.str()
    cases = _junit_cases(project.path / "junit.xml")
    want = EXPECTED[behaviour]
    for engine in engines:
        hostile = cases[f"Hostile {behaviour}[{engine}]"]
        assert hostile.status == want.status, f"{engine}: {hostile.status}, expected {want.status}\n" \
                                              f"{hostile.text}\n{output}"
        for word in want.words:
            assert re.search(re.escape(word), hostile.evidence, re.IGNORECASE), \
                f"{engine}: no {word!r} in\n{hostile.evidence}"
        nxt = cases[f"Next case[{engine}]"]
        assert nxt.status == "passed", f"{engine}: the next case {nxt.status}:\n{nxt.text}"
        assert hostile.seconds <= WITHIN + SLACK, f"{engine}: the hostile case took {hostile.seconds:.1f}s"
    assert took < 60 * len(engines), f"the run took {took:.0f}s"


# The renderer is killed from outside, as an OOM killer or a crash would: the click asks a loopback server
# of the test's own, which then kills every renderer process of the run's browsers. Each engine's renderer,
# as its command line names it (measured): Chromium's renderers, Firefox's content processes for web pages
# (not its socket, GPU or utility processes), WebKitGTK's web processes.
RENDERERS = {"chromium": "--type=renderer", "firefox": "-isForBrowser", "webkit": "WebKitWebProcess"}
# A crash is answered as soon as the harness meets it: well before a hung page's bound (WITHIN + SLACK).
CRASH_SLACK = 6.0


class _Killer(BaseHTTPRequestHandler):
    engine = ""

    def do_GET(self) -> None:
        """Kill the engine's renderer processes below this test, then answer (nobody is left to read it)."""
        for pid in procs.descendants():
            with contextlib.suppress(OSError):
                args = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                if RENDERERS[self.engine] in args:
                    os.kill(pid, signal.SIGKILL)
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


@pytest.mark.parametrize("engine", list(RENDERERS))
def test_renderer_crash(project: pytest.Pytester, write_scenario: WriteScenario, engine: str) -> None:
    """The page's renderer dies after the click: the case is broken at once, saying the page crashed; the
    next case (a new browser) passes."""
    if pick_route(engine)[0] is None:
        pytest.skip(f"no route for {engine} here")
    handler = type("Killer", (_Killer,), {"engine": engine})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        # getStats that settles late keeps each of the harness's reads of the page in flight for a while (the
        # observer gives up on stats after 0.5 s), and the renderer dies during one: Firefox via Playwright
        # leaves such a call waiting for good, where a wait in the page is told that the page closed.
        crash = f"$('hostile').addEventListener('click', () => {{ $('status').dataset.state = 'calling';\n" \
                "  if (window.RTCPeerConnection) {\n" \
                "    RTCPeerConnection.prototype.getStats = () => new Promise(() => {});\n" \
                "    window.pc = new RTCPeerConnection(); }\n" \
                f"  setTimeout(() => fetch('http://127.0.0.1:{server.server_address[1]}/kill', " \
                "{mode: 'no-cors'}), 200); });"
        _project(project, write_scenario, crash,
                 [("Warm-up", "#call"), ("Renderer crash", "#hostile"), ("Next case", "#call")])
        # Bounded: a crash the harness misses can leave the run waiting for good.
        result = project.runpytest_subprocess(f"--mf-engine={engine}", "--junitxml=junit.xml", "-p", "no:randomly",
                                              timeout=120)
    finally:
        server.shutdown()
        server.server_close()
    cases = _junit_cases(project.path / "junit.xml")
    crashed = cases[f"Renderer crash[{engine}]"]
    assert crashed.status == "error", f"{crashed.status}, expected error\n{crashed.text}\n{result.stdout.str()}"
    assert re.search(r"could not run .*the page crashed", crashed.text), crashed.text
    assert crashed.seconds <= WITHIN + CRASH_SLACK, f"the crashed case took {crashed.seconds:.1f}s"
    nxt = cases[f"Next case[{engine}]"]
    assert nxt.status == "passed", f"the next case {nxt.status}:\n{nxt.text}"
