"""The judge is pure: expectations and observations in, a verdict with its category out."""

from __future__ import annotations

from harness.app.profiles import builtin_profiles
from harness.run.judge import Expected, judge, resolve
from harness.run.observation import Observation, Snapshot
from harness.run.runner import PageTracker
from harness.scenario.model import Expect, TextMatch


def obs(code: str | None = None, message: str | None = None, region: str | None = "role=alert",
        state: str | None = "failed") -> Observation:
    """An observation with the given surface."""
    return Observation(snapshot=Snapshot(code, message, region, state))


def test_outcome_resolves_through_the_profile() -> None:
    """'permission-denied' means 31401 in Twilio Voice 2 and a generic code elsewhere."""
    twilio = resolve(Expect(outcome="permission-denied"), builtin_profiles()["twilio-voice@2"])
    assert twilio.code == "31401"
    assert twilio.message is not None and twilio.message.matches(
        "PermissionDeniedError (31401): The browser or end-user denied permissions to user media. "
        "Therefore we were unable to acquire input audio.")
    generic = resolve(Expect(outcome="permission-denied"), builtin_profiles()["generic"])
    assert generic.code == "mic-permission-denied"


def test_explicit_code_overrides_the_profile() -> None:
    """A scenario can pin a code the profile does not say."""
    expected = resolve(Expect(outcome="permission-denied", code=31208), builtin_profiles()["twilio-voice@2"])
    assert expected.code == "31208"


def test_pass_and_categories() -> None:
    """Wrong code, wrong message and nothing surfaced are told apart."""
    exp = Expected(code="31208", message=TextMatch(contains="denied"), alert=True)
    assert judge(exp, obs("31208", "User denied access")).passed
    assert judge(exp, obs("31201", "User denied access")).category == "wrong code"
    assert judge(exp, obs("31208", "Something went wrong")).category == "wrong message"
    assert judge(exp, obs(None, None)).category == "nothing surfaced"
    assert judge(exp, obs("31208", "User denied access", region=None)).category == "wrong alert region"


def test_no_error_expected() -> None:
    """'outcome: none' fails when any error is shown."""
    exp = Expected(no_error=True, state="ready")
    assert judge(exp, obs(state="ready")).passed
    assert judge(exp, obs("x", "boom", state="ready")).category == "unexpected error"


def test_telemetry_must_carry_the_expected_code() -> None:
    """A report with another code does not count."""
    exp = Expected(code="31208", telemetry=True)
    seen = obs("31208", "m")
    seen.telemetry = [{"code": "31201"}]
    assert not judge(exp, seen).passed
    seen.telemetry.append({"code": "31208"})
    assert judge(exp, seen).passed


def test_table_shows_expected_and_observed() -> None:
    """The table is what people read in the failure; it names both sides."""
    verdict = judge(Expected(code="31208"), obs("31201", "m"))
    table = verdict.table()
    assert "FAIL" in table and "'31208'" in table and "'31201'" in table


def test_regex_and_exact_matching() -> None:
    """Plain strings match exactly (ignoring surrounding space); regex searches."""
    assert TextMatch.model_validate("Microphone access needed").matches("  Microphone access needed ")
    assert not TextMatch.model_validate("Microphone access needed").matches("Microphone access needed!")
    assert TextMatch(regex=r"^Error .* \(.*\)$").matches("Error occurred: NotFoundError (x)")
    assert not TextMatch(contains="x").matches(None)


def test_states_must_appear_in_order() -> None:
    """A call that recovers passes through reconnecting and back; other states may come between."""
    exp = Expected(states=("connected", "reconnecting", "connected"))
    seen = ["idle", "connecting", "connected", "reconnecting", "connected"]
    assert judge(exp, Observation(states=seen)).passed
    never_back = judge(exp, Observation(states=seen[:-1]))
    assert not never_back.passed
    (check,) = never_back.checks
    assert check.expected == "connected → reconnecting → connected"
    assert check.observed == "idle → connecting → connected → reconnecting"
    assert not judge(exp, Observation(states=["reconnecting", "connected"])).passed  # never connected first


def test_warning_is_one_of_the_codes_shown() -> None:
    """An app may show several warnings at once (space-separated codes); 'none' means none at all."""
    both = Observation(snapshot=Snapshot(warning="high-rtt high-packet-loss"))
    assert judge(Expected(warning="high-packet-loss"), both).passed
    assert not judge(Expected(warning="high-jitter"), both).passed
    assert not judge(Expected(warning="none"), both).passed
    assert judge(Expected(warning="none"), Observation()).passed


def test_help_is_checked_with_the_text_for_the_engine() -> None:
    """Recovery steps differ per browser: the scenario's text for this engine is the one checked, and an
    engine the mapping leaves out is not checked at all."""
    expect = Expect(outcome="permission-denied", help={"chromium": {"contains": "Site settings"},
                                                       "firefox": {"contains": "Permissions"}})
    profile = builtin_profiles()["generic"]
    chromium, webkit = resolve(expect, profile, "chromium"), resolve(expect, profile, "webkit")
    assert webkit.help is None
    seen = Observation(snapshot=Snapshot("mic-permission-denied", "Microphone access needed", "role=alert",
                                         help="Click the lock icon → Permissions → Microphone → Allow"))
    verdict = judge(chromium, seen)
    assert verdict.category == "wrong help"
    assert [c.observed for c in verdict.checks if c.what == "help"] == [
        "'Click the lock icon → Permissions → Microphone → Allow'"]
    assert judge(resolve(expect, profile, "firefox"), seen).passed


