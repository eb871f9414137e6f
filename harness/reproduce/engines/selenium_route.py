"""Selenium routes: WebKitGTK's MiniBrowser through WebKitWebDriver (the only real WebKit a Linux machine
without Playwright's build can drive), and Chromium through chromedriver.

WebKitGTK has no headless mode, so it runs on the harness's own Xvfb, and a new-session request without
a display hangs instead of failing: session creation runs under a timeout and the driver's whole process
group is killed when it expires. WebKitWebDriver offers no init-script command, so the harness's scripts
reach the page through the harness's own server (see ``Page.server_injection``) or, for an app named by
URL, through the harness's loopback proxy that both browsers are configured with (harness.app.loopproxy).
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.app.loopproxy import shared_proxy
from harness.core.errors import EnvironmentProblem, HarnessError
from harness.core.reaper import REAPER
from harness.reproduce import xvfb
from harness.reproduce.engines.base import (
    Browser,
    LaunchSpec,
    Page,
    PageEvents,
    Route,
    RouteInfo,
    install_hint,
    wait_changed_js,
)
from harness.reproduce.engines.playwright_route import CHROMIUM_BASE_ARGS, _profile_with_prefs, _version_of

SESSION_TIMEOUT = 45.0
# Selenium Manager would try to download drivers and send usage statistics; the harness names its
# drivers explicitly and must not talk to the internet.
# The same settings reach the Java Grid that ``mediafault grid up`` starts.
SELENIUM_OFFLINE_ENV = {"SE_AVOID_STATS": "true", "SE_OFFLINE": "true"}
for _key, _value in SELENIUM_OFFLINE_ENV.items():
    os.environ.setdefault(_key, _value)
MINIBROWSER_GLOBS = ("/usr/lib/*/webkit2gtk-4.1/MiniBrowser", "/usr/lib/*/webkit2gtk-4.0/MiniBrowser",
                     "/usr/libexec/webkit2gtk-4.1/MiniBrowser")

# An app that opens one dialog after another is given this many dismissals per command, then reported.
DIALOG_RETRIES = 20
# Whether another element would get a click at the centre of arguments[0] (an element outside the viewport is
# not covered as far as can be told: the click scrolls it in first).
COVERED_JS = """const el = arguments[0], box = el.getBoundingClientRect();
const top = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
return !!top && top !== el && !el.contains(top);"""
# What MiniBrowser writes (to the driver's log) when a page's WebProcess dies; WebKitWebDriver itself answers
# the command that met it with an empty error and then drops the session.
WEBPROCESS_CRASHED = b"WebProcess CRASHED"


def _minibrowser() -> str:
    env = os.environ.get("MF_MINIBROWSER")
    if env:
        return env
    for pattern in MINIBROWSER_GLOBS:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    return ""


class SeleniumRoute(Route):
    """Selenium driving ``webkit`` (WebKitWebDriver + MiniBrowser) or ``chromium`` (chromedriver)."""

    def __init__(self, engine: str) -> None:
        self.engine = engine
        self.name = "selenium-webkitgtk" if engine == "webkit" else "selenium-chromedriver"

    def probe(self) -> RouteInfo:
        """Driver and browser present? (No browser is started.)"""
        if self.engine == "webkit":
            driver, browser = shutil.which("WebKitWebDriver"), _minibrowser()
            if not driver or not browser:
                return RouteInfo(self.engine, self.name, False, reason="WebKitGTK's WebDriver is not installed; "
                                 f"install it with '{install_hint('webkit')}'")
            if not os.environ.get("DISPLAY") and not shutil.which("Xvfb"):
                return RouteInfo(self.engine, self.name, False, reason="WebKitGTK needs a display and Xvfb is "
                                 "missing; install it with 'apt-get install xvfb'")
            return RouteInfo(self.engine, self.name, True, browser, _webkit_version())
        driver = shutil.which("chromedriver")
        browser = shutil.which("chromium") or shutil.which("chromium-browser") or ""
        if not driver or not browser:
            return RouteInfo(self.engine, self.name, False, reason="chromedriver or chromium is missing; install "
                             f"them with '{install_hint('chromium')}'")
        return RouteInfo(self.engine, self.name, True, browser, _version_of(browser))

    def launch(self, spec: LaunchSpec, *, headed: bool = False, wrap: Callable[[str], str] | None = None) -> Browser:
        """Start a WebDriver session (under a timeout: WebKitGTK hangs without a display)."""
        info = self.probe()
        if not info.available:
            raise EnvironmentProblem(f"{self.engine} via {self.name}: {info.reason}")
        if wrap is not None:
            raise EnvironmentProblem(f"the network lab needs a Playwright route; {self.name} cannot enter it")
        from selenium import webdriver

        env = dict(os.environ)
        scratch: list[Path] = []  # directories to remove with the browser
        log = tempfile.NamedTemporaryFile(prefix=f"mediafault-{self.engine}-", suffix=".log", delete=False)  # noqa: SIM115
        options: Any
        if self.engine == "webkit":
            from selenium.webdriver.webkitgtk.service import Service as WebKitService

            env["DISPLAY"] = xvfb.display()
            options = webkit_options(info.executable)
            if libproxy_module():
                from selenium.webdriver.common.proxy import Proxy, ProxyType

                scratch.append(Path(tempfile.mkdtemp(prefix="mediafault-webkit-")))
                options.binary_location = proxied_minibrowser(info.executable, scratch[-1])
                options.proxy = Proxy({"proxyType": ProxyType.SYSTEM})  # GLib's resolver, as set by the launcher
            service: Any = WebKitService(log_output=log.name, env=env, popen_kw={"start_new_session": True})
            factory: Any = webdriver.WebKitGTK
        else:
            from selenium.webdriver.chrome.service import Service as ChromeService

            options, scratch, display = chrome_options(spec, headed, binary=info.executable, remote=False)
            if display:
                env["DISPLAY"] = xvfb.display()
            service = ChromeService(executable_path=shutil.which("chromedriver"), log_output=log.name, env=env,
                                    popen_kw={"start_new_session": True})
            factory = webdriver.Chrome

        def failed(why: str) -> EnvironmentProblem:
            _kill_group(service)
            tail = Path(log.name).read_text(errors="replace").strip().splitlines()[-3:]
            return EnvironmentProblem(f"could not start {self.engine} via {self.name}: {why}"
                                      + (f" (driver log: {' | '.join(tail)})" if tail else ""))

        _watch_when_started(service)
        driver = start_session(lambda: factory(options=options, service=service), SESSION_TIMEOUT, failed)
        return SeleniumBrowser(driver, service, info, self.engine, log.name, scratch)


def chrome_options(spec: LaunchSpec, headed: bool, *, binary: str | None, remote: bool,
                   proxied: bool = False) -> tuple[Any, list[Path], bool]:
    """chromedriver options for ``spec``: (options, scratch directories, whether it needs a display).

    ``remote``: the browser starts on a Grid node, where no file of this machine exists, so profile
    preferences go through chromedriver's ``prefs`` (it writes them into the node's fresh profile) instead of
    a prepared ``--user-data-dir``, and the browser binary is the node's own (its stereotype names it). A
    local browser always goes through the harness's proxy; a node's only when ``proxied`` (an app given by
    URL, whose pages only the proxy can put the harness's scripts into).
    """
    from selenium.webdriver.chrome.options import Options as ChromeOptions

    options = ChromeOptions()
    if binary:
        options.binary_location = binary
    scratch: list[Path] = []
    extra = ["--no-sandbox"]
    display = spec.headed or headed
    if not display:
        extra.append("--headless=new")
    if spec.profile_prefs and remote:
        options.add_experimental_option("prefs", dict(spec.profile_prefs))
    elif spec.profile_prefs:
        profile = _profile_with_prefs(dict(spec.profile_prefs))
        scratch.append(profile)
        extra.append(f"--user-data-dir={profile}")
    if not remote or proxied:
        # The harness's proxy, as on WebKit (on loopback, or on the serve address for a remote Grid).
        # Chromium never proxies loopback unless the bypass list removes that rule with <-loopback>.
        extra += [f"--proxy-server=http://{shared_proxy().address}", "--proxy-bypass-list=<-loopback>"]
    for arg in (*CHROMIUM_BASE_ARGS, *spec.args, *extra):
        options.add_argument(arg)
    options.set_capability("acceptInsecureCerts", True)
    return options, scratch, display


def webkit_options(binary: str | None, *, proxied: bool = True) -> Any:
    """WebKitWebDriver options: MiniBrowser in automation mode with mock capture devices, reaching the
    insecure-origin host (``insecure.mediafault.test``) through the harness's loopback proxy (http only: this is what a
    Grid node on this machine gets; the local route replaces it with :func:`proxied_minibrowser`).

    Not ``proxied`` for a node on another machine: this machine's loopback is not its, and the harness's
    servers are on an address it reaches directly."""
    from selenium.webdriver.common.proxy import Proxy, ProxyType
    from selenium.webdriver.webkitgtk.options import Options as WebKitOptions

    options = WebKitOptions()
    if binary:
        options.binary_location = binary
    options.add_argument("--automation")
    options.add_argument("--enable-mock-capture-devices=true")
    options.set_capability("acceptInsecureCerts", True)
    if proxied:
        options.proxy = Proxy({"proxyType": ProxyType.MANUAL, "httpProxy": shared_proxy().address})
    return options


def proxied_minibrowser(binary: str, scratch: Path) -> str:
    """A launcher for ``binary`` that sends all its http, https and websocket traffic through the
    harness's loopback proxy (which forwards loopback and, in a run that names its app by URL, that app).

    Not the WebDriver proxy capability: WebKitWebDriver turns ``sslProxy`` into an ``https://`` proxy URL
    (TLS to the proxy itself, whose certificate WebKit then rejects: acceptInsecureCerts does not cover
    proxies), and without it https goes direct. GLib's libproxy resolver reads ``https_proxy`` with a
    plain ``http://`` proxy, which WebKitGTK then asks with CONNECT, and it proxies loopback too (no
    implicit bypass; measured). The variables are set for the browser only: WebKitWebDriver's own
    connection to the browser must not go through a proxy.
    """
    address = f"http://{shared_proxy().address}"
    launcher = scratch / "minibrowser"
    launcher.write_text("#!/bin/sh\n"
                        f"export http_proxy={address} https_proxy={address} HTTP_PROXY={address} "
                        f"HTTPS_PROXY={address} no_proxy= NO_PROXY= GIO_USE_PROXY_RESOLVER=libproxy\n"
                        f"exec {shlex.quote(binary)} \"$@\"\n", encoding="utf-8")
    launcher.chmod(0o700)
    return str(launcher)


def start_session(create: Callable[[], Any], timeout: float, failed: Callable[[str], Exception]) -> Any:
    """Run ``create`` (a new WebDriver session) under ``timeout``: a session request can hang (WebKitGTK
    without a display, a Grid without a free slot). ``failed(why)`` cleans up and builds the error."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["driver"] = create()
        except Exception as exc:  # noqa: BLE001 - reported by the caller with its own context
            result["error"] = exc

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout)
    if "driver" not in result:
        error = str(result.get("error", "")).strip().splitlines()
        raise failed(f"no session after {timeout:g}s" if worker.is_alive() else (error[0] if error else "?"))
    driver = result["driver"]
    driver.set_script_timeout(120)
    return driver


