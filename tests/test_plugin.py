"""The pytest plugin end to end (pytester, in a subprocess like a user's run): collection, naming,
selection by -k / -m / engine, ini twins, xdist grouping, and bad files that fail loudly without
stopping the good ones."""

from __future__ import annotations

import fnmatch
import json
import re
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import WriteScenario, needs_chromium

DENIED = """
    name: Microphone blocked for the site
    tags: [permission, sign-off]
    given:
      permission: {microphone: denied}
    expect:
      outcome: permission-denied
"""
NO_MIC = """
    name: No microphone connected
    tags: [device]
    engines: [chromium, firefox]
    given:
      device: {microphone: none}
    expect:
      outcome: device-not-found
"""


def test_each_scenario_becomes_one_item_per_engine(project: pytest.Pytester, write_scenario: WriteScenario) -> None:
    """Items are named '<scenario name>[<engine>]' and honour the scenario's engine list."""
    write_scenario("permission/denied.yaml", DENIED)
    write_scenario("device/no-mic.yaml", NO_MIC)
    result = project.runpytest_subprocess("--collect-only", "-q")
    ids = {line for line in result.stdout.lines if "::" in line}
    assert ids == {
        "scenarios/device/no-mic.yaml::No microphone connected[chromium]",
        "scenarios/device/no-mic.yaml::No microphone connected[firefox]",
        "scenarios/permission/denied.yaml::Microphone blocked for the site[chromium]",
        "scenarios/permission/denied.yaml::Microphone blocked for the site[firefox]",
        "scenarios/permission/denied.yaml::Microphone blocked for the site[webkit]",
    }
    result.stdout.fnmatch_lines(["5 tests collected*"])
    assert result.ret == 0


@pytest.mark.parametrize(("args", "expected"), [
    (["-k", "blocked and chromium"], "1/5 tests collected (4 deselected)*"),
    (["-k", "not webkit"], "4/5 tests collected (1 deselected)*"),
    (["-m", "device"], "2/5 tests collected (3 deselected)*"),
    (["-m", "sign-off and firefox"], "1/5 tests collected (4 deselected)*"),
    (["--mf-engine", "chromium"], "2 tests collected*"),
    (["--mf-engine", "firefox", "--mf-engine", "webkit"], "3 tests collected*"),
])
def test_selection(project: pytest.Pytester, write_scenario: WriteScenario, args: list[str], expected: str) -> None:
    """-k, -m (tags and engines are markers, strict markers on) and --mf-engine select cases."""
    write_scenario("permission/denied.yaml", DENIED)
    write_scenario("device/no-mic.yaml", NO_MIC)
    result = project.runpytest_subprocess("--collect-only", "-q", *args)
    result.stdout.fnmatch_lines([expected])


def test_engine_ini_twin(project: pytest.Pytester, write_scenario: WriteScenario) -> None:
    """mf_engine works from the ini; the command line wins over it (the other twins: test_ini_twins_take_effect)."""
    write_scenario("permission/denied.yaml", DENIED)
    project.makefile(".ini", pytest="[pytest]\naddopts = --strict-markers -p no:cacheprovider\nmf_engine = firefox\n")
    only_ini = project.runpytest_subprocess("--collect-only", "-q")
    only_ini.stdout.fnmatch_lines(["*[[]firefox]", "1 test collected*"])
    both = project.runpytest_subprocess("--collect-only", "-q", "--mf-engine", "webkit")
    both.stdout.fnmatch_lines(["*[[]webkit]", "1 test collected*"])


