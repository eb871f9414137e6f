"""Profile conformance: run an app (a probe page that loads the real SDK, or the user's own app) under the
condition of each outcome of a profile, on each engine, and compare what it shows with what the profile says.

The oracle is only as good as its profiles: a profile that is wrong fails correct apps. Each outcome the
harness can reproduce without the vendor's cloud runs as a generated scenario (one per outcome, through the
same planner, routes and judge as any case); the others are marked ``documented_only`` in the profile, with
the reason. The differences come back as a profile patch a person can paste.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from harness.app.config import Surface
from harness.app.profiles import OutcomeSurface, Profile
from harness.core.errors import EnvironmentProblem
from harness.core.resources import bundled, in_checkout, npm_setup
from harness.reproduce.conditions import Fidelity, Host, given_values, resolve_value
from harness.run.batch import CaseOutcome, Lanes, run_batch
from harness.run.pool import BrowserPool
from harness.run.target import AppTarget
from harness.scenario.loader import load_paths
from harness.scenario.model import Given

PROBES_DIR = bundled("fixtures") / "sdk-probes"
SDK_TOOL = bundled("tools") / "sdk"
SETUP_COMMAND = "./bootstrap setup" if in_checkout() else npm_setup("sdk")
# The state a probe page shows on an engine build without WebRTC (WebKitGTK here): an SDK that checks for
# WebRTC refuses to start whatever the condition, so a difference there is not the profile's fault.
ENGINE_UNSUPPORTED = "engine-unsupported"
# Probes that need a host name: the ACS SDK accepts plain http only on "localhost".
PROBE_HOSTS = {"acs-calling": "localhost"}

# The condition that makes each outcome happen, as a scenario's ``given`` (and ``when``). An outcome missing
# here has no condition the harness can set up without the vendor's servers or a live call.
OUTCOME_CONDITIONS: dict[str, dict[str, object]] = {
    "permission-denied": {"given": {"permission": {"microphone": "denied"}}},
    "permission-dismissed": {"given": {"permission": {"microphone": "dismissed"}}},
    "device-not-found": {"given": {"device": {"microphone": "none"}}},
    "device-busy": {"given": {"device": {"microphone": "busy"}}},
    "device-constraint": {"given": {"device": {"microphone": "overconstrained"}}},
    # No click for these two, as in the catalogue: an app must say so on load (a good one disables its call
    # button), and not every route can click into a cross-origin frame (Firefox over BiDi cannot).
    "insecure-origin": {"given": {"page": {"origin": "http-insecure"}}, "when": []},
    "iframe-blocked": {"given": {"page": {"embed": "iframe"}}, "when": []},
}
NO_CONDITION = "no condition the harness sets up makes it happen (it needs a live call or the vendor's servers)"


def unreproducible(outcome: str, engine: str, host: Host | None = None) -> str | None:
    """Why ``outcome``'s condition cannot be set up on ``engine`` (on ``host``; this machine when None), so
    conformance skips it there; None when it can."""
    condition = OUTCOME_CONDITIONS.get(outcome)
    if condition is None:
        return NO_CONDITION
    given = Given.model_validate(condition["given"])
    bad = [m for m in (resolve_value(engine, c, v, host) for c, v in given_values(given).items())
           if m.fidelity is Fidelity.unsupported]
    return "; ".join(m.how for m in bad) or None


def probe_mounts(sdk_modules: Path) -> dict[str, Path]:
    """What a probe page loads besides its own folder: the installed SDKs under /sdk/ (``sdk_modules``, a
    node_modules directory) and the probes' shared helper under /probe/."""
    return {"/sdk/": sdk_modules, "/probe/": PROBES_DIR / "common"}


def probe_target(probe: str, sdk_modules: Path | None = None) -> AppTarget:
    """The harness's server for probe page ``probe`` (a folder of fixtures/sdk-probes), with the SDKs of
    ``sdk_modules`` (default: tools/sdk/node_modules, installed by ./bootstrap)."""
    modules = sdk_modules or SDK_TOOL / "node_modules"
    if not (PROBES_DIR / probe / "index.html").is_file():
        known = sorted(p.name for p in PROBES_DIR.iterdir() if (p / "index.html").is_file())
        raise EnvironmentProblem(f"no SDK probe page {probe!r} in {PROBES_DIR} (probes: {', '.join(known)})")
    if not modules.is_dir():
        raise EnvironmentProblem(f"the calling SDKs are not installed ({modules} is missing): run "
                                 f"'{SETUP_COMMAND}'")
    return AppTarget(None, PROBES_DIR / probe, None, False, probe_mounts(modules), PROBE_HOSTS.get(probe, "127.0.0.1"))


