"""The catalogue catches bugs: each broken variant of the bundled app fails exactly the scenarios it
should, and the correct app fails none. (``mediafault variants`` prints the whole table.)"""

from __future__ import annotations

import pytest

from harness.cli import variant_report
from harness.variants import load_variants
from tests.conftest import needs_chromium

pytestmark = [needs_chromium, pytest.mark.browser]


@pytest.mark.parametrize("name", ["correct", *load_variants()])
def test_variant_is_caught_by_the_expected_scenarios(name: str) -> None:
    """Failing scenarios on Chromium == the variant's caught_by (none for the correct app)."""
    ((_, failed, expected, problems),) = variant_report("chromium", [name])
    assert not problems, "\n".join(problems)
    assert failed == expected, f"{name}: missed {sorted(expected - failed)}, unexpected {sorted(failed - expected)}"
    if name != "correct":
        assert failed, f"{name} is not caught by any scenario"


def test_every_variant_names_real_scenarios() -> None:
    """A variant's caught_by only lists scenarios that exist in the catalogue (typos would hide misses)."""
    from harness.loader import load_paths
    from tests.conftest import REPO

    scenarios, errors = load_paths([REPO / "scenarios"])
    assert not errors
    names = {s.scenario.name for s in scenarios}
    for variant_name, variant in load_variants().items():
        unknown = set(variant.caught_by) - names
        assert not unknown, f"{variant_name}: {unknown}"
    assert len(load_variants()) >= 8
