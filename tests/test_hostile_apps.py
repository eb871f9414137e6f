"""Apps that misbehave: each case still ends within its bounds with a verdict that names what happened, the
evidence is in the report, and the next case in the same worker runs normally, on every engine.

The app is a small page of its own: ``#call`` asks for the microphone and shows the error as a correct app
does; each ``#hostile-<behaviour>`` button does one hostile thing and then, where the hostile thing lets it,
goes on like ``#call``. One run per engine (side by side) has a warm-up case (it starts the browser), then for
each behaviour the hostile case and a normal one right after it, in one process: each behaviour's test reads
its two cases from those runs (one pytest start and one browser launch per engine for all of them, where a
run per behaviour paid them twelve times). A renderer crash has a run of its own per engine.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from harness.core import procs
from harness.reproduce.engines import pick_route
from tests.conftest import needs_chromium

pytestmark = [needs_chromium, pytest.mark.browser]

APP = """<!doctype html>
<html><head><meta charset="utf-8"><title>Hostile test app</title></head><body>
<p id="status" data-state="idle">idle</p>
<button id="call" type="button">Call</button>
BUTTONS
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
let after = (err) => {};
$('call').addEventListener('click', call);
</script>
<script>
HOSTILE
</script>
</body></html>
"""
# One hostile button, with an overlay of its own for covered-button and overlay-goes.
BUTTON = """<span style="position:relative; display:inline-block">
  <button id="hostile-NAME" type="button">Hostile NAME</button>
  <div id="overlay-NAME" style="display:none; position:absolute; inset:0; background:rgba(0,0,0,.3)"></div>
