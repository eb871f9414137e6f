"""Reproducing conditions for real: which mechanism reproduces each ``given`` value on each engine and
how faithfully (conditions; the prose of the conditions guide is in guide), the fake microphone sounds
(media), the routes that launch and drive browsers (engines), the virtual display (xvfb) and the network
lab (netlab).

May use: harness.app, harness.scenario, harness.core. Must not know: plans, verdicts, pytest or reports."""

from __future__ import annotations
