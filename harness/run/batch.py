"""Run many cases without pytest (for ``mediafault variants`` and tools built on the harness)."""

from __future__ import annotations

from dataclasses import dataclass

from harness.app.config import Surface
from harness.app.profiles import Profile
from harness.core.errors import MediafaultError
from harness.run.plan import CasePlan, plan_case
from harness.run.pool import BrowserPool
from harness.run.recorder import NullRecorder
from harness.run.runner import CaseResult, run_case
from harness.run.target import AppTarget
from harness.scenario.loader import SourcedScenario


@dataclass
class CaseOutcome:
    """How one case ended."""

    plan: CasePlan
    status: str  # passed | failed | skipped | broken
    detail: str = ""
    result: CaseResult | None = None


def run_batch(scenarios: list[SourcedScenario], engines: list[str], target: AppTarget, surface: Surface,
              profile: Profile, pool: BrowserPool) -> list[CaseOutcome]:
    """Every scenario on every engine it names (and that is asked for), one after the other."""
    # Planned with the app's URL: what cannot be reproduced for it (plain http for an https app) is skipped.
    plans = [plan_case(s, e, profile, app_url=target.fixed_url, app_host=target.host) for s in scenarios
             for e in s.scenario.engines if e in engines]
    plans.sort(key=lambda p: p.launch.key if p.launch else "~")  # one launch per configuration
    out = []
    for plan in plans:
        if plan.skip_reason:
            out.append(CaseOutcome(plan, "skipped", plan.skip_reason))
            continue
        try:
            result = run_case(plan, pool, target, surface, NullRecorder())
        except MediafaultError as exc:
            out.append(CaseOutcome(plan, "broken", str(exc)))
            continue
        verdict = result.verdict
        out.append(CaseOutcome(plan, "passed" if verdict.passed else "failed", verdict.category or "", result))
    return out
