"""Exports and the files handed from year N-1 to year N.

Every export is ``COPY (select ... where <year slice> order by <key>) TO parquet`` written to
a temporary name in the same directory and renamed into place, so a file under results/ is
either the previous complete version or the new complete version, never half written. Each
file carries key-value metadata ``plansim`` = {scenario_id, plan_design_id, simulation_year,
model}; ``check_state_file`` reads the footer to refuse a truncated file, a file from
another scenario or year, or one missing columns, before any job runs, and decodes every page
of a file it has not seen intact before (a file damaged in the middle keeps a valid footer).

An export that fails (disk full, I/O error) raises ``ExportError`` naming the file and the
reason; the temporary file is removed, so results/ holds no half-written parquet.

Fault injection (tests only): with ``PLANSIM_FAULT_EXPORT=<model>`` in the environment, the
export of that model writes half of its temporary file, then fails with ENOSPC ("No space
left on device"), as a full disk would. ``PLANSIM_FAULT_EXPORT=<model>@<year>`` limits it to
one simulation year. Unset (the normal case), it does nothing.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from plansim.db import sql_literal
from plansim.errors import PlansimError, StateFileError

FAULT_EXPORT_ENV = "PLANSIM_FAULT_EXPORT"
# Handed-over files found intact (path -> size and mtime): exports stamp what they write,
# check_state_file what it decoded, so a file is decoded at most once per version (a 1M-row
# state file takes ~0.4 s). One small stamp per file under .snakemake/ of the working
# directory, kept only when that directory exists (a Snakemake working directory).
VERIFIED_STAMPS = Path(".snakemake") / "plansim" / "state-ok"
_verified_here: set[tuple[str, str]] = set()


class ExportError(PlansimError):
    """An export could not be written (disk full, I/O error); nothing half-written is left."""


# Columns the next year needs from each handed-over file.
REQUIRED_COLUMNS = {
    "int_year_end_workforce_state": ["scenario_id", "plan_design_id", "simulation_year", "employee_id",
                                     "birth_date", "hire_date", "job_level", "annual_compensation"],
    "int_year_end_deferral_state": ["scenario_id", "plan_design_id", "simulation_year", "employee_id",
                                    "is_enrolled", "deferral_rate", "enrollment_date",
                                    "is_auto_enrollment_opted_out", "is_escalation_opted_out",
                                    "deferral_rate_source", "enrollment_source", "escalation_count",
                                    "pending_opt_out_date", "roth_share", "annual_hours", "year_wages"],
    "int_year_end_balances": ["scenario_id", "plan_design_id", "simulation_year", "employee_id",
                              "balance_pretax", "balance_roth", "balance_match", "balance_core",
                              "vesting_service_years", "vested_share_match", "vested_share_core",
                              "termination_date", "is_retirement", "is_distribution_elected",
                              "distribution_date", "forfeiture_date"],
    "fct_compliance_tests": ["scenario_id", "plan_design_id", "simulation_year", "test_name", "nhce_value"],
}

# Sort keys of every exported model (deterministic file content).
EXPORT_ORDER = {
    "int_deferral_rate_state_accumulator": "employee_id, as_of_month",
    "int_enrollment_events": "employee_id, event_type",
    "fct_yearly_events": "employee_id, event_sequence",
    "int_workforce_needs": "simulation_year",
    "fct_compliance_tests": "test_name",
}


def export_model(con, model: str, out_path: str | Path, *, scenario_id: str, plan_design_id: str,
                 year: int) -> int:
    """Export the year's slice of ``model`` to ``out_path`` atomically; return the row count."""
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.tmp-{os.getpid()}")
    order = EXPORT_ORDER.get(model, "employee_id")
    meta = json.dumps({"scenario_id": scenario_id, "plan_design_id": plan_design_id,
                       "simulation_year": int(year), "model": model})
    query = (f"select * from {model} where scenario_id = $s and plan_design_id = $p "
             f"and simulation_year = $y order by {order}")
    try:
        con.execute(f"copy ({query}) to {sql_literal(tmp)} (format parquet, compression zstd, "
                    f"kv_metadata {{plansim: {sql_literal(meta)}}})", {"s": scenario_id, "p": plan_design_id, "y": int(year)})
        _injected_fault(model, year, tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out_path)
    except (OSError, duckdb.Error) as exc:
        raise ExportError(_export_failure(model, out_path, scenario_id, year, exc)) from exc
    finally:
        if tmp.exists():
            tmp.unlink()
    rows = pq.ParquetFile(out_path).metadata.num_rows
    if model in REQUIRED_COLUMNS:  # handed to the next year: check_state_file need not decode it
        _remember_intact(out_path)
    return rows


