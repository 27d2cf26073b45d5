"""Running the project's dbt unit tests from pytest (tests/dbt/): build the selected models with
--empty (their fixtures take the upstream tables' columns) and every unit test on the way, read
each unit test's status, and make a copy of the project with one hand-computed figure changed."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

from conftest import REPO, TINY_CENSUS
from plansim.census import stage_census
from plansim.config import load_scenarios
from plansim.dbt_runner import invoke
from plansim.phases import year_vars


def build_unit_tests(project: Path, tmp_path: Path, select: list[str]):
    """``dbt build --select <select> --empty`` (data tests excluded) in ``project``: raises
    QualityGateError naming a unit test that fails."""
    scn = load_scenarios(project / "config.yaml")["baseline"]
    results = tmp_path / "results"
    stage_census(TINY_CENSUS, results / "baseline" / "staged_census.parquet", dt.date(2024, 12, 31))
    return invoke(["build", "--select", *select, "--empty", "--exclude-resource-type", "test"],
                  database=tmp_path / "ut.duckdb", target_path=tmp_path / "target", log_path=tmp_path / "logs",
                  dbt_vars=year_vars(scn, 2025, str(results)), threads=1, what="dbt unit tests", log=lambda m: None)


def unit_test_statuses(tmp_path: Path) -> dict[str, str]:
    """name -> status of every unit test of the last build (target/run_results.json)."""
    run = json.loads((tmp_path / "target" / "run_results.json").read_text())
    return {r["unique_id"].rsplit(".", 1)[-1]: r["status"] for r in run["results"]
            if r["unique_id"].startswith("unit_test.")}


def project_with_figure(tmp_path: Path, spec: str, figure: str, wrong: str, count: int = 1) -> Path:
    """A copy of the project where ``figure`` (found ``count`` times in ``spec``) reads ``wrong``."""
    project = tmp_path / "project"
    shutil.copytree(REPO / "dbt", project / "dbt", ignore=shutil.ignore_patterns("target", "logs"))
    shutil.copy2(REPO / "config.yaml", project / "config.yaml")
    shutil.copytree(REPO / "data", project / "data")
    path = project / spec
    text = path.read_text()
    assert text.count(figure) == count, f"{figure!r} is not in {spec} {count} time(s)"
    path.write_text(text.replace(figure, wrong))
    return project
