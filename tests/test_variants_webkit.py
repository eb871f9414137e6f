"""Every variant on WebKit (test_variants.py's proof, in a module of its own so that -n runs it on another
worker). WebKitGTK here has no WebRTC, so every network scenario is skipped on it: the call-path variants
are skipped with that reason without running anything."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import needs_chromium
from tests.test_variants import NETWORK_VARIANTS, PAGE_VARIANTS, EnginePools, check_variant, engine_params, pools

pytestmark = [needs_chromium, pytest.mark.browser]

__all__ = ["pools"]  # the module-scoped fixture, one per module


@pytest.mark.parametrize(("engine", "name"), engine_params(PAGE_VARIANTS + NETWORK_VARIANTS, ("webkit",)))
def test_variant_is_caught_on_webkit(engine: str, name: str, pools: EnginePools,
                                     record_property: Callable[[str, object], None]) -> None:
    """The variant's caught_by scenarios that WebKit reproduces all fail there."""
    check_variant(engine, name, pools, record_property)
