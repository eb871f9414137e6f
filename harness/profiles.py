"""App profiles: map outcome names (``permission-denied``) to the code and message an SDK or widget shows."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from pydantic import Field, ValidationError

from harness import yamlpos
from harness.errors import InputError, Position, Problem
from harness.model import OUTCOMES, Strict, TextMatch
from harness.validation import problems_from

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
        raise InputError([doc.problem(("outcomes", o), f"unknown outcome '{o}' in profile '{profile.name}'",
                                      f"outcomes are: {', '.join(OUTCOMES)}", key=True) for o in unknown])
    return profile


@cache
def builtin_profiles() -> dict[str, Profile]:
    """The profiles shipped with mediafault, by name."""
    profiles = [load_profile(p) for p in sorted(BUILTIN_DIR.glob("*.yaml"))]
    return {p.name: p for p in profiles}


def get_profile(name: str, extra_dirs: tuple[Path, ...] = ()) -> Profile:
    """A profile by name: user profile directories first, then the built-in ones."""
    for directory in extra_dirs:
        for path in sorted(directory.glob("*.yaml")):
            profile = load_profile(path)
            if profile.name == name:
                return profile
    profiles = builtin_profiles()
    if name not in profiles:
        raise InputError([Problem(Position(Path("<profile>"), 0, 0), f"unknown app profile '{name}'",
                                  f"built-in profiles: {', '.join(profiles)}")])
    return profiles[name]
