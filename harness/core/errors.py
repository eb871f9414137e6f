"""Exceptions that carry a source position, so every message can point at ``file:line:col``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Position:
    """A place in a source file; line and column are 1-based as editors show them."""

    path: Path
    line: int
    column: int

    def display_path(self) -> str:
        """The path relative to the working directory when it is below it (what people type)."""
        try:
            return str(self.path.resolve().relative_to(Path.cwd().resolve()))
        except ValueError:
            return str(self.path)

    def __str__(self) -> str:
        if self.line <= 0:  # the file as a whole (it is missing, or unreadable)
            return self.display_path()
        return f"{self.display_path()}:{self.line}:{self.column}"


class MediafaultError(Exception):
    """Base of every error the harness raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        # A case run in another process (a lane) ends with the same error here, of the same kind and with the
        # same words; the subclasses' own __init__ arguments are not its args, so it is rebuilt without it.
        return _rebuilt, (type(self), self.args, dict(vars(self)))


def _rebuilt(kind: type[MediafaultError], args: tuple[Any, ...], state: dict[str, Any]) -> MediafaultError:
    """An error of ``kind`` with ``args`` and attributes ``state``, not built through ``kind.__init__``."""
    error = kind.__new__(kind)
    error.args = args
    vars(error).update(state)
    return error


@dataclass
class Problem:
    """One thing wrong in an input file."""

    position: Position
    message: str
    hint: str = ""
    source_line: str = ""

    def render(self) -> str:
        """``file:line:col: message``, then the offending line with a caret, then the hint."""
        out = [f"{self.position}: {self.message}"]
        if self.source_line:
            gutter = f"{self.position.line:>5} | "
            out.append(gutter + self.source_line.rstrip())
            out.append(" " * (len(gutter) - 2) + "| " + " " * (self.position.column - 1) + "^")
        if self.hint:
            out.append(f"  hint: {self.hint}")
        return "\n".join(out)


@dataclass
class InputError(MediafaultError):
    """Bad input (a scenario or config file); holds every problem found in it."""

    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(p.render() for p in self.problems)

    @property
    def first(self) -> Problem:
        """The first problem, whose position is used where only one fits (JUnit, reportinfo)."""
        return self.problems[0]


class EnvironmentProblem(MediafaultError):
    """Something about this machine (a browser, a tool) stops a case from running: reported as broken."""


class HarnessError(MediafaultError):
    """The harness itself could not do what a case needs: reported as broken, with what was last seen."""
