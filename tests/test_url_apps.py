"""An app served by another process, named by ``app.url``, on every engine and route: the bundled app gets
the same matrix as when the harness serves it, and an app that needs its own origin (cookie, CORS, service
worker, websocket; over http and over https with a certificate no browser trusts) keeps it. On the Selenium
routes that is the loopback proxy's doing, and each case says what it did to the app."""

from __future__ import annotations

import re
import socket
import sys
from pathlib import Path

import pytest

from harness.app.server import INSECURE_HOST
from harness.reproduce.engines import pick_route
from tests.conftest import REPO, attachments, bundled_app_by_url, process, run

pytestmark = pytest.mark.browser

SELENIUM_ROUTES = [("webkit", "selenium-webkitgtk"), ("chromium", "selenium-chromedriver")]
ORIGIN_APP = Path(__file__).parent / "originapp"
PROXY_NOTE = re.compile(r"mediafault's proxy \((127\.0\.0\.1:\d+)\) inserted its observer script into ([1-9]\d*) "
                        r"HTML responses? of (\S+)")
FRONT_NOTE = re.compile(r"the app was reached through mediafault's (https|http) front [^@]*? at "
                        rf"((?:https://127\.0\.0\.1|http://{re.escape(INSECURE_HOST)}):(\d+)/index\.html), "
                        r"forwarding to (\S+) with the "
                        r"app's own Host header: ([1-9]\d*) requests? over (https|plain http)")
ORIGIN_SCENARIOS = [str(REPO / "scenarios" / "page" / name) for name in ("https.yaml", "insecure-origin.yaml")]
ALL_ENGINES = ["--mf-engine", "chromium", "--mf-engine", "firefox", "--mf-engine", "webkit"]


def need(engine: str, route: str) -> None:
    """Skip, saying why, when this machine has no such route."""
    found, info = pick_route(engine, route)
    if found is None:
        pytest.skip(f"{engine} via {route} is not available here: {info.reason}")


@pytest.mark.parametrize(("engine", "route"), SELENIUM_ROUTES, ids=[r for _, r in SELENIUM_ROUTES])
def test_bundled_app_by_url_gets_the_same_matrix(pytester: pytest.Pytester, engine: str, route: str) -> None:
    """The bundled app served by ``python -m http.server`` (no ?profile=&case=: it then uses the generic
    profile, as the run does) passes and skips exactly as when the harness serves it, the page origin cases
    too (through mediafault's front); every case's evidence says what the proxy did, and to which URL.

    "As when the harness serves it" is read from the plan (what the run skips is planned; the rest passes:
    test_matrix.py runs these cases with the harness serving the app on every route, so they are not run a
    second time here)."""
    need(engine, route)
    paths = [REPO / "scenarios" / area for area in ("permission", "device", "page")]
    served = _as_served(paths, engine, route)
    with bundled_app_by_url() as url:
        result, by_url, allure = run(pytester, "url", *map(str, paths), "--mf-engine", engine, "--mf-route",
                                     f"{engine}={route}", "--mf-app-url", url)
    assert by_url.keys() == served.keys()
    assert any(status == "passed" for status in by_url.values())
    for name, skip in served.items():
        assert by_url[name] == "passed" if skip is None else by_url[name] == f"skipped: {skip}", \
            (name, by_url[name], skip)
    notes = attachments(allure, "what mediafault did to the app")
    assert len(notes) == sum(status == "passed" for status in by_url.values()) > 0
    for note in notes:
        found = PROXY_NOTE.search(note)
        front = FRONT_NOTE.search(note)
        assert found and found.group(3) == (front.group(2) if front else url), note
    # The run is over: the proxy it used listens no more.
    address = PROXY_NOTE.search(notes[0]).group(1)  # type: ignore[union-attr]
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", int(address.split(":")[1])), timeout=5)
    assert "Traceback" not in result.stdout.str()


def _as_served(paths: list[Path], engine: str, route: str) -> dict[str, str | None]:
    """Each case of ``paths`` on ``engine`` via ``route`` with the harness serving the app, by its JUnit name:
    its skip reason, or None when it runs."""
    from harness.app.profiles import get_profile
    from harness.run.plan import plan_case
    from harness.scenario.loader import load_paths

    scenarios, errors = load_paths(paths)
    assert not errors
    plans = [plan_case(s, engine, get_profile("generic"), forced_route=route) for s in scenarios
             if engine in s.scenario.engines]
    return {plan.name: plan.skip_reason for plan in plans}


ENGINE_RUNS = [("playwright", ["--mf-engine", "chromium", "--mf-engine", "firefox", "--mf-engine", "webkit"]),
               ("selenium-chromium", ["--mf-engine", "chromium", "--mf-route", "chromium=selenium-chromedriver"])]


@pytest.mark.parametrize("tls", [False, True], ids=["http", "https-untrusted"])
@pytest.mark.parametrize(("label", "engines"), ENGINE_RUNS, ids=[label for label, _ in ENGINE_RUNS])
def test_app_keeps_its_own_origin(pytester: pytest.Pytester, tls: bool, label: str, engines: list[str]) -> None:
    """Cookie, CORS from a second loopback origin, service worker and websocket all work under mediafault
    on every engine (WebKit and the Selenium Chromium through the proxy, the others through init
    scripts), over http and over https whose certificate no browser trusts; no warning page stops it."""
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "origin.yaml").write_text((ORIGIN_APP / "origin.yaml").read_text(), "utf-8")
    server = [sys.executable, "-u", str(ORIGIN_APP / "serve.py"), *(["--tls"] if tls else [])]
    with process(server, re.compile(r'"app": "([^"]+)"')) as url:
        result, by_url, allure = run(pytester, "origin", "--mf-app-url", url, *engines)
    engines_run = {name.split("[")[1].rstrip("]") for name in by_url}
    assert engines_run, result.stdout.str()
    for name, status in by_url.items():
        assert status == "passed" or ("skipped" in status and "not available here" in status), (name, status)
    assert any(status == "passed" for status in by_url.values()), by_url
    if label == "selenium-chromium" or "webkit" in engines_run:
        notes = attachments(allure, "what mediafault did to the app")
        assert notes and all(PROXY_NOTE.search(n) for n in notes), notes
        assert all("Content-Security-Policy of 1 of them" in n for n in notes), notes  # the app's own CSP


