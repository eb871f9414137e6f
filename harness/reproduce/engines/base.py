"""What every engine route offers the runner: launch a browser, open a fresh page, drive and read it."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The Debian packages that bring each engine's system browser (and its driver): the one place for them.
APT_PACKAGES = {"chromium": "chromium chromium-driver", "firefox": "firefox-esr", "webkit": "webkit2gtk-driver xvfb"}


# Playwright's own build of an engine, with the libraries it needs (downloads from Playwright's CDN).
PLAYWRIGHT_INSTALL = "python -m playwright install --with-deps {engine}"


def _ubuntu_like(os_release: Path = Path("/etc/os-release")) -> bool:
    try:
        text = os_release.read_text(encoding="utf-8")
    except OSError:
        return False
    fields = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    return "ubuntu" in f"{fields.get('ID', '')} {fields.get('ID_LIKE', '')}".lower()


def install_hint(engine: str, os_release: Path = Path("/etc/os-release")) -> str:
    """The command that installs ``engine``'s browser here: the deb on Debian; on Ubuntu, whose Chromium and
    Firefox packages are snaps that automation cannot use (and do not run in containers), Playwright's build."""
    if engine != "webkit" and _ubuntu_like(os_release):
        return PLAYWRIGHT_INSTALL.format(engine=engine)
    return f"apt-get install {APT_PACKAGES[engine]}"


# Waits in the page until the reading function's value is no longer ``last`` (the observer's key: DOM,
# console, beacons, timeline), or ``ms`` pass: event-driven through a MutationObserver plus the observer
# script's own notifications (window.__mfWaiters), so a waiting page does no work. Polling on every
# animation frame instead cost Chromium's renderer, GPU and browser processes CPU all the while: a case
# mostly waits (a broken app's 'within', a call's 'hold'). The reading function is written into the text
# (READ), not built with new Function: an app whose CSP has no 'unsafe-eval' makes WebKit refuse that, even
# in a WebDriver script.
WAIT_CHANGED_JS = """([arg, last, ms]) => new Promise((done) => {
  const read = (READ);
  const waiters = (window.__mfWaiters = window.__mfWaiters || []);
  let finished = false;
  const finish = (v) => {
    if (finished) return;
    finished = true; observer.disconnect(); clearTimeout(timer);
    const at = waiters.indexOf(check);
    if (at >= 0) waiters.splice(at, 1);
    done(v);
  };
  const check = () => { try { if (read(arg) !== last) finish(true); } catch (e) { finish(true); } };
  const observer = new MutationObserver(check);
  observer.observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  const timer = setTimeout(() => finish(false), ms);
  waiters.push(check);
  check();
})"""


def wait_changed_js(read: str) -> str:
    """The function ``([arg, last, ms]) => Promise<bool>`` that waits for ``read(arg)`` to change (see
    :data:`WAIT_CHANGED_JS`): true when it changed, false when ``ms`` passed first."""
    return WAIT_CHANGED_JS.replace("(READ)", f"({read})", 1)


@dataclass(frozen=True)
class LaunchSpec:
    """Everything fixed when a browser process starts; cases with equal specs share one browser."""

    engine: str
    route: str
    args: tuple[str, ...] = ()
    prefs: tuple[tuple[str, Any], ...] = ()
    profile_prefs: tuple[tuple[str, Any], ...] = ()  # Chromium profile Preferences: a persistent profile
    headed: bool = False
    netlab: bool = False  # started inside the network lab's client namespace
    by_url: bool = False  # the app is another process's (app.url): without init scripts, reached through the proxy
    # Firefox: permissions are the app origins' own (a site permissions file written at launch), not prefs
    site_permissions: bool = False

    @property
    def key(self) -> str:
        """Short stable id, used to group cases onto one worker and to name the browser in logs."""
        blob = json.dumps([self.engine, self.route, sorted(self.args), sorted(self.prefs),
                           sorted(self.profile_prefs), self.headed, self.netlab, self.by_url,
                           self.site_permissions], default=str)
        return f"{self.engine}-{hashlib.sha1(blob.encode()).hexdigest()[:8]}"


@dataclass(frozen=True)
class RouteInfo:
    """Whether a route can run here, and with what."""

    engine: str
    route: str
    available: bool
    executable: str = ""
    version: str = ""
    reason: str = ""  # why it is unavailable, and what to do about it


