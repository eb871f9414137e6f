"""Clean up after a harness process that dies without cleaning up (SIGKILL, the OOM killer, a crashed
xdist worker).

Each process that starts long-lived things (a virtual display, a WebDriver server, the network lab's
servers and namespaces) also starts one small reaper, in a session of its own, joined to it by a pipe.
The owner tells the reaper what it started and what it stopped again; the pipe reaches end-of-file
only when the owner is gone, however it went. The reaper then removes whatever is still registered:
process trees (checked by start time, so a reused PID is never hit), named network namespaces and
directories. An owner that cleaned up normally has nothing left registered, and its reaper just exits.

Run as ``python -m harness.core.reaper --owner PID``; it reads ``+kind value`` / ``-kind value`` lines on stdin.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from harness.core import procs

GRACE = 3.0  # seconds a process gets after SIGTERM before SIGKILL


def start_time(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), or None when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


class Reaper:
    """This process's reaper (started on first use)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None
        self._owner = 0
        self._lock = threading.Lock()

    def _send(self, line: str) -> None:
        with self._lock:
            if self._proc is None or self._owner != os.getpid():
                if line.startswith("-"):
                    return  # nothing of this process's is registered, so there is nothing to forget
                # Not inherited by later children (Python's pipes are close-on-exec), so only this
                # process's death closes it. The owner's PID is on the command line for people reading 'ps'.
                self._proc = subprocess.Popen([sys.executable, "-m", "harness.core.reaper",
                                               "--owner", str(os.getpid())],
                                              stdin=subprocess.PIPE,
                                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True,
                                              start_new_session=True)
                self._owner = os.getpid()
            assert self._proc.stdin is not None
            with contextlib.suppress(BrokenPipeError, ValueError):
                self._proc.stdin.write(line + "\n")
                self._proc.stdin.flush()

    def watch_process(self, pid: int) -> None:
        """Remove the process tree under ``pid`` if this process dies first."""
        self._send(f"+pid {pid}:{start_time(pid)}")

    def forget_process(self, pid: int) -> None:
        """``pid`` was stopped normally."""
        self._send(f"-pid {pid}")

    def watch_netns(self, name: str) -> None:
        """Delete named network namespace ``name`` (and what runs in it) if this process dies first."""
        self._send(f"+netns {name}")

    def forget_netns(self, name: str) -> None:
        """``name`` was deleted normally."""
        self._send(f"-netns {name}")

    def watch_dir(self, path: Path) -> None:
        """Remove ``path`` if this process dies first."""
        self._send(f"+dir {path}")

    def forget_dir(self, path: Path) -> None:
        """``path`` was removed normally."""
        self._send(f"-dir {path}")


REAPER = Reaper()


def _kill_trees(pids: dict[int, str]) -> None:
    alive = {pid for pid, started in pids.items() if started != "None" and start_time(pid) == started}
    targets = set(alive)
    for pid in alive:
        targets |= procs.descendants(pid)  # taken before anything dies, while the trees are intact
    # Signalled through pidfds: a process that exits meanwhile cannot have its PID reused under us.
    handles: dict[int, int] = {}
    for pid in targets:
        with contextlib.suppress(OSError):
            handles[pid] = os.pidfd_open(pid)  # readable once the process has exited
    for fd in handles.values():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            signal.pidfd_send_signal(fd, signal.SIGTERM)
    deadline = time.monotonic() + GRACE
    waiting = set(handles.values())
    while waiting and time.monotonic() < deadline:
        done, _, _ = select.select(list(waiting), [], [], deadline - time.monotonic())
        waiting -= set(done)
    for fd in waiting:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            signal.pidfd_send_signal(fd, signal.SIGKILL)
    for fd in handles.values():
        os.close(fd)


def _delete_netns(name: str) -> None:
    listed = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True, check=False)
    for pid in listed.stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError, PermissionError):
            os.kill(int(pid), signal.SIGKILL)
    subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def main() -> int:
    """Collect registrations until the owner is gone, then remove what is left."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C meant for the run must not stop the cleanup
    pids: dict[int, str] = {}
    netns: set[str] = set()
    dirs: set[str] = set()
    for line in sys.stdin:
        op, _, rest = line.rstrip("\n").partition(" ")
        if op == "+pid":
            pid, _, started = rest.partition(":")
            pids[int(pid)] = started
        elif op == "-pid":
            pids.pop(int(rest), None)
        elif op == "+netns":
            netns.add(rest)
        elif op == "-netns":
            netns.discard(rest)
        elif op == "+dir":
            dirs.add(rest)
        elif op == "-dir":
            dirs.discard(rest)
    _kill_trees(pids)
    for name in netns:
        _delete_netns(name)
    for path in dirs:
        shutil.rmtree(path, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
