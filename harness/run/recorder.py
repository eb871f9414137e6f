"""Where the runner reports its steps and evidence; the pytest plugin plugs Allure in here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol


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