def test_bad_file_fails_loudly_and_the_rest_still_runs(project: pytest.Pytester, write_scenario: WriteScenario) -> None:
    """A bad YAML file is a collection error with its file:line message; the good files still run; exit 1."""
    write_scenario("permission/denied.yaml", DENIED)
    write_scenario("zz-bad.yaml", """
        name: Broken one
        given:
          permision: {microphone: denied}
        expect:
          outcome: permission-denied
    """)
    result = project.runpytest_subprocess("--mf-engine", "webkit", "--mf-route", "webkit=none", "-rs",
                                          "--junitxml=junit.xml", "--alluredir=allure")
    result.stdout.fnmatch_lines([
        "*ERROR collecting scenarios/zz-bad.yaml*",
        "scenarios/zz-bad.yaml:3:3: unknown key 'permision' in given (did you mean 'permission'?)",
        "*hint: allowed keys in given: permission, device, page, network, gesture, use",
    ])
    result.assert_outcomes(skipped=1, errors=1)
    assert result.ret == 1
    assert "Traceback" not in result.stdout.str()
    junit = ET.parse(project.path / "junit.xml").getroot()
    errors = [e.get("message", "") + (e.text or "") for e in junit.iter("error")]
    assert any("zz-bad.yaml:3:3: unknown key 'permision'" in e for e in errors), errors
    results = [json.loads(p.read_text()) for p in (project.path / "allure").glob("*-result.json")]
    broken = [r for r in results if r["status"] == "broken"]
    assert len(broken) == 1, results  # the bad file is in the sign-off report too, not silently missing
    assert "zz-bad.yaml:3:3: unknown key 'permision'" in broken[0]["statusDetails"]["message"]


def test_duplicate_names_across_files_are_an_error(project: pytest.Pytester, write_scenario: WriteScenario) -> None:
    """Test ids must be unique across the catalogue."""
    write_scenario("a.yaml", DENIED)
    write_scenario("b.yaml", DENIED)
    result = project.runpytest_subprocess("--collect-only", "-q", "--mf-engine", "chromium")
    result.stdout.fnmatch_lines([
        "scenarios/b.yaml:1:1: duplicate scenario name 'Microphone blocked for the site' "
        "(first defined at scenarios/a.yaml:1:1)",
    ])
    assert result.ret == 1


def test_unavailable_engine_is_skipped_with_the_reason_at_the_scenario_line(
        project: pytest.Pytester, write_scenario: WriteScenario) -> None:
    """An engine without a usable route is skipped (never passed), and the reason says why."""
    write_scenario("permission/denied.yaml", DENIED)
    result = project.runpytest_subprocess("--mf-engine", "webkit", "--mf-route", "webkit=none", "-rs")
    result.stdout.fnmatch_lines(["SKIPPED [[]1] scenarios/permission/denied.yaml:1: webkit is not available here: "
                                 "no route 'none' for webkit (routes: playwright, selenium-webkitgtk)"])
    result.assert_outcomes(skipped=1)


def test_yaml_outside_scenario_dirs_is_ignored(project: pytest.Pytester) -> None:
    """Only YAML under a 'scenarios' directory (or named on the command line) is collected."""
    (project.path / "config").mkdir()
    (project.path / "config" / "ci.yaml").write_text("jobs: {}\n", encoding="utf-8")
    result = project.runpytest_subprocess("--collect-only", "-q")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_explicit_file_outside_scenario_dirs_is_collected(project: pytest.Pytester) -> None:
    """Naming a file on the command line collects it wherever it is."""
    path = project.path / "my-check.yaml"
    path.write_text("name: Mine\nengines: [webkit]\nexpect: {outcome: none}\n", encoding="utf-8")
    result = project.runpytest_subprocess("--collect-only", "-q", str(path))
    result.stdout.fnmatch_lines(["my-check.yaml::Mine[[]webkit]"])


