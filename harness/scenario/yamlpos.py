"""YAML loading that remembers where every key and value came from.

PyYAML's composer gives nodes with marks; we turn them into plain dicts/lists for validation and keep a
side table from "path inside the document" to position, so a validation error about
``scenarios[1].given.permision`` can point at the exact line and column of that key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from harness.core.errors import InputError, Position, Problem

Loc = tuple[str | int, ...]


@dataclass
class Located:
    """A loaded YAML document with positions for every key and value."""

    path: Path
    data: Any
    lines: list[str]
    key_pos: dict[Loc, Position] = field(default_factory=dict)
    value_pos: dict[Loc, Position] = field(default_factory=dict)
    end_line: dict[Loc, int] = field(default_factory=dict)

    def position(self, loc: Loc, *, key: bool = False) -> Position:
        """Best position for ``loc``: the key itself when asked, else the value; else the nearest parent."""
        table = self.key_pos if key else self.value_pos
        probe = loc
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.value_pos:
                return self.value_pos[probe]
            probe = probe[:-1]
        return self.value_pos.get((), Position(self.path, 1, 1))

    def problem(self, loc: Loc, message: str, hint: str = "", *, key: bool = False) -> Problem:
        """A Problem at ``loc`` with the source line attached."""
        pos = self.position(loc, key=key)
        line = self.lines[pos.line - 1] if 0 < pos.line <= len(self.lines) else ""
        return Problem(pos, message, hint, line)

    def snippet(self, loc: Loc) -> tuple[int, str]:
        """The source lines of the node at ``loc`` (first line number, text) for reports."""
        start = self.position(loc, key=True).line
        end = self.end_line.get(loc, start)
        return start, "\n".join(self.lines[start - 1 : end])


_scalar = yaml.SafeLoader(stream="")


def _pos(path: Path, mark: yaml.Mark) -> Position:
    return Position(path, mark.line + 1, mark.column + 1)


def load(path: Path, text: str | None = None) -> Located:
    """Parse ``path`` (or ``text``) into a :class:`Located`; syntax errors become :class:`InputError`."""
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise InputError([Problem(Position(path, 1, 1), f"not UTF-8 text: {exc.reason}")]) from None
    lines = text.splitlines()
    doc = Located(path=path, data=None, lines=lines)
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = _pos(path, mark) if mark else Position(path, 1, 1)
        what = exc.problem or "invalid YAML"
        if exc.context and exc.context_mark and exc.problem_mark and exc.context_mark.line != exc.problem_mark.line:
            # The parser notices late; the construct it was reading often holds the real mistake.
            what += f" ({exc.context} that starts at line {exc.context_mark.line + 1})"
        line = lines[pos.line - 1] if 0 < pos.line <= len(lines) else ""
        raise InputError(
            [Problem(pos, f"YAML syntax error: {what}", "check indentation and quoting near this line", line)]
        ) from None
    if len(nodes) > 1:
        second = nodes[1].start_mark
        raise InputError(
            [doc_problem(doc, _pos(path, second), "more than one YAML document ('---') in a scenario file",
                         "put several scenarios in one file under 'scenarios:' instead")]
        )
    if not nodes or nodes[0] is None:
        raise InputError([Problem(Position(path, 1, 1), "the file is empty", "a scenario needs at least "
                                  "'name' and 'expect' ('given' defaults to a granted, present microphone); "
                                  "'mediafault init' writes a starter file")])
    problems: list[Problem] = []
    doc.data = _convert(nodes[0], (), doc, problems)
    if problems:
        raise InputError(problems)
    return doc


def doc_problem(doc: Located, pos: Position, message: str, hint: str = "") -> Problem:
    """A Problem at an explicit position of ``doc``."""
    line = doc.lines[pos.line - 1] if 0 < pos.line <= len(doc.lines) else ""
    return Problem(pos, message, hint, line)


def _convert(node: yaml.Node, loc: Loc, doc: Located, problems: list[Problem]) -> Any:
    doc.value_pos[loc] = _pos(doc.path, node.start_mark)
    # end_mark sits on the line after a block node; the last line that belongs to it is one before.
    end = node.end_mark.line + (1 if node.end_mark.column > 0 else 0)
    doc.end_line[loc] = max(end, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                # "<<: *shared" reuses a block; explicit keys beside it win, as YAML's merge key says.
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for src in sources:
                    value = _convert(src, loc, doc, problems)
                    if not isinstance(value, dict):
                        problems.append(doc_problem(doc, _pos(doc.path, src.start_mark),
                                                    "'<<' must merge a mapping (an anchored block)"))
                        continue
                    for k, v in value.items():
                        merged.setdefault(k, v)
                        doc.key_pos.setdefault((*loc, k), _pos(doc.path, key_node.start_mark))
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(doc_problem(doc, _pos(doc.path, key_node.start_mark), "a key must be a plain word"))
                continue
            key = str(_scalar.construct_object(key_node))
            if key in out:
                first = doc.key_pos[(*loc, key)]
                problems.append(doc_problem(doc, _pos(doc.path, key_node.start_mark),
                                            f"duplicate key '{key}' (first at line {first.line})",
                                            "YAML keeps only the last one; remove or merge the two"))
                continue
            doc.key_pos[(*loc, key)] = _pos(doc.path, key_node.start_mark)
            out[key] = _convert(value_node, (*loc, key), doc, problems)
        for k, v in merged.items():
            out.setdefault(k, v)
        doc.value_pos[loc] = _pos(doc.path, node.start_mark)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*loc, i), doc, problems) for i, item in enumerate(node.value)]
    return _scalar.construct_object(node)
