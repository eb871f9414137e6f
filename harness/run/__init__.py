"""Running a case: scenario × engine → a plan (plan); where the app is and the page a case opens (target);
the browsers kept for later cases (pool); the plan in a real browser (runner, with the in-page observer
and shim in js/); what the app showed (observation); expected vs observed (judge); where steps and
evidence go (recorder); many cases without pytest (batch).

May use: harness.reproduce, harness.app, harness.scenario, harness.core. Must not know: pytest, Allure or
how results are reported."""

from __future__ import annotations

import argparse
import os

# How many cases ``variants`` and ``conformance`` run at a time by default (``run``: its network cases). Their
# cases mostly wait (on a broken app's ``within``, an SDK, a browser's ICE timer: one broken variant's 43 Chromium cases
# took 225 s with 27 s of CPU), so the limit is how many browsers wait at once, not the cores. Measured on the
# 2-core reference machine, 1 lane -> 3: that variant 225 s -> 87 s, a page variant 94 s -> 38 s, the ACS
# SDK's conformance on 3 engines 152 s -> 65 s, a page variant on WebKit 66 s -> 25 s.
LANES = 3
MAX_LANES = 8  # more would only share the same cores and memory
# What the lanes' default is, in words for --help (see spare_lanes).
LANES_DEFAULT = f"{LANES} when the other workers leave a core, else 1"


def lane_count(text: str) -> int:
    """``text`` as a number of lanes, a whole number from 1 to :data:`MAX_LANES` (an option's type: what is
    wrong is an ArgumentTypeError, which argparse shows as it is)."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_LANES:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of lanes from 1 to {MAX_LANES}")
    return n


def spare_lanes(workers: int) -> int:
    """The lanes a pytest run gives its network cases by default: :data:`LANES` when the run's other workers
    leave a core for the worker that runs them, else 1. A network case mostly waits on a browser's ICE timer or
    a shaped link: measured on the 2-core reference machine with ``-n 2``, the whole catalogue kept 0.6 of its
    cores busy with one lane, and 1.6 with three (103-141 s over 20 repetitions instead of 158-166 s)."""
    return LANES if workers <= (os.cpu_count() or 1) else 1
