"""bootstrap's choices per distribution (which browsers from apt, which from Playwright, which Python), read
from ``./bootstrap plan`` against fake os-release files, apt and interpreters; and the CI rule for Chromium.

Every run uses a copy of bootstrap in a temporary directory, so nothing here can touch this checkout's .venv,
and fake apt tools that record calls, so a plan that tried to install anything would be caught."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="bootstrap is a bash script")

UBUNTU_2404 = 'PRETTY_NAME="Ubuntu 24.04.1 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\nID=ubuntu\nID_LIKE=debian\n'
UBUNTU_2204 = 'PRETTY_NAME="Ubuntu 22.04.5 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\nID_LIKE=debian\n'
DEBIAN_12 = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'
# What Ubuntu's archive lacks: no chromium, chromium-driver or firefox-esr deb at all.
UBUNTU_NO_CANDIDATE = "chromium chromium-driver firefox-esr"

# apt-cache policy as apt prints it: every package has a candidate except those in FAKE_NO_CANDIDATE;
# without arguments it lists the sources, none when FAKE_EMPTY_LISTS is set (a fresh container).
FAKE_APT_CACHE = """\
#!/bin/sh
echo "apt-cache $*" >> "$FAKE_LOG"
[ "$1" = policy ] || exit 0
shift
if [ $# -eq 0 ]; then
  [ -n "$FAKE_EMPTY_LISTS" ] || echo " 500 http://archive.example/debian stable/main amd64 Packages"
  exit 0
fi
for p in "$@"; do
  case " $FAKE_NO_CANDIDATE " in *" $p "*) c='(none)' ;; *) c='1.0-1' ;; esac
  printf '%s:\\n  Installed: (none)\\n  Candidate: %s\\n  Version table:\\n' "$p" "$c"
done
"""
# dpkg-query -W: the packages in FAKE_INSTALLED are installed, nothing else is.
FAKE_DPKG_QUERY = """\
#!/bin/sh
shift 2
for p in "$@"; do
  case " $FAKE_INSTALLED " in *" $p "*) printf '%s\\tinstall ok installed\\n' "$p" ;; esac
done
"""
# Anything that changes the system must not run during a plan.
FAKE_FORBIDDEN = '#!/bin/sh\necho "$(basename "$0") $*" >> "$FAKE_LOG"\nexit 1\n'


def fake_python(version: str) -> str:
    """An interpreter that answers bootstrap's version probe."""
    return f"#!/bin/sh\necho {version}\n"


# A pyenv shim for a version that is not selected: on PATH, but fails when run.
BROKEN_SHIM = "#!/bin/sh\necho \"pyenv: $(basename \"$0\"): command not found\" >&2\nexit 127\n"


@dataclass
class Result:
    """bootstrap's exit code and output, with the plan's lines by key and the commands it ran."""

    returncode: int
    stdout: str
    stderr: str
    calls: list[str]

    def line(self, key: str) -> str:
        """The value after ``key:`` in the plan (fails when the plan has no such line)."""
        for line in self.stdout.splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip() == key:
                return value.strip()
        raise AssertionError(f"no '{key}:' line in the plan:\n{self.stdout}\n{self.stderr}")

    def apt_installs(self) -> list[str]:
        return self.line("apt install").split()


