"""The codebase stays ruff- and mypy-clean (the style the project promises)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

BIN = Path(sys.executable).parent


@pytest.mark.parametrize("tool", [["ruff", "check", "harness", "tests"], ["mypy"]], ids=["ruff", "mypy"])
def test_tool_is_clean(tool: list[str]) -> None:
    """ruff and mypy (strict) report nothing."""
    exe = BIN / tool[0] if (BIN / tool[0]).exists() else shutil.which(tool[0])
    if exe is None:
        pytest.fail(f"{tool[0]} is not installed; it is part of the dev extras (pip install -e '.[dev]')")
    result = subprocess.run([str(exe), *tool[1:]], cwd=REPO, capture_output=True, text=True, timeout=600,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_longest_modules_named_to_run_first_exist() -> None:
    """A module renamed away from LONGEST_FIRST would silently lose its place at the front of the suite."""
    from tests.conftest import LONGEST_FIRST, REPO

    missing = [name for name in LONGEST_FIRST if not (REPO / "tests" / f"{name}.py").is_file()]
    assert not missing, f"tests/conftest.py LONGEST_FIRST names modules that do not exist: {missing}"
