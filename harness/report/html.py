"""The HTML report for sign-off: Allure 3 (its *awesome* report) built offline from the Allure results.

One ``allure generate`` per build, with a config written here from the project's own facts: the
failure categories (the ones ``categories.json`` is written from), grouping by feature and story
(scenario area → scenario → one result per engine), the error-surface map as a global attachment and
the history file that feeds the trend. The report is generated into a staging directory beside the
output and swapped in only when complete, so a failed build never leaves a half-written report and a
successful one never leaves files of an older one. Google Analytics, which Allure 3 hard-codes into its
pages, is taken out.

Allure 3 is an npm package: ``./bootstrap setup`` installs the pinned version into
``tools/report/node_modules`` (and a Node.js 22 into ``tools/node`` when the system's is too old).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from harness.core.errors import EnvironmentProblem, MediafaultError
from harness.core.resources import bundled, in_checkout, npm_setup
from harness.report.allure_files import CATEGORIES

TOOLS = bundled("tools")
SETUP_COMMAND = "./bootstrap setup" if in_checkout() else npm_setup("report")
# Allure 3's `generate` runs on Node 20; 22 is what its authors test (its quality gates need it, and
# mediafault does not use them). Below 20 the bootstrap installs a Node 22 of the project's own.
MIN_NODE = 20
DEFAULT_NAME = "mediafault: scenario × engine"
HISTORY_LIMIT = 30
SINGLE_FILE_NAME = "mediafault-report.html"
SURFACE_MAP_NAME = "error-surface.html"
GENERATE_TIMEOUT = 300.0


class ReportToolsMissing(EnvironmentProblem):
    """Node.js or Allure 3 is missing (or too old) here; the message names the command that fixes it."""


class ReportBuildFailed(MediafaultError):
    """Allure ran but did not produce a complete report; the previous report (if any) is left as it was."""


@dataclass(frozen=True)
class Tools:
    """What builds the report: a Node.js and the Allure 3 command-line script."""

    node: Path
    node_version: str
    allure_cli: Path
    allure_version: str


@dataclass(frozen=True)
class Built:
    """What a build produced."""

    out: Path
    single_file: Path | None
    seconds: float
    history: Path
    history_runs: int
    appended: bool  # False when these results were already in the history (a rebuild of the same run)


def pinned_allure_version(tools_dir: Path = TOOLS) -> str:
    """The Allure version ``tools/report/package.json`` pins (the one place it is written)."""
    manifest = json.loads((tools_dir / "report" / "package.json").read_text(encoding="utf-8"))
    return str(manifest["dependencies"]["allure"])


def _node_version(node: Path | str) -> str:
    try:
        out = subprocess.run([str(node), "--version"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def _major(version: str) -> int:
    match = re.match(r"v?(\d+)\.", version)
    return int(match.group(1)) if match else 0


def find_node(tools_dir: Path = TOOLS) -> tuple[Path | None, str, str]:
    """(node, version, problem): the project's own Node when the bootstrap installed one, else the system's."""
    local = tools_dir / "node" / "node_modules" / ".bin" / "node"
    candidates = [local] if local.exists() else []
    system = shutil.which("node")
    if system:
        candidates.append(Path(system))
    seen = ""
    for node in candidates:
        version = _node_version(node)
        if _major(version) >= MIN_NODE:
            return node, version, ""
        seen = seen or f"{node} is {version or 'not runnable'}"
    if not candidates:
        return None, "", "Node.js is not installed"
    return None, "", f"Node.js {MIN_NODE} or newer is needed ({seen})"


def find_tools(tools_dir: Path = TOOLS) -> Tools:
    """The tools, or :class:`ReportToolsMissing` saying what is missing and that ``./bootstrap setup`` fixes it."""
    node, node_version, problem = find_node(tools_dir)
    if node is None:
        raise ReportToolsMissing(f"cannot build the HTML report: {problem}. Run '{SETUP_COMMAND}' (it installs "
                                 f"Node.js and Allure 3 into {tools_dir.name}/, which needs the npm registry).")
    package = tools_dir / "report" / "node_modules" / "allure"
    cli = package / "cli.js"
    if not cli.exists():
        raise ReportToolsMissing(f"cannot build the HTML report: Allure 3 is not installed in {tools_dir.name}/report. "
                                 f"Run '{SETUP_COMMAND}'.")
    installed = str(json.loads((package / "package.json").read_text(encoding="utf-8")).get("version", ""))
    pinned = pinned_allure_version(tools_dir)
    if installed != pinned:
        raise ReportToolsMissing(f"cannot build the HTML report: Allure {installed} is installed but the project "
                                 f"pins {pinned}. Run '{SETUP_COMMAND}'.")
    return Tools(node, node_version, cli, installed)


def tools_state(tools_dir: Path = TOOLS) -> list[tuple[str, bool, str]]:
    """(item, ok, detail) for ``mediafault doctor``; every gap is fixed by ``./bootstrap setup``."""
    node, version, problem = find_node(tools_dir)
    state = [("node", node is not None, f"{version} ({node})" if node else problem)]
    try:
        tools = find_tools(tools_dir)
    except ReportToolsMissing as exc:
        detail = str(exc).split(": ", 1)[-1]
        return [*state, ("allure", False, detail)]
    return [*state, ("allure", True, f"{tools.allure_version} ({tools.allure_cli.parent})")]


def allure3_categories(categories: list[dict[str, Any]] = CATEGORIES) -> list[dict[str, Any]]:
    """The categories of ``categories.json`` (Allure 2's format, Java regexes matched in full) as Allure 3
    rules: statuses plus a JavaScript regex source, anchored, with ``(?s)`` turned into the ``s`` flag."""
    rules = []
    for category in categories:
        rule: dict[str, Any] = {"name": category["name"], "statuses": list(category.get("matchedStatuses", []))}
        regex = category.get("messageRegex")
        if regex:
            flags = ""
            if regex.startswith("(?s)"):
                regex, flags = regex[4:], "s"
            rule["message"] = {"source": f"^(?:{regex})$", "flags": flags}
        rules.append(rule)
    return rules


def _config_module(*, name: str, output: Path, history: Path, append_history: bool, attachments: list[Path],
                   single_file: bool) -> str:
    """allurerc.mjs: data as JSON, plus the little code JSON cannot say (regular expressions)."""
    awesome = {"reportName": name, "groupBy": ["feature", "story"]}
    plugins: dict[str, Any] = {"awesome": {"options": awesome}}
    if single_file:
        plugins["single"] = {"import": "@allurereport/plugin-awesome", "options": {**awesome, "singleFile": True}}
    config = {
        "name": name,
        "output": str(output),
        "historyPath": str(history),
        "historyLimit": HISTORY_LIMIT,
        "appendHistory": append_history,
        "globalAttachments": [str(p) for p in attachments],
        "plugins": plugins,
    }
    return (
        "// Written by mediafault for one build; see harness/report/html.py.\n"
        f"const rules = {json.dumps(allure3_categories(), indent=2)};\n"
        f"const config = {json.dumps(config, indent=2, ensure_ascii=False)};\n"
        "config.categories = { rules: rules.map((r) => ({ name: r.name, matchers: { statuses: r.statuses,\n"
        "  ...(r.message ? { message: new RegExp(r.message.source, r.message.flags) } : {}) } })) };\n"
        "export default config;\n"
    )


def _result_starts(results: Path) -> set[int]:
    starts = set()
    for path in results.glob("*-result.json"):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            starts.add(int(json.loads(path.read_text(encoding="utf-8"))["start"]))
    return starts


def history_runs(history: Path) -> list[dict[str, Any]]:
    """The runs recorded in the history file (one JSON object per line), oldest first."""
    if not history.exists():
        return []
    runs = []
    for line in history.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError):
            runs.append(json.loads(line))
    return runs


def already_recorded(history: Path, results: Path) -> bool:
    """Whether the latest history entry is this very run (same result start times): rebuilding a report
    from the same results must not add a second point to the trend."""
    runs = history_runs(history)
    if not runs:
        return False
    last = {int(tr.get("start", -1)) for tr in runs[-1].get("testResults", {}).values()}
    return bool(last) and last == _result_starts(results)


# Allure 3 writes the gtag.js loader and its inline set-up into every page it generates, with no option
# to turn them off; a sign-off artefact must not call out to a third party when it is opened.
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>\s*", re.DOTALL)


def strip_analytics(html: str) -> str:
    """``html`` without Google Analytics: the loader tag and the small inline script that configures it."""

    def drop(match: re.Match[str]) -> str:
        tag = match.group(0)
        head = tag[: tag.index(">") + 1]
        if "googletagmanager.com" in head:
            return ""
        if len(tag) < 2000 and "gtag(" in tag and "dataLayer" in tag:
            return ""
        return tag

    return _SCRIPT.sub(drop, html)


def _strip_tree(directory: Path) -> None:
    for page in directory.rglob("*.html"):
        text = page.read_text(encoding="utf-8")
        stripped = strip_analytics(text)
        if stripped != text:
            page.write_text(stripped, encoding="utf-8")
        if "googletagmanager" in stripped:
            raise ReportBuildFailed(f"{page.name}: the analytics tag could not be removed (did Allure change its "
                                    "page template?); the report was not replaced")


def _check_out(out: Path, results: Path, history: Path) -> None:
    """Refuse to replace a directory that is not a previous report (``--out reports`` would wipe the results)."""
    if not out.exists():
        return
    resolved = out.resolve()
    for keep in (results, history):
        if keep.resolve() == resolved or resolved in keep.resolve().parents:
            raise MediafaultError(f"--out {out} holds {keep}; choose a directory of its own for the HTML report "
                                  "(it is replaced on every build)")
    if not out.is_dir() or (any(out.iterdir()) and not (out / "index.html").exists()):
        raise MediafaultError(f"--out {out} exists and is not an HTML report; choose another directory (the "
                              "report directory is replaced on every build)")


def build_report(results: Path, out: Path, *, history: Path, single_file: Path | None = None,
                 name: str = DEFAULT_NAME, surface_map: Path | None = None, tools: Tools | None = None) -> Built:
    """Build the awesome report into ``out`` (replaced whole) and, if asked, the single-file one.

    ``history`` is the JSONL file that keeps the trend across builds; one line is added per run (a
    rebuild from the same results adds none). ``surface_map`` (an HTML page) becomes a global
    attachment. Raises :class:`ReportToolsMissing`, :class:`ReportBuildFailed` or
    :class:`MediafaultError` (bad input); ``out`` and ``history`` are then as they were.
    """
    if not results.is_dir() or not any(results.glob("*-result.json")):
        raise MediafaultError(f"no Allure results in {results}: run 'mediafault run' first (it writes them to "
                              "reports/allure-results), or pass --results DIR")
    _check_out(out, results, history)
    tools = tools or find_tools()
    started = time.monotonic()
    out.parent.mkdir(parents=True, exist_ok=True)
    history.parent.mkdir(parents=True, exist_ok=True)
    append = not already_recorded(history, results)
    for stale in out.parent.glob(f".{out.name}-build-*"):  # left by a build that was killed
        shutil.rmtree(stale, ignore_errors=True)
    # Staged beside ``out`` so the final moves are renames on one filesystem.
    stage = Path(tempfile.mkdtemp(prefix=f".{out.name}-build-", dir=out.parent.resolve()))
    history_before = history.read_bytes() if history.exists() else None
    try:
        generated = stage / "generated"
        attachments = [surface_map.resolve()] if surface_map is not None and surface_map.exists() else []
        config = stage / "allurerc.mjs"
        config.write_text(_config_module(name=name, output=generated, history=history.resolve(),
                                         append_history=append, attachments=attachments,
                                         single_file=single_file is not None), encoding="utf-8")
        _generate(tools, config, results.resolve(), stage)
        # With one plugin Allure writes it straight into the output directory (plus a summary of the
        # results for its own tooling); with two, each plugin gets a subdirectory named after its key.
        awesome = generated / "awesome" if single_file is not None else generated
        (generated / "test-results.json").unlink(missing_ok=True)
        single = generated / "single" / "index.html"
        if not (awesome / "index.html").exists() or (single_file is not None and not single.exists()):
            raise ReportBuildFailed(f"Allure finished but wrote no complete report into {generated}")
        _strip_tree(awesome)
        if single_file is not None:
            _strip_tree(single.parent)
        if out.exists():
            out.rename(stage / "previous")
        try:
            awesome.rename(out)
        except OSError:
            if (stage / "previous").exists():
                (stage / "previous").rename(out)
            raise
        if single_file is not None:
            single_file.parent.mkdir(parents=True, exist_ok=True)
            os.replace(single, single_file)
    except BaseException:
        # Allure appends to the history as it finishes; a build that did not finish must not count.
        if history_before is None:
            history.unlink(missing_ok=True)
        else:
            history.write_bytes(history_before)
        raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return Built(out, single_file, time.monotonic() - started, history, len(history_runs(history)), append)


def _generate(tools: Tools, config: Path, results: Path, cwd: Path) -> None:
    env = {**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"}
    cmd = [str(tools.node), str(tools.allure_cli), "generate", "--config", str(config), str(results)]
    try:
        done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=GENERATE_TIMEOUT,
                              check=False)
    except subprocess.TimeoutExpired:
        raise ReportBuildFailed(f"allure generate did not finish within {GENERATE_TIMEOUT:g}s") from None
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise ReportBuildFailed(f"allure generate failed (exit {done.returncode}) with Node {tools.node_version}:"
                                f"\n{tail}")


def sizes(built: Built) -> dict[str, int]:
    """Bytes on disk of the report directory and of the single file."""
    out = {"report": sum(p.stat().st_size for p in built.out.rglob("*") if p.is_file())}
    if built.single_file is not None:
        out["single file"] = built.single_file.stat().st_size
    return out


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        """Serving a report is not worth a line per request."""


def serve(directory: Path, port: int = 0) -> ThreadingHTTPServer:
    """Serve ``directory`` on 127.0.0.1 (the multi-file report needs HTTP; browsers block its data files
    under file://) from a background thread; call ``shutdown()`` when done."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, name="mediafault-report-server", daemon=True).start()
    return server
