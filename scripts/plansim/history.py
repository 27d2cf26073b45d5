"""An employer's history: annual census snapshots, as ``plansim fit`` and ``plansim backtest``
read them, and the generator that writes such a history from a plansim run.

A snapshot is a census file (any format and column set :mod:`plansim.census` reads) with the
date it describes, given as ``FILE@YYYY-MM-DD``; without ``@DATE`` the date comes from the file
name (``census_2025-12-31.csv``, or ``census_2025.csv`` = Dec 31, 2025). A snapshot lists the
employees active on its date and, where the employer's file has them, those who left during the
year before it (with their termination_date): the leavers are what shows new-hire turnover, and
without them a person missing from the next snapshot counts as a termination of unknown date.

Snapshots are refused (one :class:`HistoryError` naming the file and the problem) when they are
not oldest first, share a date, are not about a year apart, write employee ids in different
formats, or share no employee id with the snapshot before.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv

from plansim.atomic import replacing
from plansim.census import read_census_rows
from plansim.db import sql_literal
from plansim.errors import PlansimError

MIN_SNAPSHOTS = 2
MAX_SNAPSHOTS = 5
# consecutive snapshots: one plan year apart, within a month either way
MIN_GAP_DAYS, MAX_GAP_DAYS = 335, 396
# the census columns a generated snapshot writes (what an employer's HR extract has)
HISTORY_COLUMNS = ("employee_id", "birth_date", "hire_date", "termination_date", "annual_compensation",
                   "job_level", "deferral_rate", "enrollment_date", "auto_escalation_opt_out")
_DATE_IN_NAME = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_YEAR_IN_NAME = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")


class HistoryError(PlansimError):
    """The snapshots cannot be used together: names the file(s) and the problem."""


@dataclass
class Snapshot:
    path: Path
    date: dt.date
    rows: pa.Table  # plansim.census.CANONICAL_COLUMNS + is_active, every row of the file

    @property
    def label(self) -> str:
        return f"{self.path} ({self.date.isoformat()})"


def parse_spec(spec: str) -> tuple[Path, dt.date]:
    """``FILE@YYYY-MM-DD`` -> (path, date); a bare FILE takes its date from its name."""
    text = str(spec)
    if "@" in text:
        name, _, when = text.rpartition("@")
        try:
            return Path(name), dt.date.fromisoformat(when)
        except ValueError:
            raise HistoryError(f"snapshot {text}: {when!r} after @ is not a date (YYYY-MM-DD)") from None
    path = Path(text)
    found = _DATE_IN_NAME.search(path.name)
    if found:
        try:
            return path, dt.date(*map(int, found.groups()))
        except ValueError:
            pass
    years = _YEAR_IN_NAME.findall(path.name)
    if len(years) == 1:
        return path, dt.date(int(years[0]), 12, 31)
    raise HistoryError(f"snapshot {path}: no date; give it as {path}@YYYY-MM-DD "
                       "(or put the date, or one year, in the file name)")


def id_format(employee_id: str) -> str:
    """The shape of an id: letters -> A, digits -> 9 (``EMP_000123`` -> ``AAA_999999``)."""
    return re.sub(r"[0-9]", "9", re.sub(r"[A-Za-z]", "A", employee_id))


def load_snapshots(specs: list[str], *, max_job_level: int = 5, deferral_rate_units: str = "fraction",
                   minimum: int = MIN_SNAPSHOTS) -> list[Snapshot]:
    """Read and check the snapshots, oldest first; raise HistoryError (or the census's own
    CensusError) naming the file and the problem."""
    if not minimum <= len(specs) <= MAX_SNAPSHOTS:
        raise HistoryError(f"{len(specs)} snapshot(s) given: {minimum} to {MAX_SNAPSHOTS} annual census files "
                           "of the same employer are needed, oldest first")
    parsed = [parse_spec(s) for s in specs]
    for (path, _), spec in zip(parsed, specs):
        if not path.is_file():
            raise HistoryError(f"snapshot {spec}: file {path} not found")
    for (p0, d0), (p1, d1) in zip(parsed, parsed[1:]):
        if d1 == d0:
            raise HistoryError(f"snapshots {p0} and {p1} have the same date {d0.isoformat()}: "
                               "each snapshot describes a different year")
        if d1 < d0:
            raise HistoryError(f"snapshot {p1} ({d1.isoformat()}) is older than {p0} ({d0.isoformat()}), "
                               "which comes before it: give the snapshots oldest first")
        gap = (d1 - d0).days
        if not MIN_GAP_DAYS <= gap <= MAX_GAP_DAYS:
            raise HistoryError(f"snapshots {p0} ({d0.isoformat()}) and {p1} ({d1.isoformat()}) are {gap} days "
                               f"apart: consecutive snapshots must be a year apart ({MIN_GAP_DAYS}-{MAX_GAP_DAYS} days)")
    snaps = [Snapshot(path, date, read_census_rows(path, date, max_job_level=max_job_level,
                                                   deferral_rate_units=deferral_rate_units))
             for path, date in parsed]
    for a, b in zip(snaps, snaps[1:]):
        ids_a = set(a.rows["employee_id"].to_pylist())
        ids_b = set(b.rows["employee_id"].to_pylist())
        shapes_a = {id_format(i) for i in ids_a}
        shapes_b = {id_format(i) for i in ids_b}
        if not shapes_a & shapes_b:
            raise HistoryError(
                f"snapshots {a.path} and {b.path} write employee ids in different formats "
                f"({_examples(ids_a)} vs {_examples(ids_b)}): employees are linked across years by employee_id, "
                "so every snapshot must use the same ids")
        if not ids_a & ids_b:
            raise HistoryError(f"snapshots {a.path} and {b.path} have no employee_id in common: they cannot be "
                               "the same employer's consecutive years (or the ids were renumbered)")
        active_a = {i for i, act in zip(a.rows["employee_id"].to_pylist(), a.rows["is_active"].to_pylist()) if act}
        if not active_a & ids_b:
            raise HistoryError(f"snapshots {a.path} and {b.path}: no one active in the first appears in the second")
    return snaps


def _examples(ids: set[str], n: int = 2) -> str:
    return ", ".join(sorted(ids)[:n])


def connect(snapshots: list[Snapshot]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with table ``snap``: every row of every snapshot with ``k`` (0 = oldest)
    and ``snapshot_date``."""
    con = duckdb.connect()
    for k, snap in enumerate(snapshots):
        con.register(f"_snap_{k}", snap.rows)
    union = " UNION ALL ".join(f"SELECT {k} AS k, DATE '{snap.date.isoformat()}' AS snapshot_date, * FROM _snap_{k}"
                               for k, snap in enumerate(snapshots))
    con.execute(f"CREATE TABLE snap AS {union}")
    return con


