"""Network scenarios against an app named by ``app.url``: the lab forwards the app's own loopback address
and port into the browser's namespace, so the bundled app served by another process gets the same
results as when the lab serves it, on Chromium and Firefox; the forwarder carries that port only and
goes with the lab; an app the lab has no route to is skipped with the reason, before anything starts."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.core.errors import EnvironmentProblem
from harness.reproduce.engines import pick_route
from harness.reproduce.netlab.lab import NetLab, app_url_problem, userns_available
from harness.run.target import with_query
from tests.conftest import BUNDLED_APP, REPO, bundled_app_by_url, process, run
from tests.test_cli import mf

NETWORK_PATHS = [str(REPO / "scenarios" / "network"), str(REPO / "scenarios" / "mid-call")]
STAGING = "https://staging.example.com/call"
NO_ROUTE = "the network lab has no route to staging.example.com"
needs_lab = pytest.mark.skipif(os.geteuid() != 0 and not userns_available(),
                               reason="the network lab needs root or unprivileged user namespaces")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="this test enters the lab's named namespaces (root)")


def case_times(junit: Path) -> dict[str, float]:
    """Test name → seconds, from a JUnit file."""
    return {case.get("name", ""): float(case.get("time", "0")) for case in ET.parse(junit).getroot().iter("testcase")}


def opened_pages(allure: Path) -> list[str]:
    """The page every case opened (its 'open URL' step) in the Allure results."""
    pages = []
    for result in allure.glob("*-result.json"):
        steps = json.loads(result.read_text(encoding="utf-8")).get("steps", [])
        while steps:
            step = steps.pop()
            if step.get("name", "").startswith("open "):
                pages.append(step["name"][len("open "):])
            steps.extend(step.get("steps", []))
    return pages


@needs_lab
@pytest.mark.browser
@pytest.mark.parametrize("engine", ["chromium", "firefox"])
def test_network_scenarios_by_url_match_app_dir(pytester: pytest.Pytester, engine: str) -> None:
    """The catalogue's network cases, on the bundled app served by ``python -m http.server`` and given as
    app.url, all pass, as they do when the lab serves the app itself (tests/test_matrix.py runs those on
    every route, so they are not run a second time here); every case opened the app at its own URL with the
    lab's parameters appended (the lab's peer serves no files then, so the page can only have come through
    the forwarder)."""
    found, info = pick_route(engine)
    if found is None:
        pytest.skip(f"{engine} is not available here: {info.reason}")
    with bundled_app_by_url() as url:
        # Two workers, as ./bootstrap run: the network cases mostly wait on ICE timers (99-109 s one after the
        # other on the 2-core reference machine). On Chromium in three lanes, a user's default on 2 cores (each
        # lane forwards to the app by itself); on Firefox one at a time in each worker (as test_matrix.py runs
        # them), so that both ways are run without loading the suite's cores with two runs in lanes.
        lanes = "3" if engine == "chromium" else "1"
        result, by_url, allure = run(pytester, "url", *NETWORK_PATHS, "-m", "network", "-n", "2", "--mf-lanes", lanes,
                                     "--mf-engine", engine, "--mf-app-url", url)
    assert by_url, result.stdout.str()
    assert {name: status for name, status in by_url.items() if status != "passed"} == {}, result.stdout.str()
    pages = opened_pages(allure)
    assert len(pages) == len(by_url), pages
    for page in pages:  # the TURN password, where there is one, is redacted in what reports show
        assert page.startswith(f"{url}?signal="), page
        assert "credential" not in page or re.search(r"credential%22%3A\+%22(not-)?\*\*\*%22", page), page
    assert "Traceback" not in result.stdout.str()
    times = case_times(pytester.path / "junit-url.xml")
    rows = [f"{seconds:7.1f}  {name}" for name, seconds in times.items()]
    print("seconds per case with app.url\n" + "\n".join(rows))  # shown with -s: the cost of the forwarder


@needs_root
def test_forwarder_carries_the_apps_port_only_and_goes_with_the_lab() -> None:
    """Inside the browser's namespace the app answers at its own address and port (as localhost too, also
    when its server listens on [::1] only, as Node dev servers often do); another server on the host's
    loopback is not reachable from there; an app that is not running is named before any case; after the
    lab stops, nothing of the forwarder is left."""
    probe = ("import sys, urllib.request\n"
             "for url in sys.argv[1:]:\n"
             "    try:\n"
             "        print(url, urllib.request.urlopen(url, timeout=10).status)\n"
             "    except OSError as exc:\n"
             "        print(url, type(exc.reason if hasattr(exc, 'reason') else exc).__name__)\n")
    v6_server = [sys.executable, "-u", "-m", "http.server", "--bind", "::1", "0", "--directory", str(BUNDLED_APP)]
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        not_running = f"http://localhost:{free.getsockname()[1]}/"
    with bundled_app_by_url() as app, bundled_app_by_url() as other, \
            process(v6_server, re.compile(r"port (\d+)")) as v6_port:
        lab = NetLab(None)
        lab.start()
        try:
            v6_app = f"http://localhost:{v6_port}/index.html"
            for url in (app, v6_app):
                lab.forward_app(url)
            with pytest.raises(EnvironmentProblem, match=rf"nothing answers at {not_running[:-1]} \(127\.0\.0\.1 "
                               r"and ::1 port \d+: Connection refused\): start the app's server before the run"):
                lab.forward_app(not_running)
            localhost = app.replace("127.0.0.1", "localhost")
            inside = subprocess.run(["ip", "netns", "exec", lab.client_ns, sys.executable, "-c", probe, app, localhost,
                                     v6_app, other], capture_output=True, text=True, timeout=60, check=False)
            listed = subprocess.run(["ps", "-eww", "-o", "args"], capture_output=True, text=True, check=True).stdout
            assert re.search(rf"netlab\.inlab --socket \S*{lab.tag}\S* --forward 127\.0\.0\.1:\d+", listed)
        finally:
            lab.stop()
    assert inside.stdout.splitlines() == [f"{app} 200", f"{localhost} 200", f"{v6_app} 200",
                                          f"{other} ConnectionRefusedError"], inside.stdout + inside.stderr
    listed = subprocess.run(["ps", "-eww", "-o", "args"], capture_output=True, text=True, check=True).stdout
    assert lab.tag not in listed
    assert not lab.dir.exists()


def test_which_app_urls_the_lab_can_forward() -> None:
    """Loopback IPv4 (by name or address) is forwarded; IPv6 loopback and other hosts say why not."""
    for url in ("http://localhost:5173/call", "http://127.0.0.1:8000/", "https://127.0.0.2:8443/app"):
        assert app_url_problem(url) is None, url
    assert "IPv4 only" in (app_url_problem("http://[::1]:5173/") or "")
    assert (app_url_problem(STAGING) or "").startswith(f"{NO_ROUTE}; network scenarios with app.url need an app "
                                                       "on this machine (localhost/127.0.0.1)")
    assert "no route to 10.0.0.5" in (app_url_problem("http://10.0.0.5:5173/") or "")


def test_lab_parameters_keep_the_apps_own_query_and_fragment() -> None:
    """The lab's parameters are added to the app's URL; its own query and fragment stay."""
    params = {"signal": "http://10.237.0.2:8080/offer", "ice": '{"iceServers": []}'}
    assert with_query("http://localhost:5173/call?room=7#top", params) == (
        "http://localhost:5173/call?room=7&signal=http%3A%2F%2F10.237.0.2%3A8080%2Foffer"
        "&ice=%7B%22iceServers%22%3A+%5B%5D%7D#top")
    assert with_query("http://localhost:5173", {"a": "1"}) == "http://localhost:5173/?a=1"


def test_app_url_off_this_machine_skips_network_cases_with_the_reason(pytester: pytest.Pytester) -> None:
    """'mediafault list --app-url' and the run say, for each network case and only those, that the lab has
    no route to the app; the run skips them before any lab or browser starts."""
    listed = mf("list", *NETWORK_PATHS, "--engine", "chromium", "--app-url", STAGING)
    assert listed.returncode == 0, listed.stderr
    cases = re.findall(r"^(\S.*\[chromium\])  \[(\w+)\]\n((?:    .*\n)*)", listed.stdout, re.MULTILINE)
    assert cases
    for name, _, body in cases:
        network = "network=" in body or "drop-network" in body
        assert (f"skipped: {NO_ROUTE}" in body) == network, (name, body)
    assert any(f"skipped: {NO_ROUTE}" not in body for _, _, body in cases)  # the mid-call cases without the lab
    _, by_url, _ = run(pytester, "staging", str(REPO / "scenarios" / "network" / "relay.yaml"), "--mf-engine",
                       "chromium", "--mf-app-url", STAGING)
    assert by_url and all(status.startswith("skipped") and NO_ROUTE in status for status in by_url.values()), by_url
