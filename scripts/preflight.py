"""Snakemake script: the scenario's pre-flight, before anything is written under results/.

One `dbt build --empty` (data tests excluded, unit tests included) in an in-memory
database, on a zero-row file with the staged census's columns: it compiles every model,
executes its SQL on empty inputs and runs the formula unit tests, so a Jinja, SQL or binder
error fails here in seconds and nothing is written under results/. The start year's
branches are the ones exercised.
"""
from pathlib import Path

import duckdb

from plansim.census import CANONICAL_COLUMNS
from plansim.config import dbt_vars
from plansim.dbt_runner import invoke, scenario_paths
from plansim.jobs import run_job, scenario_of
from plansim.phases import write_json


def empty_census(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = ", ".join(f"null::{sql_type} as {name}" for name, sql_type in CANONICAL_COLUMNS)
    duckdb.connect().execute(f"copy (select {columns} where false) to '{path}' (format parquet)")
    return path


def main(smk, log):
    scn = scenario_of(smk)
    sid = scn["scenario_id"]
    paths = scenario_paths("results", sid)
    what = f"scenario {sid}, pre-flight"
    empty = str(empty_census(paths["target"].parent / "preflight" / "empty_census.parquet").resolve())
    outcome = invoke(["build", "--empty", "--selector", "year_simulation", "--exclude-resource-type", "test"],
                     database=":memory:", target_path=paths["target"].parent / "preflight" / "target",
                     log_path=paths["logs"], dbt_vars=dbt_vars(scn, scn["start_year"], empty, empty),
                     threads=1, what=what, log=log)
    Path(smk.output.report).parent.mkdir(parents=True, exist_ok=True)
    write_json(smk.output.report, {"scenario_id": sid, "empty_build": outcome.as_dict()})
    log(f"{what}: ok ({outcome.nodes})")


run_job(snakemake, main)  # noqa: F821 - injected by Snakemake
