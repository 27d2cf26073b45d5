"""The dbt unit tests of vesting, balances and forfeitures (dbt/models/intermediate/plan/
_balances_unit_tests.yml: cliff-3 and graded-6 at each service year, a termination after two
years, a two-year roll-forward with mid-year money, full vesting at normal retirement age and on
retirement, break-in-service and cash-out timing, service counted in hours) run and pass, and a wrong hand-computed figure
makes them fail."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from conftest import REPO, TINY_CENSUS
from plansim.census import stage_census
from plansim.config import load_scenarios
from plansim.dbt_runner import invoke
from plansim.errors import QualityGateError
from plansim.phases import year_vars

UNIT_TESTS = {"balances_vesting_cliff_3_and_graded_6_by_service_year",
              "balances_termination_after_two_years_forfeits_the_non_vested_part",
              "balances_roll_forward_year_one", "balances_roll_forward_year_two",
              "balances_full_vesting_at_normal_retirement_age_and_on_retirement",
              "balances_break_in_service_timing_and_cash_out", "balances_vesting_service_counted_in_hours"}
SPEC = "dbt/models/intermediate/plan/_balances_unit_tests.yml"


def run_balances_unit_tests(project, tmp_path):
    scn = load_scenarios(project / "config.yaml")["baseline"]
    results = tmp_path / "results"
    stage_census(TINY_CENSUS, results / "baseline" / "staged_census.parquet", dt.date(2024, 12, 31))
    # --empty builds the upstream tables (the unit tests' fixtures take their columns), then the tests of
    # int_employee_balances only.
    return invoke(["build", "--select", "+int_employee_balances", "--empty", "--exclude-resource-type", "test"],
                  database=tmp_path / "ut.duckdb", target_path=tmp_path / "target", log_path=tmp_path / "logs",
                  dbt_vars=year_vars(scn, 2025, str(results)), threads=1, what="dbt unit tests", log=lambda m: None)



def test_balances_unit_tests_pass(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    outcome = run_balances_unit_tests(REPO, tmp_path)
    assert not outcome.nodes.get("fail") and not outcome.nodes.get("error"), outcome.nodes
    # every unit test upstream of int_employee_balances passes, the six of this file among them
    text = (REPO / SPEC).read_text()
    assert all(f"name: {name}" in text for name in UNIT_TESTS)
    assert outcome.nodes.get("pass", 0) >= len(UNIT_TESTS), outcome.nodes


def test_a_wrong_hand_computed_balance_fails(tmp_path, monkeypatch):
    project = tmp_path / "project"
    shutil.copytree(REPO / "dbt", project / "dbt", ignore=shutil.ignore_patterns("target", "logs"))
    shutil.copy2(REPO / "config.yaml", project / "config.yaml")
    shutil.copytree(REPO / "data", project / "data")
    spec = project / SPEC
    text = spec.read_text()
    assert text.count("investment_return_pretax: 530.00") == 1
    spec.write_text(text.replace("investment_return_pretax: 530.00", "investment_return_pretax: 500.00"))
    monkeypatch.chdir(project)
    with pytest.raises(QualityGateError, match="balances_roll_forward_year_one"):
        run_balances_unit_tests(project, tmp_path)
