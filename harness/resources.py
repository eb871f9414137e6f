"""Where the bundled app, its broken variants and the built-in catalogue are.

In a checkout they are the top-level ``fixtures/`` and ``scenarios/``. A wheel (``pip install .``, not
editable) carries copies inside the package, under ``harness/bundled/`` (``setup.py`` puts them there at
build time), so an installed harness can run the built-in catalogue against the bundled app too.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
CHECKOUT = _PACKAGE.parent


def bundled(name: str) -> Path:
    """``fixtures`` or ``scenarios``: the installed copy when there is one, else the checkout's."""
    installed = _PACKAGE / "bundled" / name
    return installed if installed.is_dir() else CHECKOUT / name
