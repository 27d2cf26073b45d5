"""results/catalog.duckdb on a real run: the worked examples of docs/results.md (read from the
doc, so it cannot drift from what works) give the figures computed independently from the
parquet and summary files; the catalog is refreshed by the workflow, survives a move of the
results directory, and is a localrule under the SLURM profile."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import REPO, snakemake
from plansim import results
from plansim.irs_limits import OFFICIAL, projected
from plansim.phases import EXPORTS

pytestmark = pytest.mark.slow

SCENARIOS = ["baseline", "no_auto_features"]
YEARS = list(range(2025, 2030))
EXAMPLES = {"participation": "Participation by age band in 2029",
            "limit": "Who hit the 402(g) limit",
            "cost": "Employer cost by scenario and year"}
AGE_BANDS = [("under 30", 0, 29), ("30-39", 30, 39), ("40-49", 40, 49), ("50-59", 50, 59), ("60 and over", 60, 200)]


def doc_examples() -> dict[str, tuple[str, list[str]]]:
    """Each worked example of docs/results.md: its heading, a ```sql block, then an output block
    whose first line names the columns -> (sql, columns)."""
    text = (REPO / "docs" / "results.md").read_text()
    found = {title: (sql, header.split()) for title, sql, header in re.findall(
        r"^### (.+?)\n.*?```sql\n(.*?)```.*?```\n(.*?)\n", text, flags=re.M | re.S)}
    missing = set(EXAMPLES.values()) - set(found)
    assert not missing, f"docs/results.md has no worked example {sorted(missing)}"
    return {key: found[title] for key, title in EXAMPLES.items()}


def doc_queries() -> dict[str, str]:
    return {key: sql for key, (sql, _) in doc_examples().items()}


@pytest.fixture(scope="module")
def catalog_run(sample_run) -> Path:
    """The sample run with its catalog built by the workflow (its own target)."""
    snakemake(sample_run, "--cores", "2", "results/catalog.duckdb")
    return sample_run


def frames(run: Path, model: str) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(run / "results" / s / str(y) / f"{model}.parquet")
                      for s in SCENARIOS for y in YEARS], ignore_index=True)


def summaries(run: Path) -> pd.DataFrame:
    return pd.concat([pd.read_csv(run / "results" / s / "summary.csv") for s in SCENARIOS], ignore_index=True)


def query(results_dir: Path, sql: str) -> pd.DataFrame:
    with results.connect(results_dir) as con:
        return con.execute(sql).df()


