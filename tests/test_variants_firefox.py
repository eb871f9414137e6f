"""The page variants on Firefox (test_variants.py's proof; a module of its own so that -n runs it on another
worker than Chromium's)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import needs_chromium
from tests.test_variants import PAGE_VARIANTS, EnginePools, check_variant, engine_params, pools

pytestmark = [needs_chromium, pytest.mark.browser]

__all__ = ["pools"]  # the module-scoped fixture, one per module


@pytest.mark.parametrize(("engine", "name"), engine_params(PAGE_VARIANTS, ("firefox",)))
def test_variant_is_caught_on_firefox(engine: str, name: str, pools: EnginePools,
                                      record_property: Callable[[str, object], None]) -> None:
    """The variant's caught_by scenarios that Firefox reproduces all fail there."""
    check_variant(engine, name, pools, record_property)