@dataclass
class PageEvents:
    """What a page emitted while a case ran."""

    console: list[str] = field(default_factory=list)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # (method, url, body)
    errors: list[str] = field(default_factory=list)
    crashed: bool = False  # the page's renderer process died (a crash, the OOM killer)
    # The page's window closed without the harness closing it: the app called window.close(), or (until the
    # route learns otherwise, see Page.learn_crash) its browser went down with it.
    window_closed: bool = False


class Page(ABC):
    """One case's page, in a fresh browser context of its own."""

    events: PageEvents

    @abstractmethod
    def set_permission(self, name: str, setting: str, origin: str) -> None:
        """Set a permission for ``origin`` in this page's context only."""

    @abstractmethod
    def add_init_script(self, script: str) -> None:
        """Run ``script`` in every document (and frame) before the page's own scripts."""

    def server_injection(self) -> str | None:
        """Scripts the app's server must inject, for routes that cannot install init scripts (else None)."""
        return None

    @abstractmethod
    def use_frame(self, url_part: str | None) -> None:
        """Direct evaluate/click/wait to the frame whose URL contains ``url_part`` (None: the main frame)."""

    @abstractmethod
    def goto(self, url: str, timeout: float) -> None:
        """Navigate and wait for the load event."""

    @abstractmethod
    def click(self, selector: str, timeout: float, at: tuple[float, float] | None = None) -> None:
        """Click like a user (a real gesture). ``at``: the element was just seen clickable (shown, enabled,
        not covered, not moving) with its centre at this point of the current frame's viewport, so the
        route may click there without its own checks."""

    @abstractmethod
    def wait_visible(self, selector: str, timeout: float) -> None:
        """Wait until ``selector`` is visible."""

    def wait_clickable(self, selector: str, timeout: float) -> None:
        """Wait until a click on ``selector`` would reach it (visible, enabled, not covered, where the route
        can tell), without clicking."""
        self.wait_visible(selector, timeout)

    def popups(self) -> list[str]:
        """The URLs of the windows the app opened from this page (closed with it)."""
        return []

    @abstractmethod
    def evaluate(self, script: str, arg: Any = None) -> Any:
        """Evaluate a JS function expression with ``arg``."""

    @abstractmethod
    def wait_until_changed(self, script: str, arg: Any, last: str, timeout: float) -> bool:
        """Wait until the JS function ``script(arg)`` returns something other than ``last``; False on timeout."""

    @abstractmethod
    def screenshot(self) -> bytes:
        """A PNG of the viewport."""

    def start_trace(self) -> bool:
        """Start recording a trace of this page's context, where the route can; False when it cannot."""
        return False

    def stop_trace(self, keep: bool) -> bytes | None:
        """Stop recording; the trace (a zip) when ``keep``, else None and nothing is written."""
        return None

    def learn_crash(self, failure: BaseException) -> None:  # noqa: B027 - a hook most routes do not need
        """A call into the page failed with ``failure``: set ``events.crashed`` if that was the page's
        renderer dying, where the route needs a (bounded) moment to learn it. Routes that hear of a crash
        before the calls it fails need nothing here."""

    @abstractmethod
    def close(self) -> None:
        """Close the page and its context."""


class Browser(ABC):
    """A running browser process, shared by the cases with its launch spec."""

    info: RouteInfo
    version: str

    @abstractmethod
    def new_page(self) -> Page:
        """A page in a fresh context (nothing shared with earlier cases)."""

    def gone(self) -> bool:
        """Whether this browser can no longer be driven, though no case of its own failed (its driver was
        stopped because of another browser's crash): the pool starts a new one."""
        return False

    @abstractmethod
    def close(self) -> None:
        """Stop the browser."""


class Route(ABC):
    """A way to drive one engine (e.g. Playwright + the system Chromium)."""

    engine: str
    name: str
    # A Grid has a fixed number of slots: the pool keeps one browser of such a route open per engine.
    limited_slots = False
    # Its pages can record a Playwright trace (Page.start_trace).
    traces = False

    @abstractmethod
    def probe(self) -> RouteInfo:
        """Can this route run here? Cheap: no browser is started."""

    def cannot_run(self, spec: LaunchSpec) -> str | None:
        """Why a case with ``spec`` cannot run on this route (e.g. it needs a file only this machine has)."""
        return None

    @abstractmethod
    def launch(self, spec: LaunchSpec, *, headed: bool = False, wrap: Callable[[str], str] | None = None) -> Browser:
        """Start a browser for ``spec``; ``wrap`` turns the browser's executable into one that runs it elsewhere
        (inside the network lab)."""
