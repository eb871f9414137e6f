"""A wheel (``pip install .``, not editable) carries what an installed harness needs to run the built-in
catalogue against the bundled app: the app, its variants, the media files and the scenarios, and the npm
tools' manifests (``mediafault grid`` and ``doctor`` read the pinned versions from them)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import REPO


def test_wheel_carries_the_bundled_app_and_catalogue(tmp_path: Path) -> None:
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
                           capture_output=True, text=True, timeout=300, check=False)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("mediafault-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("harness/bundled/fixtures/app/index.html", "harness/bundled/fixtures/app/softphone.js",
                   "harness/bundled/scenarios/givens.yaml", "harness/bundled/scenarios/camera/camera.yaml",
                   "harness/bundled/tools/grid/package.json", "harness/bundled/tools/report/package-lock.json",
                   "harness/bundled/tools/sdk/package-lock.json",
                   "harness/bundled/fixtures/sdk-probes/twilio-voice-1/index.html",
                   "harness/bundled/fixtures/sdk-probes/common/probe.js",
                   "harness/app/profiles/generic.yaml", "harness/run/js/shim.js", "harness/py.typed"):
        assert needed in names, f"{needed} is missing from {wheel.name}"
    variants = {n for n in names if n.startswith("harness/bundled/fixtures/variants/")}
    assert len(variants) == len(list((REPO / "fixtures" / "variants").glob("*.yaml")))
    assert not [n for n in names if "__pycache__" in n or "node_modules" in n or n.startswith("tests/")]
