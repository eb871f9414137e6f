"""Broken variants of the bundled app: the app with one realistic bug each, to prove the catalogue
catches regressions. A variant is a YAML file of exact text patches; it is applied to a copy of the app.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import NamedTuple

from pydantic import Field, ValidationError, field_validator, model_validator

from harness.app.config import BUNDLED_APP
from harness.core.errors import InputError, Position, Problem
from harness.scenario import yamlpos
from harness.scenario.model import ENGINES, Strict
from harness.scenario.validation import problems_from

VARIANTS_DIR = BUNDLED_APP.parent / "variants"


class Patch(Strict):
    """Replace one exact piece of text in one file of the app."""

    file: str = Field(min_length=1, description="File of the app, relative to its directory.")
    find: str = Field(min_length=1, description="Text that must occur exactly once.")
    replace: str = Field(description="What it becomes.")


class Unaffected(Strict):
    """Scenarios of caught_by that cannot catch the bug on one engine although that engine reproduces their
    condition: the engine's own behaviour makes up for the bug (e.g. Firefox reports ICE 'failed' where
    Chromium stays silent), so the variant is correct there. They still run whenever the variant runs on that
    engine, and must then pass: a claim that stops being true fails the proof instead of hiding a miss."""

    engine: str = Field(description="chromium, firefox or webkit.")
    scenarios: list[str] = Field(min_length=1, description="Scenario names, each one of caught_by.")
    why: str = Field(min_length=1, description="What the engine does that makes up for the bug, as measured.")

    @field_validator("engine")
    @classmethod
    def _known_engine(cls, value: str) -> str:
        if value not in ENGINES:
            raise ValueError(f"unknown engine '{value}' (engines are: {', '.join(ENGINES)})")
        return value


class Variant(Strict):
    """One realistic bug and the scenarios that must catch it."""

    bug: str = Field(min_length=1, description="What is wrong, in the words of a bug report.")
    patches: list[Patch] = Field(min_length=1)
    caught_by: list[str] = Field(min_length=1, description="Scenario names that must fail on this variant.")
    network: bool = Field(False, description="The bug is in the call/network code: also run the (slow) network "
                          "scenarios against it. Other variants skip them to keep the proof fast.")
    unaffected: list[Unaffected] = Field(default_factory=list, description="Engines on which some caught_by "
                                         "scenarios cannot catch the bug, with why.")

    @model_validator(mode="after")
    def _unaffected_are_caught_by(self) -> Variant:
        strangers = [s for u in self.unaffected for s in u.scenarios if s not in self.caught_by]
        if strangers:
            raise ValueError(f"unaffected names scenarios that are not in caught_by: {', '.join(strangers)}")
        return self

    def unaffected_on(self, engine: str) -> dict[str, str]:
        """The caught_by scenarios that cannot catch this bug on ``engine`` → why."""
        return {name: f"the bug does not show on {engine}: {u.why}"
                for u in self.unaffected if u.engine == engine for name in u.scenarios}


def load_variants(directory: Path = VARIANTS_DIR) -> dict[str, Variant]:
    """Every variant in ``directory`` by name (the file name without .yaml)."""
    out: dict[str, Variant] = {}
    for path in sorted(directory.glob("*.yaml")):
        doc = yamlpos.load(path)
        try:
            out[path.stem] = Variant.model_validate(doc.data)
        except ValidationError as exc:
            raise InputError(problems_from(exc, doc, Variant)) from None
    return out


def materialize(name: str, dest: Path, directory: Path = VARIANTS_DIR, app: Path = BUNDLED_APP) -> Path:
    """A copy of ``app`` with variant ``name``'s patches applied, in ``dest/name``; returns its path."""
    variants = load_variants(directory)
    if name not in variants:
        raise InputError([Problem(Position(directory, 0, 0), f"no app variant named {name!r}",
                                  f"variants: {', '.join(variants) or 'none'}")])
    target = dest / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(app, target)
    for n, patch in enumerate(variants[name].patches):
        file = target / patch.file
        text = file.read_text(encoding="utf-8") if file.is_file() else ""
        count = text.count(patch.find)
        if count != 1:
            doc = yamlpos.load(directory / f"{name}.yaml")
            raise InputError([doc.problem(("patches", n, "find"), f"the text to find occurs {count} times in "
                                          f"{patch.file} (it must occur exactly once)",
                                          "the app changed: update this variant's patch")])
        file.write_text(text.replace(patch.find, patch.replace), encoding="utf-8")
    return target



class VariantRow(NamedTuple):
    """What one app (the correct one or a broken variant) did on one engine."""

    name: str
    failed: set[str]  # scenarios with a failing case
    expected: set[str]  # the variant's caught_by that this engine can reproduce
    problems: list[str]  # broken cases, and each unexpected failure with its table
    # caught_by scenarios that cannot catch it on this engine → why: every case skipped there, or the variant's
    # unaffected entry for the engine; not expected to fail here
    unreproduced: dict[str, str]


def expected_on_engine(caught_by: list[str], skips: dict[str, str], ran: set[str]) -> tuple[set[str], dict[str, str]]:
    """The scenarios of ``caught_by`` that must fail on an engine, from which of them ran there: one whose
    every case was skipped (``skips``: scenario → reason, ``ran``: scenarios with a case that ran) cannot
    catch anything on it, and is returned apart with its skip reason instead of being expected to fail."""
    expected = {name for name in caught_by if name in ran or name not in skips}
    return expected, {name: skips[name] for name in caught_by if name not in expected}


def catch_table(engine: str, rows: list[VariantRow]) -> tuple[list[str], bool]:
    """The variant → scenarios-that-caught-it table (rows as :func:`harness.cli.running.variant_report` gives them)
    as lines, and whether every app failed exactly the scenarios it should."""
    width = max([len(r.name) for r in rows] + [3])
    lines = [f"{'app':<{width}}  scenarios that failed on {engine}"]
    ok = True
    for row in rows:
        good = row.failed == row.expected and not row.problems
        ok = ok and good
        lines.append(f"{row.name:<{width}}  {'ok  ' if good else 'MISS'} {', '.join(sorted(row.failed)) or 'none'}")
        lines += [f"{'':<{width}}       expected to fail but passed: {m}" for m in sorted(row.expected - row.failed)]
        lines += [f"{'':<{width}}       failed unexpectedly: {m}" for m in sorted(row.failed - row.expected)]
        lines += [f"{'':<{width}}       cannot catch it on {engine}: {m} ({why})"
                  for m, why in sorted(row.unreproduced.items())]
        lines += [f"{'':<{width}}       {line}" for line in row.problems]
    return lines, ok
