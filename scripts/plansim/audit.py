"""The year's sentinel: every required model has rows, content checksums, timings,
versions and the config hash; and the scenario's multi-year consistency check."""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from plansim.db import sql_identifier
from plansim.errors import QualityGateError

REQUIRED = ["int_deferral_rate_state_accumulator", "int_employee_contributions", "fct_yearly_events",
            "fct_workforce_snapshot"]


def content_checksum(path: str | Path) -> str:
    """Order-independent checksum of a parquet file's rows (not its bytes): the row count and
    the sum of the rows' md5 prefixes. A row is hashed as its values cast to text, joined by
    the unit separator (NULL as the record separator, so NULL and '' differ), in column order:
    ~3x cheaper than hashing the row cast to a struct's text (the audit's largest cost at 1M
    employees), and still portable across machines, unlike DuckDB's internal hash()."""
    con = duckdb.connect()
    names = [row[0] for row in con.execute("describe select * from read_parquet($f)", {"f": str(path)}).fetchall()]
    row_text = "concat_ws(chr(31), " + ", ".join(f"coalesce({sql_identifier(n)}::varchar, chr(30))" for n in names) + ")"
    n, total = con.execute(
        f"select count(*), coalesce(sum(('0x' || substr(md5({row_text}), 1, 15))::bigint::hugeint), 0) "
        "from read_parquet($f)", {"f": str(path)}).fetchone()
    return f"{n}:{int(total):x}"


def versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("plansim", "duckdb", "dbt-core", "dbt-duckdb", "snakemake"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def check_required_rows(files: dict[str, str], sid: str, year: int) -> dict[str, int]:
    counts = {model: pq.ParquetFile(path).metadata.num_rows for model, path in files.items()}
    empty = [m for m in REQUIRED if counts.get(m, 0) == 0]
    if empty:
        raise QualityGateError(f"quality gate 'year_completion' failed for scenario {sid}, year {year}: "
                               f"no rows in {', '.join(empty)}")
    return counts


def sentinel(files: dict[str, str], markers: list[str], sid: str, year: int, config_hash: str) -> dict:
    counts = check_required_rows(files, sid, year)
    phases = {}
    for marker in markers:
        data = json.loads(Path(marker).read_text())
        phases[data["phase"]] = {"seconds": data["seconds"], "dbt": data["dbt"]}
    return {
        "scenario_id": sid, "simulation_year": year, "config_hash": config_hash,
        "row_counts": counts,
        "content_checksums": {model: content_checksum(path) for model, path in files.items()},
        "phases": phases, "versions": versions(),
    }


def check_year_chain(summaries: list[dict], sid: str, start_year: int, end_year: int) -> None:
    """No year gaps, and each year starts with the headcount the previous one ended with."""
    years = [s["simulation_year"] for s in summaries]
    expected = list(range(start_year, end_year + 1))
    if years != expected:
        missing = sorted(set(expected) - set(years))
        raise QualityGateError(f"quality gate 'multi_year_consistency' failed for scenario {sid}: "
                               f"years {missing} missing (have {years})")
    for prev, cur in zip(summaries, summaries[1:]):
        if cur["headcount_start"] != prev["headcount_end"]:
            raise QualityGateError(
                f"quality gate 'multi_year_consistency' failed for scenario {sid}, year {cur['simulation_year']}: "
                f"starts with {cur['headcount_start']} employees, year {prev['simulation_year']} ended with "
                f"{prev['headcount_end']}")
