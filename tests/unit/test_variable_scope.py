"""Complete variable scope: every var() in dbt has a config source, and every config key
reaches a consumer (a dbt var used in SQL, or the orchestration code)."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from conftest import REPO
from plansim.config import (ORCHESTRATION_KEYS, ORCHESTRATION_PLAN_KEYS, TABLE_KEYS, census_params, dbt_vars,
                            design_change_date, forfeiture_params, load_scenarios, load_schema, phase_vars)

VAR = re.compile(r"""var\(\s*['"]([a-z0-9_]+)['"]""")
IDENTITY = {"scenario_id", "plan_design_id", "simulation_year", "start_year", "random_seed",
            "starting_workforce_file", "prior_deferral_state_file"}


def vars_used_in_dbt() -> set[str]:
    used = set()
    for path in (REPO / "dbt").rglob("*"):
        if path.suffix in (".sql", ".yml") and "target" not in path.parts:
            used |= set(VAR.findall(path.read_text()))
    return used


def scenario():
    return load_scenarios(REPO / "config.yaml")["baseline"]


def test_every_dbt_var_has_a_config_source():
    passed = dbt_vars(scenario(), 2026, "wf.parquet", "ds.parquet")
    missing = vars_used_in_dbt() - set(passed)
    assert not missing, f"var() used in dbt with no config source: {sorted(missing)}"


def test_every_var_passed_to_dbt_is_used_by_the_sql():
    passed = dbt_vars(scenario(), 2026, "wf.parquet", "ds.parquet")
    unused = set(passed) - vars_used_in_dbt()
    assert not unused, f"config passed to dbt but read by no model: {sorted(unused)}"


def test_every_config_key_reaches_a_consumer():
    scn = scenario()
    config_keys = ({k for k in scn if k not in {"workforce", "plan_design", "balances"}} | set(scn["workforce"])
                   | {f"balances_{sub}" for sub in scn["balances"]})
    for key, value in scn["plan_design"].items():
        flat = isinstance(value, dict) and key not in ("core_contribution_bands", "match_tier_bands")
        config_keys |= {f"{key}_{sub}" for sub in value} if flat else {key}
    passed = set(dbt_vars(scn, 2026, "wf.parquet", "ds.parquet"))
    for key in sorted(config_keys - passed):
        assert key in ORCHESTRATION_KEYS | ORCHESTRATION_PLAN_KEYS, \
            f"config key {key!r} reaches neither dbt nor the orchestration"
    assert IDENTITY <= passed


def rule_facts(scn: dict, year: int) -> dict:
    """What the rules take from a scenario's year besides the phases' vars (rules/common.smk calls
    these same functions): a rule's input, params or threads."""
    return {"census": scn["census"], "census_params": census_params(scn), "span": [scn["start_year"], scn["end_year"]],
            "threads": scn["dbt_threads"], "forfeitures": forfeiture_params(scn, year),
            "design_change_date": design_change_date(scn, year),
            "plan_vars": phase_vars(scn, year, "plan"), "workforce_vars": phase_vars(scn, year, "workforce")}


def edited(scn: dict, key: str) -> dict:
    """``scn`` with orchestration key ``key`` (as flattened for dbt) set to another valid value."""
    out = copy.deepcopy(scn)
    design_keys = {"forfeitures_use": ("forfeitures", "use", "pay_plan_expenses"),
                   "forfeitures_plan_expense_per_participant": ("forfeitures", "plan_expense_per_participant", 55.0),
                   "compliance_safe_harbor": ("compliance", "safe_harbor", "nonelective"),
                   "enrollment_sweeps": (None, "enrollment_sweeps", [{"date": f"{scn['start_year']}-03-01", "rate": 0.05,
                                                                      "opt_out_rate": 0.2, "opt_out_window_days": 90}])}
    if key in design_keys:
        group, leaf, value = design_keys[key]
        for step in out["plan_design_timeline"]:
            (step["plan_design"][group] if group else step["plan_design"])[leaf] = value
        return out
    if key == "plan_design_timeline":
        later = copy.deepcopy(out["plan_design_timeline"][0])
        later["from"] = f"{scn['start_year']}-07-01"
        later["plan_design"]["core_contribution_rate"] = 0.03
        out["plan_design_timeline"].append(later)
        return out
    new = {"end_year": scn["end_year"] + 1, "census": "elsewhere.csv", "census_sheet": "Census",
           "census_date": "2024-06-30", "deferral_rate_units": "percent", "dbt_threads": scn["dbt_threads"] + 1}[key]
    assert new != scn[key]
    out[key] = new
    return out


@pytest.mark.parametrize("key", sorted(ORCHESTRATION_KEYS | ORCHESTRATION_PLAN_KEYS))
def test_each_orchestration_key_reaches_a_rule(key):
    """A key the SQL does not read is still taken by some rule: changing it changes a rule's input,
    params or threads (not only the sentinel's config hash)."""
    scn = scenario()
    year = scn["start_year"]
    before, after = rule_facts(scn, year), rule_facts(edited(scn, key), year)
    assert [fact for fact in before if before[fact] != after[fact]], f"{key}: no rule sees a change"


def test_config_yaml_and_schema_describe_the_same_keys():
    schema = load_schema()
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    top = set(schema["properties"])
    assert set(cfg) <= top
    assert top - set(cfg) <= {"sweeps"} | TABLE_KEYS
    for name, prop in schema["properties"].items():
        assert "description" in prop and "default" in prop, f"schema key {name} lacks description or default"
        for sub, sub_prop in prop.get("properties", {}).items():
            assert "description" in sub_prop and "default" in sub_prop, f"{name}.{sub} lacks description/default"
    for name, prop in schema["$defs"]["plan_design"]["properties"].items():
        assert "description" in prop and "default" in prop, f"plan_design.{name} lacks description or default"
    # every key of config.yaml is commented where it first appears (the file is the user's reference)
    commented, seen = set(), {}
    for number, line in enumerate((REPO / "config.yaml").read_text().splitlines(), start=1):
        found = re.match(r"^\s*([a-z_]+):", line)
        if found:
            seen.setdefault(found.group(1), number)
            if "#" in line:
                commented.add(found.group(1))
    uncommented = {k: n for k, n in seen.items() if k not in commented and k not in cfg["scenarios"]
                   and k not in cfg["plan_designs"]}
    assert not uncommented, f"config.yaml keys without a comment (first line): {uncommented}"
