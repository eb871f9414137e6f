"""Cases and plans: a scenario on one engine, with the route, launch spec and mechanisms chosen."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from harness.app.profiles import Profile, builtin_profiles
from harness.core.errors import InputError
from harness.reproduce import conditions
from harness.reproduce.conditions import Fidelity, Resolution
from harness.reproduce.engines import LaunchSpec, Route, RouteInfo, pick_route
from harness.reproduce.engines.grid_route import remote_app_problem
from harness.reproduce.netlab.lab import app_url_problem
from harness.run.judge import Expected, resolve
from harness.scenario.loader import SourcedScenario
from harness.scenario.model import AudioFile


@dataclass(frozen=True)
class CasePlan:
    """Everything decided before a case runs."""

    source: SourcedScenario
    engine: str
    route: Route | None
    route_info: RouteInfo
    resolution: Resolution
    expected: Expected
    profile: str
    launch: LaunchSpec | None = None
    permissions: tuple[tuple[str, str], ...] = ()  # (microphone | camera, setting) set on the context
    # (microphone | camera, granted | denied) of the app's origin in Firefox's site permissions file
    site_permissions: tuple[tuple[str, str], ...] = ()
    shim: dict[str, Any] = field(default_factory=dict)
    not_applicable: str | None = None  # the scenario does not apply to this app profile
    unreachable: str | None = None  # the browser's place (the network lab) cannot reach the app's URL

    @property
    def name(self) -> str:
        """``<scenario name>[<engine>]``, the test id."""
        return f"{self.source.scenario.name}[{self.engine}]"

    @property
    def skip_reason(self) -> str | None:
        """Why this case cannot run here (unsupported condition, engine missing), or None."""
        if self.not_applicable:
            return self.not_applicable
        if self.unreachable:
            return self.unreachable
        if self.route is None:
            return f"{self.engine} is not available here: {self.route_info.reason}"
        route_reason = self.route.cannot_run(self.launch) if self.launch is not None else None
        if route_reason:
            return f"{self.route.name}: {route_reason}"
        if self.launch is not None and self.launch.netlab and not self.route_info.route.startswith("playwright"):
            return (f"the network lab starts the browser inside its namespace, which the {self.route_info.route} "
                    "route cannot do; use a Playwright route for network scenarios")
        unsupported = self.resolution.unsupported
        if unsupported:
            return "; ".join(f"{m.condition}={m.value} is unsupported on {self.engine}: {m.how}" for m in unsupported)
        return None

    @property
    def fidelity(self) -> Fidelity:
        """The weakest fidelity of the case's mechanisms."""
        return self.resolution.fidelity


def split_case_id(nodeid: str) -> tuple[str, str, str] | None:
    """A case's pytest id, ``path::<scenario name>[<engine>]`` (see :attr:`CasePlan.name`), as (path, name,
    engine); None for any other test id."""
    path, _, rest = nodeid.partition("::")
    if not rest.endswith("]") or "[" not in rest:
        return None
    name, engine = rest[:-1].rsplit("[", 1)
    return path, name, engine


def expected_for(source: SourcedScenario, profile: Profile, engine: str | None = None) -> Expected:
    """Resolve the expectation through ``profile`` for ``engine``; an outcome the profile lacks is an error
    at ``expect.outcome``."""
    try:
        return resolve(source.scenario.expect, profile, engine)
    except LookupError as exc:
        raise InputError([source.doc.problem(
            (*source.loc, "expect", "outcome"), str(exc),
            "give 'code:' and 'message:' explicitly, or add the outcome to the profile")]) from None


