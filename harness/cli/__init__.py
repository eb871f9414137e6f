"""The command-line face, ``mediafault``: run (pytest underneath, as a program), report, validate, list,
schema, doctor, grid (a local Selenium Grid), init (scaffold), docs (docgen) and variants.

May use: every wing below the two faces. Must not import the pytest face."""

from __future__ import annotations