</span>"""

WITHIN = 3.0  # the scenarios' 'within'
LATE = WITHIN + 1  # seconds after which the late behaviours answer: more than 'within'
# What each '#hostile-<behaviour>' button (B in the script) does, and what a run must say about it.
BEHAVIOURS = {
    "alert": "B.addEventListener('click', () => {\n"
             "  after = () => alert('Microphone blocked: please allow it'); call(); });",
    "confirm": "B.addEventListener('click', () => {\n"
               "  after = () => { window.answer = confirm('Retry with the microphone?'); }; call(); });",
    "prompt": "B.addEventListener('click', () => {\n"
              "  after = () => { window.answer = prompt('Describe the problem'); }; call(); });",
    "busy-loop": "B.addEventListener('click', () => { for (;;) {} });",
    "navigates-away": "B.addEventListener('click', () => { location.href = 'other.html'; });",
    "reloads": "B.addEventListener('click', () => { location.reload(); });",
    "closes-window": "B.addEventListener('click', () => { window.close(); });",
    "popup": "B.addEventListener('click', () => { window.open('other.html', 'help'); call(); });",
    # The page asks to stay when the case closes it (the listener only counts once the user has clicked).
    "beforeunload": "B.addEventListener('click', () => {\n"
                    "  window.addEventListener('beforeunload', (e) => { e.preventDefault(); e.returnValue = ''; });\n"
                    "  call(); });",
    "disabled-button": "B.disabled = true;",
    "covered-button": "$('overlay-covered-button').style.display = 'block';",
    "missing-button": "B.remove();",
    # Not hostile: a button the app covers (a loading overlay) or disables for a while after its load is
    # clicked once it is ready, on every engine (WebDriver refuses a covered element's click at once). The
    # late one comes after more than 'within' (WITHIN), which counts from the click, not from the step.
    "overlay-goes": "$('overlay-overlay-goes').style.display = 'block';\n"
                    "setTimeout(() => { $('overlay-overlay-goes').style.display = 'none'; }, 1500);\n"
                    "B.addEventListener('click', call);",
    "enabled-late": f"B.disabled = true; setTimeout(() => {{ B.disabled = false; }}, {LATE * 1000:.0f});\n"
                    "B.addEventListener('click', call);",
    # Not hostile, but slow: it answers a click after more than 'within', showing an element as it does. A
    # scenario that waits for that element after its click (WAIT_AFTER) must still fail it as too late: the
    # wait is the app's time, and only a click's wait for its own element is not.
    "answers-late": "B.addEventListener('click', () => setTimeout(() => {\n"
                    "  const p = document.createElement('p'); p.id = 'late-answer'; p.textContent = 'Answer';\n"
                    f"  document.body.append(p); call(); }}, {LATE * 1000:.0f}));",
    # getStats that never settles (an SDK's wrapper gone wrong): the harness reads stats with every
    # observation, and must neither wait on them nor take the page for hung.
    "stalled-getstats": "B.addEventListener('click', () => {\n"
                        "  if (window.RTCPeerConnection) {  // WebKitGTK builds without WebRTC have none\n"
                        "    RTCPeerConnection.prototype.getStats = () => new Promise(() => {});\n"
                        "    window.pc = new RTCPeerConnection(); }\n"
                        "  call(); });",
}


def _app(behaviours: dict[str, str]) -> str:
    """The app with a button per behaviour, each wired to its script (B: the button)."""
    buttons = "\n".join(BUTTON.replace("NAME", name) for name in behaviours)
    script = "\n".join(f"{{ const B = $('hostile-{name}');\n{code}\n}}" for name, code in behaviours.items())
    return APP.replace("BUTTONS", buttons).replace("HOSTILE", script)


@dataclass(frozen=True)
class Outcome:
    """What the hostile case must end as, and words its report must carry."""

    status: str  # passed / failed / error (JUnit: error = broken)
    words: tuple[str, ...]
    own: float = 0.0  # seconds the app itself takes, on top of the hostile case's bound


EXPECTED = {
    "alert": Outcome("passed", ("alert", "Microphone blocked: please allow it")),
    "confirm": Outcome("passed", ("confirm", "Retry with the microphone?")),
    "prompt": Outcome("passed", ("prompt", "Describe the problem")),
    "busy-loop": Outcome("error", ("stopped answering",)),
    "navigates-away": Outcome("failed", ("left the app", "other.html")),
    "reloads": Outcome("failed", ("reloaded",)),
    # Not the browser's failure, nor a crash. Before judging, the harness waits (up to 5 s) for news that the
    # browser went down, as Firefox's does after closing a crashed tab; the rerun too.
    "closes-window": Outcome("failed", ("closed its own window", "window.close()"), own=2 * 5.0),
    "popup": Outcome("passed", ("popup", "other.html")),
    "beforeunload": Outcome("passed", ()),
    "disabled-button": Outcome("error", ("'#hostile-disabled-button'", "disabled")),
    "covered-button": Outcome("error", ("'#hostile-covered-button'", "covered", "overlay-covered-button")),
    "missing-button": Outcome("error", ("no element matches '#hostile-missing-button'",)),
    "overlay-goes": Outcome("passed", ()),
    "enabled-late": Outcome("passed", ()),
    "stalled-getstats": Outcome("passed", ()),
    # Twice its own time: a failed case is run again, recording a trace.
    "answers-late": Outcome("failed", ("surfaced too late",), own=2 * LATE),
}
# Where the engine does not let the app do it (measured): Chromium and WebKit keep a window that the harness
# opened, as a user's first tab, open on window.close(), so the app just shows nothing.
EXPECTED_ON = {("closes-window", "chromium"): Outcome("failed", ("nothing surfaced",)),
               ("closes-window", "webkit"): Outcome("failed", ("nothing surfaced",))}
WAIT_AFTER = {"#hostile-answers-late": "#late-answer"}  # button → the element a wait_for step after it waits for
# A hostile case ends within its scenario's bound plus this: the grace after 'within' (as long as 'within'
# here), the harness's reaction to a hung page, the page load and the evidence. A warm-up case starts each
# engine's browser first, so no launch is counted.
SLACK = 12.0
# A run's bound (one engine): a browser launch, and every case within its own bound.
RUN_BOUND = 60 + sum(WITHIN + SLACK + want.own for want in EXPECTED.values())


def _engines() -> list[str]:
    return [engine for engine in ("chromium", "firefox", "webkit") if pick_route(engine)[0] is not None]


def _project(where: Path, behaviours: dict[str, str], cases: list[tuple[str, str]]) -> None:
    """In ``where``: the app with a button per behaviour, and one denied-microphone scenario per (name, button)."""
    (where / "pytest.ini").write_text("[pytest]\naddopts = --strict-markers -p no:cacheprovider\n", encoding="utf-8")
    app = where / "app"
    app.mkdir()
    (app / "index.html").write_text(_app(behaviours), encoding="utf-8")
    (app / "other.html").write_text("<p>Another page</p>", encoding="utf-8")
    (where / "mediafault.yaml").write_text("app:\n  dir: app\n", encoding="utf-8")
    expect = f"{{outcome: permission-denied, within: {WITHIN:g}s}}"
    (where / "scenarios").mkdir()
    (where / "scenarios" / "hostile.yaml").write_text("scenarios:\n" + "".join(
        f"  - name: {name}\n    given: {{permission: {{microphone: denied}}}}\n"
        f"    when: [{{click: \"{button}\"}}{_wait_after(button)}]\n    expect: {expect}\n" for name, button in cases),
        encoding="utf-8")


def _wait_after(button: str) -> str:
    return f", {{wait_for: \"{WAIT_AFTER[button]}\"}}" if button in WAIT_AFTER else ""


def _start(where: Path, engines: list[str]) -> subprocess.Popen[str]:
    """Start a run of the project in ``where`` in a pytest process of its own (as a user would, with its JUnit
    XML in junit.xml)."""
    return subprocess.Popen([sys.executable, "-m", "pytest", *[f"--mf-engine={e}" for e in engines],
                             "--junitxml=junit.xml", "-p", "no:randomly", f"--basetemp={where / 'tmp'}"],
                            cwd=where, env={**os.environ, "HOME": str(where)}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _output(run: subprocess.Popen[str], timeout: float) -> str:
    """What ``run`` printed, once it has ended; a run still going after ``timeout`` is stopped (as a job runner
    would) and fails the test: a hostile case the harness cannot end would leave it waiting for good."""
    try:
        return run.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        run.terminate()
        output = run.communicate(timeout=60)[0]
        pytest.fail(f"the run took more than {timeout:.0f}s:\n{output}")


def _run(where: Path, engines: list[str], timeout: float) -> str:
    """Run the project in ``where`` (see :func:`_start`); its output."""
    return _output(_start(where, engines), timeout)


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


@dataclass(frozen=True, repr=False)
class HostileRun:
    """The runs of every behaviour, one per engine."""

    engines: list[str]
    cases: dict[str, Ended]  # in the order they ran, engine by engine
    output: str

    def __repr__(self) -> str:  # a failure's traceback shows the fixture: its size, not all of it
        return f"HostileRun({len(self.cases)} cases on {', '.join(self.engines)})"


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> HostileRun:
    """Warm-up, then each behaviour's hostile case and a normal case after it, in one run per engine; the
    engines' runs side by side (their cases mostly wait out a bound)."""
    engines = _engines()
    names = list(BEHAVIOURS)
    runs = {}
    for turn, engine in enumerate(engines):
        # Each engine starts at another point of the list, so that the runs side by side do not meet the same
        # behaviour at once: three busy loops spinning together on a small machine starve everything else,
        # and the bounds measured are the harness's, not the machine's.
        start = turn * len(names) // len(engines)
        cases = [("Warm-up", "#call")] + [
            case for name in names[start:] + names[:start]
            for case in ((f"Hostile {name}", f"#hostile-{name}"), (f"After {name}", "#call"))]
        where = tmp_path_factory.mktemp(f"hostile-{engine}")
        _project(where, BEHAVIOURS, cases)
        runs[engine] = (where, _start(where, [engine]))
    output = "".join(_output(run, RUN_BOUND) for _, run in runs.values())
    ended = {name: case for where, _ in runs.values() for name, case in _junit_cases(where / "junit.xml").items()}
    return HostileRun(engines, ended, output)


