"""Profiles tell the truth: each built-in profile with a ``verified:`` block agrees with what the real SDK
shows in its probe page, outcome by outcome and engine by engine; a wrong profile is caught and the fix comes
back as a patch; the profile format says per-engine answers and documented-only outcomes with positions."""

from __future__ import annotations

import json
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from harness.app.profiles import Profile, builtin_profiles, load_profile
from harness.app.server import AppServer
from harness.cli.main import main
from harness.core.errors import InputError
from harness.run import LANES, conformance
from harness.run.batch import Lanes
from harness.run.conformance import Conformance, Finding
from harness.run.judge import resolve
from harness.run.pool import BrowserPool
from harness.scenario.model import ENGINES, Expect
from tests.conftest import in_ci, needs_chromium

VERIFIED = {name: p for name, p in builtin_profiles().items() if p.verified is not None}
SDK_MODULES = conformance.SDK_TOOL / "node_modules"
# Before this check existed, twilio-voice@1 said NotReadableError for a busy microphone on every engine.
OLD_TWILIO1_BUSY = {"code": "31201",
                    "message": {"regex": r"^Error occurred while accessing microphone: NotReadableError \(.*\)$"}}


def write_profile(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def test_engine_entries_override_the_common_answer(tmp_path: Path) -> None:
    """An engine's entry replaces what it gives (code, message or both) on that engine only, also for the
    judge; documented_only and verified are read."""
    profile = load_profile(write_profile(tmp_path, """
        name: mine
        verified: {package: some-sdk, version: 1.2.3, probe: some-probe}
        outcomes:
          device-busy:
            code: E1
            message: {contains: busy}
            engines:
              firefox: {message: {contains: NotSupportedError}}
              webkit: {code: E2}
          app-error:
            code: null
            message: oops
            documented_only: a bug in the app
        """))
    assert profile.surface("device-busy", "chromium") == profile.outcomes["device-busy"]
    firefox = profile.surface("device-busy", "firefox")
    assert firefox is not None and firefox.code == "E1" and firefox.message.matches("a NotSupportedError (x)")
    assert not firefox.message.matches("busy")
    webkit = resolve(Expect(outcome="device-busy"), profile, "webkit")
    assert webkit.code == "E2" and webkit.message is not None and webkit.message.matches("busy")
    assert resolve(Expect(outcome="app-error"), profile, "chromium").code is None  # no code: message only
    assert profile.verified is not None and profile.verified.version == "1.2.3"
    assert profile.verified_outcomes() == ["device-busy"]


@pytest.mark.parametrize(("entry", "where", "said"), [
    ("chromiun: {code: E2}", "6:7", "unknown engine 'chromiun' in outcome 'device-busy' (did you mean 'chromium'?)"),
    ("firefox: {}", "6:16", "gives 'code', 'message' or both"),
])
def test_bad_engine_entries_are_reported_with_their_position(tmp_path: Path, entry: str, where: str,
                                                             said: str) -> None:
    path = write_profile(tmp_path, f"""
        name: mine
        outcomes:
          device-busy:
            code: E1
            engines:
              {entry}
            message: busy
        """)
    with pytest.raises(InputError) as caught:
        load_profile(path)
    text = str(caught.value)
    assert f"mine.yaml:{where}" in text and said in text, text


def finding(outcome: str, engine: str, status: str, code: str | None = None, message: str | None = None) -> Finding:
    return Finding(outcome, engine, status, code, message)


def test_the_patch_says_what_to_paste() -> None:
    """One other answer everywhere changes the outcome itself; a difference on some engines becomes an
    engines: entry holding only what differs; skipped engines do not count; no difference, no patch."""
    profile = builtin_profiles()["twilio-voice@1"]
    busy_ff = ("Error occurred while accessing microphone: NotSupportedError (Firefox does not currently support "
               "opening multiple audio input tracks")
    old = profile.model_copy(update={"outcomes": {**profile.outcomes, "device-busy": Profile.model_validate(
        {"name": "x", "outcomes": {"device-busy": OLD_TWILIO1_BUSY}}).outcomes["device-busy"]}})
    result = Conformance(old, [
        finding("device-busy", "chromium", "agrees", "31201", "Error occurred while accessing microphone: "
                "NotReadableError (Could not start audio source)"),
        finding("device-busy", "firefox", "differs", "31201", busy_ff),
        finding("device-busy", "webkit", "skipped"),
        finding("insecure-origin", "chromium", "differs", None, "no WebRTC"),
        finding("insecure-origin", "firefox", "differs", None, "no WebRTC"),
        finding("iframe-blocked", "chromium", "agrees", "31208", "x"),
    ])
    patch = yaml.safe_load(result.patch())
    assert patch == {"outcomes": {
        "device-busy": {"engines": {"firefox": {"message": busy_ff}}},
        "insecure-origin": {"code": None, "message": "no WebRTC"},
    }}
    assert [f.outcome for f in result.differences] == ["device-busy", "insecure-origin", "insecure-origin"]
    assert Conformance(profile, [finding("iframe-blocked", "chromium", "agrees")]).patch() == ""


def test_the_docs_say_per_engine_where_an_outcome_is_verified() -> None:
    """An outcome is verified only on the engines where conformance can set its condition up; the others are
    named with the reason (Firefox and WebKit cannot dismiss a prompt), in docs/profiles.md too."""
    from harness.reproduce.conditions import Host
    from tests.conftest import REPO

    host = Host(capture_device=False)
    assert all(conformance.unreproducible("permission-denied", e, host) is None for e in ENGINES)
    assert conformance.unreproducible("permission-dismissed", "chromium", host) is None
    assert "dismiss" in (conformance.unreproducible("permission-dismissed", "webkit", host) or "")
    assert conformance.unreproducible("media-connection-failed", "chromium", host) == conformance.NO_CONDITION
    docs = (REPO / "docs" / "profiles.md").read_text(encoding="utf-8")
    dismissed = [line for line in docs.splitlines() if line.startswith("| `permission-dismissed` | `31401`")]
    assert dismissed and "verified on chromium; not on firefox:" in dismissed[0] and "not on webkit:" in dismissed[0]


def test_every_verified_profile_names_a_probe_and_the_locked_sdk() -> None:
    """What a 'verified:' block says must be checkable here: its probe page exists, tools/sdk locks that very
    SDK version, and each outcome not marked documented_only has a condition the harness sets up."""
    assert set(VERIFIED) >= {"twilio-voice@1", "twilio-voice@2", "acs-calling-errors"}
    manifest = json.loads((conformance.SDK_TOOL / "package.json").read_text(encoding="utf-8"))
    lock = json.loads((conformance.SDK_TOOL / "package-lock.json").read_text(encoding="utf-8"))
    for name, profile in VERIFIED.items():
        assert profile.verified is not None
        sdk = profile.verified
        assert (conformance.PROBES_DIR / sdk.probe / "index.html").is_file(), name
        assert manifest["dependencies"][sdk.package] == sdk.version, name
        assert lock["packages"][f"node_modules/{sdk.package}"]["version"] == sdk.version, name
        unreachable = [o for o in profile.verified_outcomes() if o not in conformance.OUTCOME_CONDITIONS]
        assert not unreachable, f"{name}: no condition for {unreachable}: mark them documented_only"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "index.html").write_text("app", encoding="utf-8")
    (tmp_path / "sdk" / "pkg").mkdir(parents=True)
    (tmp_path / "sdk" / "pkg" / "sdk.js").write_text("the sdk", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("secret", encoding="utf-8")
    server = AppServer(tmp_path / "app", mounts={"/sdk/": tmp_path / "sdk"})
    try:
        yield server.url()
    finally:
        server.stop()


def test_a_mounted_directory_is_served_and_cannot_be_climbed_out_of(served: str) -> None:
    """The probe pages load the installed SDKs under /sdk/; a path that climbs out of it finds nothing."""
    with urllib.request.urlopen(f"{served}/sdk/pkg/sdk.js", timeout=10) as response:
        assert response.read() == b"the sdk"
    for path in ("/sdk/../secret.txt", "/sdk/%2e%2e/secret.txt", "/sdk/pkg/../../secret.txt"):
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"{served}{path}", timeout=10)
        assert caught.value.code == 404, path