def _injected_fault(model: str, year: int, tmp: Path) -> None:
    """The test hook described in the module docstring: a disk that fills up mid-write."""
    wanted = os.environ.get(FAULT_EXPORT_ENV, "")
    target, _, only_year = wanted.partition("@")
    if not target or target != model or (only_year and int(only_year) != int(year)):
        return
    size = tmp.stat().st_size
    with open(tmp, "r+b") as fh:
        fh.truncate(size // 2)
    raise OSError(errno.ENOSPC, f"{os.strerror(errno.ENOSPC)} (injected by {FAULT_EXPORT_ENV}={wanted})", str(tmp))


def _is_disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    text = str(exc)
    return any(s in text for s in ("No space left on device", "Disk quota exceeded", '"errno":"28"'))


def _export_failure(model: str, out_path: Path, scenario_id: str, year: int, exc: BaseException) -> str:
    what = f"export of {model} (scenario {scenario_id}, year {year}) to {out_path} failed"
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    kept = (f"Nothing half-written is left: {out_path.name} is absent or still the previous complete "
            f"version, and year {year} has no done sentinel.")
    if _is_disk_full(exc):
        return (f"{what}: no space left on device (the disk holding {out_path.parent} is full). {kept} "
                f"Free space (df -h {out_path.parent}), then resume with "
                f"`snakemake --cores N --rerun-incomplete`: completed years are not recomputed. [{reason}]")
    return f"{what}: {reason}. {kept} Fix the cause, then resume with `snakemake --cores N --rerun-incomplete`."


def file_metadata(path: str | Path) -> dict:
    meta = pq.read_metadata(path).metadata or {}
    raw = meta.get(b"plansim")
    return json.loads(raw) if raw else {}


def _file_version(path: Path) -> tuple[str, str]:
    """(stamp name: the file's absolute path hashed, version: its size and mtime)."""
    st = path.stat()
    return (hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24], f"{st.st_size} {st.st_mtime_ns}")


def _remember_intact(path: Path) -> None:
    name, version = _file_version(path)
    _verified_here.add((name, version))
    if VERIFIED_STAMPS.parent.parent.is_dir():  # one stamp per file, holding the version found intact
        VERIFIED_STAMPS.mkdir(parents=True, exist_ok=True)
        (VERIFIED_STAMPS / name).write_text(version)


def _known_intact(path: Path) -> bool:
    name, version = _file_version(path)
    if (name, version) in _verified_here:
        return True
    try:
        return (VERIFIED_STAMPS / name).read_text() == version
    except OSError:
        return False


def check_state_file(path: str | Path, *, model: str, scenario_id: str, year: int) -> None:
    """Refuse a prior-year file that is truncated/corrupt, from another scenario or year, or
    missing a column. Reads the footer; decodes the pages of a file not known intact."""
    path = Path(path)
    where = f"prior-year file {path}"
    needed = f"year {year}'s {model}, which year {year + 1} of scenario {scenario_id} starts from"
    remedy = (f"Year {year + 1} was not started and nothing under results/ was changed. Delete the file and run "
              f"again: when a later year has to run, Snakemake rebuilds it with the year-{year} phase that writes "
              f"it (and re-runs the years after).")
    if not path.exists():
        raise StateFileError(f"{where} does not exist")
    try:
        pf = pq.ParquetFile(path)
        columns = set(pf.schema_arrow.names)
        meta = file_metadata(path)
    except Exception as exc:  # pyarrow raises several types for a bad footer
        raise StateFileError(f"{where} ({needed}) is not a readable parquet file: truncated or corrupted "
                             f"({_first_line(exc)}). {remedy}") from exc
    missing = [c for c in REQUIRED_COLUMNS[model] if c not in columns]
    if missing:
        raise StateFileError(f"{where} ({needed}) lacks column(s) {', '.join(missing)}; "
                             f"it is not a complete {model} export. {remedy}")
    if not meta:
        raise StateFileError(f"{where} ({needed}) has no plansim metadata: it was not written by a plansim "
                             f"export. {remedy}")
    if meta.get("model") != model:
        raise StateFileError(f"{where} ({needed}) is not a {model} export (metadata says {meta.get('model')!r}). "
                             f"{remedy}")
    if meta.get("scenario_id") != scenario_id:
        raise StateFileError(f"{where} ({needed}) belongs to scenario {meta.get('scenario_id')!r}, not "
                             f"{scenario_id!r}: it comes from another scenario's results. {remedy}")
    if meta.get("simulation_year") != year:
        raise StateFileError(f"{where} ({needed}) holds year {meta.get('simulation_year')}, expected {year}. "
                             f"{remedy}")
    if _known_intact(path):
        return
    try:
        rows = pf.read().num_rows  # decompress and decode every page
    except Exception as exc:
        raise StateFileError(f"{where} ({needed}) is corrupted: its pages cannot be decoded "
                             f"({_first_line(exc)}). {remedy}") from exc
    if rows != pf.metadata.num_rows:
        raise StateFileError(f"{where} ({needed}) is corrupted: {rows} rows decoded, the footer says "
                             f"{pf.metadata.num_rows}. {remedy}")
    _remember_intact(path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
