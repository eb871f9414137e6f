"""Where the bundled app, its broken variants, the built-in catalogue and the npm tools' manifests are.

In a checkout they are the top-level ``fixtures/``, ``scenarios/`` and ``tools/``. A wheel (``pip install .``, not
editable) carries copies inside the package, under ``harness/bundled/`` (``setup.py`` puts them there at
build time), so an installed harness can run the built-in catalogue against the bundled app too.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent.parent
CHECKOUT = _PACKAGE.parent


def bundled(name: str) -> Path:
    """``fixtures``, ``scenarios`` or ``tools``: the installed copy when there is one, else the checkout's."""
    installed = _PACKAGE / "bundled" / name
    return installed if installed.is_dir() else CHECKOUT / name


def in_checkout() -> bool:
    """Whether this harness runs from a checkout (with ./bootstrap) rather than an installed wheel."""
    return bundled("tools") == CHECKOUT / "tools"


def npm_setup(tool: str) -> str:
    """For an installed wheel, the command that installs npm tool ``tool`` (``grid``, ``report``) next to
    the package's copy of its manifest (a checkout has ./bootstrap for that)."""
    return f"cd {bundled('tools') / tool} && npm ci"
