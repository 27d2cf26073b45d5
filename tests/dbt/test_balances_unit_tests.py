"""The dbt unit tests of vesting, balances and forfeitures (dbt/models/intermediate/plan/
_balances_unit_tests.yml: cliff-3 and graded-6 at each service year, a termination after two
years, a two-year roll-forward with mid-year money, full vesting at normal retirement age and on
retirement, break-in-service and cash-out timing, service counted in hours) run and pass, and a wrong hand-computed figure
makes them fail."""

from __future__ import annotations

import pytest

from conftest import REPO
from dbt_unit import build_unit_tests, project_with_figure, unit_test_statuses
from plansim.errors import QualityGateError

UNIT_TESTS = {"balances_vesting_cliff_3_and_graded_6_by_service_year",
              "balances_termination_after_two_years_forfeits_the_non_vested_part",
              "balances_roll_forward_year_one", "balances_roll_forward_year_two",
              "balances_full_vesting_at_normal_retirement_age_and_on_retirement",
              "balances_break_in_service_timing_and_cash_out", "balances_vesting_service_counted_in_hours",
              "balances_schedule_change_never_lowers_a_vested_share"}
SPEC = "dbt/models/intermediate/plan/_balances_unit_tests.yml"


def run_balances_unit_tests(project, tmp_path):
    # the unit tests of int_employee_balances and of everything upstream of it
    return build_unit_tests(project, tmp_path, ["+int_employee_balances"])


def test_balances_unit_tests_pass(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    outcome = run_balances_unit_tests(REPO, tmp_path)
    assert not outcome.nodes.get("fail") and not outcome.nodes.get("error"), outcome.nodes
    # every unit test upstream of int_employee_balances passes, the six of this file among them
    text = (REPO / SPEC).read_text()
    assert all(f"name: {name}" in text for name in UNIT_TESTS)
    statuses = unit_test_statuses(tmp_path)
    assert {name: statuses.get(name) for name in UNIT_TESTS} == {name: "pass" for name in UNIT_TESTS}


def test_a_wrong_hand_computed_balance_fails(tmp_path, monkeypatch):
    project = project_with_figure(tmp_path, SPEC, "investment_return_pretax: 530.00", "investment_return_pretax: 500.00")
    monkeypatch.chdir(project)
    with pytest.raises(QualityGateError, match="balances_roll_forward_year_one"):
        run_balances_unit_tests(project, tmp_path)
