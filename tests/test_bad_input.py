"""Bad scenario files: every problem is reported as ``file:line:col: message`` with a hint, never a traceback."""

from __future__ import annotations

import fnmatch
import textwrap
from pathlib import Path

import pytest

from harness.core.errors import InputError
from harness.scenario.loader import load_file, load_paths, scenario_files

GOOD_TAIL = """
        expect:
          outcome: permission-denied
        """

# (id, YAML text, glob that the first rendered line must match, hint glob or "")
CASES: list[tuple[str, str, str, str]] = [
    ("typo-in-given", """
        name: A
        given:
          permision: {microphone: denied}
        """ + GOOD_TAIL,
     "x.yaml:3:3: unknown key 'permision' in given (did you mean 'permission'?)",
     "*allowed keys in given: permission*"),
    ("typo-top-level", """
        name: A
        expct:
          outcome: permission-denied
        """,
     "x.yaml:1:1: missing required key 'expect' in the scenario", "*"),
    ("bad-permission-value", """
        name: A
        given:
          permission: {microphone: dennied}
        """ + GOOD_TAIL,
     "x.yaml:3:28: 'dennied' is not a valid value for given.permission.microphone (did you mean 'denied'?)",
     "*one of: granted, denied, dismissed*"),
    ("synonym-value", """
        name: A
        given:
          permission: {microphone: blocked}
        """ + GOOD_TAIL,
     "x.yaml:3:28: 'blocked' is not a valid value for given.permission.microphone (did you mean 'denied'?)",
     "*one of: granted, denied, dismissed, policy, prompt*"),
    ("bad-engine", """
        name: A
        engines: [chrome]
        """ + GOOD_TAIL,
     "x.yaml:2:11: 'chrome' is not a valid value for engines[0] (did you mean 'chromium'?)",
     "*chromium, firefox, webkit*"),
    ("missing-name", """
        given: {}
        """ + GOOD_TAIL,
     "x.yaml:1:1: missing required key 'name' in the scenario", "*Unique title*"),
    ("tags-not-a-list", """
        name: A
        tags: permission
        """ + GOOD_TAIL,
     "x.yaml:2:7: tags must be a list, got str 'permission'", ""),
    ("bad-regex", """
        name: A
        expect:
          outcome: permission-denied
          message: {regex: "Microphone ("}
        """,
     "x.yaml:4:20: expect.message.regex: bad regular expression 'Microphone (': missing ), *", ""),
    ("bad-duration", """
        name: A
        expect:
          outcome: permission-denied
          within: 3 seconds
        """,
     "x.yaml:4:11: expect.within: '3 seconds' is not a duration; write it like '3s', '500ms' or '2m'", ""),
    ("two-actions-in-a-step", """
        name: A
        when:
          - click: "#call"
            wait_for: "#status"
        """ + GOOD_TAIL,
     "x.yaml:3:5: when[0]: a step does one thing; split click, wait_for into separate steps", ""),
    ("unknown-action", """
        name: A
        when:
          - clik: "#call"
        """ + GOOD_TAIL,
     "x.yaml:3:5: unknown key 'clik' in when[0] (did you mean 'click'?)", "*allowed keys in when[0]: click, wait_for*"),
    ("duplicate-scenario-name", """
        scenarios:
          - name: Same
            expect: {outcome: none}
          - name: Same
            expect: {outcome: none}
        """,
     "x.yaml:4:5: duplicate scenario name 'Same' (first defined at *x.yaml:2:5)", "*must be unique*"),
    ("duplicate-key", """
        name: A
        given: {}
        given: {}
        """ + GOOD_TAIL,
     "x.yaml:3:1: duplicate key 'given' (first at line 2)", "*keeps only the last one*"),
    ("yaml-syntax", """
        name: A
        given:
          permission: {microphone: denied
        """ + GOOD_TAIL,
     "x.yaml:5:7: YAML syntax error: expected ',' or '}', but got ':' "
     "(while parsing a flow mapping that starts at line 3)", "*indentation and quoting*"),
    ("unknown-link-profile", """
        name: A
        given:
          network: {turn: none, shape: 4g}
        """ + GOOD_TAIL,
     "x.yaml:3:32: '4g' is not a valid value for given.network.shape", "*3g, lossy-wifi, satellite*"),
    ("bad-loss", """
        name: A
        given:
          network: {turn: none, shape: {loss: 120%}}
        """ + GOOD_TAIL,
     "x.yaml:3:*: *'120%' is not a loss percentage; write it like '5%' (0–100)*", ""),
    ("bad-bandwidth", """
        name: A
        given:
          network:
            shape: {bandwidth: 2 megabits}
        """ + GOOD_TAIL,
     "x.yaml:4:*: *'2 megabits' is not a rate; write it like '750kbit' or '2mbit'*", ""),
    ("for-without-drop", """
        name: A
        during:
          - {after: microphone-acquired, do: revoke-permission, for: 5s}
        """ + GOOD_TAIL,
     "x.yaml:3:5: during[0]: 'for' only applies to drop-network*", ""),
    ("drop-without-lab", """
        name: A
        during:
          - {after: call-connected, do: drop-network}
        """ + GOOD_TAIL,
     "x.yaml:1:1: *drop-network needs a call through the network lab: add given.network*", ""),
    ("unplug-camera-without-camera", """
        name: A
        during:
          - {after: camera-acquired, do: unplug-camera}
        """ + GOOD_TAIL,
     "x.yaml:1:1: *unplug-camera needs a camera in the case: add given.device.camera: default*", ""),
    ("bad-camera-value", """
        name: A
        given:
          device: {camera: broken}
        """ + GOOD_TAIL,
     "x.yaml:3:*: *'broken'*", "*default*none*busy*overconstrained*"),
    ("empty-file", "", "x.yaml:1:1: the file is empty", "*'name' and 'expect'*"),
    ("top-level-list", """
        - name: A
        """,
     "x.yaml:1:1: a scenario file must be a mapping (a scenario) or have 'scenarios:'", "*"),
    ("expect-checks-nothing", """
        name: A
        expect:
          within: 2s
        """,
     "x.yaml:3:3: expect: nothing to check; give at least one of: outcome, code, *", ""),
    ("tag-not-a-marker", """
        name: A
        tags: [Sign Off]
        """ + GOOD_TAIL,
     "x.yaml:2:7: tags: tag 'Sign Off' cannot be a pytest marker; *", ""),
    ("unknown-outcome", """
        name: A
        expect:
          outcome: mic-denied
        """,
     "x.yaml:3:12: 'mic-denied' is not a valid value for expect.outcome*", "*permission-denied, *"),
    ("two-match-modes", """
        name: A
        expect:
          message: {exact: Microphone access needed, contains: Microphone}
        """,
     "x.yaml:3:12: expect.message: give exactly one of 'exact', 'contains' or 'regex' *", ""),
    ("name-with-brackets", """
        name: "Denied [chromium only]"
        """ + GOOD_TAIL,
     "x.yaml:1:7: name: a name is one line without '[', ']' or '::' *", ""),
    ("empty-scenarios-list", """
        scenarios: []
        """,
     "x.yaml:1:12: scenarios: list should have at least 1 item *", ""),
    ("engine-twice", """
        name: A
        engines: [chromium, chromium]
        """ + GOOD_TAIL,
     "x.yaml:2:10: engines: an engine is listed twice", ""),
    ("misspelt-scenarios", """
        secnarios:
          - name: A
            expect: {outcome: none}
        """,
     "x.yaml:1:1: unknown top-level key 'secnarios' (did you mean 'scenarios'?)", "*or several as a list under*"),
    ("misspelt-scenarios-beside-a-scenario", """
        name: A
        expect: {outcome: none}
        scenaros: []
        """,
     "x.yaml:3:1: unknown top-level key 'scenaros' (did you mean 'scenarios'?)", ""),
    ("misspelt-givens", """
        givns:
          connected: {permission: {microphone: granted}}
        """,
     "x.yaml:1:1: unknown top-level key 'givns' (did you mean 'givens'?)", "*in a givens.yaml*"),
    ("misspelt-given-in-a-scenario", """
        name: A
        givns: {}
        """ + GOOD_TAIL,
     "x.yaml:2:1: unknown key 'givns' in the scenario (did you mean 'given'?)", ""),
    ("scenario-key-beside-scenarios", """
        scenarios:
          - name: A
            expect: {outcome: none}
        nmae: B
        """,
     "x.yaml:4:1: unknown top-level key 'nmae' beside 'scenarios' (did you mean 'name'?)", "*in its item of the list*"),
    ("bool-for-alert", """
        name: A
        expect:
          outcome: permission-denied
          alert: sometimes
        """,
     "x.yaml:4:10: expect.alert must be true or false, got str 'sometimes'", ""),
]


