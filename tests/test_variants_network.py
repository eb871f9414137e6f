"""The broken variants whose bug is in the call path, caught by the network scenarios (the slow half of
test_variants.py, in a module of its own so that -n runs it beside the other half)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import needs_chromium
from tests.test_variants import NETWORK_VARIANTS, check_variant

pytestmark = [needs_chromium, pytest.mark.browser]


@pytest.mark.parametrize("name", NETWORK_VARIANTS)
def test_network_variant_is_caught_by_the_expected_scenarios(
        name: str, record_property: Callable[[str, object], None]) -> None:
    """Failing scenarios on Chromium (network ones included) == the variant's caught_by."""
    check_variant(name, record_property)


def test_there_are_network_variants() -> None:
    """The split must not leave this half empty (a variant file losing 'network: true' would)."""
    assert len(NETWORK_VARIANTS) >= 3
