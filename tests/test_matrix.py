"""Every cell of the support matrix, on every engine and route this machine has: the built-in catalogue
either passes against the bundled app or is skipped for exactly the reason the condition table gives."""

from __future__ import annotations

import pytest

from harness.engines import pick_route
from tests.conftest import REPO

ROUTES = [("chromium", "playwright-system"), ("chromium", "selenium-chromedriver"), ("firefox", "playwright-system"),
          ("webkit", "selenium-webkitgtk")]


@pytest.mark.browser
@pytest.mark.parametrize(("engine", "route"), ROUTES, ids=[f"{e}-{r}" for e, r in ROUTES])
def test_catalogue_on_engine(pytester: pytest.Pytester, engine: str, route: str) -> None:
    """All cases pass or are skipped as unsupported; none fails or breaks; skips name their reason."""
    found, info = pick_route(engine, route)
    if found is None:
        pytest.skip(f"{engine} via {route} is not available here: {info.reason}")
    pytester.makefile(".ini", pytest="[pytest]\naddopts = --strict-markers -p no:cacheprovider\n")
    result = pytester.runpytest_subprocess(str(REPO / "scenarios"), "--mf-engine", engine, "--mf-route",
                                           f"{engine}={route}", "-rs", "--rootdir", str(pytester.path))
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) == 0 and outcomes.get("errors", 0) == 0, result.stdout.str()
    assert outcomes.get("passed", 0) > 0
    skips = [line for line in result.stdout.lines if line.startswith("SKIPPED")]
    assert len(skips) == outcomes.get("skipped", 0)
    for line in skips:
        assert f"is unsupported on {engine}: " in line or "network lab" in line, line  # a stated reason, not a crash
