"""Load scenario files: YAML → validated :class:`~harness.model.Scenario` objects that remember their source."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness import yamlpos
from harness.errors import InputError, Position, Problem
from harness.expand import expand, load_library, resolve_uses
from harness.model import Scenario, ScenarioFile
from harness.validation import problems_from
from harness.yamlpos import Loc, Located


@dataclass(frozen=True)
class SourcedScenario:
    """A scenario plus where it was written, so failures and reports can cite ``file:line``."""

    scenario: Scenario
    doc: Located
    loc: Loc
    row: Position | None = None  # for a case of a matrix: the row it was expanded from

    def case_note(self) -> str:
        """`` (matrix row at line 12)`` for a matrix case, else empty: which row to look at in a failure."""
        return f" (matrix row at line {self.row.line})" if self.row else ""

    @property
    def path(self) -> Path:
        """The scenario file."""
        return self.doc.path

    @property
    def position(self) -> Position:
        """Where the scenario's ``name`` is."""
        return self.doc.position((*self.loc, "name"), key=True)

    def position_of(self, *sub: str | int) -> Position:
        """Position of a key inside this scenario, e.g. ``position_of('expect', 'code')``."""
        return self.doc.position((*self.loc, *sub), key=True)

    def snippet(self) -> tuple[int, str]:
        """The scenario's YAML text and its first line number."""
        return self.doc.snippet(self.loc)


def load_file(path: Path) -> list[SourcedScenario]:
    """Load and validate every scenario in ``path``; raise :class:`InputError` listing all problems.

    A scenario with a ``matrix`` becomes one :class:`SourcedScenario` per case and ``given.use`` is
    replaced by the shared blocks it names (see :mod:`harness.expand`). A ``givens.yaml`` holds no
    scenarios: it is checked and gives an empty list.
    """
    doc = yamlpos.load(path)
    data = doc.data
    if not isinstance(data, dict):
        raise InputError([doc.problem((), "a scenario file must be a mapping (a scenario) or have 'scenarios:'",
                                      "start the file with 'name: ...' or 'scenarios:'")])
    if "givens" in data and "scenarios" not in data and "name" not in data:
        load_library(path)
        return []
    written: list[tuple[Any, Loc]]
    if "scenarios" in data:
        items = data["scenarios"]
        extra = [k for k in data if k != "scenarios"]
        if not isinstance(items, list) or not items or extra:
            try:
                ScenarioFile.model_validate(data)
            except ValidationError as exc:
                raise InputError(problems_from(exc, doc, ScenarioFile)) from None
        written = [(item, ("scenarios", i)) for i, item in enumerate(items)]
    else:
        written = [(data, ())]
    out: list[SourcedScenario] = []
    problems: list[Problem] = []
    for item, loc in written:
        if not isinstance(item, dict):
            # Let the model say what a scenario must be; positions are the same as without expansion.
            problems += _validate(item, doc, loc)[1]
            continue
        try:
            expanded, clashes = expand(item, doc, loc)
            problems += clashes
            cases = [resolve_uses(case, path, loc) for case in expanded]
        except InputError as exc:
            problems += exc.problems
            continue
        for case in cases:
            scenario, found = _validate(case.data, case.doc, loc)
            problems += [p for p in found if p not in problems]  # a template's mistake shows once, not per case
            if scenario is not None:
                out.append(SourcedScenario(scenario, case.doc, loc, case.row))
    if problems:
        raise InputError(sorted(problems, key=lambda p: (str(p.position.path), p.position.line, p.position.column)))
    problems = duplicate_names(out, {})
    if problems:
        raise InputError(problems)
    return out


def _validate(data: Any, doc: Located, loc: Loc) -> tuple[Scenario | None, list[Problem]]:
    """One scenario's data → the model, or the positioned problems."""
    try:
        return Scenario.model_validate(data), []
    except ValidationError as exc:
        return None, problems_from(exc, doc, Scenario, loc)


def duplicate_names(scenarios: list[SourcedScenario], seen: dict[str, SourcedScenario]) -> list[Problem]:
    """Problems for names already in ``seen`` (which is updated), so test ids stay unique."""
    problems = []
    for item in scenarios:
        name = item.scenario.name
        first = seen.get(name.casefold())
        if first is None:
            seen[name.casefold()] = item
            continue
        problems.append(item.doc.problem(
            (*item.loc, "name"), f"duplicate scenario name {name!r} (first defined at {first.position})",
            "scenario names become test ids and must be unique; rename one of them", key=True,
        ))
    return problems


def load_paths(paths: list[Path]) -> tuple[list[SourcedScenario], list[InputError]]:
    """Load every scenario file under ``paths`` (files or directories); collect errors instead of stopping."""
    scenarios: list[SourcedScenario] = []
    errors: list[InputError] = []
    seen: dict[str, SourcedScenario] = {}
    for file in scenario_files(paths):
        try:
            loaded = load_file(file)
        except InputError as exc:
            errors.append(exc)
            continue
        before = set(seen)
        dup = duplicate_names(loaded, seen)
        if dup:
            errors.append(InputError(dup))
        # A case whose name was already taken (by another file) is left out; the others still run.
        scenarios += [s for s in loaded if s.scenario.name.casefold() not in before]
    return scenarios, errors


def scenario_files(paths: list[Path]) -> list[Path]:
    """YAML files under ``paths`` in a stable order; a missing path is an error that says so."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file()
                            and not any(part.startswith(".") for part in p.relative_to(path).parts))
        elif path.is_file():
            files.append(path)
        else:
            raise InputError([Problem(Position(path, 0, 0), "no such file or directory",
                                      "give a scenario file or a directory of them, e.g. scenarios/")])
    return files
