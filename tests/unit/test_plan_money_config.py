"""The plan-money keys of a plan design are refused, key by key, where a plan document could
not say them: service bands with a gap or an overlap, a vesting schedule slower than the law
allows (IRC 411(a)(2)(B): 3-year cliff or 6-year graded), an opening split that is not whole.
What a plan document may say is accepted and resolved (presets to vested shares)."""

from __future__ import annotations

import copy

import pytest

from conftest import REPO, tiny_config
from plansim.config import VESTING_PRESETS, dbt_vars, resolve_config
from plansim.errors import ConfigError

CORE_BANDS = {"basis": "service", "bands": [{"from": 0, "to": 5, "rate": 0.02}, {"from": 5, "to": 10, "rate": 0.04},
                                            {"from": 10, "to": None, "rate": 0.06}]}


def resolve(design: dict | None = None, **top) -> dict:
    cfg = tiny_config(scenarios={"tiny": {"plan_design": design or {}, **top}})
    return resolve_config(copy.deepcopy(cfg), base_dir=REPO)["tiny"]


def problems(design: dict | None = None, **top) -> list[str]:
    with pytest.raises(ConfigError) as info:
        resolve(design, **top)
    return [line.removeprefix("  - ") for line in str(info.value).splitlines()[1:]]


def with_bands(*edits) -> dict:
    bands = copy.deepcopy(CORE_BANDS)
    for index, key, value in edits:
        bands["bands"][index][key] = value
    return {"core_contribution_bands": bands}


def test_graded_bands_and_presets_are_accepted_and_reach_sql_as_data():
    scn = resolve({**with_bands(), "vesting": {"match": "cliff_3", "core": [0, 0.5, 1]}})
    got = dbt_vars(scn, 2026, "w", "d", "b")
    assert got["core_contribution_bands"] == CORE_BANDS
    assert got["vesting_match"] == [0.0, 0.0, 0.0, 1.0] == VESTING_PRESETS["cliff_3"]
    assert got["vesting_core"] == [0.0, 0.5, 1.0]
    assert "forfeitures_use" not in got, "the summary reads the forfeiture use, not the SQL"


@pytest.mark.parametrize("edits, message", [
    ([(1, "from", 6)], "core_contribution_bands.bands[1].from: 6 leaves a gap after the previous band (ends at 5)"),
    ([(1, "from", 4)], "core_contribution_bands.bands[1].from: 4 leaves an overlap after the previous band (ends at 5)"),
    ([(0, "from", 1)], "core_contribution_bands.bands[0].from: the first band starts at 1, not 0"),
    ([(2, "to", 40)], "core_contribution_bands.bands[2].to: the last band ends at 40"),
    ([(1, "to", None)], "core_contribution_bands.bands[1].to: null (no end) on a band that is not the last"),
])
def test_service_bands_with_a_gap_or_an_overlap_are_refused(edits, message):
    assert any(message in line for line in problems(with_bands(*edits))), problems(with_bands(*edits))


def test_match_tier_bands_check_their_bands_and_their_tiers():
    design = {"match_tier_bands": {"basis": "points", "bands": [
        {"from": 0, "to": 50, "tiers": [{"from": 0.0, "to": 0.03, "rate": 1.0}]},
        {"from": 55, "to": None, "tiers": [{"from": 0.0, "to": 0.04, "rate": 1.0},
                                            {"from": 0.03, "to": 0.06, "rate": 0.5}]}]}}
    found = problems(design)
    assert any("match_tier_bands.bands[1].from: 55 leaves a gap" in line for line in found), found
    assert any("match_tier_bands.bands[1].tiers[1]: starts at 0.03, inside the previous tier" in line
               for line in found), found


@pytest.mark.parametrize("schedule, reason", [
    ([0, 0, 0, 0.5, 1], "vests slower than both statutory minimums"),   # 0 at 2 years (< 20%) and 50% at 3 (< 100%)
    ([0, 0.5, 0.4, 1], "decreases"),
    ([0, 0, 1, 0.9], "ends at 0.9, not 1"),
])
def test_a_vesting_schedule_the_law_does_not_allow_is_refused(schedule, reason):
    found = problems({"vesting": {"match": schedule}})
    assert any(line.startswith("scenarios.tiny.plan_design.vesting.match:") and reason in line for line in found), found


@pytest.mark.parametrize("schedule", [
    [0, 0, 1],                          # 2-year cliff: faster than 3-year cliff
    [0, 0, 0.2, 0.4, 0.6, 0.8, 1],      # the 6-year graded minimum itself
    [0, 0.2, 0.4, 0.6, 0.8, 1],         # 5-year graded: at least graded-6 every year
])
def test_schedules_at_least_as_fast_as_a_minimum_are_accepted(schedule):
    assert resolve({"vesting": {"core": schedule}})["plan_design"]["vesting"]["core"] == schedule


def test_the_opening_split_must_be_whole():
    found = problems(balances={"opening_split": {"pretax": 0.7, "roth": 0.1, "match": 0.2, "core": 0.1}})
    assert any("balances.opening_split: shares sum to 1.1, not 1" in line for line in found), found


def test_roth_election_bands_start_at_0():
    found = problems({"roth": {"new_election_share": [{"min_age": 20, "share": 0.3}]}})
    assert any("roth.new_election_share: bands must start at min_age 0" in line for line in found), found
