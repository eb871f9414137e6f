"""The ``mediafault`` command: run, validate, list and schema.

``run`` is pytest underneath (so every pytest and xdist option works after ``--``); the other commands
work without starting a browser.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from harness import __version__
from harness.core.errors import InputError
from harness.core.resources import CHECKOUT, bundled

EPILOG_RUN = """examples:
  mediafault run                                   the catalogue in ./scenarios (or the built-in one)
  mediafault run scenarios/permission --engine chromium
  mediafault run -n 2 --profile twilio-voice@2
  mediafault run scenarios/ -- -k dismissed -x     anything after -- goes to pytest
  mediafault run --report                          and build the HTML report (reports/html, single file)
  mediafault run --repeat 20 --engine chromium     soak: 20 repetitions, flaky cases in reports/flakes.md
"""
EPILOG_REPORT = """examples:
  mediafault report                        reports/allure-results → reports/html (serve it: --open)
  mediafault report --single-file          also reports/mediafault-report.html (opens from file://)
  mediafault report --results ci/allure-results --out ci/html --name "release 1.4 sign-off"

The trend is kept in history.jsonl beside the output directory (one line per run); the output
directory is replaced on every build. Needs Node.js and Allure 3: './bootstrap setup' installs them.
exit status: 0 when the report was built, 1 when it could not be, 2 on bad arguments.
"""


def default_paths() -> list[Path]:
    """``./scenarios`` when it exists, else the built-in catalogue."""
    local = Path.cwd() / "scenarios"
    return [local if local.is_dir() else bundled("scenarios")]


def _paths(args: argparse.Namespace) -> list[Path]:
    return [Path(p) for p in args.paths] or default_paths()


def cmd_run(args: argparse.Namespace) -> int:
    """Run scenarios through pytest and print the matrix."""
    import pytest

    reports = Path(args.reports)
    allure_dir = reports / "allure-results"
    # Cleaned here, not with --clean-alluredir: under xdist every (re)started worker would wipe it again.
    shutil.rmtree(allure_dir, ignore_errors=True)
    allure_dir.mkdir(parents=True, exist_ok=True)
    pytest_args = [str(p) for p in _paths(args)]
    pytest_args += [f"--mf-engine={e}" for e in args.engine or []]
    if args.profile:
        pytest_args.append(f"--mf-profile={args.profile}")
    if args.app_url:
        pytest_args.append(f"--mf-app-url={args.app_url}")
    if args.grid_url:
        pytest_args.append(f"--mf-grid-url={args.grid_url}")
    if args.n:
        pytest_args += ["-n", str(args.n)]
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
    # Its own process group, so a terminal's Ctrl-C reaches it once (forwarded), not twice: a second
    # interrupt would cut its cleanup short.
    child = subprocess.Popen(cmd, process_group=0)

    def forward(signum: int, frame: object) -> None:
        received.append(signal.Signals(signum))
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signum)

    watched = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, forward) for sig in watched}
    try:
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


def cmd_validate(args: argparse.Namespace) -> int:
    """Check scenario files; exit 2 on any problem."""
    from harness.scenario.loader import load_paths

    try:
        scenarios, errors = load_paths(_paths(args))
    except InputError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not scenarios and not errors:
        return _nothing_found(args)
    errors += _config_errors()
    for error in errors:
        print(error, file=sys.stderr)
    files = len({s.path for s in scenarios})
    if errors:
        count = sum(len(e.problems) for e in errors)
        print(f"\n{count} problem(s) in {len(errors)} file(s); {len(scenarios)} scenario(s) in {files} "
              "other file(s) are fine.", file=sys.stderr)
        return 2
    print(f"{len(scenarios)} scenario(s) in {files} file(s): all valid.")
    return 0


def _nothing_found(args: argparse.Namespace) -> int:
    """No scenario under the paths given: say what a scenario file is (a wrong folder is the usual cause)."""
    from harness.scenario.loader import no_scenarios_hint

    print(no_scenarios_hint(_paths(args)), file=sys.stderr)
    return 2


def _config_errors() -> list[InputError]:
    """Problems in the mediafault.yaml that applies here and in the profile it names (checked by validate too)."""
    from harness.app.config import find_config, load_config
    from harness.app.profiles import get_profile

    try:
        app, path = load_config(find_config(Path.cwd()))
        if path is not None:
            dirs = (path.parent / app.profiles_dir,) if app.profiles_dir else ()
            get_profile(app.profile, dirs, path)
    except InputError as exc:
        return [exc]
    return []


def cmd_list(args: argparse.Namespace) -> int:
    """Every case with its route and the mechanism and fidelity of each condition."""
    from harness.app.profiles import get_profile
    from harness.run.plan import plan_case
    from harness.scenario.loader import load_paths
    from harness.scenario.model import ENGINES

    try:
        scenarios, errors = load_paths(_paths(args))
        profile = get_profile(args.profile or "generic")
    except InputError as exc:
        print(exc, file=sys.stderr)
        return 2
    if not scenarios and not errors:
        return _nothing_found(args)
    for error in errors:
        print(error, file=sys.stderr)
    engines = args.engine or list(ENGINES)
    for source in scenarios:
        for engine in source.scenario.engines:
            if engine not in engines:
                continue
            plan = plan_case(source, engine, profile, grid=args.grid_url)
            skip = plan.skip_reason
            head = f"{plan.name}  [{'SKIP' if skip else plan.fidelity.value}]"
            route = f"{plan.route_info.route} ({plan.route_info.version})" if plan.route else "no route"
            print(f"{head}\n    {source.position}  route: {route}")
            for mech in plan.resolution.mechanisms:
                print(f"    {mech.condition}={mech.value}: {mech.fidelity.value}: {mech.how}")
            if skip:
                print(f"    skipped: {skip}")
    return 2 if errors else 0


def cmd_schema(args: argparse.Namespace) -> int:
    """Print (or write) the JSON Schema of scenario files."""
    from harness.scenario.schema import scenario_schema

    text = json.dumps(scenario_schema(), indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        sys.stdout.write(text)
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    """Regenerate (or with --check, verify) the generated files in docs/."""
    from harness.cli.docgen import generated

    stale = []
    for path, text in generated(Path(args.dir)).items():
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        stale.append(path)
        if not args.check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if args.check and stale:
        print("stale: " + ", ".join(map(str, stale)) + "\nrun 'mediafault docs' to regenerate them", file=sys.stderr)
        return 1
    if not stale:
        print("docs are up to date")
    return 0


def variant_report(engine: str, names: list[str] | None = None,
                   paths: list[Path] | None = None) -> list[tuple[str, set[str], set[str], list[str]]]:
    """For each broken variant: (name, scenarios that failed, scenarios expected to fail, other problems)."""
    import tempfile

    from harness.app.config import BUNDLED_APP, Surface
    from harness.app.profiles import get_profile
    from harness.app.variants import load_variants, materialize
    from harness.run.batch import run_batch
    from harness.run.runner import AppTarget, BrowserPool
    from harness.scenario.loader import load_paths

    scenarios, errors = load_paths(paths or [bundled("scenarios")])
    if errors:
        raise errors[0]
    variants = load_variants()
    pool = BrowserPool()
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="mediafault-variants-") as tmp:
            for name in names or list(variants):
                root = BUNDLED_APP if name == "correct" else materialize(name, Path(tmp))
                target = AppTarget(None, root, Surface().telemetry, profile_params=True)
                with_network = name == "correct" or variants[name].network
                chosen = [s for s in scenarios if with_network or s.scenario.given.network is None]
                try:
                    outcomes = run_batch(chosen, [engine], target, Surface(), get_profile("generic"), pool)
                finally:
                    target.stop()
                    pool.discard_lab_browsers()  # they live in the lab that just stopped
                failed = {o.plan.source.scenario.name for o in outcomes if o.status == "failed"}
                expected = set(variants[name].caught_by) if name != "correct" else set()
                other = [f"{o.plan.name}: {o.status}: {o.detail}" for o in outcomes if o.status == "broken"]
                # An unexpected failure comes with its table, so a flaky or real difference can be told apart.
                other += [f"{o.plan.name} failed ({o.detail}):\n{o.result.verdict.table()}" for o in outcomes
                          if o.status == "failed" and o.result and o.plan.source.scenario.name not in expected]
                rows.append((name, failed, expected, other))
    finally:
        pool.close()
    return rows


def cmd_variants(args: argparse.Namespace) -> int:
    """Run the catalogue against the correct app and each broken variant; print which scenarios caught it."""
    from harness.app.variants import catch_table, load_variants

    try:
        names = ["correct", *(args.names or load_variants())]
        rows = variant_report(args.engine, names)
    except InputError as exc:
        print(exc, file=sys.stderr)
        return 2
    lines, ok = catch_table(args.engine, rows)
    print("\n".join(lines))
    return 0 if ok else 1


def cmd_grid(args: argparse.Namespace) -> int:
    """Start, stop or show the local Selenium Grid."""
    from harness.cli.grid import command

    return command(args.action, args.port, args.engine, args.timeout)


def cmd_init(args: argparse.Namespace) -> int:
    """Write mediafault.yaml and starter scenarios for the user's app (asking on a terminal)."""
    from harness.cli import scaffold

    flags = {k: getattr(args, k) for k in ("url", "app_dir", "profile", "call_button", "code", "code_attribute",
                                           "message", "console", "telemetry")}
    ask = scaffold.terminal_ask if sys.stdin.isatty() and not args.no_input else None
    target = Path(args.dir)
    try:
        answers = scaffold.gather(flags, ask)
        written = scaffold.write(scaffold.files_for(answers, target), args.force)
    except scaffold.InitError as exc:
        print(f"mediafault init: {exc}", file=sys.stderr)
        return 2
    except (EOFError, KeyboardInterrupt):
        print("\nmediafault init: stopped; nothing was written", file=sys.stderr)
        return 130
    for path in written:
        print(f"wrote {path}")
    print("\nnext:\n  mediafault validate            check the scenarios\n"
          "  mediafault run --engine chromium   run them (then change an expect: and see it fail)")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    """Print what this machine can run and how to fix what is missing."""
    from harness.cli.doctor import findings, render

    items = findings()
    print(render(items))
    return 0 if any(f.ok for f in items if f.area.startswith("engine")) else 1


def _command(sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str,
             func: Callable[[argparse.Namespace], int], summary: str, epilog: str) -> argparse.ArgumentParser:
    """A subcommand whose --help keeps the examples' line breaks."""
    parser = sub.add_parser(name, help=summary, epilog=epilog, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.set_defaults(func=func)
    return parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also used to render --help in the docs)."""
    from harness.scenario.loader import SELECTION_RULE
    from harness.scenario.model import ENGINES

    parser = argparse.ArgumentParser(
        prog="mediafault",
        description="Reproduce microphone, permission and network failures in real browsers and check that "
        "the web app under test shows the right error.",
        epilog="Run 'mediafault COMMAND --help' for the options and examples of each command.",
    )
    parser.add_argument("--version", action="version", version=f"mediafault {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = _command(sub, "run", cmd_run, "run scenarios in real browsers (pytest underneath)", EPILOG_RUN)
    run.add_argument("paths", nargs="*", help="scenario files or directories (default: ./scenarios)")
    run.add_argument("--engine", action="append", choices=ENGINES, help="engine to run on; repeatable "
                     "(default: every engine available)")
    run.add_argument("-n", type=str, metavar="N", help="parallel workers (a number or 'auto')")
    run.add_argument("--profile", help="app profile (generic, twilio-voice@1, twilio-voice@2, acs-calling)")
    run.add_argument("--app-url", help="URL of your app (default: the bundled softphone)")
    run.add_argument("--grid-url", metavar="URL", help="run on the Selenium Grid 4 at URL (see 'mediafault grid')")
    run.add_argument("--reports", default="reports", help="where JUnit XML and Allure results go "
                     "(default: reports/)")
    run.add_argument("--report", action="store_true", help="then build the HTML report (REPORTS/html and the "
                     "single file REPORTS/mediafault-report.html; see 'mediafault report')")
    run.add_argument("--repeat", type=int, default=1, metavar="N", help="soak: run everything N times and report "
                     "the cases whose outcome changed (REPORTS/flakes.md); exit 1 on any flake or failure")

    report = _command(sub, "report", cmd_report, "build the HTML report (Allure 3) from the Allure results, "
                      "offline", EPILOG_REPORT)
    report.add_argument("--results", default="reports/allure-results", help="Allure results directory "
                        "(default: reports/allure-results)")
    report.add_argument("--out", default="reports/html", help="report directory, replaced on every build "
                        "(default: reports/html)")
    report.add_argument("--single-file", action="store_true", help="also write one self-contained HTML file "
                        "beside OUT (mediafault-report.html) that opens from file://")
    report.add_argument("--name", help="report name shown in its header (default: 'mediafault: scenario × engine')")
    report.add_argument("--open", action="store_true", help="then serve the report on 127.0.0.1 and open a browser")
    report.add_argument("--port", type=int, default=0, help="port for --open (default: any free one)")

    validate = _command(sub, "validate", cmd_validate, "check scenario files without running them",
                        "examples:\n  mediafault validate scenarios/\n  mediafault validate my-scenario.yaml\n\n"
                        + textwrap.fill(f"which files: {SELECTION_RULE}. A file found twice is checked once.",
                                        width=100) + "\n\n"
                        "exit status: 0 when every file is valid, 2 otherwise (messages are file:line:column), "
                        "also when there is no scenario to check.")
    validate.add_argument("paths", nargs="*", help="files or directories (default: ./scenarios)")

    lister = _command(sub, "list", cmd_list, "show every case with the mechanism and fidelity each condition "
                      "would use", "examples:\n  mediafault list\n  mediafault list scenarios/permission --engine "
                      "firefox")
    lister.add_argument("paths", nargs="*", help="files or directories (default: ./scenarios)")
    lister.add_argument("--engine", action="append", choices=ENGINES, help="only this engine; repeatable")
    lister.add_argument("--profile", help="app profile used to resolve outcomes (default: generic)")
    lister.add_argument("--grid-url", metavar="URL", help="plan the cases for the Selenium Grid at URL")

    schema = _command(sub, "schema", cmd_schema, "print the JSON Schema of scenario files (for editor completion)",
                      "examples:\n  mediafault schema > scenario.schema.json\n  then start a scenario file with:"
                      "\n  # yaml-language-server: $schema=scenario.schema.json")
    schema.add_argument("--output", "-o", help="write to this file instead of standard output")

    variants = _command(sub, "variants", cmd_variants, "prove the catalogue catches bugs: run it on each broken "
                        "variant of the bundled app", "examples:\n  mediafault variants\n  mediafault variants "
                        "no-telemetry --engine firefox\n\nexit status: 0 when the correct app passes and every "
                        "variant fails exactly its expected scenarios.")
    variants.add_argument("names", nargs="*", help="variants to run (default: all in fixtures/variants/)")
    variants.add_argument("--engine", default="chromium", choices=ENGINES, help="engine (default: chromium)")

    grid = _command(sub, "grid", cmd_grid, "start, stop or show a local Selenium Grid 4 (Java) to run on",
                    "examples:\n  mediafault grid up                       chromium and webkit (firefox with a "
                    "geckodriver) on 127.0.0.1:4444\n  mediafault run --grid-url http://127.0.0.1:4444\n"
                    "  mediafault grid status\n  mediafault grid down\n\nexit status: 0 on success; status: "
                    "1 when not ready, 3 when no Grid runs.")
    grid.add_argument("action", choices=["up", "down", "status"])
    grid.add_argument("--port", type=int, default=4444, help="port on 127.0.0.1 (default: 4444)")
    grid.add_argument("--engine", action="append", choices=ENGINES, help="offer only this engine; repeatable "
                      "(default: every engine this machine has a driver for)")
    grid.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the Grid to be ready "
                      "(default: 60)")

    init = _command(sub, "init", cmd_init, "write mediafault.yaml and starter scenarios for your app",
                    "examples:\n  mediafault init                                   asks (on a terminal)\n"
                    "  mediafault init --url http://localhost:5173/call --profile twilio-voice@2 \\\n"
                    "      --code '.call-error' --code-attribute data-code --message '.call-error p'\n"
                    "  mediafault init --app-dir dist/ --profile my-widget   (a new profile to fill in)\n\n"
                    "without a terminal (CI) nothing is asked: flags and defaults are used.")
    init.add_argument("--dir", default=".", help="where to write (default: the current directory)")
    init.add_argument("--url", help="the running app's URL")
    init.add_argument("--app-dir", help="a directory of static files (with index.html) the harness serves")
    init.add_argument("--profile", help="a built-in profile, or a new name to start your own from 'generic'")
    init.add_argument("--call-button", help="CSS selector of the button that starts a call (default: #call)")
    init.add_argument("--code", help="CSS selector of the element showing the error code")
    init.add_argument("--code-attribute", help="attribute holding the code ('-' to read the element's text)")
    init.add_argument("--message", help="CSS selector of the element showing the error message")
    init.add_argument("--console", help="regex for the console line logged on an error, with (?P<code>…) "
                      "and (?P<message>…) ('-' for none)")
    init.add_argument("--telemetry", help="path or URL part of the error-reporting endpoint ('-' for none)")
    init.add_argument("--force", action="store_true", help="overwrite files that exist")
    init.add_argument("--no-input", action="store_true", help="never ask, even on a terminal")

    _command(sub, "doctor", cmd_doctor, "which engines, routes and tools are available here, and how to get the "
             "rest", "examples:\n  mediafault doctor\n\nexit status: 0 when at least one engine can run.")

    docs = _command(sub, "docs", cmd_docs, "regenerate docs/ (schema, format reference, support matrix)",
                    "examples:\n  mediafault docs\n  mediafault docs --check   (exit 1 when stale)")
    docs.add_argument("--dir", default=str(CHECKOUT / "docs"), help="docs directory (default: the checkout's)")
    docs.add_argument("--check", action="store_true", help="only check; exit 1 when a file is stale")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``mediafault`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:  # everything after "--" goes to pytest untouched
        extra = argv[argv.index("--") + 1 :]
        argv = argv[: argv.index("--")]
    parser = build_parser()
    args = parser.parse_args(argv)
    args.pytest_args = extra
    try:
        code: int = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, and not at interpreter exit
    except KeyboardInterrupt:
        print("\ninterrupted; browsers and servers were stopped.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away ('mediafault list | head'): not an error of ours, and no traceback. Python
        # would try to flush stdout again at exit and fail, so point it at /dev/null; exit as a process
        # killed by SIGPIPE would (128 + 13), like other command-line tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 128 + signal.SIGPIPE
    return code


if __name__ == "__main__":
    sys.exit(main())
