"""The broken variants whose bug is in the call path, caught by the network scenarios (the slow half of
test_variants.py, in a module of its own so that -n runs it beside the other half), on Chromium; Firefox's
are in test_variants_network_firefox.py, WebKit's in test_variants_webkit.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import needs_chromium
from tests.test_variants import NETWORK_VARIANTS, EnginePools, check_variant, engine_params, pools

pytestmark = [needs_chromium, pytest.mark.browser]

__all__ = ["pools"]  # the module-scoped fixture, shared with test_variants.py's definition


@pytest.mark.parametrize(("engine", "name"), engine_params(NETWORK_VARIANTS, ("chromium",)))
def test_network_variant_is_caught_by_the_expected_scenarios(
        engine: str, name: str, pools: EnginePools, record_property: Callable[[str, object], None]) -> None:
    """Failing scenarios on ``engine`` (network ones included) == the variant's caught_by it reproduces."""
    check_variant(engine, name, pools, record_property)


def test_there_are_network_variants() -> None:
    """The split must not leave this half empty (a variant file losing 'network: true' would)."""
    assert len(NETWORK_VARIANTS) >= 3
