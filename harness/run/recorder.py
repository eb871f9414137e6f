"""Where the runner reports its steps and evidence; the pytest plugin plugs Allure in here."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol


class Recorder(Protocol):
    """Receives the steps of a case and the evidence it produced."""

    def step(self, title: str) -> AbstractContextManager[None]:
        """A named step; exceptions inside mark it failed."""

    def attach(self, name: str, body: str | bytes, kind: str) -> None:
        """Evidence: ``kind`` is one of png, text, json, yaml, html, zip."""


class NullRecorder:
    """Records nothing (used by the CLI's dry paths and unit tests)."""

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        """Run the block; nothing is recorded."""
        yield

    def attach(self, name: str, body: str | bytes, kind: str) -> None:
        """Drop the evidence."""


@dataclass
class StepLog:
    """A recorder that keeps what it receives, to be told again to another recorder (:meth:`replay`): a case run
    in another process (a lane) gives the report the same steps and evidence as one run here. Picklable."""

    # In order: ("step", title, failure or None, steps inside) and ("attach", name, body, kind).
    entries: list[tuple[str, str, Any, Any]] = field(default_factory=list)

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        """Keep the step, what happens inside it, and whether it failed (the exception goes on)."""
        inner = StepLog()
        index = len(self.entries)
        self.entries.append(("step", title, None, inner))
        saved, self.entries = self.entries, inner.entries
        try:
            yield
        except BaseException as exc:
            saved[index] = ("step", title, first_words(exc), inner)
            raise
        finally:
            self.entries = saved

    def attach(self, name: str, body: str | bytes, kind: str) -> None:
        """Keep the evidence."""
        self.entries.append(("attach", name, body, kind))

    def replay(self, recorder: Recorder) -> None:
        """Tell ``recorder`` every step and attachment in order; a step that failed fails there too."""
        for what, name, detail, more in self.entries:
            if what == "attach":
                recorder.attach(name, detail, more)
                continue
            with contextlib.suppress(StepFailed), recorder.step(name):
                more.replay(recorder)
                if detail is not None:
                    raise StepFailed(detail)


class StepFailed(Exception):
    """A step that failed where the case ran (its recorder marks it failed here too)."""


def first_words(exc: BaseException) -> str:
    """The first line of ``exc``'s message, or its kind."""
    return (str(exc).splitlines() or [type(exc).__name__])[0]
