"""The pytest face: a thin plugin (plugin) that wires options, markers and the end-of-run matrix;
collection of scenario files into items (collect); the per-run state behind it (session); and xdist
scheduling by browser launch (scheduling). Only wiring lives here.

May use: every wing below the two faces. Must not know: the command line."""

from __future__ import annotations