def test_conformance_says_what_is_missing(capsys: pytest.CaptureFixture[str]) -> None:
    """A profile without a probe needs an app; --sdk-version is for probes; an unknown profile is named."""
    assert main(["conformance", "generic"]) == 2
    assert "give --app-url or --app-dir" in capsys.readouterr().err
    assert main(["conformance", "generic", "--app-url", "http://127.0.0.1:9/", "--sdk-version", "1.0.0"]) == 2
    assert "--sdk-version applies to the SDK probe pages" in capsys.readouterr().err
    assert main(["conformance", "twilio-voice@3"]) == 2
    assert "unknown app profile 'twilio-voice@3'" in capsys.readouterr().err
    assert main(["conformance", "twilio-voice@1", "--outcome", "camera-busy"]) == 2
    assert "profile 'twilio-voice@1' has no outcome 'camera-busy'" in capsys.readouterr().err


# --- against the real SDKs -----------------------------------------------------------------------------------

def sdks_missing() -> str:
    return "" if SDK_MODULES.is_dir() else f"the calling SDKs are not installed in {SDK_MODULES}: ./bootstrap setup"


@pytest.fixture(scope="module")
def pool() -> Iterator[BrowserPool]:
    """One pool for every profile: a launch configuration (engine, flags, prefs) starts one browser."""
    if sdks_missing():
        if in_ci():
            pytest.fail(sdks_missing())
        pytest.skip(sdks_missing())
    browsers = BrowserPool()
    try:
        yield browsers
    finally:
        browsers.close()


