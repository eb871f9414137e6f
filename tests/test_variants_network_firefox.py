"""The broken variants whose bug is in the call path, caught by the network scenarios, on Firefox
(test_variants_network.py's proof for the second engine, in a module of its own so that -n runs it on
another worker than Chromium's). A scenario whose condition Firefox cannot reproduce is skipped at plan time
with the reason (harness/reproduce/conditions.py), and is then not expected to catch anything here."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import needs_chromium
from tests.test_variants import NETWORK_VARIANTS, EnginePools, check_variant, engine_params, pools

pytestmark = [needs_chromium, pytest.mark.browser]

__all__ = ["pools"]  # the module-scoped fixture, one per module


@pytest.mark.parametrize(("engine", "name"), engine_params(NETWORK_VARIANTS, ("firefox",)))
def test_network_variant_is_caught_on_firefox(
        engine: str, name: str, pools: EnginePools, record_property: Callable[[str, object], None]) -> None:
    """The variant's caught_by scenarios (network ones included) that Firefox reproduces all fail there."""
    check_variant(engine, name, pools, record_property)
