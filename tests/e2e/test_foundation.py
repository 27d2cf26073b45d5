"""Foundation: the whole pipeline through the real `snakemake` command on the tiny census."""

from __future__ import annotations

import json
import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pandas as pd
import pytest

from conftest import copy_workflow, snakemake, tiny_config, write_config

pytestmark = pytest.mark.slow

YEARS = [2025, 2026, 2027]


def read(wd, year, model, scenario="tiny"):
    return pd.read_parquet(wd / "results" / scenario / str(year) / f"{model}.parquet")


def test_every_year_has_its_marts_and_sentinel(tiny_run):
    for year in YEARS:
        folder = tiny_run / "results" / "tiny" / str(year)
        for name in ("fct_workforce_snapshot.parquet", "fct_yearly_events.parquet", "done"):
            assert (folder / name).is_file(), f"{folder / name} missing"
        done = json.loads((folder / "done").read_text())
        assert done["simulation_year"] == year
        assert done["row_counts"]["fct_workforce_snapshot"] == len(read(tiny_run, year, "fct_workforce_snapshot"))
        assert set(done["versions"]) >= {"duckdb", "dbt-core", "snakemake"}


def test_headcount_hits_the_growth_target_exactly_and_rolls_forward(tiny_run):
    growth = Decimal(str(tiny_config()["workforce"]["target_growth_rate"]))
    term_rate = Decimal(str(tiny_config()["workforce"]["termination_rate"]))
    start = len(pd.read_parquet(tiny_run / "results" / "tiny" / "staged_census.parquet"))
    for year in YEARS:
        snap = read(tiny_run, year, "fct_workforce_snapshot")
        events = read(tiny_run, year, "fct_yearly_events")
        end = int(snap["is_active"].sum())
        target = int((start * (1 + growth)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        terms = int(((events.event_type == "termination") & (events.event_subtype == "experienced_termination")).sum())
        retirements = int((events.event_type == "retirement").sum())
        nh_terms = int(((events.event_type == "termination") & (events.event_subtype == "new_hire_termination")).sum())
        hires = int((events.event_type == "hire").sum())
        assert end == target, f"{year}: {end} active at year end, target {target}"
        assert end == start - retirements - terms + hires - nh_terms, f"{year}: roll-forward broken"
        # retirements are drawn first; experienced terminations = round(start x rate), or more when the
        # survivors of retirement alone are above the target
        expected_terms = max(int((start * term_rate).quantize(Decimal(1), rounding=ROUND_HALF_UP)),
                             start - retirements - target)
        assert terms == expected_terms, f"{year}: {terms} experienced terminations, expected {expected_terms}"
        # next year's starting workforce is exactly this year's active rows
        state = read(tiny_run, year, "int_year_end_workforce_state")
        assert sorted(state.employee_id) == sorted(snap.loc[snap.is_active, "employee_id"])
        start = end


def test_terminated_census_rows_are_not_in_the_baseline(tiny_run):
    census = pd.read_csv(tiny_run / "tests" / "data" / "tiny_census.csv")
    gone = census.loc[census.termination_date.notna(), "employee_id"]
    assert len(gone) > 0
    snap = read(tiny_run, 2025, "fct_workforce_snapshot")
    assert not set(gone) & set(snap.employee_id)


def _all_outputs(wd, scenario):
    out = {}
    for path in sorted((wd / "results" / scenario).rglob("*.parquet")):
        frame = pd.read_parquet(path)
        out[str(path.relative_to(wd))] = frame.sort_values(list(frame.columns)).reset_index(drop=True)
    return out


def test_same_config_gives_identical_content_and_another_seed_differs(tiny_run, tmp_path):
    again = copy_workflow(tmp_path / "again")
    write_config(again, tiny_config())
    snakemake(again, "--cores", "2", "results/tiny/2027/done")
    first, second = _all_outputs(tiny_run, "tiny"), _all_outputs(again, "tiny")
    assert first.keys() == second.keys() and len(first) > 20
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name], obj=name)
    for year in YEARS:
        a = json.loads((tiny_run / "results/tiny" / str(year) / "done").read_text())["content_checksums"]
        b = json.loads((again / "results/tiny" / str(year) / "done").read_text())["content_checksums"]
        assert a == b

    other = copy_workflow(tmp_path / "other_seed")
    write_config(other, tiny_config(random_seed=7))
    snakemake(other, "--cores", "2", "results/tiny/2025/done")

    def terminated(wd):
        ev = read(wd, 2025, "fct_yearly_events")
        return set(ev.loc[ev.event_type == "termination", "employee_id"])

    assert terminated(other) != terminated(tiny_run)


def _job_span(log: Path) -> tuple[int, int]:
    """Seconds of the day of a job's first and last log line ("HH:MM:SS message", plansim.jobs)."""
    stamps = [line[:8] for line in log.read_text().splitlines() if re.match(r"\d\d:\d\d:\d\d ", line)]
    h0, m0, s0 = map(int, stamps[0].split(":"))
    h1, m1, s1 = map(int, stamps[-1].split(":"))
    return h0 * 3600 + m0 * 60 + s0, h1 * 3600 + m1 * 60 + s1


def test_two_scenarios_run_in_parallel_without_lock_errors(workdir):
    # one dbt thread a job: --cores 2 then runs a phase of each scenario at once (duckdb=2 in the profile)
    cfg = tiny_config(end_year=2026, dbt_threads=1,
                      scenarios={"tiny_a": {}, "tiny_b": {"workforce": {"target_growth_rate": 0.10}}})
    write_config(workdir, cfg)
    proc = snakemake(workdir, "--cores", "2")
    spans = {sid: [_job_span(p) for p in (workdir / "logs" / sid).glob("*/build_*_year.log")] for sid in ("tiny_a", "tiny_b")}
    assert any(max(a[0], b[0]) < min(a[1], b[1]) for a in spans["tiny_a"] for b in spans["tiny_b"]), \
        f"no phase job of tiny_a ran while one of tiny_b did: {spans}"
    for scenario in ("tiny_a", "tiny_b"):
        summary = pd.read_csv(workdir / "results" / scenario / "summary.csv")
        assert list(summary.simulation_year) == [2025, 2026]
    logs = "\n".join(p.read_text() for p in (workdir / "logs").rglob("*.log"))
    assert "locked" not in (proc.stdout + proc.stderr + logs).lower()
    a = pd.read_csv(workdir / "results/tiny_a/summary.csv")
    b = pd.read_csv(workdir / "results/tiny_b/summary.csv")
    assert (b.headcount_end > a.headcount_end).all()


def test_dag_renders_with_graphviz(tiny_run, tmp_path):
    import shutil
    import subprocess

    dot = shutil.which("dot")
    assert dot, "graphviz `dot` is missing: run scripts/ci/install_system_deps.sh as root"
    dag = snakemake(tiny_run, "results/tiny/2027/done", "--dag").stdout
    svg = subprocess.run([dot, "-Tsvg"], input=dag, capture_output=True, text=True, check=True).stdout
    (tmp_path / "dag.svg").write_text(svg)
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    for rule in ("stage_census", "build_workforce_year", "build_plan_year", "audit_year"):
        assert rule in svg
    # one node per year of the chain, each labelled with its year as the picture shows it
    for year in (2025, 2026, 2027):
        assert dag.count(f'label = "build_workforce_year\\nyear: {year}"') == 1, year
        assert f">year: {year}</text>" in svg, year
