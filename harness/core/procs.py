"""This process's descendants, read from /proc: which processes a browser launch started, so a hung
browser can be killed by PID without touching anything the harness did not start."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from pathlib import Path


def _parents() -> dict[int, int]:
    """Every visible process → its parent."""
    out: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            # The command name may hold spaces and parentheses; the fields after the last ')' do not.
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            out[int(entry.name)] = int(stat[1])
    return out


def children(parent: int | None = None) -> set[int]:
    """The direct children of ``parent`` (default: this process)."""
    parent = os.getpid() if parent is None else parent
    return {pid for pid, up in _parents().items() if up == parent}


def descendants(root: int | None = None) -> set[int]:
    """Every process below ``root`` (default: this process)."""
    root = os.getpid() if root is None else root
    parents = _parents()
    found: set[int] = set()
    frontier = {root}
    while frontier:
        children = {pid for pid, parent in parents.items() if parent in frontier and pid not in found}
        found |= children
        frontier = children
    return found


# Children whose process trees are their own business (a lane of a batch, with its own browsers): whatever
# starts below them during a launch here is not that launch's.
_apart: set[int] = set()


def keep_apart(pid: int) -> None:
    """Never count what runs below child ``pid`` as started by a launch of this process."""
    _apart.add(pid)


def rejoin(pid: int) -> None:
    """``pid`` has ended (undoes :func:`keep_apart`)."""
    _apart.discard(pid)


def started_by(before: set[int]) -> set[int]:
    """Processes below this one that were not there in ``before``, except its direct children and the trees
    of children kept apart (:func:`keep_apart`).

    Direct children are shared services (the Playwright driver, a WebDriver server, Xvfb); what a launch
    adds below them is the browser.
    """
    mine = os.getpid()
    parents = _parents()
    apart: set[int] = set()
    for pid in list(_apart):
        apart |= descendants(pid)
    return {pid for pid in descendants() - before - apart if parents.get(pid) != mine}


def kill_tree(pids: set[int]) -> int:
    """SIGKILL ``pids`` and everything below them that is still ours; returns how many were signalled."""
    ours = descendants()
    targets = {p for p in pids if p in ours}
    for pid in list(targets):
        targets |= descendants(pid) & ours
    for pid in targets:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    return len(targets)


def interrupt_on_sigterm() -> None:
    """Make SIGTERM (a CI timeout, a job runner's cancel) stop this process as Ctrl-C does, so its cleanup runs:
    Python's default would exit with none at all. A handler already set (pytest's plugin) is kept."""
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread may set a handler
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
