"""The path scheme of a run, in one place: the rules (rules/*.smk), the jobs, the CLI, the bench
and the tests build every path of a scenario and year from here.

    results/<s>/staged_census.parquet        the validated census, canonical columns
    results/<s>/simulation.duckdb            the scenario's DuckDB file
    results/<s>/<year>/<model>.parquet       a year's exports (plansim.phases.EXPORTS)
    results/<s>/<year>/<phase>_phase.json    a phase's marker; summary.json, done: the audit's
    .plansim/<s>/                            plansim's own state: dbt target, pre-flight, scenario.json
    logs/<s>/..., benchmarks/<s>/...         rule logs (dbt's in logs/<s>/dbt), per-rule timings
"""

from __future__ import annotations

from pathlib import Path

RESULTS = "results"
LOGS = "logs"
BENCH = "benchmarks"
STATE = ".plansim"


def year_dir(scenario: str, year: int | str, results: str | Path = RESULTS) -> str:
    return f"{results}/{scenario}/{year}"


def model_file(scenario: str, year: int | str, model: str, results: str | Path = RESULTS) -> str:
    """A year's export of ``model`` (``scenario``/``year`` may be Snakemake's ``{wildcards}``)."""
    return f"{year_dir(scenario, year, results)}/{model}.parquet"


def staged_census(scenario: str, results: str | Path = RESULTS) -> str:
    return f"{results}/{scenario}/staged_census.parquet"


def scenario_paths(results_dir: str | Path, scenario_id: str) -> dict[str, Path]:
    """The scenario's DuckDB file, and its own dbt target and log paths (concurrent
    scenarios never share dbt's partial-parse state or logs); its resolved config (jobs.save_scenario)."""
    return {"database": Path(results_dir) / scenario_id / "simulation.duckdb",
            "target": Path(STATE) / scenario_id / "target",
            "scenario": Path(STATE) / scenario_id / "scenario.json",
            "logs": Path(LOGS) / scenario_id / "dbt"}
