"""The ``mediafault`` command: validate, list, schema, docs and run, as a user types them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Never

import jsonschema
import pytest
import yaml

from tests.conftest import REPO, needs_chromium

MEDIAFAULT = [sys.executable, "-m", "harness.cli.main"]


def mf(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    """Run the command and capture its output."""
    return subprocess.run([*MEDIAFAULT, *args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False)


def test_validate_accepts_the_catalogue() -> None:
    """The built-in catalogue is valid."""
    result = mf("validate", "scenarios")
    assert result.returncode == 0, result.stderr
    assert "all valid" in result.stdout


def test_validate_reports_file_line_and_exits_2(tmp_path: Path) -> None:
    """A bad file gives exit status 2 and the positioned message on stderr; no traceback."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: A\ngiven:\n  device: {microphone: usb-headset}\nexpect: {outcome: none}\n", encoding="utf-8")
    result = mf("validate", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("bad.yaml:3:24: 'usb-headset' is not a valid value for given.device.microphone")
    assert "hint: one of: default, none" in result.stderr
    assert "Traceback" not in result.stderr


def test_validate_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    """A path that does not exist is named, with what to give instead."""
    result = mf("validate", "nope/", cwd=tmp_path)
    assert result.returncode == 2
    assert "nope: no such file or directory" in result.stderr
    assert "Traceback" not in result.stderr


def test_list_shows_mechanism_and_fidelity_per_case() -> None:
    """Every case with its route, each condition's mechanism and fidelity, and why a case would skip."""
    result = mf("list", "scenarios/permission/dismissed.yaml")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Permission prompt dismissed[chromium]" in out
    assert "permission.microphone=dismissed: native: CDP Browser.setPermission(prompt)" in out
    assert "permission.microphone=dismissed: unsupported: Firefox over WebDriver BiDi" in out
    assert "Permission prompt dismissed[webkit]  [SKIP]" in out


def test_schema_accepts_every_catalogue_file_and_rejects_a_typo() -> None:
    """The exported JSON Schema agrees with the loader (editors see the same rules)."""
    result = mf("schema")
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    files = sorted((REPO / "scenarios").rglob("*.yaml"))
    assert files
    for path in files:
        validator.validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"name": "A", "given": {"permision": {}}, "expect": {"outcome": "none"}})


