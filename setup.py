"""Build hook: a wheel carries the bundled app, its variants, the built-in catalogue and the npm tools'
manifests inside the package (harness/bundled/), since an installed harness has no checkout next to it.
Everything else about the project is in pyproject.toml."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

BUNDLED = ("fixtures", "scenarios", "tools")


class BuildWithBundled(build_py):  # type: ignore[misc]
    """build_py that also copies fixtures/, scenarios/ and tools/ (without installed node_modules) into
    harness/bundled/."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return  # an editable install reads them from the checkout
        root = Path(__file__).resolve().parent
        for name in BUNDLED:
            shutil.copytree(root / name, Path(self.build_lib) / "harness" / "bundled" / name, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns("__pycache__", "node_modules"))


setup(cmdclass={"build_py": BuildWithBundled})
