"""What every wing may use: exceptions that carry a source position (errors), where the bundled app,
catalogue and npm manifests are (resources), and the processes this harness started with the reaper that
cleans them up (procs, reaper).

May use: the standard library only. Must not know: scenarios, browsers, pytest or reports."""

from __future__ import annotations