def test_catalogue_files_point_editors_at_the_schema() -> None:
    """Each catalogue file starts with the yaml-language-server schema comment, and the path resolves."""
    for path in sorted((REPO / "scenarios").rglob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith("# yaml-language-server: $schema="), path
        target = (path.parent / first.split("=", 1)[1]).resolve()
        assert target == (REPO / "docs" / "scenario.schema.json").resolve(), path


def test_generated_docs_are_current() -> None:
    """docs/scenario.schema.json, scenario-format.md and support-matrix.md match the code."""
    result = mf("docs", "--check")
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("command", ["run", "validate", "list", "schema", "docs"])
def test_every_command_has_help_with_examples(command: str) -> None:
    """--help explains each command and shows examples."""
    result = mf(command, "--help")
    assert result.returncode == 0
    assert "examples:" in result.stdout


@needs_chromium
@pytest.mark.browser
def test_run_is_the_main_job(tmp_path: Path) -> None:
    """'mediafault run' runs scenarios, prints the matrix and writes JUnit and Allure results. One folder of the
    catalogue is enough for the command's wiring: that the whole catalogue passes on every engine and route is
    test_matrix.py's proof (running it here again cost 3 min of the suite)."""
    reports = tmp_path / "reports"
    result = mf("run", str(REPO / "scenarios" / "permission"), "--engine", "chromium", "--reports", str(reports),
                cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "mediafault: scenario × engine" in result.stdout
    assert re.search(r"^Microphone blocked for the site\s+pass$", result.stdout, re.MULTILINE), result.stdout
    assert (reports / "junit.xml").is_file()
    surface = (reports / "error-surface.md").read_text(encoding="utf-8")
    assert "| Microphone blocked for the site | ✅ `mic-permission-denied` → `mic-permission-denied` |" in surface
    assert list((reports / "allure-results").glob("*-result.json"))


def _folder_with_other_yaml(root: Path) -> None:
    """A project folder as found in real repos: one scenario, and YAML files of every other kind."""
    files = {
        "checks/denied.yaml": "name: Mine\nengines: [webkit]\nexpect: {outcome: permission-denied}\n",
        "checks/givens.yaml": "givens:\n  blocked: {permission: {microphone: denied}}\n",
        "mediafault.yaml": "app:\n  profile: generic\n",
        "profiles/acme.yaml": "name: acme\ndescription: not a scenario\noutcomes: {}\n",
        "variants/bug.yaml": "bug: a broken app\npatches: []\ncaught_by: [Mine]\n",
        "build/lib/checks/denied.yaml": "name: Mine\nexpect: {outcome: permission-denied}\n",
        ".github/workflows/ci.yaml": "on: push\njobs: {}\n",
        "node_modules/pkg/x.yaml": "name: Mine\nexpect: {}\n",
    }
    for relpath, text in files.items():
        (root / relpath).parent.mkdir(parents=True, exist_ok=True)
        (root / relpath).write_text(text, encoding="utf-8")


def test_validate_a_project_folder_checks_only_scenario_files(tmp_path: Path) -> None:
    """'validate .' skips the app config, profiles, other YAML, build output and hidden folders, and the
    rule is in --help; the shared givens file is checked but holds no scenario."""
    _folder_with_other_yaml(tmp_path)
    result = mf("validate", ".", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "1 scenario(s) in 1 file(s): all valid.\n"
    help_text = " ".join(mf("validate", "--help").stdout.split())
    assert "which files: in a folder, scenario files are the *.yaml and *.yml files whose top level has" in help_text
    assert "build, dist, node_modules, site-packages, venv are skipped" in help_text


@pytest.mark.parametrize("args", [["scenarios/", "scenarios/permission/denied.yaml"],
                                  ["scenarios/permission/denied.yaml", "scenarios/permission/denied.yaml"]])
def test_a_file_given_twice_is_not_its_own_duplicate(args: list[str]) -> None:
    """A file named twice, or inside a folder also named, is loaded once (not 'duplicate scenario name')."""
    for command in ("validate", "list"):
        result = mf(command, *args)
        assert result.returncode == 0, result.stderr
        assert "duplicate" not in result.stderr


def test_validate_and_list_say_when_there_is_nothing(tmp_path: Path) -> None:
    """A folder without scenario files is not 'all valid': exit 2, with what a scenario file is."""
    (tmp_path / "notes.yaml").write_text("todo: [one]\n", encoding="utf-8")
    for command in ("validate", "list"):
        result = mf(command, ".", cwd=tmp_path)
        assert result.returncode == 2, result.stdout
        assert result.stderr.startswith("no scenario files under .; in a folder, scenario files are"), result.stderr


def test_run_collects_a_folder_outside_scenarios(tmp_path: Path) -> None:
    """'run DIR' runs the scenarios in DIR wherever it is, as 'validate DIR' and 'list DIR' see them."""
    _folder_with_other_yaml(tmp_path)
    assert "Mine[webkit]" in mf("list", "checks", "--engine", "webkit", cwd=tmp_path).stdout
    result = mf("run", "checks", "--engine", "webkit", "--reports", str(tmp_path / "reports"), "--",
                "--mf-route", "webkit=none", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^Mine\s+skip$", result.stdout, re.MULTILINE), result.stdout


def test_run_with_nothing_to_run_says_why(tmp_path: Path) -> None:
    """A folder with no scenario file ends with the reason (exit 5, as pytest), not only 'no cases ran'."""
    (tmp_path / "empty").mkdir()
    result = mf("run", "empty", "--reports", str(tmp_path / "reports"), cwd=tmp_path)
    assert result.returncode == pytest.ExitCode.NO_TESTS_COLLECTED
    assert "mediafault: no scenario files under empty; in a folder, scenario files are" in result.stdout


def test_output_into_a_closed_pipe_is_not_a_traceback() -> None:
    """'mediafault list | head': the reader goes away; exit as SIGPIPE would (141), with nothing on stderr."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # closed before the first write, so the broken pipe does not depend on timing
    try:
        result = subprocess.run([*MEDIAFAULT, "list", "scenarios/permission"], cwd=REPO, stdout=write_end,
                                stderr=subprocess.PIPE, text=True, timeout=120, check=False)
    finally:
        os.close(write_end)
    assert result.stderr == ""
    assert result.returncode == 141


def test_install_hint_names_what_works_on_the_distribution(tmp_path: Path) -> None:
    """Debian has deb browsers; Ubuntu's are snaps, so the hint there is Playwright's build."""
    from harness.reproduce.engines.base import install_hint

    debian, ubuntu, mint = tmp_path / "debian", tmp_path / "ubuntu", tmp_path / "mint"
    debian.write_text('ID=debian\nVERSION_ID="12"\n', encoding="utf-8")
    ubuntu.write_text('ID=ubuntu\nVERSION_ID="24.04"\n', encoding="utf-8")
    mint.write_text('ID=linuxmint\nID_LIKE="ubuntu debian"\n', encoding="utf-8")
    assert install_hint("chromium", debian) == "apt-get install chromium chromium-driver"
    assert install_hint("chromium", ubuntu) == "python -m playwright install --with-deps chromium"
    assert install_hint("firefox", mint) == "python -m playwright install --with-deps firefox"
    assert install_hint("webkit", ubuntu) == "apt-get install webkit2gtk-driver xvfb"
    assert install_hint("firefox", tmp_path / "absent") == "apt-get install firefox-esr"


@pytest.mark.parametrize("what", ["missing", "not executable", "a folder"])
def test_a_browser_override_that_names_no_browser_is_unavailable_with_the_fix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, what: str) -> None:
    """MF_FIREFOX naming no runnable file makes the route unavailable, saying so (not a launch failure
    per case, with Playwright's "executable doesn't exist" and no word on what to do)."""
    from harness.reproduce.engines.playwright_route import PlaywrightRoute

    path = tmp_path / "firefox"
    if what == "not executable":
        path.write_text("", encoding="utf-8")
    elif what == "a folder":
        path.mkdir()
    monkeypatch.setenv("MF_FIREFOX", str(path))
    info = PlaywrightRoute("firefox", bundled=False).probe()
    assert not info.available
    found = "does not exist" if what == "missing" else "is not an executable"
    assert info.reason == (f"MF_FIREFOX names {path}, which {found}; unset it to use the system's firefox, "
                           "or point it at an installed firefox binary")


def test_a_variant_is_expected_to_fail_only_what_the_engine_reproduces() -> None:
    """Per engine, caught_by loses the scenarios whose every case was skipped there (with the reason shown
    in the table), keeps the ones that ran even partly, and the table tells a miss from an unreproducible."""
    from harness.app.variants import VariantRow, catch_table, expected_on_engine

    caught_by = ["Dismissed", "Camera cases", "Hang up"]
    skips = {"Dismissed": "permission.microphone=dismissed is unsupported on webkit", "Camera cases": "x"}
    expected, unreproduced = expected_on_engine(caught_by, skips, ran={"Camera cases", "Hang up"})
    assert expected == {"Camera cases", "Hang up"}
    assert unreproduced == {"Dismissed": "permission.microphone=dismissed is unsupported on webkit"}
    lines, ok = catch_table("webkit", [VariantRow("v", {"Hang up"}, expected, [], unreproduced)])
    assert not ok
    assert "expected to fail but passed: Camera cases" in "\n".join(lines)
    assert "cannot catch it on webkit: Dismissed (permission.microphone=dismissed is unsupported" in "\n".join(lines)
    lines, ok = catch_table("webkit", [VariantRow("v", expected, expected, [], unreproduced)])
    assert ok and lines[1].startswith("v    ok   Camera cases, Hang up")


def test_a_variant_unaffected_on_an_engine_is_not_expected_to_be_caught_there() -> None:
    """A variant's unaffected entry takes those scenarios out of what must catch it on that engine only, with
    the measured reason; when nothing is left the variant is reported at plan time, no browser started."""
    from harness.app.variants import load_variants
    from harness.cli.running import variant_report
    from harness.run.pool import BrowserPool

    class NoBrowsers(BrowserPool):
        def get(self, *args: object, **kwargs: object) -> Never:
            raise AssertionError("nothing may run when no scenario can catch the variant")

    (row,) = variant_report("firefox", ["waits-for-ice-failed"], pool=NoBrowsers())
    assert row.expected == set() and row.failed == set() and not row.problems
    assert set(row.unreproduced) == {"Firewall blocks UDP and there is no TURN",
                                     "Network drops for good during the call"}
    assert all(why.startswith("the bug does not show on firefox: Firefox does report iceConnectionState 'failed'")
               for why in row.unreproduced.values()), row.unreproduced
    variant = load_variants()["waits-for-ice-failed"]
    assert variant.unaffected_on("chromium") == {} and variant.unaffected_on("webkit") == {}


@pytest.mark.parametrize(("entry", "said"), [
    ("{engine: firefox, scenarios: [Hang up], why: x}",
     "unaffected names scenarios that are not in caught_by: Hang up"),
    ("{engine: firefx, scenarios: [Dismissed], why: x}", "unknown engine 'firefx'"),
])
def test_a_bad_unaffected_entry_is_reported_with_its_position(tmp_path: Path, entry: str, said: str) -> None:
    """A typo in an unaffected entry must not quietly drop a scenario from the proof."""
    from harness.app.variants import load_variants
    from harness.core.errors import InputError

    (tmp_path / "v.yaml").write_text("bug: b\npatches: [{file: a.js, find: x, replace: y}]\ncaught_by: [Dismissed]\n"
                                     f"unaffected:\n  - {entry}\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_variants(tmp_path)
    assert "v.yaml:" in str(caught.value) and said in str(caught.value), str(caught.value)


def test_variants_names_an_unknown_variant_before_running_anything() -> None:
    """A typo in a variant's name is reported at once with the names there are, exit 2, no browser run."""
    result = subprocess.run([sys.executable, "-m", "harness.cli.main", "variants", "leaves-mic-open", "--engine",
                             "firefox", "--engine", "webkit"], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "no app variant named 'leaves-mic-open'; variants: " in result.stderr
    assert "leaves-microphone-open" in result.stderr and not result.stdout


def test_run_passes_its_lanes_to_pytest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``mediafault run --lanes N`` is ``--mf-lanes N`` for pytest; a bad N is refused before pytest starts."""
    from harness.cli.main import main

    seen: list[list[str]] = []

    def pytest_main(args: list[str]) -> int:
        seen.append(list(args))
        return 0

    monkeypatch.setattr(pytest, "main", pytest_main)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--lanes", "2", "--reports", str(tmp_path / "r")]) == 0
    assert "--mf-lanes=2" in seen[0]
    assert main(["run", "--reports", str(tmp_path / "r")]) == 0
    assert not any(a.startswith("--mf-lanes") for a in seen[1])  # pytest's own default (mf_lanes) holds
    with pytest.raises(SystemExit):
        main(["run", "--lanes", "9"])
    assert len(seen) == 2


def test_default_lanes_never_start_more_cases_than_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """The network cases' default lanes: LANES when the other workers leave a core, else 1."""
    import os

    from harness.run import LANES, spare_lanes

    for cores, workers, lanes in ((2, 2, 3), (2, 1, 3), (4, 2, 3), (16, 2, LANES), (1, 1, 3), (8, 8, 3), (2, 3, 1),
                                  (8, 12, 1)):
        monkeypatch.setattr(os, "cpu_count", lambda cores=cores: cores)
        assert spare_lanes(workers) == lanes, (cores, workers)