@pytest.mark.parametrize("behaviour", list(BEHAVIOURS))
def test_hostile_app(hostile_run: HostileRun, behaviour: str) -> None:
    """The hostile case ends in time with a verdict naming what happened; the case right after it, in the same
    browser, passes."""
    cases, output = hostile_run.cases, hostile_run.output
    for engine in hostile_run.engines:
        want = EXPECTED_ON.get((behaviour, engine), EXPECTED[behaviour])
        hostile = cases[f"Hostile {behaviour}[{engine}]"]
        assert hostile.status == want.status, f"{engine}: {hostile.status}, expected {want.status}\n" \
                                              f"{hostile.text}\n{output}"
        for word in want.words:
            assert re.search(re.escape(word), hostile.evidence, re.IGNORECASE), \
                f"{engine}: no {word!r} in\n{hostile.evidence}"
        order = list(cases)
        after = f"After {behaviour}[{engine}]"
        assert order.index(after) == order.index(f"Hostile {behaviour}[{engine}]") + 1, \
            f"{engine}: the case after the hostile one was not {after!r}: {order}"
        assert cases[after].status == "passed", f"{engine}: the next case {cases[after].status}:\n{cases[after].text}"
        assert hostile.seconds <= WITHIN + SLACK + want.own, f"{engine}: the hostile case took {hostile.seconds:.1f}s"


# The renderer is killed from outside, as an OOM killer or a crash would: the click asks a loopback server
# of the test's own, which then kills every renderer process of the run's browsers. Each engine's renderer,
# as its command line names it (measured): Chromium's renderers, Firefox's content processes for web pages
# (not its socket, GPU or utility processes), WebKitGTK's web processes.
RENDERERS = {"chromium": "--type=renderer", "firefox": "-isForBrowser", "webkit": "WebKitWebProcess"}
# A crash is answered as soon as the harness meets it: well before a hung page's bound (WITHIN + SLACK).
CRASH_SLACK = 6.0


