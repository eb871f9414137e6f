"""Fake microphone sounds (silence, a 440 Hz tone) as WAV files, generated once into a cache directory.

They are generated rather than shipped so the repository stays small, and written to a stable path so
cases on every worker share one browser launch configuration.
"""

from __future__ import annotations

import math
import os
import struct
import tempfile
import wave
from pathlib import Path

RATE = 48_000
TONE_HZ = 440  # the "tone" microphone's frequency, on every engine that can play one
SECONDS = 5  # Chromium loops the file, so the length only needs to cover one level check


def cache_dir() -> Path:
    """Where generated media live (``$XDG_CACHE_HOME/mediafault`` or ``~/.cache/mediafault``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mediafault" / "media"


def _samples(kind: str) -> bytes:
    if kind == "silent":
        return b"\x00\x00" * RATE * SECONDS
    amplitude = 0.5 * 32767
    return b"".join(struct.pack("<h", int(amplitude * math.sin(2 * math.pi * TONE_HZ * n / RATE)))
                    for n in range(RATE * SECONDS))


def media_file(kind: str) -> str:
    """Absolute path of the ``silent`` or ``tone`` WAV, written atomically on first use."""
    path = cache_dir() / f"{kind}-{RATE}hz-{SECONDS}s.wav"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".wav")
        os.close(fd)
        with wave.open(tmp, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            out.writeframes(_samples(kind))
        os.replace(tmp, path)  # atomic: parallel workers never see half a file
    return str(path)
