"""One network lab per harness process: two network namespaces joined by a veth pair.

    client namespace (the browser)  10.237.0.1 ──veth── 10.237.0.2  server namespace (app + aiortc peer + coturn)

The browser is started inside the client namespace by a wrapper executable (Playwright drives Chromium
over a pipe, which crosses namespaces). The app is either served by the peer in the server namespace
(``app.dir``), or it runs on the host's loopback (``app.url``) and the lab forwards that one address and
port into the client namespace (:meth:`NetLab.forward_app`), so the browser reaches it at its own origin;
that relay is the namespace's loopback, not the link. Nothing is added to the host's own routes or
firewall: the two namespaces only see each other. Faults are nftables rules (and a shaper) inside the
server namespace, on its end of the veth, added for one case and removed after it. They take the call's
media path (ICE, TURN, media) and let the peer's HTTP port (:data:`APP_PORT`: the ``app.dir`` page, its
telemetry, the signalling POST) through, so a shaped or dropped link means the same with ``app.dir`` as
with ``app.url``, and a case's time goes to the call rather than to loading a page over a 600 ms link.
Every lab is named after the process that made it, so a lab left behind by a killed run is recognised
and removed at the next start.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import secrets
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

from harness.core.errors import EnvironmentProblem
from harness.core.reaper import REAPER
from harness.reproduce.netlab import inlab
from harness.scenario.model import Shape

SUBNET = "10.237.0"  # every lab is an island, so all of them can use the same addresses
CLIENT_IP, SERVER_IP = f"{SUBNET}.1", f"{SUBNET}.2"
APP_PORT, TURN_PORT = 8080, 3478
REALM = "mediafault.test"
START_TIMEOUT = 30.0
# coturn is ready in 0.3 s, under 1 s with two labs starting on two busy cores (80 starts measured); a start
# still not ready after this long has hung, and is made again (see NetLab._spawn).
TURN_STALL = 8.0
SHAPER_QUEUES = {"to browser": 1, "to server": 2}
NAME = re.compile(r"^mf([0-9a-f]+)([cs])$")


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=check)


HOLDER = re.compile(r"^(mf[0-9a-f]+[cs])\0infinity\0$")


def _userns_holders() -> dict[str, int]:
    """Rootless labs' namespace holders on this machine: ``{'mf1a2bc': pid, …}`` (see :meth:`NetLab._hold`)."""
    out: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                match = HOLDER.match((entry / "cmdline").read_text(errors="replace"))
                if match:
                    out[match.group(1)] = int(entry.name)
    return out


def cleanup_stale() -> list[str]:
    """Remove labs whose owning process is gone (a run that was killed); returns what was removed."""
    removed = []
    for name, pid in _userns_holders().items():
        match = NAME.match(name)
        if match and not Path(f"/proc/{int(match.group(1), 16)}").exists():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, 9)  # the namespace goes with the last process in it
            removed.append(name)
    listing = _ip("netns", "list", check=False).stdout.split()
    for name in listing:
        match = NAME.match(name)
        if not match or Path(f"/proc/{int(match.group(1), 16)}").exists():
            continue
        for inside in _ip("netns", "pids", name, check=False).stdout.split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(inside), 9)
        _ip("netns", "del", name, check=False)
        removed.append(name)
    return removed


