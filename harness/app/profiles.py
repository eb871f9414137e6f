"""App profiles: map outcome names (``permission-denied``) to the code and message an SDK or widget shows."""

from __future__ import annotations

import difflib
from functools import cache
from pathlib import Path

from pydantic import Field, ValidationError, model_validator

from harness.core.errors import InputError, Position, Problem
from harness.scenario import yamlpos
from harness.scenario.model import ENGINES, OUTCOMES, Strict, TextMatch
from harness.scenario.validation import problems_from

BUILTIN_DIR = Path(__file__).parent / "profiles"


class EngineSurface(Strict):
    """What one engine shows instead, where the SDK itself differs per browser (what it left out is as for
    every engine)."""

    code: str | None = None
    message: TextMatch | None = None

    @model_validator(mode="after")
    def _says_something(self) -> EngineSurface:
        if self.code is None and self.message is None:
            raise ValueError("an engine entry gives 'code', 'message' or both")
        return self


class OutcomeSurface(Strict):
    """The code and message one outcome shows in this profile."""

    code: str | None = Field(description="The code the SDK gives; null when its error has none (then only the "
                             "message is checked).")
    message: TextMatch
    engines: dict[str, EngineSurface] = Field(
        default_factory=dict, description="Per engine, the code or message the SDK shows there instead (measured "
        "with 'mediafault conformance'), e.g. firefox: {message: ...}.")
    documented_only: str | None = Field(
        None, description="Why this outcome cannot be verified against the real SDK offline (e.g. it needs a "
        "live call): its code and message come from the vendor's documentation only.")

    def on(self, engine: str | None) -> OutcomeSurface:
        """This outcome as ``engine`` shows it (its ``engines`` entry over the common code and message)."""
        special = self.engines.get(engine) if engine else None
        if special is None:
            return self
        return self.model_copy(update={"code": special.code if special.code is not None else self.code,
                                       "message": special.message if special.message is not None else self.message})


class Verified(Strict):
    """The real SDK a profile was checked against with 'mediafault conformance'."""

    package: str = Field(min_length=1, description="The SDK's npm package, e.g. twilio-client.")
    version: str = Field(min_length=1, description="The version the outcomes were verified with.")
    probe: str = Field(min_length=1, description="The probe page (a folder of fixtures/sdk-probes/) that loads it.")
    within: float = Field(10.0, gt=0, description="Seconds the probe may take to show an error.")
    engines: list[str] = Field(default_factory=lambda: list(ENGINES), description="The engines the SDK ran on "
                               "(an SDK that needs WebRTC does not start in a build without it).")


class Profile(Strict):
    """A named catalogue of outcome → code and message."""

    name: str = Field(min_length=1)
    description: str = ""
    outcomes: dict[str, OutcomeSurface]
    video: bool = Field(True, description="The app offers video; false for a voice-only SDK, whose cases that use "
                        "the camera are skipped as not applicable.")
    verified: Verified | None = Field(None, description="The real SDK this profile was checked against; outcomes "
                                      "not marked documented_only were verified with it.")

    def surface(self, outcome: str, engine: str | None = None) -> OutcomeSurface | None:
        """The code and message for ``outcome`` (as ``engine`` shows it), or None when the profile does not
        define it."""
        found = self.outcomes.get(outcome)
        return found.on(engine) if found is not None else None

    def provenance(self, outcome: str, engine: str) -> str:
        """Where ``outcome``'s code and message on ``engine`` come from, in a few words (``mediafault list``)."""
        entry = self.outcomes.get(outcome)
        if entry is None:
            return "not in the profile"
        if entry.documented_only:
            return f"documented only: {entry.documented_only}"
        if self.verified is None:
            return "not verified against an SDK"
        if engine not in self.verified.engines:
            return f"not verified on {engine} (the SDK did not run there)"
        return f"verified against {self.verified.package} {self.verified.version}"

    def summary(self) -> str:
        """One line on what this profile was verified against, and which outcomes."""
        documented = [o for o, s in self.outcomes.items() if s.documented_only]
        if self.verified is None:
            text = f"profile {self.name}: not verified against an SDK"
            return text + (f"; documented only: {', '.join(documented)}" if documented else "")
        sdk = self.verified
        return (f"profile {self.name}: verified against {sdk.package} {sdk.version} on {', '.join(sdk.engines)} "
                f"('mediafault conformance {self.name}', probe fixtures/sdk-probes/{sdk.probe}): "
                f"{', '.join(self.verified_outcomes())}"
                + (f"; documented only: {', '.join(documented)}" if documented else ""))

    def verified_outcomes(self) -> list[str]:
        """The outcomes checked against the real SDK (none without ``verified``)."""
        if self.verified is None:
            return []
        return [o for o, s in self.outcomes.items() if s.documented_only is None]


