"""Reporting results: the scenario × engine matrix and the error-surface map (matrix), Allure evidence
for each case (evidence) and the files beside the results (allure_files), the HTML report (html), and the
soak summary of repeated runs (flakes).

May use: harness.run and every wing below it. Must not know: pytest's hooks or the command line."""

from __future__ import annotations
