"""Benchmark: the same denied-microphone case three ways, side by side in one run.

1. mediafault: the harness's runner on a warm browser (fresh context per case, conditions checked,
   observer installed, app watched until judged, screenshot taken);
2. the floor: a minimal hand-written Playwright script doing the same steps (fresh context, CDP
   permission, open the app, click Call, wait for the error code);
3. KITE-style: a new Selenium + chromedriver session per case.

Also the cost split of a mediafault case, and how a whole run scales from one pytest-xdist worker to
two (the permission and device scenarios on Chromium, wall clock of ``mediafault run -n 1`` / ``-n 2``).
Run: .venv/bin/python bench/bench.py [--cases N] [--no-scaling]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from harness.app.config import BUNDLED_APP, Surface  # noqa: E402
from harness.app.profiles import get_profile  # noqa: E402
from harness.reproduce.engines.playwright_route import CHROMIUM_BASE_ARGS, _system_executable  # noqa: E402
from harness.run.plan import plan_case  # noqa: E402
from harness.run.pool import BrowserPool  # noqa: E402
from harness.run.recorder import NullRecorder  # noqa: E402
from harness.run.runner import run_case  # noqa: E402
from harness.run.target import AppTarget  # noqa: E402
from harness.scenario.loader import load_file  # noqa: E402

SCENARIO = REPO / "scenarios" / "permission" / "denied.yaml"


def mediafault_cases(n: int, trace: bool = True) -> tuple[list[float], dict[str, list[float]]]:
    """The harness's own runner; ``trace``: record a Playwright trace per case (the default, kept on failure)."""
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


def run_scaling() -> dict[str, float]:
    """Wall-clock seconds of the same run with one and with two workers."""
    paths = [str(REPO / "scenarios" / "permission"), str(REPO / "scenarios" / "device")]
    out = {}
    for workers in ("1", "2"):
        with tempfile.TemporaryDirectory(prefix="mediafault-bench-") as tmp:
            t = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "harness.cli.main", "run", *paths, "--engine", "chromium",
                                   "-n", workers, "--reports", tmp], capture_output=True, text=True, check=False)
            out[f"-n {workers}"] = time.perf_counter() - t
            if proc.returncode != 0:
                print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
                raise SystemExit(f"the -n {workers} run failed (exit {proc.returncode})")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=15, help="cases per way (default 15)")
    parser.add_argument("--no-scaling", action="store_true", help="skip the -n 1 / -n 2 comparison")
    args = parser.parse_args()
    floor = playwright_floor(args.cases)
    ours, split = mediafault_cases(args.cases)
    untraced, _ = mediafault_cases(args.cases, trace=False)
    kite = selenium_per_case(args.cases)
    med = {name: statistics.median(v) for name, v in
           (("playwright floor", floor), ("mediafault", ours), ("mediafault --mf-trace off", untraced),
            ("selenium session per case", kite))}
    print(f"denied-microphone case on Chromium, {args.cases} cases each, median seconds per case")
    for name, value in med.items():
        print(f"  {name:<27} {value:6.3f} s   ({value / med['playwright floor']:.2f}x the floor)")
    print("mediafault cost split (median s): " + ", ".join(
        f"{k} {statistics.median(v):.3f}" for k, v in split.items()))
    if not args.no_scaling:
        wall = run_scaling()
        print("whole run, permission + device scenarios on Chromium (wall clock, browser launches included): "
              + ", ".join(f"{k} {v:.1f} s" for k, v in wall.items())
              + f" (speed-up {wall['-n 1'] / wall['-n 2']:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
