"""Plan designs and scenarios that inherit (`extends`, docs/semantics.md §1).

A variant lists only what it changes: deep merge onto its parent, parent first, at any depth,
lists replaced whole. What the simulation sees (the resolved scenario, its dbt vars and its
config hash) is the same whether a design is written out in full or through `extends`.
The refusals (cycles, unknown parents, invalid variants) are cases of the config catalogue
(tests/data/config/cases.yaml); this file checks what a catalogue substring cannot: that each
mistake is reported once, and that the CLI and Snakemake refuse the file.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from conftest import REPO, base_config, copy_workflow, snakemake, write_config
from plansim import cli
from plansim.config import config_hash, dbt_vars, load_scenarios, resolve_config
from plansim.errors import ConfigError

# `no_auto` as config.yaml spelled it before it used `extends`: every key written out by hand.
NO_AUTO_IN_FULL = {
    "eligibility_waiting_days": 0,
    "eligibility_minimum_age": 21,
    "auto_enrollment": {"enabled": False, "scope": "new_hires_only", "default_rate": 0.06, "opt_out_rate": 0.10,
                        "opt_out_window_days": 90},
    "voluntary_enrollment": {
        "age_bands": [{"min_age": 0, "probability": 0.10}, {"min_age": 30, "probability": 0.15},
                      {"min_age": 45, "probability": 0.20}],
        "rate_choices": [{"rate": 0.03, "weight": 0.25}, {"rate": 0.05, "weight": 0.25},
                         {"rate": 0.06, "weight": 0.30}, {"rate": 0.10, "weight": 0.20}],
    },
    "auto_escalation": {"enabled": False, "increment": 0.01, "cap": 0.10, "effective_month": 1, "effective_day": 1,
                        "delay_years": 1, "scope": "auto_enrolled", "opt_out_rate": 0.10},
    "match_tiers": [{"from": 0.00, "to": 0.03, "rate": 1.0}, {"from": 0.03, "to": 0.05, "rate": 0.5}],
    "core_contribution_rate": 0.0,
    "max_deferral_rate": 0.75,
    "payroll_frequency": "biweekly",
    "match_true_up": False,
    "limit_415c_correction_order": "deferrals_first",
    "vesting": {"match": "graded_6", "core": "graded_6"},
}


def resolve(cfg: dict) -> dict[str, dict]:
    return resolve_config(copy.deepcopy(cfg), base_dir=REPO, source="config.yaml")


def refusal(cfg: dict) -> list[str]:
    """The problem lines of the ConfigError that ``cfg`` raises."""
    with pytest.raises(ConfigError) as info:
        resolve(cfg)
    return [line.removeprefix("  - ") for line in str(info.value).splitlines()[1:]]


def with_designs(**designs) -> dict:
    """The repository config with extra plan designs, and one scenario per design."""
    cfg = base_config()
    cfg["plan_designs"] = {**cfg["plan_designs"], **designs}
    cfg["scenarios"] = {design_id: {"plan_design_id": design_id} for design_id in cfg["plan_designs"]}
    return cfg


def design_of(resolved: dict[str, dict], scenario: str) -> dict:
    return resolved[scenario]["plan_design"]


def no_extends_anywhere(node) -> bool:
    if isinstance(node, dict):
        return "extends" not in node and all(no_extends_anywhere(v) for v in node.values())
    if isinstance(node, list):
        return all(no_extends_anywhere(v) for v in node)
    return True


# --------------------------------------------------------------------------- the default config


def test_config_yaml_resolves_exactly_as_with_no_auto_written_out_in_full() -> None:
    raw = yaml.safe_load((REPO / "config.yaml").read_text())
    variant = raw["plan_designs"]["no_auto"]
    assert variant["extends"] == "standard" and len(variant) < len(NO_AUTO_IN_FULL), \
        "config.yaml's no_auto should list only what it changes"
    before = copy.deepcopy(raw)
    before["plan_designs"]["no_auto"] = NO_AUTO_IN_FULL
    now, then = resolve(raw), resolve(before)
    assert now == then
    assert {sid: config_hash(s) for sid, s in now.items()} == {sid: config_hash(s) for sid, s in then.items()}
    assert no_extends_anywhere(now)
    assert now["no_auto_features"]["plan_design"]["auto_enrollment"]["enabled"] is False
    assert now["baseline"]["plan_design"]["auto_enrollment"]["enabled"] is True


def test_the_same_design_in_full_and_through_extends_is_the_same_scenario_and_hash() -> None:
    written_out = copy.deepcopy(NO_AUTO_IN_FULL) | {"core_contribution_rate": 0.03}
    through_extends = {"extends": "no_auto", "core_contribution_rate": 0.03}
    full, inherited = resolve(with_designs(core=written_out)), resolve(with_designs(core=through_extends))
    assert full["core"] == inherited["core"]
    assert config_hash(full["core"]) == config_hash(inherited["core"])
    assert dbt_vars(full["core"], 2026, "w", "d") == dbt_vars(inherited["core"], 2026, "w", "d")
    assert "extends" not in inherited["core"]["plan_design"]


# --------------------------------------------------------------------------- merge rules


def test_a_variant_of_two_keys_is_valid_and_gets_the_rest_from_its_parent() -> None:
    resolved = resolve(with_designs(low_cap={"extends": "standard", "auto_escalation": {"cap": 0.08},
                                             "eligibility_waiting_days": 90}))
    standard, low_cap = design_of(resolved, "standard"), design_of(resolved, "low_cap")
    assert low_cap["auto_escalation"] == {**standard["auto_escalation"], "cap": 0.08}
    assert low_cap["eligibility_waiting_days"] == 90
    assert {k: v for k, v in low_cap.items() if k not in ("auto_escalation", "eligibility_waiting_days")} == \
        {k: v for k, v in standard.items() if k not in ("auto_escalation", "eligibility_waiting_days")}


def test_a_list_in_a_variant_replaces_the_parents_list_whole() -> None:
    one_tier = [{"from": 0.0, "to": 0.06, "rate": 0.5}]
    one_band = [{"min_age": 0, "probability": 0.3}]
    resolved = resolve(with_designs(flat={"extends": "standard", "match_tiers": one_tier,
                                          "voluntary_enrollment": {"age_bands": one_band}}))
    flat = design_of(resolved, "flat")
    assert flat["match_tiers"] == one_tier
    assert flat["voluntary_enrollment"]["age_bands"] == one_band
    assert flat["voluntary_enrollment"]["rate_choices"] == design_of(resolved, "standard")["voluntary_enrollment"][
        "rate_choices"], "the mapping around the list still merges key by key"


def test_a_chain_of_three_levels_merges_parent_first_and_the_nearest_level_wins() -> None:
    resolved = resolve(with_designs(
        grandchild={"extends": "child", "auto_escalation": {"cap": 0.12}},
        child={"extends": "no_auto", "auto_escalation": {"cap": 0.09, "increment": 0.02}, "core_contribution_rate": 0.03},
    ))
    grandchild = design_of(resolved, "grandchild")
    assert grandchild["auto_escalation"]["cap"] == 0.12                 # its own
    assert grandchild["auto_escalation"]["increment"] == 0.02           # from child
    assert grandchild["core_contribution_rate"] == 0.03                 # from child
    assert grandchild["auto_enrollment"]["enabled"] is False            # from no_auto
    assert grandchild["match_tiers"] == design_of(resolved, "standard")["match_tiers"]   # from standard
    assert design_of(resolved, "child")["auto_escalation"]["cap"] == 0.09, "a parent is not changed by its child"


def test_a_parents_edit_reaches_every_variant() -> None:
    """The point of inheritance: one home for the shared keys."""
    cfg = with_designs()
    cfg["plan_designs"]["standard"]["match_tiers"] = [{"from": 0.0, "to": 0.04, "rate": 1.0}]
    assert design_of(resolve(cfg), "no_auto")["match_tiers"] == [{"from": 0.0, "to": 0.04, "rate": 1.0}]


def test_a_scenario_with_extends_inherits_the_other_scenarios_overrides() -> None:
    cfg = base_config(scenarios={
        "growth": {"plan_design_id": "no_auto", "workforce": {"target_growth_rate": 0.08, "cola_rate": 0.02},
                   "plan_design": {"core_contribution_rate": 0.03, "match_tiers": [{"from": 0, "to": 0.04, "rate": 1.0}]}},
        "growth_late": {"extends": "growth", "end_year": 2027, "workforce": {"cola_rate": 0.0},
                        "plan_design": {"match_tiers": [{"from": 0, "to": 0.02, "rate": 1.0}]}},
        "growth_later": {"extends": "growth_late", "random_seed": 7},
    })
    resolved = resolve(cfg)
    late, later = resolved["growth_late"], resolved["growth_later"]
    assert late["plan_design_id"] == "no_auto" and late["end_year"] == 2027
    assert late["workforce"]["target_growth_rate"] == 0.08 and late["workforce"]["cola_rate"] == 0.0
    assert late["plan_design"]["core_contribution_rate"] == 0.03
    assert late["plan_design"]["match_tiers"] == [{"from": 0, "to": 0.02, "rate": 1.0}]
    assert {k: v for k, v in later.items() if k not in ("scenario_id", "random_seed")} == \
        {k: v for k, v in late.items() if k not in ("scenario_id", "random_seed")}
    assert later["random_seed"] == 7 and later["scenario_id"] == "growth_later"
    assert no_extends_anywhere(resolved)


def test_a_sweep_can_start_from_a_scenario() -> None:
    cfg = base_config(scenarios={"lean": {"plan_design_id": "no_auto", "workforce": {"target_growth_rate": 0.0}}},
                      sweeps={"cap": {"base": {"extends": "lean"}, "grid": {"random_seed": [1, 2]}}})
    resolved = resolve(cfg)
    assert [resolved[s]["random_seed"] for s in ("cap_001", "cap_002")] == [1, 2]
    for sid in ("cap_001", "cap_002"):
        assert resolved[sid]["plan_design_id"] == "no_auto"
        assert resolved[sid]["workforce"]["target_growth_rate"] == 0.0


# --------------------------------------------------------------------------- one message per mistake


def test_a_cycle_is_one_message_and_designs_that_lead_into_it_get_none() -> None:
    problems = refusal(with_designs(
        into={"extends": "b"}, b={"extends": "c"}, c={"extends": "b", "core_contribution_rate": 0.02}))
    assert problems == ["plan_designs.b extends c extends b: a cycle"]


def test_an_unknown_parent_is_reported_where_it_is_named_only() -> None:
    problems = refusal(with_designs(top={"extends": "middle"}, middle={"extends": "gone"}))
    assert problems == ["plan_designs.middle extends gone: 'gone' is not a key of plan_designs "
                        "(middle, no_auto, standard, top)"]


def test_a_scenario_that_extends_an_invalid_scenario_repeats_none_of_its_errors() -> None:
    problems = refusal(base_config(scenarios={"bad": {"workforce": {"termination_rate": 3}},
                                              "child": {"extends": "bad", "random_seed": 1}}))
    assert problems == ["scenarios.bad.workforce.termination_rate: 3 is greater than the maximum of 1 "
                        "(rates are fractions: 0.06 means 6%)"]


def test_the_cli_refuses_the_config_naming_the_file_and_the_chain(tmp_path, monkeypatch, capsys) -> None:
    path = write_config(tmp_path, with_designs(a={"extends": "b"}, b={"extends": "a"}))
    monkeypatch.chdir(REPO)
    monkeypatch.setattr(cli, "snakemake_executable", lambda: pytest.fail("snakemake ran on a refused config"))
    assert cli.main(["run", "--scenario", "standard", "--dry-run", "--configfile", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path} is invalid" in err and "plan_designs.a extends b extends a: a cycle" in err


@pytest.mark.slow
def test_snakemake_refuses_a_cycle_before_building_the_dag(tmp_path: Path) -> None:
    wd = copy_workflow(tmp_path / "wf")
    write_config(wd, with_designs(a={"extends": "b"}, b={"extends": "a"}))
    proc = snakemake(wd, "-n", "results/standard/2025/done", check=False, timeout=300)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Building DAG of jobs" not in output
    assert "config.yaml is invalid" in output and "plan_designs.a extends b extends a: a cycle" in output
    assert not (wd / "results").exists()
