"""The commands that run browsers: ``run`` (pytest underneath, and the soak of ``--repeat``), ``report`` (the HTML
report from the Allure results) and ``variants`` (the catalogue against each broken variant of the app)."""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from harness.cli.authoring import scenario_paths
from harness.core import procs
from harness.core.errors import InputError
from harness.core.resources import bundled
from harness.run import LANES

if TYPE_CHECKING:
    from harness.app.variants import Variant, VariantRow
    from harness.run.batch import CaseOutcome, Lanes
    from harness.run.pool import BrowserPool
    from harness.scenario.loader import SourcedScenario



def cmd_run(args: argparse.Namespace) -> int:
    """Run scenarios through pytest and print the matrix."""
    import pytest

    reports = Path(args.reports)
    allure_dir = reports / "allure-results"
    # Cleaned here, not with --clean-alluredir: under xdist every (re)started worker would wipe it again.
    shutil.rmtree(allure_dir, ignore_errors=True)
    allure_dir.mkdir(parents=True, exist_ok=True)
    pytest_args = [str(p) for p in scenario_paths(args)]
    pytest_args += [f"--mf-engine={e}" for e in args.engine or []]
    if args.profile:
        pytest_args.append(f"--mf-profile={args.profile}")
    if args.app_url:
        pytest_args.append(f"--mf-app-url={args.app_url}")
    if args.grid_url:
        pytest_args.append(f"--mf-grid-url={args.grid_url}")
    if args.serve_address:
        pytest_args.append(f"--mf-serve-address={args.serve_address}")
    if args.lanes:
        pytest_args.append(f"--mf-lanes={args.lanes}")
    if args.n:
        pytest_args += ["-n", str(args.n)]
    # This process imported harness before pytest could mark it for assertion rewriting, which harness does
    # not need; pytest's warning about it would only show on an interrupted run, as noise.
    pytest_args += ["-W", "ignore:Module already imported so cannot be rewritten; harness:"
                          "pytest.PytestAssertRewriteWarning"]
    pytest_args += ["--mf-matrix", f"--mf-surface-map={reports / 'error-surface.md'}",
                    f"--junitxml={reports / 'junit.xml'}", f"--alluredir={allure_dir}",
                    "-p", "no:cacheprovider", "-q", "-rs", *args.pytest_args]
    code = _soak(args.repeat, pytest_args, reports) if args.repeat > 1 else int(pytest.main(pytest_args))
    if args.report:
        report = build_html_report(allure_dir, reports / "html", single_file=True)
        # Failing cases keep pytest's exit status; a report that could not be built makes a green run red.
        return code or report
    return code


def _run_forwarding_signals(cmd: list[str]) -> tuple[int, signal.Signals | None]:
    """Run ``cmd`` and wait for it, passing SIGINT, SIGTERM and SIGHUP on to it, so a job runner that
    stops this process alone still gets the child's clean stop; returns (exit status, signal received)."""
    import subprocess

    received: list[signal.Signals] = []
    started: list[subprocess.Popen[bytes]] = []

    def forward(signum: int, frame: object) -> None:
        received.append(signal.Signals(signum))
        for child in started:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)

    # A signal this process ignores (SIGHUP under nohup, SIGINT for a job a script put in the background)
    # stays ignored: the child inherits that, so passing it on would stop nothing while this process
    # reported a stop. The others are watched before the child starts, so none is lost in between.
    watched = [sig for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
               if signal.getsignal(sig) is not signal.SIG_IGN]
    previous = {sig: signal.signal(sig, forward) for sig in watched}
    try:
        # Its own process group, so a terminal's Ctrl-C reaches it once (forwarded), not twice: a second
        # interrupt would cut its cleanup short. Its handlers of the watched signals are the defaults.
        child = subprocess.Popen(cmd, process_group=0)
        started.append(child)
        if received:  # came while it started
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(received[0])
        code = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code, (received[0] if received else None)


