"""The pytest plugin: options, markers, collection of scenario files and the end-of-run matrix.

Only wiring lives here; loading, planning, running and judging are in modules that know nothing of pytest.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

from harness.core import procs
from harness.core.errors import InputError
from harness.pytest.collect import CASE_SECONDS, ScenarioFailed, ScenarioFile, ScenarioItem
from harness.report.matrix import Cell, render, surface_map, surface_map_html
from harness.run import LANES_DEFAULT, MAX_LANES, lane_count
from harness.run.plan import split_case_id
from harness.run.pool import SCREENSHOT_MODES, TRACE_MODES
from harness.run.runner import PageHung
from harness.scenario.loader import CONFIG_NAMES
from harness.scenario.model import ENGINES


def pytest_addoption(parser: pytest.Parser) -> None:
    """Every option in one group, prefixed ``--mf-``, each with an ini twin ``mf_…``."""
    group = parser.getgroup("mediafault", "mediafault (media and permission failure scenarios)")
    group.addoption("--mf-engine", action="append", dest="mf_engine", choices=ENGINES, default=[],
                    help="engine to run on; repeat for several (default: every engine; ini: mf_engine)")
    group.addoption("--mf-route", action="append", dest="mf_route", default=[], metavar="ENGINE=ROUTE",
                    help="force a route, e.g. chromium=playwright-system (ini: mf_route)")
    group.addoption("--mf-config", dest="mf_config", metavar="PATH",
                    help="app config file (default: mediafault.yaml in the rootdir or above; ini: mf_config)")
    group.addoption("--mf-app-url", dest="mf_app_url", metavar="URL",
                    help="URL of the app under test (default: the bundled app; ini: mf_app_url)")
    group.addoption("--mf-profile", dest="mf_profile", metavar="NAME",
                    help="app profile: generic, twilio-voice@1, twilio-voice@2, acs-calling (ini: mf_profile)")
    # Switches default to None, not False, so that an explicit --mf-headless / --mf-no-matrix (False) wins
    # over the ini twin, as every other option does.
    group.addoption("--mf-headed", action="store_true", dest="mf_headed", default=None,
                    help="show browser windows (needs a display; ini: mf_headed)")
    group.addoption("--mf-headless", action="store_false", dest="mf_headed", default=None,
                    help="no browser windows, whatever mf_headed says in the ini (the default)")
    group.addoption("--mf-trace", dest="mf_trace", choices=list(TRACE_MODES),
                    help="Playwright trace of a failed case: rerun (the default: run it again, recording), "
                    "on-failure (every case records, a failed one keeps it) or off (ini: mf_trace)")
    group.addoption("--mf-screenshot", dest="mf_screenshot", choices=list(SCREENSHOT_MODES),
                    help="screenshot of the page as the case ends: on-failure (the default) or always "
                    "(ini: mf_screenshot)")
    group.addoption("--mf-matrix", action="store_true", dest="mf_matrix", default=None,
                    help="print the scenario × engine matrix at the end (ini: mf_matrix)")
    group.addoption("--mf-no-matrix", action="store_false", dest="mf_matrix", default=None,
                    help="no matrix, whatever mf_matrix says in the ini (the default)")
    group.addoption("--mf-grid-url", dest="mf_grid_url", metavar="URL",
                    help="run on the Selenium Grid 4 at URL (e.g. one started by 'mediafault grid up'; "
                    "ini: mf_grid_url)")
    group.addoption("--mf-serve-address", dest="mf_serve_address", metavar="ADDRESS",
                    help="with a Grid on another machine: this machine's address that the Grid's nodes reach, "
                    "where the harness serves the app and its pages (default: this machine's address on the "
                    "route to the Grid; ini: mf_serve_address)")
    group.addoption("--mf-surface-map", dest="mf_surface_map", metavar="PATH",
                    help="write the error-surface map (expected vs surfaced codes) as Markdown, and as HTML beside it "
                    "(ini: mf_surface_map)")
    group.addoption("--mf-case-timeout", dest="mf_case_timeout", metavar="SECONDS", type=float,
                    help="kill a case's browser when the case runs longer than this; the case is reported "
                    "broken with what was last seen (default: every bound the case waits on + 30 s; "
                    "ini: mf_case_timeout)")
    group.addoption("--mf-lanes", dest="mf_lanes", metavar="N", type=lane_count,
                    help="run the network lab's cases N at a time, each lane a process of its own (they mostly wait "
                    f"on the browsers' ICE timers); 1: one at a time, in the worker (default: {LANES_DEFAULT}; "
                    "ini: mf_lanes, 'auto' for the default)")
    parser.addini("mf_engine", type="args", default=[], help="engines to run on (default: all)")
    parser.addini("mf_lanes", type="string", default="auto", help=f"network cases at a time (1 to {MAX_LANES}, or "
                  f"auto: {LANES_DEFAULT})")
    parser.addini("mf_case_timeout", type="string", default="", help="seconds before a hung case's browser is "
                  "killed (default: computed per case)")
    parser.addini("mf_route", type="args", default=[], help="forced routes, ENGINE=ROUTE")
    parser.addini("mf_config", type="string", default="", help="app config file")
    parser.addini("mf_app_url", type="string", default="", help="URL of the app under test")
    parser.addini("mf_profile", type="string", default="", help="app profile")
    parser.addini("mf_headed", type="bool", default=False, help="show browser windows")
    parser.addini("mf_trace", type="string", default="rerun", help="Playwright trace: " + ", ".join(TRACE_MODES))
    parser.addini("mf_screenshot", type="string", default="on-failure",
                  help="screenshot: " + ", ".join(SCREENSHOT_MODES))
    parser.addini("mf_matrix", type="bool", default=False, help="print the scenario × engine matrix")
    parser.addini("mf_surface_map", type="string", default="", help="Markdown file for the error-surface map")
    parser.addini("mf_grid_url", type="string", default="", help="URL of a Selenium Grid 4 to run on")
    parser.addini("mf_serve_address", type="string", default="",
                  help="this machine's address a remote Grid's nodes reach (default: found from the route)")
    parser.addini("mf_scenario_dirs", type="args", default=["scenarios"],
                  help="directory names whose YAML files are scenarios (default: scenarios)")


def pytest_configure(config: pytest.Config) -> None:
    """Register markers, and keep running the good files when one scenario file is bad."""
    for engine in ENGINES:
        config.addinivalue_line("markers", f"{engine}: the case runs on {engine}")
    config.addinivalue_line("markers", "mediafault: a scenario case (every item this plugin collects)")
    # Selenium's own WebKitGTK driver class trips its own deprecation; it is not the user's to fix.
    config.addinivalue_line("filterwarnings", "ignore:setting remote_server_addr:DeprecationWarning")
    # A bad YAML file is reported as a collection error with its file:line message; the others still run
    # and the exit code is non-zero.
    config.option.continue_on_collection_errors = True
    config.pluginmanager.register(MatrixCollector(config), "mediafault-matrix")
    # SIGTERM stops a run as Ctrl-C does, so browsers, servers and the network lab are removed; an xdist
    # controller passes it on to its workers, which hold them.
    procs.stop_on_signals(pass_on=bool(getattr(config.option, "numprocesses", None))
                          and not hasattr(config, "workerinput"))
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistWiring(), "mediafault-xdist")
    if not hasattr(config, "workerinput"):
        _check_selection(config)
    try:
        from harness.pytest.session import run_state

        run_state(config)  # a bad mediafault.yaml stops the run here, before anything is collected
    except InputError as exc:
        raise pytest.UsageError(f"mediafault configuration error:\n{exc}") from None


# What to write instead, by option: a scenario's name has spaces, and -k matches words of it.
_SELECTION_HINTS = {"keyword": ("-k", "join the words of a case's name with and/or/not, e.g. -k 'blocked and "
                                      "site and chromium'"),
                    "markexpr": ("-m", "join marker names with and/or/not, e.g. -m 'chromium and not network'")}


def _check_selection(config: pytest.Config) -> None:
    """Read ``-k`` and ``-m`` before anything starts, and say what to write instead of one pytest cannot parse.
    Under xdist only the workers would read them, and one they cannot parse stops them before they report,
    which the controller shows as an INTERNALERROR traceback instead of what is wrong with the expression."""
    from _pytest.mark.expression import Expression

    for dest, (flag, hint) in _SELECTION_HINTS.items():
        text = (getattr(config.option, dest, "") or "").lstrip()
        if not text:
            continue
        try:
            Expression.compile(text)
        except SyntaxError as exc:  # pytest's ParseError
            raise pytest.UsageError(f"Wrong expression passed to '{flag}': {text}: at column {exc.offset}: "
                                    f"{exc.msg}\n  hint: {hint}") from None


_ARGS_KEY = pytest.StashKey[list[Path]]()


def _named_paths(config: pytest.Config) -> list[Path]:
    """The files and folders the user named on the command line, resolved (none when pytest fell back to
    testpaths or the current folder: those are not a request to treat every YAML file as a scenario)."""
    named = config.stash.get(_ARGS_KEY, None)
    if named is None:
        named = []
        if config.args_source == pytest.Config.ArgsSource.ARGS:
            for arg in config.args:
                candidate = Path(str(arg).split("::")[0])
                if not candidate.is_absolute():
                    candidate = Path(config.invocation_params.dir) / candidate
                named.append(candidate.resolve())
        config.stash[_ARGS_KEY] = named
    return named


def scenario_root(config: pytest.Config, file_path: Path) -> Path | None:
    """The folder ``file_path`` was found in when that folder holds scenarios: a folder named on the command
    line, or one named in the ``mf_scenario_dirs`` ini (default ``scenarios``); None otherwise."""
    resolved = file_path.resolve()
    for named in _named_paths(config):
        if named != resolved and named.is_dir() and resolved.is_relative_to(named):
            return named
    root = Path(config.rootpath).resolve()
    if resolved.is_relative_to(root):
        parts = resolved.relative_to(root).parts[:-1]
        dirs = set(config.getini("mf_scenario_dirs"))
        for depth, part in enumerate(parts):
            if part in dirs:
                return root.joinpath(*parts[: depth + 1])
    return None


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ScenarioFile | None:
    """Scenario files: a YAML file named on the command line, or one that the shared selection rule
    (:func:`harness.scenario.loader.is_scenario_file`, also used by validate and list) picks in a scenario folder."""
    from harness.scenario.loader import is_scenario_file

    config = parent.config
    if file_path.suffix not in (".yaml", ".yml") or file_path.name in CONFIG_NAMES:
        return None
    if file_path.resolve() in _named_paths(config):
        chosen = is_scenario_file(file_path)
    else:
        root = scenario_root(config, file_path)
        chosen = root is not None and is_scenario_file(file_path, root)
    if chosen:
        result: ScenarioFile = ScenarioFile.from_parent(parent, path=file_path)
        return result
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run cases grouped by launch configuration, so a worker starts each browser once."""
    order = {id(item): n for n, item in enumerate(items)}

    def launch_key(item: pytest.Item) -> str:
        if isinstance(item, ScenarioItem):
            item.add_marker("mediafault")
            return item.plan.launch.key if item.plan.launch else f"~{item.plan.engine}"
        return "~~"  # other tests keep their relative order after the cases

    items.sort(key=lambda i: (launch_key(i), order[id(i)]))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """Mark each report failed (wrong app behaviour) or broken (harness/environment) for the matrix."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if call.when == "call" and CASE_SECONDS in item.stash:
        # Run side by side with others: its duration is its own, not how long this worker waited for it.
        from harness.report.evidence import time_case

        report.duration = item.stash[CASE_SECONDS]
        time_case(report.duration)
    if isinstance(item, ScenarioItem):
        report.user_properties.append(("scenario", item.plan.source.scenario.name))
        report.user_properties.append(("fidelity", item.plan.fidelity.value))
        report.user_properties.append(("expected", item.plan.expected.code or item.plan.expected.state or ""))
        if call.excinfo is not None and not isinstance(call.excinfo.value, ScenarioFailed | pytest.skip.Exception):
            broken = [("status", "broken"), ("broken", broken_summary(call.excinfo.value))]
            report.user_properties.extend(broken)
            item.user_properties.extend(broken)  # JUnit XML takes the properties of the teardown report


def broken_summary(exc: BaseException) -> str:
    """A few words for the matrix cell of a case that could not run: ``timeout (last seen: …)`` for a hung
    case, else the first line of the error, cut short (the full text is in the failure report)."""
    if isinstance(exc, PageHung):
        return f"timeout ({exc.last_seen})"
    text = (str(exc).splitlines() or [type(exc).__name__])[0]
    return text if len(text) <= 60 else text[:59] + "…"



def nothing_collected_hint(config: pytest.Config) -> str:
    """Why a run collected no case: no scenario file where pytest looked, or no case for the chosen engines."""
    from harness.pytest.session import run_state
    from harness.scenario.loader import no_scenarios_hint, scenario_files

    named = _named_paths(config)
    where = named or [Path(config.rootpath) / d for d in config.getini("mf_scenario_dirs")]
    try:
        files = scenario_files([p for p in where if p.exists()])
    except InputError:
        files = []
    if files:
        return (f"{len(files)} scenario file(s) found, but none of their cases runs on "
                f"{', '.join(run_state(config).engines)}: check each scenario's 'engines:' and --mf-engine "
                "(ini: mf_engine)")
    base = Path(config.invocation_params.dir)
    shown = [p.relative_to(base) if p.is_relative_to(base) else p for p in where]
    hint = no_scenarios_hint(shown)
    if not named:
        dirs = ", ".join(config.getini("mf_scenario_dirs"))
        hint += (f". Without paths, only folders named {dirs} are searched (ini: mf_scenario_dirs); name a "
                 "folder or file on the command line to run the scenarios there")
    return hint


class XdistWiring:
    """Hooks that exist only when pytest-xdist is loaded."""

    def pytest_xdist_make_scheduler(self, config: pytest.Config, log: Any) -> Any:
        """Unless the user chose a --dist mode, keep cases that share a browser launch on one worker."""
        if not _scheduled_by_launch(config):
            return None
        from harness.pytest.scheduling import LaunchScheduling, launch_groups
        from harness.pytest.session import xdist_workers

        workers = xdist_workers(config)
        return LaunchScheduling(config, log, lambda ids: launch_groups(config, ids, workers))

    def pytest_configure_node(self, node: Any) -> None:
        """Tell each worker whether the network cases come to one worker all together (then that one runs them
        side by side in lanes; with another --dist mode each worker runs its own one at a time)."""
        from harness.pytest.session import LANES_SCOPE, run_state

        node.workerinput[LANES_SCOPE] = _scheduled_by_launch(node.config) and run_state(node.config).lanes > 1


def _scheduled_by_launch(config: pytest.Config) -> bool:
    """Whether this run's xdist scheduling is mediafault's (the user chose no --dist mode)."""
    explicit = any(str(a).startswith("--dist") for a in config.invocation_params.args)
    return not explicit and config.option.dist == "load"


class MatrixCollector:
    """Collects one matrix cell per case; on the xdist controller it sees the workers' reports too."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.cells: list[Cell] = []
        self.browsers: dict[str, str] = {}
        self.launches: dict[str, int] = {}  # browser launches per process (worker), from the case reports

    def _alluredir(self) -> Path | None:
        value = getattr(self.config.option, "allure_report_dir", None)
        return Path(value) if value and not hasattr(self.config, "workerinput") else None

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        """A scenario file that failed to load still appears in the Allure report, as broken."""
        directory = self._alluredir()
        if report.failed and directory is not None and str(report.nodeid).endswith((".yaml", ".yml")):
            from harness.report.allure_files import write_broken_file_result

            write_broken_file_result(directory, report.nodeid, str(report.longreprtext))

    def pytest_sessionfinish(self) -> None:
        """Environment, categories and executor for the Allure report (once, on the controller)."""
        directory = self._alluredir()
        if directory is not None and self.cells:
            from harness.pytest.session import run_state
            from harness.report.allure_files import write_environment

            state = run_state(self.config)
            app = state.app.url or state.app.dir or "bundled softphone"
            write_environment(directory, self.cells, self.browsers, app, state.profile.name)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Turn a case's call report (or its setup skip/error) into a cell."""
        props = {str(k): str(v) for k, v in report.user_properties}
        if "scenario" not in props:
            # xdist reports a case whose worker died (killed, out of memory) with no properties; it still
            # belongs in the matrix, as broken.
            crashed = split_case_id(report.nodeid) if str(report.when) == "???" else None
            if crashed and crashed[2] in ENGINES:
                self.cells.append(Cell(crashed[1], crashed[2], "broken", broken="its worker crashed"))
            return
        if report.when == "call" or (report.when == "setup" and not report.passed):
            status = props.get("status") or report.outcome
            if report.when == "setup" and report.failed:
                status = "broken"
            self.cells.append(Cell(props["scenario"], props["engine"], status, props.get("expected", ""),
                                   props.get("surfaced", ""), props.get("fidelity", ""), props.get("route", ""),
                                   props.get("failed_checks", ""), props.get("broken", "")))
            if props.get("browser"):
                self.browsers[props["engine"]] = f"{props['browser']} via {props.get('route', '')}"
        if "launches" in props:  # this process's launches so far (a counter, so the latest is its total)
            worker, _, count = props["launches"].partition("=")
            self.launches[worker] = max(self.launches.get(worker, 0), int(count))

    def pytest_terminal_summary(self, terminalreporter: Any, exitstatus: int) -> None:
        """Print the scenario × engine matrix when asked, and why nothing ran when nothing was collected."""
        from harness.pytest.session import option

        if hasattr(self.config, "workerinput"):
            return
        if option(self.config, "matrix"):
            terminalreporter.write_sep("=", "mediafault: scenario × engine")
            terminalreporter.write_line(render(self.cells))
            if self.launches:
                terminalreporter.write_line(f"browser launches: {sum(self.launches.values())}")
        if exitstatus == pytest.ExitCode.INTERRUPTED:
            # pytest's own lines name whatever call the signal landed in (often a Playwright file): say what it
            # means for this run.
            terminalreporter.write_line(
                f"mediafault: interrupted after {len(self.cells)} case(s); the matrix and the reports hold only "
                "those. The browsers, servers and network labs the run started are stopped before it exits; run "
                "it again for the rest.", yellow=True)
        if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED and not terminalreporter.stats.get("deselected"):
            terminalreporter.write_line(f"mediafault: {nothing_collected_hint(self.config)}", yellow=True)
        target = option(self.config, "surface_map")
        if target and self.cells:
            path = Path(target)
            path.parent.mkdir(parents=True, exist_ok=True)
            # The HTML twin is what the HTML report attaches (mediafault report finds it beside the results).
            page = path.with_suffix(".html")
            if path != page:
                path.write_text(surface_map(self.cells), encoding="utf-8")
            page.write_text(surface_map_html(self.cells), encoding="utf-8")
            terminalreporter.write_line(f"error-surface map: {path}" + (f" and {page.name}" if path != page else ""))


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Stop browsers and servers of this process (also after Ctrl-C)."""
    from harness.pytest.session import existing_state

    state = existing_state(session.config)
    if state is not None:
        state.close()


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    """One line saying which engines and app this run uses."""
    from harness.pytest.session import run_state

    if hasattr(config, "workerinput"):
        return None
    state = run_state(config)
    app = state.app.url or (f"{state.app.dir} (served by the harness)" if state.app.dir
                            else "bundled softphone (fixtures/app)")
    grid = f"; Selenium Grid {state.grid_url}" if state.grid_url else ""
    if state.serve_host:
        grid += f", its nodes reach the app on {state.serve_host}"
    return [f"mediafault: engines {', '.join(state.engines)}; app {app}; profile {state.profile.name}{grid}"]
