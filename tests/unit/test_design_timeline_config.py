"""plan_design_id as a design timeline (docs/semantics.md 4.20): validation, and what each plan
year's SQL and re-run trigger see of it (plansim.config.year_scenario / phase_vars / dbt_vars)."""

from __future__ import annotations

import copy

import pytest
import yaml

from conftest import REPO
from plansim.config import dbt_vars, design_change_date, phase_vars, resolve_config
from plansim.errors import ConfigError

BASE = yaml.safe_load((REPO / "config.yaml").read_text())
RICH_MATCH = [{"from": 0.0, "to": 0.06, "rate": 1.0}]


def resolve(timeline, **extra) -> dict:
    raw = copy.deepcopy(BASE)
    raw["scenarios"] = {"s": {"plan_design_id": timeline, **extra}, "plain": {"plan_design_id": "no_auto"}}
    return resolve_config(raw, base_dir=REPO)


def plan_params(scn: dict, year: int) -> dict:
    """The plan phase rule's params.vars, less the scenario's own name."""
    return {k: v for k, v in phase_vars(scn, year, "plan").items() if k != "scenario_id"}


def workforce_params(scn: dict, year: int) -> dict:
    return {k: v for k, v in phase_vars(scn, year, "workforce").items() if k != "scenario_id"}


def problems(timeline) -> str:
    with pytest.raises(ConfigError) as info:
        resolve(timeline)
    return str(info.value)


def test_a_plain_design_id_gives_every_year_the_design_and_no_timeline_keys():
    scn = resolve("standard")["s"]
    for year in range(2025, 2030):
        passed = dbt_vars(scn, year, "w", "d")
        assert passed["plan_design_id"] == "standard"
        assert [passed[k] for k in ("plan_design_segments", "eligibility_rules", "auto_enrollment_new_hires_from",
                                    "enrollment_sweep")] == [None] * 4
        assert design_change_date(scn, year) is None


def test_years_before_a_change_see_exactly_the_earlier_design_and_later_years_the_new_one():
    scenarios = resolve({2025: "no_auto", 2027: "standard"})
    switch, plain = scenarios["s"], scenarios["plain"]
    for year in (2025, 2026):
        assert plan_params(switch, year) == plan_params(plain, year)
        assert workforce_params(switch, year) == workforce_params(plain, year)
        assert {k: v for k, v in dbt_vars(switch, year, "w", "d").items() if k != "scenario_id"} == \
            {k: v for k, v in dbt_vars(plain, year, "w", "d").items() if k != "scenario_id"}
    assert plan_params(switch, 2027)["plan_design_id"] == "standard"
    assert plan_params(switch, 2027)["auto_enrollment_enabled"] is True
    assert dbt_vars(switch, 2028, "w", "d")["auto_enrollment_new_hires_from"] == "2027-01-01"
    assert [design_change_date(switch, y) for y in range(2025, 2030)] == [None, None, "2027-01-01", None, None]


def test_editing_a_later_design_changes_only_the_params_of_its_years():
    before = resolve({2025: "standard", 2027: {"extends": "standard"}})["s"]
    after = resolve({2025: "standard", 2027: {"extends": "standard", "match_tiers": RICH_MATCH}})["s"]
    changed = [y for y in range(2025, 2030) if plan_params(before, y) != plan_params(after, y)]
    assert changed == [2027, 2028, 2029]
    assert all(workforce_params(before, y) == workforce_params(after, y) for y in range(2025, 2030))


def test_a_mid_year_change_gives_the_year_two_formula_segments():
    scn = resolve({2025: "standard", "2026-07-01": {"extends": "standard", "match_tiers": RICH_MATCH,
                                                    "core_contribution_rate": 0.03}})["s"]
    segments = dbt_vars(scn, 2026, "w", "d")["plan_design_segments"]
    assert [(s["from"], s["core_contribution_rate"]) for s in segments] == [("2026-01-01", 0.0), ("2026-07-01", 0.03)]
    assert segments[1]["match_tiers"] == RICH_MATCH
    assert dbt_vars(scn, 2027, "w", "d")["plan_design_segments"] is None  # one formula all year
    assert dbt_vars(scn, 2027, "w", "d")["match_tiers"] == RICH_MATCH


