"""The dbt unit tests of the ADP and ACP tests (dbt/models/intermediate/compliance/_adp_acp_unit_tests.yml:
an ADP passing by the 1.25 rule, one passing only by the 2-point rule, a failure corrected by leveling for
three HCEs with a catch-up recharacterization and the match forfeited, dollar leveling that adds up to the
cent, an ACP failure, prior-year vs current-year testing on the same data, the first-year rule, a prior-year
test without last year's result, a year without NHCEs, a safe harbor deemed to pass, and the test rows
reported from all that) and of the HCE determination upstream of them run and pass, and a wrong
hand-computed figure makes one fail."""

from __future__ import annotations

import pytest

from conftest import REPO
from dbt_unit import build_unit_tests, project_with_figure, unit_test_statuses
from plansim.errors import QualityGateError

UNIT_TESTS = {"adp_passes_by_the_1_25_rule", "adp_passes_only_by_the_2_point_rule",
              "adp_fails_refund_by_leveling_three_hces_with_catch_up",
              "adp_dollar_leveling_of_tied_hces_adds_up_to_the_cent",
              "acp_fails_corrective_distribution_by_leveling",
              "adp_current_year_method_passes", "adp_prior_year_method_fails_on_the_same_data",
              "adp_prior_year_method_start_year_uses_the_first_year_rule",
              "prior_year_method_without_last_year_result_is_not_determinable",
              "safe_harbor_design_is_deemed_to_pass", "tests_without_nhces_are_deemed_to_pass",
              "adp_acp_tests_report_the_failed_tests_of_three_hces", "adp_acp_tests_report_a_pass_and_its_margin",
              "adp_acp_tests_report_a_safe_harbor_as_deemed_pass",
              "adp_acp_tests_without_eligible_employees_are_not_applicable"}
SPEC = "dbt/models/intermediate/compliance/_adp_acp_unit_tests.yml"
# HCE determination (dbt/models/intermediate/compliance/_hce_unit_tests.yml), upstream of the tests: pay above
# the look-back year's amount, exactly the amount, a 5% owner and exactly 5%, a hire; the top-paid group.
HCE_UNIT_TESTS = {"hce_by_look_back_pay_and_by_ownership", "hce_top_paid_group_election_keeps_the_top_20_percent"}
HCE_SPEC = "dbt/models/intermediate/compliance/_hce_unit_tests.yml"
# int_adp_acp_tests and everything upstream of it (int_nondiscrimination_ratios, int_hce_determination)
SELECT = ["+int_adp_acp_tests"]


def test_adp_acp_unit_tests_pass(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    outcome = build_unit_tests(REPO, tmp_path, SELECT)
    assert not outcome.nodes.get("fail") and not outcome.nodes.get("error"), outcome.nodes
    assert all(f"name: {name}" in (REPO / SPEC).read_text() for name in UNIT_TESTS)
    assert all(f"name: {name}" in (REPO / HCE_SPEC).read_text() for name in HCE_UNIT_TESTS)
    statuses = unit_test_statuses(tmp_path)
    every = UNIT_TESTS | HCE_UNIT_TESTS
    assert {name: statuses.get(name) for name in every} == {name: "pass" for name in every}


def test_a_wrong_hand_computed_refund_fails(tmp_path, monkeypatch):
    # H1's share of the dollar leveling (24,500 - 15,675), beside its step-1 excess
    project = project_with_figure(tmp_path, SPEC, "adp_excess_by_ratio: 4550.00, adp_excess: 8825.00",
                                  "adp_excess_by_ratio: 4550.00, adp_excess: 8826.00")
    monkeypatch.chdir(project)
    with pytest.raises(QualityGateError, match="adp_fails_refund_by_leveling_three_hces_with_catch_up"):
        build_unit_tests(project, tmp_path, SELECT)


def test_a_wrong_hce_status_fails(tmp_path, monkeypatch):
    # exactly $160,000 is not "more than" the amount: claiming E2 is an HCE must fail
    figure = "{employee_id: E2, hce_threshold: 160000, is_five_percent_owner: false, is_hce: false, hce_reason: null}"
    project = project_with_figure(tmp_path, HCE_SPEC, figure,
                                  figure.replace("is_hce: false, hce_reason: null", "is_hce: true, hce_reason: compensation"))
    monkeypatch.chdir(project)
    with pytest.raises(QualityGateError, match="hce_by_look_back_pay_and_by_ownership"):
        build_unit_tests(project, tmp_path, SELECT)
