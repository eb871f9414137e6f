"""Compare what the app showed with what the scenario expects. Pure: no browser, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from harness.app.profiles import Profile
from harness.run.observation import Observation
from harness.scenario.model import Connection, Expect, Telemetry, TextMatch


@dataclass(frozen=True)
class Expected:
    """An expectation with the outcome resolved through the app profile."""

    no_error: bool = False
    code: str | None = None
    message: TextMatch | None = None
    alert: bool | None = None
    state: str | None = None
    states: tuple[str, ...] | None = None
    warning: str | None = None
    microphone_request: str | None = None
    microphone_released: bool | None = None
    help: TextMatch | None = None
    fallback: bool | None = None
    console: TextMatch | bool | None = None
    telemetry: bool | Telemetry | None = None
    connection: Connection | None = None
    within: float = 5.0
    hold: float | None = None
    outcome: str | None = None


def resolve(expect: Expect, profile: Profile, engine: str | None = None) -> Expected:
    """Fill code and message from the profile when the scenario names an outcome (explicit keys win), and
    pick the recovery-steps text for ``engine``."""
    code, message = expect.code, expect.message
    if expect.outcome and expect.outcome != "none":
        surface = profile.surface(expect.outcome, engine)
        if surface is None:
            raise LookupError(f"app profile '{profile.name}' has no code for outcome '{expect.outcome}'")
        code = code if code is not None else surface.code
        message = message if message is not None else surface.message
    return Expected(
        no_error=expect.outcome == "none", code=code, message=message, alert=expect.alert, state=expect.state,
        states=tuple(expect.states) if expect.states is not None else None, warning=expect.warning,
        microphone_request=expect.microphone_request, microphone_released=expect.microphone_released,
        help=expect.help_for(engine) if engine else None, fallback=expect.fallback, console=expect.console,
        telemetry=expect.telemetry, connection=expect.connection, within=expect.within, hold=expect.hold,
        outcome=expect.outcome,
    )


@dataclass(frozen=True)
class Check:
    """One line of the expected-vs-observed table."""

    what: str
    expected: str
    observed: str
    ok: bool


@dataclass(frozen=True)
class Verdict:
    """The judge's answer: every check, and for a failure the category a report sorts it into."""

    checks: tuple[Check, ...]
    category: str | None = None  # "wrong code", "wrong message", "nothing surfaced", "surfaced too late", …
    hints: tuple[str, ...] = ()  # what to change when the cause may be the setup, not the app (see run.hints)

    @property
    def passed(self) -> bool:
        """True when every check holds."""
        return all(c.ok for c in self.checks)

    def table(self) -> str:
        """The expected-vs-observed table as aligned text."""
        rows = [("", "check", "expected", "observed")] + [
            ("ok" if c.ok else "FAIL", c.what, c.expected, c.observed) for c in self.checks
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(3)]
        lines = [f"  {r[0]:<{widths[0]}}  {r[1]:<{widths[1]}}  {r[2]:<{widths[2]}}  {r[3]}".rstrip() for r in rows]
        return "\n".join(lines + [f"  hint: {hint}" for hint in self.hints])


def _shown(text: str | None) -> str:
    return "(nothing)" if text is None else repr(text)


# A live region that interrupts to announce: what a role=alert promise means. A polite region
# (role=status, aria-live=polite) waits until the user is idle, so an error there is not an alert.
ASSERTIVE_REGIONS = ("role=alert", "aria-live=assertive")


def console_lines_matching(pattern: str | None, lines: list[str]) -> list[re.Match[str]]:
    """Console lines that match the app's error-line pattern."""
    if not pattern:
        return []
    rx = re.compile(pattern)
    return [m for m in (rx.search(line) for line in lines) if m]


def judge(expected: Expected, obs: Observation, console_pattern: str | None = None) -> Verdict:
    """Every check the expectation asks for, with what was observed."""
    snap = obs.snapshot
    checks: list[Check] = []
    if expected.no_error:
        checks.append(Check("no error", "no error shown", "no error shown" if not snap.surfaced()
                            else f"{_shown(snap.code)} {_shown(snap.message)}", not snap.surfaced()))
    if expected.code is not None:
        checks.append(Check("code", repr(expected.code), _shown(snap.code), snap.code == expected.code))
    if expected.message is not None:
        checks.append(Check("message", expected.message.describe(), _shown(snap.message),
                            expected.message.matches(snap.message)))
    if expected.alert is not None:
        in_alert = snap.region in ASSERTIVE_REGIONS and snap.message is not None
        observed = snap.region or "not in a live region"
        if snap.region and snap.region not in ASSERTIVE_REGIONS:
            observed += " (polite: announced only when the user is idle)"
        checks.append(Check("alert region", "in role=alert / aria-live=assertive" if expected.alert
                            else "not announced as an alert", observed, in_alert == expected.alert))
    if expected.state is not None:
        checks.append(Check("state", repr(expected.state), _shown(snap.state), snap.state == expected.state))
    if expected.states is not None:
        checks.append(_states(expected.states, obs.states))
    if expected.warning is not None:
        shown = snap.warnings()
        ok = not shown if expected.warning == "none" else expected.warning in shown
        checks.append(Check("warning", repr(expected.warning), _shown(snap.warning), ok))
    if expected.microphone_request is not None:
        checks.append(_microphone_request(expected.microphone_request, obs))
    if expected.microphone_released:
        checks.append(_microphone_released(obs.captures))
    if expected.connection is not None:
        checks += _connection(expected.connection, obs.stats)
    if expected.help is not None:
        checks.append(Check("help", expected.help.describe(), _shown(snap.help), expected.help.matches(snap.help)))
    if expected.fallback is not None:
        checks.append(Check("fallback", "offered" if expected.fallback else "not offered",
                            "offered" if snap.fallback else "not offered", snap.fallback == expected.fallback))
    if isinstance(expected.console, TextMatch):
        hit = next((line for line in obs.console if expected.console.matches(line)), None)
        last = obs.console[-1] if obs.console else None
        checks.append(Check("console", expected.console.describe(), repr(hit) if hit else
                            f"no such line (last: {_shown(last)})", hit is not None))
    elif expected.console is not None:
        checks.append(_error_line(expected.console, expected.code, obs.console, console_pattern))
    if expected.telemetry is not None:
        checks.append(_telemetry(expected.telemetry, expected.code, obs.telemetry))
    if all(c.ok for c in checks):
        return Verdict(tuple(checks))
    # Nothing the app showed can be judged once its page is gone: that, not the surface, is the news.
    return Verdict(tuple(checks), "page left the app" if obs.left else _category(checks, snap.surfaced()))