@pytest.mark.parametrize("broken", ["cookie", "cors", "sw", "ws"])
def test_origin_check_fails_when_the_app_breaks(pytester: pytest.Pytester, broken: str) -> None:
    """The scenario is not a formality: with any one of the four broken in the app, it fails on WebKit
    (through the proxy), and the state it shows names what broke."""
    need("webkit", "selenium-webkitgtk")
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "origin.yaml").write_text((ORIGIN_APP / "origin.yaml").read_text(), "utf-8")
    server = [sys.executable, "-u", str(ORIGIN_APP / "serve.py"), "--break", broken]
    with process(server, re.compile(r'"app": "([^"]+)"')) as url:
        result, by_url, _ = run(pytester, "broken", "--mf-app-url", url, "--mf-engine", "webkit")
    (status,) = by_url.values()
    assert status.startswith("failure"), status
    result.stdout.fnmatch_lines([f"*FAIL*state*'cookie ok cors ok sw ok ws ok'*{broken} failed*"])


def test_page_origins_of_a_url_app_give_the_same_results_as_app_dir(pytester: pytest.Pytester) -> None:
    """The https and insecure-origin scenarios against the bundled app served by another process pass on all
    three engines, as with app.dir (test_matrix.py's proof, not run a second time here): each case's page came
    through mediafault's front (https at 127.0.0.1, or plain http by the name insecure.mediafault.test), to the app's
    own URL, and the front listens no more after the run."""
    with bundled_app_by_url() as url:
        result, by_url, allure = run(pytester, "url", *ORIGIN_SCENARIOS, *ALL_ENGINES, "--mf-app-url", url)
    assert len(by_url) == len(ORIGIN_SCENARIOS) * len(ALL_ENGINES) // 2, by_url  # one scenario a file, each engine
    passed = [name for name, status in by_url.items() if status == "passed"]
    assert all(status == "passed" or "not available here" in status for status in by_url.values()), by_url
    assert passed, by_url
    notes = attachments(allure, "what mediafault did to the app")
    fronts = [FRONT_NOTE.search(note) for note in notes]
    assert len(notes) == len(passed) and all(fronts), notes
    kinds = sorted((f.group(1), f.group(6)) for f in fronts if f)
    assert kinds == sorted(("https", "https") if "App served over https" in name else ("http", "plain http")
                           for name in passed), kinds
    assert all(f.group(4) == url for f in fronts if f)
    for port in {int(f.group(3)) for f in fronts if f}:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=5)
    assert "Traceback" not in result.stdout.str()


def test_insecure_origin_through_the_front_fails_an_app_that_ignores_it(pytester: pytest.Pytester,
                                                                         tmp_path: Path) -> None:
    """The insecure-origin scenario is no formality through the front: the app variant that never checks
    isSecureContext fails it on every engine, as it does with app.dir. (That the front's page is really not a
    secure context is the correct app's test above: served by the front at 127.0.0.1, it fails there.)"""
    from harness.app.variants import materialize

    broken = materialize("no-https-check", tmp_path)
    with bundled_app_by_url(broken) as url:
        result, by_url, _ = run(pytester, "broken", ORIGIN_SCENARIOS[1], *ALL_ENGINES, "--mf-app-url", url)
    ran = {name: status for name, status in by_url.items() if "not available here" not in status}
    assert ran and all(status.startswith("failure") for status in ran.values()), by_url
    result.stdout.fnmatch_lines(["*Page served over plain http*"])


def test_https_app_url_keeps_its_own_url_and_cannot_be_insecure(pytester: pytest.Pytester) -> None:
    """An app.url that already is https: page.origin https runs against it as is (cookie, CORS, service
    worker and websocket all work, which they would not at another origin), and plain http by name is
    skipped with the reason on every engine, decided when the case is planned."""
    (pytester.path / "scenarios").mkdir()
    text = (ORIGIN_APP / "origin.yaml").read_text("utf-8")
    for name, origin in (("Own https", "https"), ("Plain http by name", "http-insecure")):
        (pytester.path / "scenarios" / f"{origin}.yaml").write_text(
            text.replace("The app keeps its own origin", name)
                .replace("when: []", f"given:\n  page: {{origin: {origin}}}\nwhen: []"), "utf-8")
    server = [sys.executable, "-u", str(ORIGIN_APP / "serve.py"), "--tls"]
    with process(server, re.compile(r'"app": "([^"]+)"')) as url:
        result, by_url, _ = run(pytester, "https-url", "--mf-app-url", url, *ALL_ENGINES)
    own = {name: status for name, status in by_url.items() if name.startswith("Own https")}
    assert own and all(s == "passed" or "not available here" in s for s in own.values()), by_url
    assert "passed" in own.values(), by_url
    insecure = {name: status for name, status in by_url.items() if name.startswith("Plain http by name")}
    assert len(insecure) == 3, by_url
    for status in insecure.values():
        assert status.startswith("skipped") and "an https server cannot be reached over plain http" in status, status
    assert "Traceback" not in result.stdout.str()