def _watch_when_started(service: Any) -> None:
    """Register the driver process with the reaper the moment it exists: session creation can take
    seconds, and a worker killed meanwhile must not leave the driver and its browser behind."""
    start = service._start_process

    def started(path: str) -> None:
        start(path)
        REAPER.watch_process(service.process.pid)  # the driver and the browser below it

    service._start_process = started


def _kill_group(service: Any) -> None:
    process = getattr(service, "process", None)
    if process is not None:
        REAPER.forget_process(process.pid)
    if process is not None and process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            process.wait(timeout=5)


@functools.cache
def libproxy_module() -> bool:
    """Whether GLib's libproxy proxy resolver is installed (glib-networking's libgiolibproxy)."""
    return any(glob.glob(pattern) for pattern in ("/usr/lib/*/gio/modules/libgiolibproxy.so",
                                                   "/usr/lib/gio/modules/libgiolibproxy.so",
                                                   "/usr/lib64/gio/modules/libgiolibproxy.so"))


@functools.cache
def _webkit_version() -> str:
    """WebKitGTK's version from the package database (MiniBrowser itself needs a display to answer)."""
    for package in ("libwebkit2gtk-4.1-0", "libwebkit2gtk-4.0-37"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True,
                                 text=True, timeout=10, check=False).stdout.strip()
            if out:
                return f"WebKitGTK {out.split('-')[0]}"
    return "WebKitGTK"


