"""Shared fixtures: a pytester project with the harness plugin and helpers to write scenarios."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
BUNDLED_APP = REPO / "fixtures" / "app"

pytest_plugins = ["pytester"]

WriteScenario = Callable[[str, str], Path]


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester project whose pytest config knows nothing but strict markers (like a user's repo)."""
    pytester.makefile(".ini", pytest="[pytest]\naddopts = --strict-markers -p no:cacheprovider\n")
    return pytester


@pytest.fixture
def write_scenario(project: pytest.Pytester) -> WriteScenario:
    """Write ``scenarios/<relpath>`` with dedented YAML text; returns its path."""

    def write(relpath: str, text: str) -> Path:
        path = project.path / "scenarios" / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path

    return write


def chromium_available() -> bool:
    """Whether a Chromium the harness can drive is installed."""
    return not engine_missing_reason("chromium")


def chromium_missing_reason() -> str:
    """Why no Chromium can be driven here, with what to do about it ('' when one can)."""
    return engine_missing_reason("chromium")


def engine_missing_reason(engine: str) -> str:
    """Why ``engine`` cannot be driven here, with what to do about it ('' when it can)."""
    from harness.reproduce.engines import pick_route

    route, info = pick_route(engine)
    if route is not None:
        return ""
    name = {"chromium": "Chromium", "firefox": "Firefox", "webkit": "WebKit"}.get(engine, engine)
    return f"no {name} here ({info.reason}); './bootstrap setup' installs " + ("one" if engine == "chromium" else "it")


def in_ci() -> bool:
    """Whether this runs under CI (GitHub Actions and most runners set CI=true)."""
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


@pytest.fixture(scope="session")
def chromium_required() -> None:
    """Fail, not skip, without Chromium: under CI a suite whose browser tests all skip would pass green.

    Session-scoped so that it runs before module fixtures that would otherwise skip first."""
    reason = chromium_missing_reason()
    if reason:
        pytest.fail(f"CI is set and {reason}. On Ubuntu that is Playwright's Chromium "
                    "('.venv/bin/playwright install --with-deps chromium'); unset CI to skip these tests instead.",
                    pytrace=False)


# Developers without a browser get skips that say why; CI gets a failure (see chromium_required).
needs_chromium = (pytest.mark.usefixtures("chromium_required") if in_ci() and not chromium_available()
                  else pytest.mark.skipif(not chromium_available(), reason=chromium_missing_reason() or "-"))


def needs_engine(engine: str) -> pytest.MarkDecorator:
    """Skipped with the reason when ``engine`` is not here (for pytest.param, which takes no usefixtures: a
    module of browser tests also carries :data:`needs_chromium`, so CI still fails without Chromium)."""
    reason = engine_missing_reason(engine)
    return pytest.mark.skipif(bool(reason), reason=reason or "-")


@contextmanager
def process(args: list[str], read_url: re.Pattern[str]) -> Iterator[str]:
    """Start a server as a process of its own, yield the URL it prints, stop it by its PID afterwards."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        seen = []
        for line in proc.stdout:  # ends when the process does, so a crash cannot hang the test
            seen.append(line)
            found = read_url.search(line)
            if found:
                yield found.group(1)
                return
        pytest.fail(f"{args} printed no URL: {''.join(seen)}")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def outcomes(junit: Path) -> dict[str, str]:
    """Test name → 'passed', 'failed: …' or 'skipped: reason' from a JUnit file."""
    result = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        status = "passed"
        for kind in ("failure", "error", "skipped"):
            found = case.find(kind)
            if found is not None:
                status = f"{kind}: {found.get('message', '')}"
        result[case.get("name", "")] = status
    return result


def run(pytester: pytest.Pytester, tag: str, *args: str) -> tuple[pytest.RunResult, dict[str, str], Path]:
    """One mediafault run in a subprocess, with its JUnit outcomes and Allure directory."""
    allure = pytester.path / f"allure-{tag}"
    result = pytester.runpytest_subprocess(*args, f"--junitxml=junit-{tag}.xml", f"--alluredir={allure}",
                                           "--rootdir", str(pytester.path), "-p", "no:cacheprovider")
    return result, outcomes(pytester.path / f"junit-{tag}.xml"), allure


def attachments(allure: Path, name: str) -> list[str]:
    """The text of every attachment called ``name`` in the Allure results."""
    texts = []
    for result in allure.glob("*-result.json"):
        for attachment in json.loads(result.read_text(encoding="utf-8")).get("attachments", []):
            if attachment["name"] == name:
                texts.append((allure / attachment["source"]).read_text(encoding="utf-8"))
    return texts


@contextmanager
def bundled_app_by_url(directory: Path = BUNDLED_APP) -> Iterator[str]:
    """The bundled app (or a variant's copy of it in ``directory``) served by another process
    (``python -m http.server`` on loopback), as its URL."""
    server = [sys.executable, "-u", "-m", "http.server", "--bind", "127.0.0.1", "0", "--directory", str(directory)]
    with process(server, re.compile(r"port (\d+)")) as port:
        yield f"http://127.0.0.1:{port}/index.html"


BrokenApp = Callable[[str, str, str], Path]


@pytest.fixture
def broken_app(project: pytest.Pytester) -> BrokenApp:
    """Copy the bundled app into the project with one text replaced in one file (a realistic bug),
    and point the project's mediafault.yaml at it."""

    def make(file: str, old: str, new: str) -> Path:
        target = project.path / "app"
        if not target.exists():
            shutil.copytree(BUNDLED_APP, target)
        path = target / file
        source = path.read_text(encoding="utf-8")
        assert old in source, f"{old!r} is not in the bundled app's {file} any more; update the test"
        path.write_text(source.replace(old, new, 1), encoding="utf-8")
        (project.path / "mediafault.yaml").write_text("app:\n  dir: app\n", encoding="utf-8")
        return target

    return make


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """After the variant tests: which scenarios caught each broken variant (rows travel in the reports'
    user properties, so this works under xdist too)."""
    from harness.app.variants import VariantRow, catch_table
    from tests.test_variants import VARIANT_ROW

    rows: dict[str, list[VariantRow]] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) != "call":
                continue
            for key, value in getattr(report, "user_properties", ()):
                if key == VARIANT_ROW:
                    engine, name, failed, expected, problems, unreproduced = json.loads(value)
                    rows.setdefault(engine, []).append(VariantRow(name, set(failed), set(expected), problems,
                                                                  unreproduced))
    if rows:
        terminalreporter.write_sep("=", "broken variants and the scenarios that caught them")
        for engine, engine_rows in sorted(rows.items()):
            lines, _ = catch_table(engine, sorted(engine_rows, key=lambda r: (r.name != "correct", r.name)))
            for line in lines:
                terminalreporter.write_line(line)


# The modules that take longest, longest first (seconds of one worker, ./bootstrap test on the 2-core reference
# machine). xdist hands a module to one worker at a time in collection order, so these go first: started last,
# as their file names would have them, one of them kept a worker busy minutes after the other had finished.
LONGEST_FIRST = ("test_variants", "test_variants_network", "test_variants_firefox", "test_hostile_apps",
                 "test_url_apps", "test_conformance", "test_matrix", "test_variants_webkit",
                 "test_variants_network_firefox", "test_lab_url", "test_robustness", "test_grid_remote")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the longest modules first (see LONGEST_FIRST); the rest keep their order."""
    rank = {name: n for n, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.stem, len(rank)))
