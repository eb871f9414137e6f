"""A virtual X display the harness starts for headed browsers (and WebKitGTK, which has no headless mode).

One Xvfb per process, started on first use with ``-displayfd`` (so parallel workers never race for a
display number) and stopped at exit or by :func:`stop`.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import select
import shutil
import subprocess
import tempfile
import time
from typing import IO

from harness.core.errors import EnvironmentProblem
from harness.core.reaper import REAPER

_state: dict[str, subprocess.Popen[bytes] | str] = {}
START_TIMEOUT = 15.0
LOG = os.path.join(tempfile.gettempdir(), f"mediafault-xvfb-{os.getpid()}.log")


def display() -> str:
    """``:N`` of a running display: ``$DISPLAY`` if set, else the harness's own Xvfb."""
    if os.environ.get("DISPLAY"):
        return os.environ["DISPLAY"]
    proc = _state.get("proc")
    if isinstance(proc, subprocess.Popen) and proc.poll() is None:
        return str(_state["display"])
    if proc is not None:  # it died: say so in the log, start a new one
        _state.pop("proc", None)
    proc, number, read_fd = start_server(LOG)
    _state["pipe"] = str(read_fd)  # kept open for the server's life, so no later write can fail
    _state["proc"] = proc
    _state["display"] = number
    atexit.register(stop)
    return number


def start_server(log_path: str, detached: bool = False) -> tuple[subprocess.Popen[bytes], str, int]:
    """Start an Xvfb in its own session: (process, ``:N``, the read end of its display-number pipe, or -1).

    ``detached``: the server outlives this process (``mediafault grid up``). Xvfb may write its display number
    again later (a fatal "Cannot write display number" once a pipe's reader is gone), so it then writes to a
    file next to the log instead of a pipe; the file is read until the number is there.
    """
    exe = shutil.which("Xvfb")
    if exe is None:
        raise EnvironmentProblem("this case needs a display and Xvfb is not installed: apt-get install xvfb")
    number_file = None
    if detached:
        number_file = open(log_path + ".display", "w+b")  # noqa: SIM115 - closed below, kept by the child
        read_fd, write_fd = -1, number_file.fileno()
    else:
        read_fd, write_fd = os.pipe()
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child; closed when it exits
    # -noreset: by default the server resets when its last client leaves and then writes its display
    # number again; with the pipe's reader gone that write is fatal ("Cannot write display number").
    proc = subprocess.Popen([exe, "-displayfd", str(write_fd), "-noreset", "-screen", "0", "1280x1024x24",
                             "-nolisten", "tcp"],
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    if not detached:
        REAPER.watch_process(proc.pid)  # removed even if this process is killed while it starts
    log.close()
    if number_file is not None:
        number = _read_number_file(number_file, proc)
        number_file.close()
    else:
        os.close(write_fd)
        ready, _, _ = select.select([read_fd], [], [], START_TIMEOUT)
        number = os.read(read_fd, 16).decode().strip() if ready else ""
    if not number:
        if read_fd >= 0:
            os.close(read_fd)
        proc.kill()
        proc.wait()
        REAPER.forget_process(proc.pid)
        raise EnvironmentProblem(f"Xvfb did not report a display within {START_TIMEOUT:g}s (log: {log_path})")
    return proc, f":{number}", read_fd


def _read_number_file(number_file: IO[bytes], proc: subprocess.Popen[bytes]) -> str:
    """The display number Xvfb wrote to ``number_file`` (a line), '' if it exited or took too long."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        number_file.seek(0)
        text = number_file.read().decode(errors="replace")
        if text.endswith("\n"):
            return text.strip()
        time.sleep(0.02)  # a regular file has no readiness event to wait on
    return ""


def stop() -> None:
    """Stop the harness's Xvfb if it started one (idempotent)."""
    proc = _state.pop("proc", None)
    _state.pop("display", None)
    pipe = _state.pop("pipe", None)
    if isinstance(pipe, str):
        with contextlib.suppress(OSError):
            os.close(int(pipe))
    if isinstance(proc, subprocess.Popen):
        REAPER.forget_process(proc.pid)
    if isinstance(proc, subprocess.Popen) and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
