"""End to end in a real Chromium: a correct app passes, a broken one fails with expected vs observed,
and the artifacts (JUnit XML, Allure results) say so."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, BrokenApp, WriteScenario, needs_chromium

pytestmark = [needs_chromium, pytest.mark.browser]

CATALOGUE = ["permission/denied.yaml", "permission/dismissed.yaml", "permission/granted.yaml",
             "device/no-microphone.yaml"]


def copy_catalogue(project: pytest.Pytester) -> None:
    """The built-in permission and device scenarios, copied into the project."""
    for rel in CATALOGUE:
        target = project.path / "scenarios" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text((REPO / "scenarios" / rel).read_text(encoding="utf-8"), encoding="utf-8")


def allure_results(directory: Path) -> list[dict[str, Any]]:
    """Every Allure result JSON in ``directory``."""
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(directory.glob("*-result.json"))]


def test_correct_app_passes_the_catalogue(project: pytest.Pytester) -> None:
    """The bundled app handles every permission and device condition on Chromium; the report proves it."""
    copy_catalogue(project)
    result = project.runpytest_subprocess("--mf-engine", "chromium", "--mf-matrix", "--alluredir=allure",
                                          "--junitxml=junit.xml")
    result.assert_outcomes(passed=len(CATALOGUE))
    result.stdout.fnmatch_lines(["*mediafault: scenario × engine*", "Microphone blocked for the site*pass*"])
    junit = ET.parse(project.path / "junit.xml").getroot()
    cases = list(junit.iter("testcase"))
    assert len(cases) == len(CATALOGUE)
    assert not list(junit.iter("failure"))
    results = allure_results(project.path / "allure")
    assert {r["status"] for r in results} == {"passed"}
    denied = next(r for r in results if r["name"] == "Microphone blocked for the site[chromium]")
    params = {p["name"]: p["value"] for p in denied["parameters"]}
    assert params["engine"] == "'chromium'"
    assert params["permission.microphone"] == "'denied (native)'"
    labels = {(label["name"], label["value"]) for label in denied["labels"]}
    assert ("severity", "critical") in labels and ("tag", "sign-off") in labels
    names = {a["name"] for a in denied["attachments"]}
    assert {"expected vs observed", "console", "time spent (seconds)"} <= names
    # A passing case pays for no screenshot and no trace (--mf-screenshot on-failure, --mf-trace rerun).
    assert "screenshot" not in names and not any(n.startswith("playwright trace") for n in names)
    assert any(n.startswith("scenario (denied.yaml:") for n in names)
    assert "denied.yaml:" in denied["description"]
    environment = (project.path / "allure" / "environment.properties").read_text(encoding="utf-8")
    assert "Browser.chromium=chromium " in environment and "Profile=generic" in environment
    categories = json.loads((project.path / "allure" / "categories.json").read_text(encoding="utf-8"))
    assert "Wrong code" in [c["name"] for c in categories]


def test_swapped_codes_fail_with_expected_vs_observed(project: pytest.Pytester, broken_app: BrokenApp) -> None:
    """An app that reports 'denied' for a dismissed prompt fails (not broken), showing both codes."""
    copy_catalogue(project)
    broken_app("softphone.js", "? 'permission-dismissed' : 'permission-denied'",
               "? 'permission-denied' : 'permission-dismissed'")
    result = project.runpytest_subprocess("--mf-engine", "chromium", "--alluredir=allure", "--junitxml=junit.xml",
                                          "-k", "dismissed")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "scenarios/permission/dismissed.yaml:*: Permission prompt dismissed[[]chromium]: wrong code",
        "*engine chromium via playwright*, conditions native, profile generic",
        "*FAIL*code*'mic-permission-dismissed'*'mic-permission-denied'",
        "*ok*message*'Microphone access needed'*'Microphone access needed'",
    ])
    assert "Traceback" not in result.stdout.str()
    failure = next(ET.parse(project.path / "junit.xml").getroot().iter("failure"))
    assert "scenarios/permission/dismissed.yaml:" in (failure.get("message") or "") + (failure.text or "")
    (res,) = allure_results(project.path / "allure")
    assert res["status"] == "failed"  # an app defect is "failed"; "broken" is for harness problems
    assert "wrong code" in res["statusDetails"]["message"]


@pytest.mark.parametrize(("region", "observed"), [
    ("", "not in a live region"),
    ('role="status" aria-live="polite"', "role=status (polite: announced only when the user is idle)"),
], ids=["no-live-region", "polite-region"])
def test_message_outside_an_alert_region_fails(project: pytest.Pytester, broken_app: BrokenApp, region: str,
                                               observed: str) -> None:
    """Screen-reader users never hear an error outside a live region, and a polite one (role=status) is read
    out only when the user is idle: 'alert: true' fails in both and says which it was."""
    copy_catalogue(project)
    broken_app("index.html", 'role="alert" aria-live="assertive"', region)
    result = project.runpytest_subprocess("--mf-engine", "chromium", "-k", "blocked")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*FAIL*alert region*in role=alert / aria-live=assertive*{observed}"])


def test_recovery_help_fallback_and_telemetry_fields_are_checked(project: pytest.Pytester,
                                                                 broken_app: BrokenApp) -> None:
    """The denied scenario checks what a blocked user needs besides the code: the steps for this browser,
    the text-chat fallback, and a report analytics can sort. An app that reports without the browser and
    hides the chat link fails on exactly those lines."""
    copy_catalogue(project)
    broken_app("softphone.js", "      browser: browser,\n", "")
    broken_app("softphone.js", "ui.chatFallback.hidden = NO_CHAT_FALLBACK.has(outcome);",
               "ui.chatFallback.hidden = true;")
    result = project.runpytest_subprocess("--mf-engine", "chromium", "-k", "blocked")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*ok*help*contains 'Site settings'*Site settings*",
        "*FAIL*fallback*offered*not offered",
        "*FAIL*telemetry*error reported with code, name, browser*without browser",
    ])


def test_waiting_reports_the_last_state_seen(project: pytest.Pytester, write_scenario: WriteScenario) -> None:
    """A state that never comes fails after 'within' with what the app showed last, not a bare timeout."""
    write_scenario("never.yaml", """
        name: Waits for a state that never comes
        engines: [chromium]
        expect:
          state: connected
          within: 1s
    """)
    result = project.runpytest_subprocess()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*: wrong state", "*FAIL*state*'connected'*'ready'"])


def test_parallel_run_gives_the_same_results(project: pytest.Pytester) -> None:
    """-n 2 runs the catalogue with the same outcomes as a serial run."""
    copy_catalogue(project)
    result = project.runpytest_subprocess("--mf-engine", "chromium", "-n", "2")
    result.assert_outcomes(passed=len(CATALOGUE))


def test_cases_on_a_policy_profile_start_without_the_last_cases_site_data(
        project: pytest.Pytester, write_scenario: WriteScenario) -> None:
    """A browser policy needs a persistent profile, which has one context for every case: each case must
    still start with no storage left by the one before, as a fresh context would."""
    app = project.path / "app"
    app.mkdir()
    (app / "index.html").write_text(
        '<p id="status"></p><button id="call">Call</button><script>'
        "const s = document.getElementById('status');"
        "s.dataset.state = localStorage.getItem('seen') ? 'returning' : 'fresh';"
        "localStorage.setItem('seen', '1');</script>", encoding="utf-8")
    (project.path / "mediafault.yaml").write_text("app:\n  dir: app\n", encoding="utf-8")
    for name in ("first", "second", "third"):
        write_scenario(f"{name}.yaml", f"""
            name: Policy case {name}
            engines: [chromium]
            given:
              permission: {{microphone: policy}}
            when: []
            expect: {{state: fresh, within: 3s}}
            """)
    result = project.runpytest_subprocess("--mf-matrix")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["mediafault: engines *; app app (served by the harness); *", "browser launches: 1"])


def test_a_scenario_for_one_profile_skips_under_the_others(project: pytest.Pytester,
                                                           write_scenario: WriteScenario) -> None:
    """`profiles:` limits a scenario to the SDKs it is about: other profiles skip it and say why, the named
    one runs it for real (and can fail)."""
    write_scenario("twilio.yaml", """
        name: Twilio 2 code for a blocked microphone
        engines: [chromium]
        profiles: [twilio-voice@2]
        given:
          permission: {microphone: denied}
        expect: {code: 31401, within: 3s}
        """)
    generic = project.runpytest_subprocess("-rs")
    generic.assert_outcomes(skipped=1)
    generic.stdout.fnmatch_lines(["*written for the app profile(s) twilio-voice@2; this run uses 'generic'*"])
    project.runpytest_subprocess("--mf-profile", "twilio-voice@2").assert_outcomes(passed=1)
    acs = project.runpytest_subprocess("--mf-profile", "acs-calling")
    acs.assert_outcomes(skipped=1)
