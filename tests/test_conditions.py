"""The condition table's decisions that do not need a browser: which conditions a case uses, how launch
switches combine, and which cases an app profile cannot run."""

from __future__ import annotations

from pathlib import Path

from harness.app.profiles import builtin_profiles
from harness.reproduce import conditions
from harness.reproduce.conditions import Fidelity, Host, merge_switches, resolve_value
from harness.run.plan import plan_case
from harness.scenario.loader import SourcedScenario, load_file
from harness.scenario.model import Given
from tests.conftest import needs_engine

NO_HARDWARE = Host(capture_device=False, camera_device=False)


def test_camera_is_part_of_a_case_only_when_the_scenario_says_so() -> None:
    assert "device.camera" not in conditions.given_values(Given())
    assert "permission.camera" not in conditions.given_values(Given.model_validate({"permission": {"microphone":
                                                                                                  "denied"}}))
    values = conditions.given_values(Given.model_validate({"device": {"camera": "none"}}))
    assert values["device.camera"] == "none"
    assert values["permission.camera"] == "granted"  # the camera's permission comes with it


def test_a_switch_with_options_replaces_the_same_switch_bare() -> None:
    # Chromium keeps only one of the two (the last), so "no camera" must not depend on their order.
    bare, no_camera = conditions.FAKE_DEVICES, f"{conditions.FAKE_DEVICES}=device-count=0"
    assert merge_switches([bare, "--x", no_camera, bare]) == ["--x", no_camera]
    assert merge_switches([bare, "--x", bare]) == [bare, "--x"]


def test_no_camera_is_native_where_an_engine_has_a_switch_for_it() -> None:
    chromium = resolve_value("chromium", "device.camera", "none", NO_HARDWARE)
    assert chromium.fidelity is Fidelity.native
    assert f"{conditions.FAKE_DEVICES}=device-count=0" in chromium.launch_args
    firefox = resolve_value("firefox", "device.camera", "none", NO_HARDWARE)
    assert firefox.fidelity is Fidelity.native and ("media.video_loopback_dev", "mediafault-no-camera") in firefox.prefs
    # With a real camera that Firefox switch is unproven, so it is emulated and says why.
    with_camera = resolve_value("firefox", "device.camera", "none", Host(camera_device=True))
    assert with_camera.fidelity is Fidelity.emulated and "real camera" in with_camera.how
    assert resolve_value("webkit", "device.camera", "none", NO_HARDWARE).fidelity is Fidelity.emulated


def _camera_case(tmp_path: Path, given: str, outcome: str) -> SourcedScenario:
    """A video-call scenario with ``given`` (YAML flow mapping) expecting ``outcome``, loaded from a file."""
    path = tmp_path / "cam.yaml"
    path.write_text(f"name: Camera case\nengines: [chromium]\ngiven: {given}\nwhen:\n  - click: '#video-call'\n"
                    f"expect:\n  outcome: {outcome}\n", encoding="utf-8")
    (source,) = load_file(path)
    return source


def test_camera_and_microphone_permissions_are_set_separately(tmp_path: Path) -> None:
    source = _camera_case(tmp_path, "{permission: {camera: denied}}", "camera-denied")
    plan = plan_case(source, "chromium", builtin_profiles()["generic"])
    assert dict(plan.permissions) == {"microphone": "granted", "camera": "denied"}
    assert plan.expected.code == "cam-permission-denied"


def test_voice_only_profile_skips_camera_cases_with_the_reason(tmp_path: Path) -> None:
    source = _camera_case(tmp_path, "{device: {camera: none}}", "camera-not-found")
    plan = plan_case(source, "chromium", builtin_profiles()["twilio-voice@2"])
    assert plan.skip_reason is not None and "voice only" in plan.skip_reason
    # The same scenario under a profile with video is a normal case.
    assert plan_case(source, "chromium", builtin_profiles()["acs-calling"]).not_applicable is None


def test_every_condition_value_has_a_scenario_in_the_catalogue() -> None:
    """Each cell of the support matrix is exercised end to end by at least one built-in scenario (or its
    engine's skip is), so no mechanism ships untested."""
    from harness.cli.docgen import _catalogue_users
    from harness.core.resources import bundled

    users = _catalogue_users(bundled("scenarios"))
    missing = [f"{c}: {v}" for c, values in conditions.all_values().items() for v in values if not users.get((c, v))]
    assert not missing, f"no built-in scenario sets {missing}"


