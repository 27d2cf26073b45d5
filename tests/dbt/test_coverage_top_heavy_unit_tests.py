"""The dbt unit tests of the coverage and top-heavy tests (dbt/models/intermediate/compliance/
_coverage_top_heavy_unit_tests.yml: the 410(b) ratio percentage test failing at 60% and passing at exactly 70% with
excludable employees dropped, no HCEs; key employees, the top-heavy share with a disregarded leaver, the 416(c)(2)
minimum at 3% and at a key rate below 3%, not top-heavy at exactly 60%; the test row failing, passing, not
determinable and deemed passed; the minimum put into the core balance in apply mode and not in report mode) run and
pass, and a wrong hand-computed figure makes them fail."""

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


def run_unit_tests(project, tmp_path):
    scn = load_scenarios(project / "config.yaml")["baseline"]
    results = tmp_path / "results"
    stage_census(TINY_CENSUS, results / "baseline" / "staged_census.parquet", dt.date(2024, 12, 31))
    # --empty builds the upstream tables (the unit tests' fixtures take their columns), then the unit tests of
    # every selected model (those upstream of them too).
    return invoke(["build", "--select", "+int_coverage_tests", "+int_top_heavy_test", "+int_employee_balances",
                   "--empty", "--exclude-resource-type", "test"],
                  database=tmp_path / "ut.duckdb", target_path=tmp_path / "target", log_path=tmp_path / "logs",
                  dbt_vars=year_vars(scn, 2025, str(results)), threads=1, what="dbt unit tests", log=lambda m: None)


def unit_test_statuses(tmp_path) -> dict[str, str]:
    run = json.loads((tmp_path / "target" / "run_results.json").read_text())
    return {r["unique_id"].rsplit(".", 1)[-1]: r["status"] for r in run["results"]
            if r["unique_id"].startswith("unit_test.")}


def test_coverage_top_heavy_unit_tests_pass(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    outcome = run_unit_tests(REPO, tmp_path)
    assert not outcome.nodes.get("fail") and not outcome.nodes.get("error"), outcome.nodes
    text = (REPO / SPEC).read_text()
    assert all(f"name: {name}" in text for name in UNIT_TESTS)
    statuses = unit_test_statuses(tmp_path)
    assert {name: statuses.get(name) for name in UNIT_TESTS} == {name: "pass" for name in UNIT_TESTS}


def test_a_wrong_hand_computed_minimum_fails(tmp_path, monkeypatch):
    project = tmp_path / "project"
    shutil.copytree(REPO / "dbt", project / "dbt", ignore=shutil.ignore_patterns("target", "logs"))
    shutil.copy2(REPO / "config.yaml", project / "config.yaml")
    shutil.copytree(REPO / "data", project / "data")
    spec = project / SPEC
    text = spec.read_text()
    # N6 is owed 3% x 25,000 = 750 but has only 500 of 415(c) room: 750 would be wrong
    wrong = "required_contribution: 750.00, top_heavy_minimum: 500.00"
    assert text.count(wrong) == 1
    spec.write_text(text.replace(wrong, "required_contribution: 750.00, top_heavy_minimum: 750.00"))
    monkeypatch.chdir(project)
    with pytest.raises(QualityGateError, match="top_heavy_minimum_three_percent_for_non_key_employees"):
        run_unit_tests(project, tmp_path)
