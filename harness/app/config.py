"""How to reach the app under test and how to read what it shows (declared once per app)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationError, field_validator, model_validator

from harness.core.errors import InputError
from harness.core.resources import bundled
from harness.scenario import yamlpos
from harness.scenario.loader import CONFIG_NAMES
from harness.scenario.model import Strict
from harness.scenario.validation import problems_from

BUNDLED_APP = bundled("fixtures") / "app"


class Surface(Strict):
    """Where the app shows its state and errors. Selectors are CSS; attributes win over text when set."""

    code: str = Field("#error-code", description="Element holding the error code.")
    code_attribute: str | None = Field("data-error-code", description="Read the code from this attribute.")
    message: str = Field("#error-message", description="Element holding the error message.")
    state: str | None = Field("#status", description="Element holding the app's state.")
    state_attribute: str | None = Field("data-state", description="Read the state from this attribute.")
    warning: str | None = Field("#warning", description="Element holding a non-fatal warning (e.g. silent mic).")
    warning_attribute: str | None = Field("data-warning-code", description="Read the warning code from this "
                                          "attribute (several active warnings: codes separated by spaces).")
    help: str | None = Field("#error-help", description="Element holding the recovery steps shown with an error "
                             "(expect.help).")
    fallback: str | None = Field("#chat-fallback", description="The fallback the app offers when the microphone "
                                 "cannot be used, e.g. a text-chat link (expect.fallback: it counts when visible).")
    console: str | None = Field(
        r"^\[softphone\] error (?P<code>\S+): (?P<message>.*)$",
        description="Regex for the console line the app logs on an error (named groups code, message).",
    )
    telemetry: str | None = Field(
        "/telemetry", description="Path (or URL substring) of the endpoint the app reports errors to."
    )


class AppConfig(Strict):
    """The app under test. Without ``url`` the bundled softphone is served by the harness."""

    url: str | None = Field(None, description="The app's URL; omit to use the bundled app (or 'dir').")
    dir: str | None = Field(None, description="A directory of static files the harness serves on loopback "
                            "(relative to this config file); its index.html is the app.")
    profile: str = Field("generic", description="App profile mapping outcomes to codes and messages.")
    surface: Surface = Surface()
    profiles_dir: str | None = Field(None, description="Directory of your own profile YAML files.")

    @model_validator(mode="after")
    def _one_source(self) -> AppConfig:
        if self.url and self.dir:
            raise ValueError("give either 'url' (a running app) or 'dir' (static files to serve), not both")
        return self

    @field_validator("url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value


def find_config(start: Path) -> Path | None:
    """``mediafault.yaml`` in ``start`` or the nearest parent that has one."""
    for directory in (start, *start.parents):
        for name in CONFIG_NAMES:
            if (directory / name).is_file():
                return directory / name
    return None


def load_config(path: Path | None) -> tuple[AppConfig, Path | None]:
    """The ``app:`` section of a config file, or the defaults (bundled app) when there is none."""
    if path is None:
        return AppConfig(), None
    doc = yamlpos.load(path)
    data = doc.data if isinstance(doc.data, dict) else {}
    if set(data) - {"app"}:
        extra = sorted(set(data) - {"app"})[0]
        raise InputError([doc.problem((extra,), f"unknown key '{extra}' in {path.name}",
                                      "the config file has one section: 'app:'", key=True)])
    try:
        return AppConfig.model_validate(data.get("app") or {}), path
    except ValidationError as exc:
        raise InputError(problems_from(exc, doc, AppConfig, ("app",))) from None