def _soak(times: int, pytest_args: list[str], reports: Path) -> int:
    """Run the same pytest session ``times`` times (each in its own process, so nothing carries over) and
    report the cases whose outcome changed: 0 only when every repetition passed."""
    from harness.report.flakes import Soak, read_junit

    soak = Soak()
    repeat_dir = reports / "repeat"
    shutil.rmtree(repeat_dir, ignore_errors=True)
    repeat_dir.mkdir(parents=True)
    worst = 0
    for i in range(1, times + 1):
        print(f"--- repetition {i} of {times}", flush=True)
        junit = repeat_dir / f"junit-{i}.xml"
        args = [a if not a.startswith("--junitxml=") else f"--junitxml={junit}" for a in pytest_args]
        code, stopped_by = _run_forwarding_signals([sys.executable, "-m", "pytest", *args])
        if stopped_by is not None:
            print(f"the soak stopped at repetition {i} on signal {stopped_by.name}; the run cleaned up after "
                  "itself", file=sys.stderr)
            return 128 + stopped_by
        if code in (2, 3, 4) or not junit.is_file():  # interrupted, internal or usage error: stop here
            print(f"repetition {i} did not complete (pytest exit {code}); the soak stops", file=sys.stderr)
            return code or 1
        worst = max(worst, code)
        soak.runs.append(read_junit(junit))
        shutil.copy(junit, reports / "junit.xml")
    text = soak.markdown()
    (reports / "flakes.md").write_text(text, encoding="utf-8")
    print("\n" + text + f"(also in {reports / 'flakes.md'}; each repetition's JUnit XML in {repeat_dir})")
    return 1 if soak.flaky() or worst else 0


