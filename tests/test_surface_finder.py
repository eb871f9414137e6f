"""Finding the app's error surface: the hint on a failed code or message check that names the element the
expected text is in and the ``surface:`` setting that reads it, and ``mediafault init`` proposing the
surface from what a real denied call showed. The browser tests use two small pages built differently
(tests/pages/): ``help-desk`` (ids and classes, a role=alert box, the state in data-state) and ``acme-voice``
(built by script, data-testid hooks, an aria-live=assertive region, the state as a word, Twilio 1.x codes)."""

from __future__ import annotations

import functools
import http.server
import shutil
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.app.config import Surface
from harness.cli import scaffold
from harness.run.discover import propose
from harness.run.hints import needles, surface_hints
from harness.run.judge import Check, Expected, Verdict
from harness.scenario.model import TextMatch
from tests.conftest import needs_chromium

PAGES = Path(__file__).parent / "pages"
MEDIAFAULT = [sys.executable, "-m", "harness.cli.main"]


def mf(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command as a user types it, with stdin not a terminal (so init never asks)."""
    return subprocess.run([*MEDIAFAULT, *args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False,
                          stdin=subprocess.DEVNULL)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Static files without a log line per request."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Say nothing."""


@pytest.fixture
def served() -> Iterator[dict[str, str]]:
    """The test pages on a loopback HTTP server of the test's own: page name → its URL."""
    handler = functools.partial(QuietHandler, directory=str(PAGES))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    yield {p.name: f"http://127.0.0.1:{port}/{p.name}/" for p in PAGES.iterdir() if p.is_dir()}
    server.shutdown()
    server.server_close()
    thread.join()


def junit_counts(path: Path) -> tuple[int, int, int]:
    """(tests, failures, errors) of a JUnit XML file."""
    suite = ET.parse(path).getroot()
    suite = suite if suite.tag == "testsuite" else next(suite.iter("testsuite"))
    return int(suite.get("tests", 0)), int(suite.get("failures", 0)), int(suite.get("errors", 0))


# ---------------------------------------------------------------------------------- the choice (pure)

def changed(selector: str, text: str, before: str = "", region: str | None = None, **extra: Any) -> dict[str, Any]:
    """One entry of find.js's ``{changed: true}`` answer."""
    return {"selector": selector, "element": f"<{selector}>", "text": text, "before": before, "region": region,
            **extra}


def test_a_new_token_is_the_code_a_sentence_beside_it_the_message_and_a_changed_state_the_state() -> None:
    """The bundled app's layout: a label 'Error' beside the code, the message and help in the alert, the
    status sentence outside it. The code is the token with digits or separators, the message the first
    sentence in the code's region, the state the element whose data-state changed."""
    found = propose([
        changed("#status", "Microphone blocked", "Idle — press Call", "role=status", attribute="data-state",
                value="failed"),
        changed(".error__title", "Error mic-permission-denied", region="role=alert"),
        changed("#error-code", "mic-permission-denied", region="role=alert"),
        changed("#error-message", "Microphone access needed", region="role=alert"),
        changed("#error-help", "Open Site settings and allow the microphone.", region="role=alert"),
    ], "page", "#call")
    assert found is not None
    assert found.surface == {"code": "#error-code", "message": "#error-message", "state": "#status",
                             "state_attribute": "data-state"}
    assert found.region == "role=alert"


def test_a_word_that_replaced_another_is_the_state_not_the_code() -> None:
    """'idle' → 'error' in a status pill is a state; '31208' that appeared from nothing is the code."""
    found = propose([
        changed(".pill", "error", "idle"),
        changed("[data-testid=m]", "User denied access to microphone.", region="aria-live=assertive"),
        changed("[data-testid=c]", "31208", region="aria-live=assertive"),
    ], "page", "#join")
    assert found is not None
    assert found.surface == {"code": "[data-testid=c]", "message": "[data-testid=m]", "state": ".pill",
                             "state_attribute": None}
    assert not any("note:" in line for line in found.lines())


def test_nothing_error_like_proposes_nothing_and_a_polite_message_is_noted() -> None:
    """A page whose only change is a timer gives no proposal; a message outside an alert region is said."""
    assert propose([changed(".clock", "12:01", "12:00")], "page", "#call") is None
    assert propose([], "page", "#call") is None
    polite = propose([changed(".msg", "Microphone access needed", region="role=status")], "page", "#call")
    assert polite is not None and polite.surface == {"message": ".msg"}
    assert any("'expect.alert: true' would fail" in line for line in polite.lines())


# ------------------------------------------------------------------------------------ the hint (pure)

FAILED = Verdict((Check("code", "'31208'", "(nothing)", False), Check("message", "'Blocked'", "(nothing)", False)),
                 "nothing surfaced")
EXPECTED = Expected(code="31208", message=TextMatch(exact="Blocked"))


def test_the_lookup_asks_only_for_what_failed() -> None:
    """A passing code check is not looked up; a failing message is, with its kind of match."""
    half = Verdict((Check("code", "'31208'", "'31208'", True), Check("message", "'Blocked'", "'x'", False)))
    wanted = needles(EXPECTED, half, Surface())
    assert wanted == [{"key": "message", "exact": "Blocked", "contains": None, "regex": None,
                       "current": "#error-message"}]
    assert needles(EXPECTED, Verdict((Check("code", "'31208'", "'31208'", True),)), Surface()) == []


def test_hints_name_the_element_and_the_setting() -> None:
    """The element and a setting that can be pasted into mediafault.yaml, for the code and the message."""
    hints = surface_hints(EXPECTED, {
        "code": [{"selector": "#err-code", "element": '<span id="err-code">', "text": "31208"}],
        "message": [{"selector": ".msg", "element": '<p class="msg">', "text": "Blocked"}],
    }, Surface())
    assert hints == (
        "the expected code '31208' is on the page in <span id=\"err-code\"> (selector: #err-code); set "
        "surface.code: \"#err-code\" in mediafault.yaml",
        "the expected message 'Blocked' is on the page in <p class=\"msg\"> (selector: .msg); set "
        "surface.message: \".msg\" in mediafault.yaml",
    )


@pytest.mark.parametrize(("hit", "says"), [
    ({"selector": ".err", "element": '<div class="err">', "text": "", "attribute": "data-code"},
     'in the data-code attribute of <div class="err"> (selector: .err); set surface.code: ".err" and '
     "surface.code_attribute: data-code"),
    ({"selector": "p", "element": "<p>", "text": "Error 31208: blocked", "inside": True},
     "only inside the text of <p> ('Error 31208: blocked')"),
    ({"selector": "#c", "element": '<b id="c">', "text": "31208", "configured": True},
     "is the text of the element surface.code picks (<b id=\"c\">), but its data-error-code attribute is read "
     "first; set surface.code_attribute: null"),
    ({"selector": "#c", "element": '<b id="c">', "text": "", "attribute": "data-code", "configured": True},
     "is in the data-code attribute of the element surface.code picks (<b id=\"c\">); set "
     "surface.code_attribute: data-code"),
    ({"selector": None, "element": "<b>", "text": "31208"}, "no short selector picks that element out alone"),
], ids=["attribute", "inside-a-sentence", "attribute-read-first", "other-attribute", "no-selector"])
def test_code_hints_for_each_place_the_code_can_be(hit: dict[str, Any], says: str) -> None:
    """Each place the code can be gets the setting that would read it (or says why none can)."""
    (hint,) = surface_hints(Expected(code="31208"), {"code": [hit]}, Surface())
    assert says in hint


def test_no_hint_when_the_page_does_not_hold_the_expected_text() -> None:
    """A hit whose text is not the expected one (find.js matched loosely), none at all, or the configured
    message element itself, gives no hint: a wrong app must fail without a misleading pointer."""
    assert surface_hints(EXPECTED, {}, Surface()) == ()
    assert surface_hints(EXPECTED, {"code": [{"selector": "#x", "element": "<b>", "text": "31208 and more"}],
                                    "message": [{"selector": ".m", "element": "<p>", "text": "Not blocked at all"}]},
                         Surface()) == ()
    assert surface_hints(EXPECTED, {"message": [{"selector": "#error-message", "element": "<p>", "text": "Blocked",
                                                 "configured": True}]}, Surface()) == ()


def test_the_table_ends_with_the_hints() -> None:
    """The hints travel with the verdict's table: the failure message, the report and the CLI all show it."""
    table = Verdict(FAILED.checks, FAILED.category, ("look in #err-code",)).table()
    assert table.splitlines()[-1] == "  hint: look in #err-code"
    assert "hint" not in FAILED.table()


# ------------------------------------------------------------------------------- init's answers (pure)

PROPOSAL = scaffold.Proposal("http://127.0.0.1:9/app", "#talk",
                             {"code": "#err-code", "message": ".msg", "state": "#phase", "state_attribute": None})


def detect_stub(url: str | None, app_dir: str | None, button: str | None) -> scaffold.Proposal:
    """What a detection would return (the browser side is tested end to end below)."""
    return PROPOSAL


def test_without_a_terminal_the_proposal_is_written_with_where_it_was_seen(tmp_path: Path) -> None:
    """CI: the detected selectors and call button are the answers, and the config says they were detected
    and on which page; a flag still wins over the proposal."""
    answers = scaffold.gather({"url": "http://127.0.0.1:9/app", "message": ".flagged"}, None, detect_stub)
    assert answers.surface == {"code": "#err-code", "message": ".flagged", "state": "#phase",
                               "state_attribute": None}
    assert answers.call_button == "#talk"
    config = scaffold.files_for(answers, tmp_path)[tmp_path / "mediafault.yaml"]
    assert "# surface: detected by 'mediafault init' on http://127.0.0.1:9/app:" in config
    assert "after a click on #talk" in config
    assert yaml.safe_load(config)["app"]["surface"]["code"] == "#err-code"
    starter = scaffold.files_for(answers, tmp_path)[tmp_path / "scenarios" / "permission" / "blocked.yaml"]
    assert 'click: "#talk"' in starter


def test_on_a_terminal_the_proposal_is_the_default_the_user_confirms(tmp_path: Path) -> None:
    """Each proposed selector is the default of its question; an empty answer keeps it, a typed one wins,
    and a confirmed config does not claim to be unconfirmed."""
    asked: dict[str, str] = {}

    def ask(question: str, default: str) -> str:
        asked[question] = default
        return ".typed" if question.startswith("CSS selector of the element that shows the error message") else default

    answers = scaffold.gather({"url": "http://127.0.0.1:9/app", "profile": "generic"}, ask, detect_stub)
    defaults = list(asked.values())
    assert defaults[:5] == ["#err-code", "data-error-code", ".msg", "#phase", "-"]
    assert asked["CSS selector of the button that starts a call (the scenarios click it)"] == "#talk"
    assert answers.surface == {"code": "#err-code", "message": ".typed", "state": "#phase", "state_attribute": None}
    assert "detected" not in scaffold.files_for(answers, tmp_path)[tmp_path / "mediafault.yaml"]


def test_a_failed_detection_leaves_the_defaults(tmp_path: Path) -> None:
    """No proposal: the defaults, and no state questions (they are asked only about a detected state)."""
    answers = scaffold.gather({"app_dir": str(PAGES / "help-desk")}, None, lambda *a: None)
    assert answers.surface == {} and answers.call_button == "#call" and answers.detected_from is None


# ---------------------------------------------------------------------------------- in a real browser

HELP_DESK = {"code": "#err-code", "message": ".msg", "state": "#phase"}
ACME = {"code": '[data-testid="error-code"]', "message": '[data-testid="error-text"]',
        "state": '[data-testid="call-status"]', "state_attribute": None}


@needs_chromium
@pytest.mark.browser
@pytest.mark.parametrize(("page", "how", "profile", "surface"), [
    ("help-desk", "--app-dir", "generic", HELP_DESK),
    ("acme-voice", "--url", "twilio-voice@1", ACME),
], ids=["ids-and-classes-by-dir", "data-testid-built-by-script-by-url"])
def test_init_detects_the_surface_and_the_starter_scenarios_pass(tmp_path: Path, served: dict[str, str], page: str,
                                                                 how: str, profile: str,
                                                                 surface: dict[str, Any]) -> None:
    """init opens the page, denies the microphone, clicks the one call button and writes the selectors of
    what appeared; the starter scenarios then pass on Chromium with no hand editing."""
    where = served[page] if how == "--url" else str(PAGES / page)
    init = mf("init", how, where, "--profile", profile, "--no-input", cwd=tmp_path)
    assert init.returncode == 0, init.stdout + init.stderr
    assert "clicked " in init.stdout and "could not detect" not in init.stderr
    text = (tmp_path / "mediafault.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(text)["app"]["surface"] == surface
    shown = where if how == "--url" else f"the files in {where} (served on loopback)"
    assert f"# surface: detected by 'mediafault init' on {shown}:" in text
    run = mf("run", "--engine", "chromium", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert junit_counts(tmp_path / "reports" / "junit.xml") == (6, 0, 0)
    assert "6 passed" in run.stdout and "hint:" not in run.stdout


def _init_defaults(tmp_path: Path, app: Path) -> None:
    """A project for ``app`` with the default surface, as init wrote it before it could look."""
    result = mf("init", "--app-dir", str(app), "--call-button", "#talk", "--no-detect", "--no-input", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "surface" not in yaml.safe_load((tmp_path / "mediafault.yaml").read_text(encoding="utf-8"))["app"]


HINT_CODE = ("hint: the expected code 'mic-permission-denied' is on the page in <span id=\"err-code\"> (selector: "
             "#err-code); set surface.code: \"#err-code\" in mediafault.yaml")
HINT_MESSAGE = ("hint: the expected message 'Microphone access needed' is on the page in <p class=\"msg\"> "
                "(selector: .msg); set surface.message: \".msg\" in mediafault.yaml")


@needs_chromium
@pytest.mark.browser
def test_a_misconfigured_surface_fails_with_where_the_code_is(tmp_path: Path) -> None:
    """With the default selectors the denied case fails 'nothing surfaced' and says where the code and the
    message are, and which settings read them, in the output and in the JUnit failure; with those settings
    the case passes and no hint is given; an app that shows neither fails without a hint."""
    _init_defaults(tmp_path, PAGES / "help-desk")
    case = ["scenarios/permission/blocked.yaml", "--", "-k", "site"]
    failed = mf("run", "--engine", "chromium", *case, cwd=tmp_path)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Microphone blocked for the site[chromium]: nothing surfaced" in failed.stdout
    assert HINT_CODE in failed.stdout and HINT_MESSAGE in failed.stdout
    failure = next(ET.parse(tmp_path / "reports" / "junit.xml").getroot().iter("failure"))
    assert HINT_CODE in (failure.get("message") or "") + (failure.text or "")

    config = tmp_path / "mediafault.yaml"
    config.write_text(config.read_text(encoding="utf-8") + '  surface:\n    code: "#err-code"\n    message: ".msg"\n',
                      encoding="utf-8")
    fixed = mf("run", "--engine", "chromium", *case, cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "hint:" not in fixed.stdout

    broken = tmp_path / "broken"
    shutil.copytree(PAGES / "help-desk", broken)
    page = broken / "index.html"
    page.write_text(page.read_text(encoding="utf-8").replace(
        "const [code, message] = ERRORS[err.name] || ", "const [code, message] = "), encoding="utf-8")
    (tmp_path / "mediafault.yaml").write_text(f"app:\n  dir: {broken}\n", encoding="utf-8")
    wrong = mf("run", "--engine", "chromium", *case, cwd=tmp_path)
    assert wrong.returncode == 1, wrong.stdout + wrong.stderr
    assert "nothing surfaced" in wrong.stdout and "hint:" not in wrong.stdout


def _webkit_route() -> bool:
    from harness.reproduce.engines import pick_route

    route, _ = pick_route("webkit", None, None)
    return route is not None


@pytest.mark.browser
@pytest.mark.skipif(not _webkit_route(), reason="no WebKit route here (apt-get install webkit2gtk-driver xvfb)")
def test_the_hint_works_on_webkit_too(tmp_path: Path) -> None:
    """The lookup is one evaluate in the page, so the WebDriver route (WebKitGTK) gives the same hint."""
    _init_defaults(tmp_path, PAGES / "help-desk")
    failed = mf("run", "--engine", "webkit", "scenarios/permission/blocked.yaml", "--", "-k", "site",
                cwd=tmp_path)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Microphone blocked for the site[webkit]: nothing surfaced" in failed.stdout
    assert HINT_CODE in failed.stdout and HINT_MESSAGE in failed.stdout


@needs_chromium
@pytest.mark.browser
@pytest.mark.parametrize(("body", "says"), [
    ('<button id="go" type="button">Go</button>',
     "no visible button whose text looks like call, start, join or dial; give the call button with --call-button"),
    ('<button id="call" type="button">Call</button><script>document.getElementById("call").onclick = () => '
     'navigator.mediaDevices.getUserMedia({audio: true}).catch(() => {});</script>',
     "the microphone was refused after clicking #call, but nothing that looks like an error code or message "
     "appeared on"),
], ids=["no-call-button", "shows-nothing"])
def test_a_failed_detection_says_why_in_one_line_and_writes_the_defaults(tmp_path: Path, body: str,
                                                                         says: str) -> None:
    """Detection is a help, not a requirement: when it cannot tell, init says why in one line on stderr and
    writes today's defaults."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "index.html").write_text(f"<!doctype html><html><body>{body}</body></html>", encoding="utf-8")
    init = mf("init", "--app-dir", str(app), "--no-input", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    (line,) = init.stderr.splitlines()
    assert line.startswith("mediafault init: could not detect the error surface: ") and says in line, line
    assert line.endswith("writing the default surface: selectors (see docs/your-own-app.md to set them)")
    assert "surface" not in yaml.safe_load((tmp_path / "mediafault.yaml").read_text(encoding="utf-8"))["app"]
