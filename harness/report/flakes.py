"""The soak report: the same cases run N times, read back from each repetition's JUnit XML; a case whose
outcome changes between repetitions is flaky."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path


def read_junit(path: Path) -> dict[str, str]:
    """``{case id: passed | failed | broken | skipped}`` from one JUnit XML file."""
    out: dict[str, str] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname', '')}::{case.get('name', '')}"
        failure = case.find("failure")
        if failure is not None:
            # The plugin words harness and environment problems "could not run"; those are broken.
            out[name] = "broken" if "could not run" in (failure.get("message") or "") else "failed"
        elif case.find("error") is not None:
            out[name] = "broken"
        elif case.find("skipped") is not None:
            out[name] = "skipped"
        else:
            out[name] = "passed"
    return out


@dataclass
class Soak:
    """Outcomes of every case over the repetitions."""

    runs: list[dict[str, str]] = field(default_factory=list)

    def outcomes(self) -> dict[str, Counter[str]]:
        """Case → how often each outcome happened."""
        out: dict[str, Counter[str]] = {}
        for run in self.runs:
            for case, outcome in run.items():
                out.setdefault(case, Counter())[outcome] += 1
        return out

    def flaky(self) -> dict[str, Counter[str]]:
        """Cases with more than one outcome (skips are stable by design, so a skip/pass mix is flaky too)."""
        return {case: c for case, c in self.outcomes().items() if len(c) > 1}

    def always_failing(self) -> list[str]:
        """Cases that failed or broke in every repetition: a real problem, not a flake."""
        return [case for case, c in self.outcomes().items() if len(c) == 1 and set(c) <= {"failed", "broken"}]

    def markdown(self) -> str:
        """The report for people: a summary line and a table of the flaky cases."""
        outcomes, flaky = self.outcomes(), self.flaky()
        lines = [f"# Soak: {len(self.runs)} repetitions of {len(outcomes)} cases", "",
                 f"{len(flaky)} flaky, {len(self.always_failing())} failing every time, "
                 f"{sum(1 for c in outcomes.values() if set(c) == {'passed'})} passing every time, "
                 f"{sum(1 for c in outcomes.values() if set(c) == {'skipped'})} skipped every time.", ""]
        if flaky:
            lines += ["| case | outcomes |", "|---|---|"]
            for case, counts in sorted(flaky.items()):
                shown = ", ".join(f"{n}× {outcome}" for outcome, n in counts.most_common())
                lines.append(f"| {case.split('::', 1)[-1]} | {shown} |")
        for case in self.always_failing():
            lines.append(f"- failing every time: {case.split('::', 1)[-1]}")
        return "\n".join(lines) + "\n"