def plan_case(source: SourcedScenario, engine: str, profile: Profile, forced_route: str | None = None,
              grid: str | None = None, app_url: str | None = None, serve_host: str | None = None,
              app_host: str = "127.0.0.1") -> CasePlan:
    """Choose route and mechanisms for ``source`` on ``engine`` (on the Selenium Grid at ``grid``, if given,
    whose nodes reach this machine on ``serve_host``) for the app at ``app_url`` (None: the harness serves it,
    on ``app_host``)."""
    scenario = source.scenario
    audio = scenario.given.device.audio
    if isinstance(audio, AudioFile) and not (source.path.parent / audio.file).is_file():
        raise InputError([source.doc.problem(
            (*source.loc, "given", "device", "audio", "file"), f"no audio file at {audio.file!r}",
            f"the path is relative to {source.path.name}'s directory; give a 16-bit PCM WAV file")])
    faults = [(f.do, f.after) for f in scenario.during]
    app_scheme = urlsplit(app_url).scheme.lower() if app_url else None
    resolution = conditions.resolve(engine, scenario.given, faults, source.path.parent, app_scheme)
    route, info = pick_route(engine, forced_route, grid, serve_host)
    not_applicable = None
    if scenario.profiles is not None and profile.name not in scenario.profiles:
        unknown = [n for n in scenario.profiles if n not in builtin_profiles()]
        not_applicable = (f"written for the app profile(s) {', '.join(scenario.profiles)}; this run uses "
                          f"'{profile.name}' (--mf-profile)" + (
                              f"; {', '.join(map(repr, unknown))} is not a built-in profile: check the spelling if "
                              "it is not one of yours" if unknown else ""))
        expected = Expected()
    elif scenario.given.uses_camera and not profile.video:
        not_applicable = (f"the app profile '{profile.name}' is voice only (video: false), so a scenario that uses "
                          "the camera does not apply")
        expected = Expected()
    else:
        expected = expected_for(source, profile, engine)
    args: list[str] = []
    prefs: dict[str, Any] = {}
    profile_prefs: dict[str, Any] = {}
    shim: dict[str, Any] = {}
    permissions: dict[str, str] = {}
    site: dict[str, str] = {}
    headed = False
    netlab = any(mech.netlab for mech in resolution.mechanisms)
    # Firefox takes a permission state at launch only, so each state would be a browser of its own. Where the
    # harness serves the app, each state is instead an origin of its own (a host name under .localhost, all
    # in one site permissions file), and the cases share a browser. A fixed origin (app.url, the lab's, a
    # Grid's, a profile's "localhost") has one state per browser, so there it stays the launch pref.
    by_site = (route is not None and route.name == "playwright-system" and engine == "firefox" and not app_url
               and not grid and not serve_host and not netlab and app_host == "127.0.0.1")
    insecure = scenario.given.page.origin == "http-insecure"  # no media API there: no state for it to carry
    args += conditions.EVERY_LAUNCH_ARGS.get(engine, ())
    prefs.update(conditions.EVERY_LAUNCH_PREFS.get(engine, ()))
    for mech in resolution.mechanisms:
        args += mech.launch_args
        if by_site and mech.site_permission:
            if not insecure:
                site[mech.permission_name] = mech.site_permission
        else:
            prefs.update(mech.prefs)
        profile_prefs.update(mech.profile_prefs)
        shim.update(mech.shim)
        if mech.permission:
            permissions[mech.permission_name] = mech.permission
        headed = headed or mech.headed
    if by_site:
        prefs.update(conditions.FIREFOX_SITE_PREFS)
    # The lab has no route out: an app.url it cannot forward (not on this machine) is known before running.
    unreachable = app_url_problem(app_url) if netlab and app_url else remote_app_problem(
        grid, app_url, serve_host, engine, scenario.given.page.origin)
    launch = None
    if route:
        launch = LaunchSpec(engine, route.name, tuple(sorted(conditions.merge_switches(args))),
                            tuple(sorted(prefs.items())),
                            tuple(sorted(profile_prefs.items())), headed, netlab, bool(app_url), by_site)
    return CasePlan(source, engine, route, info, resolution, expected, profile.name, launch,
                    tuple(sorted(permissions.items())), tuple(sorted(site.items())), shim, not_applicable,
                    unreachable)
