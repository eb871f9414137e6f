"""What the app showed during a case: the raw facts the judge compares with the expectation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Snapshot:
    """The app's visible error surface at one moment."""

    code: str | None = None
    message: str | None = None
    region: str | None = None  # the live region around the message: "role=alert", "aria-live=polite", …
    state: str | None = None
    warning: str | None = None  # the warning code(s) shown; several are separated by spaces
    help: str | None = None  # the recovery steps shown with the error
    fallback: bool = False  # whether the app's fallback (e.g. a text-chat link) is visible

    @classmethod
    def from_page(cls, raw: dict[str, Any] | None) -> Snapshot:
        """Build from the dict the in-page observer returns."""
        raw = raw or {}
        return cls(raw.get("code") or None, raw.get("message") or None, raw.get("region") or None,
                   raw.get("state") or None, raw.get("warning") or None, raw.get("help") or None,
                   bool(raw.get("fallback")))

    def warnings(self) -> list[str]:
        """Every warning code shown."""
        return (self.warning or "").split()

    def surfaced(self) -> bool:
        """Whether the app shows any error at all."""
        return bool(self.code or self.message)


@dataclass
class Observation:
    """Everything seen during one case, in arrival order."""

    snapshot: Snapshot = field(default_factory=Snapshot)
    elapsed: float = 0.0  # seconds from the first action to the last snapshot
    console: list[str] = field(default_factory=list)
    telemetry: list[dict[str, Any]] = field(default_factory=list)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)  # the call's getStats summary (selected pair, media)
    states: list[str] = field(default_factory=list)  # the app's states in the order they appeared
    incidents: list[str] = field(default_factory=list)  # what the page did besides its surface (dialogs, …)
    left: str | None = None  # how the page left the app (navigated away, reloaded), if it did
    # capture tracks the app obtained: kind, label, via, stopped (by the app), readyState ('ended': released)
    captures: list[dict[str, Any]] = field(default_factory=list)
