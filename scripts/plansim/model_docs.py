"""The dbt project's documentation as one offline HTML page, linked from the HTML report.

``dbt docs generate --static`` writes ``static_index.html``: dbt's docs site (it ships inside
dbt-core, so nothing is fetched) with the manifest inlined: every model's description, grain,
columns, tests, lineage graph and compiled SQL. ``--empty-catalog`` skips reading the
warehouse, so the page does not need (or lock) a scenario's DuckDB file; column types therefore
come only from the YAML documentation, not from the built tables.

The SQL is compiled with the first scenario's variables (models inline a few config values).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from plansim.config import dbt_vars
from plansim.dbt_runner import invoke
from plansim.preflight import empty_census

DOCS_WORKDIR = Path(".plansim") / "model_docs"


def write_model_docs(scn: dict, out: str | Path, log=print) -> Path:
    """Generate dbt's static docs page for the scenario's variables and move it to ``out``."""
    out = Path(out)
    empty = str(empty_census(DOCS_WORKDIR / "empty_census.parquet").resolve())
    target = DOCS_WORKDIR / "target"
    outcome = invoke(["docs", "generate", "--static", "--empty-catalog"], database=":memory:", target_path=target,
                     log_path=DOCS_WORKDIR / "logs", dbt_vars=dbt_vars(scn, scn["start_year"], empty, empty),
                     threads=1, what="model documentation", log=log)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.copyfile(target / "static_index.html", tmp)
    os.replace(tmp, out)
    log(f"dbt docs generate: {outcome.seconds:.1f} s -> {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return out
