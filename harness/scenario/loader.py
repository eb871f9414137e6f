"""Load scenario files: YAML → validated :class:`~harness.scenario.model.Scenario` objects that remember their
source."""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from harness.core.errors import InputError, Position, Problem
from harness.scenario import yamlpos
from harness.scenario.expand import expand, load_library, resolve_uses
from harness.scenario.model import Scenario, ScenarioFile
from harness.scenario.validation import problems_from
from harness.scenario.yamlpos import Loc, Located


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
    replaced by the shared blocks it names (see :mod:`harness.scenario.expand`). A ``givens.yaml`` holds no
    scenarios: it is checked and gives an empty list.
    """
    doc = yamlpos.load(path)
    data = doc.data
    if not isinstance(data, dict):
        raise InputError([doc.problem((), "a scenario file must be a mapping (a scenario) or have 'scenarios:'",
                                      "start the file with 'name: ...' or 'scenarios:'")])
    misspelt = _misspelt_file_keys(data, doc)
    if misspelt and "name" not in data:
        # Read as one scenario, the file would be told it lacks 'name' and 'expect': the wrong place to look.
        raise InputError(misspelt)
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
                raise InputError(_instead(problems_from(exc, doc, ScenarioFile), misspelt)) from None
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
        problems = _instead(problems, misspelt)
        raise InputError(sorted(problems, key=lambda p: (str(p.position.path), p.position.line, p.position.column)))
    problems = duplicate_names(out, {})
    if problems:
        raise InputError(problems)
    return out


# The top-level keys that say what a file holds: several scenarios, or shared given blocks (givens.yaml).
FILE_KEYS = {"scenarios": "a file holds one scenario (name:, expect:, …) at its top level, or several as a list "
                          "under 'scenarios:'",
             "givens": "shared given blocks go under 'givens:' in a givens.yaml"}


def _misspelt_file_keys(data: dict[str, Any], doc: Located) -> list[Problem]:
    """Problems for top-level keys that look like a misspelt 'scenarios' or 'givens', or that sit beside
    'scenarios:' (where nothing else belongs), each at its key with a did-you-mean.

    A key close to a scenario's own key is left to the scenario's validation ('givns' in a scenario is most
    likely 'given'); without a 'name', a key is compared with every top-level key, so 'secnarios' is named as
    the typo it is instead of the file being judged as one scenario without a name.
    """
    fields = list(Scenario.model_fields)
    out = []
    for key in data:
        if not isinstance(key, str) or key == "scenarios":
            continue
        if "scenarios" in data:
            close = [key] if key in (*fields, *FILE_KEYS) else difflib.get_close_matches(
                key, [*fields, *FILE_KEYS], n=1, cutoff=0.6)
            what = f"top-level key '{key}'" if close == [key] else f"unknown top-level key '{key}'"
            mean = f" (did you mean '{close[0]}'?)" if close and close[0] != key else ""
            out.append(doc.problem((key,), f"{what} beside 'scenarios'{mean}",
                                   "with 'scenarios:', a file has nothing else at its top level: a scenario's "
                                   "keys go in its item of the list (- name: ...)", key=True))
            continue
        if key in FILE_KEYS or key in fields:
            continue
        close = difflib.get_close_matches(key, fields if "name" in data else [*fields, *FILE_KEYS], n=1, cutoff=0.6)
        if not close:
            close = difflib.get_close_matches(key, list(FILE_KEYS), n=1, cutoff=0.6)
        if close and close[0] in FILE_KEYS:
            out.append(doc.problem((key,), f"unknown top-level key '{key}' (did you mean '{close[0]}'?)",
                                   FILE_KEYS[close[0]], key=True))
    return out


def _instead(problems: list[Problem], misspelt: list[Problem]) -> list[Problem]:
    """``problems`` with the problem at a misspelt file key's position replaced by the one that names it."""
    where = {p.position for p in misspelt}
    return [p for p in problems if p.position not in where] + misspelt


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


# Folders never searched for scenarios: hidden ones (.git, .venv, …), build output and installed packages.
# The same names pytest leaves out by default (norecursedirs), so 'pytest DIR' and 'mediafault validate DIR'
# see the same files.
SKIPPED_DIRS = frozenset({"build", "dist", "node_modules", "venv", "__pycache__", "site-packages"})
# A file found in a folder is a scenario file when its top level has one of these keys. Every scenario needs
# 'expect' and most have 'given'; a file with neither (an app profile, a CI job, a bug variant) is some other
# YAML, and reporting its keys as scenario mistakes would bury the real ones.
SCENARIO_KEYS = ("scenarios", "givens", "given", "expect", "when", "during", "matrix")
YAML_SUFFIXES = (".yaml", ".yml")
# The app config (harness.app.config reads it) sits among scenario files but is never one of them.
CONFIG_NAMES = ("mediafault.yaml", "mediafault.yml")
SELECTION_RULE = (
    "in a folder, scenario files are the *.yaml and *.yml files whose top level has "
    + ", ".join(f"{k}:" for k in SCENARIO_KEYS[:-1]) + f" or {SCENARIO_KEYS[-1]}: (givens.yaml holds shared "
    "givens, no scenarios); mediafault.yaml and folders that are hidden or named "
    + ", ".join(sorted(SKIPPED_DIRS)) + " are skipped; a file named on its own is always checked"
)


