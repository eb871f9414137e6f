"""Playwright routes: Playwright's own browser builds when installed, else the system's browsers.

Playwright cannot download its builds everywhere (offline CI, locked-down machines), so Chromium falls
back to the system ``chromium`` through ``executable_path`` and Firefox to the system ``firefox-esr``
through the ``moz-firefox`` channel (WebDriver BiDi; Playwright 1.64.1 is the newest that works with
Firefox ESR 153, hence the pin).
"""

from __future__ import annotations

import atexit
import contextlib
import gc
import json
import logging
import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from harness.core import procs
from harness.core.errors import EnvironmentProblem, HarnessError
from harness.reproduce import xvfb
from harness.reproduce.engines.base import (
    PLAYWRIGHT_INSTALL,
    Browser,
    LaunchSpec,
    Page,
    PageEvents,
    Route,
    RouteInfo,
    install_hint,
    wait_changed_js,
)

# Quiet, hermetic Chromium: no update checks or background requests (the network may be closed).
# Certificate errors are already ignored for pages (ignore_https_errors, acceptInsecureCerts: the user
# named the app's URL, and the harness's own https server has its own CA); the switch extends that to
# service-worker scripts, which Chromium otherwise refuses to register from an untrusted https app.
CHROMIUM_BASE_ARGS = ("--disable-background-networking", "--disable-component-update", "--no-first-run",
                      "--disable-quic", "--disable-sync", "--ignore-certificate-errors")
# Firefox phones home for remote settings unless told not to; keep it on loopback.
FIREFOX_BASE_PREFS: dict[str, Any] = {
    "services.settings.server": "data:,#remote-settings-dummy/v1",
    "media.navigator.permission.disabled": False,
    "browser.shell.checkDefaultBrowser": False,
}
FIREFOX_ENV = {"MOZ_DISABLE_NONLOCAL_CONNECTIONS": "1"}

_driver_state: dict[str, Any] = {"generation": 0}


class _ClosedTargetNoise(logging.Filter):
    """Drops asyncio's "Future exception was never retrieved" for a Playwright call whose page or browser
    closed under it. An interrupt (Ctrl-C, SIGTERM) leaves the call it broke off waiting; the browser then
    closes, the abandoned call fails, and asyncio prints its traceback whenever it is collected, which can
    be well before :func:`stop_driver`. It says nothing to a user; any other asyncio error still shows."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not (error is not None and type(error).__name__ == "TargetClosedError"
                    and "never retrieved" in str(record.msg))


_CLOSED_TARGET_NOISE = _ClosedTargetNoise()


def driver() -> Any:
    """The process's Playwright driver (started once, stopped at exit; started again after
    :func:`abandon_driver`)."""
    if _driver_state.get("abandoned"):
        stop_driver()
    if "pw" not in _driver_state:
        from playwright.sync_api import sync_playwright

        logging.getLogger("asyncio").addFilter(_CLOSED_TARGET_NOISE)  # adding it again is a no-op
        manager = sync_playwright()
        before = procs.children()
        _driver_state["manager"] = manager
        _driver_state["pw"] = manager.start()
        _quiet_interrupted_listeners(getattr(manager, "_connection", None))
        _driver_state["pids"] = procs.children() - before
        _driver_state["generation"] += 1
        atexit.register(stop_driver)
    return _driver_state["pw"]


def _quiet_interrupted_listeners(connection: Any) -> None:
    """Keep an interrupt that lands in a Playwright event listener off the user's screen. Playwright catches
    any exception a listener raises, prints "Error occurred in event listener" with its traceback, and raises
    it again at the next call. A SIGTERM or Ctrl-C that arrives while a listener runs (a console message, a
    page error, a closing context) is such an exception: the run stops as it should, but the traceback says
    nothing to a user. It is still raised at the next call, so the case stops there; any other listener error
    prints as before."""
    shout = getattr(connection, "_on_event_listener_error", None)
    if shout is None:  # another Playwright: its own behaviour stands
        return

    def on_listener_error(exc: BaseException) -> None:
        if isinstance(exc, KeyboardInterrupt) and procs.interrupted():
            connection._error = exc  # what Playwright does after printing: the next call raises it
        else:
            shout(exc)

    connection._on_event_listener_error = on_listener_error


def abandon_driver() -> None:
    """Kill the driver process, so that every call waiting on it fails at once; the next :func:`driver`
    starts a new one. Safe in an event handler (nothing is asked of the driver): a call that Playwright
    leaves waiting forever (see :meth:`PlaywrightBrowser._on_disconnected`) is only ended this way."""
    _driver_state["abandoned"] = True
    procs.kill_tree(_driver_state.get("pids", set()))


def stop_driver() -> None:
    """Stop the Playwright driver if it runs (idempotent)."""
    _driver_state.pop("abandoned", None)
    _driver_state.pop("pids", None)
    pw = _driver_state.pop("pw", None)
    if pw is not None:
        # Best effort at shutdown; the driver process dies with us anyway. After an interrupt (Ctrl-C,
        # SIGTERM) its half-finished calls would otherwise print asyncio and "never awaited" noise that
        # says nothing to a user.
        logging.getLogger("asyncio").setLevel(logging.CRITICAL)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with contextlib.suppress(Exception):
                pw.stop()
            # A stop that failed leaves its coroutines to the collector, which warns of each one it frees;
            # freed here, inside the filter, they make no noise.
            gc.collect()


@cache
def _version_of(executable: str) -> str:
    try:
        out = subprocess.run([executable, "--version"], capture_output=True, text=True, timeout=20, check=False,
                             env={**os.environ, **FIREFOX_ENV})
    except (OSError, subprocess.TimeoutExpired):
        return ""
    lines = [line for line in out.stdout.splitlines() if line.strip() and not line.startswith("/")]
    # "Chromium 156.0.8078.108 built on Debian GNU/Linux 12 (bookworm)" → "Chromium 156.0.8078.108"
    return lines[-1].split(" built on ")[0].strip() if lines else ""


@cache
def _bundled_executable(engine: str) -> str:
    """Path of Playwright's own build for ``engine`` if it is installed, else ''."""
    try:
        path = getattr(driver(), engine).executable_path
    except Exception:  # noqa: BLE001 - no driver or no build: the system route is used instead
        return ""
    return path if path and Path(path).exists() else ""


