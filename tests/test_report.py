"""The HTML report end to end: a small real run on Chromium (one case made to fail), the Allure 3 report
built from it, and the report opened in headless Chromium the way a release manager would open it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from harness.report import html as htmlreport
from tests.conftest import REPO, chromium_available, needs_chromium

WRONG = "Dismissed prompt expects the wrong code"
PASSING = ["Microphone blocked for the site", "Microphone allowed, call can start"]


@dataclass
class Project:
    """A user's project after ``mediafault run --report`` (twice)."""

    path: Path
    first: subprocess.CompletedProcess[str]
    reports: Path


def run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``mediafault ARGS`` in ``cwd`` (a subprocess: pytest and browsers get a process of their own)."""
    return subprocess.run([sys.executable, "-m", "harness.cli.main", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False, env={**os.environ, "PYTHONPATH": str(REPO)})


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    """Two built-in scenarios that pass and one that expects a code the app never shows, run once with
    ``--report``; the report is built from those results."""
    if not chromium_available():
        pytest.skip("no Chromium here (apt-get install chromium)")
    root = tmp_path_factory.mktemp("report-project")
    scenarios = root / "scenarios"
    scenarios.mkdir()
    for rel in ("permission/denied.yaml", "permission/granted.yaml"):
        (scenarios / Path(rel).name).write_text((REPO / "scenarios" / rel).read_text(encoding="utf-8"),
                                               encoding="utf-8")
    (scenarios / "wrong.yaml").write_text(textwrap.dedent(f"""\
        name: {WRONG}
        description: "Made to fail: the app is right, this scenario expects a code it never shows."
        tags: [permission]
        engines: [chromium]
        given:
          permission: {{microphone: denied}}
        expect:
          code: mic-permission-dismissed
          within: 2s
        """), encoding="utf-8")
    first = run_cli(root, "run", "scenarios", "--engine", "chromium", "--reports", "reports", "--report")
    return Project(root, first, root / "reports")


@pytest.fixture(scope="module")
def browser(project: Project) -> Iterator[Any]:
    """A headless Chromium (the system's, through the harness's Playwright driver)."""
    from harness.reproduce.engines import pick_route
    from harness.reproduce.engines.playwright_route import CHROMIUM_BASE_ARGS, driver

    route, _ = pick_route("chromium")
    assert route is not None
    info = route.probe()
    launched = driver().chromium.launch(executable_path=info.executable, args=list(CHROMIUM_BASE_ARGS))
    yield launched
    launched.close()


@needs_chromium
@pytest.mark.browser
def test_run_builds_the_report_and_keeps_the_failure(project: Project) -> None:
    """``run --report``: the failing case keeps the exit status; the report, single file and map are written."""
    out = project.first.stdout + project.first.stderr
    assert project.first.returncode == 1, out
    assert "1 failed, 2 passed" in out
    assert "HTML report: reports/html/index.html" in out and "single file: reports/mediafault-report.html" in out
    reports = project.reports
    assert (reports / "html" / "index.html").is_file()
    assert (reports / "mediafault-report.html").is_file()
    surface = (reports / "error-surface.html").read_text(encoding="utf-8")
    assert f"<th>{WRONG}</th>" in surface and "mic-permission-dismissed" in surface
    # Nothing calls out to Google when the report is opened.
    pages = [*(reports / "html").rglob("*.html"), reports / "mediafault-report.html"]
    assert not [p for p in pages if "googletagmanager" in p.read_text(encoding="utf-8")]
    assert not list(reports.glob(".html-build-*")), "a staging directory was left"
    # --mf-trace rerun (the default): the failed case ran again recording a trace, which the report keeps with
    # how the rerun ended; the passing cases recorded nothing and took no screenshot.
    results = [json.loads(p.read_text(encoding="utf-8")) for p in (reports / "allure-results").glob("*-result.json")]
    (failed,) = [r for r in results if r["status"] == "failed"]
    names = {a["name"]: a for a in failed["attachments"]}
    assert "screenshot" in names and any(a["type"] == "application/zip" for a in failed["attachments"])
    rerun = (reports / "allure-results" / names["rerun with a trace"]["source"]).read_text(encoding="utf-8")
    assert "the rerun failed the same way (wrong code)" in rerun.lower(), rerun
    assert "run again with a Playwright trace (in the report): the rerun failed the same way" in out
    for passed in [r for r in results if r["status"] == "passed"]:
        assert {a["type"] for a in passed["attachments"]}.isdisjoint({"image/png", "application/zip"}), passed["name"]


@needs_chromium
@pytest.mark.browser
def test_report_shows_scenarios_engines_and_the_failure_evidence(project: Project, browser: Any) -> None:
    """Over HTTP: every scenario, the engine, the failing case's category, expected-vs-observed, screenshot,
    trace, and the error-surface map as a global attachment."""
    server = htmlreport.serve(project.reports / "html")
    page = browser.new_page(viewport={"width": 1440, "height": 1100})
    try:
        page.goto(f"http://127.0.0.1:{server.server_port}/index.html")
        page.get_by_text(f"{WRONG}[chromium]").first.wait_for(timeout=15_000)
        body = page.inner_text("body")
        for name in [*PASSING, WRONG]:
            assert name in body  # grouped by feature → story (the scenario)
        assert "Global Attachments" in body and "Browser.chromium" in body
        page.get_by_text(f"{WRONG}[chromium]").first.click()
        page.get_by_text("Category: Wrong code").wait_for(timeout=10_000)
        assert "'mic-permission-dismissed'" in page.inner_text("body")
        page.get_by_text("Attachments", exact=False).first.click()
        page.get_by_text("expected vs observed").first.click()
        page.get_by_text("'mic-permission-denied'").first.wait_for(timeout=10_000)
        attachments = page.inner_text("body")
        assert "screenshot" in attachments and "image/png" in attachments
        assert "playwright trace" in attachments and "application/zip" in attachments
        page.get_by_text("screenshot").first.click()
        page.wait_for_function("() => [...document.images].some((i) => i.naturalWidth > 600)", timeout=10_000)
        page.goto(f"http://127.0.0.1:{server.server_port}/index.html")
        page.get_by_text("Global Attachments").first.click()
        page.get_by_text(htmlreport.SURFACE_MAP_NAME).first.wait_for(timeout=10_000)
    finally:
        page.close()
        server.shutdown()
        server.server_close()


@needs_chromium
@pytest.mark.browser
def test_single_file_opens_from_file_url(project: Project, browser: Any) -> None:
    """The single file (for the release ticket) renders from file:// with no server."""
    page = browser.new_page()
    try:
        page.goto((project.reports / "mediafault-report.html").as_uri())
        page.get_by_text(WRONG).first.wait_for(timeout=15_000)
        assert all(name in page.inner_text("body") for name in PASSING)
    finally:
        page.close()


