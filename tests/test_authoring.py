"""Authoring: matrices, shared given blocks, ``mediafault init`` and user profiles, and the catalogue's
promise (every condition value covered, every scenario says which real-world situation it models)."""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
import textwrap
import typing
from pathlib import Path

import jsonschema
import pytest
import yaml
from pydantic import BaseModel

from harness.cli import scaffold
from harness.core.errors import InputError
from harness.scenario.loader import load_file, load_paths
from harness.scenario.model import AudioFile, Fault, Given, Scenario
from harness.scenario.schema import scenario_schema
from tests.conftest import BUNDLED_APP, REPO, needs_chromium

MEDIAFAULT = [sys.executable, "-m", "harness.cli.main"]


def mf(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command as a user types it, with stdin not a terminal (so init never asks)."""
    return subprocess.run([*MEDIAFAULT, *args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False,
                          stdin=subprocess.DEVNULL)


def write(path: Path, text: str) -> Path:
    """Write dedented YAML, creating directories."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems_of(path: Path) -> str:
    """The rendered InputError of loading ``path`` (the test fails when it loads)."""
    with pytest.raises(InputError) as info:
        load_file(path)
    rendered = str(info.value)
    assert "Traceback" not in rendered
    return rendered


# ------------------------------------------------------------------------------------------------ matrices

ROWS = """
    name: "Microphone {permission} for the site"
    matrix:
      - {permission: denied, outcome: permission-denied}
      - {permission: dismissed, outcome: permission-dismissed}
      - permission: policy
        outcome: permission-denied
    given:
      permission: {microphone: "{permission}"}
    expect:
      outcome: "{outcome}"
      within: 3s
"""


def test_matrix_rows_expand_with_names_outcomes_and_row_positions(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Each row is a case with its own name, condition and outcome; its position is its row."""
    monkeypatch.chdir(tmp_path)
    cases = load_file(write(tmp_path / "m.yaml", ROWS))
    assert [c.scenario.name for c in cases] == ["Microphone denied for the site", "Microphone dismissed for the site",
                                                "Microphone policy for the site"]
    assert [c.scenario.given.permission.microphone for c in cases] == ["denied", "dismissed", "policy"]
    assert [c.scenario.expect.outcome for c in cases] == ["permission-denied", "permission-dismissed",
                                                          "permission-denied"]
    assert [str(c.position) for c in cases] == ["m.yaml:3:5", "m.yaml:4:5", "m.yaml:5:5"]
    assert cases[1].case_note() == " (matrix row at line 4)"
    # A value filled in from the matrix points at the matrix; the template's own keys stay where they are.
    assert str(cases[2].doc.position(("expect", "outcome"))) == "m.yaml:6:14"
    assert str(cases[2].position_of("expect")) == "m.yaml:9:1"


def test_matrix_mapping_gives_every_combination_and_keeps_types(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """variable → list is the product; a whole "{var}" keeps the value's type, null leaves the default."""
    monkeypatch.chdir(tmp_path)
    cases = load_file(write(tmp_path / "p.yaml", """
        name: "{mic} mic, alert {alert}, page {embed}"
        matrix:
          mic: [none, busy]
          alert: [true, null]
          embed: [top]
        given:
          device: {microphone: "{mic}"}
          page: {embed: "{embed}"}
        expect:
          outcome: device-not-found
          alert: "{alert}"
        """))
    assert [c.scenario.name for c in cases] == ["none mic, alert true, page top", "none mic, alert null, page top",
                                                "busy mic, alert true, page top", "busy mic, alert null, page top"]
    assert [c.scenario.expect.alert for c in cases] == [True, None, True, None]
    assert {c.scenario.given.device.microphone for c in cases} == {"none", "busy"}
    assert all(str(c.position).startswith("p.yaml:5:") for c in cases)  # the fastest-changing value


@pytest.mark.parametrize(("text", "first_line", "hint"), [
    ("""
     name: "Microphone {permision} for the site"
     matrix: {permission: [denied, policy]}
     given: {permission: {microphone: "{permission}"}}
     expect: {outcome: permission-denied}
     """, "m.yaml:1:7: '{permision}' in name is not a matrix variable (did you mean 'permission'?)",
     "*matrix variables: permission*"),
    ("""
     name: "Microphone {state}"
     matrix: {state: [denied, policy], outcom: [none]}
     given: {permission: {microphone: "{state}"}}
     expect: {outcome: permission-denied}
     """, "m.yaml:2:35: matrix variable 'outcom' is not used in the scenario*", "*write it as '{outcom}'*"),
    ("""
     name: "Microphone {state}"
     matrix:
       - {state: denied}
       - {state: blocked}
     given: {permission: {microphone: "{state}"}}
     expect: {outcome: permission-denied}
     """, "m.yaml:4:13: 'blocked' is not a valid value for given.permission.microphone (did you mean 'denied'?)",
     "*one of: granted, denied*"),
    ("""
     name: "Microphone blocked"
     matrix: {state: [denied, policy]}
     given: {permission: {microphone: "{state}"}}
     expect: {outcome: permission-denied}
     """, "m.yaml:2:26: matrix cases 1 and 2 are both named 'Microphone blocked' (first at line 2)",
     "*put a variable that differs between them in it ({state})*"),
    ("""
     name: "Microphone {state}"
     matrix: denied
     expect: {outcome: permission-denied}
     """, "m.yaml:2:9: matrix must list the values to expand over", "*a list of rows*"),
    ("""
     name: "Microphone {state}"
     matrix: {state: [{microphone: denied}]}
     expect: {outcome: permission-denied}
     """, "m.yaml:2:18: a matrix value must be a single value*", "*use: \"{block}\"*"),
    ("""
     name: "Microphone {state} {outcome}"
     matrix:
       - {state: denied, outcome: permission-denied}
       - {state: policy}
     given: {permission: {microphone: "{state}"}}
     expect: {outcome: "{outcome}"}
     """, "m.yaml:4:5: matrix row 2 has no value for 'outcome'", "*null leaves a key at its default*"),
    ("""
     name: "Microphone {state}"
     matrix: {state: []}
     expect: {outcome: permission-denied}
     """, "m.yaml:2:17: matrix.state must be a non-empty list of values", ""),
    ("""
     name: "Microphone {2state}"
     matrix: {2state: [a]}
     expect: {outcome: permission-denied}
     """, "m.yaml:2:10: '2state' cannot be a matrix variable name", "*starting with a letter*"),
], ids=["template-names-missing-variable", "unused-variable", "value-not-allowed", "names-collide", "bad-shape",
        "mapping-as-value", "row-missing-variable", "empty-values", "bad-variable-name"])
def test_bad_matrix_is_a_positioned_error_with_a_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str,
                                                      first_line: str, hint: str) -> None:
    """Every matrix mistake names file:line:col of the offending value and says what to do."""
    monkeypatch.chdir(tmp_path)
    rendered = problems_of(write(tmp_path / "m.yaml", text))
    assert fnmatch.fnmatchcase(rendered.splitlines()[0], first_line.replace("[", "[[]")), rendered
    if hint:
        assert any(fnmatch.fnmatchcase(line, hint.replace("[", "[[]")) for line in rendered.splitlines()), rendered


def test_literal_braces_and_regex_counts_survive_a_matrix(tmp_path: Path) -> None:
    """'{{' is a literal brace; '{2,3}' in a regex is not a placeholder."""
    cases = load_file(write(tmp_path / "m.yaml", r"""
        name: "Code {code} {{literally}}"
        matrix: {code: [a1]}
        expect:
          code: "{code}"
          message: {regex: "^\\d{2,3} {code}$"}
        """))
    assert cases[0].scenario.name == "Code a1 {literally}"
    assert cases[0].scenario.expect.message is not None
    assert cases[0].scenario.expect.message.regex == r"^\d{2,3} a1$"


def test_a_scenario_without_matrix_keeps_braces_as_text(tmp_path: Path) -> None:
    """Templates only apply to matrix scenarios: other files are read exactly as written."""
    (case,) = load_file(write(tmp_path / "x.yaml", """
        name: "Braces {kept}"
        expect: {message: {contains: "{x}"}}
        """))
    assert case.scenario.name == "Braces {kept}"


def test_matrix_name_clashing_with_another_file_is_reported_at_the_row(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Across files, an expanded name is unique too; the other cases of the matrix still load."""
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "a.yaml", "name: Microphone denied for the site\nexpect: {outcome: permission-denied}\n")
    write(tmp_path / "b.yaml", ROWS)
    scenarios, errors = load_paths([tmp_path])
    assert len(scenarios) == 3
    assert str(errors[0]).startswith("b.yaml:3:5: duplicate scenario name 'Microphone denied for the site' "
                                     "(first defined at a.yaml:1:1)")


# ----------------------------------------------------------------------------------------- shared givens

GIVENS = """
    givens:
      connected-call:
        network: {turn: udp, policy: relay}
      no-mic:
        permission: {microphone: granted}
        device: {microphone: none, audio: {file: media/v.wav}}
      secure-no-mic:
        use: no-mic
        page: {origin: https}
"""


def test_shared_given_blocks_merge_under_the_scenario(tmp_path: Path) -> None:
    """'use' starts from named blocks of the nearest givens.yaml; the scenario's keys win, mapping by mapping."""
    (tmp_path / "mediafault.yaml").write_text("app: {}\n", encoding="utf-8")
    write(tmp_path / "scenarios" / "givens.yaml", GIVENS)
    a, b, c = load_file(write(tmp_path / "scenarios" / "deep" / "x.yaml", """
        scenarios:
          - name: A
            given:
              use: secure-no-mic
              device: {microphone: busy}
            expect: {outcome: device-busy}
          - name: B
            given: {use: [connected-call, no-mic]}
            expect: {outcome: none}
          - name: "C {block}"
            matrix: {block: [connected-call]}
            given: {use: "{block}"}
            expect: {outcome: none}
        """))
    given = a.scenario.given
    assert (given.device.microphone, given.page.origin, given.permission.microphone) == ("busy", "https", "granted")
    # The audio file in the block is relative to givens.yaml; the scenario resolves it from its own directory.
    assert isinstance(given.device.audio, AudioFile) and given.device.audio.file == "../media/v.wav"
    assert given.use is None
    assert b.scenario.given.network is not None and b.scenario.given.device.microphone == "none"
    assert c.scenario.given.network is not None and c.scenario.name == "C connected-call"


def test_unknown_block_is_reported_at_use_with_did_you_mean(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong name points at the 'use' value, suggests the close one and lists the blocks there are."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mediafault.yaml").write_text("app: {}\n", encoding="utf-8")
    write(tmp_path / "givens.yaml", GIVENS)
    rendered = problems_of(write(tmp_path / "x.yaml", """
        name: A
        given:
          use: conected-call
        expect: {outcome: none}
        """))
    assert rendered.splitlines()[0] == "x.yaml:3:8: no shared given block named 'conected-call' (did you mean " \
                                       "'connected-call'?)"
    assert "hint: blocks in givens.yaml: connected-call, no-mic, secure-no-mic" in rendered


def test_use_without_any_givens_file_says_how_to_make_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No givens.yaml up to the project root: the hint says what to create."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()
    rendered = problems_of(write(tmp_path / "x.yaml", "name: A\ngiven: {use: office}\nexpect: {outcome: none}\n"))
    assert rendered.startswith("x.yaml:2:14: no shared given block named 'office'")
    assert "create one with 'givens:' and a block named 'office'" in rendered


def test_bad_givens_file_is_positioned_in_that_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A typo inside a shared block is reported in givens.yaml, when it is loaded and when it is used."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mediafault.yaml").write_text("app: {}\n", encoding="utf-8")
    write(tmp_path / "givens.yaml", "givens:\n  office:\n    permision: {microphone: policy}\n")
    expected = "givens.yaml:3:5: unknown key 'permision' in givens.office (did you mean 'permission'?)"
    assert problems_of(tmp_path / "givens.yaml").splitlines()[0] == expected
    used = write(tmp_path / "x.yaml", "name: A\ngiven: {use: office}\nexpect: {outcome: none}\n")
    assert problems_of(used).splitlines()[0] == expected


def test_a_block_that_uses_itself_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cycles between blocks are named, not followed forever."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mediafault.yaml").write_text("app: {}\n", encoding="utf-8")
    write(tmp_path / "givens.yaml", "givens:\n  a: {use: b}\n  b: {use: a}\n")
    rendered = problems_of(write(tmp_path / "x.yaml", "name: A\ngiven: {use: a}\nexpect: {outcome: none}\n"))
    assert "shared given block 'a' uses itself (a → b → a)" in rendered
    assert rendered.startswith("givens.yaml:3:12:")


