"""The dbt unit tests of the coverage and top-heavy tests (dbt/models/intermediate/compliance/
_coverage_top_heavy_unit_tests.yml: the 410(b) ratio percentage test failing at 60% and passing at exactly 70% with
excludable employees dropped, no HCEs; key employees, the top-heavy share with a disregarded leaver, the 416(c)(2)
minimum at 3% and at a key rate below 3%, not top-heavy at exactly 60%; the test row failing, passing, not
determinable and deemed passed; the minimum put into the core balance in apply mode and not in report mode) run and
pass, and a wrong hand-computed figure makes them fail."""

from __future__ import annotations

import pytest

from conftest import REPO
from dbt_unit import build_unit_tests, project_with_figure, unit_test_statuses
from plansim.errors import QualityGateError

UNIT_TESTS = {"coverage_ratio_percentage_fails_at_60_percent_with_excludable_employees_dropped",
              "coverage_ratio_percentage_passes_at_exactly_70_percent", "coverage_without_hces_passes",
              "top_heavy_minimum_three_percent_for_non_key_employees",
              "top_heavy_minimum_at_the_highest_key_rate_below_3_percent",
              "top_heavy_minimum_not_top_heavy_at_exactly_60_percent",
              "top_heavy_test_fails_and_reports_the_minimum", "top_heavy_test_passes_at_60_percent_from_ownership_only",
              "top_heavy_test_not_determinable_without_officer_and_owner_data",
              "top_heavy_test_deemed_pass_for_a_safe_harbor_plan",
              "balances_top_heavy_minimum_applied_to_core", "balances_top_heavy_minimum_reported_not_applied"}
SPEC = "dbt/models/intermediate/compliance/_coverage_top_heavy_unit_tests.yml"
SELECT = ["+int_coverage_tests", "+int_top_heavy_test", "+int_employee_balances"]


def test_coverage_top_heavy_unit_tests_pass(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    outcome = build_unit_tests(REPO, tmp_path, SELECT)
    assert not outcome.nodes.get("fail") and not outcome.nodes.get("error"), outcome.nodes
    text = (REPO / SPEC).read_text()
    assert all(f"name: {name}" in text for name in UNIT_TESTS)
    statuses = unit_test_statuses(tmp_path)
    assert {name: statuses.get(name) for name in UNIT_TESTS} == {name: "pass" for name in UNIT_TESTS}


def test_a_wrong_hand_computed_minimum_fails(tmp_path, monkeypatch):
    # N6 is owed 3% x 25,000 = 750 but has only 500 of 415(c) room: 750 would be wrong
    project = project_with_figure(tmp_path, SPEC, "required_contribution: 750.00, top_heavy_minimum: 500.00",
                                  "required_contribution: 750.00, top_heavy_minimum: 750.00")
    monkeypatch.chdir(project)
    with pytest.raises(QualityGateError, match="top_heavy_minimum_three_percent_for_non_key_employees"):
        build_unit_tests(project, tmp_path, SELECT)
