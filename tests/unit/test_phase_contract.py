"""The contract between a phase's rule and its dbt build, checked against dbt's own parse.

- A year's job reuses the manifest the scenario's pre-flight parsed (plansim.dbt_runner): sound
  only while what dbt takes at parse time (each node's dependencies, config and test arguments)
  does not depend on any var. Parse the project under two very different variable scopes and
  compare the two manifests node by node.
- A phase rule's params carry exactly the vars its selector's nodes read (plansim.dbt_code, found
  without dbt at Snakemake's parse time), and its code hash covers every file those nodes come
  from: so a config edit re-runs a phase if and only if it changes a value that phase's SQL reads.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest

from conftest import REPO
from plansim import dbt_code
from plansim.config import FILE_VARS, dbt_vars, load_scenarios, phase_vars
from plansim.dbt_runner import SAVED_MANIFEST, invoke, load_manifest
from plansim.phases import PHASE_SELECTION, SELECTORS, job_vars, year_vars


def parse(tmp_path, name, dbt_vars):
    target = tmp_path / name
    outcome = invoke(["parse"], database=tmp_path / "simulation.duckdb", target_path=target,
                     log_path=tmp_path / "logs", dbt_vars=dbt_vars, threads=1, what=f"dbt parse ({name})",
                     log=lambda m: None)
    assert outcome.manifest == "parsed"
    return load_manifest(target / SAVED_MANIFEST)


def parse_time_facts(manifest) -> dict:
    """What a run takes from the manifest. Not the macros a node calls (``depends_on.macros``, which
    follow the branch the parse rendered): a run resolves every macro by name from the project."""
    out = {}
    for uid, node in manifest.nodes.items():
        facts = {"depends_on": sorted(getattr(node.depends_on, "nodes", [])),
                 "config": node.config.to_dict(),
                 "database": node.database, "schema": node.schema}
        if getattr(node, "test_metadata", None) is not None:
            facts["test"] = (node.test_metadata.name, node.test_metadata.kwargs)
        out[uid] = facts
    return out


@pytest.fixture(scope="module")
def two_parses(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("parses")
    results = tmp_path / "results"
    scenarios = load_scenarios(REPO / "config.yaml")
    first = year_vars(scenarios["baseline"], 2025, str(results))  # start year: the prior-year branches
    later = year_vars(scenarios["no_auto_features"], 2028, str(results))
    # what a var could switch at parse time if the project let it: the top-heavy minimum's ref,
    # a test bound, a design with bands
    later.update(compliance_top_heavy_minimum="apply", max_deferral_rate=0.5,
                 match_tier_bands={"basis": "service_years", "bands": [
                     {"from": 0, "to": 5, "tiers": [{"from": 0.0, "to": 0.03, "rate": 1.0}]},
                     {"from": 5, "to": None, "tiers": [{"from": 0.0, "to": 0.06, "rate": 1.0}]}]})
    assert first["simulation_year"] != later["simulation_year"]
    return parse(tmp_path, "first", first), parse(tmp_path, "later", later)


def test_what_dbt_takes_at_parse_time_does_not_depend_on_a_var(two_parses):
    first, later = (parse_time_facts(m) for m in two_parses)
    assert first.keys() == later.keys(), "the set of nodes depends on a var"
    differing = [uid for uid in first if first[uid] != later[uid]]
    assert not differing, ("these nodes' dependencies, config or test arguments depend on a var, so a "
                           f"reused manifest would run them wrong: {differing[:10]}")



def selected(manifest, selector: str, tmp_path: Path) -> list:
    """The nodes a phase's ``dbt build`` runs, as dbt itself selects them (``dbt ls``, same arguments)."""
    from dbt.cli.main import dbtRunner

    project = str((REPO / "dbt").resolve())
    os.environ["PLANSIM_DUCKDB_PATH"] = str(tmp_path / "simulation.duckdb")
    result = dbtRunner(manifest=manifest).invoke(
        ["ls", "--project-dir", project, "--profiles-dir", project, "--target-path", str(tmp_path / "ls"),
         "--log-path", str(tmp_path / "logs"), "--selector", selector, *PHASE_SELECTION,
         "--output", "json", "--output-keys", "unique_id", "--quiet"])
    assert result.success, result.exception
    return [manifest.nodes[json.loads(line)["unique_id"]] for line in result.result]


@pytest.fixture(scope="module")
def phase_reads(two_parses, tmp_path_factory) -> dict[str, set[str]]:
    """phase -> the vars its nodes read, over both parses (each renders its own branches)."""
    tmp_path = tmp_path_factory.mktemp("ls")
    return {phase: set().union(*(dbt_code.manifest_vars_read(m, selected(m, SELECTORS[phase], tmp_path)) for m in two_parses))
            for phase in SELECTORS}


def test_each_phase_is_handed_exactly_the_vars_its_nodes_read(phase_reads):
    for phase, reads in phase_reads.items():
        found = dbt_code.phase_var_names(phase)
        assert found - reads == set(), f"{phase}: params carry vars its SQL never reads (a needless re-run)"
        assert reads - found == set(), f"{phase}: its SQL reads vars its params lack (an edit would not re-run it)"