class SeleniumBrowser(Browser):
    """One WebDriver session; each case gets a new window, closed afterwards."""

    def __init__(self, driver: Any, service: Any, info: RouteInfo, engine: str, log: str | None,
                 scratch: list[Path]) -> None:
        self._driver = driver
        self._scratch = scratch
        self._service = service
        self._log = log
        self.info = info
        self.engine = engine
        caps = driver.capabilities
        self.version = f"{engine} {caps.get('browserVersion') or caps.get('version') or info.version}"
        self._home = driver.current_window_handle

    def new_page(self) -> Page:
        """A new window (a new document and browsing context) in the session."""
        self._driver.switch_to.window(self._home)
        self._driver.switch_to.new_window("window")
        return SeleniumPage(self._driver, self._home, self.engine, self._log)

    def close(self) -> None:
        """End the session and make sure no driver or browser process is left."""
        with contextlib.suppress(Exception):
            self._driver.quit()
        _kill_group(self._service)
        if self._log:
            with contextlib.suppress(OSError):
                os.unlink(self._log)
        for directory in self._scratch:
            shutil.rmtree(directory, ignore_errors=True)


def _size(path: str | None) -> int:
    """The size of the file at ``path`` (0 when there is none)."""
    try:
        return os.path.getsize(path) if path else 0
    except OSError:
        return 0