@pytest.mark.parametrize(("text", "first_line", "hint"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_points_at_file_line_and_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str,
                                               first_line: str, hint: str) -> None:
    """Each bad input gives one precise, positioned message (and a hint where one helps)."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "x.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_file(path)
    rendered = str(info.value)
    first = rendered.splitlines()[0]
    assert fnmatch.fnmatchcase(first, _glob(first_line)), rendered
    assert "Traceback" not in rendered
    if hint:
        assert any(fnmatch.fnmatchcase(line, _glob(hint)) for line in rendered.splitlines()), rendered


def _glob(pattern: str) -> str:
    """Only '*' is a wildcard in these patterns; brackets are literal (they appear in 'when[0]')."""
    return pattern.replace("[", "[[]")


def test_every_problem_in_a_file_is_reported_in_line_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Fixing one typo at a time is slow: all problems of a file come at once, sorted by line."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "x.yaml"
    path.write_text("name: A\ngiven:\n  device: {microphone: usb}\n  permision: {}\nexpect:\n  within: soon\n"
                    "  outcome: none\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_file(path)
    lines = [p.position.line for p in info.value.problems]
    assert lines == [3, 4, 6]


def test_caret_sits_under_the_offending_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The source line is quoted with a caret under the column."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "x.yaml"
    path.write_text("name: A\ngiven:\n  permision: {}\nexpect: {outcome: none}\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_file(path)
    rendered = str(info.value).splitlines()
    assert rendered[1] == "    3 |   permision: {}"
    assert rendered[2] == "      |   ^"


def test_duplicate_names_across_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two files may not use the same name: test ids would collide."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.yaml").write_text("name: Same\nexpect: {outcome: none}\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("name: same\nexpect: {outcome: none}\n", encoding="utf-8")
    scenarios, errors = load_paths([tmp_path])
    assert [s.scenario.name for s in scenarios] == ["Same"]
    assert str(errors[0]).startswith("b.yaml:1:1: duplicate scenario name 'same' (first defined at a.yaml:1:1)")


def test_merge_keys_reuse_a_shared_given(tmp_path: Path) -> None:
    """A ``given`` block can be shared with a YAML anchor and ``<<`` instead of copy-paste."""
    path = tmp_path / "x.yaml"
    path.write_text(textwrap.dedent("""
        scenarios:
          - name: First
            given: &blocked
              permission: {microphone: denied}
            expect: {outcome: permission-denied}
          - name: Second
            given:
              <<: *blocked
              device: {microphone: none}
            expect: {outcome: device-not-found}
        """), encoding="utf-8")
    second = load_file(path)[1].scenario
    assert second.given.permission.microphone == "denied"
    assert second.given.device.microphone == "none"


def test_a_file_reached_twice_is_loaded_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file given twice, or inside a folder also given, is not reported as its own duplicate."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.yaml").write_text("name: A\nexpect: {outcome: none}\n", encoding="utf-8")
    for paths in ([tmp_path, tmp_path / "sub" / "a.yaml"], [Path("sub/a.yaml"), tmp_path / "sub" / "a.yaml"]):
        scenarios, errors = load_paths(paths)
        assert not errors, [str(e) for e in errors]
        assert [s.scenario.name for s in scenarios] == ["A"]


def test_only_scenario_files_are_loaded_from_a_folder(tmp_path: Path) -> None:
    """In a folder: YAML with a scenario key (a broken one too, so its mistake is reported); not the app
    config, other YAML, or build/hidden folders. A file named on its own is always loaded."""
    files = {"ok.yaml": "name: A\nexpect: {outcome: none}\n", "typo.yaml": "name: B\ngiven: {}\nexpct: {}\n",
             "syntax.yaml": "name: [C\n", "givens.yaml": "givens:\n  g: {}\n", "mediafault.yaml": "app: {}\n",
             "profile.yaml": "name: p\noutcomes: {}\n", "empty.yaml": "", "build/x.yaml": "name: D\n",
             ".hidden/x.yaml": "name: E\n", "notes.txt": "name: F\n"}
    for relpath, text in files.items():
        (tmp_path / relpath).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relpath).write_text(text, encoding="utf-8")
    assert [p.name for p in scenario_files([tmp_path])] == ["givens.yaml", "ok.yaml", "syntax.yaml", "typo.yaml"]
    assert scenario_files([tmp_path / "profile.yaml"]) == [tmp_path / "profile.yaml"]
    assert scenario_files([tmp_path / "mediafault.yaml"]) == []


def test_a_tag_named_like_an_engine_is_rejected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Engine names are markers of every case ('-m firefox'); a tag 'firefox' on a scenario would make a
    chromium case match it, so such a tag is a positioned error."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "x.yaml"
    path.write_text("name: A\ntags: [permission, firefox]\nexpect: {outcome: none}\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_file(path)
    assert str(info.value).startswith("x.yaml:2:7: tags: tag 'firefox' is an engine's name"), str(info.value)
    assert "write engines: [firefox]" in str(info.value)


def test_a_misspelt_scenarios_key_is_the_only_problem_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Judged as one scenario, a file whose 'scenarios:' is misspelt would be told it lacks 'name' and 'expect';
    the typo is what to fix, and the rest depends on it."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "x.yaml"
    path.write_text("description: shared\nsecnarios:\n  - name: A\n    expect: {outcome: none}\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        load_file(path)
    assert [p.message for p in info.value.problems] == ["unknown top-level key 'secnarios' (did you mean "
                                                        "'scenarios'?)"]
    assert info.value.first.position.line == 2
