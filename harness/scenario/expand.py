"""Matrices and shared ``given`` blocks: one written scenario → the scenarios it stands for.

Both run on the plain data of a scenario *before* it is validated, and both keep positions: every
expanded case gets a view of the document in which the values a matrix filled in point at the matrix
value that produced them, and its ``name`` points at its own matrix row, so an error or a failure of one
case says ``file:line`` of the row to look at.

A matrix::

    name: "Microphone {permission} for the site"
    matrix:                              # rows: values that go together
      - {permission: denied, outcome: permission-denied}
      - {permission: policy, outcome: permission-denied}
    given:
      permission: {microphone: "{permission}"}
    expect:
      outcome: "{outcome}"

or ``matrix: {permission: [denied, policy]}`` for every combination of the listed values. A string that
is exactly ``"{var}"`` takes the value itself (a number stays a number, ``null`` leaves the key at its
default); inside longer text the value is written in. ``{{`` and ``}}`` are literal braces.

A shared block: ``given: {use: connected-call}`` starts from the block named ``connected-call`` under
``givens:`` in the nearest ``givens.yaml`` (the scenario's directory, then its parents up to the
project root); keys written in the scenario win, mapping by mapping.
"""

from __future__ import annotations

import copy
import difflib
import itertools
import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.core.errors import InputError, Position, Problem
from harness.scenario import yamlpos
from harness.scenario.model import SharedGivens
from harness.scenario.validation import problems_from
from harness.scenario.yamlpos import Loc, Located

MAX_CASES = 500  # a matrix that expands further is almost certainly a mistake (and hours of browser time)
GIVENS_NAMES = ("givens.yaml", "givens.yml")
_VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
# "{{" and "}}" are escapes; "{name}" is a placeholder; anything else in braces (a regex's "{2,3}") is text.
_TOKEN = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_-]*)\}")
_ROOT_MARKERS = ("mediafault.yaml", "mediafault.yml", ".git")


@dataclass(frozen=True)
class Case:
    """One expansion of a written scenario: its data and the document view that positions it."""

    data: dict[str, Any]
    doc: Located
    row: Position | None = None  # the matrix row (or value) this case was expanded from