@needs_chromium
@pytest.mark.browser
def test_history_grows_once_per_run(project: Project) -> None:
    """Rebuilding from the same results adds no point to the trend; the next run adds one; the output
    directory is replaced, not added to."""
    history = project.reports / "history.jsonl"
    assert len(history.read_text(encoding="utf-8").splitlines()) == 1
    stale = project.reports / "html" / "stale-from-an-older-build.txt"
    stale.write_text("x", encoding="utf-8")
    rebuilt = run_cli(project.path, "report")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "already in it" in rebuilt.stdout
    assert len(history.read_text(encoding="utf-8").splitlines()) == 1
    assert not stale.exists()
    second = run_cli(project.path, "run", "scenarios", "--engine", "chromium", "--reports", "reports", "--report",
                     "--", "-k", "wrong", "--mf-trace=off")
    assert second.returncode == 1, second.stdout + second.stderr
    (failed,) = [json.loads(p.read_text(encoding="utf-8")) for p in (project.reports / "allure-results").glob(
        "*-result.json")]
    assert failed["status"] == "failed"
    assert "screenshot" in {a["name"] for a in failed["attachments"]}
    assert "application/zip" not in {a["type"] for a in failed["attachments"]}  # --mf-trace=off: no trace
    runs = [json.loads(line) for line in history.read_text(encoding="utf-8").splitlines()]
    assert len(runs) == 2
    assert "trend: 2 run(s)" in second.stdout