def _skipped_dir(name: str) -> bool:
    return name.startswith(".") or name in SKIPPED_DIRS or name.endswith(".egg-info")


def _scenario_shaped(path: Path) -> bool:
    """Whether the file's top level has a scenario key; a file that is not valid YAML counts, so that its
    error is reported instead of the file silently disappearing from the run.

    Only the first :data:`~harness.scenario.yamlpos.MAX_FILE_BYTES` are read, and only parser events are looked
    at (nothing is built, so aliases cost nothing): a huge or hostile YAML file next to the scenarios costs no
    more than a scenario file. A file over the limit counts when a scenario key appears before the limit (it is
    then reported as too big); otherwise it is some other YAML, such as a lock file.
    """
    import yaml

    try:
        with path.open("rb") as file:
            raw = file.read(yamlpos.MAX_FILE_BYTES + 1)
    except OSError:
        return False
    too_big = len(raw) > yamlpos.MAX_FILE_BYTES
    keys: set[str] = set()
    try:
        # Past the limit the text is cut, maybe inside a character or a construct: read what comes before.
        text = raw[: yamlpos.MAX_FILE_BYTES].decode("utf-8", "ignore" if too_big else "strict")
        _top_level_keys(text, keys)
    except (yaml.YAMLError, UnicodeDecodeError):
        if not too_big:
            return True
    # A merge key ('<<') brings in keys from elsewhere in the file: let the loader look.
    return "<<" in keys or any(key in keys for key in SCENARIO_KEYS)


def _top_level_keys(text: str, keys: set[str]) -> None:
    """Add the keys of the top-level mapping of ``text`` to ``keys`` as the parser reaches them."""
    import yaml

    depth = 0
    in_mapping = False  # the top level is a mapping
    at_key = False  # the next node at depth 1 is a key, not a value
    for event in yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        if isinstance(event, yaml.NodeEvent):
            if depth == 1 and in_mapping:
                if at_key and isinstance(event, yaml.ScalarEvent):
                    keys.add(event.value)
                at_key = not at_key
            if isinstance(event, yaml.CollectionStartEvent):
                if depth == 0:
                    in_mapping, at_key = isinstance(event, yaml.MappingStartEvent), True
                depth += 1
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def is_scenario_file(path: Path, root: Path | None = None) -> bool:
    """The one rule for which files are scenario files (run, validate, list and pytest collection use it).

    ``root`` is the folder the file was found in (named on the command line, or a scenario folder); without
    it the file was named on its own and only has to be YAML and not the app config. See :data:`SELECTION_RULE`.
    """
    if path.suffix not in YAML_SUFFIXES or path.name in CONFIG_NAMES:
        return False
    if root is None:
        return True
    try:
        folders = path.resolve().relative_to(root.resolve()).parts[:-1]
    except ValueError:
        folders = ()
    return not any(_skipped_dir(part) for part in folders) and _scenario_shaped(path)


def _walk(folder: Path) -> list[Path]:
    """YAML files under ``folder``, without descending into skipped folders (a .venv has thousands of files)."""
    out = []
    for top, dirs, names in os.walk(folder):
        dirs[:] = [d for d in dirs if not _skipped_dir(d)]
        out += [Path(top) / n for n in names if n.endswith(YAML_SUFFIXES)]
    return out


def scenario_files(paths: list[Path]) -> list[Path]:
    """Scenario files under ``paths`` in a stable order, each once (a file given twice, or inside a folder
    also given, would otherwise be its own duplicate); a missing path is an error that says so."""
    files: dict[Path, Path] = {}
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in _walk(path) if is_scenario_file(p, path))
        elif path.is_file():
            found = [path] if is_scenario_file(path) else []
        else:
            raise InputError([Problem(Position(path, 0, 0), "no such file or directory",
                                      "give a scenario file or a directory of them, e.g. scenarios/")])
        for file in found:
            files.setdefault(file.resolve(), file)
    return list(files.values())


def no_scenarios_hint(paths: list[Path]) -> str:
    """Why nothing was found under ``paths``, for people: what a scenario file is."""
    where = ", ".join(str(p) for p in paths) or "."
    return f"no scenario files under {where}; {SELECTION_RULE}"