@dataclass(frozen=True)
class Finding:
    """One outcome on one engine: whether the app showed what the profile says, and what it showed."""

    outcome: str
    engine: str
    status: str  # agrees | differs | skipped | broken
    code: str | None = None
    message: str | None = None
    detail: str = ""


@dataclass
class Conformance:
    """The findings of one profile against one app, and the profile patch they call for."""

    profile: Profile
    findings: list[Finding] = field(default_factory=list)
    documented_only: dict[str, str] = field(default_factory=dict)

    @property
    def differences(self) -> list[Finding]:
        """Findings where the app (the SDK) shows something else than the profile says, or the case broke."""
        return [f for f in self.findings if f.status in ("differs", "broken")]

    def table(self) -> str:
        """One line per outcome and engine, and one per outcome that is documented only."""
        rows = [("outcome", "engine", "result", "shown / why")]
        for f in self.findings:
            shown = f"{f.code or '(no code)'} {f.message!r}" if f.status in ("agrees", "differs") else f.detail
            rows.append((f.outcome, f.engine, f.status.upper() if f.status == "differs" else f.status, shown))
        rows += [(o, "-", "documented only", why) for o, why in self.documented_only.items()]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        return "\n".join(f"{r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip()
                         for r in rows)

    def patch(self) -> str:
        """The differences as YAML to paste over the profile's ``outcomes:`` entries ('' when there are none).

        When every engine that ran (two or more) shows one same other answer, the outcome's own code and
        message change; otherwise each engine that differs gets an ``engines:`` entry with what it shows.
        """
        by_outcome: dict[str, list[Finding]] = {}
        for f in self.findings:
            by_outcome.setdefault(f.outcome, []).append(f)
        out: dict[str, dict[str, object]] = {}
        for outcome, found in by_outcome.items():
            ran = [f for f in found if f.status in ("agrees", "differs")]
            differ = [f for f in ran if f.status == "differs"]
            if not differ:
                continue
            base = self.profile.outcomes[outcome]
            shown = {(f.code, f.message) for f in differ}
            # One engine alone cannot tell a new common answer from an engine's own.
            if len(ran) > 1 and len(differ) == len(ran) and len(shown) == 1:
                code, message = next(iter(shown))
                entry: dict[str, object] = {"code": code, "message": message}
                if base.engines:
                    entry["engines"] = {}  # the old per-engine entries were measured against another answer
                out[outcome] = entry
            else:
                out[outcome] = {"engines": {f.engine: _engine_entry(base.on(f.engine), f) for f in differ}}
        if not out:
            return ""
        text: str = yaml.safe_dump({"outcomes": out}, sort_keys=False, allow_unicode=True, width=1000)
        return text


def _engine_entry(base: OutcomeSurface, finding: Finding) -> dict[str, object]:
    entry: dict[str, object] = {}
    if finding.code != base.code:
        entry["code"] = finding.code
    if not base.message.matches(finding.message):
        entry["message"] = finding.message
    return entry


def scenario_text(profile: Profile, outcome: str, within: float, engines: list[str]) -> str:
    """The generated scenario that sets up ``outcome``'s condition and expects what the profile says."""
    doc: dict[str, object] = {
        "name": f"conformance {profile.name} {outcome}",
        "description": f"The condition of '{outcome}': the app must show what profile {profile.name} says.",
        "engines": engines,
        **OUTCOME_CONDITIONS[outcome],
        "expect": {"outcome": outcome, "within": f"{within:g}s"},
    }
    text: str = yaml.safe_dump(doc, sort_keys=False)
    return text


