"""The scenario × engine matrix printed at the end of a run (and written to reports/)."""

from __future__ import annotations

from dataclasses import dataclass

from harness.model import ENGINES

SYMBOL = {"passed": "pass", "failed": "FAIL", "skipped": "skip", "broken": "BROKEN", "error": "ERROR"}


@dataclass(frozen=True)
class Cell:
    """One case's result for the matrix."""

    scenario: str
    engine: str
    status: str  # passed | failed | skipped | broken
    expected: str = ""  # expected code (or state)
    surfaced: str = ""  # what the app showed
    fidelity: str = ""
    route: str = ""


def surface_map(cells: list[Cell]) -> str:
    """The error-surface map as Markdown: per scenario and engine, the code expected and the one surfaced."""
    engines = [e for e in ENGINES if any(c.engine == e for c in cells)]
    by = {(c.scenario, c.engine): c for c in cells}
    lines = ["# Error-surface map", "", "Expected code (or state) → what the app surfaced, per engine. "
             "`emulated`: the condition was reproduced by a page shim; `skip`: the engine cannot reproduce it.",
             "", "| scenario | " + " | ".join(engines) + " |", "|---|" + "---|" * len(engines)]
    for scenario in dict.fromkeys(c.scenario for c in cells):
        row = []
        for engine in engines:
            c = by.get((scenario, engine))
            if c is None:
                row.append("")
            elif c.status == "skipped":
                row.append("skip")
            else:
                mark = {"passed": "✅", "failed": "❌", "broken": "⚠️ broken"}.get(c.status, c.status)
                text = f"{mark} `{c.expected or '—'}` → `{c.surfaced or 'nothing'}`"
                row.append(text + (" (emulated)" if c.fidelity == "emulated" else ""))
        lines.append(f"| {scenario} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def render(cells: list[Cell]) -> str:
    """A text table: one row per scenario, one column per engine that appears."""
    if not cells:
        return "no cases ran"
    engines = [e for e in ENGINES if any(c.engine == e for c in cells)]
    scenarios = list(dict.fromkeys(c.scenario for c in cells))
    by = {(c.scenario, c.engine): c for c in cells}

    def cell_text(c: Cell | None) -> str:
        if c is None:
            return "-"
        text = SYMBOL.get(c.status, c.status)
        if c.status in ("failed", "broken") and (c.expected or c.surfaced):
            text += f" {c.expected or '?'}→{c.surfaced or 'nothing'}"
        elif c.status == "passed" and c.fidelity == "emulated":
            text += " (emulated)"
        return text

    rows = [["scenario", *engines]] + [[s, *(cell_text(by.get((s, e))) for e in engines)] for s in scenarios]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    totals: dict[str, int] = {}
    for c in cells:
        totals[c.status] = totals.get(c.status, 0) + 1
    lines.append("")
    lines.append(", ".join(f"{n} {s}" for s, n in sorted(totals.items())))
    return "\n".join(lines)