class SeleniumPage(Page):
    """A window of a WebDriver session."""

    def __init__(self, driver: Any, home: str, engine: str, log: str | None = None) -> None:
        self._driver = driver
        self._home = home
        self._engine = engine
        self._log = log
        self._log_mark = _size(log)  # what the driver logged before this page
        self._handle = driver.current_window_handle
        self._scripts: list[str] = []
        self._frame: str | None = None
        self.events = PageEvents()

    def _call(self, command: Callable[..., Any], *args: Any) -> Any:
        """Run a WebDriver command past the app's dialogs. WebDriver's default prompt handling dismisses an
        open alert, confirm or prompt and fails the command that met it ('unexpected alert open'); the
        observer has recorded the dialog, so the command is simply sent again."""
        from selenium.common.exceptions import (
            NoAlertPresentException,
            NoSuchWindowException,
            UnexpectedAlertPresentException,
            WebDriverException,
        )

        for _ in range(DIALOG_RETRIES):
            try:
                return command(*args)
            except UnexpectedAlertPresentException:
                with contextlib.suppress(NoAlertPresentException):  # a driver that left it open
                    self._driver.switch_to.alert.dismiss()
            except WebDriverException as exc:
                self.events.crashed = self.events.crashed or self._webprocess_crashed()
                # A window gone, not by a crash: the harness closes it only after the case, so the app did.
                self.events.window_closed |= isinstance(exc, NoSuchWindowException) and not self.events.crashed
                raise
        raise HarnessError(f"the app opened more than {DIALOG_RETRIES} dialogs in a row; the harness dismissed "
                           "each one and gave up")

    def _webprocess_crashed(self) -> bool:
        """Whether the driver's log says a WebProcess died since this page opened."""
        if self._engine != "webkit" or self._log is None:
            return False
        try:
            with open(self._log, "rb") as log:
                log.seek(self._log_mark)
                return WEBPROCESS_CRASHED in log.read()
        except OSError:
            return False

    def set_permission(self, name: str, setting: str, origin: str) -> None:
        """chromedriver: the W3C permissions command; WebKitWebDriver has none."""
        if self._engine != "chromium":
            raise HarnessError("WebKitWebDriver has no permission command")
        # The command behind execute_cdp_cmd, so it works on webdriver.Chrome and on a Grid's Remote alike.
        self._driver.execute("executeCdpCommand", {"cmd": "Browser.setPermission", "params": {
            "permission": {"name": name}, "setting": setting, "origin": origin}})

    def add_init_script(self, script: str) -> None:
        """Kept for the harness's server to inject: WebKitWebDriver has no init-script command, and
        chromedriver's CDP one does not reach cross-origin iframes (they are separate targets)."""
        self._scripts.append(script)

    def server_injection(self) -> str | None:
        """The scripts the app server must put first in the app's HTML."""
        return "\n;\n".join(self._scripts)

    def use_frame(self, url_part: str | None) -> None:
        """Switch to the iframe whose src contains ``url_part`` (or back to the top page)."""
        from selenium.webdriver.common.by import By

        self._driver.switch_to.default_content()
        self._frame = url_part
        if url_part is None:
            return
        for frame in self._driver.find_elements(By.TAG_NAME, "iframe"):
            if url_part in (frame.get_attribute("src") or ""):
                self._driver.switch_to.frame(frame)
                return
        raise HarnessError(f"no iframe with {url_part!r} in its src")

    def goto(self, url: str, timeout: float) -> None:
        """Navigate and wait for the load event."""
        self._driver.set_page_load_timeout(timeout)
        self._call(self._driver.get, url)

    def click(self, selector: str, timeout: float, at: tuple[float, float] | None = None) -> None:
        """A WebDriver element click (a trusted event: the page sees a user gesture); waited for unless the
        harness has just seen the element clickable (``at``)."""
        from selenium.webdriver.common.by import By

        if at is not None:
            element = self._call(self._driver.find_element, By.CSS_SELECTOR, selector)
        else:
            element = self._wait_clickable(selector, timeout)
        self._call(element.click)

    def wait_clickable(self, selector: str, timeout: float) -> None:
        """Wait for a visible, enabled element that no other element covers."""
        self._wait_clickable(selector, timeout)

    def _wait_clickable(self, selector: str, timeout: float) -> Any:
        """The element, once shown, enabled and not covered. WebDriver itself tells a covered element only by
        refusing the click at once ("click intercepted"), where Playwright waits for the cover to go: so an
        app's loading overlay would break a case here that passes on Chromium."""
        from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        clickable = ec.element_to_be_clickable((By.CSS_SELECTOR, selector))

        def ready(driver: Any) -> Any:
            element = clickable(driver)
            return element if element and not driver.execute_script(COVERED_JS, element) else False

        # A page that redraws may replace the element between the two looks: look again.
        wait = WebDriverWait(self._driver, timeout, ignored_exceptions=(NoSuchElementException,
                                                                        StaleElementReferenceException))
        return self._call(wait.until, ready)

    def wait_visible(self, selector: str, timeout: float) -> None:
        """Wait for a visible element."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec
        from selenium.webdriver.support.ui import WebDriverWait

        self._call(WebDriverWait(self._driver, timeout).until,
                   ec.visibility_of_element_located((By.CSS_SELECTOR, selector)))

    def evaluate(self, script: str, arg: Any = None) -> Any:
        """Evaluate a function expression (promises are awaited by WebDriver). A script that met the document
        unloading (the app reloaded or navigated; WebKitWebDriver: "Callback was not called before the unload
        event") is sent once more, to the new document: reading the page has no effect to repeat."""
        from selenium.common.exceptions import WebDriverException

        command = f"return ({script})(arguments[0]);"
        try:
            return self._call(self._driver.execute_script, command, arg)
        except WebDriverException as exc:
            if "unload" not in str(exc).lower() or self.events.crashed:
                raise
            return self._call(self._driver.execute_script, command, arg)

    def wait_until_changed(self, script: str, arg: Any, last: str, timeout: float) -> bool:
        """Wait in the page for a change of ``script(arg)``; False on timeout."""
        from selenium.common.exceptions import WebDriverException

        ms = int(max(timeout, 0.001) * 1000)
        try:
            return bool(self._call(self._driver.execute_async_script,
                                   f"const [arg, last, ms, done] = arguments; ({wait_changed_js(script)})"
                                   "([arg, last, ms]).then(done);", arg, last, ms))
        except WebDriverException as exc:
            if "unload" not in str(exc).lower():
                raise
            return True  # the document went away while waiting (the app navigated or reloaded): a change

    def popups(self) -> list[str]:
        """The windows opened since this page's, with their URLs (reading one means switching to it)."""
        urls = []
        for handle in self._others():
            with contextlib.suppress(Exception):  # a popup may close itself meanwhile
                self._driver.switch_to.window(handle)
                urls.append(self._call(lambda: self._driver.current_url))
        self._driver.switch_to.window(self._handle)
        self.use_frame(self._frame)
        return urls

    def _others(self) -> list[str]:
        return [h for h in self._driver.window_handles if h not in (self._home, self._handle)]

    def screenshot(self) -> bytes:
        """PNG of the window."""
        data: bytes = self._call(self._driver.get_screenshot_as_png)
        return data

    def close(self) -> None:
        """Close the window and go back to the session's first one."""
        with contextlib.suppress(Exception):
            for handle in [*self._others(), self._handle]:  # the app's popups go with it
                with contextlib.suppress(Exception):  # one the app closed itself is gone already
                    self._driver.switch_to.window(handle)
                    self._call(self._driver.close)
            self._driver.switch_to.window(self._home)
