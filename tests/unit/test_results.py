"""The results catalog (plansim.results) and `plansim sql`, on small hand-made result files."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from plansim import cli, results
from plansim.results import CatalogError, sql_literal

SCENARIOS = {"base": [2025, 2026], "rich": [2025, 2026]}


def _write_results(root: Path) -> dict[str, list[Path]]:
    """A results directory laid out as the workflow writes it: per scenario and year a snapshot
    (3 employees + 1 more per year; `rich` has an extra column) and a summary.csv per scenario."""
    con = duckdb.connect()
    sources: dict[str, list[Path]] = {"fct_workforce_snapshot": [], "summary": []}
    for sid, years in SCENARIOS.items():
        for year in years:
            out = root / sid / str(year) / "fct_workforce_snapshot.parquet"
            out.parent.mkdir(parents=True, exist_ok=True)
            extra = ", 1.5 as only_in_rich" if sid == "rich" else ""
            con.execute(f"""copy (select {sql_literal(sid)} as scenario_id, {year} as simulation_year,
                                 'E' || i as employee_id, (i * 1000)::decimal(18, 2) as employer_match{extra}
                              from range({year - 2022}) as t(i))
                            to {sql_literal(out)} (format parquet)""")
            sources["fct_workforce_snapshot"].append(out)
        summary = root / sid / "summary.csv"
        summary.write_text("scenario_id,simulation_year,headcount_end\n"
                           + "".join(f"{sid},{year},{year - 2022}\n" for year in reversed(years)))
        sources["summary"].append(summary)
    return sources


def _counts(con) -> list[tuple]:
    return con.execute("select scenario_id, simulation_year, count(*) from fct_workforce_snapshot "
                       "group by all order by all").fetchall()


EXPECTED_COUNTS = [("base", 2025, 3), ("base", 2026, 4), ("rich", 2025, 3), ("rich", 2026, 4)]


@pytest.fixture
def results_dir(tmp_path: Path) -> Path:
    """A results directory whose path has an apostrophe and a space, with its catalog."""
    root = tmp_path / "o'brien plan" / "results"
    results.write_catalog(root / "catalog.duckdb", _write_results(root))
    return root


@pytest.mark.parametrize("text", ["plain", "o'brien", "''", "it's a 'quoted' path/x y.parquet", ""])
def test_sql_literal_round_trips_any_text(text):
    assert duckdb.execute(f"select {sql_literal(text)}").fetchone()[0] == text


def test_catalog_views_span_every_scenario_and_year_with_columns_matched_by_name(results_dir, monkeypatch,
                                                                                   tmp_path):
    monkeypatch.chdir(tmp_path)  # not the results directory: paths must not depend on the CWD
    with results.connect(results_dir) as con:
        assert _counts(con) == EXPECTED_COUNTS
        tables = dict(con.execute("select table_name, table_type from information_schema.tables").fetchall())
        assert tables == {"fct_workforce_snapshot": "VIEW", "summary": "VIEW"}
        # a column only one scenario's files have is there, null for the other
        assert con.execute("select scenario_id, count(only_in_rich) from fct_workforce_snapshot "
                           "group by all order by all").fetchall() == [("base", 0), ("rich", 7)]
        assert con.execute("select sum(employer_match) from fct_workforce_snapshot").fetchone()[0] == 18000


def test_views_read_the_files_at_query_time_not_a_copy(results_dir):
    snapshot = results_dir / "base" / "2026" / "fct_workforce_snapshot.parquet"
    duckdb.execute(f"copy (select 'base' as scenario_id, 2026 as simulation_year, 'X' as employee_id, "
                   f"1::decimal(18, 2) as employer_match) to {sql_literal(snapshot)} (format parquet)")
    with results.connect(results_dir) as con:
        assert ("base", 2026, 1) in _counts(con)


def test_the_catalog_keeps_working_after_the_results_directory_is_moved(results_dir, tmp_path, monkeypatch):
    moved = tmp_path / "elsewhere" / "d'arcy's copy" / "res"
    moved.parent.mkdir(parents=True)
    shutil.move(results_dir, moved)
    monkeypatch.chdir(tmp_path / "elsewhere")
    with results.connect(moved) as con:
        assert _counts(con) == EXPECTED_COUNTS
    # the CLI too, with a relative --results
    assert cli.main(["sql", "select count(*) as n from summary", "--results", os.path.relpath(moved)]) == 0


def test_a_comma_in_the_path_works_from_a_working_directory_below_it(tmp_path, monkeypatch):
    # DuckDB's file_search_path is comma-separated: the catalog falls back to a relative path
    root = tmp_path / "plan, 2025" / "results"
    root.mkdir(parents=True)
    monkeypatch.chdir(root.parent)
    results.write_catalog("results/catalog.duckdb", _write_results(Path("results")))
    with results.connect("results") as con:
        assert _counts(con) == EXPECTED_COUNTS
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CatalogError, match="has a comma in its path"):
        results.connect(root)


def test_summary_is_the_scenarios_summary_csv_in_year_order(results_dir):
    frame = results.summary("rich", results_dir)
    assert isinstance(frame, pd.DataFrame)
    assert frame.to_dict("list") == {"scenario_id": ["rich", "rich"], "simulation_year": [2025, 2026],
                                     "headcount_end": [3, 4]}
    with pytest.raises(CatalogError, match=r"scenario 'nope' is not in the results catalog .*\(scenarios: base, rich\)"):
        results.summary("nope", results_dir)


def test_the_catalog_is_read_only(results_dir):
    with results.connect(results_dir) as con, pytest.raises(duckdb.Error, match="read-only"):
        con.execute("create table t as select 1")


def test_rewriting_replaces_the_catalog_atomically_and_leaves_no_temporary_file(results_dir, tmp_path):
    catalog = results_dir / "catalog.duckdb"
    outside = _write_results(tmp_path / "other")
    with pytest.raises(CatalogError, match="not under the catalog's directory"):
        results.write_catalog(catalog, outside)
    missing = {"fct_workforce_snapshot": [results_dir / "base" / "2027" / "fct_workforce_snapshot.parquet"]}
    with pytest.raises(CatalogError, match="could not write the results catalog .*2027"):
        results.write_catalog(catalog, missing)
    # neither failure touched the catalog or left a half-written one next to it
    assert sorted(p.name for p in results_dir.iterdir()) == ["base", "catalog.duckdb", "rich"]
    with results.connect(results_dir) as con:
        assert _counts(con) == EXPECTED_COUNTS
    results.write_catalog(catalog, {"summary": [results_dir / "base" / "summary.csv"]})
    with results.connect(results_dir) as con:
        assert con.execute("select table_name from information_schema.tables").fetchall() == [("summary",)]
    assert sorted(p.name for p in results_dir.iterdir()) == ["base", "catalog.duckdb", "rich"]


def test_a_missing_catalog_says_to_run_the_workflow(tmp_path):
    with pytest.raises(CatalogError, match=r"no results catalog at .*catalog.duckdb: run the workflow first"):
        results.connect(tmp_path)


# ------------------------------------------------------------------------------ plansim sql
def test_sql_prints_a_table_and_a_row_count(results_dir, capsys):
    assert cli.main(["sql", "select scenario_id, headcount_end from summary where simulation_year = 2026 "
                            "order by 1", "--results", str(results_dir)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["scenario_id", "headcount_end"]
    assert [line.split() for line in lines[1:]] == [["base", "4"], ["rich", "4"], ["(2", "rows)"]]


def test_sql_csv_is_the_query_result(results_dir, capsys):
    query = "select * from fct_workforce_snapshot order by scenario_id, simulation_year, employee_id"
    assert cli.main(["sql", query, "--csv", "--results", str(results_dir)]) == 0
    printed = pd.read_csv(io.StringIO(capsys.readouterr().out))
    with results.connect(results_dir) as con:
        expected = con.execute(query).df()
    assert list(printed.columns) == list(expected.columns)
    assert printed.employee_id.tolist() == expected.employee_id.tolist()
    assert printed.employer_match.sum() == 18000


def test_sql_with_no_rows_still_names_the_columns(results_dir, capsys):
    assert cli.main(["sql", "select scenario_id, headcount_end from summary where false",
                     "--results", str(results_dir)]) == 0
    assert capsys.readouterr().out == "scenario_id, headcount_end\n(0 rows)\n"


@pytest.mark.parametrize("query, reason", [
    ("selec 1", "syntax error"),
    ("select * from no_such_view", "does not exist"),
    ("select * from summary where simulation_year = 'x'", "Conversion Error"),
    ("drop view summary", "read-only"),
])
def test_a_sql_error_is_one_message_and_exit_2(results_dir, capsys, query, reason):
    assert cli.main(["sql", query, "--results", str(results_dir)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("plansim: SQL error: ") and reason in captured.err
    assert "Traceback" not in captured.err


def test_sql_without_a_catalog_tells_to_run_the_workflow(tmp_path, capsys):
    assert cli.main(["sql", "select 1", "--results", str(tmp_path / "results")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("plansim: no results catalog at ") and "run the workflow first" in err


def test_sql_piped_into_a_reader_that_stops_early_is_not_an_error(results_dir):
    proc = subprocess.Popen([str(Path(sys.executable).parent / "plansim"), "sql", "select * from range(300000)",
                             "--results", str(results_dir)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline().split() == [b"range"]
    proc.stdout.close()  # as `| head -1` does
    assert proc.wait(timeout=60) == 0
    assert b"Traceback" not in proc.stderr.read()
