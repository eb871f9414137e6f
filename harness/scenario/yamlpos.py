"""YAML loading that remembers where every key and value came from.

PyYAML's composer gives nodes with marks; we turn them into plain dicts/lists for validation and keep a
side table from "path inside the document" to position, so a validation error about
``scenarios[1].given.permision`` can point at the exact line and column of that key.
"""

from __future__ import annotations

import re
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

# Limits that keep loading bounded in time and memory whatever a file holds. Real scenario, config, profile
# and variant files are a few KB, nest under 10 levels and hold a few hundred values; each cap is far above
# that, and low enough that reaching it takes well under a second.
# A bigger file is refused before it is parsed: pure-Python YAML reads about 2 MB a second.
MAX_FILE_BYTES = 1024 * 1024
# Messages quote the source line, and no one writes a line this long by hand.
MAX_LINE_CHARS = 10_000
# Composing and converting recurse once per level; this stays far below Python's recursion limit.
MAX_DEPTH = 64
# Values (scalars, lists, mappings) a file may stand for, each use of an alias counting as a copy of the
# block it names: nine levels of aliases of nine items stand for 9**9 values in 300 bytes. Counted while
# composing and while converting, so loading stops as soon as the count is passed.
MAX_VALUES = 20_000

_CORE = "tag:yaml.org,2002:"
# Tags of plain data: those YAML gives unquoted values, and '<<'. Any other tag ('!!python/object',
# '!!binary', '!custom') asks for an object none of these files has a use for.
_PLAIN_TAGS = frozenset(_CORE + t for t in ("null", "bool", "int", "float", "str", "timestamp", "seq", "map",
                                             "merge"))


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class _Refused(Exception):
    """Raised by the composer for input it will not load; :func:`load` turns it into a Problem."""

    def __init__(self, mark: yaml.Mark, message: str, hint: str) -> None:
        super().__init__(message)
        self.mark = mark
        self.message = message
        self.hint = hint


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader whose composer checks tags, nesting and the number of values as each node is composed.

    It also remembers where each alias is written: an alias composes to the very node it names, so without
    this a message about an alias could only point at its anchor.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0
        self.values = 0
        self.alias_marks: dict[tuple[int, int], tuple[yaml.Mark, str]] = {}

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        """One node, refused when it has a tag that is not plain data or passes a limit."""
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if self.check_event(yaml.AliasEvent):
            if parent is not None and index is not None:  # an alias used as a key needs no position
                self.alias_marks[_slot(parent, index)] = (event.start_mark, event.anchor)
            return super().compose_node(parent, index)
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "!" and tag not in _PLAIN_TAGS:
            shown = "!!" + tag.removeprefix(_CORE) if tag.startswith(_CORE) else tag
            if shown.startswith("!!python/"):
                raise _Refused(event.start_mark, f"YAML tag '{shown}' would build a Python object; these files "
                               "hold plain data only", "remove the tag")
            raise _Refused(event.start_mark, f"YAML tag '{shown}' is not supported",
                           "remove the tag (quote a value to make it text)")
        self.values += 1
        if self.values > MAX_VALUES:
            raise _Refused(event.start_mark, f"more than {MAX_VALUES} values in one file",
                           "no scenario file comes near this: split the file, or check that it is the right one")
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Refused(event.start_mark, f"nested more than {MAX_DEPTH} levels deep",
                           "scenario files nest a few levels; check the brackets and indentation here")
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _slot(parent: yaml.Node, index: Any) -> tuple[int, int]:
    """Which child of ``parent`` a node is: its index in a list, or (for a mapping value) its key node."""
    return id(parent), index if isinstance(index, int) else id(index)


@dataclass
class _Walk:
    """One node → plain-data conversion: where problems go, and the budget that alias copies draw on."""

    doc: Located
    problems: list[Problem]
    alias_marks: dict[tuple[int, int], tuple[yaml.Mark, str]]
    values: int  # values so far: the ones written, then every copy an alias makes
    open_nodes: set[int] = field(default_factory=set)  # being converted: an alias to one of them is a loop
    alias_at: Position | None = None  # the outermost alias being copied: the one to blame for a runaway

    def refuse(self, pos: Position, message: str, hint: str) -> InputError:
        """An error that ends the conversion (going on would loop or run away)."""
        return InputError([doc_problem(self.doc, pos, message, hint)])


