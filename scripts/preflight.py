"""Snakemake script: the scenario's pre-flight, before any year runs.

One `dbt build --empty` (data tests excluded) in an in-memory database: it compiles every
model and executes its SQL on zero-row inputs, so a Jinja, SQL or binder error fails here in
seconds and nothing is written to the scenario's database or its year folders. The start
year's branches are the ones exercised.
"""
from plansim.dbt_runner import invoke, scenario_paths
from plansim.jobs import run_job, scenario_of
from plansim.phases import write_json, year_vars


def main(smk, log):
    scn = scenario_of(smk)
    paths = scenario_paths("results", scn["scenario_id"])
    what = f"scenario {scn['scenario_id']}, pre-flight"
    common = dict(database=":memory:", target_path=paths["target"].with_name("preflight-target"),
                  log_path=paths["logs"], dbt_vars=year_vars(scn, scn["start_year"]), threads=1, what=what, log=log)
    executed = invoke(["build", "--empty", "--selector", "year_simulation", "--exclude-resource-type", "test"],
                      **common)
    write_json(smk.output.report, {"scenario_id": scn["scenario_id"], "empty_build": executed.as_dict()})
    log(f"{what}: ok")


run_job(snakemake, main)  # noqa: F821 - injected by Snakemake
