"""The Selenium Grid route: the Selenium routes' browsers, started on the nodes of a Selenium Grid 4 through
RemoteWebDriver (``--mf-grid-url``).

The options are the local Selenium routes' own (:func:`chrome_options`, :func:`webkit_options`), with what only
exists on this machine left out: the browser binary is the node's (its slot's stereotype names it) and
Chromium's profile preferences travel as chromedriver ``prefs``. What cannot travel is said per case
(:meth:`SeleniumGridRoute.cannot_run`): the network lab starts browsers inside a namespace on this machine, and
a fake-microphone WAV file is a path on this machine.

A Grid on another machine reaches the harness's servers (the app, its observer, the embedding pages, the
telemetry sink) on the serve address (:func:`serve_address`): this machine's address on the route to the Grid,
or the one ``--mf-serve-address`` names. An app the user runs (``app.url``) keeps its URL: the nodes' browsers
go through the harness's proxy, which then listens on the serve address; what that cannot carry is skipped
with the reason (:func:`remote_app_problem`).
"""

from __future__ import annotations

import ipaddress
import json
import socket
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from harness.core.errors import EnvironmentProblem
from harness.reproduce.engines.base import Browser, LaunchSpec, Route, RouteInfo
from harness.reproduce.engines.playwright_route import FIREFOX_BASE_PREFS
from harness.reproduce.engines.selenium_route import SeleniumBrowser, chrome_options, start_session, webkit_options

ROUTE_NAME = "selenium-grid"
# The browserName a Grid slot offers for each engine (WebKitWebDriver answers to its browser's name).
GRID_BROWSER_NAMES = {"chromium": "chrome", "firefox": "firefox", "webkit": "MiniBrowser"}
# A session request waits in the Grid's queue while every slot for its browser is taken.
GRID_SESSION_TIMEOUT = 120.0
STATUS_TIMEOUT = 5.0
# Chromium switches whose value is a file on the machine that starts the browser.
LOCAL_FILE_SWITCHES = ("--use-file-for-fake-audio-capture=", "--use-file-for-fake-video-capture=")


def is_loopback(url: str) -> bool:
    """Whether ``url``'s host is this machine's loopback (so the Grid's nodes share its files and servers)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def route_address(host: str) -> str:
    """This machine's address on the route to ``host``: a UDP socket is connected (which picks the route and the
    source address) and no packet is sent. Raises ValueError when there is no route."""
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            sock.connect((host, 9))  # the port is never used: a connected UDP socket sends nothing
            return str(sock.getsockname()[0])
    except OSError as exc:
        raise ValueError(f"this machine has no route to the Grid host {host} ({exc.strerror or exc}); "
                         "name the address its nodes reach this machine on with --mf-serve-address") from exc


def serve_address(grid_url: str, given: str | None = None) -> str:
    """The address the harness's servers bind and advertise to the Grid at ``grid_url``.

    ``given`` (``--mf-serve-address``) must be one of this machine's own addresses and not the unspecified one:
    the servers never listen on every interface. Without it: loopback for a Grid on this machine, else this
    machine's address on the route to the Grid host. Raises ValueError with what to do instead.
    """
    if not given:
        if is_loopback(grid_url):
            return "127.0.0.1"
        return route_address(urlsplit(grid_url).hostname or "")
    return own_address(given, "the Grid's nodes reach this machine on")


def own_address(given: str, purpose: str) -> str:
    """``given`` checked to be one of this machine's IP addresses and not the unspecified one (servers never
    listen on every interface); ``purpose`` completes "give the one address …" in the error. Raises
    ValueError with what to do instead."""
    try:
        address = ipaddress.ip_address(given)
    except ValueError:
        raise ValueError(f"{given!r} is not an IP address; give one of this machine's addresses, "
                         f"the one {purpose} ('ip -brief address' lists them)") from None
    if address.is_unspecified:
        raise ValueError(f"{given} would make the servers listen on every interface; give the one address "
                         f"{purpose}")
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.bind((given, 0))  # binding proves the address is this machine's; nothing listens
    except OSError as exc:
        raise ValueError(f"{given} is not an address of this machine ({exc.strerror or exc}); "
                         "'ip -brief address' lists the ones it has") from exc
    return str(address)


def remote_app_problem(grid_url: str | None, app_url: str | None, serve_host: str | None = None,
                       engine: str = "chromium", origin: str = "http-localhost") -> str | None:
    """Why a case of an ``app.url`` run on ``engine`` with page origin ``origin`` cannot use the Grid at
    ``grid_url`` whose nodes reach this machine on ``serve_host`` (None: on loopback, or not known yet);
    None when it can."""
    if not grid_url or not app_url or (serve_host is None and is_loopback(grid_url)):
        return None
    if engine == "firefox":
        return (f"app.url ({app_url}) on Firefox nodes of the Grid at {grid_url} (another machine): Firefox on a "
                "Grid is not configured with the harness's proxy, which puts the observer into the app's pages; "
                "use Chromium there, or app.dir (the harness then serves the app where the nodes reach it)")
    if engine == "webkit" and (urlsplit(app_url).scheme == "https" or origin == "https"):
        return (f"an https page of app.url ({app_url}) on WebKit nodes of the Grid at {grid_url} (another "
                "machine): WebKitWebDriver gives WebKitGTK the harness's proxy for plain http only (its https "
                "proxy speaks TLS to the proxy, which WebKit then rejects), so the observer cannot get into the "
                "page; use Chromium there, or app.dir")
    return None


def check_grid_url(url: str) -> str | None:
    """Why ``url`` is not a usable Grid address (None when it is)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{url!r} is not a Grid address; give one like http://127.0.0.1:4444"
    return None


