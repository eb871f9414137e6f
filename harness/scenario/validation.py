"""Turn pydantic validation errors into ``file:line:col`` problems people can act on."""

from __future__ import annotations

import difflib
import types
import typing
from enum import Enum
from typing import Any

from pydantic import BaseModel, ValidationError

from harness.core.errors import Problem
from harness.scenario.yamlpos import Loc, Located

_TYPE_WORDS = {
    "string_type": "a text",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _unwrap(annotation: Any) -> list[Any]:
    """The concrete types an annotation admits (Optional, unions, Annotated and lists are opened)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(annotation) for t in _unwrap(arg)]
    return [annotation]


def _model_at(root: type[BaseModel], loc: Loc) -> type[BaseModel] | None:
    """The model class that validates the mapping at ``loc`` (None when it is not a model)."""
    current: Any = root
    for part in loc:
        if isinstance(part, int):
            candidates = [t for t in _unwrap(current) if typing.get_origin(t) is list]
            if not candidates:
                return None
            current = typing.get_args(candidates[0])[0]
            continue
        mappings = [t for t in _unwrap(current) if typing.get_origin(t) is dict]
        if mappings:  # dict[str, Model]: any key leads to the value's model (givens.<name>)
            current = typing.get_args(mappings[0])[1]
            continue
        models = [t for t in _unwrap(current) if isinstance(t, type) and issubclass(t, BaseModel)]
        if not models or part not in models[0].model_fields:
            return None
        current = models[0].model_fields[part].annotation
    models = [t for t in _unwrap(current) if isinstance(t, type) and issubclass(t, BaseModel)]
    return models[0] if models else None


def _field_choices(root: type[BaseModel], loc: Loc) -> list[str]:
    """Allowed literal/enum values of the field at ``loc`` (for 'did you mean')."""
    parent = _model_at(root, loc[:-1]) if loc and isinstance(loc[-1], str) else None
    annotation: Any
    if parent is not None and isinstance(loc[-1], str):
        if loc[-1] not in parent.model_fields:  # a key of a mapping such as help's engine → text
            return []
        annotation = parent.model_fields[loc[-1]].annotation
    elif loc and isinstance(loc[-1], int):
        list_parent = _model_at(root, loc[:-2]) if len(loc) > 1 else root
        if list_parent is None or not isinstance(loc[-2], str):
            return []
        annotation = list_parent.model_fields[loc[-2]].annotation
        lists = [t for t in _unwrap(annotation) if typing.get_origin(t) is list]
        annotation = typing.get_args(lists[0])[0] if lists else None
    else:
        return []
    out: list[str] = []
    for t in _unwrap(annotation):
        if typing.get_origin(t) is typing.Literal:
            out += [str(a) for a in typing.get_args(t)]
        elif isinstance(t, type) and issubclass(t, Enum):
            out += [str(m.value) for m in t]
    return out


def where(loc: Loc) -> str:
    """``given.permission`` / ``when[2]`` / ``the scenario`` for messages."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "the scenario"


# Words people use for a value the language spells otherwise.
SYNONYMS = {"blocked": "denied", "block": "denied", "deny": "denied", "allow": "granted", "allowed": "granted",
            "grant": "granted", "ask": "prompt", "asking": "prompt", "missing": "none", "absent": "none",
            "in-use": "busy", "used": "busy", "http": "http-insecure", "iframe-allowed": "iframe-allow"}


def _suggest(word: str, choices: list[str]) -> str:
    if SYNONYMS.get(word.lower()) in choices:
        return f" (did you mean '{SYNONYMS[word.lower()]}'?)"
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


_MISMATCH = {"model_type", "model_attributes_type", "dict_type", "string_type"}


_SCALARS = ("str", "int", "float", "bool")  # pydantic's tags for the scalar members of a union


def _untagged(root: type[BaseModel], loc: Loc) -> tuple[Loc, bool]:
    """``loc`` without pydantic's union-member tags ('Shape', "literal['3g',…]"), and whether it had one."""
    out: list[str | int] = []
    tagged = False
    for part in loc:
        model = _model_at(root, tuple(out)) if isinstance(part, str) and out else None
        if model is not None:
            if part not in model.model_fields and (part == model.__name__ or "[" in str(part) or part in _SCALARS):
                tagged = True
                continue
        elif isinstance(part, str) and (part.startswith("literal[") or part in _SCALARS):
            tagged = True
            continue
        out.append(part)
    return tuple(out), tagged


def problems_from(exc: ValidationError, doc: Located, root: type[BaseModel], prefix: Loc = ()) -> list[Problem]:
    """One :class:`Problem` per pydantic error, positioned via ``doc`` (``prefix`` is where ``root`` sits)."""
    out: list[Problem] = []
    seen: set[tuple[Loc, str]] = set()
    for err in exc.errors(include_url=False):
        loc, tagged = _untagged(root, tuple(err["loc"]))
        # For a value a union rejects, each member complains; keep the member the value was written for
        # (a name → the name's list, a mapping → its keys), not "must be a mapping" from the other.
        if tagged and (err["type"] in _MISMATCH or (err["type"] == "literal_error" and not isinstance(
                err.get("input"), str)) or (err["type"] in _TYPE_WORDS and isinstance(err.get("input"), dict | list))):
            continue
        full = (*prefix, *loc)
        kind = err["type"]
        if kind == "extra_forbidden":
            key = str(loc[-1])
            parent = _model_at(root, loc[:-1])
            allowed = list(parent.model_fields) if parent else []
            problem = doc.problem(
                full,
                f"unknown key '{key}' in {where(full[:-1])}{_suggest(key, allowed)}",
                f"allowed keys in {where(full[:-1])}: {', '.join(allowed)}" if allowed else "",
                key=True,
            )
        elif kind == "missing":
            key = str(loc[-1])
            parent = _model_at(root, loc[:-1])
            desc = parent.model_fields[key].description if parent and key in parent.model_fields else None
            problem = doc.problem(
                (*prefix, *loc[:-1]),
                f"missing required key '{key}' in {where(full[:-1])}",
                desc or f"add '{key}:' here; 'mediafault schema' lists every key",
                key=True,
            )
        elif kind in ("literal_error", "enum"):
            value = err.get("input")
            choices = _field_choices(root, loc)
            problem = doc.problem(
                full,
                f"{value!r} is not a valid value for {where(full)}{_suggest(str(value), choices)}",
                f"one of: {', '.join(choices)}" if choices else "",
            )
        elif kind in _TYPE_WORDS:
            value = err.get("input")
            shown = "nothing" if value is None else f"{type(value).__name__} {value!r}"
            if len(shown) > 60:
                shown = shown[:57] + "..."
            problem = doc.problem(full, f"{where(full)} must be {_TYPE_WORDS[kind]}, got {shown}")
        elif kind == "value_error":
            message = str(err["ctx"]["error"]) if "ctx" in err else err["msg"]
            problem = doc.problem(full, f"{where(full)}: {message}")
        elif kind in ("too_short", "too_long"):
            problem = doc.problem(full, f"{where(full)}: {err['msg'].lower()}")
        else:
            problem = doc.problem(full, f"{where(full)}: {err['msg']}")
        if (full, problem.message) not in seen:
            seen.add((full, problem.message))
            out.append(problem)
    return sorted(out, key=lambda p: (p.position.line, p.position.column))