def _hint_near(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _show(value: Any) -> str:
    """A matrix value as it appears inside text (YAML spelling for true/false/null)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ------------------------------------------------------------------------------------------------ matrix


def expand(data: dict[str, Any], doc: Located, loc: Loc) -> tuple[list[Case], list[Problem]]:
    """The cases of the scenario at ``loc`` (itself alone when it has no ``matrix``), and the names that
    collide (the cases are still returned, so their other mistakes are reported in the same pass).

    A matrix that cannot be expanded at all raises :class:`InputError`.
    """
    if "matrix" not in data:
        return [Case(data, doc)], []
    rows, row_pos, value_pos = _rows(data["matrix"], doc, (*loc, "matrix"))
    template = {k: v for k, v in data.items() if k != "matrix"}
    used = _placeholders(template, ())
    variables = list(dict.fromkeys(v for row in rows for v in row))
    problems: list[Problem] = []
    for var, where in used:
        if var not in variables:
            problems.append(doc.problem(
                (*loc, *where), f"'{{{var}}}' in {_where(where)} is not a matrix variable"
                f"{_hint_near(var, variables)}",
                f"matrix variables: {', '.join(variables)}; write '{{{{' and '}}}}' for literal braces"))
    used_names = list(dict.fromkeys(var for var, _ in used))
    for var in variables:
        if var not in used_names:
            first_row = next(i for i, row in enumerate(rows) if var in row)
            problems.append(doc.problem(
                value_pos[first_row][var][1], f"matrix variable '{var}' is not used in the scenario"
                f"{_hint_near(var, used_names)}",
                "write it as '{" + var + "}' where the value goes (e.g. in the name and in given), or remove it",
                key=True))
    if problems:
        raise InputError(problems)
    for i, row in enumerate(rows):  # rows written separately may leave a variable out
        missing = [var for var in used_names if var not in row]
        if missing:
            problems.append(yamlpos.doc_problem(doc, row_pos[i], f"matrix row {i + 1} has no value for "
                                                f"{', '.join(repr(m) for m in missing)}",
                                                "every row needs a value for each variable the scenario uses "
                                                "(null leaves a key at its default)"))
    if problems:
        raise InputError(problems)
    cases: list[Case] = []
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        origins: dict[Loc, Position] = {}
        value_at = {var: doc.position(vloc) for var, (vloc, _) in value_pos[i].items()}
        filled = _fill(template, (), row, value_at, origins)
        view = _view(doc, loc, origins, row_pos[i])
        name = filled.get("name")
        if isinstance(name, str):
            key = name.strip().casefold()
            if key in seen:
                first = seen[key]
                problems.append(view.problem(
                    (*loc, "name"), f"matrix cases {first + 1} and {i + 1} are both named {name.strip()!r} "
                    f"(first at line {row_pos[first].line})",
                    f"the name template {data.get('name')!r} must give each case its own name: put a variable "
                    f"that differs between them in it ({', '.join('{' + v + '}' for v in variables)})", key=True))
            seen.setdefault(key, i)
        cases.append(Case(filled, view, row_pos[i]))
    return cases, problems


def _where(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "the scenario"


_Values = dict[str, tuple[Loc, Loc]]  # variable → (loc of its value, loc of its key or list)


def _rows(matrix: Any, doc: Located, loc: Loc) -> tuple[list[dict[str, Any]], list[Position], list[_Values]]:
    """The matrix as rows of variable → value, with each row's position and where each value was written."""
    problems: list[Problem] = []
    rows: list[dict[str, Any]] = []
    positions: list[Position] = []
    origins: list[_Values] = []
    shape_hint = ("a mapping of variable → list of values (every combination), or a list of rows "
                  "(variable: value mappings), e.g. matrix: {permission: [denied, policy]}")
    if isinstance(matrix, dict) and matrix:
        lists: list[tuple[str, list[tuple[Any, Loc]]]] = []
        for var, values in matrix.items():
            problems += _check_var(var, doc, (*loc, var))
            if not isinstance(values, list) or not values:
                problems.append(doc.problem((*loc, var), f"matrix.{var} must be a non-empty list of values",
                                            f"e.g. {var}: [a, b]; for values that go together use rows"))
                continue
            entries = []
            for j, value in enumerate(values):
                problems += _check_value(value, doc, (*loc, var, j))
                entries.append((value, (*loc, var, j)))
            if len({_show(v) for v, _ in entries}) != len(entries):
                problems.append(doc.problem((*loc, var), f"matrix.{var} lists a value twice",
                                            "each value gives one case; remove the repeat"))
            lists.append((var, entries))
        if problems:
            raise InputError(problems)
        combos = list(itertools.islice(itertools.product(*(e for _, e in lists)), MAX_CASES + 1))
        for combo in combos:
            rows.append({var: value for (var, _), (value, _) in zip(lists, combo, strict=True)})
            origins.append({var: (vloc, (*loc, var)) for (var, _), (_, vloc) in zip(lists, combo, strict=True)})
            # The value that changes fastest tells neighbouring cases apart.
            positions.append(doc.position(combo[-1][1]))
    elif isinstance(matrix, list) and matrix:
        for i, row in enumerate(matrix):
            if not isinstance(row, dict) or not row:
                problems.append(doc.problem((*loc, i), f"matrix row {i + 1} must be a mapping of variable: "
                                            "value", "e.g. - {permission: denied, outcome: permission-denied}"))
                continue
            for var, value in row.items():
                problems += _check_var(var, doc, (*loc, i, var))
                problems += _check_value(value, doc, (*loc, i, var))
            rows.append(dict(row))
            origins.append({var: ((*loc, i, var), (*loc, i, var)) for var in row})
            positions.append(doc.position((*loc, i)))
    else:
        problems.append(doc.problem(loc, "matrix must list the values to expand over", shape_hint))
    if problems:
        raise InputError(problems)
    if len(rows) > MAX_CASES:
        raise InputError([doc.problem(loc, f"the matrix expands to more than {MAX_CASES} cases",
                                      "split it into several scenarios, or list the combinations you mean as rows")])
    return rows, positions, origins


def _check_var(var: Any, doc: Located, loc: Loc) -> list[Problem]:
    if isinstance(var, str) and _VAR.match(var):
        return []
    return [doc.problem(loc, f"{var!r} cannot be a matrix variable name",
                        "use letters, digits, '_' or '-', starting with a letter (it is written {name})", key=True)]


def _check_value(value: Any, doc: Located, loc: Loc) -> list[Problem]:
    if value is None or isinstance(value, str | int | float | bool):
        return []
    return [doc.problem(loc, "a matrix value must be a single value (text, number, true/false or null), "
                        f"not a {'mapping' if isinstance(value, dict) else 'list'}",
                        "to vary a whole block, name shared blocks in givens.yaml and vary 'use: \"{block}\"'")]


def _placeholders(value: Any, loc: Loc) -> list[tuple[str, Loc]]:
    """Every ``{var}`` in the strings of ``value`` with where it is (keys are never templates)."""
    if isinstance(value, str):
        return [(m.group(1), loc) for m in _TOKEN.finditer(value) if m.group(1)]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _placeholders(v, (*loc, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _placeholders(v, (*loc, i))]
    return []


_DROP = object()  # a "{var}" whose value is null: the key is left out so its default applies


def _fill(value: Any, loc: Loc, row: dict[str, Any], where: dict[str, Position],
          origins: dict[Loc, Position]) -> Any:
    """``value`` with the row's values written in; ``origins`` gets the matrix position of each filled value."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            filled = _fill(v, (*loc, k), row, where, origins)
            if filled is _DROP:
                continue
            out[k] = filled
        return out
    if isinstance(value, list):
        items = [_fill(v, (*loc, i), row, where, origins) for i, v in enumerate(value)]
        return [None if v is _DROP else v for v in items]
    if not isinstance(value, str):
        return value
    whole = _TOKEN.fullmatch(value)
    if whole and whole.group(1):
        var = whole.group(1)
        origins[loc] = where[var]
        return _DROP if row[var] is None else row[var]
    first: list[str] = []

    def sub(match: re.Match[str]) -> str:
        if not match.group(1):
            return match.group(0)[0]
        first.append(match.group(1))
        return _show(row[match.group(1)])

    text = _TOKEN.sub(sub, value)
    if first:
        origins[loc] = where[first[0]]
    return text




def _view(doc: Located, loc: Loc, origins: dict[Loc, Position], case_pos: Position) -> Located:
    """A copy of ``doc`` whose filled values point at the matrix and whose name points at the case's row."""
    view = replace(doc, key_pos=dict(doc.key_pos), value_pos=dict(doc.value_pos))
    for where, pos in origins.items():
        view.value_pos[(*loc, *where)] = pos
    view.key_pos[(*loc, "name")] = case_pos
    view.value_pos[(*loc, "name")] = origins.get(("name",), case_pos)
    return view


# ------------------------------------------------------------------------------------- shared given blocks


@dataclass(frozen=True)
class Library:
    """One ``givens.yaml``: named blocks as written (plain data) and the document they came from."""

    path: Path
    doc: Located
    blocks: dict[str, dict[str, Any]]


_libraries: dict[Path, tuple[tuple[int, int], Library]] = {}


def load_library(path: Path) -> Library:
    """Load and validate a shared-blocks file (cached until the file changes)."""
    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _libraries.get(path.resolve())
    if cached and cached[0] == stamp:
        return cached[1]
    doc = yamlpos.load(path)
    data = doc.data
    if not isinstance(data, dict) or "givens" not in data:
        raise InputError([doc.problem((), f"{path.name} must have 'givens:' (named given blocks)",
                                      "givens:\n    connected-call:\n      network: {turn: udp, policy: relay}")])
    try:
        SharedGivens.model_validate(data)
    except ValidationError as exc:
        raise InputError(problems_from(exc, doc, SharedGivens)) from None
    library = Library(path, doc, {str(k): v or {} for k, v in data["givens"].items()})
    _libraries[path.resolve()] = (stamp, library)
    return library


def libraries_for(scenario_path: Path) -> list[Path]:
    """``givens.yaml`` files a scenario can use, nearest first (up to the project root)."""
    found: list[Path] = []
    start = scenario_path.resolve().parent
    for directory in (start, *start.parents):
        found += [directory / n for n in GIVENS_NAMES if (directory / n).is_file()]
        if any((directory / m).exists() for m in _ROOT_MARKERS):
            break
    return found


def resolve_uses(case: Case, scenario_path: Path, loc: Loc) -> Case:
    """``given.use`` replaced by the named blocks (the scenario's own keys win)."""
    given = case.data.get("given")
    if not isinstance(given, dict) or "use" not in given:
        return case
    merged = _resolved_given(given, scenario_path, case.doc, (*loc, "given"), scenario_path.parent, ())
    return Case({**case.data, "given": merged}, case.doc, case.row)


def _resolved_given(given: dict[str, Any], path: Path, doc: Located, loc: Loc, scenario_dir: Path,
                    chain: tuple[str, ...]) -> dict[str, Any]:
    """``given`` with its ``use`` blocks merged under it (recursively; a cycle is an error)."""
    if "use" not in given:
        return given
    names = given["use"]
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        raise InputError([doc.problem((*loc, "use"), "given.use must be a block name or a list of block names",
                                      "e.g. use: connected-call")])
    own = {k: v for k, v in given.items() if k != "use"}
    base: dict[str, Any] = {}
    files = libraries_for(path)
    libraries = [load_library(f) for f in files]
    for i, name in enumerate(names):
        where = (*loc, "use") if isinstance(given["use"], str) else (*loc, "use", i)
        if name in chain:
            raise InputError([doc.problem(where, f"shared given block '{name}' uses itself "
                                          f"({' → '.join((*chain, name))})", "remove one of the 'use' entries")])
        library = next((lib for lib in libraries if name in lib.blocks), None)
        if library is None:
            known = sorted({n for lib in libraries for n in lib.blocks})
            if files:
                shown = ", ".join(_display(f) for f in files)
                hint = f"blocks in {shown}: {', '.join(known) or 'none'}"
            else:
                hint = ("no givens.yaml next to the scenario or in a parent directory; create one with "
                        f"'givens:' and a block named '{name}' under it")
            raise InputError([doc.problem(where, f"no shared given block named '{name}'{_hint_near(name, known)}",
                                          hint)])
        block = copy.deepcopy(library.blocks[name])
        block = _resolved_given(block, library.path, library.doc, ("givens", name), library.path.parent,
                                (*chain, name))
        _rebase_audio(block, library.path.parent, scenario_dir)
        base = _deep_merge(base, block)
    return _deep_merge(base, own)


def _display(path: Path) -> str:
    """A path as people type it (relative to the working directory when below it)."""
    return Position(path, 0, 0).display_path()


def _rebase_audio(block: dict[str, Any], block_dir: Path, scenario_dir: Path) -> None:
    """An audio file in a shared block is relative to the block's file; the scenario resolves it from its own."""
    audio = block.get("device", {}).get("audio") if isinstance(block.get("device"), dict) else None
    if isinstance(audio, dict) and isinstance(audio.get("file"), str) and not os.path.isabs(audio["file"]):
        audio["file"] = os.path.relpath(block_dir / audio["file"], scenario_dir)


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``; mappings are merged key by key, anything else is replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out
