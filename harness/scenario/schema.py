"""The JSON Schema of scenario files, generated from the models (the single definition)."""

from __future__ import annotations

from typing import Any

from harness import __version__
from harness.scenario.model import Scenario, ScenarioFile, SharedGivens

PLACEHOLDER = {
    "type": "string",
    "pattern": r"^\{[A-Za-z_][A-Za-z0-9_-]*\}$",
    "description": "A matrix variable, e.g. '{permission}': the case's value goes here.",
}
# Keys whose value is never a template: the matrix itself, and the name/description (already any text).
_NOT_TEMPLATED = {"matrix"}


def scenario_schema() -> dict[str, Any]:
    """A schema accepting a file that is one scenario, has ``scenarios:`` or has ``givens:`` (shared
    given blocks); editors complete all three. Wherever a value is restricted (a choice, true/false, a
    duration), a matrix placeholder like ``"{permission}"`` is accepted too."""
    single = Scenario.model_json_schema(ref_template="#/$defs/{model}")
    many = ScenarioFile.model_json_schema(ref_template="#/$defs/{model}")
    shared = SharedGivens.model_json_schema(ref_template="#/$defs/{model}")
    defs = {**single.pop("$defs", {}), **many.pop("$defs", {}), **shared.pop("$defs", {})}
    defs["Scenario"] = single
    defs["SharedGivens"] = shared
    for model in defs.values():
        for key, prop in model.get("properties", {}).items():
            if key not in _NOT_TEMPLATED:
                model["properties"][key] = _templatable(prop, defs)
    given_default = defs["Scenario"]["properties"]["given"].get("default")
    if isinstance(given_default, dict):
        given_default.pop("use", None)  # "no shared block" is not worth showing as a default
    defs["Placeholder"] = PLACEHOLDER
    variable = {"pattern": r"^[A-Za-z_][A-Za-z0-9_-]*$"}
    for form in defs["Scenario"]["properties"]["matrix"]["anyOf"]:
        if form.get("type") == "object":  # variable → values: every combination
            form.update(propertyNames=variable, minProperties=1)
            form["additionalProperties"]["minItems"] = 1
        elif form.get("type") == "array":  # rows of variable: value
            form.update(minItems=1)
            form["items"].update(propertyNames=variable, minProperties=1)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://mediafault.dev/schema/{__version__}/scenario.json",
        "title": "mediafault scenario file",
        "description": "One scenario, or several under 'scenarios:'. See docs/scenario-format.md.",
        "oneOf": [{"$ref": "#/$defs/Scenario"}, {"$ref": "#/$defs/ScenarioFile"}, {"$ref": "#/$defs/SharedGivens"}],
        "$defs": {**defs, "ScenarioFile": many},
    }


_META = ("default", "description", "title")


def _restricted(alt: dict[str, Any], defs: dict[str, Any]) -> bool:
    """Whether this alternative rejects some text a placeholder could be (a choice, a pattern, non-text)."""
    if "$ref" in alt:
        return "enum" in defs.get(alt["$ref"].rsplit("/", 1)[-1], {})
    if "enum" in alt or "pattern" in alt or "const" in alt:
        return True
    return alt.get("type") in ("boolean", "number", "integer")


def _templatable(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """``prop`` that also accepts a matrix placeholder where it would otherwise refuse one."""
    if prop.get("type") == "array" and isinstance(prop.get("items"), dict):
        return {**prop, "items": _templatable(prop["items"], defs)}
    alternatives = prop["anyOf"] if "anyOf" in prop else [{k: v for k, v in prop.items() if k not in _META}]
    if any(a.get("type") == "string" and not _restricted(a, defs) for a in alternatives):
        return prop  # any text is already fine
    if not any(_restricted(a, defs) for a in alternatives):
        return prop  # a block (mapping) or list: placeholders stand for single values only
    meta = {k: v for k, v in prop.items() if k in _META}
    return {**meta, "anyOf": [*alternatives, {"$ref": "#/$defs/Placeholder"}]}
