"""``mediafault init``: a config and a starter set of scenarios for the user's own app.

The answers (where the app is, how it shows errors, which profile) come from flags or, on a terminal,
from questions; they are checked with the same models the harness loads, so what ``init`` writes is
valid by construction. Existing files are never overwritten without ``--force``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from harness.app.config import AppConfig, Surface
from harness.app.profiles import BUILTIN_DIR, builtin_profiles
from harness.core.errors import MediafaultError
from harness.scenario.schema import scenario_schema

Ask = Callable[[str, str], str]  # (question, default) → answer
# (url, app dir, call button or None) → the proposed surface, or None when detection could not say
Detect = Callable[[str | None, str | None, str | None], "Proposal | None"]
SCHEMA_FILE = "scenario.schema.json"
_PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9@._-]*$")


class InitError(MediafaultError):
    """An answer or flag ``init`` cannot use; the message says what to give instead."""


@dataclass(frozen=True)
class Proposal:
    """``surface:`` settings proposed from what the app really showed (found by a browser elsewhere)."""

    page: str  # where they were seen
    call_button: str
    surface: dict[str, str | None]


@dataclass
class Answers:
    """Everything ``init`` needs to know about the app."""

    url: str | None = None
    app_dir: str | None = None
    profile: str = "generic"
    call_button: str = "#call"
    surface: dict[str, str | None] = field(default_factory=dict)  # only what differs from the defaults
    detected_from: str | None = None  # the page the surface was detected on, when nobody confirmed it


# (Surface key, question, flag name)
SURFACE_QUESTIONS: tuple[tuple[str, str, str], ...] = (
    ("code", "CSS selector of the element that shows the error code", "code"),
    ("code_attribute", "attribute of that element holding the code ('-' to read its text)", "code_attribute"),
    ("message", "CSS selector of the element that shows the error message", "message"),
    ("state", "CSS selector of the element that shows the app's state ('-' for none)", "state"),
    ("state_attribute", "attribute of that element holding the state ('-' to read its text)", "state_attribute"),
    ("console", "regular expression for the console line the app logs on an error "
                "(named groups code and message; '-' for none)", "console"),
    ("telemetry", "path (or URL part) of the endpoint the app reports errors to ('-' for none)", "telemetry"),
)


# Asked only when detection proposed a value: the defaults suit most apps that have no state element.
_ONLY_WHEN_DETECTED = {"state", "state_attribute"}


def gather(flags: dict[str, str | None], ask: Ask | None, detect: Detect | None = None) -> Answers:
    """Answers from ``flags``, asking (when ``ask`` is given) for what the flags leave open. ``detect``, once
    the app's place is known, proposes the surface and the call button: they become the questions' defaults
    (confirmed on a terminal) or, without a terminal, the answers."""
    answers = Answers()
    url, app_dir = flags.get("url"), flags.get("app_dir")
    if url and app_dir:
        raise InitError("give either --url (a running app) or --app-dir (static files to serve), not both")
    if not url and not app_dir:
        if ask is None:
            raise InitError("where is the app? give --url URL (a running app) or --app-dir DIR (its static files, "
                            "served by the harness on loopback)")
        where = ""
        while not where:
            where = ask("App URL (http://…) or a directory of static files", "").strip()
        if where.startswith(("http://", "https://")):
            url = where
        else:
            app_dir = where
    if url and not url.startswith(("http://", "https://")):
        raise InitError(f"--url {url!r} is not an http(s) URL; for static files give --app-dir")
    if app_dir and not (Path(app_dir) / "index.html").is_file():
        raise InitError(f"{app_dir}: no index.html there; --app-dir is the directory your app's index.html is in")
    answers.url, answers.app_dir = url, app_dir
    if flags.get("console") not in (None, "-", ""):  # a bad flag stops init before any browser starts
        _check_console(str(flags["console"]).strip())
    proposal = detect(url, app_dir, flags.get("call_button")) if detect is not None else None
    proposed = proposal.surface if proposal is not None else {}
    defaults = Surface()
    for key, question, flag in SURFACE_QUESTIONS:
        default = base = getattr(defaults, key)
        if key in proposed:
            default = proposed[key]
        elif key in _ONLY_WHEN_DETECTED:
            continue
        value = flags.get(flag)
        if value is None and ask is not None:
            value = ask(question, "-" if default is None else str(default))
        if value is None and key in proposed:
            value = "-" if default is None else default
        if value is None:
            continue
        cleaned = None if value.strip() in ("-", "") else value.strip()
        if key == "console" and cleaned is not None:
            _check_console(cleaned)
        if cleaned != base:
            answers.surface[key] = cleaned
    if proposal is not None:
        answers.call_button = proposal.call_button
        answers.detected_from = None if ask is not None else proposal.page
    button = flags.get("call_button")
    if button is None and ask is not None:
        button = ask("CSS selector of the button that starts a call (the scenarios click it)", answers.call_button)
    answers.call_button = (button or answers.call_button).strip()
    profile = flags.get("profile")
    if profile is None and ask is not None:
        profile = ask(f"app profile: one of {', '.join(builtin_profiles())}, or a new name for your own", "generic")
    answers.profile = (profile or "generic").strip()
    if not _PROFILE_NAME.match(answers.profile):
        raise InitError(f"{answers.profile!r} cannot be a profile name; use letters, digits and @ . _ -")
    return answers


def _check_console(pattern: str) -> None:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise InitError(f"the console pattern {pattern!r} is not a regular expression: {exc}") from None
    if "code" not in compiled.groupindex:
        raise InitError(f"the console pattern {pattern!r} needs a named group (?P<code>…) for the error code")


def files_for(answers: Answers, target: Path) -> dict[Path, str]:
    """Every file ``init`` writes, with its text (nothing is written here)."""
    app: dict[str, object] = {}
    if answers.url:
        app["url"] = answers.url
    else:
        assert answers.app_dir is not None
        app["dir"] = _relative(Path(answers.app_dir), target)
    app["profile"] = answers.profile
    custom = answers.profile not in builtin_profiles()
    if custom:
        app["profiles_dir"] = "profiles"
    if answers.surface:
        app["surface"] = answers.surface
    try:  # the same check the harness makes when it loads the file
        AppConfig.model_validate(app)
    except ValidationError as exc:
        raise InitError(f"the answers do not make a valid config: {exc.errors()[0]['msg']}") from None
    detected = ""
    if answers.detected_from and answers.surface:
        detected = (f"# surface: detected by 'mediafault init' on {answers.detected_from}:\n"
                    f"#   what the app showed when the microphone was denied after a click on {answers.call_button}.\n"
                    "#   Nobody has confirmed it yet: check it.\n")
    config = ("# mediafault: the app under test and how it shows errors (see docs/your-own-app.md).\n" + detected
              + yaml.safe_dump({"app": app}, sort_keys=False, allow_unicode=True, width=100))
    files = {target / "mediafault.yaml": config,
             target / SCHEMA_FILE: json.dumps(scenario_schema(), indent=2) + "\n"}
    if custom:
        generic = (BUILTIN_DIR / "generic.yaml").read_text(encoding="utf-8")
        body = generic.split("\noutcomes:", 1)[1]
        files[target / "profiles" / f"{answers.profile}.yaml"] = (
            f"# Your app's own codes and messages for each outcome. Started from the 'generic' profile:\n"
            f"# change each code and message to what your app shows.\n"
            f"name: {answers.profile}\ndescription: {answers.profile}'s error codes and messages.\n"
            f"outcomes:{body}")
    files.update(_starter_scenarios(target / "scenarios", answers.call_button))
    return files


def _relative(path: Path, target: Path) -> str:
    """``path`` as the config should say it: relative to the config's directory when it is below it."""
    full = path.resolve()
    try:
        return full.relative_to(target.resolve()).as_posix() or "."
    except ValueError:
        return str(full)


