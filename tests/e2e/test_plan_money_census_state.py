"""The start year's plan-money state comes from the census (stg_prior_deferral_state): the Roth share
of each participant's rate (roth_deferral_rate / deferral_rate), census annual_hours, and
prior-year wages for the SECURE 2.0 Roth catch-up rule (census prior_year_wages, else
annual_compensation stands in, flagged). A plan without Roth treats every census Roth share as 0.
Figures worked out by hand from tests/data/census/valid/plan_money_columns.csv."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb

from conftest import REPO
from plansim.census import stage_census
from plansim.config import load_scenarios
from plansim.dbt_runner import invoke
from plansim.phases import year_vars

CENSUS = REPO / "tests" / "data" / "census" / "valid" / "plan_money_columns.csv"


def staged_state(tmp_path, roth_available: bool) -> dict:
    scn = load_scenarios(REPO / "config.yaml")["baseline"]
    results = tmp_path / "results"
    stage_census(CENSUS, results / "baseline" / "staged_census.parquet", dt.date(2024, 12, 31))
    dbt_vars = year_vars(scn, scn["start_year"], str(results))
    dbt_vars["roth_available"] = roth_available
    invoke(["build", "--select", "stg_prior_deferral_state", "--exclude-resource-type", "test"],
           database=tmp_path / "state.duckdb", target_path=tmp_path / "target", log_path=tmp_path / "logs",
           dbt_vars=dbt_vars, threads=1, what="stg_prior_deferral_state", log=lambda m: None)
    with duckdb.connect(str(tmp_path / "state.duckdb")) as con:
        rows = con.execute("select employee_id, roth_share, annual_hours, prior_year_wages, is_prior_year_wages_assumed "
                           "from stg_prior_deferral_state order by employee_id").fetchall()
    return {r[0]: r[1:] for r in rows}


def test_census_roth_share_hours_and_prior_year_wages(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    state = staged_state(tmp_path, roth_available=True)
    # M001: Roth 4% of a 10% rate = 0.4; hours 2,080; prior-year wages 152,000.50 from the census
    assert state["M001"] == (Decimal("0.400000"), 2080.0, Decimal("152000.50"), False)
    # M002: Roth 5% of 5% = all Roth
    assert state["M002"] == (Decimal("1.000000"), 1950.5, Decimal("58000.00"), False)
    # M003: deferral 0: share 0; no prior-year wages: annual_compensation 48,000 stands in (assumed)
    assert state["M003"] == (Decimal("0.000000"), 1000.0, Decimal("48000.00"), True)
    # M005: no Roth rate, no hours (null = unknown), no prior-year wages: pay 45,000 stands in
    assert state["M005"] == (Decimal("0.000000"), None, Decimal("45000.00"), True)
    # M006: 2% of 8% = 0.25
    assert state["M006"][0] == Decimal("0.250000")
    assert "M004" not in state  # terminated before the census date: not staged


def test_without_roth_census_roth_shares_are_pre_tax(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    state = staged_state(tmp_path, roth_available=False)
    assert {employee_id: row[0] for employee_id, row in state.items()} == dict.fromkeys(state, Decimal("0.000000"))