def grid_status(url: str, timeout: float = STATUS_TIMEOUT) -> dict[str, Any]:
    """The Grid's ``/status`` value; raises OSError (refused, timeout) or ValueError (not a Grid)."""
    with urllib.request.urlopen(f"{url.rstrip('/')}/status", timeout=timeout) as response:
        body = json.loads(response.read().decode())
    value = body.get("value") if isinstance(body, dict) else None
    if not isinstance(value, dict) or "ready" not in value:
        raise ValueError("the answer to /status is not a Selenium Grid 4 status")
    return value


def slots(status: dict[str, Any]) -> list[dict[str, Any]]:
    """Every slot of every node that is up: ``{"browserName", "busy", "version", "node"}``."""
    out = []
    for node in status.get("nodes") or []:
        if node.get("availability", "UP") != "UP":
            continue
        for slot in node.get("slots") or []:
            stereotype = slot.get("stereotype") or {}
            out.append({"browserName": stereotype.get("browserName", ""), "busy": bool(slot.get("session")),
                        "version": str(node.get("version", "")).split(" ")[0], "node": node.get("uri", "")})
    return out


def firefox_options(spec: LaunchSpec, headed: bool) -> Any:
    """geckodriver options: the Playwright Firefox route's hermetic prefs plus ``spec``'s (permissions and
    fake media are prefs at launch in Firefox), headless unless a display is asked for."""
    from selenium.webdriver.firefox.options import Options as FirefoxOptions

    options = FirefoxOptions()
    for name, value in {**FIREFOX_BASE_PREFS, **dict(spec.prefs)}.items():
        options.set_preference(name, value)
    if not (spec.headed or headed):
        options.add_argument("-headless")
    options.set_capability("acceptInsecureCerts", True)
    return options


