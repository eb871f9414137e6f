"""The GitHub workflows (this project's CI and the one frontend teams copy) pass actionlint."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

WORKFLOWS = REPO / ".github" / "workflows"


def actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    """actionlint on ``paths``; external linters off so the verdict does not depend on what else is installed."""
    exe = Path(sys.executable).parent / "actionlint"
    found = str(exe) if exe.exists() else shutil.which("actionlint")
    if found is None:
        pytest.fail("actionlint is not installed; it is part of the dev extras (pip install -e '.[dev]')")
    return subprocess.run([found, "-no-color", "-shellcheck=", "-pyflakes=", *map(str, paths)], capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.mark.parametrize("name", ["ci.yml", "mediafault-for-your-app.yml"])
def test_workflow_passes_actionlint(name: str) -> None:
    """No syntax, expression, or outdated-action problems."""
    result = actionlint(WORKFLOWS / name)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path: Path) -> None:
    """The check can fail: an unknown context and a job without runs-on are reported."""
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text("on: push\njobs:\n  x:\n    steps:\n      - run: echo ${{ github.nope.value }}\n", encoding="utf-8")
    result = actionlint(bad)
    assert result.returncode == 1
    assert "runs-on" in result.stdout


def test_copied_workflow_does_not_run_here_by_itself() -> None:
    """In this repository (which has no app) the frontend workflow starts only by hand, and says how to change that."""
    import yaml

    text = (WORKFLOWS / "mediafault-for-your-app.yml").read_text(encoding="utf-8")
    triggers = yaml.safe_load(text)[True]  # YAML 1.1 reads the key 'on' as True
    assert set(triggers) == {"workflow_dispatch"}
    assert "# push:" in text and "CHANGE" in text
    assert "mediafault run scenarios/ --report" in text and "if-no-files-found: error" in text
