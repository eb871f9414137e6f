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

from harness.errors import EnvironmentProblem

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
    exe = shutil.which("Xvfb")
    if exe is None:
        raise EnvironmentProblem("this case needs a display and Xvfb is not installed: apt-get install xvfb")
    read_fd, write_fd = os.pipe()
    log = open(LOG, "ab")  # noqa: SIM115 - handed to the child; closed when it exits
    # -noreset: by default the server resets when its last client leaves and then writes its display
    # number again; with the pipe's reader gone that write is fatal ("Cannot write display number").
    proc = subprocess.Popen([exe, "-displayfd", str(write_fd), "-noreset", "-screen", "0", "1280x1024x24",
                             "-nolisten", "tcp"],
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)
    log.close()
    os.close(write_fd)
    ready, _, _ = select.select([read_fd], [], [], START_TIMEOUT)
    number = os.read(read_fd, 16).decode().strip() if ready else ""
    _state["pipe"] = str(read_fd)  # kept open for the server's life, so no later write can fail
    if not number:
        os.close(read_fd)
        _state.pop("pipe", None)
        proc.kill()
        raise EnvironmentProblem(f"Xvfb did not report a display within {START_TIMEOUT:g}s (log: {LOG})")
    _state["proc"] = proc
    _state["display"] = f":{number}"
    atexit.register(stop)
    return f":{number}"


def stop() -> None:
    """Stop the harness's Xvfb if it started one (idempotent)."""
    proc = _state.pop("proc", None)
    _state.pop("display", None)
    pipe = _state.pop("pipe", None)
    if isinstance(pipe, str):
        with contextlib.suppress(OSError):
            os.close(int(pipe))
    if isinstance(proc, subprocess.Popen) and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
