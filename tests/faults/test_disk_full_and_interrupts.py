"""Faults during a run (SPEC §5 resume, §7): a disk that fills up while a year exports, a
second `snakemake` on the same directory, and Ctrl-C (SIGINT). Each keeps what was complete,
leaves nothing half-written, says what happened, and can be resumed.

Each test works on a copy of the finished tiny run (tests/conftest.py tiny_run: 2025-2027,
scenario tiny, default seed) with year 2027 removed (and 2026 for the lock test), so only
one or two years run; the uninterrupted tiny_run is the reference for the results.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from conftest import BIN, process_tree, snakemake, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.fault]

TARGET = "results/tiny/2027/done"


def files_state(folder: Path) -> dict[str, tuple[int, int, str]]:
    """path -> (size, mtime_ns, sha256) of every file under ``folder``."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns,
                                         hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted(folder.rglob("*")) if p.is_file()}


def completed_state(wd: Path, years=(2025, 2026)) -> dict:
    """Every file the completed years (and the staged census) left under results/tiny/."""
    keep = {str(y) for y in years}
    return {k: v for k, v in files_state(wd / "results/tiny").items()
            if k == "staged_census.parquet" or k.split("/")[0] in keep}


def checksums(wd: Path, year: int) -> dict:
    return json.loads((wd / f"results/tiny/{year}/done").read_text())["content_checksums"]


def assert_nothing_half_written(wd: Path) -> None:
    leftovers = [str(p) for p in (wd / "results").rglob("*") if ".tmp" in p.name]
    assert not leftovers, f"temporary files left: {leftovers}"
    for path in (wd / "results").rglob("*.parquet"):
        pq.read_table(path)  # raises on a half-written file


@pytest.fixture
def year_2027_to_run(tiny_run: Path, tmp_path: Path) -> Path:
    wd = tmp_path / "wf"
    shutil.copytree(tiny_run, wd, symlinks=True)
    shutil.rmtree(wd / "results/tiny/2027")
    shutil.rmtree(wd / "logs/tiny/2027", ignore_errors=True)
    return wd


