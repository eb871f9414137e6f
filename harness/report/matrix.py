"""The scenario × engine matrix printed at the end of a run (and written to reports/)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from harness.scenario.model import ENGINES

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
    failed_checks: str = ""  # the judge's failing checks, comma-separated ("code", "message", "alert region", …)
    broken: str = ""  # why a broken case could not run, in a few words


# What a failing check is called in a matrix cell (the judge's names are made for its table).
CHECK_WORDS = {"alert region": "alert", "within": "too late", "no error": "unexpected error"}


def _grid(cells: list[Cell]) -> tuple[list[str], list[tuple[str, list[Cell | None]]]]:
    """The engines that appear, and per scenario (in first-seen order) its cell on each of them (or None)."""
    engines = [e for e in ENGINES if any(c.engine == e for c in cells)]
    by = {(c.scenario, c.engine): c for c in cells}
    return engines, [(scenario, [by.get((scenario, e)) for e in engines])
                     for scenario in dict.fromkeys(c.scenario for c in cells)]


def _totals(cells: list[Cell]) -> str:
    """``73 passed, 17 skipped``."""
    totals = Counter(c.status for c in cells)
    return ", ".join(f"{n} {s}" for s, n in sorted(totals.items()))


def surface_map(cells: list[Cell]) -> str:
    """The error-surface map as Markdown: per scenario and engine, the code expected and the one surfaced."""
    engines, grid = _grid(cells)
    lines = ["# Error-surface map", "", "Expected code (or state) → what the app surfaced, per engine. "
             "`emulated`: the condition was reproduced by a page shim; `skip`: the engine cannot reproduce it.",
             "", "| scenario | " + " | ".join(engines) + " |", "|---|" + "---|" * len(engines)]
    for scenario, row_cells in grid:
        row = []
        for c in row_cells:
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


_HTML_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 1.5em; color: #1f2328; }
table { border-collapse: collapse; } th, td { border: 1px solid #d0d7de; padding: .4em .7em; text-align: left; }
th { background: #f6f8fa; } td.passed { background: #dafbe1; } td.failed { background: #ffd8d3; }
td.broken { background: #fff1c2; } td.skipped { color: #656d76; background: #f6f8fa; }
code { font: 12px ui-monospace, monospace; } .status { font-weight: 600; margin-right: .3em; }
.totals { margin-top: .8em; color: #656d76; }
"""


def surface_map_html(cells: list[Cell]) -> str:
    """The error-surface map as a standalone HTML page (for the HTML report and for people without Markdown)."""
    from html import escape

    engines, grid = _grid(cells)
    head = "".join(f"<th>{escape(e)}</th>" for e in engines)
    rows = []
    for scenario, row_cells in grid:
        tds = []
        for c in row_cells:
            if c is None:
                tds.append("<td></td>")
            elif c.status == "skipped":
                tds.append('<td class="skipped">skip</td>')
            else:
                word = SYMBOL.get(c.status, c.status)
                detail = (f"<code>{escape(c.expected or '—')}</code> → <code>{escape(c.surfaced or 'nothing')}</code>"
                          + (" (emulated)" if c.fidelity == "emulated" else ""))
                tds.append(f'<td class="{escape(c.status)}"><span class="status">{escape(word)}</span>{detail}</td>')
        rows.append(f"<tr><th>{escape(scenario)}</th>{''.join(tds)}</tr>")
    summary = _totals(cells)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Error-surface map</title>'
        f"<style>{_HTML_STYLE}</style></head><body>\n<h1>Error-surface map</h1>\n"
        "<p>Per scenario and engine: the code (or state) the scenario expects → what the app surfaced. "
        "<em>emulated</em>: a page shim reproduced the condition; <em>skip</em>: the engine cannot reproduce "
        "it here.</p>\n"
        f"<table><thead><tr><th>scenario</th>{head}</tr></thead><tbody>\n" + "\n".join(rows)
        + f"\n</tbody></table>\n<p class=\"totals\">{escape(summary)}</p>\n</body></html>\n"
    )


def failure_words(cell: Cell) -> str:
    """What failed, by check: ``code a→b``, ``message``, ``alert``, ``code a→b, message``. Codes are shown only
    when the code check failed, so a right code with a wrong message does not read like a code problem."""
    words = []
    for check in cell.failed_checks.split(","):
        if check == "code":
            words.append(f"code {cell.expected or '?'}→{cell.surfaced or 'nothing'}")
        elif check:
            words.append(CHECK_WORDS.get(check, check))
    return ", ".join(words)


def render(cells: list[Cell]) -> str:
    """A text table: one row per scenario, one column per engine that appears."""
    if not cells:
        return "no cases ran"
    engines, grid = _grid(cells)

    def cell_text(c: Cell | None) -> str:
        if c is None:
            return "-"
        text = SYMBOL.get(c.status, c.status)
        if c.status == "broken" and c.broken:
            text += f" {c.broken}"
        elif c.status == "failed" and c.failed_checks:
            text += " " + failure_words(c)
        elif c.status in ("failed", "broken") and (c.expected or c.surfaced):
            text += f" {c.expected or '?'}→{c.surfaced or 'nothing'}"
        elif c.status == "passed" and c.fidelity == "emulated":
            text += " (emulated)"
        return text

    rows = [["scenario", *engines]] + [[s, *(cell_text(c) for c in row)] for s, row in grid]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(_totals(cells))
    routes = {e: sorted({c.route for c in cells if c.engine == e and c.route}) for e in engines}
    if any(routes.values()):
        lines.append("routes: " + ", ".join(f"{e} via {' / '.join(r)}" for e, r in routes.items() if r))
    return "\n".join(lines)