# --------------------------------------------------------------------------- generated history
def simulated_snapshot_sql(snapshot_parquet: str) -> str:
    """A simulated year's fct_workforce_snapshot as the census rows an employer would send for
    that year: everyone employed in the year, leavers with their termination_date (and, like a
    snapshot read back, ``is_active`` last)."""
    return f"""
        SELECT {', '.join(HISTORY_COLUMNS)}, termination_date IS NULL AS is_active
        FROM (SELECT employee_id, birth_date, hire_date, termination_date,
                     annual_compensation::DECIMAL(18,2) AS annual_compensation, job_level,
                     coalesce(deferral_rate, 0)::DECIMAL(9,6) AS deferral_rate,
                     enrollment_date, false AS auto_escalation_opt_out
              FROM read_parquet({sql_literal(snapshot_parquet)}))
        ORDER BY employee_id"""


def write_history(results: str | Path, scenario_id: str, years: list[int], out_dir: str | Path) -> list[Path]:
    """Write a run's history as census CSVs ``census_<date>.csv`` in ``out_dir``: the staged census
    (Dec 31 before the first year), then each simulated year's rows. Returns the paths, oldest first."""
    from plansim.phases import EXPORTS

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    base = Path(results, scenario_id)
    con = duckdb.connect()
    paths = []
    try:
        first = dt.date(years[0] - 1, 12, 31)
        staged = base / "staged_census.parquet"
        sources = [(first, f"SELECT {', '.join(HISTORY_COLUMNS)} FROM read_parquet({sql_literal(str(staged))}) "
                           "ORDER BY employee_id")]
        for year in years:
            parquet = base / str(year) / f"{EXPORTS['plan']['snapshot']}.parquet"
            if not parquet.is_file():
                raise HistoryError(f"{parquet} not found: simulate scenario {scenario_id} to {year} first")
            sources.append((dt.date(year, 12, 31), simulated_snapshot_sql(str(parquet))))
        for date, sql in sources:
            target = out / f"census_{date.isoformat()}.csv"
            table = con.sql(sql).to_arrow_table().select(list(HISTORY_COLUMNS))
            with replacing(target) as tmp:
                pacsv.write_csv(table, tmp)
            paths.append(target)
    finally:
        con.close()
    return paths


def main(argv: list[str] | None = None) -> int:
    """``python -m plansim.history --scenario S [--results results] --out DIR``: a finished run's
    history as census snapshots (test data with known parameters for plansim fit / backtest)."""
    import argparse
    import sys

    from plansim.paths import RESULTS

    parser = argparse.ArgumentParser(prog="python -m plansim.history",
                                     description="Write a simulated scenario's years as annual census snapshots.")
    parser.add_argument("--scenario", required=True, help="a simulated scenario id")
    parser.add_argument("--results", default=RESULTS, help="results directory (default: %(default)s)")
    parser.add_argument("--out", required=True, help="directory for census_<date>.csv")
    opts = parser.parse_args(argv)
    base = Path(opts.results, opts.scenario)
    years = sorted(int(p.name) for p in base.glob("[0-9][0-9][0-9][0-9]") if (p / "done").is_file())
    if not years:
        print(f"python -m plansim.history: no finished year under {base}", file=sys.stderr)
        return 2
    try:
        for path in write_history(opts.results, opts.scenario, years, opts.out):
            print(path)
    except PlansimError as error:
        print(f"python -m plansim.history: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
