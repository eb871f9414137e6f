"""App profiles: map outcome names (``permission-denied``) to the code and message an SDK or widget shows."""

from __future__ import annotations

import difflib
from functools import cache
from pathlib import Path

from pydantic import Field, ValidationError

from harness.core.errors import InputError, Position, Problem
from harness.scenario import yamlpos
from harness.scenario.model import OUTCOMES, Strict, TextMatch
from harness.scenario.validation import problems_from

BUILTIN_DIR = Path(__file__).parent / "profiles"


class OutcomeSurface(Strict):
    """The code and message one outcome shows in this profile."""

    code: str
    message: TextMatch


class Profile(Strict):
    """A named catalogue of outcome → code and message."""

    name: str = Field(min_length=1)
    description: str = ""
    outcomes: dict[str, OutcomeSurface]
    video: bool = Field(True, description="The app offers video; false for a voice-only SDK, whose cases that use "
                        "the camera are skipped as not applicable.")

    def surface(self, outcome: str) -> OutcomeSurface | None:
        """The code and message for ``outcome``, or None when the profile does not define it."""
        return self.outcomes.get(outcome)


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