def build_html_report(results: Path, out: Path, *, single_file: bool, name: str | None = None) -> int:
    """Build the HTML report and say where it is; 0 when built, 1 (with what to do) when not."""
    from harness.core.errors import MediafaultError
    from harness.report import html as htmlreport

    history = out.parent / "history.jsonl"
    single = out.parent / htmlreport.SINGLE_FILE_NAME if single_file else None
    try:
        built = htmlreport.build_report(results, out, history=history, single_file=single,
                                        name=name or htmlreport.DEFAULT_NAME,
                                        surface_map=results.parent / htmlreport.SURFACE_MAP_NAME)
    except MediafaultError as exc:
        print(f"HTML report not built: {exc}", file=sys.stderr)
        return 1
    size = htmlreport.sizes(built)
    print(f"HTML report: {built.out / 'index.html'} ({size['report'] / 1e6:.1f} MB; it needs HTTP: "
          f"'mediafault report --open' serves it)")
    if built.single_file is not None:
        print(f"single file: {built.single_file} ({size['single file'] / 1e6:.1f} MB; opens from file://, "
              "attach it to the release ticket)")
    again = "" if built.appended else " (these results were already in it: no new point)"
    print(f"trend: {built.history_runs} run(s) in {built.history}{again}; built in {built.seconds:.1f}s")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Build the HTML report from Allure results, offline; optionally serve it."""
    out = Path(args.out)
    code = build_html_report(Path(args.results), out, single_file=args.single_file, name=args.name)
    if code or not args.open:
        return code
    import threading
    import webbrowser

    from harness.report.html import serve

    server = serve(out, args.port)
    url = f"http://127.0.0.1:{server.server_port}/index.html"
    print(f"serving {out} at {url} (Ctrl-C stops)")
    webbrowser.open(url)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        server.server_close()
    return 0


def variant_report(engine: str, names: list[str] | None = None, paths: list[Path] | None = None,
                   pool: BrowserPool | None = None, listed_only: bool = False,
                   lanes: int | Lanes = LANES) -> list[VariantRow]:
    """For each app (``correct`` or a broken variant), what it did on ``engine``.

    A variant is expected to fail each of its caught_by scenarios that ``engine`` can reproduce; one
    whose every case is skipped there, or that the variant lists as unaffected on ``engine``, is reported
    apart with the reason (an unaffected one still runs, and failing it is unexpected). ``pool`` (closed by the
    caller) lets several calls share their browsers; without it one is made and closed here.

    ``listed_only`` runs a broken variant against its caught_by scenarios alone: that each of them catches
    the bug, without showing that no other scenario fails too (the rest of the catalogue). ``lanes``: how many
    cases run at a time (see :func:`harness.run.batch.run_batch`); one set of lane processes serves every app
    here, or the caller's (a :class:`~harness.run.batch.Lanes`, closed by the caller) several calls.
    """
    import tempfile

    from harness.app.variants import load_variants
    from harness.run.batch import Lanes, run_batches
    from harness.run.pool import BrowserPool
    from harness.scenario.loader import load_paths

    scenarios, errors = load_paths(paths or [bundled("scenarios")])
    if errors:
        raise errors[0]
    with contextlib.ExitStack() as stack:
        if pool is None:
            pool = BrowserPool()
            stack.callback(pool.close)
        if not isinstance(lanes, Lanes):
            lanes = stack.enter_context(Lanes(lanes))
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mediafault-variants-")))
        variants = load_variants()
        apps = [_VariantApp(engine, name, variants[name] if name != "correct" else None, scenarios, listed_only,
                            tmp) for name in names or list(variants)]
        # One run for all the apps, so the lanes go on to the next app while one app's last cases finish.
        runs = [app.batch for app in apps if app.batch is not None]
        try:
            outcomes = iter(run_batches(runs, pool, lanes))
        finally:
            for batch in runs:
                batch.target.stop()
            pool.discard_lab_browsers()  # they live in the labs that just stopped
        return [app.row(next(outcomes) if app.batch is not None else []) for app in apps]


class _VariantApp:
    """One app of :func:`variant_report` on one engine: the cases to run against it (``batch``; None when none
    of them could catch it there), and its row from their outcomes."""

    def __init__(self, engine: str, name: str, variant: Variant | None, scenarios: list[SourcedScenario],
                 listed_only: bool, tmp: Path) -> None:
        from harness.app.config import BUNDLED_APP, Surface
        from harness.app.profiles import get_profile
        from harness.app.variants import materialize
        from harness.run.batch import Batch
        from harness.run.target import AppTarget

        self.name = name  # ``variant`` is None for the correct app
        with_network = variant is None or variant.network
        self.caught_by = variant.caught_by if variant else []
        chosen = [s for s in scenarios if (with_network or s.scenario.given.network is None)
                  and (not listed_only or not self.caught_by or s.scenario.name in self.caught_by)]
        self.unaffected = variant.unaffected_on(engine) if variant else {}
        self.cannot = {**_unreproducible(chosen, self.caught_by, engine), **self.unaffected}
        self.batch: Batch | None = None
        # Nothing here could catch it: running the catalogue against it would prove nothing.
        if not self.caught_by or len(self.cannot) != len(self.caught_by):
            root = BUNDLED_APP if variant is None else materialize(name, tmp)
            self.batch = Batch(chosen, [engine], AppTarget(None, root, Surface().telemetry, profile_params=True),
                               Surface(), get_profile("generic"))

    def row(self, outcomes: list[CaseOutcome]) -> VariantRow:
        """What the app did in ``outcomes`` (its batch's), against what it is expected to fail."""
        from harness.app.variants import VariantRow, expected_on_engine

        if self.batch is None:
            return VariantRow(self.name, set(), set(), [], self.cannot)
        failed = {o.plan.source.scenario.name for o in outcomes if o.status == "failed"}
        ran = {o.plan.source.scenario.name for o in outcomes if o.status != "skipped"}
        skips = {o.plan.source.scenario.name: o.detail for o in outcomes if o.status == "skipped"}
        expected, unreproduced = expected_on_engine([n for n in self.caught_by if n not in self.unaffected], skips,
                                                    ran)
        unreproduced.update(self.unaffected)
        other = [f"{o.plan.name}: {o.status}: {o.detail}" for o in outcomes if o.status == "broken"]
        # An unexpected failure comes with its table, so a flaky or real difference can be told apart.
        other += [f"{o.plan.name} failed ({o.detail}):\n{o.result.verdict.table()}" for o in outcomes
                  if o.status == "failed" and o.result and o.plan.source.scenario.name not in expected]
        return VariantRow(self.name, failed, expected, other, unreproduced)


def _unreproducible(scenarios: list[SourcedScenario], names: list[str], engine: str) -> dict[str, str]:
    """Those of ``names`` with no case ``engine`` can run (each planned, nothing started), with why."""
    from harness.app.profiles import get_profile
    from harness.run.plan import plan_case

    profile = get_profile("generic")
    out: dict[str, str] = {}
    for name in names:
        mine = [s for s in scenarios if s.scenario.name == name]
        reasons = [f"not written for {engine}" if engine not in s.scenario.engines
                   else plan_case(s, engine, profile).skip_reason for s in mine]
        if mine and all(reasons):
            out[name] = "; ".join(sorted({r for r in reasons if r}))
    return out


def cmd_variants(args: argparse.Namespace) -> int:
    """Run the catalogue against the correct app and each broken variant on each engine asked for; print which
    scenarios caught each one."""
    from harness.app.variants import catch_table, load_variants
    from harness.run.pool import BrowserPool

    procs.stop_on_signals()  # its browsers, servers, labs and lanes are stopped (run: the plugin does it)
    ok = True
    pool = BrowserPool()
    try:
        known = load_variants()
        unknown = [n for n in args.names or [] if n not in known]
        if unknown:  # said before the correct app's run, not minutes into it
            print(f"no app variant named {unknown[0]!r}; variants: {', '.join(known)}", file=sys.stderr)
            return 2
        names = ["correct", *(args.names or known)]
        for n, engine in enumerate(args.engine or ["chromium"]):
            rows = variant_report(engine, names, pool=pool, lanes=args.lanes)
            lines, good = catch_table(engine, rows)
            print(("\n" if n else "") + "\n".join(lines), flush=True)
            ok = ok and good
    except InputError as exc:
        print(exc, file=sys.stderr)
        return 2
    finally:
        pool.close()
    return 0 if ok else 1


def cmd_conformance(args: argparse.Namespace) -> int:
    """Check a profile against the real SDK (its probe page) or your own app: run the condition of each
    outcome on each engine, print what agrees and what differs, and the differences as a profile patch."""
    import tempfile

    from harness.app.config import find_config, load_config
    from harness.app.profiles import get_profile
    from harness.core.errors import MediafaultError
    from harness.run import conformance
    from harness.run.pool import BrowserPool
    from harness.run.target import AppTarget
    from harness.scenario.model import ENGINES

    try:
        config_path = Path(args.config) if args.config else find_config(Path.cwd())
        app, config_path = load_config(config_path)
        base = config_path.parent if config_path else Path.cwd()
        dirs = (base / app.profiles_dir,) if app.profiles_dir else ()
        profile = get_profile(args.profile, dirs, config_path)
    except InputError as exc:
        print(exc, file=sys.stderr)
        return 2
    own_app = args.app_url or args.app_dir
    verified = profile.verified
    if not own_app and verified is None:
        documented = {s.documented_only for s in profile.outcomes.values() if s.documented_only}
        why = (f"; every outcome is documented only ({'; '.join(sorted(documented))})"
               if documented and all(s.documented_only for s in profile.outcomes.values()) else "")
        print(f"profile '{profile.name}' has no SDK probe page (no 'verified:' block){why}: give --app-url or "
              "--app-dir to check your app against it", file=sys.stderr)
        return 2
    if own_app and args.sdk_version:
        print("--sdk-version applies to the SDK probe pages, not to your app (install that version in your app)",
              file=sys.stderr)
        return 2
    unknown = [o for o in args.outcome or [] if o not in profile.outcomes]
    if unknown:
        print(f"profile '{profile.name}' has no outcome {', '.join(map(repr, unknown))}; its outcomes: "
              f"{', '.join(profile.outcomes)}", file=sys.stderr)
        return 2
    engines = args.engine or list(ENGINES)
    within = args.within or (verified.within if verified else 10.0)
    procs.stop_on_signals()  # its browsers, servers, labs and lanes are stopped (run: the plugin does it)
    pool = BrowserPool()
    with tempfile.TemporaryDirectory(prefix="mediafault-sdk-") as scratch:
        try:
            if own_app:
                root = Path(args.app_dir).resolve() if args.app_dir else None
                target = AppTarget(args.app_url, root, app.surface.telemetry, profile_params=False)
                against = args.app_url or str(root)
            else:
                assert verified is not None
                modules = conformance.SDK_TOOL / "node_modules"
                locked = conformance.installed_version(modules, verified.package)
                version = locked
                if args.sdk_version and args.sdk_version != locked:
                    print(f"installing {verified.package}@{args.sdk_version} into a scratch copy of tools/sdk "
                          f"(the locked version is {locked or 'not installed'})", flush=True)
                    modules = conformance.scratch_sdk(verified.package, args.sdk_version, Path(scratch))
                    version = conformance.installed_version(modules, verified.package)
                target = conformance.probe_target(verified.probe, modules)
                against = f"{verified.package} {version} (probe {verified.probe}; profile verified with " \
                          f"{verified.version})"
            print(f"checking profile '{profile.name}' against {against} on {', '.join(engines)}", flush=True)
            try:
                result = conformance.check(profile, target, engines, pool, within,
                                           app.surface if own_app else None, args.outcome, args.lanes)
            finally:
                target.stop()
        except MediafaultError as exc:
            print(f"conformance not checked: {exc}", file=sys.stderr)
            return 2
        finally:
            pool.close()
    print(result.table())
    patch = result.patch()
    broken = [f for f in result.findings if f.status == "broken"]
    if patch:
        print(f"\nwhat the profile should say (paste over the outcomes of '{profile.name}'):\n")
        print(patch.rstrip())
    if broken:
        print(f"\n{len(broken)} case(s) could not run (broken): see their lines above; nothing is concluded for them")
    if not result.differences:
        print(f"\nprofile '{profile.name}' agrees with what was shown on every outcome and engine that could run")
        return 0
    return 1
