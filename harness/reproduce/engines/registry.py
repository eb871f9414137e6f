"""Which routes exist for each engine, in order of preference, and which one runs here."""

from __future__ import annotations

from functools import cache

from harness.reproduce.engines.base import Route, RouteInfo
from harness.reproduce.engines.grid_route import SeleniumGridRoute
from harness.reproduce.engines.playwright_route import PlaywrightRoute
from harness.reproduce.engines.selenium_route import SeleniumRoute


def routes_for(engine: str, grid: str | None = None, serve_host: str | None = None) -> list[Route]:
    """Routes for ``engine``, most preferred first; with a Grid URL, the Grid is the only route (its nodes
    reach the harness's servers on ``serve_host``, or on loopback when None)."""
    if grid:
        return [SeleniumGridRoute(engine, grid, serve_host)]
    if engine == "chromium":
        return [PlaywrightRoute(engine, bundled=True), PlaywrightRoute(engine, bundled=False), SeleniumRoute(engine)]
    if engine == "firefox":
        return [PlaywrightRoute(engine, bundled=True), PlaywrightRoute(engine, bundled=False)]
    if engine == "webkit":
        return [PlaywrightRoute(engine, bundled=True), SeleniumRoute(engine)]
    return []


@cache
def pick_route(engine: str, forced: str | None = None, grid: str | None = None,
               serve_host: str | None = None) -> tuple[Route | None, RouteInfo]:
    """The first available route (or the forced one) with its probe; None and the reasons when none is."""
    candidates = routes_for(engine, grid, serve_host)
    if forced:
        candidates = [r for r in candidates if r.name == forced]
        if not candidates:
            names = ", ".join(r.name for r in routes_for(engine, grid)) or "none"
            return None, RouteInfo(engine, forced, False, reason=f"no route '{forced}' for {engine} (routes: {names})")
    reasons = []
    for route in candidates:
        info = route.probe()
        if info.available:
            return route, info
        reasons.append(f"{route.name}: {info.reason}")
    if not candidates:
        reasons.append(f"mediafault has no route for {engine} yet")
    return None, RouteInfo(engine, "", False, reason="; ".join(reasons))


def probe_all() -> list[RouteInfo]:
    """Every route of every engine, for ``mediafault doctor`` and ``list``."""
    from harness.scenario.model import ENGINES

    return [route.probe() for engine in ENGINES for route in routes_for(engine)]
