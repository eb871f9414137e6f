"""The scenario language as typed models.

These pydantic models are the single definition of what a scenario may say: the loader validates YAML
against them, ``mediafault schema`` exports their JSON Schema for editors, and the docs are generated
from that schema. Every model forbids unknown keys so a typo is an error, never a silently ignored key.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ENGINES: tuple[str, ...] = ("chromium", "firefox", "webkit")

# The outcome vocabulary: what went wrong, independent of any vendor's codes. App profiles map each one
# to the code and message a given SDK or widget shows.
OUTCOMES: dict[str, str] = {
    "permission-denied": "the microphone permission is blocked (by the user, the browser or a policy)",
    "permission-dismissed": "the user closed the permission prompt without answering",
    "device-not-found": "there is no microphone",
    "device-busy": "the microphone exists but cannot be started (another app holds it)",
    "device-constraint": "the requested microphone (deviceId or constraint) does not exist",
    "insecure-origin": "the page is not a secure context, so the microphone API is missing",
    "iframe-blocked": "the app runs inside an iframe where the microphone is not allowed",
    "media-connection-failed": "the call's media path could not be established or was lost",
    "relay-unreachable": "the TURN relay could not be used (bad credentials, blocked)",
    "permission-revoked": "the permission was withdrawn during the call",
    "device-unplugged": "the microphone went away during the call",
    "device-error": "the microphone could not be started for a reason no other outcome names (AbortError, "
                    "NotSupportedError, …)",
    "network-unavailable": "the call found no network path at all (no ICE candidate gathered)",
    "app-error": "the app's own code failed (a bug), not the browser or the device",
    "camera-denied": "the camera permission is blocked (by the user, the browser or a policy)",
    "camera-dismissed": "the user closed the camera prompt without answering",
    "camera-not-found": "there is no camera",
    "camera-busy": "the camera exists but cannot be started (another app holds it)",
    "camera-constraint": "the requested camera (deviceId or constraint) does not exist",
    "camera-unplugged": "the camera went away during the call",
}


class Severity(StrEnum):
    """Allure's severities, so the report can sort by them."""

    blocker = "blocker"
    critical = "critical"
    normal = "normal"
    minor = "minor"
    trivial = "trivial"


class Strict(BaseModel):
    """Base: unknown keys are errors; instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$")


def parse_duration(value: Any) -> float:
    """``"3s"``, ``"500ms"``, ``"1.5s"``, ``"2m"`` or a plain number of seconds → seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration like '3s' or '500ms', not true/false")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"'{value}' is not a duration; write it like '3s', '500ms' or '2m'")
        number, unit = float(match.group(1)), match.group(2) or "s"
        seconds = number / 1000 if unit == "ms" else number * 60 if unit == "m" else number
    if seconds <= 0 or seconds > 600:
        raise ValueError(f"a duration must be more than 0 and at most 600 s (10 min), got {seconds:g}s")
    return seconds


# The schema says what parse_duration accepts: a pattern for text (without zero, which the lookahead
# refuses) and bounds for numbers; JSON Schema applies each only to the type it is about.
Duration = Annotated[
    float,
    Field(json_schema_extra={"type": ["string", "number"], "exclusiveMinimum": 0, "maximum": 600,
                             "pattern": r"^\s*(?!0*(?:\.0*)?\s*(?:ms|s|m)?\s*$)"
                                        + _DURATION.pattern.removeprefix(r"^\s*")}),
]


def _text_match_schema(schema: dict[str, Any]) -> None:
    """A plain string (exact) or a mapping with exactly one of exact/contains/regex, as the model accepts."""
    mapping = {"type": "object", "additionalProperties": False, "minProperties": 1, "maxProperties": 1,
               "properties": {name: {"type": "string", "description": text} for name, text in (
                   ("exact", "The whole text, ignoring leading and trailing spaces."),
                   ("contains", "A part of the text."),
                   ("regex", "A regular expression found anywhere in the text (Python syntax)."))}}
    description = schema.get("description")
    schema.clear()
    schema.update(title="TextMatch", description=description,
                  anyOf=[{"type": "string", "description": "The exact text."}, mapping])


