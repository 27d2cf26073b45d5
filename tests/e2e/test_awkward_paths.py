"""The whole workflow from a checkout whose path holds a space, an apostrophe and non-ASCII letters,
with a census file named the same way, as a new user at /home/o'brien would run it: every path
reaches DuckDB as a quoted literal or a bound value (the dbt seed included)."""

from __future__ import annotations

import csv
import shutil

import pytest

from conftest import copy_workflow, snakemake, tiny_config, write_config

pytestmark = pytest.mark.slow

AWKWARD = "o'brien plans – Zoë"


def test_a_run_from_a_path_with_an_apostrophe_space_and_accents(tmp_path):
    wd = copy_workflow(tmp_path / AWKWARD / "wf")
    census = f"data/{AWKWARD} census.csv"
    shutil.copy2(wd / "tests/data/tiny_census.csv", wd / census)
    write_config(wd, tiny_config(census=census, end_year=2025))
    snakemake(wd, "--cores", "2", "results/tiny/summary.csv", "results/tiny/tiny.xlsx", "results/tiny/summary.html")
    with open(wd / "results/tiny/summary.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    with open(wd / census, newline="") as fh:
        active = sum(1 for r in csv.DictReader(fh) if not r.get("termination_date"))
    assert [r["simulation_year"] for r in rows] == ["2025"]
    assert int(rows[0]["headcount_start"]) == active > 0
    assert (wd / "results/tiny/tiny.xlsx").stat().st_size > 0
    assert "2025" in (wd / "results/tiny/summary.html").read_text()
