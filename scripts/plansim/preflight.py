"""The scenario's pre-flight: before a scenario's first job writes anything after a change.

A `dbt build --empty` of every model of both phases (data tests excluded) in a scratch
database on a zero-row file with the staged census's columns: it compiles every model and
executes its SQL on empty inputs, so a Jinja, SQL or binder error fails in seconds and
nothing is written under results/. Then the formula unit tests, unless they already passed
for this dbt code and the values of the few vars they take from the run rather than from
their own overrides (plansim.dbt_code.unit_test_scope): their outcome depends on nothing
else, so an analyst editing a plan design does not wait for them again, and the scenarios of
one run share one pass (a lock makes the second wait for the first's).

The manifest dbt parses for it is kept beside the stamp (``<key>.msgpack``): every year's job
of the scenario hands it to dbt instead of parsing again (plansim.dbt_runner), so a scenario
pays one full parse however many years it runs.

It is keyed by the content of the dbt project and the resolved scenario: the first job of
the scenario to run after either changed does the pre-flight, records a stamp under
.plansim/<scenario>/preflight/, and the scenario's later jobs find the stamp. (Not a rule:
a rule that every year depends on would either re-run every year on any code change, or,
consumed through ancient(), hide the later jobs' own re-run reasons from Snakemake for one
invocation.)
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import shutil
from pathlib import Path

import duckdb

from plansim.atomic import copy_file, write_text
from plansim.census import CANONICAL_COLUMNS
from plansim.config import config_hash, dbt_vars
from plansim.db import sql_literal
from plansim.dbt_code import project_hash, unit_test_scope
from plansim.dbt_runner import SAVED_MANIFEST, invoke, load_manifest
from plansim.paths import RESULTS, STATE, scenario_paths

def empty_census(path: Path) -> Path:
    """A zero-row Parquet file with the staged census's columns (the pre-flight's and the model docs' input)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = ", ".join(f"null::{sql_type} as {name}" for name, sql_type in CANONICAL_COLUMNS)
    duckdb.connect().execute(f"copy (select {columns} where false) to {sql_literal(path)} (format parquet)")
    return path


def ensure_preflight(scn: dict, log, results: str = RESULTS) -> Path:
    """Run the pre-flight unless this code + config already passed it; return the manifest it
    parsed (what the scenario's dbt calls use instead of parsing)."""
    sid = scn["scenario_id"]
    folder = scenario_paths(results, sid)["target"].parent / "preflight"
    code = project_hash()
    key = f"{code}-{config_hash(scn)}"
    stamp, manifest = folder / f"{key}.json", folder / f"{key}.msgpack"
    if stamp.exists() and manifest.exists():
        return manifest
    what = f"scenario {sid}, pre-flight"
    log(f"{what}: dbt build --empty (code or config changed)")
    empty = str(empty_census(folder / "empty_census.parquet").resolve())
    # A scratch file named like the scenario's: dbt writes the database's name (the file's stem)
    # into every node at parse time, and the jobs reuse this parse.
    scratch = folder / "scratch" / scenario_paths(results, sid)["database"].name
    shutil.rmtree(scratch.parent, ignore_errors=True)
    scope = dbt_vars(scn, scn["start_year"], empty, empty)
    common = dict(database=scratch, target_path=folder / "target", log_path=scenario_paths(results, sid)["logs"],
                  dbt_vars=scope, threads=scn["dbt_threads"], log=log)
    outcome = invoke(["build", "--empty", "--selector", "year_simulation", "--exclude-resource-type", "test",
                      "--exclude-resource-type", "unit_test"], what=what, **common)
    for old in [*folder.glob("*.json"), *folder.glob("*.msgpack")]:
        old.unlink()
    copy_file(folder / "target" / SAVED_MANIFEST, manifest)
    unit_tests = _unit_tests(code, manifest, scope, what, common)
    shutil.rmtree(scratch.parent, ignore_errors=True)
    write_text(stamp, json.dumps({"scenario_id": sid, "key": key, "empty_build": outcome.as_dict(),
                                  "unit_tests": unit_tests}, indent=2))
    log(f"{what}: ok ({outcome.nodes}; unit tests: {unit_tests['ran']})")
    return manifest


def _unit_tests(code: str, manifest: Path, scope: dict, what: str, common: dict) -> dict:
    """The formula unit tests, once per (dbt code, the vars they see): after the models' empty
    build, in the same scratch database (a unit test takes its inputs' columns from there)."""
    seen = unit_test_scope(load_manifest(manifest), scope)
    key = hashlib.sha256(json.dumps([code, seen], sort_keys=True, default=str).encode()).hexdigest()[:16]
    folder = Path(STATE) / "unit_tests"
    folder.mkdir(parents=True, exist_ok=True)
    stamp = folder / f"{key}.json"
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two scenarios starting together: one runs them, one waits
        if stamp.exists():
            return {"key": key, "ran": "passed before for this code and scope"}
        outcome = invoke(["test", "--select", "test_type:unit"],
                         what=f"{what}, unit tests", manifest=manifest, **common)
        write_text(stamp, json.dumps({"key": key, "scope": seen, "build": outcome.as_dict()}, indent=2, default=str))
    return {"key": key, "ran": outcome.nodes}
