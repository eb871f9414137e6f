"""The browsers of this process: one per launch spec, started on first use, kept for later cases, and killed
by PID when one hangs."""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from harness.app.loopproxy import stop_shared_proxy
from harness.core import procs
from harness.core.reaper import REAPER
from harness.reproduce.conditions import FIREFOX_SITE_FILE_PREF, firefox_site_permissions
from harness.reproduce.engines import Browser, LaunchSpec
from harness.run.plan import CasePlan
from harness.run.recorder import Recorder

# How a case's Playwright trace is recorded: "rerun" (none on the first run; a failed case is run again,
# recording, and that trace is attached), "on-failure" (every case records; a failed one keeps it), "off".
TRACE_MODES = ("rerun", "on-failure", "off")
SCREENSHOT_MODES = ("on-failure", "always")


class BrowserPool:
    """One browser per launch spec in this process, started on first use and kept for later cases."""

    def __init__(self, headed: bool = False, trace: str = "off", screenshots: str = "on-failure") -> None:
        self.headed = headed
        # The Playwright trace (TRACE_MODES). Recording one costs every case 0.09-0.13 s of CPU (+8-14%) and
        # 0.05-0.09 s of wall time on Chromium (medians of 40-60 paired cases), nearly all of it the DOM
        # snapshots; a trace without them has no DOM and no network, nothing the report lacks. So by
        # default no case records one, and a failed case is run again with the recording on: passing cases
        # pay nothing, and the trace of a failure is a second look at it ("rerun").
        self.trace = trace
        # A screenshot of the page as the case ends: on failure (the default; 0.06 s on Chromium, 0.12 s on
        # Firefox) or on every case ("always", for a report that shows each error as the user saw it).
        self.screenshots = screenshots
        self._browsers: dict[LaunchSpec, Browser] = {}
        self._pids: dict[LaunchSpec, set[int]] = {}  # what each launch started, to kill it if it hangs
        self._site_files: dict[LaunchSpec, Path] = {}  # the site permissions file each browser started with
        self._site_dir: Path | None = None
        self.launches = 0

    def get(self, plan: CasePlan, recorder: Recorder, wrap: Callable[[str], str] | None = None,
            site_origins: Sequence[tuple[str, Sequence[tuple[str, str]]]] = ()) -> Browser:
        """The browser for ``plan``'s launch spec (``wrap``: see :meth:`Route.launch`); a spec with site
        permissions starts with ``site_origins`` in its site permissions file (see :meth:`AppTarget.site_origins`).
        A browser started with other origins (another app server's ports) is replaced: the browser reads the
        file once."""
        assert plan.launch is not None and plan.route is not None
        spec = plan.launch
        site_file = self._site_file(site_origins) if spec.site_permissions else None
        browser = self._browsers.get(spec)
        if browser is not None and (browser.gone()  # it went down with another case's crash
                                    or self._site_files.get(spec) != site_file):
            self.discard(spec)
            browser = None
        if browser is None:
            if plan.route.limited_slots:  # free the slot this engine holds (cases come grouped by launch spec)
                for held in [s for s in self._browsers if s.engine == plan.engine and s.route == plan.route.name]:
                    self.discard(held)
            launched = spec if site_file is None else replace(
                spec, prefs=(*spec.prefs, (FIREFOX_SITE_FILE_PREF, site_file.as_uri())))
            flags = " ".join(launched.args) or ", ".join(f"{k}={v}" for k, v in launched.prefs)
            before = procs.descendants()
            with recorder.step(f"launch {plan.engine} via {plan.route.name} ({flags or 'defaults'})"):
                browser = plan.route.launch(launched, headed=self.headed, wrap=wrap)
            self._browsers[spec] = browser
            self._pids[spec] = procs.started_by(before)
            if site_file is not None:
                self._site_files[spec] = site_file
            self.launches += 1
        return browser

    def _site_file(self, origins: Sequence[tuple[str, Sequence[tuple[str, str]]]]) -> Path:
        """The site permissions file for ``origins``, named after its content (kept until :meth:`close`)."""
        text = firefox_site_permissions(origins)
        if self._site_dir is None:
            self._site_dir = Path(tempfile.mkdtemp(prefix="mediafault-site-permissions-"))
            REAPER.watch_dir(self._site_dir)  # removed even if this process is killed
        path = self._site_dir / f"{hashlib.sha1(text.encode()).hexdigest()[:12]}.txt"
        if not path.exists():
            path.write_text(text, encoding="utf-8")
        return path

    def settings(self) -> tuple[bool, str, str]:
        """What this pool was made with (headed, trace, screenshots): another process's pool made with them
        records the same evidence."""
        return self.headed, self.trace, self.screenshots

    def specs(self) -> frozenset[LaunchSpec]:
        """The launch specs this pool has a browser for (one may have died since)."""
        return frozenset(self._browsers)

    def discard_lab_browsers(self) -> None:
        """Close browsers living in a network lab (call when that lab is stopped)."""
        for spec in [s for s in self._browsers if s.netlab]:
            self.discard(spec)

    def discard(self, spec: LaunchSpec) -> None:
        """Forget (and close) a browser that misbehaved, so the next case starts a new one."""
        browser = self._browsers.pop(spec, None)
        pids = self._pids.pop(spec, set())
        self._site_files.pop(spec, None)
        if browser is not None:
            with contextlib.suppress(Exception):  # a crashed or killed browser may not close cleanly
                browser.close()
        procs.kill_tree(pids)  # whatever did not go away with close()

    def kill(self, spec: LaunchSpec) -> int:
        """Kill the browser of ``spec`` by PID (from another thread: a hung page blocks the caller)."""
        return procs.kill_tree(self._pids.get(spec, set()))

    def close(self) -> None:
        """Close every browser, then the loopback proxy they were configured with."""
        for browser in self._browsers.values():
            browser.close()
        self._browsers.clear()
        self._site_files.clear()
        if self._site_dir is not None:
            shutil.rmtree(self._site_dir, ignore_errors=True)
            REAPER.forget_dir(self._site_dir)
            self._site_dir = None
        stop_shared_proxy()