def test_every_file_a_phase_builds_from_is_in_its_code_hash(two_parses, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("ls_files")
    manifest = two_parses[0]
    for phase, selector in SELECTORS.items():
        hashed = {str(p.relative_to(REPO / "dbt")) for p in dbt_code.phase_files(phase, REPO / "dbt")}
        used = set()
        for node in selected(manifest, selector, tmp_path):
            used.add(node.original_file_path)
            if getattr(node, "patch_path", None):
                used.add(node.patch_path.split("://", 1)[1])
        assert used - hashed == set(), f"{phase}: editing these would not re-run the {phase} phase"


def perturbed(value):
    """Another value of the same shape (a number moved, a flag flipped, a list grown, text changed)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 0.5 + 0.01
    if isinstance(value, str):
        return value + "_x"
    if isinstance(value, list):
        return [*value, copy.deepcopy(value[-1])] if value else [0.5]
    return 1


def leaves(tree, path=()):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from leaves(value, (*path, key))
    elif isinstance(tree, list) and tree and isinstance(tree[0], dict):
        for i, value in enumerate(tree):
            yield from leaves(value, (*path, i))
    else:
        yield path


def with_leaf(tree, path, value):
    out = copy.deepcopy(tree)
    node = out
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return out


def test_a_config_edit_changes_a_phase_params_exactly_when_it_changes_what_its_sql_reads(phase_reads):
    """Every leaf of a resolved scenario, moved one at a time: a phase's params.vars change if and only
    if a var its SQL reads changed (by dbt's parse above); the changed params are those vars."""
    scn = load_scenarios(REPO / "config.yaml")["baseline"]
    years = (scn["start_year"], scn["start_year"] + 2)
    before = {y: dbt_vars(scn, y, "w", "d") for y in years}
    params = {(p, y): phase_vars(scn, y, p) for p in SELECTORS for y in years}
    checked = {p: 0 for p in SELECTORS}
    for path in leaves({k: v for k, v in scn.items() if k != "plan_design_timeline"}):
        edited = with_leaf(scn, path, perturbed(_get(scn, path)))
        if path[0] == "plan_design":  # the timeline holds the design each year uses
            edited["plan_design_timeline"] = [{**st, "plan_design": edited["plan_design"]}
                                              for st in scn["plan_design_timeline"]]
        for year in years:
            try:
                after = dbt_vars(edited, year, "w", "d")
            except (KeyError, TypeError, ValueError):
                continue  # a shape no config validates (a vesting preset renamed): nothing to compare
            changed = {k for k in after if after[k] != before[year][k]}
            for phase in SELECTORS:
                new = phase_vars(edited, year, phase)
                moved = {k for k in new if new[k] != params[phase, year][k]}
                assert moved == changed & phase_reads[phase], (path, year, phase)
                checked[phase] += bool(moved)
    assert min(checked.values()) >= 10, checked  # the edits reached both phases' SQL


def _get(tree, path):
    for part in path:
        tree = tree[part]
    return tree


def test_a_job_hands_dbt_its_params_and_its_inputs_and_nothing_else():
    scn = load_scenarios(REPO / "config.yaml")["baseline"]
    inputs = {"workforce": "results/baseline/2027/workforce_phase.json",
              "prior_deferral_state": "results/baseline/2026/int_year_end_deferral_state.parquet",
              "prior_balances": "results/baseline/2026/int_year_end_balances.parquet",
              "prior_compliance": "results/baseline/2026/fct_compliance_tests.parquet",
              "scenario": ".plansim/baseline/scenario.json"}
    handed = job_vars(json.dumps(phase_vars(scn, 2027, "plan")), inputs)
    full = dbt_vars(scn, 2027, *(str(Path(f).resolve()) for f in ("w", inputs["prior_deferral_state"],
                                                                   inputs["prior_balances"], inputs["prior_compliance"])))
    assert handed == {k: full[k] for k in dbt_code.phase_var_names("plan")}
    assert set(FILE_VARS) - set(handed) == {"starting_workforce_file"}  # the plan phase's SQL reads no census


def test_every_incremental_model_replaces_its_year_slice_by_the_project_strategy(two_parses):
    """dbt/macros/year_slice.sql: a model on another strategy (delete+insert joins on the key: quadratic
    here) or with a key that does not hold the slice would not replace exactly its year on a re-run."""
    incremental = [n for n in two_parses[0].nodes.values()
                   if n.resource_type == "model" and n.config.materialized == "incremental"]
    assert len(incremental) >= 20
    assert [n.name for n in incremental if n.config.incremental_strategy != "year_slice"] == []
    slice_columns = {"scenario_id", "plan_design_id", "simulation_year"}
    assert [n.name for n in incremental if not slice_columns <= set(n.config.unique_key or [])] == []


def test_the_unit_tests_are_keyed_by_the_few_vars_they_take_from_the_run(two_parses):
    """The pre-flight runs the formula unit tests once per (dbt code, the vars they do not set
    themselves): an analyst editing the match formula or the auto-enrollment switch does not wait
    for them again; a change of a var one of them reads unset does re-run them."""
    scn = load_scenarios(REPO / "config.yaml")["baseline"]
    scope = dbt_vars(scn, scn["start_year"], "e", "e")
    seen = [dbt_code.unit_test_scope(m, scope) for m in two_parses]
    assert seen[0].keys() == seen[1].keys(), "the unit tests' scope depends on the parse"
    for edited in ("match_tiers", "auto_enrollment_enabled", "auto_escalation_cap", "termination_rate"):
        assert edited not in seen[0], f"every unit test that reads {edited} sets it itself"
    assert "roth_available" in seen[0]
    assert dbt_code.unit_test_scope(two_parses[0], {**scope, "roth_available": not scope["roth_available"]}) != seen[0]
