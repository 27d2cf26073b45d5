"""Scale-out: the real workflow through Snakemake's SLURM executor on a single-node cluster.

The module brings up the local test cluster with the project's own script
(scripts/slurm/start_local_slurm.sh, needs root; CI runs `make test` as root after
scripts/ci/install_system_deps.sh) and stops it at the end. If the cluster cannot be
started the tests fail with the script's message; they never skip.

One SLURM run (`--workflow-profile profiles/slurm`, every rule an sbatch job) covers
  - two scenarios x two years, compared with a local run of the same config, and
  - a sweep of 3 escalation caps x 2 match formulas (6 scenarios, one year each).
The local reference run goes on in the background while SLURM works: the SLURM run is
mostly waiting (job start-up, status polls), so the two overlap well on 2 cores.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from conftest import BIN, REPO, copy_workflow, snakemake, tiny_config, write_config

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

START = REPO / "scripts" / "slurm" / "start_local_slurm.sh"
STOP = REPO / "scripts" / "slurm" / "stop_local_slurm.sh"
# The node offers at least 8 CPUs (oversubscribing a 2-core host): plansim's jobs on the
# tiny census are short and mostly start-up, so letting all of --jobs 8 start at once keeps
# the longest year chain from queueing behind the sweep (a dbt job takes dbt_threads=2 CPUs).
SLURM_CPUS = max(8, os.cpu_count() or 1)
SLURM_ENV = {"PATH": f"{os.environ.get('PATH', '')}{os.pathsep}/usr/sbin{os.pathsep}/sbin"}

COMPARED = ["cmp_base", "cmp_rich"]
YEARS = [2025, 2026]
CAPS = [0.08, 0.10, 0.15]
LOW_MATCH = [{"from": 0.0, "to": 0.03, "rate": 0.5}]
HIGH_MATCH = [{"from": 0.0, "to": 0.06, "rate": 1.0}]
# grid order: the first key varies slowest -> grid_001 = (0.08, low), grid_002 = (0.08, high), ...
SWEEP = {f"grid_{n:03d}": (cap, match) for n, (cap, match) in
         enumerate(((c, m) for c in CAPS for m in ("low", "high")), start=1)}
DBT_THREADS = 2


def cluster_config() -> dict:
    return tiny_config(
        end_year=YEARS[-1], dbt_threads=DBT_THREADS,
        scenarios={
            "cmp_base": {},
            "cmp_rich": {"plan_design": {"match_tiers": HIGH_MATCH, "auto_escalation": {"cap": 0.12}}},
        },
        # scope all_participants: the census's own participants escalate on the first Jan 1, so the
        # cap bites within the sweep's one year (auto-enrolled hires first escalate a year later)
        sweeps={"grid": {"base": {"end_year": YEARS[0],
                                  "plan_design": {"auto_escalation": {"scope": "all_participants"}}},
                         "grid": {"plan_design.auto_escalation.cap": CAPS,
                                  "plan_design.match_tiers": [LOW_MATCH, HIGH_MATCH]}}},
    )


def summary_target(scenario: str) -> str:
    return f"results/{scenario}/summary.csv"


def _cluster_cmd(script: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(script)], env={**os.environ, **SLURM_ENV, "PLANSIM_SLURM_CPUS": str(SLURM_CPUS)},
                          capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def slurm_cluster(request):
    """The single-node cluster on localhost, up for this module only."""
    def stop():
        if os.environ.get("PLANSIM_SLURM_KEEP") == "1":  # `make test` started it and stops it
            return
        proc = _cluster_cmd(STOP)
        if proc.returncode != 0:  # leave a trace, do not mask the tests' own result
            print(f"{STOP} failed ({proc.returncode}):\n{proc.stderr}")

    request.addfinalizer(stop)  # also after a half-finished start
    proc = _cluster_cmd(START)
    if proc.returncode != 0:
        pytest.fail(f"the local SLURM cluster did not start: {START} exited {proc.returncode}:\n"
                    f"{proc.stderr[-6000:]}{proc.stdout[-2000:]}", pytrace=False)
    return proc.stderr


@dataclass
class SlurmRun:
    wd: Path            # the workflow copy run through --executor slurm
    local: Path         # the same config, run locally
    log: str            # snakemake's stdout + stderr of the SLURM run
    jobs: pd.DataFrame  # squeue's record of the run's SLURM jobs


def squeue_jobs(run_uuid: str) -> pd.DataFrame:
    """Every job of the run as squeue still knows it (MinJobAge=3600 keeps finished jobs)."""
    fields = {"jobid": "%i", "state": "%T", "cpus": "%C", "min_memory": "%m", "time_limit": "%l",
              "start": "%S", "end": "%e", "comment": "%k"}
    out = subprocess.run(["squeue", "-h", "-t", "all", f"--name={run_uuid}", "-o", "|".join(fields.values())],
                         capture_output=True, text=True, check=True, env={**os.environ, **SLURM_ENV}).stdout
    rows = [line.split("|") for line in out.splitlines() if line.strip()]
    frame = pd.DataFrame(rows, columns=list(fields))
    frame["start"] = pd.to_datetime(frame["start"])
    frame["end"] = pd.to_datetime(frame["end"])
    return frame


@pytest.fixture(scope="module")
def slurm_run(slurm_cluster, tmp_path_factory) -> SlurmRun:
    base = tmp_path_factory.mktemp("slurm")
    wd, local = copy_workflow(base / "slurm"), copy_workflow(base / "local")
    for folder in (wd, local):
        write_config(folder, cluster_config())

    # the reference: same config, local executor, profiles/default (started first, runs alongside)
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    local_log = (base / "local.log").open("w")
    reference = subprocess.Popen([str(BIN / "snakemake"), "--cores", "2", *map(summary_target, COMPARED)],
                                 cwd=local, env=env, stdout=local_log, stderr=subprocess.STDOUT, text=True)
    try:
        proc = snakemake(
            wd, "--workflow-profile", "profiles/slurm",
            "--jobs", "8",
            # the profile's 5 s wait before the first status query is meant for real
            # clusters; on localhost a 1 s poll shortens every step of the year chain
            "--slurm-init-seconds-before-status-checks", "1",
            "--latency-wait", "10",
            "--slurm-keep-successful-logs",  # the per-job SLURM logs are part of the evidence
            *map(summary_target, COMPARED + list(SWEEP)),
            timeout=900)
        reference.wait(timeout=600)
    finally:
        if reference.poll() is None:
            reference.kill()
            reference.wait()
        local_log.close()
    assert reference.returncode == 0, f"local reference run failed:\n{(base / 'local.log').read_text()[-6000:]}"

    log = proc.stdout + proc.stderr
    run_uuid = re.search(r"SLURM run ID: (\S+)", log)
    assert run_uuid, f"no 'SLURM run ID' in the snakemake output:\n{log[-3000:]}"
    jobs = squeue_jobs(run_uuid.group(1))
    jobs.to_csv(base / "slurm_jobs.csv", index=False)  # kept with the run, for a look after a failure
    return SlurmRun(wd=wd, local=local, log=log, jobs=jobs)


def submitted(log: str) -> dict[str, str]:
    """SLURM job id -> the job's log path, from 'Job N has been submitted with SLURM jobid M (log: ...)'."""
    return dict(re.findall(r"has been submitted with SLURM jobid (\d+) \(log: (\S+?)\)", log))


