"""Shared test helpers: run the real workflow in a scratch copy of the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
TINY_CENSUS = REPO / "tests" / "data" / "tiny_census.csv"
SAMPLE_CENSUS = REPO / "data" / "sample_census.csv"
WORKFLOW_PARTS = ["Snakefile", "rules", "scripts", "dbt", "schemas", "profiles", "config.yaml", "data", "report"]
BIN = Path(sys.executable).parent


def copy_workflow(dest: Path) -> Path:
    """A runnable copy of the workflow (code, dbt project, profiles, bundled data)."""
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("target", "logs", "__pycache__", ".user.yml")
    for part in WORKFLOW_PARTS:
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=ignore, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dest / part)
    (dest / "tests" / "data").mkdir(parents=True, exist_ok=True)
    shutil.copy2(TINY_CENSUS, dest / "tests" / "data" / "tiny_census.csv")
    return dest


def base_config(**overrides) -> dict:
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg.update(overrides)
    return cfg


def write_config(workdir: Path, cfg: dict) -> Path:
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: float = 900,
              env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real `snakemake` command in ``workdir``; return the completed process."""
    full_env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **(env or {})}
    proc = subprocess.run([str(BIN / "snakemake"), *args], cwd=workdir, env=full_env, text=True,
                          capture_output=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}")
    return proc


def wait_for(predicate, what: str, proc: subprocess.Popen | None = None, timeout: float = 600) -> None:
    """Poll ``predicate`` until true; fail naming ``what`` on timeout, or when ``proc`` (the run
    the test waits on) has already ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the run ended (exit {proc.returncode}) before {what}")
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants (Snakemake starts jobs in their own process groups, so a
    process group signal would miss them)."""
    children: dict[int, list[int]] = {}
    for line in subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True).stdout.splitlines():
        pid, ppid = map(int, line.split())
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def tiny_config(**overrides) -> dict:
    """Config for the hand-made tiny census: one scenario, 2025-2027, with a 10% core contribution so
    that 415(c) binds for its high earners (TINY_039: the 415(c) + catch-up case)."""
    cfg = base_config(census="tests/data/tiny_census.csv", start_year=2025, end_year=2027,
                      scenarios={"tiny": {"plan_design": {"core_contribution_rate": 0.10}}})
    cfg.update(overrides)
    return cfg


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return copy_workflow(tmp_path / "wf")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """One 3-year run of the tiny census, shared by the invariant tests."""
    wd = copy_workflow(tmp_path_factory.mktemp("tiny") / "wf")
    write_config(wd, tiny_config())
    snakemake(wd, "--cores", "2", "results/tiny/2027/done")
    return wd


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory) -> Path:
    """The 5,000-employee sample census, 2025-2029 (the default config), with and without
    auto-enrollment + auto-escalation (scenarios `baseline` and `no_auto_features`: what the
    README's figures show; the default config's third scenario changes neither)."""
    wd = copy_workflow(tmp_path_factory.mktemp("sample") / "wf")
    cfg = base_config(scenarios={"baseline": {}, "no_auto_features": {"plan_design_id": "no_auto"}})
    write_config(wd, cfg)
    snakemake(wd, "--cores", "2", "results/baseline/summary.csv", "results/no_auto_features/summary.csv")
    return wd


@pytest.fixture(scope="session")
def vesting_run(tmp_path_factory) -> Path:
    """The sample census, 2025-2027, the standard formula under cliff-3 and under immediate vesting."""
    wd = copy_workflow(tmp_path_factory.mktemp("vesting") / "wf")
    write_config(wd, base_config(end_year=2027, scenarios=SAMPLE_VESTING_SCENARIOS))
    snakemake(wd, "--cores", "2", *(f"results/{sid}/summary.csv" for sid in SAMPLE_VESTING_SCENARIOS))
    return wd


# The vesting run's two designs: the standard formula; the money differs only by the vesting schedule.
# The cliff-3 design also tests ADP/ACP by the prior-year method (tests/e2e/test_compliance.py: the
# same workforce tested two ways); a testing method does not change contributions or balances.
SAMPLE_VESTING_SCENARIOS = {
    sid: {"plan_design": {"vesting": {"match": schedule, "core": schedule}, "compliance": {"testing_method": method}}}
    for sid, schedule, method in (("vesting_cliff_3", "cliff_3", "prior_year"),
                                  ("vesting_immediate", "immediate", "current_year"))
}


# The analyst-outputs run: the tiny census, 2025-2026, with and without auto features.
REPORT_SCENARIOS = ["tiny", "tiny_no_auto"]
REPORT_YEARS = [2025, 2026]
REPORT_SHEETS = ["Summary", "Events by type", "Compliance", f"Workforce {REPORT_YEARS[-1]}", "Assumptions",
                 "Run metadata"]


def report_config() -> dict:
    return tiny_config(end_year=REPORT_YEARS[-1],
                       scenarios={"tiny": {}, "tiny_no_auto": {"plan_design_id": "no_auto"}})


@pytest.fixture(scope="session")
def report_run(tmp_path_factory) -> Path:
    """What `make run` does after the install: `plansim report --out results/report.html` (rule all,
    then `snakemake --report`), its terminal output kept in plansim_report.out; read by
    tests/e2e/test_reports.py, test_workbook_libreoffice.py and test_make_run.py."""
    wd = copy_workflow(tmp_path_factory.mktemp("reports") / "wf")
    write_config(wd, report_config())
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([str(BIN / "plansim"), "report", "--cores", "2", "--out", "results/report.html"], cwd=wd,
                          env=env, text=True, capture_output=True, timeout=900)
    assert proc.returncode == 0, f"plansim report failed ({proc.returncode}):\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
    (wd / "plansim_report.out").write_text(proc.stdout)
    return wd