def test_page_origins_of_an_app_given_by_url_are_decided_at_plan_time() -> None:
    """An http app.url gets https and the non-local name through the front; an https app.url keeps its own
    https and cannot be reached over plain http by name: that case is skipped with the reason when planned,
    so 'mediafault list --app-url' shows it; the front never changes a case of the harness's own app."""
    repo = Path(__file__).resolve().parents[1]
    (https,) = load_file(repo / "scenarios" / "page" / "https.yaml")
    (insecure,) = load_file(repo / "scenarios" / "page" / "insecure-origin.yaml")
    generic = builtin_profiles()["generic"]

    def origin(source: SourcedScenario, engine: str, app_url: str | None) -> conditions.Mechanism:
        plan = plan_case(source, engine, generic, app_url=app_url)
        (mech,) = [m for m in plan.resolution.mechanisms if m.condition == "page.origin"]
        return mech

    for engine in conditions.ROUTED_ENGINES:
        assert "front" in origin(https, engine, "http://127.0.0.1:5173/").how
        assert "app's own https URL" in origin(https, engine, "https://127.0.0.1:5173/").how
        by_name = origin(insecure, engine, "http://127.0.0.1:5173/")
        assert by_name.fidelity is Fidelity.native and "front" in by_name.how
        assert by_name.launch_args == origin(insecure, engine, None).launch_args  # still mapped to loopback
        assert "front" not in origin(https, engine, None).how
        plan = plan_case(insecure, engine, generic, app_url="https://127.0.0.1:5173/")
        (why,) = plan.resolution.unsupported
        assert "an https server cannot be reached over plain http" in why.how
        assert plan.skip_reason and why.how in plan.skip_reason


@needs_engine("chromium")
@needs_engine("firefox")
def test_plain_http_and_a_firefox_tone_share_the_default_browser() -> None:
    """What the insecure origin needs (the harness's own host name on loopback) and Firefox's tone are set on
    every launch, so those cases plan the same browser as a case with no condition of its own; a WAV file on
    Chromium (a launch switch of its own) still plans another."""
    repo = Path(__file__).resolve().parents[1]
    (insecure,) = load_file(repo / "scenarios" / "page" / "insecure-origin.yaml")
    (granted,) = load_file(repo / "scenarios" / "permission" / "granted.yaml")
    tone = next(s for s in load_file(repo / "scenarios" / "device" / "audio.yaml") if s.scenario.given.device.audio
                == "tone")
    generic = builtin_profiles()["generic"]

    def key(source: SourcedScenario, engine: str) -> str:
        launch = plan_case(source, engine, generic).launch
        assert launch is not None
        return launch.key

    for engine in ("chromium", "firefox"):
        assert key(insecure, engine) == key(granted, engine)
    assert key(tone, "firefox") == key(granted, "firefox")
    assert key(tone, "chromium") != key(granted, "chromium")


@needs_engine("firefox")
def test_firefox_permission_states_are_origins_where_the_harness_serves_the_app() -> None:
    """On Firefox, cases that differ only in permission states share one launch where the harness picks the
    app's origin; the states go with the plan, not into the launch prefs. Where the origin is fixed (app.url,
    a profile's "localhost") each state is still a pref at launch."""
    from harness.core.resources import bundled
    from harness.scenario.loader import load_paths

    scenarios, errors = load_paths([bundled("scenarios") / "permission", bundled("scenarios") / "camera"])
    assert not errors
    generic = builtin_profiles()["generic"]
    by_name = {s.scenario.name: s for s in scenarios}
    names = ["Microphone blocked for the site", "Microphone allowed, call can start",
             "Permission prompt left unanswered", "Camera blocked for the site"]
    plans = [plan_case(by_name[n], "firefox", generic) for n in names]
    assert len({p.launch.key for p in plans if p.launch}) == 1
    assert [p.site_permissions for p in plans] == [(("microphone", "denied"),), (("microphone", "granted"),), (),
                                                   (("camera", "denied"), ("microphone", "granted"))]
    for plan in plans:
        assert plan.launch is not None and plan.launch.site_permissions
        assert not [k for k, _ in plan.launch.prefs if k.startswith("permissions.default.")]
    for fixed in ({"app_url": "http://127.0.0.1:5173/"}, {"app_host": "localhost"}):
        plans = [plan_case(by_name[n], "firefox", generic, **fixed) for n in names]
        assert len({p.launch.key for p in plans if p.launch}) == len(names)
        assert all(not p.site_permissions and p.launch and not p.launch.site_permissions for p in plans)
        assert ("permissions.default.microphone", 2) in plans[0].launch.prefs  # type: ignore[union-attr]


def test_site_hosts_are_one_per_combination_of_states() -> None:
    from harness.app.config import BUNDLED_APP
    from harness.run.target import AppTarget, site_host

    assert site_host((("camera", "denied"), ("microphone", "granted"))) == "microphone-granted.camera-denied.localhost"
    target = AppTarget(None, BUNDLED_APP, None, profile_params=True)
    try:
        origins = target.site_origins()
        http, https = target.server(False).port, target.server(True).port
    finally:
        target.stop()
    assert len(origins) == 16 and len({o for o, _ in origins}) == 16  # (3 × 3 - 1) combinations, http and https
    assert (f"http://microphone-denied.localhost:{http}", (("microphone", "denied"),)) in origins
    assert all(o.endswith(f".localhost:{https}") for o, _ in origins if o.startswith("https:"))
    text = conditions.firefox_site_permissions(origins)
    assert f"origin\tmicrophone\t2\thttp://microphone-denied.localhost:{http}\n" in text
    assert f"origin\tcamera\t1\thttps://microphone-denied.camera-granted.localhost:{https}\n" in text