def _error_line(wanted: bool, code: str | None, lines: list[str], pattern: str | None) -> Check:
    """The app's own error line (the surface's console pattern), with the expected code when the pattern
    has a ``code`` group."""
    if not pattern:
        return Check("console", "the app's error line", "no surface.console pattern in the app config", False)
    matches = console_lines_matching(pattern, lines)
    if code is not None and "code" in re.compile(pattern).groupindex:
        matches = [m for m in matches if m.group("code") == code]
    hit = matches[0].string if matches else None
    expected = f"error line with code {code!r}" if code is not None else "the app's error line"
    if not wanted:
        return Check("console", "no error line", repr(hit) if hit else "no error line", hit is None)
    last = lines[-1] if lines else None
    return Check("console", expected, repr(hit) if hit else f"no such line (last: {_shown(last)})", hit is not None)


def _telemetry(wanted: bool | Telemetry, code: str | None, reports: list[dict[str, Any]]) -> Check:
    """Error reports to the telemetry endpoint: any (with the expected code), none, or with these fields."""
    sent = [t for t in reports if not code or str(t.get("code")) == code]
    observed = f"{len(reports)} report(s)" + (f", codes {[t.get('code') for t in reports]}" if reports else "")
    if wanted is False:
        return Check("telemetry", "nothing reported", observed, not reports)
    if wanted is True:
        return Check("telemetry", "error reported", observed, bool(sent))
    fields = wanted.fields
    complete = [t for t in sent if all(t.get(f) not in (None, "") for f in fields)]
    if sent and not complete:
        missing = sorted({f for t in sent for f in fields if t.get(f) in (None, "")})
        observed += f", without {', '.join(missing)}"
    return Check("telemetry", f"error reported with {', '.join(fields)}", observed, bool(complete))


def _connection(want: Connection, stats: dict[str, Any]) -> list[Check]:
    out = []
    if want.candidate is not None:
        got = stats.get("candidate")
        out.append(Check("selected candidate", want.candidate, got or "no selected pair", got == want.candidate))
    if want.relay_protocol is not None:
        got = stats.get("relayProtocol")
        out.append(Check("relay protocol", want.relay_protocol, got or "none", got == want.relay_protocol))
    if want.media is not None:
        packets = int(stats.get("packetsReceived") or 0)
        out.append(Check("media received", "audio packets" if want.media else "none", f"{packets} packets",
                         (packets > 0) == want.media))
    return out


def _states(wanted: tuple[str, ...], seen: list[str]) -> Check:
    """The wanted states appear in ``seen`` in this order (others may come between)."""
    position = 0
    for state in seen:
        if position < len(wanted) and state == wanted[position]:
            position += 1
    return Check("states", " → ".join(wanted), " → ".join(seen) or "(none)", position == len(wanted))


def _microphone_request(rule: str, obs: Observation) -> Check:
    calls = [str(e.get("detail") or "") for e in obs.timeline if e.get("event") == "getUserMedia"]
    outside = [c for c in calls if c.endswith("(no user gesture)")]
    if rule == "never":
        return Check("microphone request", "no getUserMedia call", f"{len(calls)} call(s)", not calls)
    observed = f"{len(calls)} call(s), {len(outside)} without a user gesture" if calls else "no call"
    return Check("microphone request", "only from a user gesture", observed, bool(calls) and not outside)


def _microphone_released(captures: list[dict[str, Any]]) -> Check:
    """Every capture track the app obtained is stopped or ended. No track at all fails: the check is about
    a call that had the microphone, and passing on nothing would hide an observer that saw nothing."""
    expected = "every capture track stopped"
    if not captures:
        return Check("microphone released", expected, "no capture track obtained", False)
    live = [t for t in captures if not t.get("stopped") and t.get("readyState") != "ended"]
    observed = f"{len(captures) - len(live)} of {len(captures)} stopped"
    if live:
        observed += ", still live: " + ", ".join(f"{t.get('kind')} {t.get('label')!r}" for t in live)
    return Check("microphone released", expected, observed, not live)


def _category(checks: list[Check], surfaced: bool) -> str:
    failing = {c.what for c in checks if not c.ok}
    if not surfaced and ({"code", "message"} & failing):
        return "nothing surfaced"
    if "code" in failing:
        return "wrong code"
    if "message" in failing:
        return "wrong message"
    if "no error" in failing:
        return "unexpected error"
    return f"wrong {sorted(failing)[0]}"