def _pos(path: Path, mark: yaml.Mark) -> Position:
    return Position(path, mark.line + 1, mark.column + 1)


def _read(path: Path) -> str:
    """The file's text; a file over the size limit is refused after reading just past the limit."""
    with path.open("rb") as file:
        raw = file.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise InputError([_too_big(path, raw)])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        line_end = raw.find(b"\n", exc.start)
        pos = Position(path, raw.count(b"\n", 0, exc.start) + 1,
                       len(raw[line_start : exc.start].decode("utf-8")) + 1)
        # Up to the bad byte the line is valid UTF-8, so the caret lands under the first replacement mark.
        line = _binary_line(raw[line_start : line_end if line_end >= 0 else len(raw)].decode("utf-8", "replace"),
                            pos.column)
        raise InputError([Problem(pos, f"not UTF-8 text: byte 0x{raw[exc.start]:02x} here is {exc.reason}",
                                  "save the file as UTF-8; if it is not a text file, check the path",
                                  line)]) from None


def _binary_line(line: str, column: int) -> str:
    """A line of what may be binary data, fit to quote: control characters shown as one mark each (so the
    caret stays under the column) and cut a little after the column."""
    return _CONTROL.sub("\ufffd", line[: column + 40])


def _too_big(path: Path, raw: bytes) -> Problem:
    """The problem for a file over :data:`MAX_FILE_BYTES`, pointing where it passes the limit."""
    try:
        size = path.stat().st_size
    except OSError:
        size = len(raw)
    line_start = raw.rfind(b"\n", 0, MAX_FILE_BYTES) + 1
    pos = Position(path, raw.count(b"\n", 0, MAX_FILE_BYTES) + 1, MAX_FILE_BYTES - line_start + 1)
    return Problem(pos, f"the file is {size / 2**20:.1f} MB, over the limit of {MAX_FILE_BYTES // 2**20} MB "
                   "(it passes the limit here)",
                   "these files are a few KB: split it into several files, or check that it is the right one")


def _check_size(path: Path, text: str, lines: list[str]) -> None:
    """Refuse text over the size or line-length limits (``text`` may come from a caller, not the disk)."""
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_FILE_BYTES:
        raise InputError([_too_big(path, raw)])
    for number, line in enumerate(lines, 1):
        if len(line) > MAX_LINE_CHARS:
            # Without the source line: quoting it would fill the terminal.
            raise InputError([Problem(Position(path, number, MAX_LINE_CHARS + 1),
                                      f"line {number} is {len(line)} characters long, over the limit of "
                                      f"{MAX_LINE_CHARS} (it passes the limit here)",
                                      "break it up: a long text can be written as 'key: >' with its words on "
                                      "indented lines below, which YAML joins with spaces")])


def load(path: Path, text: str | None = None) -> Located:
    """Parse ``path`` (or ``text``) into a :class:`Located`; syntax errors and input past the limits above
    (size, line length, nesting, values, tags that are not plain data) become :class:`InputError`."""
    if text is None:
        text = _read(path)
    lines = text.splitlines()
    _check_size(path, text, lines)
    doc = Located(path=path, data=None, lines=lines)
    try:
        loader = _BoundedLoader(text)  # checks every character is allowed in YAML before anything else
        nodes: list[yaml.Node | None] = []
        while len(nodes) < 2 and loader.check_node():  # a second document is an error; no need to read on
            nodes.append(loader.get_node())
    except _Refused as exc:
        raise InputError([doc_problem(doc, _pos(path, exc.mark), exc.message, exc.hint)]) from None
    except yaml.reader.ReaderError as exc:
        start = text.rfind("\n", 0, exc.position) + 1
        end = text.find("\n", exc.position)
        pos = Position(path, text.count("\n", 0, exc.position) + 1, exc.position - start + 1)
        # Binary data often holds form feeds and the like, which splitlines() takes for line ends: cut the
        # line out at newlines instead.
        line = _binary_line(text[start : end if end >= 0 else len(text)], pos.column)
        raise InputError([Problem(pos, f"character #x{exc.character:04x} is not allowed in YAML text (binary "
                                  "data?)", "these files are UTF-8 text: check that this is the right file, and "
                                  "remove the character", line)]) from None
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
    if len(nodes) > 1 and nodes[1] is not None:
        second = nodes[1].start_mark
        raise InputError(
            [doc_problem(doc, _pos(path, second), "more than one YAML document ('---') in a scenario file",
                         "put several scenarios in one file under 'scenarios:' instead")]
        )
    if not nodes or nodes[0] is None:
        raise InputError([Problem(Position(path, 1, 1), "the file is empty", "a scenario needs at least "
                                  "'name' and 'expect' ('given' defaults to a granted, present microphone); "
                                  "'mediafault init' writes a starter file")])
    walk = _Walk(doc, [], loader.alias_marks, loader.values)
    try:
        doc.data = _convert(nodes[0], (), walk)
    finally:
        _scalar.constructed_objects.clear()  # the shared constructor caches every scalar it builds
    if walk.problems:
        raise InputError(walk.problems)
    return doc