def test_missing_tools_say_how_to_fix_it(tmp_path: Path) -> None:
    """No Node/Allure: a message naming './bootstrap setup', not a traceback."""
    (tmp_path / "report").mkdir()
    (tmp_path / "report" / "package.json").write_text('{"dependencies": {"allure": "3.18.0"}}', encoding="utf-8")
    with pytest.raises(htmlreport.ReportToolsMissing, match=r"Run '\./bootstrap setup'"):
        htmlreport.find_tools(tmp_path)
    state = {item: (ok, detail) for item, ok, detail in htmlreport.tools_state(tmp_path)}
    assert state["allure"][0] is False and "Allure 3 is not installed" in state["allure"][1]
    # The project's own tools (what ./bootstrap setup installed) are complete and at the pinned version.
    assert htmlreport.find_tools().allure_version == htmlreport.pinned_allure_version()


def test_failed_build_leaves_the_previous_report_and_history(tmp_path: Path) -> None:
    """Allure dying half-way (after writing some output and a history line) changes nothing on disk."""
    results = tmp_path / "allure-results"
    results.mkdir()
    (results / "a-result.json").write_text(json.dumps({"name": "x", "status": "passed", "start": 1}), encoding="utf-8")
    out = tmp_path / "html"
    out.mkdir()
    (out / "index.html").write_text("previous report", encoding="utf-8")
    history = tmp_path / "history.jsonl"
    history.write_text('{"uuid": "earlier", "testResults": {}}\n', encoding="utf-8")
    fake = tmp_path / "fake-allure.js"
    fake.write_text(textwrap.dedent("""\
        const fs = require("fs"), path = require("path");
        const cfg = fs.readFileSync(process.argv[4], "utf8");
        const out = JSON.parse(cfg.match(/"output": (".*?")/)[1]);
        const hist = JSON.parse(cfg.match(/"historyPath": (".*?")/)[1]);
        fs.mkdirSync(path.join(out, "awesome"), {recursive: true});
        fs.writeFileSync(path.join(out, "awesome", "index.html"), "half");
        fs.appendFileSync(hist, '{"uuid": "half"}\\n');
        console.error("boom: out of memory");
        process.exit(3);
        """), encoding="utf-8")
    node, version, problem = htmlreport.find_node()
    if node is None:
        pytest.fail(f"{problem}; run ./bootstrap setup")
    tools = htmlreport.Tools(node, version, fake, "fake")
    with pytest.raises(htmlreport.ReportBuildFailed, match="boom: out of memory"):
        htmlreport.build_report(results, out, history=history, tools=tools)
    assert (out / "index.html").read_text(encoding="utf-8") == "previous report"
    assert history.read_text(encoding="utf-8") == '{"uuid": "earlier", "testResults": {}}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["allure-results", "fake-allure.js", "history.jsonl",
                                                          "html"]


def test_out_that_is_not_a_report_is_refused(tmp_path: Path) -> None:
    """``--out reports`` would wipe the results and the history: refused with a reason, exit 1."""
    results = tmp_path / "reports" / "allure-results"
    results.mkdir(parents=True)
    (results / "a-result.json").write_text("{}", encoding="utf-8")
    done = run_cli(tmp_path, "report", "--results", "reports/allure-results", "--out", "reports")
    assert done.returncode == 1
    assert "HTML report not built" in done.stderr and "Traceback" not in done.stderr
    assert (results / "a-result.json").exists()
    empty = run_cli(tmp_path, "report", "--results", "nothing-here")
    assert empty.returncode == 1 and "no Allure results in nothing-here" in empty.stderr


def test_categories_come_from_categories_json() -> None:
    """One place for the categories: Allure 3 gets the same names, statuses and (translated) patterns."""
    from harness.report.allure_files import CATEGORIES

    rules = htmlreport.allure3_categories()
    assert [r["name"] for r in rules] == [c["name"] for c in CATEGORIES]
    wrong = next(r for r in rules if r["name"] == "Wrong code")
    assert wrong["statuses"] == ["failed"]
    assert wrong["message"] == {"source": "^(?:.*: wrong code\\b.*)$", "flags": "s"}
