"""Conditions → mechanisms: how each ``given`` value is reproduced on each engine, and how faithfully.

Every condition resolves to exactly one :class:`Mechanism` per engine: ``native`` (the browser's own
machinery), ``emulated`` (a page-level shim that mimics the browser) or ``unsupported`` (the case is
skipped with the reason). This table is the one place those facts live; ``mediafault list``, the report
and ``docs/support-matrix.md`` all read it.
"""

from __future__ import annotations

import glob
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from typing import Any

from harness.model import Given


class Fidelity(StrEnum):
    """How real a reproduction is."""

    native = "native"
    emulated = "emulated"
    unsupported = "unsupported"


@dataclass(frozen=True)
class Mechanism:
    """How one condition value is reproduced on one engine."""

    condition: str  # "permission.microphone"
    value: str  # "denied"
    fidelity: Fidelity
    how: str  # one line for people: "CDP Browser.setPermission(denied) on the case's context"
    launch_args: tuple[str, ...] = ()
    prefs: tuple[tuple[str, Any], ...] = ()
    permission: str | None = None  # runtime permission setting for the context: granted | denied | prompt
    shim: tuple[tuple[str, Any], ...] = ()
    # What navigator.permissions.query must answer once this is in effect; the runner checks it so a
    # mechanism that silently did nothing breaks the case instead of letting it pass for the wrong reason.
    query_state: str | None = None

    def label(self) -> str:
        """``permission.microphone=denied: native (CDP …)``."""
        return f"{self.condition}={self.value}: {self.fidelity.value} ({self.how})"


@cache
def host_has_capture_device() -> bool:
    """Whether this machine has sound capture hardware (then 'no microphone' cannot be native)."""
    return bool(glob.glob("/dev/snd/pcmC*D*c"))


def _unsupported(condition: str, value: str, reason: str) -> Mechanism:
    return Mechanism(condition, value, Fidelity.unsupported, reason)


@dataclass(frozen=True)
class Host:
    """Facts about the machine that change how a condition is reproduced."""

    capture_device: bool = False

    @classmethod
    def here(cls) -> Host:
        """This machine."""
        return cls(capture_device=host_has_capture_device())


_Resolver = Callable[[str, Host], Mechanism]


def _chromium_permission(value: str, host: Host) -> Mechanism:
    setting = {"granted": "granted", "denied": "denied", "dismissed": "prompt"}[value]
    how = {
        "granted": "CDP Browser.setPermission(granted) on the case's context",
        "denied": "CDP Browser.setPermission(denied) on the case's context: 'Permission denied'",
        "dismissed": "CDP Browser.setPermission(prompt): Chromium answers 'Permission dismissed'",
    }[value]
    return Mechanism("permission.microphone", value, Fidelity.native, how, permission=setting, query_state=setting)


def _chromium_device(value: str, host: Host) -> Mechanism:
    if value == "default":
        return Mechanism("device.microphone", value, Fidelity.native, "fake capture device "
                         "(--use-fake-device-for-media-stream)", launch_args=("--use-fake-device-for-media-stream",))
    if not host.capture_device:
        return Mechanism("device.microphone", value, Fidelity.native,
                         "no fake device and no capture hardware on this machine: NotFoundError")
    return Mechanism("device.microphone", value, Fidelity.emulated,
                     "page shim: getUserMedia rejects NotFoundError, enumerateDevices lists no microphone "
                     "(this machine has a real microphone)",
                     launch_args=("--use-fake-device-for-media-stream",), shim=(("noMicrophone", True),))


def _firefox_permission(value: str, host: Host) -> Mechanism:
    if value == "dismissed":
        return _unsupported("permission.microphone", value,
                            "Firefox over WebDriver BiDi cannot answer or dismiss its permission prompt")
    pref = 1 if value == "granted" else 2
    return Mechanism("permission.microphone", value, Fidelity.native,
                     f"pref permissions.default.microphone={pref} at launch",
                     prefs=(("permissions.default.microphone", pref),), query_state=value)


def _firefox_device(value: str, host: Host) -> Mechanism:
    if value == "default":
        return Mechanism("device.microphone", value, Fidelity.native, "fake stream "
                         "(pref media.navigator.streams.fake)", prefs=(("media.navigator.streams.fake", True),))
    if not host.capture_device:
        return Mechanism("device.microphone", value, Fidelity.native,
                         "no fake stream and no capture hardware on this machine: NotFoundError",
                         prefs=(("media.navigator.streams.fake", False),))
    return Mechanism("device.microphone", value, Fidelity.emulated,
                     "page shim: getUserMedia rejects NotFoundError (this machine has a real microphone)",
                     prefs=(("media.navigator.streams.fake", True),),
                     shim=(("noMicrophone", True), ("notFoundMessage", "The object can not be found here.")))


# engine → condition → resolver. An engine missing from here has no route in this version.
TABLE: dict[str, dict[str, _Resolver]] = {
    "chromium": {"permission.microphone": _chromium_permission, "device.microphone": _chromium_device},
    "firefox": {"permission.microphone": _firefox_permission, "device.microphone": _firefox_device},
}

CONDITIONS: tuple[str, ...] = ("permission.microphone", "device.microphone")


def given_values(given: Given) -> dict[str, str]:
    """The condition values a scenario sets, flattened: ``{'permission.microphone': 'denied', …}``."""
    return {"permission.microphone": given.permission.microphone, "device.microphone": given.device.microphone}


@dataclass(frozen=True)
class Resolution:
    """Every mechanism a case uses on one engine."""

    engine: str
    mechanisms: tuple[Mechanism, ...] = field(default_factory=tuple)

    @property
    def unsupported(self) -> list[Mechanism]:
        """Mechanisms that make the case impossible here."""
        return [m for m in self.mechanisms if m.fidelity is Fidelity.unsupported]

    @property
    def fidelity(self) -> Fidelity:
        """The weakest fidelity among the mechanisms (what the case as a whole deserves)."""
        order = [Fidelity.unsupported, Fidelity.emulated, Fidelity.native]
        return min((m.fidelity for m in self.mechanisms), key=order.index, default=Fidelity.native)


def resolve_value(engine: str, condition: str, value: str, host: Host | None = None) -> Mechanism:
    """The mechanism for one condition value on ``engine`` (on this machine unless ``host`` is given)."""
    table = TABLE.get(engine)
    if table is None:
        return _unsupported(condition, value, f"mediafault has no route for {engine} yet")
    return table[condition](value, host or Host.here())


def resolve(engine: str, given: Given) -> Resolution:
    """The mechanism for every condition of ``given`` on ``engine``."""
    return Resolution(engine, tuple(resolve_value(engine, c, v) for c, v in given_values(given).items()))


def all_values() -> dict[str, tuple[str, ...]]:
    """Every condition with every value the scenario language accepts (for the support matrix)."""
    from typing import get_args

    from harness.model import Device, Permission

    return {
        "permission.microphone": get_args(Permission.model_fields["microphone"].annotation),
        "device.microphone": get_args(Device.model_fields["microphone"].annotation),
    }