def doc_problem(doc: Located, pos: Position, message: str, hint: str = "") -> Problem:
    """A Problem at an explicit position of ``doc``."""
    line = doc.lines[pos.line - 1] if 0 < pos.line <= len(doc.lines) else ""
    return Problem(pos, message, hint, line)


def _child(node: yaml.Node, slot: tuple[int, int], loc: Loc, walk: _Walk) -> Any:
    """Convert a child node; when it was written as an alias, as a counted copy of the block it names."""
    alias = walk.alias_marks.get(slot)
    if alias is None:
        return _convert(node, loc, walk)
    here = _pos(walk.doc.path, alias[0])
    if id(node) in walk.open_nodes:
        raise walk.refuse(here, f"alias '*{alias[1]}' is used inside the block it names, so the block "
                          "would never end", "an alias can only repeat a block written before it")
    if walk.alias_at is not None:  # inside another alias's copy: that one is the alias written at this level
        return _convert(node, loc, walk)
    walk.alias_at = here
    try:
        return _convert(node, loc, walk)
    finally:
        walk.alias_at = None


def _convert(node: yaml.Node, loc: Loc, walk: _Walk) -> Any:
    doc = walk.doc
    if walk.alias_at is not None:
        walk.values += 1
        if walk.values > MAX_VALUES:
            raise walk.refuse(walk.alias_at, f"aliases make the file stand for more than {MAX_VALUES} values (an "
                              "alias repeats the whole block it names, and the aliases inside it)",
                              "use an alias to share a block a few times; nested aliases multiply")
    if len(loc) > MAX_DEPTH:  # only aliases get here: the composer stops deeper written nesting
        raise walk.refuse(walk.alias_at or _pos(doc.path, node.start_mark), f"aliases nest blocks more than "
                          f"{MAX_DEPTH} levels deep", "use an alias to share a block, not to build deep structure")
    doc.value_pos[loc] = _pos(doc.path, node.start_mark)
    # end_mark sits on the line after a block node; the last line that belongs to it is one before.
    end = node.end_mark.line + (1 if node.end_mark.column > 0 else 0)
    doc.end_line[loc] = max(end, node.start_mark.line + 1)
    if isinstance(node, yaml.ScalarNode):
        return _scalar.construct_object(node)
    walk.open_nodes.add(id(node))
    try:
        if isinstance(node, yaml.MappingNode):
            return _mapping(node, loc, walk)
        return [_child(item, (id(node), i), (*loc, i), walk) for i, item in enumerate(node.value)]
    finally:
        walk.open_nodes.discard(id(node))


def _mapping(node: yaml.MappingNode, loc: Loc, walk: _Walk) -> dict[str, Any]:
    doc, problems = walk.doc, walk.problems
    out: dict[str, Any] = {}
    merged: dict[str, Any] = {}
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            # "<<: *shared" reuses a block; explicit keys beside it win, as YAML's merge key says.
            if isinstance(value_node, yaml.SequenceNode):
                sources = [(src, (id(value_node), i)) for i, src in enumerate(value_node.value)]
            else:
                sources = [(value_node, _slot(node, key_node))]
            for src, slot in sources:
                value = _child(src, slot, loc, walk)
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
        out[key] = _child(value_node, _slot(node, key_node), (*loc, key), walk)
    for k, v in merged.items():
        out.setdefault(k, v)
    doc.value_pos[loc] = _pos(doc.path, node.start_mark)
    return out
