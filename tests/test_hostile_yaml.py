"""Hostile YAML: alias bombs, deep nesting, huge files, binary data and object-building tags are refused
quickly, as positioned input errors (exit 2 from the CLI), by every loader of YAML files: scenarios, shared
givens, the app config, app profiles and app variants."""

from __future__ import annotations

import contextlib
import fnmatch
import re
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

from harness.app.config import load_config
from harness.app.profiles import load_profile
from harness.app.variants import load_variants
from harness.core.errors import InputError
from harness.scenario import yamlpos
from harness.scenario.loader import load_file, scenario_files

SECONDS = 5.0  # every answer, refusal or not, comes within this
MEDIAFAULT = [sys.executable, "-m", "harness.cli.main"]


def _nested_aliases(width: int, levels: int) -> str:
    """``levels`` anchored lists of ``width`` items, each item an alias of the list before: width**levels values."""
    lines = [f"l0: &l0 [{', '.join(['x'] * width)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * width)}]" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


def _nested_mapping_aliases(width: int, levels: int) -> str:
    """The same bomb built of mappings."""
    lines = [f"m0: &m0 {{{', '.join(f'k{j}: x' for j in range(width))}}}"]
    lines += [f"m{i}: &m{i} {{{', '.join(f'k{j}: *m{i - 1}' for j in range(width))}}}" for i in range(1, levels)]
    return "\n".join(lines) + "\n"


BOMB = _nested_aliases(9, 9)  # 9**9: 387 million values from 9 lines
PYTHON_TAGS = ["python/object:os.system", "python/object/apply:os.system", "python/object/new:os.system",
               "python/name:os.system", "python/module:os", "python/tuple", "python/list", "python/dict",
               "python/str", "python/unicode", "python/bytes", "python/int", "python/long", "python/float",
               "python/complex", "python/bool", "python/none"]

# (id, text or bytes of the file, glob of the first rendered line; 'x.yaml' is the file)
ATTACKS: list[tuple[str, str | bytes, str]] = [
    ("alias-bomb-9x9", BOMB, "x.yaml:*:*: aliases make the file stand for more than * values*"),
    ("alias-bomb-wide", _nested_aliases(1000, 4), "x.yaml:*:*: aliases make the file stand for more than *"),
    ("alias-bomb-mappings", _nested_mapping_aliases(9, 9), "x.yaml:*:*: aliases make the file stand for more*"),
    ("alias-bomb-merge", "base: &b {k: [x, x, x]}\n" + "".join(
        f"m{i}: &m{i}\n  <<: *{'b' if i == 0 else f'm{i - 1}'}\n  " + ", ".join(
            f"k{j}: *{'b' if i == 0 else f'm{i - 1}'}" for j in range(9)).replace(", ", "\n  ") + "\n"
        for i in range(9)), "x.yaml:*:*: aliases make the file stand for more than *"),
    ("alias-in-its-own-list", "a: &a [x, *a]\n", "x.yaml:1:11: alias '*a' is used inside the block it names*"),
    ("alias-in-its-own-mapping", "a: &a\n  b: *a\n",
     "x.yaml:2:6: alias '*a' is used inside the block it names*"),
    ("aliases-nesting-deep", "".join(f"d{i}: &d{i} [[[[[{'*d' + str(i - 1) if i else 'x'}]]]]]\n"
                                     for i in range(40)), "x.yaml:*:*: aliases nest blocks more than 64 levels*"),
    ("deep-lists", "name: " + "[\n" * 10_000 + "]\n" * 10_000, "x.yaml:64:1: nested more than 64 levels deep"),
    ("deep-mappings", "{a:\n" * 10_000 + "x" + "}\n" * 10_000, "x.yaml:64:2: nested more than 64 levels deep"),
    ("deep-block-mappings", "".join(" " * i + "k:\n" for i in range(1000)),
     "x.yaml:64:64: nested more than 64 levels deep"),
    ("many-values", "name: [\n" + "0,\n" * (yamlpos.MAX_VALUES + 1) + "]\n",
     f"x.yaml:{yamlpos.MAX_VALUES - 1}:1: more than {yamlpos.MAX_VALUES} values in one file"),
    ("long-line", "name: A\ndescription: " + "x" * 20_000 + "\n",
     "x.yaml:2:10001: line 2 is 20013 characters long, over the limit of 10000*"),
    ("large-file", "name: A\nexpect: {outcome: none}\ndescription: |\n" + ("  " + "x" * 98 + "\n") * 200_000,
     "x.yaml:10385:49: the file is 19.3 MB, over the limit of 1 MB (it passes the limit here)"),
    ("binary", bytes(range(256)) * 64, "x.yaml:2:118: not UTF-8 text: byte 0x80 here is invalid start byte"),
    ("latin-1", "name: café\n".encode("latin-1"), "x.yaml:1:10: not UTF-8 text: byte 0xe9 here is *"),
    ("utf-16", "name: A\n".encode("utf-16"), "x.yaml:1:1: not UTF-8 text: byte 0xff *"),
    ("nul-byte", b"name: A\x00\nexpect: {outcome: none}\n",
     "x.yaml:1:8: character #x0000 is not allowed in YAML text (binary data?)"),
    ("form-feed", b"name: A\nexpect:\x0c\x01 x\n", "x.yaml:2:8: character #x000c is not allowed in YAML text*"),
    ("binary-tag", "name: !!binary aGVsbG8=\n", "x.yaml:1:7: YAML tag '!!binary' is not supported"),
    ("local-tag", "name: A\nexpect: !custom {outcome: none}\n", "x.yaml:2:9: YAML tag '!custom' is not supported"),
    ("set-tag", "name: A\ntags: !!set {a, b}\n", "x.yaml:2:7: YAML tag '!!set' is not supported"),
]
ATTACKS += [(f"tag-{tag.replace(':', '-')}", f"name: A\nexpect: !!{tag} [x]\n",
             f"x.yaml:2:9: YAML tag '!!{tag}' would build a Python object; these files hold plain data only")
            for tag in PYTHON_TAGS]
ATTACKS += [
    ("tag-on-a-scalar", "name: !!python/object/apply:os.system echo\n", "x.yaml:1:7: YAML tag '!!python/*"),
    ("tag-on-a-mapping", "name: A\nexpect: !!python/object:os.system {outcome: none}\n",
     "x.yaml:2:9: YAML tag '!!python/object:os.system' would build a Python object*"),
    ("tag-on-a-key", "name: A\n!!python/name:os.system x: 1\n", "x.yaml:2:1: YAML tag '!!python/name:os.system'*"),
    ("tag-verbatim", "name: !<tag:yaml.org,2002:python/object/apply:os.system> [echo]\n",
     "x.yaml:1:7: YAML tag '!!python/object/apply:os.system' would build a Python object*"),
    ("tag-directive", "%TAG !p! tag:yaml.org,2002:python/\n---\nname: !p!object/apply:os.system [echo]\n",
     "x.yaml:3:7: YAML tag '!!python/object/apply:os.system' would build a Python object*"),
    ("tag-behind-an-alias", "shared: &s !!python/object/apply:os.system [echo]\nname: *s\n",
     "x.yaml:1:9: YAML tag '!!python/object/apply:os.system'*"),
]


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Fail instead of hanging: a load still running after ``seconds`` is interrupted (a regression of the
    limits would otherwise stall the whole suite)."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"still loading after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _refused(load: Callable[[], Any]) -> tuple[str, float]:
    """``load()`` must raise InputError within :data:`SECONDS`; its rendering and the time it took."""
    start = time.monotonic()
    with _deadline(SECONDS), pytest.raises(InputError) as info:
        load()
    took = time.monotonic() - start
    assert took < SECONDS, f"took {took:.1f} s"
    return str(info.value), took


def _write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _glob(pattern: str) -> str:
    return pattern.replace("[", "[[]")


@pytest.mark.parametrize(("content", "first_line"), [a[1:] for a in ATTACKS], ids=[a[0] for a in ATTACKS])
def test_scenario_loader_refuses_quickly_with_a_position(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          content: str | bytes, first_line: str) -> None:
    """Each attack is one positioned problem with a hint, in well under the time a person would wait."""
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path / "x.yaml", content)
    rendered, _ = _refused(lambda: load_file(path))
    first = rendered.splitlines()[0]
    assert fnmatch.fnmatchcase(first, _glob(first_line)), rendered[:2000]
    assert "  hint: " in rendered
    assert "Traceback" not in rendered
    # A line over the limit, or binary data, is not copied to the terminal.
    assert max(len(line) for line in rendered.splitlines()) < yamlpos.MAX_LINE_CHARS