def test_fallback_offered_or_not() -> None:
    """A hidden fallback link is not an offered one."""
    assert judge(Expected(fallback=True), Observation(snapshot=Snapshot(fallback=True))).passed
    assert judge(Expected(fallback=True), Observation(snapshot=Snapshot(fallback=False))).category == "wrong fallback"
    assert judge(Expected(fallback=False), Observation(snapshot=Snapshot(fallback=False))).passed


def test_polite_region_is_not_an_alert() -> None:
    """role=status waits until the user is idle: an error there is announced, but not as an alert."""
    exp = Expected(alert=True)
    assert judge(exp, obs("c", "m", region="aria-live=assertive")).passed
    verdict = judge(exp, obs("c", "m", region="role=status"))
    assert not verdict.passed
    assert "polite" in verdict.checks[0].observed


def test_console_true_means_the_apps_error_line_with_the_expected_code() -> None:
    """`console: true` uses the surface's pattern and its code group; other lines do not count."""
    pattern = r"^\[softphone\] error (?P<code>\S+): (?P<message>.*)$"
    exp = Expected(code="31401", console=True)
    seen = obs("31401", "m")
    seen.console = ["[softphone] permission microphone: denied", "[softphone] error 31208: old code"]
    verdict = judge(exp, seen, pattern)
    assert not verdict.passed and "no such line" in verdict.checks[-1].observed
    seen.console.append("[softphone] error 31401: Permission denied")
    assert judge(exp, seen, pattern).passed
    unset = judge(exp, seen, None)
    assert not unset.passed and "surface.console" in unset.checks[-1].observed
    assert not judge(Expected(console=False), seen, pattern).passed


def test_telemetry_fields_must_be_present_and_not_empty() -> None:
    """`telemetry: {fields: [...]}` fails on a report that lacks one, and says which."""
    exp = resolve(Expect(code="31208", telemetry={"fields": ["code", "name", "browser"]}),
                  builtin_profiles()["generic"])
    seen = obs("31208", "m")
    seen.telemetry = [{"code": "31208", "name": "NotAllowedError", "browser": ""}]
    verdict = judge(exp, seen)
    assert not verdict.passed and verdict.checks[-1].observed.endswith("without browser")
    seen.telemetry.append({"code": "31208", "name": "NotAllowedError", "browser": "firefox"})
    assert judge(exp, seen).passed


def test_microphone_released_needs_every_capture_track_stopped_or_ended() -> None:
    """A track the app left live fails with its name; stopped by the app or ended by the browser both count
    as released; and no track at all fails (a call that never had the microphone proves nothing)."""
    exp = resolve(Expect(outcome="none", state="ended", microphone_released=True), builtin_profiles()["generic"])
    seen = obs(state="ended")
    mic = {"kind": "audio", "label": "Fake Default Audio Input", "via": "getUserMedia"}
    camera = {"kind": "video", "label": "fake camera", "via": "getUserMedia"}
    verdict = judge(exp, seen)
    assert not verdict.passed and "no capture track obtained" in verdict.table()
    seen.captures = [{**mic, "stopped": False, "readyState": "live"},
                     {**camera, "stopped": True, "readyState": "ended"}]
    verdict = judge(exp, seen)
    assert verdict.category == "wrong microphone released"
    assert "1 of 2 stopped, still live: audio 'Fake Default Audio Input'" in verdict.table()
    seen.captures[0] = {**mic, "stopped": False, "readyState": "ended"}  # the browser ended it (revoked, unplugged)
    assert judge(exp, seen).passed
    seen.captures[0] = {**mic, "stopped": True, "readyState": "ended"}
    assert [c.what for c in judge(exp, seen).checks] == ["no error", "state", "microphone released"]


def test_microphone_released_is_only_true() -> None:
    """'false' would promise nothing the harness could check; the model refuses it."""
    import pydantic
    import pytest

    with pytest.raises(pydantic.ValidationError):
        Expect.model_validate({"outcome": "none", "microphone_released": False})
    assert Expect(microphone_released=True).microphone_released is True


def test_popups_recorded_at_the_call_are_reported_even_before_the_browser_shows_them() -> None:
    opened = {"doc": "d1", "href": "http://127.0.0.1:1/", "opened": [{"url": "http://127.0.0.1:1/other.html"}]}
    tracker = PageTracker("d1", "http://127.0.0.1:1/")
    tracker.update(opened)
    # the browser has not reported the window yet, or it is still loading, or it reached its URL
    for windows in ([], ["about:blank"], ["http://127.0.0.1:1/other.html"]):
        tracker.popups = windows
        assert tracker.popup_urls() == ["http://127.0.0.1:1/other.html"], windows
    # a window the observer did not see open (a link with a target) is still named
    tracker.popups = ["http://127.0.0.1:1/other.html", "http://127.0.0.1:1/help.html"]
    assert tracker.popup_urls() == ["http://127.0.0.1:1/other.html", "http://127.0.0.1:1/help.html"]
    assert "opened a popup window at http://127.0.0.1:1/help.html" in " ".join(tracker.incidents())
    # a window the browser refused to open is said as such, and no window stands for it
    tracker.update({"doc": "d1", "opened": [{"url": "http://127.0.0.1:1/other.html"},
                                            {"url": "http://127.0.0.1:1/ad.html", "blocked": True}]})
    tracker.popups = []
    assert tracker.popup_urls() == ["http://127.0.0.1:1/other.html"]
    assert "tried to open a popup window at http://127.0.0.1:1/ad.html (the browser blocked it)" in tracker.incidents()
