"""The dbt unit tests of the ADP and ACP tests (dbt/models/intermediate/compliance/_adp_acp_unit_tests.yml:
an ADP passing by the 1.25 rule, one passing only by the 2-point rule, a failure corrected by leveling for
three HCEs with a catch-up recharacterization and the match forfeited, dollar leveling that adds up to the
cent, an ACP failure, prior-year vs current-year testing on the same data, the first-year rule, a prior-year
test without last year's result, a year without NHCEs, a safe harbor deemed to pass, and the test rows
reported from all that) run and pass, and a wrong hand-computed figure makes one fail."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import pytest

from conftest import REPO, TINY_CENSUS
from plansim.census import stage_census
from plansim.config import load_scenarios
from plansim.dbt_runner import invoke
from plansim.errors import QualityGateError
from plansim.phases import year_vars

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


def run_adp_acp_unit_tests(project, tmp_path):
    scn = load_scenarios(project / "config.yaml")["baseline"]
    results = tmp_path / "results"
    stage_census(TINY_CENSUS, results / "baseline" / "staged_census.parquet", dt.date(2024, 12, 31))
    # --empty builds the upstream tables (the unit tests' fixtures take their columns), then the unit tests of
    # int_adp_acp_tests and of everything upstream of it (int_nondiscrimination_ratios among them).
    return invoke(["build", "--select", "+int_adp_acp_tests", "--empty", "--exclude-resource-type", "test"],
                  database=tmp_path / "ut.duckdb", target_path=tmp_path / "target", log_path=tmp_path / "logs",
                  dbt_vars=year_vars(scn, 2025, str(results)), threads=1, what="dbt unit tests", log=lambda m: None)


def unit_test_statuses(target_path) -> dict[str, str]:
    """name -> status of every unit test of the last dbt run (target/run_results.json)."""
    run = json.loads((target_path / "run_results.json").read_text())
    return {r["unique_id"].rsplit(".", 1)[-1]: r["status"] for r in run["results"]
            if r["unique_id"].startswith("unit_test.")}


def test_adp_acp_unit_tests_pass(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    outcome = run_adp_acp_unit_tests(REPO, tmp_path)
    assert not outcome.nodes.get("fail") and not outcome.nodes.get("error"), outcome.nodes
    text = (REPO / SPEC).read_text()
    assert all(f"name: {name}" in text for name in UNIT_TESTS)
    statuses = unit_test_statuses(tmp_path / "target")
    assert {name: statuses.get(name) for name in UNIT_TESTS | HCE_UNIT_TESTS} == \
        {name: "pass" for name in UNIT_TESTS | HCE_UNIT_TESTS}


def test_a_wrong_hand_computed_refund_fails(tmp_path, monkeypatch):
    project = tmp_path / "project"
    shutil.copytree(REPO / "dbt", project / "dbt", ignore=shutil.ignore_patterns("target", "logs"))
    shutil.copy2(REPO / "config.yaml", project / "config.yaml")
    shutil.copytree(REPO / "data", project / "data")
    spec = project / SPEC
    text = spec.read_text()
    # H1's share of the dollar leveling (24,500 - 15,675), beside its step-1 excess
    figure = "adp_excess_by_ratio: 4550.00, adp_excess: 8825.00"
    assert text.count(figure) == 1
    spec.write_text(text.replace(figure, "adp_excess_by_ratio: 4550.00, adp_excess: 8826.00"))
    monkeypatch.chdir(project)
    with pytest.raises(QualityGateError, match="adp_fails_refund_by_leveling_three_hces_with_catch_up"):
        run_adp_acp_unit_tests(project, tmp_path)


def test_a_wrong_hce_status_fails(tmp_path, monkeypatch):
    project = tmp_path / "project"
    shutil.copytree(REPO / "dbt", project / "dbt", ignore=shutil.ignore_patterns("target", "logs"))
    shutil.copy2(REPO / "config.yaml", project / "config.yaml")
    shutil.copytree(REPO / "data", project / "data")
    spec = project / "dbt/models/intermediate/compliance/_hce_unit_tests.yml"
    text = spec.read_text()
    # exactly $160,000 is not "more than" the amount: claiming E2 is an HCE must fail
    figure = "{employee_id: E2, hce_threshold: 160000, is_five_percent_owner: false, is_hce: false, hce_reason: null}"
    assert text.count(figure) == 1
    spec.write_text(text.replace(figure, figure.replace("is_hce: false, hce_reason: null",
                                                        "is_hce: true, hce_reason: compensation")))
    monkeypatch.chdir(project)
    with pytest.raises(QualityGateError, match="hce_by_look_back_pay_and_by_ownership"):
        run_adp_acp_unit_tests(project, tmp_path)
