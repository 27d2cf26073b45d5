"""A design flagged safe harbor is checked against its type before anything runs: the formula
(IRC 401(k)(12)(B), (C); 401(k)(13)(D)), the vesting (fully vested; QACA after at most 2 years),
no allocation conditions, and a QACA's automatic enrollment (401(k)(13)(C)). What qualifies
reaches the SQL as the reason each test is deemed passed; what does not is refused, naming the
key and the rule."""

from __future__ import annotations

import copy

import pytest

from conftest import REPO, tiny_config
from plansim.config import dbt_vars, resolve_config
from plansim.errors import ConfigError

BASIC = [{"from": 0.0, "to": 0.03, "rate": 1.0}, {"from": 0.03, "to": 0.05, "rate": 0.5}]
IMMEDIATE = {"match": "immediate", "core": "immediate"}


def resolve(design: dict) -> dict:
    cfg = tiny_config(scenarios={"tiny": {"plan_design": design}})
    return resolve_config(copy.deepcopy(cfg), base_dir=REPO)["tiny"]


def problems(design: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        resolve(design)
    return [line.removeprefix("  - ") for line in str(info.value).splitlines()[1:]]


def reasons(design: dict) -> dict:
    got = dbt_vars(resolve(design), 2026, "w", "d")
    return {test: got[f"compliance_{test}_deemed_reason"] for test in ("adp", "acp", "top_heavy")}


def test_the_default_design_is_tested_not_deemed():
    assert reasons({}) == {"adp": None, "acp": None, "top_heavy": None}


def test_a_basic_match_safe_harbor_is_deemed_to_pass_adp_acp_and_top_heavy():
    got = reasons({"match_tiers": BASIC, "vesting": IMMEDIATE, "compliance": {"safe_harbor": "basic_match"}})
    assert "401(k)(12)(B)(i)" in got["adp"]
    assert "401(m)(11)(B)" in got["acp"]
    assert "416(g)(4)(H)" in got["top_heavy"]


def test_a_richer_match_is_enhanced_and_a_match_above_six_percent_is_still_acp_tested():
    # 100% of the first 4%: at least the basic match at every rate (at 5%: 4% >= 3% + 1%)
    four = [{"from": 0.0, "to": 0.04, "rate": 1.0}]
    got = reasons({"match_tiers": four, "vesting": IMMEDIATE, "compliance": {"safe_harbor": "enhanced_match"}})
    assert got["adp"] and got["acp"]
    # 100% of the first 8%: ADP safe harbor, but matching deferrals above 6% of pay fails 401(m)(11)(B)
    eight = [{"from": 0.0, "to": 0.08, "rate": 1.0}]
    got = reasons({"match_tiers": eight, "max_deferral_rate": 0.75, "vesting": IMMEDIATE,
                   "compliance": {"safe_harbor": "enhanced_match"}})
    assert got["adp"] and got["acp"] is None and got["top_heavy"] is None


def test_a_nonelective_safe_harbor_with_a_qualifying_match_is_deemed_for_both():
    got = reasons({"core_contribution_rate": 0.03, "vesting": IMMEDIATE, "compliance": {"safe_harbor": "nonelective"}})
    assert "401(k)(12)(C)" in got["adp"] and got["acp"] and got["top_heavy"]


@pytest.mark.parametrize("design, message", [
    # the default design's graded_6 match vesting
    ({"match_tiers": BASIC, "compliance": {"safe_harbor": "basic_match"}},
     "vesting.match graded_6 does not give immediate vesting (IRC 401(k)(12)(E)(i))"),
    ({"match_tiers": [{"from": 0.0, "to": 0.04, "rate": 1.0}], "vesting": IMMEDIATE,
      "compliance": {"safe_harbor": "basic_match"}}, "a richer formula is enhanced_match"),
    # 50% of the first 6% gives 1.5% of pay at a 3% deferral, where the basic match gives 3%
    ({"match_tiers": [{"from": 0.0, "to": 0.06, "rate": 0.5}], "vesting": IMMEDIATE,
      "compliance": {"safe_harbor": "enhanced_match"}}, "give less than the basic safe harbor match at a deferral of 3.00% of pay (1.5000% < 3.0000%)"),
    # a rate that rises: 100% of the first 3%, 150% of the next 2% (richer, but rising)
    ({"match_tiers": [{"from": 0.0, "to": 0.03, "rate": 1.0}, {"from": 0.03, "to": 0.05, "rate": 1.5}],
      "vesting": IMMEDIATE, "compliance": {"safe_harbor": "enhanced_match"}}, "the match rate rises with the deferral rate"),
    ({"match_tiers": BASIC, "vesting": IMMEDIATE, "compliance": {"safe_harbor": "basic_match"},
      "allocation_conditions": {"match": {"last_day_employed": True}}}, "allocation_conditions.match sets a condition"),
    ({"core_contribution_rate": 0.02, "vesting": IMMEDIATE, "compliance": {"safe_harbor": "nonelective"}},
     "the core contribution is 2.00% of pay for some employees, below the 3%"),
    # a QACA must auto-enroll everyone eligible, not only new hires (the default design's scope)
    ({"match_tiers": [{"from": 0.0, "to": 0.01, "rate": 1.0}, {"from": 0.01, "to": 0.06, "rate": 0.5}],
      "vesting": {"match": "qaca_2", "core": "qaca_2"}, "compliance": {"safe_harbor": "qaca_match"}},
     "auto_enrollment must be enabled with scope all_eligible"),
    ({"match_tiers": BASIC, "vesting": {"match": "cliff_3", "core": "cliff_3"},
      "auto_enrollment": {"scope": "all_eligible", "default_rate": 0.03},
      "compliance": {"safe_harbor": "qaca_match"}},
     "vesting.match cliff_3 does not give 100% after at most 2 years of service"),
    ({"match_tiers": BASIC, "vesting": {"match": "qaca_2", "core": "qaca_2"},
      "auto_enrollment": {"scope": "all_eligible", "default_rate": 0.03}, "auto_escalation": {"enabled": False},
      "compliance": {"safe_harbor": "qaca_match"}}, "a default below 6% must escalate by at least 1 point a year"),
])
def test_a_design_that_does_not_meet_its_safe_harbor_is_refused(design, message):
    found = problems(design)
    assert any(message in line and "plan_design.compliance.safe_harbor" in line for line in found), found


def test_a_qaca_with_escalation_from_three_percent_qualifies():
    qaca = [{"from": 0.0, "to": 0.01, "rate": 1.0}, {"from": 0.01, "to": 0.06, "rate": 0.5}]
    got = reasons({"match_tiers": qaca, "vesting": {"match": "qaca_2", "core": "qaca_2"},
                   "auto_enrollment": {"scope": "all_eligible", "default_rate": 0.03},
                   "auto_escalation": {"enabled": True, "increment": 0.01, "cap": 0.10, "delay_years": 1},
                   "compliance": {"safe_harbor": "qaca_match"}})
    assert "401(k)(13)" in got["adp"] and got["acp"]