def userns_available() -> bool:
    """Whether this user may create user namespaces (rootless labs)."""
    try:
        return subprocess.run(["unshare", "-Urn", "true"], capture_output=True, timeout=10,
                              check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def app_url_problem(url: str) -> str | None:
    """Why the lab cannot bring the app at ``url`` to its browser, or None: it can forward an app on this
    machine's IPv4 loopback (``localhost``, ``127.0.0.1``), and nothing else, as the lab has no route out."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return None
    with contextlib.suppress(ValueError):
        address = ipaddress.ip_address(host)
        if address.version == 4 and address.is_loopback:
            return None
        if address.is_loopback:
            return (f"the network lab's namespaces are IPv4 only, so it cannot forward [{host}]; give the app as "
                    "http://127.0.0.1:PORT/ or http://localhost:PORT/ (and let its server listen there)")
    return (f"the network lab has no route to {host or url}; network scenarios with app.url need an app on this "
            "machine (localhost/127.0.0.1), or use app.dir")


@dataclass(frozen=True)
class Credentials:
    """TURN credentials made for this run; never written to reports."""

    username: str
    password: str


class NetLab:
    """The namespaces, the servers in them, and the faults on the link."""

    def __init__(self, app_root: Path | None) -> None:
        """``app_root``: the app's files, served by the lab's peer; None for an app the lab forwards
        (:meth:`forward_app`)."""
        # As root the namespaces are named (ip netns); without root they live in a user namespace of our
        # own, held open by two processes (unshare -rn). MEDIAFAULT_LAB=userns picks the latter as root too.
        self.rootless = os.geteuid() != 0 or os.environ.get("MEDIAFAULT_LAB") == "userns"
        if self.rootless and not userns_available():
            raise EnvironmentProblem("the network lab needs root or unprivileged user namespaces, and this machine "
                                     "allows neither (sysctl kernel.unprivileged_userns_clone=1, or on Ubuntu "
                                     "kernel.apparmor_restrict_unprivileged_userns=0); or skip network scenarios "
                                     "with -m 'not network'")
        for tool, package in (("ip", "iproute2"), ("nft", "nftables"), ("turnserver", "coturn"),
                              ("nsenter", "util-linux")):
            if not shutil.which(tool):
                raise EnvironmentProblem(f"the network lab needs {tool}: apt-get install {package}")
        self.app_root = app_root
        self.tag = f"mf{os.getpid():x}"
        self.client_ns, self.server_ns = f"{self.tag}c", f"{self.tag}s"
        self.client_if, self.server_if = f"{self.tag}c0", f"{self.tag}s0"
        self.creds = Credentials("mf", secrets.token_urlsafe(12))
        # The tag is in every path and command line of the lab, so its processes can be found by it.
        self.dir = Path(tempfile.mkdtemp(prefix=f"mediafault-lab-{self.tag}-"))
        REAPER.watch_dir(self.dir)  # everything the lab starts is registered too, should this process be killed
        self.turn_lines: list[str] = []
        self.start_notes: list[str] = []  # what went wrong while the lab started and was mended (see _spawn)
        self._procs: list[subprocess.Popen[str]] = []
        self._drains: list[threading.Thread] = []
        self._started = False
        self.netem = False  # the kernel has sch_netem: shape with tc; else with the user-space shaper
        self._shaper: subprocess.Popen[str] | None = None
        self._shaper_lines: list[str] = []
        self._shaper_drain: threading.Thread | None = None
        self._shape: Shape | None = None
        self._holders: dict[str, subprocess.Popen[bytes]] = {}  # rootless: namespace name → its holder
        self._forwards: dict[tuple[str, int], socket.socket] = {}  # app.url's host and port → its relay
    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Create the namespaces and link, then start the app/peer server and coturn."""
        cleanup_stale()
        try:
            self._link()
            self.netem = self._has_netem()
            self._start_peer()
            self._start_turn()
        except BaseException:
            self.stop()
            raise
        self._started = True

    def _link(self) -> None:
        if self.rootless:
            # The client holder makes the user namespace; the server's network namespace is made inside it,
            # so one user namespace owns both ends of the veth.
            self._hold(self.client_ns, ["unshare", "-Urn"])
            self._hold(self.server_ns, [*self._enter(self.client_ns), "unshare", "-n"])
            self._ns(self.client_ns, "ip", "link", "add", self.client_if, "type", "veth", "peer", "name",
                     self.server_if, "netns", str(self._holders[self.server_ns].pid))
        else:
            for ns in (self.client_ns, self.server_ns):
                REAPER.watch_netns(ns)
                _ip("netns", "add", ns)
            _ip("link", "add", self.client_if, "netns", self.client_ns, "type", "veth", "peer", "name",
                self.server_if, "netns", self.server_ns)
        for ns, dev, address in ((self.client_ns, self.client_if, CLIENT_IP), (self.server_ns, self.server_if,
                                                                              SERVER_IP)):
            # IPv6 off: the lab's addresses are IPv4 only, and link-local v6 candidates would only add noise.
            self._ns(ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", check=not self.rootless)
            self._ns(ns, "ip", "link", "set", "lo", "up")
            self._ns(ns, "ip", "addr", "add", f"{address}/24", "dev", dev)
            self._ns(ns, "ip", "link", "set", dev, "up")

    def _hold(self, name: str, prefix: list[str]) -> None:
        """Start the process that keeps a rootless namespace alive; its argv[0] is the lab's name for it."""
        # It says so once it runs inside the new namespaces, then becomes 'sleep' named after the lab.
        code = f"import os, sys; print('ready', flush=True); os.execvp('sleep', [{name!r}, 'infinity'])"
        holder = subprocess.Popen([*prefix, sys.executable, "-c", code], stdout=subprocess.PIPE,
                                  start_new_session=True)
        self._holders[name] = holder
        REAPER.watch_process(holder.pid)
        assert holder.stdout is not None
        readable, _, _ = select.select([holder.stdout], [], [], START_TIMEOUT)
        if not readable or holder.stdout.readline().strip() != b"ready":
            raise EnvironmentProblem(f"could not create the lab's user namespace ({' '.join(prefix)}); see "
                                     "'mediafault doctor'")

    def _enter(self, ns: str) -> list[str]:
        """The command prefix that runs a program inside namespace ``ns``."""
        if not self.rootless:
            return ["ip", "netns", "exec", ns]
        return ["nsenter", "-t", str(self._holders[ns].pid), "-U", "-n", "--preserve-credentials"]

    def _has_netem(self) -> bool:
        # Tried on the lab's own link, so the answer is this kernel's (modules included), and harmless.
        probe = self._ns(self.server_ns, "tc", "qdisc", "add", "dev", self.server_if, "root", "netem", "delay", "0ms",
                         check=False)
        if probe.returncode != 0:
            return False
        self._ns(self.server_ns, "tc", "qdisc", "del", "dev", self.server_if, "root", check=False)
        return True

    def _ns(self, ns: str, *cmd: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self._enter(ns), *cmd], capture_output=True, text=True, timeout=30,
                              check=kw.get("check", True), input=kw.get("input"))

    def _spawn(self, cmd: list[str], ready: str, ns: str | None = None, restart_after: float | None = None
               ) -> list[str]:
        """Start ``cmd`` in namespace ``ns`` (the server's by default) and wait (on its output, not a clock)
        for ``ready``; returns its output, which keeps filling.

        ``restart_after``: for a server that now and then hangs as it starts (coturn: once in CI its second
        relay thread never came up, where it is ready in under a second), a start that is still not ready
        after this many seconds is stopped and made once more, with the full bound; :attr:`start_notes` says
        so, and with it every case's TURN log."""
        proc = self._popen(cmd, ns)
        try:
            return self._await_ready(proc, cmd, ready, restart_after or START_TIMEOUT)
        except EnvironmentProblem as first:
            if restart_after is None or proc.poll() is not None:
                raise  # it exited: starting it again would only say the same
            self._discard(proc)
            proc = self._popen(cmd, ns)
            try:
                seen = self._await_ready(proc, cmd, ready, START_TIMEOUT)
            except EnvironmentProblem as second:
                raise EnvironmentProblem(f"{second} (that was a second start: the first had hung for "
                                         f"{restart_after:g}s)") from None
            self.start_notes.append(f"mediafault: a first start hung and was stopped, then made again ({first})")
            return seen

    def _popen(self, cmd: list[str], ns: str | None) -> subprocess.Popen[str]:
        proc = subprocess.Popen([*self._enter(ns or self.server_ns), *cmd], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        REAPER.watch_process(proc.pid)
        self._procs.append(proc)
        return proc

    def _discard(self, proc: subprocess.Popen[str]) -> None:
        self._terminate(proc)
        self._procs.remove(proc)
        if proc.stdout is not None:
            proc.stdout.close()

    def _await_ready(self, proc: subprocess.Popen[str], cmd: list[str], ready: str,
                     bound: float = START_TIMEOUT) -> list[str]:
        assert proc.stdout is not None
        deadline = time.monotonic() + bound
        seen: list[str] = []
        ended = False
        while time.monotonic() < deadline:
            readable, _, _ = select.select([proc.stdout], [], [], deadline - time.monotonic())
            if not readable:
                break
            line = proc.stdout.readline()
            if not line:
                ended = True
                break
            seen.append(line.rstrip())
            if ready in line:
                drain = threading.Thread(target=self._drain, args=(proc, seen), daemon=True)
                drain.start()
                self._drains.append(drain)
                return seen  # keeps filling with the process's output
        tail = " | ".join(self.redact(x) for x in seen[-4:])
        what = " ".join(Path(part).name for part in cmd[:3])
        if ended:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=2)  # it is exiting, or it only closed its output
        if proc.poll() is not None:
            raise EnvironmentProblem(f"{what} exited in the lab (status {proc.returncode}) before it was ready: {tail}")
        raise EnvironmentProblem(f"{what} did not start in the lab within {bound:g}s: {tail}")

    def _drain(self, proc: subprocess.Popen[str], sink: list[str]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            sink.append(line.rstrip())

    def _start_peer(self) -> None:
        root = ["--root", str(self.app_root)] if self.app_root is not None else []
        self._spawn([sys.executable, "-m", "harness.reproduce.netlab.peer", *root, "--host", SERVER_IP,
                     "--port", str(APP_PORT), "--lab", self.tag], "ready")

    def forward_app(self, url: str) -> None:
        """Make the app at ``url`` (on the host's loopback) reachable from the browser at the same URL.

        Inside the client namespace a forwarder listens on the URL's address and port, on the namespace's
        own loopback, and relays each connection over a Unix socket (a file: it crosses namespaces) to
        this process, which connects it to the real server. Nothing else of the host is reachable. The
        relay is not on the lab's link, so the faults of a case never touch the app's own server.
        """
        problem = app_url_problem(url)
        if problem:
            raise EnvironmentProblem(problem)
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if (host, port) in self._forwards:
            return
        # localhost: the browser in the namespace resolves it to the namespace's own 127.0.0.1 (IPv6 is off
        # there); out here a dev server may listen on either loopback address (Node's often takes ::1 only).
        hosts = ("127.0.0.1", "::1") if host == "localhost" else (host,)
        connect = inlab.tcp_connector(port, *hosts)
        try:
            connect().close()
        except OSError as exc:
            raise EnvironmentProblem(f"nothing answers at {parts.scheme}://{parts.netloc} ({' and '.join(hosts)} "
                                     f"port {port}: {exc.strerror or exc}): start the app's server before the run, "
                                     "or check app.url") from None
        path = self.dir / f"app-{port}.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        listener.listen(64)
        self._forwards[(host, port)] = listener
        inlab.serve(listener, connect)
        address = "127.0.0.1" if host == "localhost" else host
        self._spawn([sys.executable, "-m", "harness.reproduce.netlab.inlab", "--socket", str(path),
                     "--forward", f"{address}:{port}"], "ready", ns=self.client_ns)

    def _start_turn(self) -> None:
        # -n: no config file; coturn would otherwise read ./turnserver.conf or /etc/turnserver.conf.
        cmd = ["turnserver", "-n", f"--listening-ip={SERVER_IP}", f"--relay-ip={SERVER_IP}",
               f"--listening-port={TURN_PORT}", "--min-port=49160", "--max-port=49200", f"--realm={REALM}",
               "--lt-cred-mech", f"--user={self.creds.username}:{self.creds.password}", "--fingerprint",
               "--no-tls", "--no-dtls", "--no-cli", f"--userdb={self.dir / 'turndb'}",
               f"--pidfile={self.dir / 'turn.pid'}", "--log-file=stdout", "--simple-log", "--verbose"]
        self.turn_lines = self._spawn(cmd, "Total General servers", restart_after=TURN_STALL)

    @staticmethod
    def _terminate(proc: subprocess.Popen[str]) -> None:
        REAPER.forget_process(proc.pid)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, 15)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, 9)
                proc.wait(timeout=5)

    def stop(self) -> None:
        """Stop the servers (by PID) and remove the namespaces and link (idempotent)."""
        if self._shaper is not None:  # stopped mid-case (an interrupted run): end the shaper as a case would
            self.clear()
        for listener in self._forwards.values():
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept(); close alone does not
            listener.close()
        self._forwards.clear()
        for proc in self._procs:
            self._terminate(proc)
        for thread in self._drains:
            thread.join(timeout=5)  # the pipes reach end-of-file once the processes are gone
        for proc in self._procs:
            if proc.stdout is not None:
                proc.stdout.close()
        self._procs.clear()
        self._drains.clear()
        for ns in (self.client_ns, self.server_ns):
            holder = self._holders.pop(ns, None)
            if holder is not None:  # rootless: the namespace goes with its last process
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(holder.pid, 9)
                holder.wait(timeout=5)
                REAPER.forget_process(holder.pid)
                if holder.stdout is not None:
                    holder.stdout.close()
            elif not self.rootless:
                _ip("netns", "del", ns, check=False)
                REAPER.forget_netns(ns)
        shutil.rmtree(self.dir, ignore_errors=True)
        REAPER.forget_dir(self.dir)
        self._started = False

    # ------------------------------------------------------------------ for cases

    @property
    def app_origin(self) -> str:
        """Where the browser finds an ``app.dir`` app (inside the lab)."""
        return f"http://{SERVER_IP}:{APP_PORT}"

    @property
    def signal_url(self) -> str:
        """Where the app sends its call's offer: the lab's peer."""
        return f"{self.app_origin}/offer"

    def browser_wrapper(self, executable: str) -> str:
        """An executable that runs ``executable`` inside the client namespace.

        Firefox is driven over a TCP port (WebDriver BiDi) rather than a pipe, so its wrapper also
        bridges that port back to the harness's loopback (see :mod:`harness.reproduce.netlab.inlab`).
        """
        path = self.dir / f"in-lab-{Path(executable).name}"
        enter = " ".join(self._enter(self.client_ns))
        if "firefox" in Path(executable).name:
            body = (f"exec {sys.executable} -m harness.reproduce.netlab.inlab --socket {self.dir / 'bidi.sock'} "
                    f'--enter "{enter}" -- {executable} "$@"')
        else:
            body = f'exec {enter} {executable} "$@"'
        path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
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

    def apply(self, block_udp: bool, shape: Shape | None = None) -> None:
        """Install this case's faults on the link: counted UDP rules, and the impairment ``shape``."""
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
        if shape is not None:
            self._shape_link(shape)

    def shaping_method(self) -> str:
        """How impairment is applied on this kernel, for people."""
        how = ("tc netem on both ends of the link" if self.netem else
               "iptables NFQUEUE → the lab's user-space shaper (this kernel has no sch_netem)")
        return f"{how}; the call's media path only (ICE, TURN, media), not the page or the signalling POST"

    def _shape_link(self, shape: Shape) -> None:
        if self.netem:
            args = ["delay", f"{shape.latency:g}ms", f"{shape.jitter:g}ms", "distribution", "normal",
                    "loss", f"{shape.loss:g}%"] + (["rate", f"{shape.bandwidth:g}kbit"] if shape.bandwidth else [])
            if not shape.jitter:
                args = args[:2] + args[5:]
            # A two-band prio root: netem on the band everything goes to, and the peer's HTTP port (on either
            # end) filtered to the plain band, so the page and the signalling are not shaped (see the module doc).
            for ns, dev, port in ((self.server_ns, self.server_if, "sport"), (self.client_ns, self.client_if, "dport")):
                self._ns(ns, "tc", "qdisc", "replace", "dev", dev, "root", "handle", "1:", "prio", "bands", "2",
                         "priomap", *["1"] * 16)
                self._ns(ns, "tc", "qdisc", "add", "dev", dev, "parent", "1:2", "handle", "20:", "netem", *args)
                self._ns(ns, "tc", "filter", "add", "dev", dev, "parent", "1:", "protocol", "ip", "prio", "1", "u32",
                         "match", "ip", "protocol", "6", "0xff", "match", "ip", port, str(APP_PORT), "0xffff",
                         "flowid", "1:1")
            return
        if not shutil.which("iptables"):
            raise EnvironmentProblem("this kernel has no sch_netem, so the lab shapes the link in user space, fed "
                                     "by iptables' NFQUEUE target: apt-get install iptables")
        for chain, flag, port, queue in (("OUTPUT", "-o", "--sport", SHAPER_QUEUES["to browser"]),
                                         ("INPUT", "-i", "--dport", SHAPER_QUEUES["to server"])):
            # The peer's HTTP port passes unshaped (see the module doc); everything else goes to the shaper.
            self._ns(self.server_ns, "iptables", "-A", chain, flag, self.server_if, "-p", "tcp", port, str(APP_PORT),
                     "-j", "ACCEPT")
            # --queue-bypass: if the shaper is gone, packets pass instead of vanishing.
            self._ns(self.server_ns, "iptables", "-A", chain, flag, self.server_if, "-j", "NFQUEUE",
                     "--queue-num", str(queue), "--queue-bypass")
        cmd = [sys.executable, "-m", "harness.reproduce.netlab.shaper", "--latency-ms", f"{shape.latency:g}",
               "--jitter-ms", f"{shape.jitter:g}", "--loss", f"{shape.loss:g}",
               "--rate-kbit", f"{shape.bandwidth or 0:g}"]
        for queue in SHAPER_QUEUES.values():
            cmd += ["--queue", str(queue)]
        proc = subprocess.Popen([*self._enter(self.server_ns), *cmd], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
        REAPER.watch_process(proc.pid)
        self._shaper = proc
        self._shape = shape
        try:
            self._shaper_lines = self._await_ready(proc, cmd, "ready")
        except BaseException:
            self._terminate(proc)
            raise
        self._shaper_drain = self._drains.pop()  # joined when the case ends, to read the shaper's report

    def drop(self) -> None:
        """Take the link down mid-call: every packet of the call's media path in either direction is
        dropped (and counted); the peer's HTTP port stays up (see the module doc)."""
        script = (
            "table inet mediafault_drop {\n"
            f"  chain in {{ type filter hook input priority -10; policy accept; "
            f"iifname \"{self.server_if}\" tcp dport {APP_PORT} accept; iifname \"{self.server_if}\" counter drop; }}\n"
            f"  chain out {{ type filter hook output priority -10; policy accept; "
            f"oifname \"{self.server_if}\" tcp sport {APP_PORT} accept; oifname \"{self.server_if}\" counter drop; }}\n"
            "}\n"
        )
        self._ns(self.server_ns, "nft", "-f", "-", input=script)

    def restore(self) -> None:
        """Bring the link back after :meth:`drop` (idempotent)."""
        self._ns(self.server_ns, "nft", "delete", "table", "inet", "mediafault_drop", check=False)

    def clear(self) -> dict[str, Any]:
        """Remove the case's faults; returns what the shaper did, if one ran."""
        self.restore()
        self._ns(self.server_ns, "nft", "delete", "table", "inet", "mediafault", check=False)
        shaped: dict[str, Any] = {}
        if self._shaper is not None:
            self._terminate(self._shaper)
            if self._shaper_drain is not None:
                self._shaper_drain.join(timeout=5)
                self._shaper_drain = None
            with contextlib.suppress(json.JSONDecodeError, IndexError):
                names = {v: k for k, v in SHAPER_QUEUES.items()}
                for lane in json.loads(self._shaper_lines[-1]):
                    shaped[names.get(lane.pop("queue"), "?")] = lane
            if self._shaper.stdout is not None:
                self._shaper.stdout.close()
            self._shaper = None
            for chain in ("OUTPUT", "INPUT"):
                self._ns(self.server_ns, "iptables", "-F", chain, check=False)
        if self._shape is not None and self.netem:
            for ns, dev in ((self.server_ns, self.server_if), (self.client_ns, self.client_if)):
                self._ns(ns, "tc", "qdisc", "del", "dev", dev, "root", check=False)
        self._shape = None
        return shaped

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
        """coturn's lines since index ``since``, with the credentials removed; first, any note of the lab's start
        (a hung start made again), for every case of the lab."""
        return [self.redact(line) for line in (*self.start_notes, *self.turn_lines[since:])]

    def secrets(self) -> set[str]:
        """Every form the TURN password takes in what a case leaves (plain or URL-encoded)."""
        return {self.creds.password, quote_plus(self.creds.password), quote(self.creds.password)}

    def redact(self, text: str) -> str:
        """``text`` without the TURN password."""
        for form in self.secrets():
            text = text.replace(form, "***")
        return text
