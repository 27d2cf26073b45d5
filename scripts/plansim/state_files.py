"""Exports and the files handed from year N-1 to year N.

Every export is ``COPY (select ... where <year slice> order by <key>) TO parquet`` written to
a temporary name in the same directory and renamed into place, so a file under results/ is
either the previous complete version or the new complete version, never half written. Each
file carries key-value metadata ``plansim`` = {scenario_id, plan_design_id, simulation_year,
model}; ``check_state_file`` reads only the footer to refuse a truncated file, a file from
another scenario or year, or one missing columns, before any job runs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq

from plansim.errors import StateFileError

# Columns the next year needs from each handed-over file.
REQUIRED_COLUMNS = {
    "int_year_end_workforce_state": ["scenario_id", "plan_design_id", "simulation_year", "employee_id",
                                     "birth_date", "hire_date", "job_level", "annual_compensation"],
    "int_year_end_deferral_state": ["scenario_id", "plan_design_id", "simulation_year", "employee_id",
                                    "is_enrolled", "deferral_rate", "enrollment_date",
                                    "is_auto_enrollment_opted_out", "is_escalation_opted_out",
                                    "deferral_rate_source"],
}

# Sort keys of every exported model (deterministic file content).
EXPORT_ORDER = {
    "int_deferral_rate_state_accumulator": "employee_id, as_of_month",
    "int_enrollment_events": "employee_id, event_type",
    "fct_yearly_events": "employee_id, event_sequence",
    "int_workforce_needs": "simulation_year",
}


def export_model(con, model: str, out_path: str | Path, *, scenario_id: str, plan_design_id: str,
                 year: int) -> int:
    """Export the year's slice of ``model`` to ``out_path`` atomically; return the row count."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.tmp-{os.getpid()}")
    order = EXPORT_ORDER.get(model, "employee_id")
    meta = json.dumps({"scenario_id": scenario_id, "plan_design_id": plan_design_id,
                       "simulation_year": int(year), "model": model}).replace("'", "''")
    query = (f"select * from {model} where scenario_id = $s and plan_design_id = $p "
             f"and simulation_year = $y order by {order}")
    try:
        con.execute(f"copy ({query}) to '{tmp}' (format parquet, compression zstd, "
                    f"kv_metadata {{plansim: '{meta}'}})", {"s": scenario_id, "p": plan_design_id, "y": int(year)})
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out_path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return pq.ParquetFile(out_path).metadata.num_rows


def file_metadata(path: str | Path) -> dict:
    meta = pq.read_metadata(path).metadata or {}
    raw = meta.get(b"plansim")
    return json.loads(raw) if raw else {}


def check_state_file(path: str | Path, *, model: str, scenario_id: str, year: int) -> None:
    """Refuse a prior-year file that is truncated/corrupt, from another scenario or year, or
    missing a column. Reads only the parquet footer."""
    path = Path(path)
    where = f"prior-year file {path}"
    if not path.exists():
        raise StateFileError(f"{where} does not exist")
    try:
        pf = pq.ParquetFile(path)
        columns = set(pf.schema_arrow.names)
        meta = file_metadata(path)
    except Exception as exc:  # pyarrow raises several types for a bad footer
        raise StateFileError(f"{where} is not a readable parquet file (truncated or corrupted: {exc}). "
                             f"Delete it and re-run: Snakemake rebuilds year {year} from year {year - 1}.") from exc
    missing = [c for c in REQUIRED_COLUMNS[model] if c not in columns]
    if missing:
        raise StateFileError(f"{where} lacks column(s) {', '.join(missing)}; it is not a {model} export")
    if meta.get("model") != model:
        raise StateFileError(f"{where} is not a {model} export (metadata says {meta.get('model')!r})")
    if meta.get("scenario_id") != scenario_id:
        raise StateFileError(f"{where} belongs to scenario {meta.get('scenario_id')!r}, not {scenario_id!r}")
    if meta.get("simulation_year") != year:
        raise StateFileError(f"{where} holds year {meta.get('simulation_year')}, expected {year}")
