"""Results you can query: ``results/catalog.duckdb``, a DuckDB file of views over every
scenario's and year's exported parquet files and every scenario's ``summary.csv``.

The catalog holds VIEWS, not copies: each view reads its files when queried, so the catalog
is small and always shows the files next to it. The files are named relative to the
catalog's directory; DuckDB resolves relative paths against its ``file_search_path``
setting (else the working directory), so ``connect`` sets it to the catalog's directory and
the views keep working after the results directory is moved or copied.

    from plansim import results
    con = results.connect()                  # read-only, the views of results/catalog.duckdb
    con.sql("select * from fct_workforce_snapshot where simulation_year = 2029").df()
    results.summary("baseline")              # results/baseline/summary.csv as a DataFrame

From the command line: ``plansim sql "select ..."``. See docs/results.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb

from plansim.db import sql_identifier, sql_literal
from plansim.errors import PlansimError
from plansim.phases import EXPORTS

CATALOG_NAME = "catalog.duckdb"
SUMMARY_VIEW = "summary"
# One view per exported model (the table of models and files in plansim.phases), plus the summaries.
MODEL_VIEWS = [model for phase in EXPORTS.values() for model in phase.values()]
VIEWS = [*MODEL_VIEWS, SUMMARY_VIEW]


class CatalogError(PlansimError):
    """The results catalog is missing, or cannot be written or opened."""


def catalog_path(results_dir: str | os.PathLike = "results") -> Path:
    return Path(results_dir) / CATALOG_NAME


def _search_path(directory: Path) -> str:
    """The directory as a ``file_search_path`` value. The setting is a comma-separated list
    (no escape for a comma inside one entry): a path with a comma falls back to the same
    directory relative to the working directory, and fails clearly if that has one too."""
    absolute = str(directory.resolve())
    if "," not in absolute:
        return absolute
    relative = os.path.relpath(absolute)
    if "," not in relative:
        return relative
    raise CatalogError(f"the results directory {absolute} has a comma in its path, which DuckDB's "
                       "file_search_path cannot hold: rename it, or query it from a working directory "
                       "whose path to it has no comma")


def view_sql(view: str, files: Sequence[str]) -> str:
    """``create view`` over ``files`` (paths relative to the catalog's directory): parquet
    files through read_parquet, CSV files through read_csv, columns matched by name."""
    if not files:
        raise CatalogError(f"view {view} has no files")
    suffixes = {Path(f).suffix for f in files}
    if suffixes == {".parquet"}:
        reader = "read_parquet"
    elif suffixes == {".csv"}:
        reader = "read_csv"
    else:
        raise CatalogError(f"view {view}: files must be all .parquet or all .csv, got {sorted(suffixes)}")
    listed = ", ".join(sql_literal(f) for f in files)
    return f"create view {sql_identifier(view)} as select * from {reader}([{listed}], union_by_name = true)"


def _relative_files(files: Sequence[str | os.PathLike], base: Path, view: str) -> list[str]:
    out = []
    for file in files:
        resolved = Path(file).resolve()
        if not resolved.is_relative_to(base):
            raise CatalogError(f"view {view}: {file} is not under the catalog's directory {base}; the catalog "
                               "only names files inside it, so that it can be moved with them")
        out.append(resolved.relative_to(base).as_posix())
    return sorted(out)


def write_catalog(catalog: str | os.PathLike, sources: Mapping[str, Sequence[str | os.PathLike]]) -> dict[str, int]:
    """Write ``catalog`` with one view per entry of ``sources`` (view name -> its files),
    atomically: built under a temporary name in the same directory, then renamed into place,
    so a reader sees the previous catalog or the new one. Returns the file count per view."""
    catalog = Path(catalog)
    base = catalog.parent.resolve()
    base.mkdir(parents=True, exist_ok=True)
    relative = {view: _relative_files(files, base, view) for view, files in sorted(sources.items())}
    tmp = base / f".{catalog.name}.tmp-{os.getpid()}"
    leftovers = [tmp, tmp.with_name(tmp.name + ".wal")]
    for path in leftovers:
        path.unlink(missing_ok=True)
    try:
        con = duckdb.connect(str(tmp))
        try:
            # Views bind (read the files' schemas) when created: resolve their relative paths here.
            con.execute(f"set file_search_path = {sql_literal(_search_path(base))}")
            for view, files in relative.items():
                con.execute(view_sql(view, files))
            con.execute("checkpoint")
        finally:
            con.close()
        # a WAL left by someone who opened the old catalog read-write is not this file's
        Path(f"{catalog}.wal").unlink(missing_ok=True)
        os.replace(tmp, catalog)
    except duckdb.Error as error:
        raise CatalogError(f"could not write the results catalog {catalog}: {error}") from None
    finally:
        for path in leftovers:
            path.unlink(missing_ok=True)
    return {view: len(files) for view, files in relative.items()}


def connect(results_dir: str | os.PathLike = "results") -> duckdb.DuckDBPyConnection:
    """A read-only connection to ``<results_dir>/catalog.duckdb`` whose views resolve their
    files in that directory, wherever it is now. Close it when done (or use ``with``)."""
    path = catalog_path(results_dir)
    if not path.is_file():
        raise CatalogError(f"no results catalog at {path}: run the workflow first, which writes it "
                           "(`plansim run`, or `snakemake --cores N results/catalog.duckdb` in the repository)")
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as error:
        raise CatalogError(f"cannot open the results catalog {path}: {error}") from None
    try:
        con.execute(f"set file_search_path = {sql_literal(_search_path(path.parent))}")
    except BaseException:
        con.close()
        raise
    return con


def scenarios(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Scenario ids of the catalog's summaries."""
    return [row[0] for row in con.execute(
        f"select distinct scenario_id from {SUMMARY_VIEW} order by scenario_id").fetchall()]


def summary(scenario: str, results_dir: str | os.PathLike = "results"):
    """The scenario's key figures by year (its summary.csv) as a pandas DataFrame."""
    with connect(results_dir) as con:
        frame = con.execute(f"select * from {SUMMARY_VIEW} where scenario_id = $scenario order by simulation_year",
                            {"scenario": scenario}).df()
        if frame.empty:
            raise CatalogError(f"scenario {scenario!r} is not in the results catalog {catalog_path(results_dir)} "
                               f"(scenarios: {', '.join(scenarios(con)) or 'none'})")
    return frame