class TextMatch(Strict):
    """How to compare a text the app showed: exactly, by substring, or by a regular expression."""

    model_config = ConfigDict(json_schema_extra=_text_match_schema)

    exact: str | None = None
    contains: str | None = None
    regex: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _plain_string_means_exact(cls, data: Any) -> Any:
        if isinstance(data, str | int | float) and not isinstance(data, bool):
            return {"exact": str(data)}
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> TextMatch:
        given = [k for k in ("exact", "contains", "regex") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of 'exact', 'contains' or 'regex' (or a plain string for exact)")
        return self

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"bad regular expression {value!r}: {exc}") from None
        return value

    def matches(self, text: str | None) -> bool:
        """Whether ``text`` satisfies this matcher (``None`` never does)."""
        if text is None:
            return False
        if self.exact is not None:
            return text.strip() == self.exact.strip()
        if self.contains is not None:
            return self.contains in text
        assert self.regex is not None
        return re.search(self.regex, text) is not None

    def describe(self) -> str:
        """Human form for tables: ``"x"``, ``contains "x"``, ``matches /x/``."""
        if self.exact is not None:
            return repr(self.exact)
        if self.contains is not None:
            return f"contains {self.contains!r}"
        return f"matches /{self.regex}/"


PermissionState = Literal["granted", "denied", "dismissed", "policy", "prompt"]
_PERMISSION_STATES = ("granted: allowed; denied: blocked for the site (NotAllowedError 'Permission denied'); "
                      "dismissed: the user closes the prompt (NotAllowedError 'Permission dismissed'); policy: "
                      "blocked by an administrator's browser policy; prompt: the browser asks and nobody answers "
                      "(getUserMedia stays pending).")
CaptureState = Literal["default", "none", "busy", "overconstrained"]


class Permission(Strict):
    """Permission state the browser holds for the app's origin before the case starts."""

    microphone: PermissionState = Field("granted", description=_PERMISSION_STATES)
    camera: PermissionState = Field(
        "granted", description="Only for scenarios that use the camera (writing a camera key makes the camera "
        "part of the case). " + _PERMISSION_STATES)


class AudioFile(Strict):
    """A WAV file to feed as the microphone's sound (path relative to the scenario file)."""

    file: str = Field(min_length=1, description="Path of a 16-bit PCM WAV file, relative to the scenario file.")


class Device(Strict):
    """Capture devices the browser sees, and what the microphone hears."""

    microphone: CaptureState = Field(
        "default",
        description="default: a working fake microphone; none: no microphone at all (NotFoundError); busy: "
        "another application holds it (NotReadableError); overconstrained: the requested device or constraint "
        "cannot be satisfied (OverconstrainedError), e.g. a USB microphone that came back under a new id.",
    )
    camera: CaptureState = Field(
        "default",
        description="Only for scenarios that use the camera (writing a camera key makes the camera part of the "
        "case). default: a working fake camera; none: no camera (NotFoundError); busy: another application holds "
        "it (NotReadableError); overconstrained: the requested camera cannot be satisfied (OverconstrainedError).",
    )
    audio: Literal["default", "silent", "tone"] | AudioFile = Field(
        "default",
        description="What the microphone picks up: the engine's default fake signal, silence, a 440 Hz tone, "
        "or {file: path.wav}.",
    )


class PageSpec(Strict):
    """How the app is served and embedded."""

    origin: Literal["http-localhost", "https", "http-insecure"] = Field(
        "http-localhost",
        description="http-localhost: http://127.0.0.1 (a secure context); https: a self-signed certificate "
        "the harness trusts; http-insecure: plain http on a non-local host name, where navigator.mediaDevices "
        "is missing.",
    )
    embed: Literal["top", "iframe", "iframe-allow"] = Field(
        "top",
        description="top: the app is the page; iframe: inside a cross-origin iframe without allow=\"microphone\"; "
        "iframe-allow: inside a cross-origin iframe with allow=\"microphone\".",
    )


# Named link conditions, one-way figures applied in each direction (so round-trip delay is twice the
# latency). Chosen to land on either side of the quality thresholds voice SDKs warn at (Twilio Voice:
# RTT > 400 ms, jitter > 30 ms, packet loss > 1 %).
SHAPES: dict[str, dict[str, str]] = {
    "3g": {"latency": "250ms", "jitter": "20ms", "loss": "2%", "bandwidth": "750kbit",
           "about": "a mobile 3G link: slow (about 550 ms round trip), some loss, capped bandwidth"},
    "lossy-wifi": {"latency": "10ms", "jitter": "10ms", "loss": "15%",
                   "about": "congested Wi-Fi far from the access point: one packet in seven lost"},
    "satellite": {"latency": "300ms", "jitter": "5ms", "loss": "0.5%", "bandwidth": "2mbit",
                  "about": "a geostationary satellite hop: over 600 ms round trip"},
}

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(kbit|mbit)\s*$", re.IGNORECASE)
_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%?\s*$")


