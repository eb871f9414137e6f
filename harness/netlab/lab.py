"""One network lab per harness process: two network namespaces joined by a veth pair.

    client namespace (the browser)  10.237.0.1 ──veth── 10.237.0.2  server namespace (app + aiortc peer + coturn)

The browser is started inside the client namespace by a wrapper executable (Playwright drives Chromium
over a pipe, which crosses namespaces). Nothing is added to the host's own routes or firewall: the two
namespaces only see each other. Faults are nftables rules inside the server namespace, on its end of the
veth, added for one case and removed after it. Every lab is named after the process that made it, so a
lab left behind by a killed run is recognised and removed at the next start.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

from harness.errors import EnvironmentProblem

SUBNET = "10.237.0"  # every lab is an island, so all of them can use the same addresses
CLIENT_IP, SERVER_IP = f"{SUBNET}.1", f"{SUBNET}.2"
APP_PORT, TURN_PORT = 8080, 3478
REALM = "mediafault.test"
START_TIMEOUT = 30.0
NAME = re.compile(r"^mf([0-9a-f]+)([cs])$")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=check)


def cleanup_stale() -> list[str]:
    """Remove labs whose owning process is gone (a run that was killed); returns what was removed."""
    removed = []
    listing = _ip("netns", "list", check=False).stdout.split()
    for name in listing:
        match = NAME.match(name)
        if not match or Path(f"/proc/{int(match.group(1), 16)}").exists():
            continue
        for pid in _ip("netns", "pids", name, check=False).stdout.split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), 9)
        _ip("netns", "del", name, check=False)
        removed.append(name)
    return removed


@dataclass(frozen=True)
class Credentials:
    """TURN credentials made for this run; never written to reports."""

    username: str
    password: str


class NetLab:
    """The namespaces, the servers in them, and the faults on the link."""

    def __init__(self, app_root: Path) -> None:
        if os.geteuid() != 0:
            raise EnvironmentProblem("the network lab needs root in this version (rootless user namespaces are "
                                     "planned); run as root, or skip network scenarios with -m 'not network'")
        for tool, package in (("ip", "iproute2"), ("nft", "nftables"), ("turnserver", "coturn")):
            if not shutil.which(tool):
                raise EnvironmentProblem(f"the network lab needs {tool}: apt-get install {package}")
        self.app_root = app_root
        self.tag = f"mf{os.getpid():x}"
        self.client_ns, self.server_ns = f"{self.tag}c", f"{self.tag}s"
        self.client_if, self.server_if = f"{self.tag}c0", f"{self.tag}s0"
        self.creds = Credentials("mf", secrets.token_urlsafe(12))
        # The tag is in every path and command line of the lab, so its processes can be found by it.
        self.dir = Path(tempfile.mkdtemp(prefix=f"mediafault-lab-{self.tag}-"))
        self.turn_lines: list[str] = []
        self._procs: list[subprocess.Popen[str]] = []
        self._drains: list[threading.Thread] = []
        self._started = False

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Create the namespaces and link, then start the app/peer server and coturn."""
        cleanup_stale()
        try:
            self._link()
            self._start_peer()
            self._start_turn()
        except BaseException:
            self.stop()
            raise
        self._started = True

    def _link(self) -> None:
        for ns in (self.client_ns, self.server_ns):
            _ip("netns", "add", ns)
            self._ns(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
            _ip("-n", ns, "link", "set", "lo", "up")
        _ip("link", "add", self.client_if, "netns", self.client_ns, "type", "veth", "peer", "name", self.server_if,
            "netns", self.server_ns)
        _ip("-n", self.client_ns, "addr", "add", f"{CLIENT_IP}/24", "dev", self.client_if)
        _ip("-n", self.server_ns, "addr", "add", f"{SERVER_IP}/24", "dev", self.server_if)
        _ip("-n", self.client_ns, "link", "set", self.client_if, "up")
        _ip("-n", self.server_ns, "link", "set", self.server_if, "up")

    def _ns(self, ns: str, *cmd: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True, text=True, timeout=30,
                              check=kw.get("check", True), input=kw.get("input"))

    def _spawn(self, cmd: list[str], ready: str) -> list[str]:
        """Start ``cmd`` in the server namespace and wait (on its output, not a clock) for ``ready``."""
        proc = subprocess.Popen(["ip", "netns", "exec", self.server_ns, *cmd], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self._procs.append(proc)
        assert proc.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT
        seen: list[str] = []
        while time.monotonic() < deadline:
            readable, _, _ = select.select([proc.stdout], [], [], deadline - time.monotonic())
            if not readable:
                break
            line = proc.stdout.readline()
            if not line:
                break
            seen.append(line.rstrip())
            if ready in line:
                drain = threading.Thread(target=self._drain, args=(proc, seen), daemon=True)
                drain.start()
                self._drains.append(drain)
                return seen  # keeps filling with the process's output
        tail = " | ".join(self.redact(x) for x in seen[-4:])
        raise EnvironmentProblem(f"{Path(cmd[0]).name} did not start in the lab within {START_TIMEOUT:g}s: {tail}")

    def _drain(self, proc: subprocess.Popen[str], sink: list[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            sink.append(line.rstrip())

    def _start_peer(self) -> None:
        self._spawn([sys.executable, "-m", "harness.netlab.peer", "--root", str(self.app_root), "--host", SERVER_IP,
                     "--port", str(APP_PORT), "--lab", self.tag], "ready")

    def _start_turn(self) -> None:
        # -n: no config file; coturn would otherwise read ./turnserver.conf or /etc/turnserver.conf.
        cmd = ["turnserver", "-n", f"--listening-ip={SERVER_IP}", f"--relay-ip={SERVER_IP}",
               f"--listening-port={TURN_PORT}", "--min-port=49160", "--max-port=49200", f"--realm={REALM}",
               "--lt-cred-mech", f"--user={self.creds.username}:{self.creds.password}", "--fingerprint",
               "--no-tls", "--no-dtls", "--no-cli", f"--userdb={self.dir / 'turndb'}",
               f"--pidfile={self.dir / 'turn.pid'}", "--log-file=stdout", "--simple-log", "--verbose"]
        self.turn_lines = self._spawn(cmd, "Total General servers")

    def stop(self) -> None:
        """Stop the servers (by PID) and remove the namespaces and link (idempotent)."""
        for proc in self._procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, 15)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(proc.pid, 9)
                    proc.wait(timeout=5)
        for thread in self._drains:
            thread.join(timeout=5)  # the pipes reach end-of-file once the processes are gone
        for proc in self._procs:
            if proc.stdout is not None:
                proc.stdout.close()
        self._procs.clear()
        self._drains.clear()
        for ns in (self.client_ns, self.server_ns):
            _ip("netns", "del", ns, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
        self._started = False

    # ------------------------------------------------------------------ for cases

    @property
    def app_origin(self) -> str:
        """Where the browser finds the app (inside the lab)."""
        return f"http://{SERVER_IP}:{APP_PORT}"

    def browser_wrapper(self, executable: str) -> str:
        """An executable that runs ``executable`` inside the client namespace."""
        path = self.dir / f"in-lab-{Path(executable).name}"
        path.write_text(f'#!/bin/sh\nexec ip netns exec {self.client_ns} {executable} "$@"\n', encoding="utf-8")
        path.chmod(0o755)
        return str(path)

    def ice_config(self, turn: str, policy: str, wrong_credentials: bool) -> dict[str, Any]:
        """The RTCConfiguration the app is given."""
        servers: list[dict[str, Any]] = []
        if turn != "none":
            password = "not-" + self.creds.password if wrong_credentials else self.creds.password
            servers.append({"urls": f"turn:{SERVER_IP}:{TURN_PORT}?transport={turn}",
                            "username": self.creds.username, "credential": password})
        return {"iceServers": servers, "iceTransportPolicy": policy}

    def apply(self, block_udp: bool) -> None:
        """Install this case's faults on the server's end of the link (counted)."""
        rules = [f'iifname "{self.server_if}" meta l4proto udp counter drop'] if block_udp else []
        rules_out = [f'oifname "{self.server_if}" meta l4proto udp counter drop'] if block_udp else []
        # Count what does cross, so evidence can say "0 UDP packets crossed".
        script = (
            "table inet mediafault {\n"
            f"  chain in {{ type filter hook input priority 0; policy accept; {'; '.join(rules)}"
            f"{'; ' if rules else ''}iifname \"{self.server_if}\" meta l4proto udp counter accept; }}\n"
            f"  chain out {{ type filter hook output priority 0; policy accept; {'; '.join(rules_out)}"
            f"{'; ' if rules_out else ''}oifname \"{self.server_if}\" meta l4proto udp counter accept; }}\n"
            "}\n"
        )
        self.clear()
        self._ns(self.server_ns, "nft", "-f", "-", input=script)

    def clear(self) -> None:
        """Remove the case's faults."""
        self._ns(self.server_ns, "nft", "delete", "table", "inet", "mediafault", check=False)

    def counters(self) -> dict[str, int]:
        """Packets counted by the case's rules: udp dropped / udp crossed, per direction."""
        out = self._ns(self.server_ns, "nft", "-j", "list", "table", "inet", "mediafault", check=False).stdout
        counts: dict[str, int] = {}
        with contextlib.suppress(json.JSONDecodeError):
            for item in json.loads(out or "{}").get("nftables", []):
                rule = item.get("rule")
                if not rule:
                    continue
                verdict = "dropped" if any("drop" in e for e in rule["expr"]) else "crossed"
                packets = next((e["counter"]["packets"] for e in rule["expr"] if "counter" in e), 0)
                key = f"udp {verdict} ({'to server' if rule['chain'] == 'in' else 'to browser'})"
                counts[key] = counts.get(key, 0) + int(packets)
        return counts

    def turn_log(self, since: int) -> list[str]:
        """coturn's lines since index ``since``, with the credentials removed."""
        return [self.redact(line) for line in self.turn_lines[since:]]

    def redact(self, text: str) -> str:
        """``text`` without the TURN password (plain or URL-encoded)."""
        for form in {self.creds.password, quote_plus(self.creds.password), quote(self.creds.password)}:
            text = text.replace(form, "***")
        return text
