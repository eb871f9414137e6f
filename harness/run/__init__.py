"""Running a case: scenario × engine → a plan (plan); where the app is and the page a case opens (target);
the browsers kept for later cases (pool); the plan in a real browser (runner, with the in-page observer
and shim in js/); what the app showed (observation); expected vs observed (judge); where steps and
evidence go (recorder); many cases without pytest (batch).

May use: harness.reproduce, harness.app, harness.scenario, harness.core. Must not know: pytest, Allure or
how results are reported."""

from __future__ import annotations