def _milliseconds(value: Any) -> float:
    """A delay that may be zero: ``"150ms"``, ``"0.2s"``, or a number of milliseconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        ms = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"'{value}' is not a delay; write it like '150ms' or '0.3s'")
        number, unit = float(match.group(1)), match.group(2) or "ms"
        ms = number if unit == "ms" else number * 1000 if unit == "s" else number * 60000
    if not 0 <= ms <= 5000:
        raise ValueError(f"{ms:g} ms is outside 0–5000 ms")
    return ms


class Shape(Strict):
    """Impairment of the call's media path (ICE, TURN, media; not the page or the signalling) in each direction
    between browser and servers: latency, jitter, loss, bandwidth."""

    latency: float = Field(0.0, description="One-way delay added in each direction, e.g. '150ms' (a number "
                           "is milliseconds).", json_schema_extra={"type": ["string", "number"]})
    jitter: float = Field(0.0, description="Random variation of that delay (standard deviation), e.g. '30ms'.",
                          json_schema_extra={"type": ["string", "number"]})
    loss: float = Field(0.0, description="Percent of packets dropped in each direction, e.g. '5%'.",
                        json_schema_extra={"type": ["string", "number"]})
    bandwidth: float | None = Field(None, description="Rate cap in each direction, e.g. '750kbit' or '2mbit' "
                                    "(a number is kbit/s).", json_schema_extra={"type": ["string", "number"]})

    @field_validator("latency", "jitter", mode="before")
    @classmethod
    def _delay(cls, value: Any) -> float:
        return _milliseconds(value)

    @field_validator("loss", mode="before")
    @classmethod
    def _percent(cls, value: Any) -> float:
        match = _PERCENT.match(str(value)) if not isinstance(value, bool) else None
        if not match or not 0 <= float(match.group(1)) <= 100:
            raise ValueError(f"'{value}' is not a loss percentage; write it like '5%' (0–100)")
        return float(match.group(1))

    @field_validator("bandwidth", mode="before")
    @classmethod
    def _rate(cls, value: Any) -> float | None:
        if value is None:
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            kbit = float(value)
        else:
            match = _RATE.match(str(value))
            if not match:
                raise ValueError(f"'{value}' is not a rate; write it like '750kbit' or '2mbit'")
            kbit = float(match.group(1)) * (1000 if match.group(2).lower() == "mbit" else 1)
        if not 8 <= kbit <= 1_000_000:
            raise ValueError(f"{kbit:g} kbit/s is outside 8 kbit/s – 1 Gbit/s")
        return kbit

    def describe(self) -> str:
        """``latency 150ms, jitter 30ms, loss 1%, 750kbit``."""
        parts = [f"latency {self.latency:g}ms" if self.latency else "", f"jitter {self.jitter:g}ms" if self.jitter
                 else "", f"loss {self.loss:g}%" if self.loss else "", f"{self.bandwidth:g}kbit" if self.bandwidth
                 else ""]
        return ", ".join(p for p in parts if p) or "no impairment"


def named_shape(name: str) -> Shape:
    """The :data:`SHAPES` entry as a :class:`Shape`."""
    return Shape(**{k: v for k, v in SHAPES[name].items() if k != "about"})


class Network(Strict):
    """The network between the browser and the app's media servers (the lab: real namespaces, a real
    TURN server and an aiortc peer the call connects to)."""

    turn: Literal["none", "udp", "tcp"] = Field("none", description="TURN server the app is given: none, or "
                                                "coturn reached over UDP or TCP.")
    policy: Literal["all", "relay"] = Field("all", description="The app's iceTransportPolicy: relay forces media "
                                            "through TURN.")
    udp: Literal["open", "blocked"] = Field("open", description="blocked: every UDP packet between browser and "
                                            "servers is dropped (a corporate firewall, a VPN that breaks UDP).")
    credentials: Literal["valid", "wrong"] = Field("valid", description="wrong: the app is given a bad TURN "
                                                   "password (TURN answers 401).")
    shape: Shape | Literal[tuple(SHAPES)] | None = Field(  # type: ignore[valid-type]
        None, description="Impair the call's media path (not the page or its signalling): a named profile ("
        + ", ".join(f"{k}: {v['about']}" for k, v in SHAPES.items())
        + ") or your own latency / jitter / loss / bandwidth.")

    def link_shape(self) -> Shape | None:
        """The impairment as numbers (a named profile looked up)."""
        return named_shape(self.shape) if isinstance(self.shape, str) else self.shape


class Given(Strict):
    """The conditions the case runs under."""

    permission: Permission = Field(Permission(), description="Permission states for the app's origin.")
    device: Device = Field(Device(), description="Capture devices the browser sees.")
    page: PageSpec = Field(PageSpec(), description="How the app is served and embedded.")
    network: Network | None = Field(None, description="Run the call through the network lab with these "
                                    "conditions (omit for cases without a call).")
    gesture: Literal["not-required", "required"] = Field(
        "not-required",
        description="required: getUserMedia outside a user gesture is rejected with NotAllowedError, as on iOS.",
    )
    use: str | list[str] | None = Field(None, description="Start from shared given blocks, by name: blocks are "
                                        "defined under 'givens:' in a givens.yaml next to the scenario or in a "
                                        "parent directory; keys written here win.")

    @property
    def uses_camera(self) -> bool:
        """Whether the scenario made the camera part of the case (by writing a camera key)."""
        return "camera" in self.permission.model_fields_set or "camera" in self.device.model_fields_set


class Fault(Strict):
    """Something that happens during the call."""

    after: Literal["microphone-acquired", "camera-acquired", "call-connected"] = Field(
        "microphone-acquired", description="When to inject it: once the app holds the microphone, once it holds "
        "the camera, or once the call is connected (the app's state becomes 'connected').")
    do: Literal["revoke-permission", "unplug-device", "unplug-camera", "drop-network"] = Field(
        description="revoke-permission: the user withdraws the microphone permission (the track ends, "
        "PermissionStatus fires 'change'); unplug-device: the microphone is unplugged (the track ends, "
        "'devicechange' fires, no microphone is listed); unplug-camera: the same for the camera (the scenario "
        "must use the camera); drop-network: every packet between browser and "
        "servers is dropped (Wi-Fi lost, a train in a tunnel) — needs given.network.")
    for_: Duration | None = Field(None, alias="for", description="drop-network only: restore the network "
                                  "after this long (e.g. '5s'); without it the network stays down.")

    @field_validator("for_", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float | None:
        return None if value is None else parse_duration(value)

    @model_validator(mode="after")
    def _for_needs_a_drop(self) -> Fault:
        if self.for_ is not None and self.do != "drop-network":
            raise ValueError(f"'for' only applies to drop-network (the network comes back after it), not to {self.do}")
        return self


class Step(Strict):
    """One user action; exactly one key."""

    click: str | None = Field(None, description="CSS selector to click (a real user gesture).")
    wait_for: str | None = Field(None, description="CSS selector to wait for until it is visible.")

    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "maxProperties": 1})

    @model_validator(mode="before")
    @classmethod
    def _one_action(cls, data: Any) -> Any:
        if isinstance(data, dict) and len(data) > 1 and set(data) <= set(cls.model_fields):
            raise ValueError(f"a step does one thing; split {', '.join(data)} into separate steps")
        return data

    @model_validator(mode="after")
    def _has_action(self) -> Step:
        if self.click is None and self.wait_for is None:
            raise ValueError(f"a step needs one action: {', '.join(type(self).model_fields)}")
        return self

    def describe(self) -> str:
        """``click '#call'``."""
        for name in type(self).model_fields:
            value = getattr(self, name)
            if value is not None:
                return f"{name} {value!r}"
        return "?"


class Connection(Strict):
    """The media path of the call, read from RTCPeerConnection.getStats()."""

    candidate: Literal["relay", "host", "srflx", "prflx"] | None = Field(
        None, description="Type of the local candidate of the selected pair (relay: through TURN).")
    relay_protocol: Literal["udp", "tcp"] | None = Field(None, description="How the browser reaches TURN.")
    media: bool | None = Field(None, description="true: audio packets arrived from the peer.")


class Telemetry(Strict):
    """What each error report sent to the app's telemetry endpoint must carry."""

    fields: list[str] = Field(min_length=1, description="Fields every report must have, not empty (e.g. [code, "
                              "name, browser]): what your analytics needs to tell one failure from another.")


