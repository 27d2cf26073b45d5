"""The scenario's pre-flight: before a scenario's first job writes anything after a change.

One `dbt build --empty` (data tests excluded, unit tests included) in an in-memory
database on a zero-row file with the staged census's columns: it compiles every model,
executes its SQL on empty inputs and runs the formula unit tests, so a Jinja, SQL or binder
error fails in seconds and nothing is written under results/.

It is keyed by the content of the dbt project and the resolved scenario: the first job of
the scenario to run after either changed does the pre-flight, records a stamp under
.plansim/<scenario>/preflight/, and the scenario's later jobs find the stamp. (Not a rule:
a rule that every year depends on would either re-run every year on any code change, or,
consumed through ancient(), hide the later jobs' own re-run reasons from Snakemake for one
invocation.)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb

from plansim.census import CANONICAL_COLUMNS
from plansim.config import config_hash, dbt_vars
from plansim.db import sql_literal
from plansim.dbt_runner import DBT_DIR, invoke, scenario_paths

SKIP_DIRS = {"target", "logs", "dbt_packages"}


def project_hash(project: Path = DBT_DIR) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in project.rglob("*") if p.is_file() and not SKIP_DIRS & set(p.parts)
                       and p.name != ".user.yml"):
        digest.update(str(path.relative_to(project)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def empty_census(path: Path) -> Path:
    """A zero-row Parquet file with the staged census's columns (the pre-flight's and the model docs' input)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = ", ".join(f"null::{sql_type} as {name}" for name, sql_type in CANONICAL_COLUMNS)
    duckdb.connect().execute(f"copy (select {columns} where false) to {sql_literal(path)} (format parquet)")
    return path


def ensure_preflight(scn: dict, log, results: str = "results") -> Path:
    """Run the pre-flight unless this code + config already passed it; return the stamp."""
    sid = scn["scenario_id"]
    folder = scenario_paths(results, sid)["target"].parent / "preflight"
    key = f"{project_hash()}-{config_hash(scn)}"
    stamp = folder / f"{key}.json"
    if stamp.exists():
        return stamp
    what = f"scenario {sid}, pre-flight"
    log(f"{what}: dbt build --empty (code or config changed)")
    empty = str(empty_census(folder / "empty_census.parquet").resolve())
    outcome = invoke(["build", "--empty", "--selector", "year_simulation", "--exclude-resource-type", "test"],
                     database=":memory:", target_path=folder / "target", log_path=scenario_paths(results, sid)["logs"],
                     dbt_vars=dbt_vars(scn, scn["start_year"], empty, empty), threads=1, what=what, log=log)
    for old in folder.glob("*.json"):
        old.unlink()
    stamp.write_text(json.dumps({"scenario_id": sid, "key": key, "empty_build": outcome.as_dict()}, indent=2))
    log(f"{what}: ok ({outcome.nodes})")
    return stamp