@pytest.fixture(scope="module")
def system_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The system's commands without any Python or apt, so that only the fakes of each test are found."""
    out = tmp_path_factory.mktemp("system-bin")
    hidden = ("python", "apt-get", "apt-cache", "dpkg-query", "sudo")
    for directory in ("/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"):
        if not Path(directory).is_dir():
            continue
        for entry in Path(directory).iterdir():
            target = out / entry.name
            if entry.name.startswith(hidden) or target.exists() or target.is_symlink():
                continue
            target.symlink_to(entry)
    return out


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of what bootstrap reads, without a .venv."""
    root = tmp_path / "checkout"
    root.mkdir()
    shutil.copy2(REPO / "bootstrap", root / "bootstrap")
    shutil.copy2(REPO / "pyproject.toml", root / "pyproject.toml")
    for tool in ("grid", "node", "report", "sdk"):
        (root / "tools" / tool).mkdir(parents=True)
        shutil.copy2(REPO / "tools" / tool / "package-lock.json", root / "tools" / tool / "package-lock.json")
    return root


def bootstrap(checkout: Path, system_bin: Path, os_release: str, *, no_candidate: str = "", installed: str = "",
              pythons: dict[str, str] | None = None, empty_lists: bool = False, command: str = "plan") -> Result:
    """Run ``bash bootstrap COMMAND`` in ``checkout`` with fake apt tools and interpreters ahead of the system's."""
    fakes = checkout.parent / "fake-bin"
    fakes.mkdir(exist_ok=True)
    scripts = {"apt-cache": FAKE_APT_CACHE, "dpkg-query": FAKE_DPKG_QUERY, "apt-get": FAKE_FORBIDDEN,
               "sudo": FAKE_FORBIDDEN, **(pythons if pythons is not None else {"python3.11": fake_python("3.11")})}
    for name, text in scripts.items():
        (fakes / name).write_text(text, encoding="utf-8")
        (fakes / name).chmod(0o755)
    release = checkout.parent / "os-release"
    release.write_text(os_release, encoding="utf-8")
    log = checkout.parent / "calls.log"
    log.write_text("", encoding="utf-8")
    env = {"PATH": f"{fakes}:{system_bin}", "HOME": str(checkout.parent), "MF_OS_RELEASE": str(release),
           "FAKE_LOG": str(log), "FAKE_NO_CANDIDATE": no_candidate, "FAKE_INSTALLED": installed,
           "FAKE_EMPTY_LISTS": "1" if empty_lists else "", "LANG": "C.UTF-8",
           "FAKE_BROWSERS": os.environ.get("FAKE_BROWSERS", "")}
    bash = shutil.which("bash")
    assert bash is not None
    done = subprocess.run([bash, str(checkout / "bootstrap"), command], cwd=checkout, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    calls = log.read_text(encoding="utf-8").splitlines()
    return Result(done.returncode, done.stdout, done.stderr, calls)


def changes(result: Result) -> list[str]:
    """The calls that would have changed the system (apt-get, sudo)."""
    return [call for call in result.calls if not call.startswith("apt-cache ")]


def test_ubuntu_gets_playwright_browsers_and_no_browser_debs(checkout: Path, system_bin: Path) -> None:
    result = bootstrap(checkout, system_bin, UBUNTU_2404, no_candidate=UBUNTU_NO_CANDIDATE)
    assert result.returncode == 0, result.stderr
    assert result.line("playwright install") == ".venv/bin/playwright install --with-deps chromium firefox"
    assert result.line("chromium") == "Playwright's own build"
    assert result.line("firefox") == "Playwright's own build"
    apt = result.apt_installs()
    assert "webkit2gtk-driver" in apt and "xvfb" in apt
    assert not {"chromium", "chromium-driver", "firefox-esr"} & set(apt), apt
    # Not wanted there, so not even reported as unavailable on every run.
    assert result.line("apt unavailable") == "none"
    assert changes(result) == []


def test_ubuntu_uses_playwright_even_where_a_deb_chromium_exists(checkout: Path, system_bin: Path) -> None:
    """A PPA's deb does not change the choice: on Ubuntu the tested setup is Playwright's builds."""
    result = bootstrap(checkout, system_bin, UBUNTU_2404)
    assert result.line("playwright install") == ".venv/bin/playwright install --with-deps chromium firefox"
    assert "chromium" not in result.apt_installs()


def test_debian_uses_its_own_browsers_and_never_playwright_install(checkout: Path, system_bin: Path) -> None:
    result = bootstrap(checkout, system_bin, DEBIAN_12)
    assert result.returncode == 0, result.stderr
    apt = result.apt_installs()
    assert {"chromium", "chromium-driver", "firefox-esr", "webkit2gtk-driver"} <= set(apt), apt
    assert result.line("playwright install") == "no (the system's browsers)"
    assert "--with-deps" not in result.stdout
    assert result.line("chromium") == "the system's (deb: chromium chromium-driver)"
    assert result.line("sdk probes") == "npm ci in tools/sdk"  # the calling SDKs of 'mediafault conformance'


@pytest.mark.parametrize(("no_candidate", "playwright", "from_apt", "not_from_apt"), [
    ("chromium chromium-driver", "chromium", {"firefox-esr"}, {"chromium", "chromium-driver"}),
    ("firefox-esr", "firefox", {"chromium", "chromium-driver"}, {"firefox-esr"}),
    ("chromium chromium-driver firefox-esr", "chromium firefox", set(), {"chromium", "firefox-esr"}),
])
def test_debian_like_without_a_browser_deb_gets_playwright_for_that_one(
        checkout: Path, system_bin: Path, no_candidate: str, playwright: str, from_apt: set[str],
        not_from_apt: set[str]) -> None:
    result = bootstrap(checkout, system_bin, DEBIAN_12.replace("ID=debian", "ID=mydebian\nID_LIKE=debian"),
                       no_candidate=no_candidate)
    assert result.line("playwright install") == f".venv/bin/playwright install --with-deps {playwright}"
    apt = set(result.apt_installs())
    assert from_apt <= apt and not apt & not_from_apt, apt


def test_installed_browser_is_kept_even_without_a_candidate(checkout: Path, system_bin: Path) -> None:
    """A deb installed from a repository that is gone has no candidate, but it is still the system browser."""
    result = bootstrap(checkout, system_bin, DEBIAN_12, no_candidate="chromium", installed="chromium")
    assert result.line("chromium") == "the system's (deb: chromium chromium-driver)"
    assert result.line("playwright install") == "no (the system's browsers)"


def test_second_run_with_an_unavailable_package_neither_updates_nor_installs(checkout: Path,
                                                                              system_bin: Path) -> None:
    """Everything installable is there and coturn has no candidate: no apt-get update, no install attempt."""
    everything = "webkit2gtk-driver xvfb nftables iptables iproute2 default-jre-headless npm chromium " \
                 "chromium-driver firefox-esr"
    result = bootstrap(checkout, system_bin, DEBIAN_12, no_candidate="coturn", installed=everything)
    assert result.line("apt-get update") == "no"
    assert result.line("apt install") == "nothing (all present)"
    assert result.line("apt unavailable") == "coturn"


def test_empty_package_lists_are_updated_first(checkout: Path, system_bin: Path) -> None:
    result = bootstrap(checkout, system_bin, DEBIAN_12, empty_lists=True)
    assert result.line("apt-get update").startswith("yes, the package lists are empty")
    assert changes(result) == [], "a plan must not run apt-get update itself"


def test_newest_working_python_is_chosen(checkout: Path, system_bin: Path) -> None:
    pythons = {"python3": fake_python("3.10"), "python3.11": fake_python("3.11"), "python3.12": fake_python("3.12"),
               "python3.13": BROKEN_SHIM}
    result = bootstrap(checkout, system_bin, UBUNTU_2204, no_candidate=UBUNTU_NO_CANDIDATE, pythons=pythons)
    assert result.returncode == 0, result.stderr
    assert result.line("python").endswith("python3.12 (Python 3.12)")
    assert "python3.11" not in result.apt_installs()


def test_python_310_with_python311_in_apt_installs_it(checkout: Path, system_bin: Path) -> None:
    """Ubuntu 22.04: python3 is 3.10, universe has python3.11; the venv is made with that."""
    result = bootstrap(checkout, system_bin, UBUNTU_2204, no_candidate=UBUNTU_NO_CANDIDATE,
                       pythons={"python3": fake_python("3.10")})
    assert result.returncode == 0, result.stderr
    assert result.line("python") == "python3.11 (Python 3.11, from apt)"
    assert {"python3.11", "python3.11-venv"} <= set(result.apt_installs())


@pytest.mark.parametrize("command", ["plan", "setup"])
def test_python_310_and_no_python311_stops_before_installing(checkout: Path, system_bin: Path, command: str) -> None:
    result = bootstrap(checkout, system_bin, UBUNTU_2204, no_candidate=f"{UBUNTU_NO_CANDIDATE} python3.11",
                       pythons={"python3": fake_python("3.10")}, command=command)
    assert result.returncode == 1
    assert "needs Python 3.11 or newer" in result.stderr and "python3 is 3.10" in result.stderr
    assert "run ./bootstrap again" in result.stderr
    assert changes(result) == []
    assert not (checkout / ".venv").exists()


def test_old_venv_is_reported_not_reused(checkout: Path, system_bin: Path) -> None:
    venv_bin = checkout / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").write_text(fake_python("3.10"), encoding="utf-8")
    (venv_bin / "python").chmod(0o755)
    result = bootstrap(checkout, system_bin, DEBIAN_12)
    assert result.returncode == 1
    assert "existing .venv has Python 3.10" in result.stderr and "rm -rf .venv" in result.stderr


# A .venv that is up to date, whose playwright installs into FAKE_BROWSERS and logs what it was asked to do.
FAKE_VENV_PYTHON = '#!/bin/sh\ncase "$*" in *importlib*) echo 1.64.1 ;; *) echo 3.11 ;; esac\n'
FAKE_PLAYWRIGHT = """\
#!/bin/sh
echo "playwright $*" >> "$FAKE_LOG"
[ "$1" = install ] || exit 2
shift
dry=0
for arg in "$@"; do [ "$arg" = --dry-run ] && dry=1; done
for arg in "$@"; do
  case $arg in --*) continue ;; esac
  if [ $dry = 1 ]; then echo "  Install location:    $FAKE_BROWSERS/$arg-1"
  else mkdir -p "$FAKE_BROWSERS/$arg-1" && touch "$FAKE_BROWSERS/$arg-1/INSTALLATION_COMPLETE"
  fi
done
"""


def test_ubuntu_setup_installs_playwright_browsers_once(checkout: Path, system_bin: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """First setup runs 'playwright install --with-deps'; the second finds the builds and skips it."""
    venv_bin = checkout / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    for name, text in {"python": FAKE_VENV_PYTHON, "playwright": FAKE_PLAYWRIGHT}.items():
        (venv_bin / name).write_text(text, encoding="utf-8")
        (venv_bin / name).chmod(0o755)
    (checkout / ".venv" / ".mediafault-installed").write_text(
        hashlib.sha256((checkout / "pyproject.toml").read_bytes()).hexdigest() + "\n", encoding="utf-8")
    for tool in ("grid", "report"):  # as if npm ci had run: this test is about the browsers
        (checkout / "tools" / tool / "node_modules").mkdir()
        (checkout / "tools" / tool / "node_modules" / ".mediafault-installed").write_text(
            hashlib.sha256((checkout / "tools" / tool / "package-lock.json").read_bytes()).hexdigest() + "\n",
            encoding="utf-8")
    monkeypatch.setenv("FAKE_BROWSERS", str(checkout.parent / "browsers"))
    everything = "webkit2gtk-driver xvfb coturn nftables iptables iproute2 default-jre-headless npm"

    first = bootstrap(checkout, system_bin, UBUNTU_2404, no_candidate=UBUNTU_NO_CANDIDATE, installed=everything,
                      command="setup")
    assert first.returncode == 0, first.stderr
    assert "playwright install --with-deps chromium firefox" in first.calls, first.calls
    assert (checkout.parent / "browsers" / "firefox-1" / "INSTALLATION_COMPLETE").is_file()

    second = bootstrap(checkout, system_bin, UBUNTU_2404, no_candidate=UBUNTU_NO_CANDIDATE, installed=everything,
                       command="setup")
    assert second.returncode == 0, second.stderr
    assert [call for call in second.calls if call.startswith("playwright install") and "--dry-run" not in call] == []
    assert changes(second) == [call for call in second.calls if call.startswith("playwright install --dry-run")]
    assert "Playwright's chromium firefox: up to date" in second.stderr


# --- CI: a missing Chromium fails instead of skipping ------------------------------------------------------

NEEDS_CHROMIUM_TEST = textwrap.dedent("""\
    from tests.conftest import needs_chromium

    @needs_chromium
    def test_in_a_browser():
        pass
""")


@pytest.mark.parametrize(("ci", "outcome"), [("true", "1 error"), ("", "1 skipped")])
def test_missing_chromium_fails_under_ci_and_skips_otherwise(tmp_path: Path, ci: str, outcome: str) -> None:
    """No route finds a Chromium (no Playwright build, none on PATH): CI=true errors, a developer gets a skip."""
    (tmp_path / "test_needs.py").write_text(NEEDS_CHROMIUM_TEST, encoding="utf-8")
    (tmp_path / "empty-bin").mkdir()
    env = {key: value for key, value in os.environ.items() if key not in {"CI", "MF_CHROMIUM", "PYTEST_ADDOPTS"}}
    env.update({"PATH": str(tmp_path / "empty-bin"), "PLAYWRIGHT_BROWSERS_PATH": str(tmp_path / "no-browsers"),
                "PYTHONPATH": str(REPO), "CI": ci})
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "tests.conftest", "-p", "no:cacheprovider",
                           "-p", "no:xdist", "-rs", "test_needs.py"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=180, check=False)
    assert outcome in done.stdout, done.stdout + done.stderr
    assert "no Chromium here" in done.stdout
    if ci:
        assert done.returncode == 1
        assert "CI is set" in done.stdout and "./bootstrap setup" in done.stdout