def _kill_below(matches: Callable[[bytes], bool]) -> None:
    """SIGKILL the processes below this test whose command line (NUL-separated) ``matches``."""
    for pid in procs.descendants():
        with contextlib.suppress(OSError):
            if matches(Path(f"/proc/{pid}/cmdline").read_bytes()):
                os.kill(pid, signal.SIGKILL)


class _Killer(BaseHTTPRequestHandler):
    engine = ""

    def do_GET(self) -> None:
        """Kill the engine's renderer processes below this test, then answer (nobody is left to read it)."""
        _kill_below(lambda args: RENDERERS[self.engine].encode() in args.replace(b"\0", b" "))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass


@pytest.mark.parametrize("engine", list(RENDERERS))
def test_renderer_crash(tmp_path: Path, engine: str) -> None:
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
        crash = "B.addEventListener('click', () => { $('status').dataset.state = 'calling';\n" \
                "  if (window.RTCPeerConnection) {\n" \
                "    RTCPeerConnection.prototype.getStats = () => new Promise(() => {});\n" \
                "    window.pc = new RTCPeerConnection(); }\n" \
                f"  setTimeout(() => fetch('http://127.0.0.1:{server.server_address[1]}/kill', " \
                "{mode: 'no-cors'}), 200); });"
        _project(tmp_path, {"crash": crash},
                 [("Warm-up", "#call"), ("Renderer crash", "#hostile-crash"), ("Next case", "#call")])
        # Bounded: a crash the harness misses can leave the run waiting for good.
        output = _run(tmp_path, [engine], timeout=120)
    finally:
        server.shutdown()
        server.server_close()
    cases = _junit_cases(tmp_path / "junit.xml")
    crashed = cases[f"Renderer crash[{engine}]"]
    assert crashed.status == "error", f"{crashed.status}, expected error\n{crashed.text}\n{output}"
    assert re.search(r"could not run .*the page crashed", crashed.text), crashed.text
    assert crashed.seconds <= WITHIN + CRASH_SLACK, f"the crashed case took {crashed.seconds:.1f}s"
    nxt = cases[f"Next case[{engine}]"]
    assert nxt.status == "passed", f"the next case {nxt.status}:\n{nxt.text}"


def _kill_firefox() -> None:
    """SIGKILL this test's Firefox parent process (its content processes then go too)."""
    _kill_below(lambda args: b"firefox" in args.split(b"\0", 1)[0] and b"-contentproc" not in args)


def _firefox_page_closed(then_dies: bool) -> tuple[bool, bool, float]:
    """A Firefox page that the app closes (window.close()), its browser then dying a second later or not;
    calls go into the page until one fails. Whether a crash was known when it failed, whether it was after
    :meth:`learn_crash`, and how long that took."""
    from harness.reproduce.engines import playwright_route
    from harness.reproduce.engines.base import LaunchSpec

    route = pick_route("firefox")[0]
    if route is None or not isinstance(route, playwright_route.PlaywrightRoute):
        pytest.skip("no Playwright route for firefox here")
    browser = route.launch(LaunchSpec("firefox", route.name))
    dies = threading.Timer(1.0, _kill_firefox)
    try:
        page = browser.new_page()
        page.goto("data:text/html,<p>app</p>", 10)
        # Closed after the call returns: a close during the call could fail it before the loop below.
        page.evaluate("() => { setTimeout(() => window.close(), 100); }")
        if then_dies:
            dies.start()
        for _ in range(1000):  # each call round-trips to the browser; the close is seen within a few
            try:
                page.evaluate("() => 1")
            except Exception as exc:  # noqa: BLE001 - the failure is the point
                known = page.events.crashed
                t = time.monotonic()
                page.learn_crash(exc)
                return known, page.events.crashed, time.monotonic() - t
        raise AssertionError("calls into the page still work after it closed")
    finally:
        dies.cancel()
        browser.close()
        playwright_route.stop_driver()


def test_firefox_crash_is_learned_when_the_page_closes_first() -> None:
    """Firefox reports the page closed (failing calls into it) before its browser goes down with a dead
    content process; CI saw the renderer crash above reported as "the browser failed" when the kill came
    between two of the harness's reads. Here the page closes and the browser dies a second later: the call
    that failed is told, within the bound, that the page crashed."""
    known, learned, took = _firefox_page_closed(then_dies=True)
    assert not known, "the crash was known before the browser died: this test shows nothing"
    assert learned, "the browser went down after the page closed, and the page was not reported crashed"
    assert 0.5 < took < 5.0, f"learning it took {took:.1f}s"


def test_firefox_page_closed_by_the_app_is_not_a_crash() -> None:
    """An app that closes its own window closes the page alone: that is not reported as a crash."""
    known, learned, took = _firefox_page_closed(then_dies=False)
    assert not known and not learned
    assert took <= 6.0, f"the bounded wait took {took:.1f}s"
