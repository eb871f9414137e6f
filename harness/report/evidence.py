"""Evidence for the report: Allure steps, labels and attachments for each case.

allure-pytest's API is a no-op when no ``--alluredir`` is given, so these calls are always safe.
Labels go in at setup and the title at the start of the call phase: allure-pytest overwrites a title
set earlier (it derives one from the item after setup), but keeps labels.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import allure
import pytest
from allure_commons.types import AttachmentType

from harness.run.recorder import Recorder
from harness.run.runner import APP_PROXY_EVIDENCE, RERUN_EVIDENCE

if TYPE_CHECKING:
    from harness.run.plan import CasePlan
    from harness.run.runner import CaseResult

TIMINGS_ATTACHMENT = "time spent (seconds)"

_KINDS = {"png": AttachmentType.PNG, "text": AttachmentType.TEXT, "json": AttachmentType.JSON,
          "yaml": AttachmentType.YAML, "html": AttachmentType.HTML, "zip": AttachmentType.ZIP}


class AllureRecorder:
    """Sends runner steps and evidence to Allure."""

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        """An Allure step."""
        with allure.step(title):
            yield

    def attach(self, name: str, body: str | bytes, kind: str) -> None:
        """An Allure attachment."""
        allure.attach(body, name=name, attachment_type=_KINDS[kind])


def recorder_for(item: pytest.Item) -> Recorder:
    """The recorder for ``item`` (Allure's, which does nothing without --alluredir)."""
    return AllureRecorder()


def label_case(plan: CasePlan) -> None:
    """Labels and parameters known before the case runs (so skipped cases carry them too)."""
    scenario = plan.source.scenario
    dynamic: Any = allure.dynamic  # allure-python has no type hints
    dynamic.feature(scenario.tags[0] if scenario.tags else "scenarios")
    # The story is the scenario, so the HTML report groups area → scenario → one result per engine.
    dynamic.story(scenario.name)
    dynamic.severity(allure.severity_level(scenario.severity.value))
    for tag in scenario.tags:
        dynamic.tag(tag)
    for link in scenario.links:
        dynamic.link(link.url, link_type=link.type, name=link.name or link.url)
    # Parameters make the history id differ per engine, so each engine keeps its own history.
    dynamic.parameter("engine", plan.engine)
    dynamic.parameter("route", plan.route_info.route or "none")
    for mech in plan.resolution.mechanisms:
        dynamic.parameter(mech.condition, f"{mech.value} ({mech.fidelity.value})")


def title_case(plan: CasePlan) -> None:
    """Title and description (must be set in the call phase)."""
    scenario = plan.source.scenario
    dynamic: Any = allure.dynamic
    dynamic.title(plan.name)
    dynamic.description(f"{scenario.description}\n\nDefined at {plan.source.position}.".strip())


def time_case(seconds: float) -> None:
    """Give the Allure result of the case in its call phase (after it) its own duration, ending where it ended
    here: a case run side by side in another process was only read here."""
    import allure_commons

    for plugin in allure_commons.plugin_manager.get_plugins():
        logger = getattr(plugin, "allure_logger", None)
        result = logger.get_test(None) if logger is not None else None
        if result is not None and result.stop:
            result.start = result.stop - round(seconds * 1000)


def attach_result(item: pytest.Item, plan: CasePlan, result: CaseResult) -> None:
    """Screenshot, expected-vs-observed, console, timeline and the scenario's YAML."""
    recorder = recorder_for(item)
    if result.screenshot:
        recorder.attach("screenshot", result.screenshot, "png")
    recorder.attach("expected vs observed", result.verdict.table(), "text")
    obs = result.observation
    if obs.console:
        recorder.attach("console", "\n".join(obs.console), "text")
    if obs.incidents:
        recorder.attach("what the app's page also did", "\n".join(obs.incidents), "text")
    if obs.timeline:
        recorder.attach("getUserMedia / permission timeline", json.dumps(obs.timeline, indent=2), "json")
    evidence = dict(result.evidence)
    rerun = evidence.pop(RERUN_EVIDENCE, None)
    if rerun:
        recorder.attach(RERUN_EVIDENCE, f"the case was run again, recording a Playwright trace: the rerun {rerun}",
                        "text")
    proxied = evidence.pop(APP_PROXY_EVIDENCE, None)
    if proxied:
        recorder.attach("what mediafault did to the app", proxied, "text")
    if evidence:
        turn_log = evidence.pop("turn log", [])
        recorder.attach("network lab evidence", json.dumps(evidence, indent=2), "json")
        if turn_log:
            recorder.attach("TURN server log (this case)", "\n".join(turn_log), "text")
    if result.timings:
        # Where the case's time went (browser, context, page load, steps, time to surface, evidence, closing),
        # so a slow case can be told from a slow app; bench/ reads it for its table of waits.
        recorder.attach(TIMINGS_ATTACHMENT, json.dumps({k: round(v, 3) for k, v in result.timings.items()},
                                                       indent=2), "json")
    first, text = plan.source.snippet()
    numbered = "\n".join(f"{first + i:>4}  {line}" for i, line in enumerate(text.splitlines()))
    recorder.attach(f"scenario ({plan.source.path.name}:{first})", numbered, "text")
