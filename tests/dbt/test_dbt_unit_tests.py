"""The dbt unit tests (hand-computed rows for match tiers, 402(g), catch-up at 50, super
catch-up at 60-63, 401(a)(17), 415(c), a mid-year hire's proration, an escalation that
would pass the cap) run and pass, and a wrong expectation makes them fail."""

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

UNIT_TESTS = {"contributions_match_limits_and_proration", "contributions_415c_cap_reduces_core_first",
              "escalation_stops_at_the_cap"}


def run_unit_tests(project, tmp_path):
    scn = load_scenarios(project / "config.yaml")["baseline"]
    results = tmp_path / "results"
    stage_census(TINY_CENSUS, results / "baseline" / "staged_census.parquet", dt.date(2024, 12, 31))
    return invoke(["build", "--select", "+int_employee_contributions", "+int_deferral_rate_escalation_events",
                   "--empty", "--exclude-resource-type", "test"],
                  database=tmp_path / "ut.duckdb", target_path=tmp_path / "target", log_path=tmp_path / "logs",
                  dbt_vars=year_vars(scn, 2025, str(results)), threads=1, what="dbt unit tests", log=lambda m: None)


def test_unit_tests_pass(tmp_path, monkeypatch):
    monkeypatch.chdir(REPO)
    outcome = run_unit_tests(REPO, tmp_path)
    assert outcome.nodes.get("pass") == len(UNIT_TESTS), outcome.nodes


def test_a_wrong_hand_computed_figure_fails(tmp_path, monkeypatch):
    project = tmp_path / "project"
    shutil.copytree(REPO / "dbt", project / "dbt", ignore=shutil.ignore_patterns("target", "logs"))
    shutil.copy2(REPO / "config.yaml", project / "config.yaml")
    shutil.copytree(REPO / "data", project / "data")
    spec = project / "dbt/models/intermediate/plan/_plan_unit_tests.yml"
    text = spec.read_text()
    assert "employer_match: 14400.00" in text
    spec.write_text(text.replace("employer_match: 14400.00", "employer_match: 14500.00"))
    monkeypatch.chdir(project)
    with pytest.raises(QualityGateError, match="contributions_match_limits_and_proration"):
        run_unit_tests(project, tmp_path)