def check(profile: Profile, target: AppTarget, engines: list[str], pool: BrowserPool, within: float,
          surface: Surface | None = None, outcomes: list[str] | None = None, lanes: int | Lanes = 1) -> Conformance:
    """Run every reproducible outcome of ``profile`` (or those of ``outcomes``) against ``target`` on
    ``engines`` (one batch, so a launch configuration starts one browser, and ``pool`` keeps it for the next
    profile; ``lanes`` of them at a time, see :func:`harness.run.batch.run_batch`, which can keep them for the
    next profile too) and compare."""
    result = Conformance(profile)
    wanted = []
    for outcome, entry in profile.outcomes.items():
        if outcomes is not None and outcome not in outcomes:
            continue
        if entry.documented_only:
            result.documented_only[outcome] = entry.documented_only
        elif outcome not in OUTCOME_CONDITIONS:
            result.documented_only[outcome] = NO_CONDITION
        else:
            wanted.append(outcome)
    if not wanted:
        return result
    with tempfile.TemporaryDirectory(prefix="mediafault-conformance-") as tmp:
        for outcome in wanted:
            (Path(tmp) / f"{outcome}.yaml").write_text(scenario_text(profile, outcome, within, engines),
                                                       encoding="utf-8")
        scenarios, errors = load_paths([Path(tmp)])
        if errors:
            raise errors[0]
        cases = run_batch(scenarios, engines, target, surface or Surface(), profile, pool, lanes)
    order = {o: i for i, o in enumerate(profile.outcomes)}
    for case in sorted(cases, key=lambda c: (order[_outcome(c)], engines.index(c.plan.engine))):
        result.findings.append(_finding(case))
    return result


def _outcome(case: CaseOutcome) -> str:
    return case.plan.source.scenario.name.rsplit(" ", 1)[1]


def _finding(case: CaseOutcome) -> Finding:
    outcome, engine = _outcome(case), case.plan.engine
    if case.status == "skipped":
        return Finding(outcome, engine, "skipped", detail=case.detail)
    if case.status == "broken" or case.result is None:
        return Finding(outcome, engine, "broken", detail=case.detail)
    snap = case.result.observation.snapshot
    if case.status == "passed":
        return Finding(outcome, engine, "agrees", snap.code, snap.message)
    if snap.state == ENGINE_UNSUPPORTED:
        shown = f": it showed {snap.code or '(no code)'} {snap.message!r}" if snap.surfaced() else ""
        return Finding(outcome, engine, "skipped", snap.code, snap.message,
                       f"not verifiable on {engine} here: this build has no WebRTC, and the SDK does not start "
                       f"without it{shown}")
    detail = case.detail + ("" if snap.surfaced() else " (nothing shown)")
    return Finding(outcome, engine, "differs", snap.code, snap.message, detail)


def sdk_state(profiles: list[Profile]) -> list[tuple[str, bool, str]]:
    """For ``mediafault doctor``: each verified profile's SDK, whether the version it was verified with is
    installed for its probe page, and what is there."""
    out = []
    for profile in profiles:
        if profile.verified is None:
            continue
        have = installed_version(SDK_TOOL / "node_modules", profile.verified.package)
        ok = have == profile.verified.version
        detail = f"{have}" if ok else f"{have or 'missing'} (profile {profile.name} was verified with " \
                                      f"{profile.verified.version})"
        out.append((profile.verified.package, ok, detail))
    return out


def installed_version(sdk_modules: Path, package: str) -> str | None:
    """The version of ``package`` installed in ``sdk_modules`` (a node_modules directory), or None."""
    manifest = sdk_modules / package / "package.json"
    if not manifest.is_file():
        return None
    version = json.loads(manifest.read_text(encoding="utf-8")).get("version")
    return str(version) if version else None


def scratch_sdk(package: str, version: str, into: Path) -> Path:
    """A copy of tools/sdk in ``into`` with ``package`` at ``version`` installed from npm (the others as
    locked); returns its node_modules. Raises EnvironmentProblem with npm's words when it cannot."""
    npm = shutil.which("npm")
    if npm is None:
        raise EnvironmentProblem("npm is missing: install Node.js and npm (apt-get install npm) to try another SDK "
                                 "version")
    for name in ("package.json", "package-lock.json"):
        shutil.copy(SDK_TOOL / name, into / name)
    for cmd in (["ci"], ["install", f"{package}@{version}"]):
        done = subprocess.run([npm, *cmd, "--no-audit", "--no-fund", "--loglevel=error"], cwd=into,
                              capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0:
            said = [line for line in done.stderr.splitlines() if line.strip() and "complete log" not in line]
            raise EnvironmentProblem(f"npm {' '.join(cmd)} failed in the scratch copy: "
                                     f"{' / '.join(said[:2]) or '(no output)'}; check the version with "
                                     f"'npm view {package} versions'")
    return into / "node_modules"
