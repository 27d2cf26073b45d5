"""Paths reach DuckDB as quoted literals: a results folder like /home/o'brien/plans (with a
space and non-ASCII letters) is written and read back whole by the Python side of the workflow."""

from __future__ import annotations

import json

import duckdb
import pyarrow.parquet as pq

from plansim.census import CANONICAL_COLUMNS
from plansim.db import sql_identifier, sql_literal
from plansim.preflight import empty_census
from plansim.state_files import export_model

AWKWARD = "o'brien plans – Zoë"


def test_literal_and_identifier_round_trip():
    for text in ("", "'", "a''b", "o'brien", 'say "hi"', AWKWARD):
        assert duckdb.execute(f"select {sql_literal(text)}").fetchone()[0] == text
        assert duckdb.execute(f"select 1 as {sql_identifier(text or 'x')}").description[0][0] == (text or "x")


def test_a_year_export_lands_in_a_folder_with_an_apostrophe(tmp_path):
    con = duckdb.connect()
    con.execute("create table fct_workforce_snapshot as select 'E1' as employee_id, 's' as scenario_id, "
                "'d' as plan_design_id, 2025 as simulation_year")
    out = tmp_path / AWKWARD / "s" / "2025" / "fct_workforce_snapshot.parquet"
    assert export_model(con, "fct_workforce_snapshot", out, scenario_id="s", plan_design_id="d", year=2025) == 1
    assert pq.read_table(out).column("employee_id").to_pylist() == ["E1"]
    meta = json.loads(pq.read_metadata(out).metadata[b"plansim"])
    assert meta == {"scenario_id": "s", "plan_design_id": "d", "simulation_year": 2025,
                    "model": "fct_workforce_snapshot"}


def test_the_preflights_empty_census_lands_in_a_folder_with_an_apostrophe(tmp_path):
    path = empty_census(tmp_path / AWKWARD / "empty_census.parquet")
    table = pq.read_table(path)
    assert table.num_rows == 0 and table.column_names == [name for name, _ in CANONICAL_COLUMNS]
