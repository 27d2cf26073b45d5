"""One dbt invocation: project/profiles dirs, per-scenario target and log paths, the full
variable scope, threads, and the scenario's DuckDB file. Runs dbt in-process (dbtRunner),
so a Snakemake ``script:`` job pays for one Python process, not two.

A year's job does not parse the project: it hands dbt the manifest the scenario's pre-flight
parsed (``manifest=``). dbt re-parses everything whenever ``--vars`` differ from the saved
manifest's, and the year is a var, so without this every year paid a full parse (~6 s here).
That is sound because parsing depends on no var in this project: refs and configs are the
same whatever the vars (a ref under a var condition is taken at parse time regardless, see
int_employee_balances), and every var() in SQL and in test arguments is rendered when the
node is compiled, with the job's own ``--vars``. tests/unit/test_phase_contract.py holds the
project to that.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from plansim.db import connect, retry_on_lock
from plansim.dbt_code import DBT_DIR
from plansim.errors import PlansimError, QualityGateError

# The dbt project of the workflow being run: Snakemake runs jobs from the workflow's
# directory, so it is ./dbt (a test's copy of the workflow uses its own copy).


@dataclass
class DbtOutcome:
    command: str
    seconds: float
    sql_seconds: float
    nodes: dict[str, int] = field(default_factory=dict)  # status -> count

    manifest: str = "parsed"  # "parsed" by this call, or "reused" (the pre-flight's)
    manifest_seconds: float = 0.0  # loading the reused manifest

    def as_dict(self) -> dict:
        return {"command": self.command, "seconds": round(self.seconds, 3),
                "sql_seconds": round(self.sql_seconds, 3), "nodes": self.nodes,
                "manifest": self.manifest, "manifest_seconds": round(self.manifest_seconds, 3)}


# dbt saves the manifest it parsed here, under the call's --target-path.
SAVED_MANIFEST = "partial_parse.msgpack"


def load_manifest(path: str | Path):
    """The manifest dbt saved at ``path`` (its partial-parse file), ready to hand to dbtRunner."""
    from dbt.contracts.graph.manifest import Manifest
    from dbt.parser.manifest import extended_mashumuro_decoder

    manifest = Manifest.from_msgpack(Path(path).read_bytes(), decoder=extended_mashumuro_decoder)
    manifest.build_flat_graph()
    return manifest


def _failures(result) -> list[str]:
    out = []
    for node_result in getattr(result, "results", []) or []:
        status = str(getattr(node_result, "status", "")).lower()
        if status in ("error", "fail"):
            node = node_result.node
            failures = getattr(node_result, "failures", None)
            message = [line.strip() for line in (getattr(node_result, "message", "") or "").splitlines() if line.strip()]
            # "Compilation Error in model m (path)" says where; the next line says what
            detail = f"{failures} failing row(s)" if failures else (": ".join(message[:2]) if message else status)
            out.append(f"{node.resource_type} {node.name}: {detail}")
    return out


def invoke(args: list[str], *, database: str | Path, target_path: str | Path, log_path: str | Path,
           dbt_vars: dict, threads: int, what: str, log=print, manifest: str | Path | None = None) -> DbtOutcome:
    """Run ``dbt <args>`` with the full scope; raise PlansimError naming what failed.
    ``manifest``: a manifest dbt saved (:data:`SAVED_MANIFEST`) to use instead of parsing."""
    from dbt.cli.main import dbtRunner

    in_memory = str(database) == ":memory:"
    os.environ["PLANSIM_DUCKDB_PATH"] = str(database) if in_memory else str(Path(database).resolve())
    os.environ["PLANSIM_DBT_THREADS"] = str(threads)
    if not in_memory:
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    full = [*args,
            "--project-dir", str(DBT_DIR.resolve()), "--profiles-dir", str(DBT_DIR.resolve()),
            "--target-path", str(Path(target_path).resolve()), "--log-path", str(Path(log_path).resolve()),
            "--vars", json.dumps(dbt_vars, sort_keys=True), "--threads", str(threads)]
    if args[0] in ("build", "run", "test", "seed") and not in_memory:
        # A writer job: make sure no other process holds the file before dbt opens it
        # (bounded exponential backoff + jitter; a clear error naming the PID after that).
        connect(database, log=log).close()

    loaded, manifest_seconds = None, 0.0
    if manifest is not None:
        started = time.perf_counter()
        loaded = load_manifest(manifest)
        manifest_seconds = time.perf_counter() - started
        # The database's name (the file's stem) is written into each node at parse time.
        parsed_for = {node.database for node in loaded.nodes.values() if node.resource_type == "model"}
        if parsed_for != {Path(database).stem}:
            # A phase job's vars are only its phase's: it cannot parse the whole project itself.
            raise PlansimError(f"{what}: the saved manifest {manifest} was parsed for database "
                               f"{sorted(parsed_for)}, not {Path(database).stem!r}; delete {Path(manifest).parent} "
                               "and run again (the pre-flight parses anew)")

    def run():
        started = time.perf_counter()
        res = dbtRunner(manifest=loaded).invoke(full)
        elapsed = time.perf_counter() - started
        if res.exception is not None:
            raise res.exception
        return res, elapsed

    res, elapsed = retry_on_lock(run, database, log=log)
    nodes: dict[str, int] = {}
    sql_seconds = 0.0
    for node_result in getattr(res.result, "results", []) or []:
        status = str(getattr(node_result, "status", "")).lower().split(".")[-1]
        nodes[status] = nodes.get(status, 0) + 1
        sql_seconds += float(getattr(node_result, "execution_time", 0.0) or 0.0)
    outcome = DbtOutcome(" ".join(["dbt", *args]), elapsed, sql_seconds, nodes,
                         "parsed" if loaded is None else "reused", manifest_seconds)
    if not res.success:
        failures = _failures(res.result)
        if failures:
            raise QualityGateError(f"{what}: dbt {args[0]} failed:\n" + "\n".join(f"  - {f}" for f in failures)
                                   + f"\n  (dbt log: {log_path}/dbt.log)")
        raise PlansimError(f"{what}: dbt {args[0]} failed (see {log_path}/dbt.log)")
    return outcome
