"""The catalogue catches bugs: each broken variant of the bundled app fails exactly the scenarios it
should, and the correct app fails none. The run ends with the table of variant → scenarios that caught it
(as ``mediafault variants`` prints it), built from what each test recorded."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from harness.app.variants import load_variants
from harness.cli.running import variant_report
from tests.conftest import needs_chromium

pytestmark = [needs_chromium, pytest.mark.browser]

VARIANT_ROW = "mediafault-variant-row"  # the user property the conftest's summary collects


# Variants whose bug is in the call path also run the network scenarios, which take minutes each; they
# live in test_variants_network.py so that under -n the two halves run on different workers (xdist keeps
# a module's tests on one worker).
NETWORK_VARIANTS = [name for name, variant in load_variants().items() if variant.network]


@pytest.mark.parametrize("name", ["correct", *(n for n in load_variants() if n not in NETWORK_VARIANTS)])
def test_variant_is_caught_by_the_expected_scenarios(name: str,
                                                     record_property: Callable[[str, object], None]) -> None:
    """Failing scenarios on Chromium == the variant's caught_by (none for the correct app)."""
    check_variant(name, record_property)


def check_variant(name: str, record_property: Callable[[str, object], None]) -> None:
    """Run the catalogue on Chromium against ``name`` and compare the failures with its caught_by."""
    ((_, failed, expected, problems),) = variant_report("chromium", [name])
    record_property(VARIANT_ROW, json.dumps([name, sorted(failed), sorted(expected), problems]))
    assert not problems, "\n".join(problems)
    assert failed == expected, f"{name}: missed {sorted(expected - failed)}, unexpected {sorted(failed - expected)}"
    if name != "correct":
        assert failed, f"{name} is not caught by any scenario"


def test_every_variant_names_real_scenarios() -> None:
    """A variant's caught_by only lists scenarios that exist in the catalogue (typos would hide misses)."""
    from harness.scenario.loader import load_paths
    from tests.conftest import REPO

    scenarios, errors = load_paths([REPO / "scenarios"])
    assert not errors
    names = {s.scenario.name for s in scenarios}
    for variant_name, variant in load_variants().items():
        unknown = set(variant.caught_by) - names
        assert not unknown, f"{variant_name}: {unknown}"
    assert len(load_variants()) >= 8