class SeleniumGridRoute(Route):
    """An engine's browser on a Selenium Grid 4 (any Grid: ``mediafault grid up`` starts one on loopback)."""

    limited_slots = True

    def __init__(self, engine: str, url: str, serve_host: str | None = None) -> None:
        self.engine = engine
        self.name = ROUTE_NAME
        self.url = url.rstrip("/")
        # A Grid at a loopback URL may still run its nodes elsewhere (containers): a serve address says so.
        self.local = serve_host is None and is_loopback(self.url)

    def probe(self) -> RouteInfo:
        """Ask the Grid whether it is ready and has a slot for this engine (one HTTP request; no browser)."""
        bad = check_grid_url(self.url)
        if bad:
            return RouteInfo(self.engine, self.name, False, reason=bad)
        browser_name = GRID_BROWSER_NAMES.get(self.engine)
        if browser_name is None:
            return RouteInfo(self.engine, self.name, False, reason=f"mediafault cannot drive {self.engine} on a Grid")
        try:
            status = grid_status(self.url)
        except (OSError, ValueError) as exc:
            why = getattr(exc, "reason", exc)  # urllib wraps the socket error
            return RouteInfo(self.engine, self.name, False, reason=f"no Selenium Grid answers at {self.url} "
                             f"({why}); start one with 'mediafault grid up', or check --mf-grid-url")
        # 'ready' only says whether a slot is free right now; a busy Grid queues the request, so what
        # matters is that an up node has a slot for this browser.
        if not slots(status):
            return RouteInfo(self.engine, self.name, False, reason=f"the Grid at {self.url} has no node up: "
                             f"{status.get('message', '')}")
        mine = [s for s in slots(status) if s["browserName"] == browser_name]
        if not mine:
            offered = sorted({s["browserName"] for s in slots(status)}) or ["none"]
            return RouteInfo(self.engine, self.name, False, reason=f"the Grid at {self.url} has no slot for "
                             f"{self.engine} (browserName {browser_name!r}; it offers: {', '.join(offered)})")
        version = f"Selenium Grid {mine[0]['version']}".strip()
        return RouteInfo(self.engine, self.name, True, self.url, version)

    def cannot_run(self, spec: LaunchSpec) -> str | None:
        """Network-lab cases, and on another machine's Grid a file that only exists here, are skipped with the
        reason."""
        if spec.netlab:
            return ("needs the local network lab, which starts the browser inside a network namespace on this "
                    "machine; a Grid node starts its own browsers outside it. Run network scenarios without "
                    "--mf-grid-url (a Playwright route)")
        if self.local:
            return None
        files = [a.split("=", 1)[1] for a in spec.args if a.startswith(LOCAL_FILE_SWITCHES)]
        if files:
            return (f"needs the fake-microphone file {files[0]} on the node, and the Grid at {self.url} is on "
                    "another machine (a file is not sent to it); use a Grid on this machine")
        return None

    def launch(self, spec: LaunchSpec, *, headed: bool = False, wrap: Callable[[str], str] | None = None) -> Browser:
        """Ask the Grid for a session with ``spec``'s options (under a timeout: the Grid queues requests)."""
        if wrap is not None:
            raise EnvironmentProblem(f"the network lab needs a Playwright route; {self.name} cannot enter it")
        reason = self.cannot_run(spec)
        if reason:
            raise EnvironmentProblem(reason)
        from selenium import webdriver
        from selenium.webdriver.chromium.remote_connection import ChromiumRemoteConnection

        executor: Any = self.url
        if self.engine == "chromium":
            options, _, _ = chrome_options(spec, headed, binary=None, remote=True, proxied=spec.by_url)
            # Knows chromedriver's CDP command, which sets permissions per origin.
            executor = ChromiumRemoteConnection(self.url, vendor_prefix="goog", browser_name="chrome",
                                                ignore_proxy=True)
        elif self.engine == "webkit":
            options = webkit_options(None, proxied=self.local or spec.by_url)
        else:
            options = firefox_options(spec, headed)
        info = self.probe()
        if not info.available:
            raise EnvironmentProblem(info.reason)

        def failed(why: str) -> EnvironmentProblem:
            try:  # what the Grid says now: the usual cause is a slot held by another run
                mine = [s for s in slots(grid_status(self.url)) if s["browserName"] == GRID_BROWSER_NAMES[self.engine]]
                seen = f"{sum(s['busy'] for s in mine)} of {len(mine)} {self.engine} slot(s) busy"
            except (OSError, ValueError) as exc:
                seen = f"the Grid no longer answers: {getattr(exc, 'reason', exc)}"
            return EnvironmentProblem(f"the Grid at {self.url} gave no {self.engine} session: {why} ({seen}; "
                                      "'mediafault grid status' shows the slots and where the logs are)")

        driver = start_session(lambda: webdriver.Remote(command_executor=executor, options=options),
                               GRID_SESSION_TIMEOUT, failed)
        return SeleniumBrowser(driver, None, info, self.engine, None, [])
