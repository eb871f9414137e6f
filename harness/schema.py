"""The JSON Schema of scenario files, generated from the models (the single definition)."""

from __future__ import annotations

from typing import Any

from harness import __version__
from harness.model import Scenario, ScenarioFile


def scenario_schema() -> dict[str, Any]:
    """A schema accepting a file that is one scenario or has ``scenarios:`` (editors complete both)."""
    single = Scenario.model_json_schema(ref_template="#/$defs/{model}")
    many = ScenarioFile.model_json_schema(ref_template="#/$defs/{model}")
    defs = {**single.pop("$defs", {}), **many.pop("$defs", {})}
    defs["Scenario"] = single
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://mediafault.dev/schema/{__version__}/scenario.json",
        "title": "mediafault scenario file",
        "description": "One scenario, or several under 'scenarios:'. See docs/scenario-format.md.",
        "oneOf": [{"$ref": "#/$defs/Scenario"}, {"$ref": "#/$defs/ScenarioFile"}],
        "$defs": {**defs, "ScenarioFile": many},
    }