def _header(path: Path, scenarios: Path) -> str:
    schema = os.path.relpath(scenarios.parent / SCHEMA_FILE, path.parent)
    return f"# yaml-language-server: $schema={Path(schema).as_posix()}\n"


def _starter_scenarios(scenarios: Path, button: str) -> dict[Path, str]:
    when = f"when:\n  - click: {json.dumps(button)}\n"
    texts = {
        scenarios / "permission" / "granted.yaml": f"""\
name: Microphone allowed, call can start
description: >
  The baseline: the user allowed the microphone and a working one is plugged in. Clicking the call
  button must not show an error. If this fails, every other result is suspect.
severity: blocker
tags: [baseline]
given:
  permission: {{microphone: granted}}
{when}expect:
  outcome: none
  within: 5s
""",
        scenarios / "permission" / "blocked.yaml": f"""\
# A matrix: one scenario, one case per row. {{by}} and {{state}} are filled in from each row.
name: "Microphone blocked {{by}}"
description: >
  The microphone is refused without a prompt: the user clicked "Block" on an earlier visit, or an
  administrator's policy blocks it. The app must say the microphone is blocked and how to allow it.
severity: critical
tags: [permission]
matrix:
  - {{by: for the site, state: denied}}
  - {{by: by company policy, state: policy}}
given:
  permission: {{microphone: "{{state}}"}}
{when}expect:
  outcome: permission-denied
  within: 3s
""",
        scenarios / "device" / "faults.yaml": f"""\
# A matrix whose rows also carry the expected outcome and the case's name.
name: "{{title}}"
description: "{{situation}}"
severity: critical
tags: [device]
matrix:
  - title: No microphone connected
    microphone: none
    outcome: device-not-found
    situation: A desktop with no microphone plugged in; getUserMedia rejects NotFoundError.
  - title: Microphone held by another application
    microphone: busy
    outcome: device-busy
    situation: Another app (Zoom, Teams, a softphone) holds the microphone; NotReadableError.
given:
  device: {{microphone: "{{microphone}}"}}
{when}expect:
  outcome: "{{outcome}}"
  within: 3s
""",
        scenarios / "givens.yaml": """\
# Shared given blocks: a scenario under scenarios/ starts from one with  given: {use: NAME}.
givens:
  iphone:
    # iOS Safari grants the microphone only to a request made from a user gesture (a tap).
    gesture: required
""",
        scenarios / "page" / "iphone.yaml": f"""\
name: Call from an iPhone
description: >
  iOS Safari grants the microphone only to a request made from a tap. An app that asks at page load
  or from a timer is refused there although the user never saw a prompt.
severity: critical
tags: [ios]
given:
  use: iphone                  # scenarios/givens.yaml
{when}expect:
  outcome: none
  within: 5s
""",
    }
    return {path: _header(path, scenarios) + text for path, text in texts.items()}


def write(files: dict[Path, str], force: bool) -> list[Path]:
    """Write ``files``; refuse (before writing anything) when one exists and ``force`` is off."""
    existing = [p for p in files if p.exists()]
    if existing and not force:
        shown = "\n  ".join(str(p) for p in existing)
        raise InitError(f"these files exist already:\n  {shown}\nnothing was written; use --force to overwrite "
                        "them, or --dir to start somewhere else")
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)


def terminal_ask(question: str, default: str) -> str:
    """Ask on the terminal; an empty answer takes the default."""
    shown = f" [{default}]" if default else ""
    answer = input(f"{question}{shown}: ").strip()
    return answer or default