# The keys of ``expect`` that check something (``within`` and ``hold`` only say for how long).
EXPECT_CHECKS = ("outcome", "code", "message", "alert", "state", "states", "warning", "microphone_request",
                 "microphone_released", "help", "fallback", "console", "telemetry", "connection")


class Expect(Strict):
    """What the app must show. ``outcome`` is looked up in the app profile; explicit keys override it."""

    model_config = ConfigDict(json_schema_extra={"anyOf": [{"required": [key]} for key in EXPECT_CHECKS]})

    outcome: Literal[(*OUTCOMES, "none")] | None = Field(  # type: ignore[valid-type]
        None,
        description="An outcome name resolved through the app profile to a code and message; 'none' means "
        "the app must show no error at all.",
    )
    code: str | None = Field(None, description="The error code the app must show (exact).")
    message: TextMatch | None = Field(None, description="The error message: a string (exact) or contains/regex.")
    alert: bool | None = Field(None, description="The message must be inside a role=alert / aria-live region.")
    state: str | None = Field(None, description="The app's state must become this (e.g. 'ready', 'failed').")
    warning: str | None = Field(None, description="A warning code the app must show (e.g. 'mic-silent'), or "
                                "'none' for no warning.")
    states: list[str] | None = Field(None, description="States the app must pass through, in this order "
                                     "(others may come between), e.g. [reconnecting, connected] for a call that "
                                     "recovers.")
    microphone_request: Literal["never", "on-gesture"] | None = Field(
        None, description="never: the app must not call getUserMedia at all (e.g. it knows the permission is "
        "blocked); on-gesture: every getUserMedia call must come from a user gesture (not at load or from a timer).")
    microphone_released: Literal[True] | None = Field(
        None, description="true: by the time the rest is shown (the call hung up or failed, the error shown), "
        "every capture track the app obtained (microphone, and camera in a video call) is released: stopped by "
        "the app, or ended by the browser. A track left live keeps the browser's recording indicator on after "
        "the call. The app may finish releasing within 'within'; a case where the app obtained no track fails.")
    help: TextMatch | dict[Literal[ENGINES], TextMatch] | None = Field(  # type: ignore[valid-type]
        None, description="The recovery steps shown with the error (the app's surface.help element): one text "
        "for every engine, or one per engine, because each browser's settings are reached differently "
        "(chromium: {contains: 'Site settings'}, firefox: …). An engine the mapping leaves out is not checked.")
    fallback: bool | None = Field(None, description="true: the app offers its fallback (surface.fallback, e.g. a "
                                  "'continue in text chat' link) and it is visible; false: it offers none.")
    console: TextMatch | bool | None = Field(
        None, description="A console line the app must log: a text to match, or true for the app's own error "
        "line (surface.console) carrying the expected code.")
    telemetry: bool | Telemetry | None = Field(
        None, description="true: the error (with the expected code) must be reported to the app's telemetry "
        "endpoint; false: nothing may be reported; {fields: [...]}: reported, and each report carries these "
        "fields, not empty.")
    connection: Connection | None = Field(None, description="What the call's selected ICE candidate pair must be "
                                          "(from getStats).")
    within: Duration = Field(5.0, description="How long the app has to show it (e.g. '3s', '500ms'), counted from "
                             "the last click of 'when' (not the time it waited for its element; a wait_for after "
                             "it counts), or from the page load without one; with 'during', from the last fault, "
                             "and each fault's moment must come within it too.")
    hold: Duration | None = Field(None, description="Once everything matches, it must keep matching this long "
                                  "(e.g. no false warning, no error while a prompt stays open).")

    @field_validator("code", mode="before")
    @classmethod
    def _code_as_text(cls, value: Any) -> Any:
        # Twilio codes are numbers in YAML (31208) but the app shows text; compare as text.
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value

    @field_validator("within", "hold", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float | None:
        return None if value is None else parse_duration(value)

    @model_validator(mode="after")
    def _says_something(self) -> Expect:
        if all(getattr(self, k) is None for k in EXPECT_CHECKS):
            raise ValueError(f"nothing to check; give at least one of: {', '.join(EXPECT_CHECKS)}")
        return self

    @field_validator("help", mode="before")
    @classmethod
    def _help_engines(cls, value: Any) -> Any:
        # A mapping is either one text match (exact/contains/regex) or engine → text; say which engine is
        # unknown rather than letting both readings complain.
        if isinstance(value, dict) and not set(value) <= {"exact", "contains", "regex"}:
            unknown = [str(k) for k in value if k not in ENGINES]
            if unknown:
                raise ValueError(f"'{unknown[0]}' is not an engine; give one text for every engine, or one per "
                                 f"engine: {', '.join(ENGINES)}")
        return value

    def help_for(self, engine: str) -> TextMatch | None:
        """The recovery-steps text to check on ``engine`` (None: not checked there)."""
        return self.help.get(engine) if isinstance(self.help, dict) else self.help


MatrixValue = str | int | float | bool | None  # one value a matrix variable takes

_TAG = re.compile(r"^[a-z][a-z0-9_-]*$")
_RESERVED_TAGS = {"and", "or", "not", "skip", "skipif", "xfail", "parametrize", "usefixtures", "filterwarnings"}


class Link(Strict):
    """A link shown in the report (an issue, a test-management case, a vendor article)."""

    url: str = Field(description="Where the link points.")
    name: str | None = Field(None, description="Text shown (default: the URL).")
    type: Literal["issue", "tms", "link"] = Field("link", description="Allure link type.")


class Scenario(Strict):
    """One situation to reproduce and the behaviour the app must show in it."""

    name: str = Field(min_length=1, description="Unique title; the test id is '<name>[<engine>]'.")
    description: str = Field("", description="Which real-world situation this models.")
    severity: Severity = Field(Severity.normal, description="How bad it is when this fails (Allure severity).")
    tags: list[str] = Field(default_factory=list, description="Become pytest markers (select with -m).")
    engines: list[Literal[ENGINES]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(ENGINES), min_length=1, description="Engines to run on (default: all)."
    )
    profiles: list[str] | None = Field(
        None, min_length=1, description="App profiles this scenario is written for (e.g. [acs-calling] for a "
        "behaviour of one SDK); under any other profile its cases are skipped as not applicable. Default: all.")
    links: list[Link] = Field(default_factory=list, description="Issues, test cases or articles shown in the report.")
    given: Given = Field(Given(), description="The conditions to reproduce (default: microphone allowed and present).")
    when: list[Step] = Field(
        default_factory=lambda: [Step(click="#call")],
        description="User actions, in order (default: click '#call').",
    )
    during: list[Fault] = Field(default_factory=list, description="Faults injected mid-call, in order.")
    expect: Expect = Field(description="What the app must show.")
    matrix: dict[str, list[MatrixValue]] | list[dict[str, MatrixValue]] | None = Field(
        None, description="Expand this scenario into one case per value (a mapping of variable → list of values: "
        "every combination) or per row (a list of variable: value mappings); '{variable}' in any text is "
        "replaced, and the name must tell the cases apart.")

    @field_validator("name")
    @classmethod
    def _name_is_one_line(cls, value: str) -> str:
        if "\n" in value or "[" in value or "]" in value or "::" in value:
            raise ValueError("a name is one line without '[', ']' or '::' (they are part of test ids)")
        return value.strip()

    @field_validator("tags")
    @classmethod
    def _tags_are_markers(cls, value: list[str]) -> list[str]:
        for tag in value:
            if tag in ENGINES:
                raise ValueError(f"tag {tag!r} is an engine's name, and engine names are already markers (-m "
                                 f"{tag} selects the cases that run on {tag}); to run this scenario on {tag} "
                                 f"only, write engines: [{tag}]")
            if not _TAG.match(tag) or tag in _RESERVED_TAGS:
                raise ValueError(
                    f"tag {tag!r} cannot be a pytest marker; use lower-case letters, digits, '-' or '_', "
                    f"starting with a letter, and none of {', '.join(sorted(_RESERVED_TAGS))}"
                )
        return value

    @field_validator("engines")
    @classmethod
    def _no_repeats(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("an engine is listed twice")
        return value

    @model_validator(mode="after")
    def _faults_need_their_parts(self) -> Scenario:
        if self.given.network is None and any(f.do == "drop-network" for f in self.during):
            raise ValueError("drop-network needs a call through the network lab: add given.network "
                             "(e.g. network: {turn: none})")
        if not self.given.uses_camera and any(f.do == "unplug-camera" for f in self.during):
            raise ValueError("unplug-camera needs a camera in the case: add given.device.camera: default "
                             "(and a step that starts video, e.g. click: '#video-call')")
        return self


class ScenarioFile(Strict):
    """A file holding several scenarios (a file may also be one scenario at top level)."""

    scenarios: list[Scenario] = Field(min_length=1)


class SharedGivens(Strict):
    """A givens.yaml: named given blocks that scenarios in this directory and below reuse with 'use:'."""

    givens: dict[str, Given] = Field(min_length=1, description="Block name → the conditions it sets.")
