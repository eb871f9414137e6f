"""Files beside the Allure results that allure-pytest does not write for us: the environment, the
failure categories, and a *broken* result for each scenario file that failed to load (a collection
error would otherwise be missing from the report altogether)."""

from __future__ import annotations

import hashlib
import json
import platform
import time
import uuid
from pathlib import Path

from harness import __version__
from harness.report.matrix import Cell

CATEGORIES = [
    {"name": "Wrong code", "matchedStatuses": ["failed"], "messageRegex": "(?s).*: wrong code\\b.*"},
    {"name": "Wrong message", "matchedStatuses": ["failed"], "messageRegex": "(?s).*: wrong message\\b.*"},
    {"name": "Nothing surfaced", "matchedStatuses": ["failed"], "messageRegex": "(?s).*: nothing surfaced\\b.*"},
    {"name": "Surfaced too late", "matchedStatuses": ["failed"], "messageRegex": "(?s).*: surfaced too late\\b.*"},
    {"name": "Other app behaviour", "matchedStatuses": ["failed"]},
    {"name": "Engine unavailable", "matchedStatuses": ["skipped"], "messageRegex": "(?s).*is not available here.*"},
    {"name": "Condition not reproducible on this engine", "matchedStatuses": ["skipped"],
     "messageRegex": "(?s).*is unsupported on.*"},
    {"name": "Scenario file errors", "matchedStatuses": ["broken"], "messageRegex": "(?s).*\\.ya?ml:\\d+:\\d+: .*"},
    {"name": "Setup failed (harness or environment)", "matchedStatuses": ["broken"]},
]


def write_environment(directory: Path, cells: list[Cell], browsers: dict[str, str], app: str, profile: str) -> None:
    """environment.properties, categories.json and executor.json."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = {
        "mediafault": __version__,
        "Python": platform.python_version(),
        "OS": platform.platform(),
        "App": app,
        "Profile": profile,
        **{f"Browser.{engine}": version for engine, version in sorted(browsers.items())},
        "Cases": f"{len(cells)} ({sum(c.status == 'passed' for c in cells)} passed, "
                 f"{sum(c.status == 'failed' for c in cells)} failed, {sum(c.status == 'skipped' for c in cells)} "
                 "skipped)",
    }
    (directory / "environment.properties").write_text(
        "".join(f"{key}={value}\n" for key, value in lines.items()), encoding="utf-8")
    (directory / "categories.json").write_text(json.dumps(CATEGORIES, indent=2), encoding="utf-8")
    (directory / "executor.json").write_text(json.dumps({"name": "mediafault", "type": "local",
                                                         "buildName": f"mediafault {__version__}"}), encoding="utf-8")


def write_broken_file_result(directory: Path, path: str, message: str) -> None:
    """A broken Allure result for a scenario file that could not be loaded."""
    directory.mkdir(parents=True, exist_ok=True)
    now = int(time.time() * 1000)
    result = {
        "uuid": str(uuid.uuid4()),
        "historyId": hashlib.md5(f"collect:{path}".encode()).hexdigest(),
        "name": f"{path} (scenario file)",
        "fullName": f"collect:{path}",
        "status": "broken",
        "statusDetails": {"message": message, "trace": message},
        "stage": "finished",
        "start": now,
        "stop": now,
        "labels": [{"name": "suite", "value": "scenario file errors"}, {"name": "severity", "value": "blocker"},
                   {"name": "framework", "value": "mediafault"}],
    }
    (directory / f"{result['uuid']}-result.json").write_text(json.dumps(result), encoding="utf-8")
