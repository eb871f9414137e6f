"""The app under test: how to reach it and read it (config: ``app.url`` or ``app.dir`` and the surface
selectors), what it should show for each outcome (profiles, with their YAML catalogues), the loopback
servers that serve it beside the harness's own pages (server, loopproxy: also the front that puts an
``app.url`` behind https or a non-local name), and its broken variants.

May use: harness.scenario, harness.core. Must not know: browsers, conditions, running, pytest or reports."""

from __future__ import annotations
