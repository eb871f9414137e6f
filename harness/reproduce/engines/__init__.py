"""Browser engines and the routes that drive them (Playwright with its own or the system's build)."""

from __future__ import annotations

from harness.reproduce.engines.base import Browser, LaunchSpec, Page, PageEvents, Route, RouteInfo
from harness.reproduce.engines.registry import pick_route, probe_all, routes_for

__all__ = ["Browser", "LaunchSpec", "Page", "PageEvents", "Route", "RouteInfo", "pick_route", "probe_all", "routes_for"]
