"""A virtual X display the harness starts for headed browsers (and WebKitGTK, which has no headless mode).

One Xvfb per process, started on first use with ``-displayfd`` (so parallel workers never race for a
display number) and stopped at exit or by :func:`stop`.
"""

from __future__ import annotations

import atexit
import os
import select
import shutil
import subprocess

from harness.errors import EnvironmentProblem

_state: dict[str, subprocess.Popen[bytes] | str] = {}
START_TIMEOUT = 15.0


def display() -> str:
    """``:N`` of a running display: ``$DISPLAY`` if set, else the harness's own Xvfb."""
    if os.environ.get("DISPLAY"):
        return os.environ["DISPLAY"]
    if "display" in _state:
        return str(_state["display"])
    exe = shutil.which("Xvfb")
    if exe is None:
        raise EnvironmentProblem("this case needs a display and Xvfb is not installed: apt-get install xvfb")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen([exe, "-displayfd", str(write_fd), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
                            pass_fds=(write_fd,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    os.close(write_fd)
    try:
        ready, _, _ = select.select([read_fd], [], [], START_TIMEOUT)
        number = os.read(read_fd, 16).decode().strip() if ready else ""
    finally:
        os.close(read_fd)
    if not number:
        proc.kill()
        err = proc.stderr.read().decode(errors="replace")[-300:] if proc.stderr else ""
        raise EnvironmentProblem(f"Xvfb did not report a display within {START_TIMEOUT:g}s: {err.strip()}")
    _state["proc"] = proc
    _state["display"] = f":{number}"
    atexit.register(stop)
    return f":{number}"


def stop() -> None:
    """Stop the harness's Xvfb if it started one (idempotent)."""
    proc = _state.pop("proc", None)
    _state.pop("display", None)
    if isinstance(proc, subprocess.Popen) and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
