"""A year's job reuses the manifest the scenario's pre-flight parsed (plansim.dbt_runner): sound
only while what dbt takes at parse time (each node's dependencies, config and test arguments)
does not depend on any var. Parse the project under two very different variable scopes and
compare the two manifests node by node."""

from __future__ import annotations

import pytest

from conftest import REPO
from plansim.config import load_scenarios
from plansim.dbt_runner import SAVED_MANIFEST, invoke, load_manifest
from plansim.phases import year_vars


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