def _override(engine: str) -> str:
    """The environment variable that names the system browser to use for ``engine`` (``MF_FIREFOX``)."""
    return f"MF_{engine.upper()}"


def _system_executable(engine: str) -> str:
    env = os.environ.get(_override(engine))
    if env:
        return env
    names = {"chromium": ("chromium", "chromium-browser", "google-chrome"), "firefox": ("firefox-esr", "firefox")}
    for name in names.get(engine, ()):
        found = shutil.which(name)
        if found:
            return found
    return ""




class PlaywrightRoute(Route):
    """Playwright driving Chromium or Firefox; ``bundled`` picks Playwright's build over the system's."""

    traces = True

    def __init__(self, engine: str, bundled: bool) -> None:
        self.engine = engine
        self.bundled = bundled
        self.name = "playwright" if bundled else "playwright-system"

    def probe(self) -> RouteInfo:
        """Find the executable without starting a browser."""
        exe = _bundled_executable(self.engine) if self.bundled else _system_executable(self.engine)
        if not exe:
            why = ("Playwright's own build is not installed" if self.bundled
                   else f"no system {self.engine} found; install it with '{install_hint(self.engine)}' (or "
                        f"'{PLAYWRIGHT_INSTALL.format(engine=self.engine)}' where downloads work)")
            return RouteInfo(self.engine, self.name, False, reason=why)
        if not self.bundled and not (Path(exe).is_file() and os.access(exe, os.X_OK)):
            # Else every case would fail at launch with Playwright's "executable doesn't exist".
            found = "does not exist" if not Path(exe).exists() else "is not an executable"
            return RouteInfo(self.engine, self.name, False, exe, reason=(
                f"{_override(self.engine)} names {exe}, which {found}; unset it to use the system's "
                f"{self.engine}, or point it at an installed {self.engine} binary"))
        return RouteInfo(self.engine, self.name, True, exe, _version_of(exe))

    def launch(self, spec: LaunchSpec, *, headed: bool = False, wrap: Callable[[str], str] | None = None) -> Browser:
        """Start the browser with the spec's flags or prefs."""
        info = self.probe()
        if not info.available:
            raise EnvironmentProblem(f"{self.engine} via {self.name}: {info.reason}")
        pw = driver()
        headed = headed or spec.headed
        env = {**os.environ}
        if headed:
            env["DISPLAY"] = xvfb.display()
        kwargs: dict[str, Any] = {"headless": not headed, "timeout": 60_000, "env": env}
        if not self.bundled:
            kwargs["executable_path"] = info.executable
        if wrap is not None:
            kwargs["executable_path"] = wrap(info.executable)
        if self.engine == "chromium":
            kwargs["args"] = [*CHROMIUM_BASE_ARGS, *spec.args]
        else:
            kwargs["firefox_user_prefs"] = {**FIREFOX_BASE_PREFS, **dict(spec.prefs)}
            # The lab's app is on a non-loopback address, which that guard variable forbids; inside the
            # lab's namespace there is nowhere else to connect to anyway.
            kwargs["env"] = env if spec.netlab else {**env, **FIREFOX_ENV}
            if not self.bundled:
                kwargs["channel"] = "moz-firefox"
        browser_type = getattr(pw, self.engine)
        failure = ""
        # A browser that dies during start-up on a loaded machine usually starts on the second try; a
        # real problem fails twice and is reported with the browser's own last words.
        for _attempt in range(2):
            try:
                if spec.profile_prefs:
                    profile = _profile_with_prefs(dict(spec.profile_prefs))
                    context = browser_type.launch_persistent_context(str(profile), ignore_https_errors=True,
                                                                     **kwargs)
                    return PlaywrightBrowser(None, info, self.engine, context, profile,
                                             version=context.browser.version if context.browser else "")
                return PlaywrightBrowser(browser_type.launch(**kwargs), info, self.engine)
            except Exception as exc:  # noqa: BLE001 - any launch failure is retried once, then reported
                failure = _launch_failure(exc)
        raise EnvironmentProblem(f"could not start {self.engine} ({info.executable}) twice: {failure}")