def load_profile(path: Path) -> Profile:
    """Load one profile file, checking that it only names known outcomes."""
    doc = yamlpos.load(path)
    try:
        profile = Profile.model_validate(doc.data)
    except ValidationError as exc:
        raise InputError(problems_from(exc, doc, Profile)) from None
    unknown = [o for o in profile.outcomes if o not in OUTCOMES]
    if unknown:
        raise InputError([doc.problem(("outcomes", o), f"unknown outcome '{o}' in profile '{profile.name}'"
                                      f"{_near(o, list(OUTCOMES))}",
                                      f"outcomes are: {', '.join(OUTCOMES)}", key=True) for o in unknown])
    strangers: list[tuple[tuple[str | int, ...], str, str]] = [
        (("outcomes", o, "engines", e), f"in outcome '{o}'", e)
        for o, s in profile.outcomes.items() for e in s.engines if e not in ENGINES]
    if profile.verified is not None:
        strangers += [(("verified", "engines", i), "in verified.engines", e)
                      for i, e in enumerate(profile.verified.engines) if e not in ENGINES]
    if strangers:
        raise InputError([doc.problem(at, f"unknown engine '{e}' {where}{_near(e, list(ENGINES))}",
                                      f"engines are: {', '.join(ENGINES)}", key=at[0] == "outcomes")
                          for at, where, e in strangers])
    return profile


def _near(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def user_profiles(directory: Path) -> dict[str, Profile]:
    """The profiles in a user's profiles directory, by name; two files with one name is an error."""
    if not directory.is_dir():
        raise InputError([Problem(Position(directory, 0, 0), "the profiles directory does not exist",
                                  "create it, or fix 'profiles_dir' in mediafault.yaml (it is relative to that "
                                  "file)")])
    found: dict[str, tuple[Profile, Path]] = {}
    problems: list[Problem] = []
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        try:
            profile = load_profile(path)
        except InputError as exc:
            problems += exc.problems
            continue
        if profile.name in found:
            problems.append(Problem(Position(path, 1, 1), f"profile '{profile.name}' is defined twice (also in "
                                    f"{found[profile.name][1].name})", "give each profile its own 'name:'"))
        found.setdefault(profile.name, (profile, path))
    if problems:
        raise InputError(problems)
    return {name: profile for name, (profile, _) in found.items()}


@cache
def builtin_profiles() -> dict[str, Profile]:
    """The profiles shipped with mediafault, by name."""
    profiles = [load_profile(p) for p in sorted(BUILTIN_DIR.glob("*.yaml"))]
    return {p.name: p for p in profiles}


def get_profile(name: str, extra_dirs: tuple[Path, ...] = (), config: Path | None = None) -> Profile:
    """A profile by name: user profile directories first, then the built-in ones. An unknown name is
    reported at ``app.profile`` of ``config`` when it is given."""
    mine: dict[str, Profile] = {}
    for directory in extra_dirs:
        for found, profile in user_profiles(directory).items():
            mine.setdefault(found, profile)
    if name in mine:
        return mine[name]
    profiles = builtin_profiles()
    if name not in profiles:
        known = [*mine, *profiles]
        hint = f"built-in profiles: {', '.join(profiles)}"
        if extra_dirs:
            hint += f"; yours ({', '.join(str(d) for d in extra_dirs)}): {', '.join(mine) or 'none'}"
        else:
            hint += "; for your own, set 'profiles_dir' in mediafault.yaml and put <name>.yaml there"
        message = f"unknown app profile '{name}'{_near(name, known)}"
        if config is not None and config.is_file():
            doc = yamlpos.load(config)
            raise InputError([doc.problem(("app", "profile"), message, hint)])
        raise InputError([Problem(Position(Path("<profile>"), 0, 0), message, hint)])
    return profiles[name]
