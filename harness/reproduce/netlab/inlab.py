"""Start a browser inside the lab's client namespace, and bridge its automation port back out.

Playwright drives Chromium over a pipe, which crosses namespaces; a plain ``exec <enter> chromium`` is
enough there. Firefox is driven over WebDriver BiDi, a WebSocket on a TCP port Firefox opens on *its*
loopback, inside the namespace, where Playwright cannot reach it. So this runs in two halves joined by a
Unix socket (a file, which both namespaces see):

* the inner half runs inside the namespace with Firefox as its child; when Firefox prints
  ``WebDriver BiDi listening on ws://127.0.0.1:PORT`` it serves the Unix socket, forwarding to PORT;
* the outer half, started by Playwright, starts the inner one through the lab's enter command, opens a
  port on the harness's loopback that forwards to the Unix socket, and passes the line on with that
  port, so Playwright connects as if Firefox were local.

Only the automation channel crosses; the browser's own traffic still sees nothing but the lab's link.
The same code serves root labs (``ip netns exec``) and rootless ones (``nsenter`` into a user namespace).

The same halves carry an app named by ``app.url`` into the lab: with ``--forward ADDR:PORT`` this runs
inside the client namespace, listens on that address of the namespace's own loopback and joins each
connection to the Unix socket, where the harness (:meth:`NetLab.forward_app`) connects it to the real
server on the host's loopback. Only that one address and port is served, and the bytes pass unchanged
(http, TLS, websockets alike), so the browser sees the app at its own origin.

Run: ``python -m harness.reproduce.netlab.inlab --socket PATH --enter "ENTER COMMAND" -- BROWSER ARGS…``,
or ``python -m harness.reproduce.netlab.inlab --socket PATH --forward ADDR:PORT`` (prints ``ready``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import BinaryIO

BIDI = re.compile(rb"WebDriver BiDi listening on ws://127\.0\.0\.1:(\d+)")


def _pump(src: socket.socket, dst: socket.socket, first: tuple[bytes, bytes] | None = None) -> None:
    """Copy bytes until either side closes; ``first`` replaces text in the first chunk only."""
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            if first is not None:
                data, first = data.replace(*first, 1), None
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def _join(outer: socket.socket, inner: socket.socket, first: tuple[bytes, bytes] | None) -> None:
    """Copy both ways until both directions have ended, then close both connections."""
    back = threading.Thread(target=_pump, args=(inner, outer), daemon=True)
    back.start()
    _pump(outer, inner, first)
    back.join()
    outer.close()
    inner.close()


def _serve(listener: socket.socket, connect: Callable[[], socket.socket],
           first: tuple[bytes, bytes] | None = None) -> None:
    """Accept until ``listener`` is closed; join each connection to a new one from ``connect``."""
    def accept() -> None:
        while True:
            try:
                outer, _ = listener.accept()
            except OSError:
                return  # closed: the lab is stopping
            try:
                inner = connect()
            except OSError:
                outer.close()
                continue
            threading.Thread(target=_join, args=(outer, inner, first), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()


def _relay(src: BinaryIO, dst: BinaryIO, on_bidi: Callable[[int], bytes | None]) -> None:
    """Copy a child's output line by line; ``on_bidi`` may rewrite the BiDi line (given its port)."""
    for line in iter(src.readline, b""):
        match = BIDI.search(line)
        out = line
        if match:
            port = on_bidi(int(match.group(1)))
            if port is not None:
                out = line[:match.start(1)] + port + line[match.end(1):]
        dst.write(out)
        dst.flush()


def _run(command: list[str], on_bidi: Callable[[int], bytes | None]) -> int:
    """Run ``command``, relaying its output through ``on_bidi``, until it exits; signals are passed on."""
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda s, _f: proc.send_signal(s))
    assert proc.stdout is not None and proc.stderr is not None
    pumps = [threading.Thread(target=_relay, args=(proc.stdout, sys.stdout.buffer, on_bidi), daemon=True),
             threading.Thread(target=_relay, args=(proc.stderr, sys.stderr.buffer, on_bidi), daemon=True)]
    for pump in pumps:
        pump.start()
    code = proc.wait()
    for pump in pumps:
        pump.join(timeout=5)
    return code


def inner(socket_path: str, command: list[str]) -> int:
    """Inside the namespace: run the browser; serve ``socket_path`` → its BiDi port once it has one."""
    def on_bidi(port: int) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(socket_path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(socket_path)
        listener.listen(8)
        # Serving before the line is passed on: the outer half connects only after it sees the line.
        _serve(listener, tcp_connector(port, "127.0.0.1"))

    return _run(command, on_bidi)


def outer(socket_path: str, enter: list[str], command: list[str]) -> int:
    """Outside: start the inner half in the namespace; give Playwright a loopback port for the browser."""
    connect = unix_connector(socket_path)

    def on_bidi(inner_port: int) -> bytes:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port: int = listener.getsockname()[1]
        # Firefox refuses a WebSocket upgrade whose Host header names another port than its own.
        host = (f"Host: 127.0.0.1:{port}".encode(), f"Host: 127.0.0.1:{inner_port}".encode())
        _serve(listener, connect, host)
        return str(port).encode()

    return _run([*enter, sys.executable, "-m", "harness.reproduce.netlab.inlab", "--inner", "--socket", socket_path,
                 "--",
                 *command], on_bidi)


def unix_connector(socket_path: str) -> Callable[[], socket.socket]:
    """A ``connect`` for :func:`_serve` that opens a new connection to the Unix socket ``socket_path``."""
    def connect() -> socket.socket:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.connect(socket_path)
        return conn

    return connect


def tcp_connector(port: int, *hosts: str) -> Callable[[], socket.socket]:
    """A ``connect`` for :func:`_serve` that opens a new TCP connection to ``port`` on the first of ``hosts``
    that answers (raising the last host's error when none does)."""
    def connect() -> socket.socket:
        error = OSError(f"no host to connect to for port {port}")
        for host in hosts:
            try:
                conn = socket.create_connection((host, port), timeout=10)
            except OSError as exc:
                error = exc
                continue
            conn.settimeout(None)  # the timeout was for connecting; a session, keep-alive or websocket idles long
            return conn
        raise error

    return connect


def serve(listener: socket.socket, connect: Callable[[], socket.socket]) -> None:
    """Relay every connection to ``listener`` to a new one from ``connect``, byte for byte, until it closes."""
    _serve(listener, connect)


def forward(socket_path: str, address: str, port: int) -> int:
    """Inside the client namespace: serve ``address:port`` (that one only), each connection relayed to the
    Unix socket, until terminated."""
    stop = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop)  # before any thread starts, so sigwait gets them all
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((address, port))
    listener.listen(64)
    _serve(listener, unix_connector(socket_path))
    print("ready", flush=True)
    signal.sigwait(stop)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line entry."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--socket", required=True, help="Unix socket path joining the two halves")
    ap.add_argument("--enter", default="", help="command prefix that enters the namespace (outer half)")
    ap.add_argument("--inner", action="store_true", help="run as the inner half (inside the namespace)")
    ap.add_argument("--forward", metavar="ADDR:PORT", help="relay this address of the namespace to the socket")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="-- BROWSER ARGS…")
    args = ap.parse_args(argv)
    if args.forward:
        address, _, port = args.forward.rpartition(":")
        return forward(args.socket, address, int(port))
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        ap.error("give the browser to run after --")
    if args.inner:
        return inner(args.socket, command)
    return outer(args.socket, shlex.split(args.enter), command)


if __name__ == "__main__":
    sys.exit(main())