def test_the_alias_bomb_fails_validate_quickly(tmp_path: Path) -> None:
    """``mediafault validate`` on the 9×9 alias bomb: exit 2 and a positioned message, not a minute of work."""
    (tmp_path / "bomb.yaml").write_text(BOMB, encoding="utf-8")
    start = time.monotonic()
    result = subprocess.run([*MEDIAFAULT, "validate", "bomb.yaml"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=SECONDS, check=False)
    assert time.monotonic() - start < SECONDS
    assert result.returncode == 2, result.stderr
    assert re.match(r"bomb\.yaml:\d+:\d+: aliases make the file stand for more than \d+ values", result.stderr)
    assert "Traceback" not in result.stderr


def test_a_huge_file_is_refused_without_reading_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only a little past the size limit is read: a 4 GB (sparse) file is refused at once, and in a folder
    the file is still recognised as a scenario file (so it is reported, not skipped)."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "x.yaml"
    with path.open("wb") as file:
        file.write(b"name: A\nexpect: {outcome: none}\ndescription: |\n")
        file.write(b"  text\n" * (yamlpos.MAX_FILE_BYTES // 7 + 1))
        file.truncate(4 * 2**30)
    rendered, took = _refused(lambda: load_file(path))
    assert re.match(r"x\.yaml:\d+:\d+: the file is 4096\.0 MB, over the limit of 1 MB", rendered), rendered
    assert took < 1.0
    assert scenario_files([tmp_path]) == [path]


def test_a_huge_yaml_file_without_scenario_keys_is_not_a_scenario_file(tmp_path: Path) -> None:
    """A big YAML file that is not a scenario (a lock file, say) next to the scenarios is left out quickly."""
    (tmp_path / "pnpm-lock.yaml").write_text("lockfileVersion: '9.0'\npackages:\n" + "".join(
        f"  pkg{i}: {{resolution: {{integrity: sha512-{i:064d}}}}}\n" for i in range(40_000)), encoding="utf-8")
    (tmp_path / "a.yaml").write_text("name: A\nexpect: {outcome: none}\n", encoding="utf-8")
    start = time.monotonic()
    assert [p.name for p in scenario_files([tmp_path])] == ["a.yaml"]
    assert time.monotonic() - start < SECONDS


def test_shared_blocks_with_anchors_still_load(tmp_path: Path) -> None:
    """The format's own use of aliases: a block anchored once and reused in every scenario of a file, a merge
    key, and a matrix shared by two scenarios."""
    scenarios = "".join(f"""
  - name: Case {i}
    given: {{<<: *denied, device: {{microphone: default}}}}
    expect: *announced
""" for i in range(60))
    path = tmp_path / "x.yaml"
    path.write_text(textwrap.dedent("""
        scenarios:
          - name: "First {engine_note}"
            matrix: &notes {engine_note: [a, b, c]}
            given: &denied
              permission: {microphone: denied}
            expect: &announced
              outcome: permission-denied
              alert: true
              message: {contains: Microphone}
          - name: "Second {engine_note}"
            matrix: *notes
            expect: *announced
        """).lstrip() + scenarios, encoding="utf-8")
    with _deadline(SECONDS):
        loaded = load_file(path)
    assert len(loaded) == 66
    assert all(s.scenario.expect.alert for s in loaded)
    assert loaded[-1].scenario.given.permission.microphone == "denied"


# ------------------------------------------------------------------------------ the other files read as YAML

OTHER_ATTACKS = [a for a in ATTACKS if a[0] in {"alias-bomb-9x9", "alias-bomb-wide", "deep-lists", "large-file",
                                                 "long-line", "binary", "nul-byte",
                                                 "tag-python-object-apply-os.system"}]


@pytest.mark.parametrize(("content", "first_line"), [a[1:] for a in OTHER_ATTACKS], ids=[a[0] for a in OTHER_ATTACKS])
def test_config_profile_variant_and_givens_loaders_refuse_quickly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   content: str | bytes, first_line: str) -> None:
    """mediafault.yaml, a profile, a variant and a givens.yaml go through the same limits."""
    monkeypatch.chdir(tmp_path)
    files: dict[str, Callable[[Path], object]] = {
        "mediafault.yaml": load_config, "profile.yaml": load_profile, "givens.yaml": load_file,
        "variants/bug.yaml": lambda p: load_variants(p.parent),
    }
    for name, loader in files.items():
        path = tmp_path / name
        path.parent.mkdir(exist_ok=True)
        _write(path, content)
        rendered, _ = _refused(lambda loader=loader, path=path: loader(path))  # type: ignore[misc]
        expected = _glob(first_line.replace("x.yaml", name))
        assert fnmatch.fnmatchcase(rendered.splitlines()[0], expected), (name, rendered[:2000])


def test_a_hostile_config_fails_validate_quickly(tmp_path: Path) -> None:
    """The config file that ``validate`` checks beside the scenarios: exit 2 and its position."""
    (tmp_path / "mediafault.yaml").write_text("app:\n  url: http://localhost\n" + BOMB, encoding="utf-8")
    (tmp_path / "a.yaml").write_text("name: A\nexpect: {outcome: none}\n", encoding="utf-8")
    result = subprocess.run([*MEDIAFAULT, "validate", "a.yaml"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=SECONDS, check=False)
    assert result.returncode == 2, result.stderr
    assert re.match(r"mediafault\.yaml:\d+:\d+: aliases make the file stand for more than", result.stderr)
