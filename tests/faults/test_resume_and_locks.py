"""Fault injection: kill -9 in the middle of a year's dbt build, then resume; another
process holding the scenario's DuckDB file briefly (retried) and past the bound (a clear
error naming the file and the holder's PID, nothing lost)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import BIN, process_tree, snakemake, tiny_config, wait_for, write_config
from plansim.db import BASE_DELAY, MAX_DELAY

pytestmark = [pytest.mark.slow, pytest.mark.fault]


def state_of(folder: Path) -> dict[str, tuple[int, bytes]]:
    return {str(p.relative_to(folder)): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def checksums(wd: Path, year: int) -> dict:
    return json.loads((wd / f"results/tiny/{year}/done").read_text())["content_checksums"]


def test_kill_9_mid_build_then_resume_finishes_without_recomputing_completed_years(workdir, tiny_run):
    write_config(workdir, tiny_config())
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.Popen([str(BIN / "snakemake"), "--cores", "2", "results/tiny/2027/done"], cwd=workdir,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    plan_log = workdir / "logs/tiny/2026/build_plan_year.log"
    try:
        wait_for(lambda: plan_log.exists() and " START sql " in plan_log.read_text(),
                 "the 2026 plan phase's dbt build to start a model", proc)
        victims = process_tree(proc.pid)  # snakemake and the job running dbt, like a crash
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert len(victims) >= 2, "the dbt job was not running"
    time.sleep(0.5)
    assert "Done. PASS=" not in plan_log.read_text(), "the build had finished before the kill"
    assert not (workdir / "results/tiny/2026/plan_phase.json").exists()
    # everything complete at the kill (2025's phases, maybe its sentinel; 2026's workforce phase)
    completed = {year: state_of(workdir / f"results/tiny/{year}") for year in (2025, 2026)}
    assert "plan_phase.json" in completed[2025] and "workforce_phase.json" in completed[2026]

    snakemake(workdir, "--unlock")
    snakemake(workdir, "--cores", "2", "--rerun-incomplete", "results/tiny/2027/done")

    for year, files in completed.items():
        now = state_of(workdir / f"results/tiny/{year}")
        recomputed = [name for name, state in files.items() if now.get(name) != state]
        assert not recomputed, f"completed outputs of {year} were recomputed: {recomputed}"
    for year in (2025, 2026, 2027):
        assert checksums(workdir, year) == checksums(tiny_run, year), f"{year} differs from an uninterrupted run"


@pytest.fixture
def first_year_done(workdir):
    write_config(workdir, tiny_config())
    snakemake(workdir, "--cores", "2", "results/tiny/2025/done")
    return workdir


def hold_database(path: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); "
                               "print('held', flush=True); time.sleep(float(sys.argv[2]))", str(path), str(seconds)],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_briefly_held_database_is_retried_with_backoff_and_the_year_completes(first_year_done, tmp_path):
    """The holder lets go after the job has retried twice, not after a fixed time: how long
    snakemake takes to start its first job (the SLURM plugin's probe alone can take 9 s) must
    not decide whether the job ever meets the lock."""
    wd = first_year_done
    log_path = wd / "logs/tiny/2026/build_workforce_year.log"
    holder = hold_database(wd / "results/tiny/simulation.duckdb", 600)
    retry_text = f"is locked by PID {holder.pid}; retry"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "PLANSIM_LOCK_MAX_WAIT": "90"}
    with open(tmp_path / "snakemake.log", "w") as out:
        proc = subprocess.Popen([str(BIN / "snakemake"), "--cores", "2", "results/tiny/2026/done"], cwd=wd, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: log_path.exists() and log_path.read_text().count(retry_text) >= 2,
                 "the workforce job to retry the held database twice", proc)
    finally:
        holder.kill()
        holder.wait()
        proc.wait(timeout=900)
    assert proc.returncode == 0, (tmp_path / "snakemake.log").read_text()[-4000:]
    log = log_path.read_text()
    retries = [line for line in log.splitlines() if retry_text in line]
    assert len(retries) >= 2, log[-2000:]
    # bounded exponential backoff with full jitter: retry k waits at most min(MAX_DELAY, BASE_DELAY x 2^k),
    # attempts numbered 1, 2, ... in order, and all the waits fit in PLANSIM_LOCK_MAX_WAIT
    steps = [re.search(r"retry (\d+) in ([0-9.]+)s", line).groups() for line in retries]
    attempts, delays = [int(a) for a, _ in steps], [float(d) for _, d in steps]
    assert attempts == list(range(1, len(attempts) + 1)), attempts
    assert all(0 <= d <= min(MAX_DELAY, BASE_DELAY * 2 ** k) + 0.005 for k, d in zip(attempts, delays)), steps
    assert sum(delays) <= 90, steps
    assert (wd / "results/tiny/2026/done").exists()


def test_a_database_held_past_the_bound_fails_clearly_and_loses_nothing(first_year_done):
    wd = first_year_done
    before = state_of(wd / "results")
    database = wd / "results/tiny/simulation.duckdb"
    holder = hold_database(database, 120)
    try:
        proc = snakemake(wd, "--cores", "2", "results/tiny/2026/done", check=False,
                         env={"PLANSIM_LOCK_MAX_WAIT": "4"})
    finally:
        holder.kill()
        holder.wait()
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert f"database results/tiny/simulation.duckdb is locked by process PID {holder.pid}" in output, output[-3000:]
    assert "gave up after" in output
    after = state_of(wd / "results")
    assert {k: v for k, v in after.items() if k in before} == before, "a file under results/ changed"
    assert not (wd / "results/tiny/2026/workforce_phase.json").exists()