def sorted_frame(path: Path) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


# --------------------------------------------------------------------------- results
@pytest.mark.parametrize("scenario", COMPARED)
def test_results_equal_a_local_run_of_the_same_config(slurm_run, scenario):
    cluster, local = slurm_run.wd / "results" / scenario, slurm_run.local / "results" / scenario
    for year in YEARS:
        a = json.loads((cluster / str(year) / "done").read_text())
        b = json.loads((local / str(year) / "done").read_text())
        assert a["content_checksums"] == b["content_checksums"], f"{scenario} {year}: content checksums differ"
        assert len(a["content_checksums"]) >= 4
        for key in ("row_counts", "config_hash", "summary"):
            assert a[key] == b[key], f"{scenario} {year}: {key} differs"

    files = sorted(p.relative_to(cluster) for p in cluster.rglob("*.parquet"))
    assert files == sorted(p.relative_to(local) for p in local.rglob("*.parquet"))
    assert len(files) >= 1 + 7 * len(YEARS)  # staged census + every year's exports
    for name in files:
        pd.testing.assert_frame_equal(sorted_frame(cluster / name), sorted_frame(local / name), obj=str(name))
    assert (cluster / "summary.csv").read_text() == (local / "summary.csv").read_text()


def test_the_compared_scenarios_differ_where_their_plan_designs_do(slurm_run):
    base, rich = (pd.read_csv(slurm_run.wd / "results" / s / "summary.csv") for s in COMPARED)
    assert list(base.simulation_year) == YEARS == list(rich.simulation_year)
    assert (base.headcount_end == rich.headcount_end).all()   # same workforce
    assert (rich.employer_match > base.employer_match).all()  # richer match


# --------------------------------------------------------------------------- it really was SLURM
def test_every_job_was_an_sbatch_job_that_completed(slurm_run):
    jobs = submitted(slurm_run.log)
    # every job the main process started is either an sbatch job ("rule X:") or one of the
    # workflow's localrules ("localrule X:"), and together they are all the planned jobs
    remote_headers = re.findall(r"^rule (\w+):$", slurm_run.log, flags=re.M)
    local_headers = re.findall(r"^localrule (\w+):$", slurm_run.log, flags=re.M)
    assert len(jobs) == len(remote_headers) > 0
    planned = int(re.search(r"^Job stats:\n(?:.*\n)*?total\s+(\d+)$", slurm_run.log, flags=re.M).group(1))
    assert len(jobs) + len(local_headers) == planned

    frame = slurm_run.jobs
    assert set(frame.jobid) == set(jobs), "squeue does not know exactly the jobs snakemake submitted"
    assert (frame.state == "COMPLETED").all(), frame.loc[frame.state != "COMPLETED"].to_string()

    # the plugin's per-job SLURM log: written by snakemake running inside the allocation
    for jobid, path in jobs.items():
        text = Path(path).read_text()
        assert f"{jobid}.log" in path and "--mode remote" in text and "Finished jobid" in text, path

    # both dbt phases of every scenario-year went through sbatch
    for scenario in COMPARED + list(SWEEP):
        years = YEARS if scenario in COMPARED else YEARS[:1]
        for rule in ("build_workforce_year", "build_plan_year"):
            for year in years:
                assert any(f"rule_{rule}/{scenario}_{year}/" in p for p in jobs.values()), (rule, scenario, year)