def plansim_sql(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(Path(sys.executable).parent / "plansim"), "sql", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


# ------------------------------------------------------------------------- the catalog's views
def test_every_export_and_summary_is_a_view_over_every_scenario_and_year(catalog_run):
    with results.connect(catalog_run / "results") as con:
        kinds = dict(con.execute("select table_name, table_type from information_schema.tables").fetchall())
        assert kinds == {view: "VIEW" for view in results.VIEWS}
        for model in (m for phase in EXPORTS.values() for m in phase.values()):
            counts = {(s, y): n for s, y, n in con.execute(
                f"select scenario_id, simulation_year, count(*) from {model} group by all").fetchall()}
            expected = {(s, y): pq.ParquetFile(catalog_run / "results" / s / str(y) / f"{model}.parquet")
                        .metadata.num_rows for s in SCENARIOS for y in YEARS}
            assert counts == expected, model
    # views, not copies: the catalog is a small fraction of the files it shows
    exported = sum(p.stat().st_size for p in (catalog_run / "results").glob("*/*/*.parquet"))
    assert (catalog_run / "results" / "catalog.duckdb").stat().st_size < exported / 10


# ------------------------------------------------------------------------- the worked examples
def test_participation_by_age_band_in_2029(catalog_run):
    got = query(catalog_run / "results", doc_queries()["participation"])
    snap = frames(catalog_run, "fct_workforce_snapshot")
    active = snap[(snap.simulation_year == 2029) & snap.is_active]
    rows = []
    for sid in SCENARIOS:
        for band, low, high in AGE_BANDS:
            people = active[(active.scenario_id == sid) & active.age.between(low, high)]
            if len(people):
                eligible, participants = int(people.is_eligible.sum()), int(people.is_enrolled.sum())
                rows.append((sid, band, eligible, participants, round(participants / eligible, 4)))
    assert list(got.columns) == ["scenario_id", "age_band", "eligible", "participants", "participation_rate"]
    assert [tuple(r)[:4] for r in got.itertuples(index=False)] == [r[:4] for r in rows]
    assert got.participation_rate.tolist() == pytest.approx([r[4] for r in rows], abs=1e-9)
    # the bands add up to the year's figures in summary.csv
    summary = summaries(catalog_run).query("simulation_year == 2029").set_index("scenario_id")
    totals = got.groupby("scenario_id")[["eligible", "participants"]].sum()
    assert totals.eligible.to_dict() == summary.eligible_count.to_dict()
    assert totals.participants.to_dict() == summary.participant_count.to_dict()
    # and auto-enrollment shows in every band
    by_band = got.pivot(index="age_band", columns="scenario_id", values="participation_rate")
    assert (by_band.baseline > by_band.no_auto_features).all()


def test_who_hit_the_402g_limit(catalog_run):
    got = query(catalog_run / "results", doc_queries()["limit"])
    contributions = frames(catalog_run, "int_employee_contributions")
    limited = contributions[contributions.is_402g_limited].sort_values(
        ["scenario_id", "simulation_year", "employee_id"])
    assert got.columns[:3].tolist() == ["scenario_id", "simulation_year", "employee_id"]
    assert got[["scenario_id", "simulation_year", "employee_id"]].values.tolist() == \
        limited[["scenario_id", "simulation_year", "employee_id"]].values.tolist()
    assert len(got) > 0 and set(got.scenario_id) == set(SCENARIOS)
    # every one deferred at least that year's 402(g) limit (the IRS table, not the model's column)
    limit_402g = got.simulation_year.map(lambda y: (OFFICIAL.get(y) or projected(y))[0])
    assert (got.employee_deferral.astype(float) >= limit_402g - 0.005).all()


def test_employer_cost_by_scenario_and_year(catalog_run):
    got = query(catalog_run / "results", doc_queries()["cost"])
    summary = summaries(catalog_run).sort_values(["scenario_id", "simulation_year"], ignore_index=True)
    assert got[["scenario_id", "simulation_year"]].values.tolist() == \
        summary[["scenario_id", "simulation_year"]].values.tolist()
    for column in ("employer_match", "employer_core"):
        assert got[column].astype(float).round(2).tolist() == pytest.approx(summary[column].tolist(), abs=0.005)
    assert got.employer_cost.astype(float).tolist() == pytest.approx(
        (summary.employer_match + summary.employer_core).tolist(), abs=0.01)
    assert got.employer_cost_pct_of_payroll.astype(float).tolist() == pytest.approx(
        summary.employer_cost_pct_of_payroll.tolist(), abs=1e-4)
    # the auto features cost the employer more match every year
    match = got.pivot(index="simulation_year", columns="scenario_id", values="employer_match").astype(float)
    assert (match.baseline > match.no_auto_features).all()


def test_the_documented_outputs_have_the_columns_the_queries_give(catalog_run):
    for key, (sql, columns) in doc_examples().items():
        assert query(catalog_run / "results", sql).columns.tolist() == columns, key


# ------------------------------------------------------------------------- moved results, CLI
def test_the_examples_give_the_same_answers_from_a_moved_copy_of_the_results(catalog_run, tmp_path):
    original = catalog_run / "results"
    first = tmp_path / "o'brien's plan" / "results copy"
    shutil.copytree(original, first, ignore=shutil.ignore_patterns("simulation.duckdb*", "*.xlsx", "plots"))
    moved = tmp_path / "archive 2029" / "d'arcy" / "run"
    moved.parent.mkdir(parents=True)
    shutil.move(first, moved)  # the copy's first home is gone: its views must follow it
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for key, sql in doc_queries().items():
        proc = plansim_sql(sql, "--csv", "--results", str(moved), cwd=elsewhere)
        assert proc.returncode == 0, proc.stderr
        from_copy = pd.read_csv(io.StringIO(proc.stdout))
        expected = query(original, sql)
        assert from_copy.columns.tolist() == expected.columns.tolist(), key
        pd.testing.assert_frame_equal(from_copy, pd.read_csv(io.StringIO(expected.to_csv(index=False))),
                                      check_dtype=False, obj=key)


def test_plansim_sql_prints_a_table_and_names_a_mistake(catalog_run):
    proc = plansim_sql("select scenario_id, count(*) as years from summary group by all order by 1",
                       cwd=catalog_run)
    assert proc.returncode == 0, proc.stderr
    assert [line.split() for line in proc.stdout.splitlines()] == [
        ["scenario_id", "years"], ["baseline", "5"], ["no_auto_features", "5"], ["(2", "rows)"]]
    proc = plansim_sql("select participation from summary", cwd=catalog_run)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("plansim: SQL error: ") and "participation" in proc.stderr
    assert "Traceback" not in proc.stderr


# ------------------------------------------------------------------------- the workflow
def test_the_catalog_is_rewritten_when_a_scenarios_results_change(catalog_run, tmp_path):
    assert "write_catalog" not in snakemake(catalog_run, "-n", "results/catalog.duckdb").stdout
    run = tmp_path / "wf"  # a copy: the session's run stays as it is
    shutil.copytree(catalog_run, run, symlinks=True)
    summary = run / "results" / "no_auto_features" / "summary.csv"
    frame = pd.read_csv(summary)
    frame.loc[frame.simulation_year == 2029, "participation_rate"] = 0.5
    frame.to_csv(summary, index=False)
    planned = snakemake(run, "-n", "results/catalog.duckdb").stdout
    assert re.search(r"^write_catalog\s+1$", planned, flags=re.M) and re.search(r"^total\s+1$", planned, flags=re.M), \
        planned
    before = (run / "results" / "catalog.duckdb").stat().st_mtime_ns
    snakemake(run, "--cores", "1", "results/catalog.duckdb")
    assert (run / "results" / "catalog.duckdb").stat().st_mtime_ns > before
    assert "write_catalog" not in snakemake(run, "-n", "results/catalog.duckdb").stdout
    rate = "select participation_rate from summary where scenario_id = 'no_auto_features' and simulation_year = 2029"
    assert query(run / "results", rate).participation_rate.tolist() == [0.5]


def test_the_catalog_is_a_localrule_under_the_slurm_profile(catalog_run):
    proc = snakemake(catalog_run, "results/catalog.duckdb", "--workflow-profile", "profiles/slurm",
                     "--forcerun", "write_catalog", env={"SLURM_CONF": "/dev/null"})
    assert re.search(r"^localrule write_catalog:$", proc.stdout + proc.stderr, flags=re.M)
    assert "SLURM jobid" not in proc.stdout + proc.stderr


def test_a_dry_run_from_a_clean_state_plans_the_catalog_once(workdir):
    planned = snakemake(workdir, "-n", "--cores", "1").stdout
    assert re.search(r"^write_catalog\s+1$", planned, flags=re.M), planned
