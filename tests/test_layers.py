"""The wings of harness/ and the one direction of their imports (docs/architecture.md).

The contracts live in pyproject.toml ([tool.importlinter]) and import-linter checks them; these tests run it,
prove it would notice an upward import, and keep every module inside a wing that a contract covers.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.conftest import REPO

BIN = Path(sys.executable).parent
HARNESS = REPO / "harness"


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    exe = BIN / "lint-imports" if (BIN / "lint-imports").exists() else shutil.which("lint-imports")
    if exe is None:
        pytest.fail("lint-imports is not installed; it is part of the dev extras (pip install -e '.[dev]')")
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(exe), "--config", str(root / "pyproject.toml"), "--no-cache"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


def _layers() -> list[str]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    layered = next(c for c in config["contracts"] if c["type"] == "layers")
    return [name.strip() for layer in layered["layers"] for name in layer.split("|")]


def test_contracts_are_kept() -> None:
    """Every import goes from a wing to a wing below it; only the faces and the report know pytest/Allure."""
    result = _lint_imports(REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


def test_an_upward_import_breaks_the_contracts(tmp_path: Path) -> None:
    """The contracts are live: the scenario language importing the runner is reported, naming both."""
    shutil.copytree(HARNESS, tmp_path / "harness", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    model = tmp_path / "harness" / "scenario" / "model.py"
    model.write_text(model.read_text(encoding="utf-8") + "\nfrom harness.run import runner  # noqa\n",
                     encoding="utf-8")
    result = _lint_imports(tmp_path)
    assert result.returncode != 0
    assert "harness.scenario.model -> harness.run.runner" in result.stdout


def test_every_module_is_in_a_wing_with_a_contract() -> None:
    """No module sits loose in harness/: each is inside a wing the layers contract names, so it is checked."""
    wings = set(_layers())
    loose = [p.name for p in HARNESS.glob("*.py") if p.name != "__init__.py"]
    assert not loose, f"modules outside every wing: {loose}; put each in the wing of its stage"
    packages = {f"harness.{p.parent.name}" for p in HARNESS.glob("*/__init__.py")}
    assert packages == wings, (f"wings without a contract: {packages - wings}; "
                               f"contracts without a wing: {wings - packages}")


@pytest.mark.parametrize("wing", _layers())
def test_each_wing_says_what_it_owns_and_may_use(wing: str) -> None:
    """Each wing's __init__ docstring says what it owns, what it may use and what it must not know."""
    init = HARNESS / wing.removeprefix("harness.") / "__init__.py"
    doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
    assert "May use:" in doc and "Must not" in doc, f"{init}: the docstring must say 'May use:' and 'Must not …'"


def test_the_architecture_page_shows_every_wing() -> None:
    """docs/architecture.md draws every wing, so a new wing cannot be added without saying where it sits."""
    page = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = [wing for wing in _layers() if f"{wing.removeprefix('harness.')}/" not in page]
    assert not missing, f"docs/architecture.md does not show {missing}"