def test_schema_knows_matrices_placeholders_and_givens_files() -> None:
    """Editors accept what the loader accepts: a matrix, '{var}' in a choice, and a givens.yaml."""
    validator = jsonschema.Draft202012Validator(scenario_schema())
    for text in (ROWS, GIVENS, "name: A\ngiven: {use: [a, b]}\nexpect: {outcome: none, alert: '{x}', within: '{t}'}\n"):
        validator.validate(yaml.safe_load(textwrap.dedent(text)))
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"name": "A", "matrix": {"2bad": [1]}, "expect": {"outcome": "none"}})
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"name": "A", "given": {"permission": {"microphone": "blocked"}},
                            "expect": {"outcome": "none"}})


@pytest.mark.parametrize("expect", [
    {"outcome": "none", "message": {}},
    {"outcome": "none", "message": {"regex": "a", "contains": "b"}},
    {"within": "3s"},
    {"outcome": "none", "within": "0s"},
    {"outcome": "none", "within": 0},
    {"outcome": "none", "within": 100000},
    {"outcome": "none", "within": -1},
    {"outcome": "none", "telemetry": {"fields": []}},
    {"outcome": "none", "help": {"safari": "x"}},
], ids=["empty-match", "two-match-modes", "nothing-to-check", "zero-text", "zero", "too-long", "negative",
        "no-fields", "unknown-engine"])
