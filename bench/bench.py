"""Benchmark: every row of the speed table, side by side in one run on this machine.

1. one denied-microphone case on a warm Chromium: mediafault's runner (default settings, then with
   ``--mf-trace off``) against the floor, a minimal hand-written Playwright script doing the same steps
   (fresh context, CDP permission, open the app, click Call, wait for the error code); and KITE-style, a
   new Selenium + chromedriver session per case;
2. the built-in catalogue without the network scenarios, every engine, ``-n 2`` (wall clock, browser
   launches, mean seconds per case per engine);
3. the whole catalogue, every engine, ``-n 2``;
4. with ``--suite``: ``./bootstrap test`` on a fresh clone of this repository (about a quarter of an hour
   or more: not run unless asked);

each run with the CPU the machine spent meanwhile (all processes, from ``/proc/stat``: run it on a quiet
machine) and the wall clock that CPU alone would take on every core at once, which no scheduling can beat;
then the table of waits: each case of the whole-catalogue run whose time is above its own (the time the
app took to show the outcome, as the case recorded it, plus any ``hold``) by more than a floor, with where the
rest went (the case's "time spent" evidence).
Run: .venv/bin/python bench/bench.py [--cases N] [--no-catalogue] [--suite]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from harness.app.config import BUNDLED_APP, Surface  # noqa: E402
from harness.app.profiles import get_profile  # noqa: E402
from harness.report.evidence import TIMINGS_ATTACHMENT  # noqa: E402
from harness.reproduce.engines.playwright_route import CHROMIUM_BASE_ARGS, _system_executable  # noqa: E402
from harness.run.plan import plan_case  # noqa: E402
from harness.run.pool import TRACE_MODES, BrowserPool  # noqa: E402
from harness.run.recorder import NullRecorder  # noqa: E402
from harness.run.runner import OWN_TIME, run_case  # noqa: E402
from harness.run.target import AppTarget  # noqa: E402
from harness.scenario.loader import load_file  # noqa: E402

SCENARIO = REPO / "scenarios" / "permission" / "denied.yaml"


def mediafault_cases(n: int, trace: str = TRACE_MODES[0]) -> tuple[list[float], dict[str, list[float]]]:
    """The harness's own runner, with the plugin's defaults but ``trace`` (a --mf-trace mode)."""
    source = load_file(SCENARIO)[0]
    plan = plan_case(source, "chromium", get_profile("generic"), "playwright-system")
    pool, target = BrowserPool(trace=trace), AppTarget(None, BUNDLED_APP, "/telemetry", True)
    split: dict[str, list[float]] = {}
    times = []
    try:
        run_case(plan, pool, target, Surface(), NullRecorder())  # warm-up: launch
        for _ in range(n):
            t = time.perf_counter()
            result = run_case(plan, pool, target, Surface(), NullRecorder())
            times.append(time.perf_counter() - t)
            assert result.verdict.passed, result.verdict.table()
            for key, value in result.timings.items():
                split.setdefault(key, []).append(value)
    finally:
        pool.close()
        target.stop()
    return times, split


def playwright_floor(n: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    target = AppTarget(None, BUNDLED_APP, "/telemetry", True)
    origin = target.server(False).url()
    url = f"{origin}/index.html?profile=generic"
    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_system_executable("chromium"),
                                    args=[*CHROMIUM_BASE_ARGS, "--use-fake-device-for-media-stream"])
        for i in range(n + 1):
            t = time.perf_counter()
            context = browser.new_context()
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            bcid = cdp.send("Target.getTargetInfo")["targetInfo"]["browserContextId"]
            cdp.send("Browser.setPermission", {"permission": {"name": "microphone"}, "setting": "denied",
                                               "origin": origin, "browserContextId": bcid})
            page.goto(url)
            page.click("#call")
            page.wait_for_function("() => document.querySelector('#error-code').dataset.errorCode === "
                                   "'mic-permission-denied'")
            context.close()
            if i:  # the first one warms up
                times.append(time.perf_counter() - t)
        browser.close()
    target.stop()
    return times


def selenium_per_case(n: int) -> list[float]:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    target = AppTarget(None, BUNDLED_APP, "/telemetry", True)
    origin = target.server(False).url()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        options = Options()
        options.binary_location = _system_executable("chromium")
        for arg in (*CHROMIUM_BASE_ARGS, "--use-fake-device-for-media-stream", "--headless=new", "--no-sandbox"):
            options.add_argument(arg)
        driver = webdriver.Chrome(options=options, service=Service(executable_path=shutil.which("chromedriver")))
        driver.execute_cdp_cmd("Browser.setPermission", {"permission": {"name": "microphone"},
                                                         "setting": "denied", "origin": origin})
        driver.get(f"{origin}/index.html?profile=generic")
        driver.find_element(By.CSS_SELECTOR, "#call").click()
        WebDriverWait(driver, 10).until(lambda d: d.find_element(By.CSS_SELECTOR, "#error-code")
                                        .get_attribute("data-error-code") == "mic-permission-denied")
        driver.quit()
        times.append(time.perf_counter() - t)
    target.stop()
    return times


@dataclass
class Cpu:
    """The CPU this machine spent over a stretch of wall time, every process counted (Linux's ``/proc/stat``)."""

    busy: float  # core-seconds
    wall: float
    cores: int

    @property
    def floor(self) -> float:
        """Seconds that CPU takes with every core busy all the time: the least wall clock any schedule gets."""
        return self.busy / self.cores

    def __str__(self) -> str:
        return (f"CPU {self.busy:.0f} core-s, {self.busy / (self.wall * self.cores):.0%} of {self.cores} cores "
                f"(at 100 %: {self.floor:.0f} s)")


def _busy_seconds() -> float | None:
    """Core-seconds this machine has spent busy since boot; None where ``/proc/stat`` is not there."""
    try:
        first = Path("/proc/stat").read_text(encoding="ascii").split("\n", 1)[0].split()
    except OSError:
        return None
    # user nice system idle iowait irq softirq steal: idle and iowait are the cores' free time, and steal is
    # time another guest of the host had them, not work done here.
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in first[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """Measures a ``with`` block's wall seconds (``wall``) and :class:`Cpu` (``cpu``, None where the machine
    does not say)."""

    def __enter__(self) -> CpuMeter:
        self.wall = 0.0
        self.cpu: Cpu | None = None
        self._busy, self._start = _busy_seconds(), time.perf_counter()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self._start
        busy = _busy_seconds()
        if busy is not None and self._busy is not None:
            self.cpu = Cpu(busy - self._busy, self.wall, os.cpu_count() or 1)


@dataclass
class CatalogueRun:
    """One ``mediafault run`` of the catalogue: wall clock, launches, and per case its time and time spent."""

    wall: float
    launches: int
    cpu: Cpu | None = None
    cases: dict[str, tuple[float, str]] = field(default_factory=dict)  # name[engine] -> (seconds, status)
    spent: dict[str, dict[str, float]] = field(default_factory=dict)  # name[engine] -> the case's timings

    def mean_per_engine(self) -> dict[str, float]:
        """Mean seconds of the cases that ran (skipped ones excluded), per engine."""
        per: dict[str, list[float]] = {}
        for name, (seconds, status) in self.cases.items():
            if status != "skipped":
                per.setdefault(name.rsplit("[", 1)[-1].rstrip("]"), []).append(seconds)
        return {engine: statistics.mean(v) for engine, v in sorted(per.items())}

    def ran(self) -> int:
        """How many cases ran (not skipped)."""
        return sum(status != "skipped" for _, status in self.cases.values())


def run_catalogue(pytest_args: list[str]) -> CatalogueRun:
    """The built-in catalogue on every engine available, ``-n 2``, as a user runs it."""
    with tempfile.TemporaryDirectory(prefix="mediafault-bench-") as tmp:
        with CpuMeter() as meter:
            proc = subprocess.run([sys.executable, "-m", "harness.cli.main", "run", str(REPO / "scenarios"), "-n",
                                   "2", "--reports", tmp, "--", *pytest_args], capture_output=True, text=True,
                                  check=False, cwd=tmp)
        if proc.returncode != 0:
            print(proc.stdout[-3000:], proc.stderr[-2000:], file=sys.stderr)
            raise SystemExit(f"the catalogue run failed (exit {proc.returncode})")
        launches = re.search(r"browser launches: (\d+)", proc.stdout)
        run = CatalogueRun(meter.wall, int(launches.group(1)) if launches else 0, meter.cpu)
        for case in ET.parse(Path(tmp) / "junit.xml").getroot().iter("testcase"):
            status = "skipped" if case.find("skipped") is not None else "ran"
            run.cases[case.get("name", "")] = (float(case.get("time", "0")), status)
        results = Path(tmp) / "allure-results"
        for path in results.glob("*-result.json"):
            result = json.loads(path.read_text(encoding="utf-8"))
            for attachment in result.get("attachments", []):
                if attachment.get("name") == TIMINGS_ATTACHMENT:
                    spent = json.loads((results / attachment["source"]).read_text(encoding="utf-8"))
                    run.spent[result["name"]] = spent
    return run


# A case costs about one floor beyond the app's own time (context, page load, click, closing); the table
# lists those above that by a clear margin.
OVER_FLOORS = 1.5


def waits_table(run: CatalogueRun, floor: float) -> list[str]:
    """The cases whose time, launches left out, is above their own by more than ``OVER_FLOORS`` floors: the
    case's time, the app's time to show the outcome from the user's action (its own timers: a silence window,
    an ICE timer, a hold) and where the rest went."""
    lines = []
    for name, (seconds, status) in sorted(run.cases.items(), key=lambda kv: -kv[1][0]):
        spent = run.spent.get(name)
        if status == "skipped" or not spent:
            continue
        # From the user's last action: a fault's moment (the call connecting), then the app's time to surface.
        own = sum(spent.get(k, 0.0) for k in OWN_TIME)
        over = seconds - own - spent.get("browser", 0.0)  # a launch is counted in the launches, not here
        if over <= OVER_FLOORS * floor:
            continue
        rest = ", ".join(f"{k} {v:.2f}" for k, v in spent.items()
                         if k not in OWN_TIME and v >= 0.05)
        lines.append(f"  {name:<62} {seconds:6.2f} s  own {own:5.2f} s  above {over:5.2f} s  ({rest})")
    return lines


def run_suite() -> tuple[float, Cpu | None]:
    """Wall seconds of ``./bootstrap test`` on a fresh clone of this repository (HEAD), and its CPU."""
    with tempfile.TemporaryDirectory(prefix="mediafault-bench-suite-") as tmp:
        subprocess.run(["git", "clone", "-q", str(REPO), tmp], check=True)
        with CpuMeter() as meter:
            proc = subprocess.run(["./bootstrap", "test"], cwd=tmp, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            print(proc.stdout[-3000:], file=sys.stderr)
            raise SystemExit(f"./bootstrap test failed on the fresh clone (exit {proc.returncode})")
        return meter.wall, meter.cpu


def _ratio(value: float, floor: float) -> str:
    return f"{value:.3f} s vs {floor:.3f} s ({value / floor:.2f}x)"


def _catalogue_row(run: CatalogueRun) -> str:
    per = ", ".join(f"{engine} {mean:.1f} s" for engine, mean in run.mean_per_engine().items())
    cpu = f"; {run.cpu}" if run.cpu else ""
    return f"{run.wall:.0f} s wall, {run.launches} browser launches; per case: {per}{cpu}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=15, help="cases per way (default 15)")
    parser.add_argument("--no-catalogue", action="store_true", help="skip the two catalogue runs")
    parser.add_argument("--suite", action="store_true", help="also time ./bootstrap test on a fresh clone")
    args = parser.parse_args()
    floor = playwright_floor(args.cases)
    ours, split = mediafault_cases(args.cases)
    untraced, _ = mediafault_cases(args.cases, trace="off")
    recording, _ = mediafault_cases(args.cases, trace="on-failure")
    kite = selenium_per_case(args.cases)
    med = {name: statistics.median(v) for name, v in
           (("floor", floor), ("mediafault", ours), ("untraced", untraced), ("recording", recording),
            ("kite", kite))}
    rows = [
        ("one denied-microphone case, warm Chromium, default settings, vs the floor",
         _ratio(med["mediafault"], med["floor"]), "<= 1.10x"),
        ("the same with --mf-trace off", _ratio(med["untraced"], med["floor"]), "<= 1.05x"),
        ("the same with --mf-trace on-failure (every case records)", _ratio(med["recording"], med["floor"]), "-"),
        ("the same as a new Selenium session per case (KITE-style)", _ratio(med["kite"], med["floor"]), "-"),
    ]
    whole = None
    if not args.no_catalogue:
        quick = run_catalogue(["-m", "not network"])
        rows.append((f"the catalogue without network scenarios, every engine, -n 2 ({quick.ran()} cases)",
                     _catalogue_row(quick), "<= 50 s"))
        whole = run_catalogue([])
        rows.append((f"the whole catalogue, every engine, -n 2 ({whole.ran()} cases)", _catalogue_row(whole),
                     "<= 120 s"))
    if args.suite:
        wall, cpu = run_suite()
        rows.append(("./bootstrap test on a fresh clone", f"{wall / 60:.1f} min" + (f"; {cpu}" if cpu else ""),
                     "<= 15 min"))
    else:
        rows.append(("./bootstrap test on a fresh clone", "not run (--suite)", "<= 15 min"))
    width = max(len(row[0]) for row in rows)
    print(f"{'what':<{width}}  {'now':<60}  goal")
    for what, now, goal in rows:
        print(f"{what:<{width}}  {now:<60}  {goal}")
    print(f"\nmedian seconds per case over {args.cases} cases; mediafault's cost split (median s): " + ", ".join(
        f"{k} {statistics.median(v):.3f}" for k, v in split.items()))
    if whole is not None:
        lines = waits_table(whole, med["floor"])
        print(f"\ncases above their own time by more than {OVER_FLOORS:g} floors ({OVER_FLOORS * med['floor']:.2f} s; "
              "own: from the user's action to the outcome, hold included; launches left out), longest first "
              f"({len(lines)} of {whole.ran()}):")
        print("\n".join(lines) or "  none")
    return 0


if __name__ == "__main__":
    sys.exit(main())
