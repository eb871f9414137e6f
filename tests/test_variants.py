"""The catalogue catches bugs: on every engine, each broken variant of the bundled app fails every scenario
that should catch it (its caught_by), and on Chromium, the engine `mediafault variants` reports by default,
it fails no other scenario of the catalogue (that the correct app fails none is test_matrix.py's proof). On
an engine that cannot reproduce one of a variant's scenarios (every case skipped there, with the reason)
that scenario is not expected to catch it.
The run ends with the table of variant → scenarios that caught it per engine (as ``mediafault variants``
prints it), built from what each test recorded."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest

from harness.app.variants import VariantRow, load_variants
from harness.cli.running import variant_report
from harness.run import LANES
from harness.run.batch import Lanes
from harness.run.pool import BrowserPool
from harness.scenario.model import ENGINES
from tests.conftest import needs_chromium, needs_engine

pytestmark = [needs_chromium, pytest.mark.browser]

VARIANT_ROW = "mediafault-variant-row"  # the user property the conftest's summary collects
# Where a variant runs against the whole catalogue, to show that it fails nothing besides its caught_by
# (what the catch table in the docs claims). On the other engines it runs against its caught_by alone:
# that each of those scenarios catches the bug there is what keeps a check that passes falsely on one
# engine from hiding, and the rest of the catalogue cost most of the suite's time again for each engine.
EXACT_ENGINE = "chromium"


# Variants whose bug is in the call path also run the network scenarios, which take minutes each; they
# live in test_variants_network.py, and the other engines in modules of their own (test_variants_firefox.py,
# test_variants_webkit.py, test_variants_network_firefox.py), so that under -n they spread over the workers
# (xdist keeps a module's tests on one worker). Measured on the 2-core reference machine: against the whole
# catalogue the page variants took 25 min on Firefox and 13 min on WebKit, and the network variants 13 min
# on Firefox; against their caught_by alone only generic-error and error-not-announced (17-18 scenarios
# each) take over a minute there, and ./bootstrap test went from 51 to 42 min.
NETWORK_VARIANTS = [name for name, variant in load_variants().items() if variant.network]
# The correct app is not among them: that it passes the whole catalogue on every engine and route is
# test_matrix.py's proof, and running it here again cost 2-4 min per engine.
PAGE_VARIANTS = [n for n in load_variants() if n not in NETWORK_VARIANTS]


def engine_params(names: list[str], engines: tuple[str, ...] = ENGINES) -> list[object]:
    """(engine, variant) pairs, engine first so a module's cases use one engine's browsers at a time."""
    return [pytest.param(engine, name, marks=needs_engine(engine), id=f"{engine}-{name}")
            for engine in engines for name in names]


class EnginePools:
    """One browser pool and one set of lanes for the engine in use, shared by the module's cases, and the rows
    of every variant the module runs: the first test of an engine runs all of them in one go (the lanes go on
    to the next variant while one variant's last cases finish), the others read theirs."""

    def __init__(self, names: list[str]) -> None:
        self.names = names  # the variants this module's selected tests check
        self.engine: str | None = None
        self.pool: BrowserPool | None = None
        self.lanes: Lanes | None = None
        self.rows: dict[tuple[str, str], VariantRow | BaseException] = {}

    def get(self, engine: str) -> tuple[BrowserPool, Lanes]:
        """The pool and lanes for ``engine`` (the previous engine's are closed)."""
        if self.engine != engine or self.pool is None or self.lanes is None:
            self.close()
            self.engine, self.pool, self.lanes = engine, BrowserPool(), Lanes(LANES)
        return self.pool, self.lanes

    def row(self, engine: str, name: str, listed_only: bool) -> VariantRow:
        """Variant ``name``'s row on ``engine`` (the first call runs every one of the module's)."""
        if (engine, name) not in self.rows:
            pool, lanes = self.get(engine)
            try:
                for row in variant_report(engine, self.names, pool=pool, listed_only=listed_only, lanes=lanes):
                    self.rows[(engine, row.name)] = row
            except Exception as exc:  # noqa: BLE001 - each test of the engine says so; none runs it all again
                self.rows.update({(engine, n): exc for n in self.names})
        found = self.rows[(engine, name)]
        if isinstance(found, BaseException):
            raise found
        return found

    def close(self) -> None:
        """Close the browsers and lanes of the engine in use."""
        if self.lanes is not None:
            self.lanes.close()
        if self.pool is not None:
            self.pool.close()
        self.engine, self.pool, self.lanes = None, None, None


@pytest.fixture(scope="module")
def pools(request: pytest.FixtureRequest) -> Iterator[EnginePools]:
    """The module's browsers and rows (of the variants its selected tests check), closed at its end."""
    names = [str(item.callspec.params["name"]) for item in request.session.items
             if isinstance(item, pytest.Function) and item.module is request.module and hasattr(item, "callspec")
             and "name" in item.callspec.params]
    shared = EnginePools(list(dict.fromkeys(names)))
    yield shared
    shared.close()


@pytest.mark.parametrize(("engine", "name"), engine_params(PAGE_VARIANTS, ("chromium",)))
def test_variant_is_caught_by_the_expected_scenarios(engine: str, name: str, pools: EnginePools,
                                                     record_property: Callable[[str, object], None]) -> None:
    """Failing scenarios on ``engine`` == the variant's caught_by that the engine reproduces."""
    check_variant(engine, name, pools, record_property)


def check_variant(engine: str, name: str, pools: EnginePools, record_property: Callable[[str, object], None]) -> None:
    """Run the catalogue (its caught_by alone, away from :data:`EXACT_ENGINE`) on ``engine`` against ``name``
    and compare the failures with its caught_by."""
    row = pools.row(engine, name, listed_only=engine != EXACT_ENGINE)
    record_property(VARIANT_ROW, json.dumps([engine, name, sorted(row.failed), sorted(row.expected), row.problems,
                                             row.unreproduced]))
    if not row.expected and not row.failed and not row.problems:
        pytest.skip(f"{name} cannot be caught on {engine}: none of its scenarios can catch it there ("
                    + "; ".join(f"{k}: {v}" for k, v in sorted(row.unreproduced.items())) + ")")
    assert not row.problems, "\n".join(row.problems)
    assert row.failed == row.expected, (f"{name} on {engine}: missed {sorted(row.expected - row.failed)}, "
                                        f"unexpected {sorted(row.failed - row.expected)}")
    assert row.failed, f"{name} is not caught by any scenario on {engine} ({row.unreproduced})"


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