def test_a_stricter_eligibility_rule_applies_to_those_not_yet_eligible():
    scn = resolve({2025: "standard", 2027: {"extends": "standard", "eligibility_waiting_days": 365}})["s"]
    assert dbt_vars(scn, 2026, "w", "d")["eligibility_rules"] is None
    assert dbt_vars(scn, 2027, "w", "d")["eligibility_rules"] == [
        {"from": None, "waiting_days": 0, "minimum_age": 21},
        {"from": "2027-01-01", "waiting_days": 365, "minimum_age": 21}]


def test_a_sweep_reaches_the_sql_in_its_year_only_at_the_default_rate_unless_given():
    sweep = {"date": "2027-03-01", "opt_out_rate": 0.2}
    scn = resolve({2025: "no_auto", 2027: {"extends": "standard", "enrollment_sweeps": [sweep]}})["s"]
    assert dbt_vars(scn, 2027, "w", "d")["enrollment_sweep"] == {**sweep, "rate": 0.06, "opt_out_window_days": 90}
    assert dbt_vars(scn, 2028, "w", "d")["enrollment_sweep"] is None
    without = resolve({2025: "no_auto", 2027: "standard"})["s"]
    assert plan_params(scn, 2028) == plan_params(without, 2028)  # 2028 does not re-run for it


@pytest.mark.parametrize("timeline, message", [
    ({2026: "standard"}, "scenarios.s.plan_design_id: the first entry must be the start year 2025"),
    ({2025: "standard", 2031: "no_auto"}, "scenarios.s.plan_design_id[2031]: 2031-01-01 is outside the scenario's "
                                          "years 2025-2029"),
    ({2025: "nope"}, "scenarios.s.plan_design_id[2025]: 'nope' is not a key of plan_designs"),
    ({2025: {"match_tiers": RICH_MATCH}}, "scenarios.s.plan_design_id[2025]: an inline design names the design it "
                                          "changes with extends"),
    ("Standard", "scenarios.s.plan_design_id: 'Standard' is neither a design id"),
    ({2025: "standard", "soon": "no_auto"}, "scenarios.s.plan_design_id[soon]: 'soon' is neither a plan year"),
    ({2025: "standard", 2027: "no_auto", "2027-01-01": "standard"}, "starts on 2027-01-01, like plan_design_id[2027]"),
    ({2025: "standard", "2026-03-01": "no_auto"}, "scenarios.s.plan_design_id[2026-03-01]: a change within a plan "
                                                  "year may change only match_tiers"),
    ({2025: {"extends": "standard", "enrollment_sweeps": [{"date": "2026-01-01"}]}, 2026: "no_auto"},
     "enrollment_sweeps[0] on 2026-01-01 is not a day the design is in force here"),
    ({2025: {"extends": "standard", "enrollment_sweeps": [{"date": "2025-02-01"}, {"date": "2025-09-01"}]}},
     "a second sweep in plan year 2025"),
    ({2025: {"extends": "standard", "enrollment_sweeps": [{"date": "2025-02-01", "rate": 0.9}]}},
     "rate 0.9 is above max_deferral_rate 0.75"),
    ({2025: {"extends": "standard", "match_tiers": [{"from": 0.05, "to": 0.03, "rate": 1.0}]}},
     "scenarios.s.plan_design_id[2025].plan_design.match_tiers"),
])
def test_a_bad_timeline_is_one_clear_error_naming_the_entry(timeline, message):
    assert message in problems(timeline)


def test_a_safe_harbor_formula_cannot_change_within_the_year():
    raw = copy.deepcopy(BASE)
    raw["plan_designs"]["sh"] = {"extends": "standard", "vesting": {"match": "immediate"},
                                 "compliance": {"safe_harbor": "basic_match"}}
    raw["scenarios"] = {"s": {"plan_design_id": {2025: "sh", "2026-07-01": {"extends": "sh",
                                                                            "match_tiers": RICH_MATCH}}}}
    with pytest.raises(ConfigError, match=r"plan_design_id\[2026-07-01\]: sh is a safe harbor design"):
        resolve_config(raw, base_dir=REPO)


def test_unquoted_yaml_dates_are_read_as_dates():
    text = yaml.safe_dump({**BASE, "scenarios": {"s": {}}}).replace(
        "plan_design_id: standard", "plan_design_id: {2025: standard, 2026-07-01: {extends: standard, "
                                    "core_contribution_rate: 0.02}}", 1)
    scn = resolve_config(yaml.safe_load(text), base_dir=REPO)["s"]
    assert dbt_vars(scn, 2026, "w", "d")["plan_design_segments"][1]["from"] == "2026-07-01"
