"""The dbt unit tests (hand-computed rows for match tiers, 402(g), catch-up at 50, super
catch-up at 60-63, 401(a)(17), 415(c), a mid-year hire's proration, an escalation that
would pass the cap) run and pass, and a wrong expectation makes them fail."""

from __future__ import annotations

import pytest

from conftest import REPO
from dbt_unit import build_unit_tests, project_with_figure
from plansim.errors import QualityGateError

# Plan rules (dbt/models/intermediate/plan/_plan_unit_tests.yml): limits and flags, match on eligible
# pay, pay dates of a biweekly payroll, true-up, 415(c) with catch-up and both correction orders,
# escalation scope and opt-out, an opt-out window over the year end.
UNIT_TESTS = {"contributions_match_limits_and_proration", "contributions_match_on_eligible_pay",
              "contributions_follow_pay_dates", "contributions_match_true_up",
              "contributions_415c_excess_deferral_is_catch_up", "contributions_415c_refunds_deferrals_first",
              "contributions_415c_employer_first", "contributions_mid_year_formula_change", "eligibility_under_a_design_timeline", "escalation_stops_at_the_cap",
              "escalation_scope_and_first_escalation_opt_out", "opt_out_window_crosses_the_year_end",
              # plan money (issue 19): service/points-graded formulas, Roth and 414(v)(7) catch-up, allocation
              # conditions (last day, hours, retirement waiver, withheld match), new elections' Roth draw
              "contributions_service_graded_core_and_match", "contributions_points_graded_core",
              "contributions_415c_deferrals_first_by_band",
              "contributions_min_service_condition",
              "contributions_roth_catch_up_2026", "contributions_no_roth_no_catch_up_above_threshold",
              "contributions_last_day_rule_withholds_core_and_true_up", "contributions_last_day_rule_without_conditions",
              "contributions_hours_condition_and_retirement_waiver", "contributions_withheld_match_deposit_then_forfeit",
              "contributions_withheld_match_allocate_at_year_end", "new_elections_roth_by_age_share",
              "new_elections_pretax_without_roth"}
# Workforce rules (dbt/models/intermediate/workforce/_workforce_unit_tests.yml): merit service
# cutoff / proration and COLA, grown new-hire pay bands, retirement at max_age and by age.
WORKFORCE_UNIT_TESTS = {"merit_cutoff_and_cola_by_hire_date", "merit_prorated_by_completed_months",
                        "hire_pay_grows_with_the_band", "retirement_at_max_age", "retirement_by_age_probability",
                        "retirement_disabled"}


def run_unit_tests(project, tmp_path):
    return build_unit_tests(project, tmp_path, ["+int_employee_contributions", "+int_deferral_rate_escalation_events",
                                                "int_eligibility_events"])


def test_unit_tests_pass(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    outcome = run_unit_tests(REPO, tmp_path)
    assert outcome.nodes.get("pass") == len(UNIT_TESTS | WORKFORCE_UNIT_TESTS), outcome.nodes


def test_a_wrong_hand_computed_figure_fails(tmp_path, monkeypatch):
    project = project_with_figure(tmp_path, "dbt/models/intermediate/plan/_plan_unit_tests.yml",
                                  "employer_match: 14400.00", "employer_match: 14500.00")
    monkeypatch.chdir(project)
    with pytest.raises(QualityGateError, match="contributions_match_limits_and_proration"):
        run_unit_tests(project, tmp_path)


def test_a_wrong_workforce_figure_fails(tmp_path, monkeypatch):
    project = project_with_figure(tmp_path, "dbt/models/intermediate/workforce/_workforce_unit_tests.yml",
                                  "annual_compensation: 54080.00", "annual_compensation: 50000.00", count=3)
    monkeypatch.chdir(project)
    with pytest.raises(QualityGateError, match="hire_pay_grows_with_the_band"):
        run_unit_tests(project, tmp_path)
