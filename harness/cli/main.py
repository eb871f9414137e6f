"""The ``mediafault`` command: its arguments, and the dispatch to each command.

The commands that start browsers are in :mod:`harness.cli.running` (``run`` is pytest underneath, so every
pytest and xdist option works after ``--``); the ones that help write scenarios without a browser are in
:mod:`harness.cli.authoring`.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import textwrap
from collections.abc import Callable

from harness import __version__
from harness.cli.authoring import cmd_docs, cmd_init, cmd_list, cmd_schema, cmd_validate
from harness.cli.running import cmd_conformance, cmd_report, cmd_run, cmd_variants
from harness.core.resources import CHECKOUT
from harness.run import LANES, LANES_DEFAULT, lane_count

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


def cmd_grid(args: argparse.Namespace) -> int:
    """Start, stop or show the local Selenium Grid."""
    from harness.cli.grid import command

    return command(args.action, args.port, args.engine, args.timeout, args.host)


def cmd_doctor(args: argparse.Namespace) -> int:
    """Print what this machine can run and how to fix what is missing."""
    from harness.cli.doctor import findings, render

    items = findings()
    print(render(items))
    return 0 if any(f.ok for f in items if f.area.startswith("engine")) else 1


def _add_lanes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lanes", type=lane_count, default=LANES, metavar="N",
                        help=f"run N cases at a time, each lane a process with its own browsers (and network lab): "
                        f"cases mostly wait on the app and the browsers' timers (default: {LANES}; 1 runs them one "
                        "after the other in this process)")



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
    run.add_argument("--profile", help="app profile (generic, twilio-voice@1, twilio-voice@2, acs-calling, "
                     "acs-calling-errors)")
    run.add_argument("--app-url", help="URL of your app (default: the bundled softphone)")
    run.add_argument("--grid-url", metavar="URL", help="run on the Selenium Grid 4 at URL (see 'mediafault grid')")
    run.add_argument("--lanes", type=lane_count, metavar="N", help=f"run the network lab's cases N at a time, each "
                     f"lane a process with its own browsers and lab: they mostly wait on the browsers' ICE timers "
                     f"(default: {LANES_DEFAULT}; 1 runs them one after the other; pytest: --mf-lanes)")
    run.add_argument("--serve-address", metavar="ADDRESS",
                     help="with a Grid on another machine: this machine's address its nodes reach (default: the "
                     "address on the route to the Grid)")
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
    lister.add_argument("--app-url", metavar="URL", help="plan the cases for your app at URL (as 'run --app-url')")

    schema = _command(sub, "schema", cmd_schema, "print the JSON Schema of scenario files (for editor completion)",
                      "examples:\n  mediafault schema > scenario.schema.json\n  then start a scenario file with:"
                      "\n  # yaml-language-server: $schema=scenario.schema.json")
    schema.add_argument("--output", "-o", help="write to this file instead of standard output")

    variants = _command(sub, "variants", cmd_variants, "prove the catalogue catches bugs: run it on each broken "
                        "variant of the bundled app", "examples:\n  mediafault variants\n  mediafault variants "
                        "no-telemetry --engine firefox --engine webkit\n\nexit status: 0 when the correct app "
                        "passes and every variant fails exactly its expected scenarios on every engine.")
    variants.add_argument("names", nargs="*", help="variants to run (default: all in fixtures/variants/)")
    variants.add_argument("--engine", action="append", choices=ENGINES, help="engine; repeatable, one table each "
                          "(default: chromium). A variant need not fail a scenario the engine cannot reproduce.")
    _add_lanes(variants)

    conform = _command(sub, "conformance", cmd_conformance, "check an app profile against the real SDK (its probe "
                       "page) or your own app, and print the differences as a profile patch",
                       "examples:\n  mediafault conformance twilio-voice@1\n"
                       "  mediafault conformance twilio-voice@2 --sdk-version 2.19.0 --engine chromium\n"
                       "  mediafault conformance my-widget --app-url http://localhost:5173/call\n\n"
                       "Each outcome whose condition the harness can set up (permission denied or dismissed, no "
                       "device,\nbusy device, ...) runs on each engine; the others are listed as documented "
                       "only.\nexit status: 0 when the profile agrees everywhere it could be checked, 1 on any "
                       "difference,\n2 on bad input or when nothing could be checked.")
    conform.add_argument("profile", help="a built-in profile (its 'verified:' block names the SDK and probe page) "
                         "or one of yours")
    conform.add_argument("--sdk-version", metavar="V", help="try this version of the SDK (installed from npm into a "
                         "scratch copy of tools/sdk) instead of the locked one")
    conform.add_argument("--engine", action="append", choices=ENGINES, help="engine to check on; repeatable "
                         "(default: all)")
    conform.add_argument("--outcome", action="append", metavar="OUTCOME", help="check only this outcome; "
                         "repeatable (default: every outcome of the profile)")
    conform.add_argument("--app-url", help="check your running app instead of the SDK's probe page")
    conform.add_argument("--app-dir", help="check your app's static files (served by the harness) instead")
    conform.add_argument("--config", help="mediafault.yaml with your app's surface and profiles_dir (default: the "
                         "nearest one)")
    conform.add_argument("--within", type=float, metavar="SECONDS", help="how long the app may take to show each "
                         "error (default: the profile's verified.within, or 10)")
    _add_lanes(conform)

    grid = _command(sub, "grid", cmd_grid, "start, stop or show a local Selenium Grid 4 (Java) to run on",
                    "examples:\n  mediafault grid up                       chromium and webkit (firefox with a "
                    "geckodriver) on 127.0.0.1:4444\n  mediafault run --grid-url http://127.0.0.1:4444\n"
                    "  mediafault grid status\n  mediafault grid down\n\nexit status: 0 on success; status: "
                    "1 when not ready, 3 when no Grid runs.")
    grid.add_argument("action", choices=["up", "down", "status"])
    grid.add_argument("--port", type=int, default=4444, help="port (default: 4444)")
    grid.add_argument("--host", default="127.0.0.1", help="the one address of this machine to listen on, for runs "
                      "from other machines (default: 127.0.0.1, this machine only)")
    grid.add_argument("--engine", action="append", choices=ENGINES, help="offer only this engine; repeatable "
                      "(default: every engine this machine has a driver for)")
    grid.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the Grid to be ready "
                      "(default: 60)")

    init = _command(sub, "init", cmd_init, "write mediafault.yaml and starter scenarios for your app",
                    "examples:\n  mediafault init                                   asks (on a terminal)\n"
                    "  mediafault init --url http://localhost:5173/call --profile twilio-voice@2 \\\n"
                    "      --code '.call-error' --code-attribute data-code --message '.call-error p'\n"
                    "  mediafault init --app-dir dist/ --profile my-widget   (a new profile to fill in)\n\n"
                    "init opens the app in Chromium, denies the microphone, clicks the call button once and proposes\n"
                    "the surface: selectors from what appeared (confirmed on a terminal; --no-detect skips it).\n"
                    "without a terminal (CI) nothing is asked: flags, then what was detected, then defaults are used.")
    init.add_argument("--dir", default=".", help="where to write (default: the current directory)")
    init.add_argument("--url", help="the running app's URL")
    init.add_argument("--app-dir", help="a directory of static files (with index.html) the harness serves")
    init.add_argument("--profile", help="a built-in profile, or a new name to start your own from 'generic'")
    init.add_argument("--call-button", help="CSS selector of the button that starts a call (default: the one "
                      "visible button labelled call/start/join/dial, else #call)")
    init.add_argument("--code", help="CSS selector of the element showing the error code")
    init.add_argument("--code-attribute", help="attribute holding the code ('-' to read the element's text)")
    init.add_argument("--message", help="CSS selector of the element showing the error message")
    init.add_argument("--console", help="regex for the console line logged on an error, with (?P<code>…) "
                      "and (?P<message>…) ('-' for none)")
    init.add_argument("--telemetry", help="path or URL part of the error-reporting endpoint ('-' for none)")
    init.add_argument("--force", action="store_true", help="overwrite files that exist")
    init.add_argument("--no-input", action="store_true", help="never ask, even on a terminal")
    init.add_argument("--no-detect", action="store_true", help="do not open the app in Chromium to find where it "
                      "shows errors; write the default surface: selectors (or the ones given)")

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