def _launch_failure(exc: Exception) -> str:
    """The first line of Playwright's error plus the browser's last log lines, which say why."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    logs = [line for line in lines if line.startswith("[pid=") or "error" in line.lower()]
    detail = "; ".join(logs[-4:])
    return lines[0] + (f" (browser log: {detail})" if detail else "") if lines else repr(exc)


def _profile_with_prefs(prefs: dict[str, Any]) -> Path:
    """A fresh Chromium user-data directory whose Default/Preferences holds ``prefs`` (dotted keys)."""
    root = Path(tempfile.mkdtemp(prefix="mediafault-profile-"))
    tree: dict[str, Any] = {}
    for dotted, value in prefs.items():
        node = tree
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    (root / "Default").mkdir()
    (root / "Default" / "Preferences").write_text(json.dumps(tree), encoding="utf-8")
    return root


class PlaywrightBrowser(Browser):
    """A Playwright browser; each case gets a new context (or, for a persistent profile, a new page
    after every origin's site data is wiped, since a profile has exactly one context)."""

    def __init__(self, browser: Any, info: RouteInfo, engine: str, persistent: Any = None,
                 profile: Path | None = None, version: str = "") -> None:
        self._browser = browser
        self._persistent = persistent
        self._profile = profile
        self.info = info
        self.engine = engine
        self.version = f"{engine} {browser.version if browser else version}"
        self._generation = _driver_state["generation"]  # the driver that drives it
        self._pages: list[PlaywrightPage] = []  # the pages it opened that are still open
        self._closing = False
        if browser is not None and engine == "firefox":
            browser.on("disconnected", self._on_disconnected)

    def _on_disconnected(self, _browser: Any) -> None:
        """A content process that dies takes Firefox down with it (Playwright runs it with
        MOZ_CRASHREPORTER_SHUTDOWN), and Playwright reports the page as closing, not crashing, while a call in
        flight on it waits forever (killing the browser does not end it; an app closing its own window does
        not disconnect the browser). So the open pages crashed, and the driver is killed, which fails the
        waiting call at once; the runner discards this browser and the next case starts a new driver."""
        if self._closing:
            return
        for page in self._pages:
            page.events.crashed = True
        abandon_driver()

    def new_page(self) -> Page:
        """A page in a fresh context that accepts the harness's self-signed certificate."""
        if self._persistent is not None:
            # A profile has one context, so the case before left its site data in it: wipe every origin's
            # storage (local and session storage, IndexedDB, caches, service workers, cookies) so this
            # case starts as a fresh context would. "*" is CDP's every-origin wildcard (measured).
            self._persistent.clear_permissions()
            page = self._persistent.new_page()
            cdp = self._persistent.new_cdp_session(page)
            cdp.send("Storage.clearDataForOrigin", {"origin": "*", "storageTypes": "all"})
            cdp.detach()
            return PlaywrightPage(self._persistent, page, self.engine, owns_context=False)
        context = self._browser.new_context(ignore_https_errors=True)
        page = PlaywrightPage(context, context.new_page(), self.engine)
        self._pages = [*(p for p in self._pages if not p.closed), page]
        return page

    def gone(self) -> bool:
        """Whether the driver that drove this browser was abandoned (the browser went with it)."""
        return self._generation != _driver_state["generation"] or bool(_driver_state.get("abandoned"))

    def close(self) -> None:
        """Close the browser; a browser that already died is fine."""
        self._closing = True
        # Closing a crashed browser raises; it is gone either way.
        with contextlib.suppress(Exception):
            (self._persistent or self._browser).close()
        if self._profile is not None:
            shutil.rmtree(self._profile, ignore_errors=True)


# How long a call made while the app navigated waits for the next document (then the harness reads it).
NAVIGATED_TIMEOUT = 10.0
# How long a page that closed under a call may take to show that its browser went down with it (a crash).
CRASH_NEWS_TIMEOUT = 5.0


def _navigated(exc: Exception) -> bool:
    """Whether ``exc`` says the call's document went away under it (the app navigated or reloaded)."""
    text = str(exc)
    return "Execution context was destroyed" in text or "navigat" in text.split("\n", 1)[0].lower()


def _dismiss(dialog: Any) -> None:
    """Dismiss a dialog (alert, confirm, prompt, beforeunload): an open one would block the page."""
    with contextlib.suppress(Exception):  # the page may already be closing
        dialog.dismiss()


class PlaywrightPage(Page):
    """A page plus everything it emitted."""

    def __init__(self, context: Any, page: Any, engine: str, owns_context: bool = True) -> None:
        self._context = context
        self._page = page
        self._frame: Any = page
        self._engine = engine
        self._owns_context = owns_context
        self._cdp: Any = None
        self._tracing = False
        self.events = PageEvents()
        self._popups: list[Any] = []
        self.closed = False  # by the harness
        self._crash_asked = False
        page.on("console", lambda m: self.events.console.append(m.text))
        page.on("pageerror", lambda e: self.events.errors.append(str(e)))
        page.on("request", self._on_request)
        # The observer records each dialog's kind and text; here it is closed as a user dismissing it would.
        page.on("dialog", _dismiss)
        page.on("popup", self._on_popup)
        page.on("crash", lambda _: setattr(self.events, "crashed", True))
        page.on("close", self._on_page_close)
        if owns_context:
            context.on("close", self._on_context_close)

    def _on_context_close(self, _context: Any) -> None:
        # Neither an app nor its page can close a context (window.close() closes a page): one that closes
        # without the harness went down with its browser, which Firefox does when a content process dies.
        if not self.closed:
            self.events.crashed = True

    def _on_page_close(self, _page: Any) -> None:
        if not self.closed:
            self.events.window_closed = True

    def learn_crash(self, failure: BaseException) -> None:
        """Firefox tells Playwright that the page closed, failing the calls in flight, before the browser
        goes down with the dead content process; an app closing its own window closes the page alone. So
        a call failed by a close the harness did not make waits, bounded, for the context to close too."""
        if self.events.crashed or self.closed or not self._owns_context or self._crash_asked \
                or "closed" not in str(failure).split("\n", 1)[0]:
            return
        self._crash_asked = True  # once: the runner may ask again about the same failure
        with contextlib.suppress(Exception):  # no close within the bound (the page alone closed), or the
            # driver was stopped meanwhile (the browser's disconnect does that); the flag says which
            self._context.wait_for_event("close", timeout=CRASH_NEWS_TIMEOUT * 1000)

    def _on_popup(self, popup: Any) -> None:
        popup.on("dialog", _dismiss)
        self._popups.append(popup)

    def _on_request(self, request: Any) -> None:
        if request.method != "GET":
            try:
                body = request.post_data or ""
            except Exception:  # noqa: BLE001 - binary bodies cannot be decoded; the URL is still evidence
                body = ""
            self.events.requests.append((request.method, request.url, body))

    def set_permission(self, name: str, setting: str, origin: str) -> None:
        """Chromium: CDP ``Browser.setPermission`` scoped to this context (a context-less call would hit
        the default context and silently do nothing to this page)."""
        if self._engine != "chromium":
            raise HarnessError(f"runtime permission changes are not available on {self._engine} via Playwright")
        # The session stays attached for the page's life: Chromium drops permission overrides when the
        # DevTools session that set them detaches.
        if self._cdp is None:
            self._cdp = self._context.new_cdp_session(self._page)
        context_id = self._cdp.send("Target.getTargetInfo")["targetInfo"]["browserContextId"]
        self._cdp.send("Browser.setPermission", {"permission": {"name": name}, "setting": setting,
                                                 "origin": origin, "browserContextId": context_id})

    def add_init_script(self, script: str) -> None:
        """Run before the page's scripts in every frame."""
        # On the page, not the context: a persistent profile's context outlives the case.
        self._page.add_init_script(script)

    def use_frame(self, url_part: str | None) -> None:
        """Evaluate, click and wait in the (already loaded) frame whose URL contains ``url_part``."""
        if url_part is None:
            self._frame = self._page
            return
        for frame in self._page.frames:
            if url_part in frame.url:
                self._frame = frame
                return
        urls = ", ".join(f.url for f in self._page.frames)
        raise HarnessError(f"no frame with {url_part!r} in its URL (frames: {urls})")

    def goto(self, url: str, timeout: float) -> None:
        """Navigate and wait for ``load``."""
        self._page.goto(url, timeout=timeout * 1000)

    def click(self, selector: str, timeout: float, at: tuple[float, float] | None = None) -> None:
        """A trusted click (the page sees a user gesture). With ``at`` in the top-level page, the mouse goes
        straight there: Playwright's own checks cost as much again as the click on Chromium and three times
        it on Firefox (0.35 s), and the harness has just made them in the page."""
        if at is not None and self._frame is self._page:
            self._page.mouse.click(*at)
            return
        self._frame.click(selector, timeout=timeout * 1000)

    def wait_visible(self, selector: str, timeout: float) -> None:
        """Wait for a visible element."""
        self._frame.wait_for_selector(selector, state="visible", timeout=timeout * 1000)

    def wait_clickable(self, selector: str, timeout: float) -> None:
        """Playwright's actionability checks (visible, stable, enabled, receives the click), without the click."""
        self._frame.click(selector, timeout=timeout * 1000, trial=True)

    def popups(self) -> list[str]:
        """The popup windows' URLs."""
        urls = []
        for popup in self._popups:
            with contextlib.suppress(Exception):  # a popup may have closed itself
                urls.append(popup.url)
        return urls

    def evaluate(self, script: str, arg: Any = None) -> Any:
        """Evaluate in the current frame. When the app navigates during the call (the document it ran in is
        gone), the call is made once more in the new document as soon as it exists."""
        try:
            return self._frame.evaluate(script, arg)
        except Exception as exc:
            if not _navigated(exc):
                raise
        self._frame.wait_for_load_state("domcontentloaded", timeout=NAVIGATED_TIMEOUT * 1000)
        return self._frame.evaluate(script, arg)

    def wait_until_changed(self, script: str, arg: Any, last: str, timeout: float) -> bool:
        """Wait in the page for a change (see :func:`wait_changed_js`); a document that went away meanwhile (the
        app navigated or reloaded) is a change."""
        try:
            return bool(self._frame.evaluate(wait_changed_js(script), [arg, last, int(max(timeout, 0.001) * 1000)]))
        except Exception as exc:
            if not _navigated(exc):
                raise
            return True

    def screenshot(self) -> bytes:
        """PNG of the viewport."""
        data: bytes = self._page.screenshot(timeout=10_000)
        return data

    def start_trace(self) -> bool:
        """Trace the context: actions, DOM snapshots, console and network (no screencast: it is what makes
        tracing expensive, and the case's screenshot is attached anyway)."""
        try:
            self._context.tracing.start(snapshots=True, screenshots=False, sources=False)
        except Exception:  # noqa: BLE001 - a trace is evidence, never a reason for the case to break
            return False
        self._tracing = True
        return True

    def stop_trace(self, keep: bool) -> bytes | None:
        """The trace zip when ``keep``; else the recording is dropped without writing anything."""
        if not self._tracing:
            return None
        self._tracing = False
        if not keep:
            with contextlib.suppress(Exception):  # the browser may have crashed; nothing to keep then
                self._context.tracing.stop()
            return None
        with tempfile.TemporaryDirectory(prefix="mediafault-trace-") as tmp:
            path = Path(tmp) / "trace.zip"
            try:
                self._context.tracing.stop(path=str(path))
                return path.read_bytes()
            except Exception:  # noqa: BLE001 - as above
                return None

    def close(self) -> None:
        """Close the context (and so the page)."""
        self.closed = True
        if self.events.crashed:
            return  # closing a crashed page's context never returns; the runner discards its browser
        # The browser may have crashed; then there is nothing left to close.
        with contextlib.suppress(Exception):
            if self._cdp is not None:
                self._cdp.detach()
            if self._owns_context:
                self._context.close()
            else:
                for popup in self._popups:  # a persistent context outlives the case; its popups must not
                    popup.close()
                self._page.close()
