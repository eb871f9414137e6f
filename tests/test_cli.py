"""The ``mediafault`` command: validate, list, schema, docs and run, as a user types them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from tests.conftest import REPO, needs_chromium

MEDIAFAULT = [sys.executable, "-m", "harness.cli"]


def mf(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run the command and capture its output."""
    return subprocess.run([*MEDIAFAULT, *args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False)


def test_validate_accepts_the_catalogue() -> None:
    """The built-in catalogue is valid."""
    result = mf("validate", "scenarios")
    assert result.returncode == 0, result.stderr
    assert "all valid" in result.stdout


def test_validate_reports_file_line_and_exits_2(tmp_path: Path) -> None:
    """A bad file gives exit status 2 and the positioned message on stderr; no traceback."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: A\ngiven:\n  device: {microphone: usb-headset}\nexpect: {outcome: none}\n", encoding="utf-8")
    result = mf("validate", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("bad.yaml:3:24: 'usb-headset' is not a valid value for given.device.microphone")
    assert "hint: one of: default, none" in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    """A path that does not exist is named, with what to give instead."""
    result = mf("validate", "nope/", cwd=tmp_path)
    assert result.returncode == 2
    assert "nope: no such file or directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_list_shows_mechanism_and_fidelity_per_case() -> None:
    """Every case with its route, each condition's mechanism and fidelity, and why a case would skip."""
    result = mf("list", "scenarios/permission/dismissed.yaml")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Permission prompt dismissed[chromium]" in out
    assert "permission.microphone=dismissed: native: CDP Browser.setPermission(prompt)" in out
    assert "permission.microphone=dismissed: unsupported: Firefox over WebDriver BiDi" in out
    assert "Permission prompt dismissed[webkit]  [SKIP]" in out


def test_schema_accepts_every_catalogue_file_and_rejects_a_typo() -> None:
    """The exported JSON Schema agrees with the loader (editors see the same rules)."""
    result = mf("schema")
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    files = sorted((REPO / "scenarios").rglob("*.yaml"))
    assert files
    for path in files:
        validator.validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"name": "A", "given": {"permision": {}}, "expect": {"outcome": "none"}})


def test_catalogue_files_point_editors_at_the_schema() -> None:
    """Each catalogue file starts with the yaml-language-server schema comment, and the path resolves."""
    for path in sorted((REPO / "scenarios").rglob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        target = (path.parent / first.split("=", 1)[1]).resolve()
        assert target == (REPO / "docs" / "scenario.schema.json").resolve(), path


def test_generated_docs_are_current() -> None:
    """docs/scenario.schema.json, scenario-format.md and support-matrix.md match the code."""
    result = mf("docs", "--check")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("command", ["run", "validate", "list", "schema", "docs"])
def test_every_command_has_help_with_examples(command: str) -> None:
    """--help explains each command and shows examples."""
    result = mf(command, "--help")
    assert result.returncode == 0
    assert "examples:" in result.stdout


@needs_chromium
@pytest.mark.browser
def test_run_is_the_main_job(tmp_path: Path) -> None:
    """'mediafault run' runs the catalogue, prints the matrix and writes JUnit and Allure results."""
    reports = tmp_path / "reports"
    result = mf("run", str(REPO / "scenarios"), "--engine", "chromium", "--reports", str(reports), cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mediafault: scenario × engine" in result.stdout
    assert re.search(r"^Microphone blocked for the site\s+pass$", result.stdout, re.MULTILINE), result.stdout
    assert (reports / "junit.xml").is_file()
    surface = (reports / "error-surface.md").read_text(encoding="utf-8")
    assert "| Microphone blocked for the site | ✅ `mic-permission-denied` → `mic-permission-denied` |" in surface
    assert list((reports / "allure-results").glob("*-result.json"))