@pytest.fixture(scope="module")
def lanes() -> Iterator[Lanes]:
    """One set of lanes for every profile: the lane processes keep their browsers from one to the next."""
    with Lanes(LANES) as kept:
        yield kept


def run(profile: Profile, pool: BrowserPool, lanes: Lanes, engines: list[str]) -> Conformance:
    assert profile.verified is not None
    target = conformance.probe_target(profile.verified.probe)
    try:
        return conformance.check(profile, target, engines, pool, profile.verified.within, lanes=lanes)
    finally:
        target.stop()


@needs_chromium
@pytest.mark.browser
def test_a_profile_that_is_wrong_about_firefox_is_caught(pool: BrowserPool, lanes: Lanes) -> None:
    """The old twilio-voice@1 entry for a busy microphone fails against the real SDK on Firefox, and the
    patch gives Firefox the SDK's own words."""
    old = Profile.model_validate({"name": "twilio-voice@1", "verified": VERIFIED["twilio-voice@1"].verified,
                                  "outcomes": {"device-busy": OLD_TWILIO1_BUSY}})
    result = run(old, pool, lanes, ["chromium", "firefox"])
    assert [(f.outcome, f.engine, f.status) for f in result.findings] == [("device-busy", "chromium", "agrees"),
                                                                          ("device-busy", "firefox", "differs")]
    patch = yaml.safe_load(result.patch())
    assert patch["outcomes"]["device-busy"]["engines"]["firefox"]["message"].startswith(
        "Error occurred while accessing microphone: NotSupportedError (Firefox does not currently support")


@needs_chromium
@pytest.mark.browser
@pytest.mark.parametrize("name", sorted(VERIFIED))
def test_builtin_profile_agrees_with_the_real_sdk(pool: BrowserPool, lanes: Lanes, name: str) -> None:
    """Every verified outcome on every engine: what the real SDK shows is what the profile says. A case
    that cannot run here is skipped with its reason, never counted as agreeing."""
    profile = VERIFIED[name]
    result = run(profile, pool, lanes, list(ENGINES))
    assert not result.differences, f"{name} differs from the real SDK:\n{result.table()}\n\n{result.patch()}"
    agreed = {f.outcome for f in result.findings if f.status == "agrees" and f.engine == "chromium"}
    assert agreed == set(profile.verified_outcomes()), result.table()
    assert profile.verified is not None
    # On each engine the profile claims, every outcome ran: one agreeing outcome (the SDK's refusal on an http
    # page) must not stand for the others, which a probe whose SDK did not start there only skipped.
    for engine in profile.verified.engines:
        ran = {f.outcome for f in result.findings if f.engine == engine and f.status == "agrees"}
        unsupported = {f.outcome for f in result.findings if f.engine == engine and f.status == "skipped"
                       and f" is unsupported on {engine}: " in f.detail}
        assert ran | unsupported == set(profile.verified_outcomes()), f"{name} on {engine}:\n{result.table()}"
    if name == "twilio-voice@1":  # the case found by hand: Firefox, microphone busy
        busy = next(f for f in result.findings if (f.outcome, f.engine) == ("device-busy", "firefox"))
        assert busy.status == "agrees" and "NotSupportedError (Firefox does not" in (busy.message or "")


@needs_chromium
@pytest.mark.browser
def test_your_own_app_is_checked_against_your_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--app-dir: the bundled app agrees with the generic profile; the same app with NotFoundError mapped to
    the permission code differs exactly there, and the patch says what that app shows."""
    from harness.app.config import BUNDLED_APP
    from harness.app.variants import materialize

    assert main(["conformance", "generic", "--app-dir", str(BUNDLED_APP), "--engine", "chromium"]) == 0
    out = capsys.readouterr().out
    assert "profile 'generic' agrees" in out and "device-not-found         chromium  agrees" in out, out
    broken = materialize("swapped-not-found", tmp_path)
    assert main(["conformance", "generic", "--app-dir", str(broken), "--engine", "chromium"]) == 1
    out = capsys.readouterr().out
    assert "device-not-found         chromium  DIFFERS" in out, out
    patch = yaml.safe_load(out.split("(paste over the outcomes of 'generic'):")[1])
    assert patch == {"outcomes": {"device-not-found": {"engines": {"chromium": {
        "code": "mic-permission-denied", "message": "Microphone access needed"}}}}}
