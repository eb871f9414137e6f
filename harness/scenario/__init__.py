"""The scenario language: YAML with positions (yamlpos) → expanded scenarios (expand: matrices and
``use:``) → validated typed models (model, validation) → scenarios that remember their file:line:col
(loader); and the JSON Schema generated from the models (schema).

May use: harness.core. Must not know: the app, browsers, how a case runs, pytest or reports."""

from __future__ import annotations