def _sigint_as_in_a_terminal() -> None:
    """Run in the child before exec. A harness that starts the tests in the background
    (`nohup ... &` in a shell without job control) has SIGINT ignored, an ignored signal stays
    ignored across exec, and Python then installs no KeyboardInterrupt handler: snakemake
    would not see the test's Ctrl-C at all."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(wd: Path, *args: str, log: Path, new_session: bool = False) -> subprocess.Popen:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.Popen([str(BIN / "snakemake"), *args], cwd=wd, env=env, stdout=log.open("w"),
                            stderr=subprocess.STDOUT, text=True, start_new_session=new_session,
                            preexec_fn=_sigint_as_in_a_terminal)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat")
    return not (state.exists() and state.read_text().split(") ", 1)[-1].startswith("Z"))


# --------------------------------------------------------------------------- (a) disk full


def mount_small_disk(folder: Path) -> bool:
    """A 64 KiB tmpfs at ``folder`` with one 4 KiB page left free (a filler file holds the
    rest, which also keeps Snakemake from trying to remove the mount point). False if this
    machine does not allow the mount."""
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True)
    if proc.returncode != 0:
        return False
    (folder / ".filler").write_bytes(b"\0" * (60 * 1024))
    return True


@pytest.mark.parametrize("disk", ["tmpfs", "injected"])
def test_disk_full_while_exporting_keeps_completed_years_and_leaves_nothing_half_written(disk, year_2027_to_run):
    """tmpfs: a real full disk (a tiny tmpfs mounted at results/tiny/2027; skipped where the
    machine does not allow the mount). injected: the documented hook PLANSIM_FAULT_EXPORT of
    scripts/plansim/state_files.py (half the file written, then ENOSPC), which needs no mount."""
    wd = year_2027_to_run
    before = completed_state(wd)
    year_dir = wd / "results/tiny/2027"
    mounted = disk == "tmpfs" and mount_small_disk(year_dir)
    if disk == "tmpfs" and not mounted:
        pytest.skip("mount -t tmpfs is not permitted here (the injected variant covers the fault)")
    env = {"PLANSIM_FAULT_EXPORT": "int_workforce_needs@2027"} if disk == "injected" else {}
    try:
        proc = snakemake(wd, "--cores", "2", TARGET, check=False, env=env, timeout=600)
        left_in_year = sorted(p.name for p in year_dir.iterdir() if p.name != ".filler") if year_dir.exists() else []
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(year_dir)], check=True)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-3000:]
    assert "plansim: export of int_" in output and "(scenario tiny, year 2027) to results/tiny/2027/" in output, \
        output[-4000:]
    assert "no space left on device" in output and "Nothing half-written is left" in output, output[-4000:]
    assert "--rerun-incomplete" in output
    if disk == "injected":
        assert "injected by PLANSIM_FAULT_EXPORT=int_workforce_needs@2027" in output
    assert left_in_year == [], f"the failed job left {left_in_year}"
    assert not (wd / "results/tiny/2027/done").exists()
    assert completed_state(wd) == before, "a file of a completed year changed"
    assert_nothing_half_written(wd)


# --------------------------------------------------------------------------- (b) second invocation


def test_a_second_snakemake_on_the_same_directory_is_refused_and_the_first_completes(
        year_2027_to_run, tiny_run, tmp_path):
    """The first run has two years to do (2026 is removed too), so it still holds the lock
    while the second starts under load (Snakemake's lock check itself races with a run that
    is just ending)."""
    wd = year_2027_to_run
    shutil.rmtree(wd / "results/tiny/2026")
    shutil.rmtree(wd / "logs/tiny/2026", ignore_errors=True)
    before = completed_state(wd, years=(2025,))
    first = start(wd, "--cores", "2", TARGET, log=tmp_path / "first.log")
    try:
        wait_for(lambda: (wd / "logs/tiny/2026/build_workforce_year.log").exists(), "the first job to start", first)
        second = snakemake(wd, "--cores", "2", TARGET, check=False, timeout=300)
        assert first.poll() is None, "the first run ended before the second tried: the test proved nothing"
    finally:
        first.wait(timeout=900)
    output = second.stdout + second.stderr
    assert second.returncode != 0
    assert "LockException" in output and "Directory cannot be locked" in output, output[-3000:]
    assert "no other Snakemake process is trying to create the same files" in output
    assert "Select jobs to execute" not in output, "the second run started jobs"

    assert first.returncode == 0, (tmp_path / "first.log").read_text()[-4000:]
    assert completed_state(wd, years=(2025,)) == before
    for year in (2026, 2027):
        assert checksums(wd, year) == checksums(tiny_run, year), f"{year} differs from tiny_run's"


# --------------------------------------------------------------------------- (c) Ctrl-C


@pytest.mark.parametrize("to", ["snakemake", "process_group"])
def test_sigint_during_a_year_stops_cleanly_and_resumes_to_the_uninterrupted_results(
        to, year_2027_to_run, tiny_run, tmp_path):
    """SIGINT to the snakemake process alone (Popen.send_signal: Snakemake lets the running job
    finish and marks its outputs incomplete), or to its whole process group, as Ctrl-C in a
    terminal does (the job's dbt build is interrupted too and its outputs are removed)."""
    wd = year_2027_to_run
    before = completed_state(wd)
    log = wd / "logs/tiny/2027/build_workforce_year.log"
    proc = start(wd, "--cores", "2", TARGET, log=tmp_path / "interrupted.log", new_session=to == "process_group")
    try:
        wait_for(lambda: log.exists() and " START sql " in log.read_text(), "the 2027 dbt build to run a model", proc)
        job_processes = process_tree(proc.pid)[1:]
        if to == "snakemake":
            proc.send_signal(signal.SIGINT)
        else:
            os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    output = (tmp_path / "interrupted.log").read_text()
    assert job_processes, "no job was running when SIGINT was sent"
    assert proc.returncode != 0, output[-3000:]
    assert "Terminating processes on user request" in output, output[-3000:]
    assert "At least one job did not complete successfully" in output
    deadline = time.monotonic() + 15
    while [pid for pid in job_processes if alive(pid)] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in job_processes if alive(pid)], "a job process outlived snakemake"
    assert not (wd / "results/tiny/2027/done").exists()
    assert not list((wd / ".snakemake/locks").glob("*")), "the lock was not released"
    assert completed_state(wd) == before, "a file of a completed year changed"
    assert_nothing_half_written(wd)

    # Resumable: no --unlock needed; the completed years are not recomputed.
    resumed = snakemake(wd, "--cores", "2", "--rerun-incomplete", TARGET, timeout=900)
    assert "Nothing to be done" not in resumed.stdout + resumed.stderr
    assert completed_state(wd) == before, "a completed year was recomputed"
    for year in (2025, 2026, 2027):
        assert checksums(wd, year) == checksums(tiny_run, year), f"{year} differs from the uninterrupted run"