def test_schema_refuses_what_the_loader_refuses(expect: dict[str, object], tmp_path: Path) -> None:
    """An editor must not call a file fine that 'mediafault validate' rejects."""
    doc = {"name": "A", "expect": expect}
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    with pytest.raises(InputError):
        load_file(path)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(scenario_schema()).validate(doc)


@pytest.mark.parametrize("expect", [
    {"outcome": "none", "message": "Microphone access needed"},
    {"outcome": "none", "message": {"contains": "access"}, "within": "500ms"},
    {"outcome": "none", "within": 2.5},
    {"help": {"chromium": {"contains": "Site settings"}, "webkit": "x"}, "fallback": True},
    {"console": True, "telemetry": {"fields": ["code", "browser"]}},
], ids=["plain-message", "contains", "number", "help-per-engine", "console-and-fields"])
def test_schema_accepts_what_the_loader_accepts(expect: dict[str, object], tmp_path: Path) -> None:
    """And the forms the format reference shows are fine in an editor too."""
    doc = {"name": "A", "expect": expect}
    path = tmp_path / "a.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    load_file(path)
    jsonschema.Draft202012Validator(scenario_schema()).validate(doc)


# -------------------------------------------------------------------------------------------------- init


def test_init_without_app_or_terminal_says_what_to_give(tmp_path: Path) -> None:
    """In CI nothing is asked: without --url or --app-dir it stops with the flags to use, writing nothing."""
    result = mf("init", cwd=tmp_path)
    assert result.returncode == 2
    assert "give --url URL (a running app) or --app-dir DIR" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    """An existing file stops init before anything is written; --force overwrites."""
    (tmp_path / "scenarios" / "page").mkdir(parents=True)
    mine = tmp_path / "scenarios" / "page" / "iphone.yaml"
    mine.write_text("mine\n", encoding="utf-8")
    result = mf("init", "--app-dir", str(BUNDLED_APP), "--no-detect", cwd=tmp_path)
    assert result.returncode == 2
    assert "these files exist already" in result.stderr and "scenarios/page/iphone.yaml" in result.stderr
    assert mine.read_text(encoding="utf-8") == "mine\n"
    assert not (tmp_path / "mediafault.yaml").exists()
    forced = mf("init", "--app-dir", str(BUNDLED_APP), "--force", "--no-detect", cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert mine.read_text(encoding="utf-8").startswith("# yaml-language-server: $schema=../../scenario.schema.json")


def test_init_asks_on_a_terminal_and_writes_what_was_answered(tmp_path: Path) -> None:
    """The questions fill what the flags leave open; answers are checked and end up in mediafault.yaml."""
    answers = iter(["http://localhost:5173/call", ".call-error", "data-code", ".call-error p",
                    r"^\[voice\] (?P<code>\d+): (?P<message>.*)$", "/api/client-errors", "button.start",
                    "twilio-voice@2"])
    asked: list[str] = []

    def ask(question: str, default: str) -> str:
        asked.append(question)
        return next(answers)

    got = scaffold.gather({}, ask)
    scaffold.write(scaffold.files_for(got, tmp_path), force=False)
    config = yaml.safe_load((tmp_path / "mediafault.yaml").read_text(encoding="utf-8"))
    assert config == {"app": {"url": "http://localhost:5173/call", "profile": "twilio-voice@2", "surface": {
        "code": ".call-error", "code_attribute": "data-code", "message": ".call-error p",
        "console": r"^\[voice\] (?P<code>\d+): (?P<message>.*)$", "telemetry": "/api/client-errors"}}}
    assert len(asked) == 8
    starter = (tmp_path / "scenarios" / "permission" / "granted.yaml").read_text(encoding="utf-8")
    assert 'click: "button.start"' in starter
    scenarios, errors = load_paths([tmp_path / "scenarios"])
    assert not errors and len(scenarios) == 6


def test_init_rejects_a_console_pattern_without_a_code_group(tmp_path: Path) -> None:
    """A pattern the harness could not use is refused with the reason."""
    result = mf("init", "--url", "http://localhost:8000/", "--console", "error: (.*)", cwd=tmp_path)
    assert result.returncode == 2
    assert "needs a named group (?P<code>…)" in result.stderr


@needs_chromium
@pytest.mark.browser
def test_init_then_run_passes_then_a_wrong_code_fails_at_its_line(tmp_path: Path) -> None:
    """The new-user path: init against the bundled app (served as a directory), the starter scenarios pass
    on Chromium; a scenario edited to expect a wrong code fails with file:line and expected vs observed."""
    init = mf("init", "--app-dir", str(BUNDLED_APP), cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    assert (tmp_path / "mediafault.yaml").is_file() and (tmp_path / "scenario.schema.json").is_file()
    for path in (tmp_path / "scenarios").rglob("*.yaml"):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert (path.parent / first.split("=", 1)[1]).resolve() == (tmp_path / "scenario.schema.json").resolve()
    run = mf("run", "--engine", "chromium", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "6 passed" in run.stdout
    junit = (tmp_path / "reports" / "junit.xml").read_text(encoding="utf-8")
    assert 'failures="0"' in junit and "Microphone blocked by company policy[chromium]" in junit

    blocked = tmp_path / "scenarios" / "permission" / "blocked.yaml"
    text = blocked.read_text(encoding="utf-8")
    blocked.write_text(text.replace("  outcome: permission-denied\n", "  code: mic-blocked\n"), encoding="utf-8")
    expect_line = text.splitlines().index("expect:") + 1
    row_line = next(i for i, line in enumerate(text.splitlines(), 1) if "by company policy" in line)
    failed = mf("run", "--engine", "chromium", "scenarios/permission/blocked.yaml", cwd=tmp_path)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert (f"scenarios/permission/blocked.yaml:{expect_line}:1: Microphone blocked by company policy[chromium]: "
            f"wrong code (matrix row at line {row_line})") in failed.stdout, failed.stdout
    assert "FAIL  code   'mic-blocked'  'mic-permission-denied'" in failed.stdout


# --------------------------------------------------------------------------------------------- user profile


def test_user_profile_errors_are_positioned(tmp_path: Path) -> None:
    """A typo in a user's profile, or a profile name that does not exist, is reported at its line."""
    assert mf("init", "--app-dir", str(BUNDLED_APP), "--profile", "acme-widget", "--no-detect",
              cwd=tmp_path).returncode == 0
    profile = tmp_path / "profiles" / "acme-widget.yaml"
    assert "name: acme-widget" in profile.read_text(encoding="utf-8")
    assert mf("validate", cwd=tmp_path).returncode == 0
    text = profile.read_text(encoding="utf-8")
    profile.write_text(text.replace("  device-busy:", "  device-bussy:"), encoding="utf-8")
    line = text.splitlines().index("  device-busy:") + 1
    bad = mf("validate", cwd=tmp_path)
    assert bad.returncode == 2
    assert (f"profiles/acme-widget.yaml:{line}:3: unknown outcome 'device-bussy' in profile 'acme-widget' "
            "(did you mean 'device-busy'?)") in bad.stderr
    profile.write_text(text, encoding="utf-8")
    config = tmp_path / "mediafault.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace("profile: acme-widget", "profile: acme-widgte"),
                      encoding="utf-8")
    wrong = mf("validate", cwd=tmp_path)
    assert "mediafault.yaml:4:12: unknown app profile 'acme-widgte' (did you mean 'acme-widget'?)" in wrong.stderr
    assert "yours (" in wrong.stderr and "acme-widget" in wrong.stderr
    run = mf("run", "--engine", "chromium", cwd=tmp_path)
    assert run.returncode != 0 and "mediafault.yaml:4:12: unknown app profile 'acme-widgte'" in run.stderr


@needs_chromium
@pytest.mark.browser
def test_user_profile_decides_the_expected_codes(tmp_path: Path) -> None:
    """The user's own profile is the one in effect: its codes are what the cases expect."""
    assert mf("init", "--app-dir", str(BUNDLED_APP), "--profile", "acme-widget", cwd=tmp_path).returncode == 0
    profile = tmp_path / "profiles" / "acme-widget.yaml"
    text = profile.read_text(encoding="utf-8")
    profile.write_text(text.replace("code: mic-busy", "code: ACME-BUSY"), encoding="utf-8")
    run = mf("run", "--engine", "chromium", "scenarios/device/faults.yaml", cwd=tmp_path)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Microphone held by another application[chromium]: wrong code (matrix row at line" in run.stdout
    assert "profile acme-widget" in run.stdout
    assert "'ACME-BUSY'" in run.stdout and "'mic-busy'" in run.stdout
    assert "1 failed, 1 passed" in run.stdout


# -------------------------------------------------------------------------------------------- the catalogue


def _literal_values(model: type[BaseModel], prefix: str = "") -> dict[str, set[str]]:
    """Every choice-valued field under ``model``: 'given.permission.microphone' → its values."""
    out: dict[str, set[str]] = {}
    for name, info in model.model_fields.items():
        key = f"{prefix}{info.alias or name}"
        args = typing.get_args(info.annotation) or (info.annotation,)
        for arg in (a for t in args for a in (typing.get_args(t) if typing.get_origin(t) is typing.Union else (t,))):
            if typing.get_origin(arg) is typing.Literal:
                out.setdefault(key, set()).update(str(v) for v in typing.get_args(arg))
            elif isinstance(arg, type) and issubclass(arg, BaseModel):
                out.update(_literal_values(arg, f"{key}."))
    return out


def _used_values(data: object, prefix: str = "") -> set[tuple[str, str]]:
    """(dotted key, value) for every scalar in a scenario's data."""
    if isinstance(data, dict):
        return {kv for k, v in data.items() for kv in _used_values(v, f"{prefix}{k}.")}
    if isinstance(data, list):
        return {kv for v in data for kv in _used_values(v, prefix)}
    return {(prefix.rstrip("."), str(data))}


def test_catalogue_covers_every_condition_value() -> None:
    """Every value of every condition (given, and the mid-call faults) is used by a catalogue scenario."""
    scenarios, errors = load_paths([REPO / "scenarios"])
    assert not errors
    used: set[tuple[str, str]] = set()
    for source in scenarios:
        scenario = source.scenario
        used |= _used_values(scenario.given.model_dump(by_alias=True), "given.")
        used |= {kv for fault in scenario.during for kv in _used_values(fault.model_dump(by_alias=True), "during.")}
    wanted = {**_literal_values(Given, "given."), **_literal_values(Fault, "during.")}
    missing = sorted(f"{key}: {value}" for key, values in wanted.items() for value in values
                     if (key, value) not in used)
    assert not missing, "no catalogue scenario uses: " + ", ".join(missing)
    assert any(s.scenario.given.device.audio not in ("default", "silent", "tone") for s in scenarios)  # a WAV file


def test_every_catalogue_scenario_says_which_real_world_situation_it_models() -> None:
    """Descriptions are the catalogue's documentation: each one is there and says something real."""
    scenarios, _ = load_paths([REPO / "scenarios"])
    thin = [s.scenario.name for s in scenarios if len(s.scenario.description.split()) < 15]
    assert not thin, f"describe the real-world situation of: {thin}"


def test_catalogue_uses_matrices_and_shared_blocks() -> None:
    """The catalogue is the example people copy: it shows both ways of not repeating oneself."""
    scenarios, _ = load_paths([REPO / "scenarios"])
    assert sum(1 for s in scenarios if s.row is not None) >= 4
    raw = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in (REPO / "scenarios").rglob("*.yaml")]
    assert any("givens" in r for r in raw)
    assert "use: connected-call" in (REPO / "scenarios" / "mid-call" / "faults.yaml").read_text(encoding="utf-8")


def test_conditions_guide_lists_every_condition_with_each_engine() -> None:
    """docs/conditions.md is generated from the condition table: every condition value and every engine."""
    from harness.reproduce.conditions import all_values
    from harness.scenario.model import ENGINES

    guide = (REPO / "docs" / "conditions.md").read_text(encoding="utf-8")
    for condition, values in all_values().items():
        assert f"`{condition}`" in guide
        for value in values:
            assert f"### `{value}`" in guide
    for engine in ENGINES:
        assert f"| {engine} | **" in guide
    assert json.loads((REPO / "docs" / "scenario.schema.json").read_text(encoding="utf-8"))["$defs"]["Placeholder"]
    assert Scenario.model_fields["matrix"].description