def test_rule_resources_and_profile_defaults_reach_sbatch(slurm_run):
    frame = slurm_run.jobs.assign(rule=slurm_run.jobs.comment.str.extract(r"^rule_(\w+?)(?:_wildcards_|$)")[0])
    dbt = frame[frame.rule.isin(["build_workforce_year", "build_plan_year"])]
    assert len(dbt) == 2 * (len(COMPARED) * len(YEARS) + len(SWEEP))
    # threads: dbt_threads -> --cpus-per-task; mem_mb / runtime from rules/common.smk (floors: 2000 MB, 15 min)
    assert (dbt.cpus == str(DBT_THREADS)).all(), dbt[["comment", "cpus"]].to_string()
    assert (dbt.min_memory == "2000M").all(), dbt[["comment", "min_memory"]].to_string()
    assert (dbt.time_limit == "15:00").all(), dbt[["comment", "time_limit"]].to_string()
    # census staging and the audit read the scenario's data: sized by the same functions, 1 CPU
    rest = frame[frame.rule.isin(["stage_census", "audit_year"])]
    assert set(rest.rule) == {"stage_census", "audit_year"}
    assert (rest.min_memory == "2000M").all() and (rest.time_limit == "15:00").all() and (rest.cpus == "1").all()
    # the cheap report-side rules are localrules: never an sbatch job
    assert not frame.rule.isin(["finalize_scenario", "tabulate_scenario", "plot_scenario", "compare_scenarios",
                                 "write_catalog", "document_models"]).any()
    # the workflow profile replaces profiles/default, so it must bring its own DuckDB writer limit
    assert re.search(r"Provided resources: .*duckdb=Resource\(\"duckdb\", 20\)", slurm_run.log), \
        "profiles/slurm does not set the duckdb resource limit"


def test_a_scenarios_duckdb_writers_never_overlap(slurm_run):
    frame = slurm_run.jobs
    writers = frame[frame.comment.str.match(r"rule_build_(workforce|plan)_year_wildcards_")].copy()
    writers["scenario"] = writers.comment.str.extract(r"_wildcards_(\w+)_\d{4}$")[0]
    for scenario, jobs in writers.groupby("scenario"):
        jobs = jobs.sort_values("start")
        assert (jobs.start.iloc[1:].values >= jobs.end.iloc[:-1].values).all(), \
            f"{scenario}: two DuckDB writers ran at once\n{jobs[['comment', 'start', 'end']].to_string()}"


# --------------------------------------------------------------------------- the sweep
def test_a_sweep_of_six_scenarios_runs_and_differs_where_it_should(slurm_run):
    summaries = {}
    for scenario in SWEEP:
        path = slurm_run.wd / "results" / scenario / "summary.csv"
        assert path.is_file(), f"{path} missing"
        summaries[scenario] = pd.read_csv(path).iloc[0]
        assert summaries[scenario].simulation_year == YEARS[0]
    frame = pd.DataFrame(summaries).T
    frame["cap"] = [SWEEP[s][0] for s in frame.index]
    frame["match"] = [SWEEP[s][1] for s in frame.index]

    # the plan design does not touch the workforce
    assert frame.headcount_end.nunique() == 1 and frame.total_payroll.nunique() == 1
    # a richer match formula costs more at every cap
    by_match = frame.pivot(index="cap", columns="match", values="employer_match").astype(float)
    assert (by_match["high"] > by_match["low"]).all(), by_match.to_string()
    # a higher escalation cap lets escalated deferral rates (and deferrals) go higher
    for match, rows in frame.groupby("match"):
        rows = rows.sort_values("cap")
        assert rows.average_deferral_rate.astype(float).is_monotonic_increasing, rows.to_string()
        assert rows.average_deferral_rate.iloc[-1] > rows.average_deferral_rate.iloc[0], rows.to_string()
        assert rows.employee_deferrals.astype(float).is_monotonic_increasing
    # the sweep's scenarios are the resolved grid: the done sentinel carries each one's config hash
    hashes = {json.loads((slurm_run.wd / "results" / s / str(YEARS[0]) / "done").read_text())["config_hash"]
              for s in SWEEP}
    assert len(hashes) == len(SWEEP)