def test_bad_config_is_a_usage_error(project: pytest.Pytester, write_scenario: WriteScenario) -> None:
    """A bad mediafault.yaml stops the run at once with its file:line message."""
    write_scenario("a.yaml", DENIED)
    (project.path / "mediafault.yaml").write_text("app:\n  profil: twilio-voice@2\n", encoding="utf-8")
    result = project.runpytest_subprocess("--collect-only", "-q")
    result.stderr.fnmatch_lines(["*mediafault.yaml:2:3: unknown key 'profil' in app (did you mean 'profile'?)"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


@pytest.mark.parametrize(("args", "message"), [
    (["-k", "Microphone blocked for the site"],
     ["ERROR: Wrong expression passed to '-k': Microphone blocked for the site: at column 12: *",
      "  hint: join the words of a case's name with and/or/not, e.g. -k 'blocked and site and chromium'"]),
    (["-m", "webkit and"],
     ["ERROR: Wrong expression passed to '-m': webkit and: at column 11: *",
      "  hint: join marker names with and/or/not, e.g. -m 'chromium and not network'"]),
], ids=["-k", "-m"])
@pytest.mark.parametrize("workers", ["0", "2"])
def test_bad_selection_is_a_usage_error(project: pytest.Pytester, write_scenario: WriteScenario, workers: str,
                                        args: list[str], message: list[str]) -> None:
    """A -k or -m pytest cannot parse is said with what to write instead, with workers or without (under
    xdist only the workers read it, and they stopped with an INTERNALERROR traceback)."""
    write_scenario("permission/denied.yaml", DENIED)
    result = project.runpytest_subprocess("-n", workers, *args, *SKIP_RUN)
    result.stderr.fnmatch_lines(message)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_xdist_keeps_cases_sharing_a_launch_on_one_worker(project: pytest.Pytester,
                                                          write_scenario: WriteScenario) -> None:
    """Under -n 2, cases with the same launch configuration run on the same worker (one launch)."""
    for n in range(3):
        write_scenario(f"same-launch-{n}.yaml", f"""
            name: Same launch {n}
            engines: [webkit]
            expect: {{outcome: none}}
        """)
    result = project.runpytest_subprocess("-n", "2", "-v", "--mf-route", "webkit=none")
    lines = [line for line in result.stdout.lines if "Same launch" in line and "SKIPPED" in line]
    workers = {m.group(1) for line in lines if (m := re.search(r"\[(gw\d)\]", line))}
    assert len(lines) == 3, result.stdout.str()
    assert len(workers) == 1, lines


def test_folder_named_on_the_command_line_is_a_scenario_folder(project: pytest.Pytester) -> None:
    """A folder given on the command line is searched with the same rule as 'mediafault validate': its
    scenario files are collected wherever it is; YAML that is not a scenario (a CI job, shared givens, the app
    config) is not, and gives no error."""
    checks = project.path / "checks"
    (checks / "build").mkdir(parents=True)
    (checks / "mine.yaml").write_text("name: Mine\nengines: [webkit]\nexpect: {outcome: none}\n", encoding="utf-8")
    (checks / "ci.yaml").write_text("jobs: {}\n", encoding="utf-8")
    (checks / "givens.yaml").write_text("givens:\n  blocked: {permission: {microphone: denied}}\n", encoding="utf-8")
    (checks / "mediafault.yaml").write_text("app: {}\n", encoding="utf-8")
    (checks / "build" / "copy.yaml").write_text("name: Mine\nexpect: {outcome: none}\n", encoding="utf-8")
    result = project.runpytest_subprocess("--collect-only", "-q", "checks")
    result.stdout.fnmatch_lines(["checks/mine.yaml::Mine[[]webkit]", "1 test collected*"])
    assert result.ret == 0, result.stdout.str()


def test_nothing_collected_says_why(project: pytest.Pytester, write_scenario: WriteScenario) -> None:
    """An empty folder, or scenarios with no case on the chosen engines, end with a hint, not a bare exit 5."""
    (project.path / "empty").mkdir()
    (project.path / "empty" / "notes.yaml").write_text("todo: [one]\n", encoding="utf-8")
    empty = project.runpytest_subprocess("empty")
    empty.stdout.fnmatch_lines(["mediafault: no scenario files under empty; in a folder, scenario files are the "
                                "*.yaml and *.yml files whose top level has scenarios:*"])
    assert empty.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    write_scenario("only-webkit.yaml", "name: W\nengines: [webkit]\nexpect: {outcome: none}\n")
    other_engine = project.runpytest_subprocess("--mf-engine", "chromium")
    other_engine.stdout.fnmatch_lines(["mediafault: 1 scenario file(s) found, but none of their cases runs on "
                                       "chromium: check each scenario's 'engines:' and --mf-engine*"])
    assert other_engine.ret == pytest.ExitCode.NO_TESTS_COLLECTED


@pytest.mark.parametrize(("ini", "message"), [
    ("mf_engine = chrome", "mf_engine = chrome: 'chrome' is not an engine (did you mean 'chromium'?); use one or "
                           "more of (space-separated in the ini): chromium, firefox, webkit*"),
    ("mf_engine = chromium chrome", "mf_engine = chromium chrome: 'chrome' is not an engine*"),
    ("mf_trace = sometimes",
     "mf_trace = sometimes: 'sometimes' is not a trace mode; use one of: rerun, on-failure, off*"),
    ("mf_route = chrome=playwright", "--mf-route (ini: mf_route) expects ENGINE=ROUTE*got 'chrome=playwright'"),
    ("mf_profile = twilio", "--mf-profile (ini: mf_profile) twilio: unknown app profile 'twilio'*"),
    ("mf_lanes = many", "mf_lanes = many: 'many' is not a number of lanes from 1 to 8 (ini key mf_lanes, option "
                        "--mf-lanes)"),
])
def test_bad_ini_value_is_a_usage_error(project: pytest.Pytester, write_scenario: WriteScenario, ini: str,
                                        message: str) -> None:
    """An ini value the command line would refuse stops the run, naming the value, the key and the choices
    (an engine left out without a word used to shrink the run, down to 'no tests ran')."""
    write_scenario("permission/denied.yaml", DENIED)
    project.makefile(".ini", pytest=f"[pytest]\naddopts = --strict-markers -p no:cacheprovider\n{ini}\n")
    result = project.runpytest_subprocess("--collect-only", "-q")
    result.stderr.fnmatch_lines([f"*{message}"])
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_every_option_has_an_ini_twin(project: pytest.Pytester) -> None:
    """Each --mf-NAME option is registered as the ini key mf_NAME (the negations --mf-headless and
    --mf-no-matrix switch off mf_headed and mf_matrix)."""
    result = project.runpytest_subprocess("--help")
    options = {m.group(1) for line in result.stdout.lines if (m := re.match(r"\s+--mf-([a-z-]+)", line))}
    ini_keys = {m.group(1) for line in result.stdout.lines if (m := re.match(r"\s+(mf_[a-z_]+) \(", line))}
    assert len(options) >= 11, options
    twins = {f"mf_{name.replace('-', '_')}" for name in options - {"headless", "no-matrix"}}
    assert twins <= ini_keys, twins - ini_keys


SKIP_RUN = ["--mf-engine", "webkit", "--mf-route", "webkit=none"]  # a run that starts no browser


@pytest.mark.parametrize(("ini", "args", "expected"), [
    ("mf_profile = twilio-voice@2", ["--collect-only"], "mediafault: engines *; profile twilio-voice@2"),
    ("mf_app_url = http://127.0.0.1:9/call", ["--collect-only"], "mediafault: engines *app http://127.0.0.1:9/call;*"),
    ("mf_route = webkit=none", ["--mf-engine", "webkit", "-rs"], "SKIPPED*no route 'none' for webkit*"),
    ("mf_matrix = true", SKIP_RUN, "*mediafault: scenario × engine*"),
    ("mf_surface_map = map.md", SKIP_RUN, "error-surface map: map.md and map.html"),
    ("mf_trace = never", ["--collect-only"], "*mf_trace = never: 'never' is not a trace mode*"),
    ("mf_case_timeout = soon", ["--collect-only"], "*mf_case_timeout must be a number of seconds, got 'soon'"),
    ("mf_config = nope.yaml", ["--collect-only"], "*--mf-config nope.yaml: no such file"),
    ("mf_grid_url = not a url", ["--collect-only"], "*--mf-grid-url: *"),
])
def test_ini_twins_take_effect(project: pytest.Pytester, write_scenario: WriteScenario, ini: str, args: list[str],
                               expected: str) -> None:
    """A representative effect of each ini twin (the engine's is above): it is read, and it is checked."""
    write_scenario("permission/denied.yaml", DENIED.replace("tags:", "engines: [webkit]\n    tags:"))
    project.makefile(".ini", pytest=f"[pytest]\naddopts = --strict-markers -p no:cacheprovider\n{ini}\n")
    result = project.runpytest_subprocess(*args)
    output = result.stdout.lines + result.stderr.lines
    assert any(fnmatch.fnmatch(line, expected) for line in output), "\n".join(output)


def test_command_line_switches_off_the_ini(project: pytest.Pytester, write_scenario: WriteScenario) -> None:
    """--mf-no-matrix wins over mf_matrix = true, as every command-line option wins over its ini twin."""
    write_scenario("permission/denied.yaml", DENIED)
    project.makefile(".ini", pytest="[pytest]\naddopts = --strict-markers -p no:cacheprovider\nmf_matrix = true\n")
    shown = project.runpytest_subprocess(*SKIP_RUN)
    assert "mediafault: scenario × engine" in shown.stdout.str()
    hidden = project.runpytest_subprocess(*SKIP_RUN, "--mf-no-matrix")
    hidden.assert_outcomes(skipped=1)
    assert "mediafault: scenario × engine" not in hidden.stdout.str()


@needs_chromium
@pytest.mark.browser
def test_xdist_launches_each_configuration_at_most_once_per_worker(project: pytest.Pytester,
                                                                    write_scenario: WriteScenario) -> None:
    """Six real Chromium cases with one launch configuration on two workers: at most two browser launches
    (chunks of at least MIN_GROUP cases, one per worker), never one per case."""
    for n in range(6):
        write_scenario(f"denied-{n}.yaml", DENIED.replace("Microphone blocked for the site", f"Blocked {n}")
                       .replace("tags:", "engines: [chromium]\n    tags:"))
    result = project.runpytest_subprocess("-n", "2", "--mf-matrix")
    result.assert_outcomes(passed=6)
    launches = [int(m.group(1)) for line in result.stdout.lines if (m := re.match(r"browser launches: (\d+)$", line))]
    assert launches and 1 <= launches[0] <= 2, result.stdout.str()


def _chunks(sizes: dict[str, int], workers: int) -> dict[str, list[int]]:
    """The chunk sizes :func:`chunk` makes of launch groups of ``sizes`` cases, by group."""
    from harness.pytest.scheduling import chunk

    keys = {f"{group}::case{n}": group for group, size in sizes.items() for n in range(size)}
    out: dict[str, dict[str, int]] = {}
    for nodeid, unit in chunk(keys, workers).items():
        counts = out.setdefault(keys[nodeid], {})
        counts[unit] = counts.get(unit, 0) + 1
    return {group: sorted(counts.values(), reverse=True) for group, counts in out.items()}


def test_a_launch_group_is_split_only_when_it_exceeds_a_workers_share() -> None:
    """The built-in catalogue's shape on two workers: every group fits a worker's share, so each is launched
    once (splitting them cost one launch more per engine); one group bigger than the share is spread over the
    workers, in chunks of at least MIN_GROUP, never more chunks than workers."""
    from harness.pytest.scheduling import MIN_GROUP

    assert _chunks({"webkit": 29, "chromium": 20, "firefox": 18, "no-mic": 2, "wav": 1}, 2) == {
        "webkit": [29], "chromium": [20], "firefox": [18], "no-mic": [2], "wav": [1]}
    assert _chunks({"one-config": 50}, 2) == {"one-config": [25, 25]}
    assert _chunks({"big": 100, "small": 10}, 4) == {"big": [25, 25, 25, 25], "small": [10]}
    assert _chunks({"few": 6}, 2) == {"few": [MIN_GROUP, 6 - MIN_GROUP]}
