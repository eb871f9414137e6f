"""This process's descendants, read from /proc: which processes a browser launch started, so a hung
browser can be killed by PID without touching anything the harness did not start."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any


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
    return _below(os.getpid() if root is None else root, _parents())


def _below(root: int, parents: dict[int, int]) -> set[int]:
    """Every process below ``root`` in the process → parent map ``parents``."""
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
    parents = _parents()  # one reading of /proc for this process's tree and the lanes' below it
    apart: set[int] = set()
    for pid in list(_apart):
        apart |= _below(pid, parents)
    return {pid for pid in _below(mine, parents) - before - apart if parents.get(pid) != mine}


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


# The signals that interrupted this process (see stop_on_signals).
_signalled: list[int] = []


def stop_on_signals(pass_on: bool = False) -> None:
    """Make SIGTERM (a CI timeout, a job runner's cancel) stop this process as Ctrl-C does, so its cleanup runs
    (Python's default would exit with none at all), and remember either signal (see :func:`interrupted`).
    Handlers set by others are kept.

    ``pass_on``: SIGTERM is first sent on to this process's children. An xdist controller needs it: its workers
    hold the browsers and labs, and a signal sent to the controller alone (a job runner's cancel) would leave
    them to be killed with no cleanup when the controller gives up on them. A terminal's Ctrl-C reaches every
    process of the group; this makes SIGTERM to one process behave the same."""
    if threading.current_thread() is not threading.main_thread():
        return  # only the main thread may set a handler

    def interrupt(signum: int, frame: object) -> None:
        _signalled.append(signum)
        if pass_on and signum == signal.SIGTERM:
            for child in children():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(child, signal.SIGTERM)
        raise KeyboardInterrupt(f"signal {signum}")

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, interrupt)
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        signal.signal(signal.SIGINT, interrupt)
    previous = sys.unraisablehook

    def unraisable(info: Any) -> None:
        # An interrupt that lands in a garbage-collection callback cannot be raised: Python prints it as
        # "Exception ignored in ..." with a traceback and goes on. It is remembered above, and the run stops
        # at the next case, so the traceback would only alarm the user.
        if not (issubclass(info.exc_type, KeyboardInterrupt) and _signalled):
            previous(info)

    if getattr(previous, "__name__", "") != "unraisable":
        sys.unraisablehook = unraisable


def interrupted() -> bool:
    """Whether SIGINT or SIGTERM reached this process since :func:`stop_on_signals`. Its KeyboardInterrupt can be
    lost: Python ignores one raised in a garbage-collection callback, and a Playwright call it broke off just
    fails (the terminal's Ctrl-C kills Playwright's driver too), so the run would go on case after case; a
    loop over cases asks this between them."""
    return bool(_signalled)
