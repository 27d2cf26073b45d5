#!/usr/bin/env python
"""plansim benchmark harness (`make bench`, `make bench ARGS="..."`).

For each census size it generates a census with ``plansim.sample_census``, copies the
workflow into a scratch directory, and runs the real ``snakemake --cores N`` command on a
one-scenario config (start_year 2025, ``--years`` years), ``--reps`` times, each repetition
from a clean slate (results/, logs/, benchmarks/, .snakemake/, .plansim/ removed: census
validation, dbt's full parse and every phase are paid every time). It measures:

* wall clock, CPU (user+sys) and peak RSS of the snakemake process tree (``os.wait4``
  rusage of the snakemake process: it includes every descendant that was waited for, and its
  ru_maxrss is the largest RSS of any *single* process of the tree), plus the peak of the
  *summed* RSS of the live tree sampled from /proc every 0.5 s;
* dbt invocations and the SQL time dbt reports (the phase markers
  ``results/<s>/<y>/*_phase.json`` and the pre-flight's record, ``results/<s>/preflight.json`` or
  its stamp under ``.plansim/<s>/preflight/``: every object with a ``sql_seconds`` key is one dbt
  invocation);
* per-rule job times (Snakemake's own job records in ``.snakemake/metadata``: start and end
  of every job) and the rules' ``benchmark:`` TSVs (column ``s``);
* the floor: the compiled SQL of every model (``dbt compile`` per year with the pipeline's
  own ``--vars``) executed in DAG order in one DuckDB connection, no dbt and no Snakemake,
  with the two year-end handover exports the next year reads;
* batched phases (one ``dbt build --selector <phase selector>`` per phase, as the rules do)
  against model-by-model (one ``dbt build --select <model>`` per model, the seed story's
  orchestrator), both as ``dbt`` subprocesses so each pays process start-up.

It writes a markdown report (``--out``, default docs/performance.md) and CSVs
(``--csv``, default benchmarks/bench_results.csv, plus ``*_runs.csv`` with every repetition)
and prints the targets of issue 7 with PASS/MISS. Standard library + the project's installed
packages only.
"""

from __future__ import annotations

import argparse
import base64
import csv
import datetime as dt
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import threading
import time
from collections import defaultdict
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# What a runnable copy of the workflow needs (tests/conftest.py copies the same parts);
# parts missing from the source are skipped.
WORKFLOW_PARTS = ["Snakefile", "rules", "scripts", "dbt", "schemas", "profiles", "config.yaml", "report", "envs"]
COPY_IGNORE = ("target", "logs", "__pycache__", ".user.yml", "*.duckdb", "*.duckdb.wal", "scratch")
SCENARIO = "bench"
START_YEAR = 2025
DEFAULT_SIZES = "5000,60000,250000"
ONE_MILLION = 1_000_000
GIB = 1024 ** 3
MIB = 1024 ** 2
PAGE = os.sysconf("SC_PAGE_SIZE")
def handover() -> dict[str, str]:
    """The year-end models the next year's staging models read back (model -> var of the path),
    from the plansim package this run imports (plansim.phases.HANDOVER_VARS)."""
    from plansim.phases import HANDOVER_VARS

    return HANDOVER_VARS

TARGETS_TEXT = {
    "floor_60k": "60k x 5 years: pipeline wall <= 3x the floor",
    "floor_250k": "250k x 5 years: pipeline wall <= 1.6x the floor",
    "scaling": "250k x 5 years: wall(250k) / wall(60k) <= 4.5",
    "one_million": "1M x 10 years completes, peak RSS <= 12 GiB",
    "model_by_model": "model-by-model / batched >= 3",
}


def say(msg: str = "") -> None:
    print(msg, flush=True)


def fmt_s(x) -> str:
    return "-" if x is None else f"{x:.1f}"


def fmt_ratio(x) -> str:
    return "-" if x is None else f"{x:.2f}"


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


# --------------------------------------------------------------------------- processes
class TreeRssSampler(threading.Thread):
    """Peak of the summed RSS of a process and all its live descendants, polled from /proc."""

    def __init__(self, root_pid: int, interval: float = 0.5):
        super().__init__(daemon=True)
        self.root, self.interval, self.peak = root_pid, interval, 0
        self.loads: list[float] = []
        self.top = (0, "")  # largest sampled single process: (RSS bytes, what it was)
        self._names: dict[int, str] = {}
        self._stop_event = threading.Event()

    def describe(self, pid: int) -> str:
        if pid not in self._names:
            try:
                args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                args = [a.decode(errors="replace") for a in args if a]
                script = next((Path(a).name for a in args if a.endswith(".py")), "")
                # Snakemake runs a script: job as .snakemake/scripts/tmpXXXX.<script>.py
                self._names[pid] = script.split(".", 1)[-1] if script.startswith("tmp") else (
                    script or " ".join(Path(a).name for a in args[:2]))
            except OSError:
                self._names[pid] = "?"
        return self._names[pid]

    def tree_rss(self, root: int) -> int:
        children: dict[int, list[int]] = defaultdict(list)
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children[ppid].append(int(entry))
        total, stack = 0, [root]
        while stack:
            pid = stack.pop()
            try:
                with open(f"/proc/{pid}/statm") as fh:
                    rss = int(fh.read().split()[1]) * PAGE
                total += rss
                if rss > self.top[0]:
                    self.top = (rss, self.describe(pid))
            except (OSError, IndexError, ValueError):
                pass
            stack.extend(children.get(pid, ()))
        return total

    def run(self):
        while not self._stop_event.wait(self.interval):
            self.peak = max(self.peak, self.tree_rss(self.root))
            self.loads.append(os.getloadavg()[0])

    def stop(self):
        self._stop_event.set()
        self.join()


def run_measured(cmd: list[str], *, cwd: Path, env: dict, log_prefix: Path, timeout: float | None = None) -> dict:
    """Run ``cmd``; return wall, CPU (user+sys), peak single-process RSS and sampled tree RSS.

    The rusage comes from ``os.wait4`` on the child: on Linux it covers the child and every
    descendant that was waited for (Snakemake waits for its jobs), and ``ru_maxrss`` is the
    largest RSS of any one process of that tree."""
    log_prefix.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{log_prefix}.stdout", "w") as out, open(f"{log_prefix}.stderr", "w") as err:
        started = time.perf_counter()
        launched = time.time()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err, start_new_session=True)
        sampler = TreeRssSampler(proc.pid)
        sampler.start()
        timer = None
        if timeout:
            timer = threading.Timer(timeout, lambda: os.killpg(proc.pid, signal.SIGTERM))
            timer.start()
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        if timer:
            timer.cancel()
        sampler.stop()
        proc.returncode = os.waitstatus_to_exitcode(status)
    return {"rc": proc.returncode, "wall_s": wall, "launched": launched,
            "cpu_s": ru.ru_utime + ru.ru_stime, "user_s": ru.ru_utime, "sys_s": ru.ru_stime,
            "peak_rss_bytes": ru.ru_maxrss * 1024, "tree_rss_bytes": sampler.peak,
            "load": statistics.mean(sampler.loads) if sampler.loads else os.getloadavg()[0],
            "top_process": f"{sampler.top[1]} ({sampler.top[0] / MIB:.0f} MiB sampled)" if sampler.top[0] else "",
            "stdout": f"{log_prefix}.stdout", "stderr": f"{log_prefix}.stderr"}


def wait_for_quiet(max_load: float | None, max_wait: float = 300.0) -> None:
    """With --quiet-load: wait (at most max_wait seconds) until the 1-minute load average is
    below max_load, so a run does not start while other users keep the cores busy."""
    if not max_load:
        return
    deadline = time.monotonic() + max_wait
    while os.getloadavg()[0] >= max_load and time.monotonic() < deadline:
        time.sleep(5)


def tail(path: str | Path, n: int = 40) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return ""


# --------------------------------------------------------------------------- workflow copies
def snapshot_source(dest: Path, ref: str | None) -> Path:
    """One consistent copy of the workflow for the whole bench run: the working tree, or a
    git ref (``--ref``). Every run copies from this snapshot, so edits made to the repository
    while the bench runs do not leak into it."""
    dest.mkdir(parents=True, exist_ok=True)
    if ref:
        tracked = subprocess.run(["git", "-C", str(REPO), "ls-tree", "--name-only", ref], check=True,
                                 capture_output=True, text=True).stdout.split()
        parts = [p for p in WORKFLOW_PARTS if p in tracked]
        proc = subprocess.Popen(["git", "-C", str(REPO), "archive", "--format=tar", ref, "--", *parts],
                                stdout=subprocess.PIPE)
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            tar.extractall(dest, filter="data")
        if proc.wait() != 0:
            raise SystemExit(f"bench: git archive {ref} failed")
    else:
        for part in WORKFLOW_PARTS:
            src = REPO / part
            if src.is_dir():
                shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns(*COPY_IGNORE), dirs_exist_ok=True)
            elif src.is_file():
                shutil.copy2(src, dest / part)
    return dest


def copy_workflow(src: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.is_dir():
            shutil.copytree(item, dest / item.name, dirs_exist_ok=True)
        else:
            shutil.copy2(item, dest / item.name)
    return dest


def clean_workflow(wd: Path, src: Path) -> None:
    """Remove everything a run created (anything that is not part of the copied workflow)."""
    keep = {p.name for p in src.iterdir()}
    for item in wd.iterdir():
        if item.name in keep:
            continue
        if item.is_dir() and not item.is_symlink():
            shutil.rmtree(item)
        else:
            item.unlink()


def write_config(wd: Path, src: Path, census: Path, years: int) -> Path:
    import yaml

    cfg = yaml.safe_load((src / "config.yaml").read_text()) or {}
    cfg.pop("sweeps", None)
    cfg.update(census=str(census.resolve()), start_year=START_YEAR, end_year=START_YEAR + years - 1,
               scenarios={SCENARIO: {}})
    path = wd / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def bench_env(src: Path) -> dict:
    """PATH with the venv first (as the Makefile does); PYTHONPATH = the snapshot's scripts, so
    jobs import the snapshot's plansim package rather than the editable install's live tree."""
    env = dict(os.environ)
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join([str(src / "scripts"), *filter(None, [env.get("PYTHONPATH")])])
    env.pop("PLANSIM_DUCKDB_PATH", None)
    return env


def make_census(census_dir: Path, size: int) -> tuple[Path, float]:
    from plansim.sample_census import write_census

    path = census_dir / f"census_{size}.csv"
    started = time.perf_counter()
    if not path.exists():
        write_census(path, size)
    return path, time.perf_counter() - started


# --------------------------------------------------------------------------- pipeline metrics
def snakemake_jobs(wd: Path) -> list[dict]:
    """Every job of the run from Snakemake's own records (.snakemake/metadata: one file per
    output, base64 of its path, with rule, job hash, the job's start time and the output's
    mtime as end time)."""
    jobs: dict[tuple, dict] = {}
    meta_dir = wd / ".snakemake" / "metadata"
    if not meta_dir.is_dir():
        return []
    for f in meta_dir.iterdir():
        try:
            rec = json.loads(f.read_text())
            path = base64.urlsafe_b64decode(f.name + "=" * (-len(f.name) % 4)).decode(errors="replace")
        except (OSError, ValueError):
            continue
        if rec.get("starttime") is None or rec.get("endtime") is None:
            continue
        # One record per output: a job is (rule, job hash), as in Snakemake's own report; its
        # start is the earliest starttime, its end the latest endtime (= the output's mtime).
        key = (rec.get("rule"), rec.get("job_hash"))
        year = re.search(r"/(\d{4})/", path)
        job = jobs.setdefault(key, {"rule": rec.get("rule"), "start": rec["starttime"], "end": rec["endtime"],
                                    "year": int(year.group(1)) if year else None})
        job["start"] = min(job["start"], rec["starttime"])
        job["end"] = max(job["end"], rec["endtime"])
    return sorted(jobs.values(), key=lambda j: j["start"])


def union_seconds(intervals: list[tuple[float, float]]) -> float:
    total, cur_s, cur_e = 0.0, None, None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


def dbt_invocations(obj) -> list[dict]:
    """Every object carrying ``sql_seconds`` in a marker JSON: one dbt invocation each."""
    found = []
    if isinstance(obj, dict):
        if "sql_seconds" in obj:
            found.append(obj)
        else:
            for v in obj.values():
                found.extend(dbt_invocations(v))
    elif isinstance(obj, list):
        for v in obj:
            found.extend(dbt_invocations(v))
    return found


DBT_ARTIFACTS = {"manifest.json", "run_results.json", "semantic_manifest.json", "graph_summary.json", "sources.json",
                 "catalog.json"}


def marker_files(wd: Path) -> list[tuple[str, Path]]:
    """(label, path) of the JSON records the jobs leave: the phase markers
    (results/<s>/<y>/*_phase.json) and the pre-flight's record (results/<s>/preflight.json, or
    the stamp under .plansim/<s>/preflight/). dbt's own artifacts are skipped."""
    found = []
    for root in (wd / "results" / SCENARIO, wd / ".plansim" / SCENARIO):
        for path in sorted(root.rglob("*.json")) if root.is_dir() else []:
            rel = path.relative_to(root).parts
            if path.name in DBT_ARTIFACTS or "target" in rel or path.name == "summary.json":
                continue
            label = "preflight" if any("preflight" in part for part in rel) else path.stem
            found.append((label, path))
    return found


def pipeline_metrics(wd: Path, run: dict) -> dict:
    """dbt invocations, SQL time, per-rule and per-phase times of one pipeline run."""
    invocations, phase_dbt = [], defaultdict(lambda: {"n": 0, "dbt_s": 0.0, "sql_s": 0.0, "job_s": 0.0})
    handover_rows = {}
    for name, f in marker_files(wd):
        try:
            data = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        calls = dbt_invocations(data)
        if not calls:
            continue
        invocations.extend(calls)
        agg = phase_dbt[name]
        agg["n"] += 1
        agg["dbt_s"] += sum(float(c.get("seconds") or 0) for c in calls)
        agg["sql_s"] += sum(float(c.get("sql_seconds") or 0) for c in calls)
        agg["job_s"] += float(data.get("seconds") or 0) if isinstance(data, dict) else 0.0
        if isinstance(data, dict) and isinstance(data.get("rows"), dict) and "simulation_year" in data:
            for model in handover():
                if model in data["rows"]:
                    handover_rows[(model, int(data["simulation_year"]))] = data["rows"][model]
    jobs = snakemake_jobs(wd)
    rules: dict[str, dict] = {}
    for j in jobs:
        r = rules.setdefault(j["rule"], {"jobs": 0, "seconds": 0.0, "max_s": 0.0})
        r["jobs"] += 1
        r["seconds"] += j["end"] - j["start"]
        r["max_s"] = max(r["max_s"], j["end"] - j["start"])
    bench_tsv: dict[str, dict] = {}
    for tsv in sorted((wd / "benchmarks").rglob("*.tsv")):
        try:
            with tsv.open() as fh:
                rows = list(csv.DictReader(fh, delimiter="\t"))
        except OSError:
            continue
        for row in rows:
            b = bench_tsv.setdefault(tsv.stem, {"n": 0, "s": 0.0, "max_rss_mib": 0.0})
            b["n"] += 1
            b["s"] += float(row.get("s") or 0)
            try:
                b["max_rss_mib"] = max(b["max_rss_mib"], float(row.get("max_rss") or 0))
            except ValueError:
                pass
    sql_s = sum(float(c.get("sql_seconds") or 0) for c in invocations)
    busy = union_seconds([(j["start"], j["end"]) for j in jobs])
    first_start = jobs[0]["start"] if jobs else None
    finals = [j["end"] for j in jobs if j["rule"] == "finalize_scenario"]
    per_year: dict[int, dict[str, float]] = defaultdict(dict)
    for j in jobs:
        if j["year"] is not None:
            per_year[j["year"]][j["rule"]] = per_year[j["year"]].get(j["rule"], 0.0) + j["end"] - j["start"]
    last_end = max((j["end"] for j in jobs), default=None)
    out = dict(run)
    out.update({
        "dbt_invocations": len(invocations),
        "dbt_s": sum(float(c.get("seconds") or 0) for c in invocations),
        "sql_s": sql_s,
        "overhead_share": (1 - sql_s / run["wall_s"]) if run["wall_s"] else None,
        "startup_s": (first_start - run["launched"]) if first_start else None,
        "to_summary_s": (max(finals) - run["launched"]) if finals else None,
        "per_year": {y: per_year[y] for y in sorted(per_year)},
        "shutdown_s": (run["launched"] + run["wall_s"] - last_end) if last_end else None,
        "no_job_running_s": run["wall_s"] - busy if jobs else None,
        "rules": rules, "benchmark_tsv": bench_tsv,
        "phase_dbt": {k: dict(v) for k, v in phase_dbt.items()},
        "handover_rows": handover_rows,
    })
    return out


def run_pipeline(wd: Path, src: Path, cores: int, env: dict, log_prefix: Path, timeout: float | None) -> dict:
    clean_workflow(wd, src)
    cmd = [str(BIN / "snakemake"), "--cores", str(cores)]
    run = run_measured(cmd, cwd=wd, env=env, log_prefix=log_prefix, timeout=timeout)
    run["command"] = " ".join(["snakemake", "--cores", str(cores)])
    if run["rc"] != 0:
        raise SystemExit(f"bench: `snakemake --cores {cores}` failed in {wd} (exit {run['rc']}); "
                         f"log: {run['stderr']}\n{tail(run['stderr'])}")
    return pipeline_metrics(wd, run)


# --------------------------------------------------------------------------- dbt helpers
def dbt_cmd(src: Path, args: list[str], *, target: Path, logs: Path, dbt_vars: dict, threads: int) -> list[str]:
    return [str(BIN / "dbt"), *args, "--project-dir", str(src / "dbt"), "--profiles-dir", str(src / "dbt"),
            "--target-path", str(target), "--log-path", str(logs), "--vars", json.dumps(dbt_vars, sort_keys=True),
            "--threads", str(threads)]


def dbt_env(env: dict, database: Path, threads: int) -> dict:
    return {**env, "PLANSIM_DUCKDB_PATH": str(database), "PLANSIM_DBT_THREADS": str(threads)}


def run_dbt(src: Path, args, *, database: Path, target: Path, logs: Path, dbt_vars: dict, threads: int,
            env: dict, what: str) -> float:
    started = time.perf_counter()
    proc = subprocess.run(dbt_cmd(src, args, target=target, logs=logs, dbt_vars=dbt_vars, threads=threads),
                          cwd=src, env=dbt_env(env, database, threads), capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"bench: {what}: dbt {' '.join(args)} failed (exit {proc.returncode}):\n"
                         f"{proc.stdout[-4000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def topo_order(manifest: dict, resource_types=("model", "seed")) -> list[dict]:
    """Models and seeds in DAG order (Kahn; ties broken by name, so the order is stable)."""
    nodes = {uid: n for uid, n in manifest["nodes"].items()
             if n["resource_type"] in resource_types and n.get("config", {}).get("enabled", True)}
    deps = {uid: {d for d in n.get("depends_on", {}).get("nodes", []) if d in nodes} for uid, n in nodes.items()}
    order, placed = [], set()
    while len(order) < len(nodes):
        ready = sorted((nodes[uid]["name"], uid) for uid in nodes if uid not in placed and deps[uid] <= placed)
        if not ready:
            raise SystemExit("bench: the dbt DAG has a cycle")
        uid = ready[0][1]
        order.append(nodes[uid])
        placed.add(uid)
    return order


def pipeline_selectors(src: Path) -> list[str]:
    """The selectors of the phase rules (``selector="..."`` params), in file order."""
    found = []
    for smk in sorted((src / "rules").glob("*.smk")):
        for name in re.findall(r"""selector\s*=\s*["']([\w-]+)["']""", smk.read_text()):
            if name not in found:
                found.append(name)
    return found or ["workforce_year", "plan_year"]


def load_scenario(wd: Path) -> dict:
    from plansim.config import load_scenarios

    return load_scenarios(wd / "config.yaml", base_dir=wd)[SCENARIO]


def year_vars_at(scn: dict, year: int, results: Path) -> dict:
    from plansim.phases import year_vars

    return year_vars(scn, year, results=str(results.resolve()))


def database_name(src: Path) -> str:
    """The file name of a scenario's DuckDB file (its stem is the catalog in compiled SQL)."""
    try:
        from plansim.paths import scenario_paths

        return Path(scenario_paths("results", SCENARIO)["database"]).name
    except Exception:  # noqa: BLE001 - fall back to the documented name
        return "simulation.duckdb"


def copy_staged_census(from_wd: Path, results: Path) -> Path:
    dest = results / SCENARIO / "staged_census.parquet"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(from_wd / "results" / SCENARIO / "staged_census.parquet", dest)
    return dest


def export_year_slice(con, model: str, relation: str, path: str | Path, scn: dict, year: int) -> None:
    """The handover export, as the pipeline writes it (sorted by the model's export order, zstd),
    to the path the next year's staging model reads."""
    from plansim.db import sql_literal
    from plansim.state_files import EXPORT_ORDER

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    order = EXPORT_ORDER.get(model, "employee_id")
    con.execute(f"copy (select * from {relation} where {slice_predicate(scn, year)} order by {order}) "
                f"to {sql_literal(str(path))} (format parquet, compression zstd)")


def slice_predicate(scn: dict, year: int) -> str:
    return (f"scenario_id = '{scn['scenario_id']}' and plan_design_id = '{scn['plan_design_id']}' "
            f"and simulation_year = {int(year)}")


# --------------------------------------------------------------------------- the floor
def compile_years(src: Path, scn: dict, years: list[int], floor_dir: Path, env: dict) -> dict[int, dict]:
    """``dbt compile`` once per year with the pipeline's vars (handover paths under the floor's
    results); returns year -> manifest (with compiled_code). Not timed as part of the floor."""
    out = {}
    db = floor_dir / "compile" / database_name(src)
    db.parent.mkdir(parents=True, exist_ok=True)
    for year in years:
        target = floor_dir / "compile" / f"target_{year}"
        seconds = run_dbt(src, ["compile", "--quiet"], database=db, target=target, logs=floor_dir / "compile" / "logs",
                          dbt_vars=year_vars_at(scn, year, floor_dir / "results"), threads=scn["dbt_threads"],
                          env=env, what=f"floor compile {year}")
        say(f"  compiled {year} in {seconds:.1f}s")
        out[year] = json.loads((target / "manifest.json").read_text())
        out[year]["_target"] = str(target)
    return out


def compiled_sql(node: dict, target: str) -> str:
    code = node.get("compiled_code")
    if not code and node.get("compiled_path"):
        for path in (Path(node["compiled_path"]), Path(target) / "compiled" / node["package_name"]
                     / node["original_file_path"]):
            if path.is_file():
                code = path.read_text()
                break
    if not code:
        raise SystemExit(f"bench: no compiled SQL for {node['unique_id']}")
    return code.strip().rstrip(";")


def profile_settings(src: Path, threads: int) -> dict:
    """The DuckDB settings of the dbt profile (env_var() defaults rendered), so the floor's
    connection is configured like dbt's."""
    import yaml

    prof = yaml.safe_load((src / "dbt" / "profiles.yml").read_text())
    settings = {}
    for out in (prof.get("plansim", {}).get("outputs") or {}).values():
        settings = dict(out.get("settings") or {})
        break

    def render(v):
        if isinstance(v, str):
            return re.sub(r"""\{\{\s*env_var\(\s*['"](\w+)['"]\s*(?:,\s*['"]([^'"]*)['"])?\s*\)\s*(\|\s*\w+\s*)?\}\}""",
                          lambda m: os.environ.get(m.group(1), m.group(2) or ""), v)
        return v

    settings = {k: render(v) for k, v in settings.items()}
    settings["threads"] = threads
    return settings


def run_floor(src: Path, compiled: dict[int, dict], scn: dict, years: list[int], floor_dir: Path,
              staged_from: Path, run_tests: bool = True) -> dict:
    """Execute the compiled SQL of every model of every year, in DAG order, in one DuckDB
    connection (no dbt, no Snakemake), with the handover exports; time SQL + exports only."""
    import duckdb

    results = floor_dir / "results"
    shutil.rmtree(results, ignore_errors=True)
    copy_staged_census(staged_from, results)
    db = floor_dir / database_name(src)
    for f in (db, db.with_name(db.name + ".wal")):
        f.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    cpu0 = time.process_time()
    for key, value in profile_settings(src, scn["dbt_threads"]).items():
        con.execute(f"set {key} = '{value}'" if isinstance(value, str) else f"set {key} = {value}")
    per_model: dict[str, float] = defaultdict(float)
    models_s = exports_s = tests_s = seed_s = cpu_s = 0.0
    test_failures = 0
    created: set[str] = set()
    handover_rows = {}
    for year in years:
        manifest = compiled[year]
        target = manifest["_target"]
        order = topo_order(manifest)
        for node in order:
            rel = node["relation_name"]
            materialized = node["config"].get("materialized")
            if node["resource_type"] == "seed":
                if rel in created:
                    continue  # the seed is loaded once
                started = time.perf_counter()
                load_seed(con, src, node)
                seed_s += time.perf_counter() - started
                created.add(rel)
                continue
            if materialized == "ephemeral":
                continue
            sql = compiled_sql(node, target)
            started = time.perf_counter()
            if materialized == "view":
                con.execute(f"create or replace view {rel} as (\n{sql}\n)")
            elif materialized == "incremental" and rel in created:
                con.execute(f"delete from {rel} where {slice_predicate(scn, year)}")
                con.execute(f"insert into {rel} by name (\n{sql}\n)")
            else:  # table, or an incremental model's first build
                con.execute(f"create or replace table {rel} as (\n{sql}\n)")
            elapsed = time.perf_counter() - started
            per_model[node["name"]] += elapsed
            models_s += elapsed
            created.add(rel)
        next_vars = year_vars_at(scn, year + 1, results)
        started = time.perf_counter()
        for model, var in handover().items():
            rel = next(n["relation_name"] for n in order if n["name"] == model)
            export_year_slice(con, model, rel, next_vars[var], scn, year)
        exports_s += time.perf_counter() - started
        cpu_s += time.process_time() - cpu0  # CPU of the floor (all DuckDB threads), tests excluded
        for model in handover():
            rel = next(n["relation_name"] for n in order if n["name"] == model)
            handover_rows[(model, year)] = con.execute(
                f"select count(*) from {rel} where {slice_predicate(scn, year)}").fetchone()[0]
        if run_tests:
            for node in manifest["nodes"].values():
                if node["resource_type"] != "test" or not node.get("compiled_code"):
                    continue
                started = time.perf_counter()
                failures = con.execute(f"select count(*) from (\n{compiled_sql(node, target)}\n) t").fetchone()[0]
                tests_s += time.perf_counter() - started
                if failures and node["config"].get("severity", "ERROR").upper() == "ERROR":
                    test_failures += 1
        cpu0 = time.process_time()
    con.close()
    return {"floor_s": seed_s + models_s + exports_s, "floor_cpu_s": cpu_s, "models_s": models_s,
            "exports_s": exports_s,
            "seed_s": seed_s, "tests_s": tests_s if run_tests else None, "test_failures": test_failures,
            "per_model": dict(per_model), "handover_rows": handover_rows,
            "db_mib": db.stat().st_size / MIB if db.exists() else None}


def load_seed(con, src: Path, node: dict) -> None:
    path = src / "dbt" / node["original_file_path"]
    types = node["config"].get("column_types") or {}
    cols = con.execute(f"select * from read_csv('{path}', header = true) limit 0").description
    select = ", ".join(f'cast("{c[0]}" as {types[c[0]]}) as "{c[0]}"' if c[0] in types else f'"{c[0]}"'
                       for c in cols)
    con.execute(f"create or replace table {node['relation_name']} as "
                f"select {select} from read_csv('{path}', header = true)")


# --------------------------------------------------------------------------- batched vs model-by-model
def run_variant(src: Path, wd: Path, scn: dict, years: list[int], manifest: dict, variant: str,
                selectors: list[str], env: dict, out_dir: Path) -> dict:
    """One fresh database; per year either one ``dbt build --selector`` per phase selector
    (batched) or one ``dbt build --select <node>`` per model/seed in DAG order
    (model-by-model); the handover exports between years. Each dbt call is a subprocess."""
    import duckdb

    base = out_dir / variant
    shutil.rmtree(base, ignore_errors=True)
    results = base / "results"
    copy_staged_census(wd, results)
    db = base / database_name(src)
    order = [n for n in topo_order(manifest) if n["config"].get("materialized") != "ephemeral"]
    rels = {n["name"]: n["relation_name"] for n in order}
    calls, per_call = 0, []
    started = time.perf_counter()
    for year in years:
        dbt_vars = year_vars_at(scn, year, results)
        steps = ([["build", "--selector", s] for s in selectors] if variant == "batched"
                 else [["build", "--select", n["name"]] for n in order])
        for step in steps:
            args = [*step, "--exclude-resource-type", "unit_test"]
            per_call.append(run_dbt(src, args, database=db, target=base / "target", logs=base / "logs",
                                    dbt_vars=dbt_vars, threads=scn["dbt_threads"], env=env,
                                    what=f"{variant} {year}"))
            calls += 1
        next_vars = year_vars_at(scn, year + 1, results)
        with duckdb.connect(str(db)) as con:
            for model, var in handover().items():
                export_year_slice(con, model, rels[model], next_vars[var], scn, year)
    wall = time.perf_counter() - started
    return {"variant": variant, "wall_s": wall, "dbt_invocations": calls,
            "mean_call_s": statistics.mean(per_call) if per_call else None, "steps": len(per_call) // len(years)}


# --------------------------------------------------------------------------- machine
# Above this, `scontrol show config` is waiting for a controller that does not answer.
SLOW_SLURM_PROBE_S = 2.0


def quiet_slurm_probe(env: dict, machine: dict) -> dict:
    """The environment of the timed snakemake runs. snakemake-executor-plugin-slurm runs
    `scontrol show config` at every `snakemake` start, local runs included. Where the SLURM
    client is installed but no controller answers (this machine after `make test` stopped its
    local cluster: /etc/slurm/slurm.conf stays), that probe waits ~9 s per start, a cost of the
    machine's state, not of plansim. Then the runs get SLURM_CONF=/dev/null, so the probe fails
    at once as on a machine without SLURM (local runs never use SLURM); the report says so."""
    probe = machine.get("scontrol_s")
    if probe is not None and probe > SLOW_SLURM_PROBE_S and "SLURM_CONF" not in env:
        machine["slurm_conf_null"] = True
        return {**env, "SLURM_CONF": "/dev/null"}
    return env


def slurm_probe_note(machine: dict) -> str:
    probe = machine.get("scontrol_s")
    if probe is None:
        return "no SLURM client installed (the SLURM executor plugin's start-up probe is instant)."
    text = (f"`scontrol show config` took {probe:.1f}s here; the SLURM executor plugin runs it at every "
            "`snakemake` start.")
    if machine.get("slurm_conf_null"):
        return text + (" No controller answers on this machine, so the timed runs had SLURM_CONF=/dev/null "
                       "(the probe then fails at once, as without SLURM; local runs do not use SLURM). "
                       f"Without it, add ~{probe:.0f}s of start-up per `snakemake` start.")
    return text + " It is part of start-up s."


def machine_info(src: Path) -> dict:
    mem = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 ** 2:.1f} GiB"
    except OSError:
        pass
    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), "")
    except OSError:
        pass
    versions = {}
    for pkg in ("dbt-core", "dbt-duckdb", "duckdb", "snakemake", "pandas", "pyarrow"):
        try:
            versions[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            versions[pkg] = "?"
    # snakemake-executor-plugin-slurm runs `scontrol show config` whenever snakemake starts: with
    # the SLURM client installed but no controller reachable, that alone takes ~9 s (connect retries).
    scontrol = None
    if shutil.which("scontrol"):
        started = time.perf_counter()
        try:
            subprocess.run(["scontrol", "show", "config"], capture_output=True, timeout=15)
        except (OSError, subprocess.TimeoutExpired):
            pass
        scontrol = time.perf_counter() - started
    return {"nproc": os.cpu_count(), "sched_cpus": len(os.sched_getaffinity(0)), "memory": mem, "cpu": cpu,
            "scontrol_s": scontrol,
            "os": platform.platform(), "python": platform.python_version(), "versions": versions,
            "load_at_start": os.getloadavg()}


def git_describe(ref: str | None) -> str:
    try:
        rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", ref or "HEAD"], check=True,
                             capture_output=True, text=True).stdout.strip()
        if ref:
            return f"{rev} ({ref})"
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", *WORKFLOW_PARTS],
                               capture_output=True, text=True).stdout.strip()
        return f"{rev}{' + uncommitted changes (working tree)' if dirty else ''}"
    except (OSError, subprocess.CalledProcessError):
        return "?"


# --------------------------------------------------------------------------- targets
def evaluate_targets(rows: dict, mbm: dict | None, one_m: bool) -> list[dict]:
    def row(size, years):
        return rows.get((size, years))

    out = []

    def add(key, ok, value):
        out.append({"key": key, "target": TARGETS_TEXT[key],
                    "status": "n/a" if ok is None else ("PASS" if ok else "MISS"), "value": value})

    for key, size, limit in (("floor_60k", 60000, 3.0), ("floor_250k", 250000, 1.6)):
        r = row(size, 5)
        ratio = r.get("wall_over_floor") if r else None
        add(key, None if ratio is None else ratio <= limit,
            f"wall/floor = {ratio:.2f} ({fmt_s(r['wall_s'])}s / {fmt_s(r['floor_s'])}s)" if ratio is not None
            else "not measured (needs that size, --years 5 and the floor)")
    a, b = row(60000, 5), row(250000, 5)
    if a and b:
        ratio = b["wall_s"] / a["wall_s"]
        add("scaling", ratio <= 4.5, f"wall(250k)/wall(60k) = {ratio:.2f} ({fmt_s(b['wall_s'])}s / {fmt_s(a['wall_s'])}s)")
    else:
        add("scaling", None, "not measured (needs 60000 and 250000 with --years 5)")
    r = row(ONE_MILLION, 10)
    if r:
        peak = max(r["peak_rss_bytes"], r["tree_rss_bytes"])
        add("one_million", peak <= 12 * GIB,
            f"completed in {fmt_s(r['wall_s'])}s; peak RSS {peak / GIB:.2f} GiB "
            f"(largest process {r['peak_rss_bytes'] / GIB:.2f} GiB, sampled tree {r['tree_rss_bytes'] / GIB:.2f} GiB)")
    else:
        add("one_million", None, "not run (use --with-1m)" if not one_m else "not measured")
    if mbm:
        add("model_by_model", mbm["ratio"] >= 3,
            f"model-by-model / batched = {mbm['ratio']:.2f} ({fmt_s(mbm['model_by_model']['wall_s'])}s / "
            f"{fmt_s(mbm['batched']['wall_s'])}s)")
    else:
        add("model_by_model", None, "not measured (--skip-model-by-model)")
    return out


# --------------------------------------------------------------------------- aggregation
SUMMARY_COLUMNS = [
    "size", "years", "reps", "wall_s", "wall_min_s", "wall_max_s", "to_summary_s", "cpu_s", "peak_rss_mib",
    "tree_rss_mib", "dbt_invocations", "dbt_sql_s", "dbt_s", "overhead_share", "floor_s", "wall_over_floor",
    "floor_cpu_s", "cpu_over_floor_cpu", "floor_tests_s", "startup_s", "no_job_running_s", "load", "census_gen_s",
]
RUN_COLUMNS = ["size", "years", "rep", "wall_s", "to_summary_s", "cpu_s", "peak_rss_mib", "tree_rss_mib",
               "dbt_invocations", "dbt_sql_s", "dbt_s", "overhead_share", "startup_s", "no_job_running_s", "load",
               "floor_s", "floor_cpu_s", "floor_tests_s", "top_process"]


def summarise(size: int, years: int, runs: list[dict], floors: list[dict], gen_s: float) -> dict:
    walls = [r["wall_s"] for r in runs]
    wall = median(walls)
    floor = median([f["floor_s"] for f in floors]) if floors else None
    floor_cpu = median([f["floor_cpu_s"] for f in floors]) if floors else None
    cpu = median([r["cpu_s"] for r in runs])
    sql = median([r["sql_s"] for r in runs])
    mid = sorted(runs, key=lambda r: r["wall_s"])[(len(runs) - 1) // 2]  # the median run (lower median)
    return {
        "size": size, "years": years, "reps": len(runs), "wall_s": wall, "wall_min_s": min(walls),
        "wall_max_s": max(walls), "to_summary_s": median([r["to_summary_s"] for r in runs]), "cpu_s": cpu,
        "peak_rss_bytes": max(r["peak_rss_bytes"] for r in runs), "tree_rss_bytes": max(r["tree_rss_bytes"] for r in runs),
        "peak_rss_mib": max(r["peak_rss_bytes"] for r in runs) / MIB,
        "tree_rss_mib": max(r["tree_rss_bytes"] for r in runs) / MIB,
        "dbt_invocations": median([r["dbt_invocations"] for r in runs]), "dbt_sql_s": sql, "sql_s": sql,
        "dbt_s": median([r["dbt_s"] for r in runs]),
        "overhead_share": median([r["overhead_share"] for r in runs]),
        "floor_s": floor, "wall_over_floor": (wall / floor) if floor else None,
        "floor_cpu_s": floor_cpu, "cpu_over_floor_cpu": (cpu / floor_cpu) if floor_cpu else None,
        "load": median([r["load"] for r in runs]),
        "floor_tests_s": median([f["tests_s"] for f in floors]) if floors else None,
        "startup_s": median([r["startup_s"] for r in runs]),
        "no_job_running_s": median([r["no_job_running_s"] for r in runs]),
        "census_gen_s": gen_s, "median_run": mid, "floor_runs": floors, "runs": runs,
    }


def csv_value(v):
    if isinstance(v, float):
        return f"{v:.3f}"
    return "" if v is None else v


def write_csvs(path: Path, summaries: list[dict], run_id: str, rev: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rules = sorted({rule for s in summaries for rule in s["median_run"]["rules"]})
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["run_id", "git", *SUMMARY_COLUMNS, *(f"rule_{r}_s" for r in rules)])
        for s in summaries:
            rule_s = [median([run["rules"].get(r, {}).get("seconds") for run in s["runs"]]) for r in rules]
            w.writerow([run_id, rev, *(csv_value(s.get(c)) for c in SUMMARY_COLUMNS), *map(csv_value, rule_s)])
    runs_path = path.with_name(path.stem + "_runs" + path.suffix)
    with runs_path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["run_id", *RUN_COLUMNS])
        for s in summaries:
            for i, run in enumerate(s["runs"]):
                floor = s["floor_runs"][i] if i < len(s["floor_runs"]) else {}
                vals = {"size": s["size"], "years": s["years"], "rep": i + 1, "wall_s": run["wall_s"],
                        "to_summary_s": run["to_summary_s"], "load": run["load"],
                        "top_process": run.get("top_process", ""),
                        "floor_cpu_s": floor.get("floor_cpu_s"),
                        "cpu_s": run["cpu_s"], "peak_rss_mib": run["peak_rss_bytes"] / MIB,
                        "tree_rss_mib": run["tree_rss_bytes"] / MIB, "dbt_invocations": run["dbt_invocations"],
                        "dbt_sql_s": run["sql_s"], "dbt_s": run["dbt_s"], "overhead_share": run["overhead_share"],
                        "startup_s": run["startup_s"], "no_job_running_s": run["no_job_running_s"],
                        "floor_s": floor.get("floor_s"), "floor_tests_s": floor.get("tests_s")}
                w.writerow([run_id, *(csv_value(vals[c]) for c in RUN_COLUMNS)])
    return runs_path


# --------------------------------------------------------------------------- report
def md_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def results_table(summaries: list[dict]) -> tuple[list[str], list[list]]:
    header = ["size", "years", "reps", "wall s (median)", "wall min-max s", "to summary.csv s", "CPU s",
              "peak RSS MiB", "tree RSS MiB", "dbt calls", "dbt SQL s", "dbt in-process s", "overhead share",
              "floor s", "wall / floor", "floor CPU s", "CPU / floor CPU", "floor tests s", "start-up s",
              "no job running s", "load"]
    rows = []
    for s in summaries:
        rows.append([f"{s['size']:,}", s["years"], s["reps"], fmt_s(s["wall_s"]),
                     f"{s['wall_min_s']:.1f}-{s['wall_max_s']:.1f}", fmt_s(s["to_summary_s"]), fmt_s(s["cpu_s"]),
                     f"{s['peak_rss_mib']:.0f}", f"{s['tree_rss_mib']:.0f}", f"{s['dbt_invocations']:.0f}",
                     fmt_s(s["dbt_sql_s"]), fmt_s(s["dbt_s"]),
                     "-" if s["overhead_share"] is None else f"{100 * s['overhead_share']:.0f}%",
                     fmt_s(s["floor_s"]), fmt_ratio(s["wall_over_floor"]), fmt_s(s["floor_cpu_s"]),
                     fmt_ratio(s["cpu_over_floor_cpu"]), fmt_s(s["floor_tests_s"]),
                     fmt_s(s["startup_s"]), fmt_s(s["no_job_running_s"]), fmt_ratio(s["load"])])
    return header, rows


def where_time_goes(s: dict) -> str:
    run = s["median_run"]
    years = s["years"]
    parts = [f"#### {s['size']:,} employees x {years} years (the median repetition: wall {run['wall_s']:.1f}s)", ""]
    rows = []
    for rule, r in sorted(run["rules"].items(), key=lambda kv: -kv[1]["seconds"]):
        tsv = run["benchmark_tsv"].get(rule, {})
        rows.append([rule, r["jobs"], f"{r['seconds']:.1f}", f"{r['seconds'] / r['jobs']:.2f}", f"{r['max_s']:.1f}",
                     f"{100 * r['seconds'] / run['wall_s']:.0f}%",
                     fmt_s(tsv.get("s")) if tsv else "-", f"{tsv['max_rss_mib']:.0f}" if tsv else "-"])
    parts.append(md_table(["rule", "jobs", "sum of job s", "mean s", "max s", "share of wall",
                           "benchmark: s (sum)", "benchmark: max_rss MiB"], rows))
    parts.append("")
    year_rules = sorted({r for per in run["per_year"].values() for r in per})
    if year_rules:
        parts += ["", "Per year (Snakemake job seconds):", "",
                  md_table(["year", *year_rules, "sum"],
                           [[y, *(fmt_s(per.get(r)) for r in year_rules), fmt_s(sum(per.values()))]
                            for y, per in run["per_year"].items()]), ""]
    parts.append(f"Snakemake start-up (launch to first job: parse, config + census validation, DAG) "
                 f"{fmt_s(run['startup_s'])}s; no job running (start-up, scheduling gaps, shutdown) "
                 f"{fmt_s(run['no_job_running_s'])}s of {run['wall_s']:.1f}s; launch to the end of "
                 f"finalize_scenario (summary.csv, before the report rules) {fmt_s(run['to_summary_s'])}s. "
                 f"Largest single process seen by the 0.5 s RSS sampler, per repetition: "
                 f"{'; '.join(r.get('top_process') or '-' for r in s['runs'])} (peak RSS in the table is exact "
                 f"but unattributed: `ru_maxrss`).")
    pd_rows = []
    for name, p in sorted(run["phase_dbt"].items()):
        key = name.removesuffix("_phase")
        rule_s = next((r["seconds"] for rule, r in sorted(run["rules"].items()) if key in rule), None)
        pd_rows.append([name, p["n"], fmt_s(rule_s), fmt_s(p["job_s"]) if p["job_s"] else "-", fmt_s(p["dbt_s"]),
                        fmt_s(p["sql_s"])])
    if pd_rows:
        parts += ["", "Inside the dbt jobs (markers; sums over the years):", "",
                  md_table(["marker", "n", "Snakemake job s", "phase s (marker)", "dbt invoke s", "dbt SQL s"], pd_rows),
                  "",
                  "job s − phase s = Python start-up, imports, Snakemake script preamble; phase s − dbt invoke s "
                  "= gates + parquet exports; dbt invoke s − dbt SQL s ≈ dbt start-up, parse, graph, "
                  "per-node overhead (dbt SQL s sums node times over dbt threads, so it can exceed the wall "
                  "time of the invocation)."]
    floors = s["floor_runs"]
    if floors:
        per_model = defaultdict(list)
        for f in floors:
            for m, t in f["per_model"].items():
                per_model[m].append(t)
        top = sorted(((m, statistics.median(v)) for m, v in per_model.items()), key=lambda kv: -kv[1])
        f0 = floors[0]
        parts += ["", f"Floor ({fmt_s(s['floor_s'])}s median): models {fmt_s(median([f['models_s'] for f in floors]))}s, "
                  f"handover exports {fmt_s(median([f['exports_s'] for f in floors]))}s, seed "
                  f"{fmt_s(median([f['seed_s'] for f in floors]))}s; the data tests, run the same way, "
                  f"{fmt_s(s['floor_tests_s'])}s more (not in the floor). Models by SQL time (sum over years):", "",
                  md_table(["model", "floor s", "share"],
                           [[m, f"{t:.2f}", f"{100 * t / max(f0['models_s'], 1e-9):.0f}%"] for m, t in top[:10]])]
    return "\n".join(parts)


def design_bound(summaries: list[dict], mbm: dict | None) -> list[str]:
    """What one dbt process costs before SQL, times the pipeline's dbt calls, on top of the floor:
    the least wall any workflow with that many dbt calls can reach, measured in this run."""
    if not mbm or not mbm["model_by_model"].get("mean_call_s"):
        return []
    per_call = mbm["model_by_model"]["mean_call_s"]
    rows = []
    for s in summaries:
        if s.get("floor_s") and s.get("dbt_invocations"):
            bound = s["floor_s"] + s["dbt_invocations"] * per_call
            rows.append([f"{s['size']:,} x {s['years']}", s["dbt_invocations"], fmt_s(s["floor_s"]), fmt_s(bound),
                         fmt_ratio(bound / s["floor_s"]), fmt_ratio(s["wall_over_floor"])])
    if not rows:
        return []
    return [
        "### The floor plus the dbt processes",
        "",
        f"A `dbt` process costs {per_call:.2f}s before its SQL matters (the mean model-by-model call above: Python "
        "and dbt start-up, parse, one model and its tests on "
        f"{mbm['size']:,} rows). The orchestration contract (SPEC §5) makes every phase rule of every year one "
        "`dbt build` with the complete variable scope, so the simulation year is in `--vars` and each year's "
        "first call re-parses. Floor + dbt calls x that cost is the least wall a workflow with these calls can "
        "reach (about: sequential, since one DuckDB file takes one writer), with no exports, gates, audit, reports "
        "or scheduling:",
        "",
        md_table(["size", "dbt calls", "floor s", "floor + calls x cost s", "that / floor", "measured wall / floor"],
                 rows),
        "",
    ]


def write_report(path: Path, *, args, argv: list[str], summaries: list[dict], targets: list[dict], mbm: dict | None,
                 machine: dict, rev: str, started: float, duration: float, csv_path: Path, runs_csv: Path,
                 notes: list[str]) -> None:
    header, rows = results_table(summaries)
    v = machine["versions"]
    cmd = "make bench" + (f' ARGS="{" ".join(shlex.quote(a) for a in argv)}"' if argv else "")
    lines = [
        "# Performance",
        "",
        f"_Written by `scripts/bench.py` on {dt.datetime.fromtimestamp(started).isoformat(timespec='seconds')}; "
        f"the whole bench run took {duration / 60:.1f} min._",
        "",
        f"Command: `{cmd}` (i.e. `.venv/bin/python scripts/bench.py {' '.join(shlex.quote(a) for a in argv)}`)."
        f" Workflow: git {rev}. CSVs: `{csv_path}` (medians), `{runs_csv}` (every repetition).",
        "",
        "## Machine",
        "",
        f"- {machine['nproc']} CPUs ({machine['sched_cpus']} usable), {machine['memory']} memory, {machine['cpu']}",
        f"- {machine['os']}, Python {machine['python']}",
        f"- dbt-core {v['dbt-core']}, dbt-duckdb {v['dbt-duckdb']}, duckdb {v['duckdb']}, snakemake {v['snakemake']}, "
        f"pandas {v['pandas']}, pyarrow {v['pyarrow']}",
        f"- load average at start: {', '.join(f'{x:.2f}' for x in machine['load_at_start'])} (the machine is shared: "
        f"timings are noisy; compare medians and ratios from one run)",
        "- SLURM client probe: " + slurm_probe_note(machine),
        "",
        "## What was run",
        "",
        f"Per size: a census from `plansim.sample_census.write_census(path, size)` (seed 42, census date "
        f"2024-12-31); a copy of the workflow ({', '.join(WORKFLOW_PARTS)}) with a config whose census is that "
        f"file, one scenario (`{SCENARIO}`), start_year {START_YEAR}; then `snakemake --cores {args.cores}` "
        f"(the workflow's default target, its profile included), {args.reps} repetition(s). Every repetition starts "
        "clean: results/, logs/, benchmarks/, .snakemake/ and .plansim/ are deleted, so census validation, "
        "dbt's full parse and every phase are paid each time. The workflow copy is taken once, at the start, "
        "from the working tree (or `--ref`); jobs import that copy's `plansim` package (PYTHONPATH).",
        "",
        "## Results",
        "",
        md_table(header, rows),
        "",
        "Columns:",
        "",
        "- **wall s**: median wall-clock time of `snakemake --cores N`, launch to exit (min-max over repetitions). "
        "**to summary.csv s**: launch to the end of the `finalize_scenario` job (the simulation without the "
        "report rules that follow it).",
        "- **CPU s**: user+sys of the snakemake process and all its descendants (rusage from `os.wait4` on the "
        "snakemake process), median.",
        "- **peak RSS MiB**: largest resident set of any single process of the tree (`ru_maxrss` of that "
        "rusage; max over repetitions). **tree RSS MiB**: peak of the summed RSS of all live processes of the "
        "tree, sampled from /proc every 0.5 s.",
        "- **dbt calls**: dbt invocations, counted in the phase markers (`results/<s>/<y>/*_phase.json`) and "
        "the pre-flight's record (`results/<s>/preflight.json` or its stamp `.plansim/<s>/preflight/*.json`; "
        "every object with `sql_seconds`).",
        "- **dbt SQL s**: the sum of those `sql_seconds` (dbt's per-node `execution_time` from run results, "
        "models and tests, summed over dbt threads). **dbt in-process s**: the wall time of those dbt calls "
        "inside the jobs.",
        "- **overhead share**: 1 − dbt SQL s / wall s: the share of the wall not spent in SQL as dbt reports it.",
        "- **floor s**: the compiled SQL of every model of every year (`dbt compile` per year with the pipeline's "
        "`--vars`, `plansim.phases.year_vars`), run in DAG order (manifest `depends_on`) in one DuckDB "
        "connection configured like the dbt profile: `create table as` the first time, then delete the year "
        "slice + `insert by name` for incremental models, `create or replace` for tables; the IRS seed loaded "
        "once; per year the two handover exports (`int_year_end_workforce_state`, `int_year_end_deferral_state`) "
        "to the paths the next year's staging models read. Only SQL and exports are timed (no compile, no "
        "dbt, no Snakemake, no tests, no marts exports, no gates). **wall / floor**: median wall / median floor.",
        "- **floor CPU s**: CPU time of the floor (all DuckDB threads, `time.process_time`). **CPU / floor CPU**: "
        "pipeline CPU / floor CPU, a companion ratio less sensitive to other load on the machine than wall / floor.",
        "- **floor tests s**: the compiled data tests, run the same way after each year (not part of the floor).",
        "- **start-up s**: launch of snakemake to the start of its first job (Snakemake's job records in "
        "`.snakemake/metadata`). **no job running s**: wall time during which no job was running. **load**: "
        "mean 1-minute load average during the pipeline runs (the machine has other users; above the core "
        "count, timings are inflated).",
        "",
        "## Targets",
        "",
        md_table(["target", "status", "measured"], [[t["target"], f"**{t['status']}**", t["value"]] for t in targets]),
        "",
        *design_bound(summaries, mbm),
    ]
    if mbm:
        b, m = mbm["batched"], mbm["model_by_model"]
        lines += [
            "## Batched phases vs model-by-model (the seed story's comparison)",
            "",
            f"{mbm['size']:,} employees x {mbm['years']} years, same census, same vars, a fresh database each; "
            f"both run as `dbt` subprocesses (each call pays Python + dbt start-up and parse, as the seed's "
            f"orchestrator did), with the two handover exports between years; unit tests excluded in both "
            f"(`--exclude-resource-type unit_test`).",
            "",
            md_table(["variant", "dbt calls per year", "dbt calls", "mean s per call", "wall s"],
                     [["batched: `dbt build --selector " + "`, `".join(mbm["selectors"]) + "`", b["steps"],
                       b["dbt_invocations"], f"{b['mean_call_s']:.2f}", f"{b['wall_s']:.1f}"],
                      ["model-by-model: `dbt build --select <model>` in DAG order", m["steps"], m["dbt_invocations"],
                       f"{m['mean_call_s']:.2f}", f"{m['wall_s']:.1f}"]]),
            "",
            f"Ratio model-by-model / batched: **{mbm['ratio']:.2f}**.",
            "",
        ]
    lines += ["## Where the time goes", "",
              "Per rule: Snakemake's job start/end records (every rule, benchmark: or not); the rules' "
              "`benchmark:` TSVs (`benchmarks/<scenario>/<year>/<rule>.tsv`, column `s`) where they exist.", ""]
    for s in summaries:
        lines += [where_time_goes(s), ""]
    if notes:
        lines += ["## Notes", ""] + [f"- {n}" for n in notes] + [""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


# --------------------------------------------------------------------------- main
def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="scripts/bench.py", description="plansim benchmark: pipeline vs floor vs model-by-model")
    p.add_argument("--sizes", default=DEFAULT_SIZES,
                   help=f"census sizes, comma-separated (default {DEFAULT_SIZES}; 'none' with --with-1m: only 1M)")
    p.add_argument("--reps", default="3", help="repetitions per size: one number, or one per size (e.g. 3,3,1)")
    p.add_argument("--years", type=int, default=5, help="simulated years (default 5)")
    p.add_argument("--with-1m", action="store_true", help="also run 1,000,000 employees x 10 years")
    p.add_argument("--reps-1m", type=int, default=1, help="repetitions of the 1M run (default 1)")
    p.add_argument("--skip-floor", action="store_true", help="do not measure the floor")
    p.add_argument("--skip-model-by-model", action="store_true", help="do not run batched vs model-by-model")
    p.add_argument("--mbm-size", type=int, default=5000, help="census size of the model-by-model comparison (5000)")
    p.add_argument("--mbm-years", type=int, default=None, help="years of that comparison (default min(5, --years))")
    p.add_argument("--out", default="docs/performance.md", help="markdown report (default docs/performance.md)")
    p.add_argument("--csv", default="benchmarks/bench_results.csv",
                   help="CSV of medians per size (default benchmarks/bench_results.csv; *_runs.csv next to it)")
    p.add_argument("--cores", type=int, default=2, help="snakemake --cores (default 2)")
    p.add_argument("--scratch", default=None, help="scratch root (default benchmarks/scratch/<timestamp>)")
    p.add_argument("--keep", action="store_true", help="keep the scratch directory")
    p.add_argument("--ref", default=None, help="benchmark the workflow of this git ref instead of the working tree")
    p.add_argument("--timeout", type=float, default=None, help="seconds before a snakemake run is killed")
    p.add_argument("--quiet-load", type=float, default=None,
                   help="before each timed run, wait (up to 5 min) until the 1-minute load average is below this")
    args = p.parse_args(argv)
    args.size_list = [int(x.replace("_", "")) for x in args.sizes.split(",") if x.strip() and x.strip() != "none"]
    try:
        reps = [int(x) for x in str(args.reps).split(",") if x.strip()]
    except ValueError:
        p.error("--reps: one positive number, or one per size")
    if not reps or min(reps) < 1 or (len(reps) != 1 and len(reps) != len(args.size_list)):
        p.error("--reps: one positive number, or one per size")
    args.rep_list = reps * len(args.size_list) if len(reps) == 1 else reps
    if args.reps_1m < 1:
        p.error("--reps-1m must be >= 1")
    if not args.size_list and not args.with_1m:
        p.error("--sizes none needs --with-1m")
    if args.years < 1:
        p.error("--years must be >= 1")
    args.mbm_years = args.mbm_years or min(5, args.years)
    return args


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    started = time.time()
    t0 = time.perf_counter()
    stamp = dt.datetime.fromtimestamp(started).strftime("%Y%m%d-%H%M%S")
    scratch = Path(args.scratch).resolve() if args.scratch else REPO / "benchmarks" / "scratch" / stamp
    scratch.mkdir(parents=True, exist_ok=True)
    out_md = Path(args.out) if Path(args.out).is_absolute() else REPO / args.out
    out_csv = Path(args.csv) if Path(args.csv).is_absolute() else REPO / args.csv

    src = snapshot_source(scratch / "src", args.ref)
    sys.path.insert(0, str(src / "scripts"))  # this process uses the snapshot's plansim too
    env = bench_env(src)
    rev = git_describe(args.ref)
    machine = machine_info(src)
    env = quiet_slurm_probe(env, machine)
    say(f"bench: scratch {scratch}; workflow git {rev}")
    say(f"bench: {machine['nproc']} CPUs, {machine['memory']}; " +
        ", ".join(f"{k} {v}" for k, v in machine["versions"].items()))

    plan = [(size, args.years, reps) for size, reps in zip(args.size_list, args.rep_list)]
    if args.with_1m:
        plan.append((ONE_MILLION, 10, args.reps_1m))
    notes = []

    # Compile once per year (the SQL does not depend on the census; handover paths are the floor's).
    compiled = {}
    floor_dir = scratch / "floor"
    max_years = max(y for _, y, _ in plan)
    need_years = max_years if not args.skip_floor else (1 if not args.skip_model_by_model else 0)
    if need_years:
        census0, _ = make_census(scratch / "census", min(s for s, _, _ in plan))
        wd0 = copy_workflow(src, scratch / "compile_wf")
        write_config(wd0, src, census0, max_years)
        scn0 = load_scenario(wd0)
        say(f"bench: dbt compile for {need_years} year(s) (not timed)")
        compiled = compile_years(src, scn0, list(range(START_YEAR, START_YEAR + need_years)), floor_dir, env)

    summaries = []
    for size, years, reps in plan:
        census, gen_s = make_census(scratch / "census", size)
        wd = copy_workflow(src, scratch / f"wf_{size}_{years}y")
        write_config(wd, src, census, years)
        scn = load_scenario(wd)
        year_list = list(range(START_YEAR, START_YEAR + years))
        say(f"\nbench: {size:,} employees x {years} years, {reps} repetition(s) (census written in {gen_s:.1f}s)")
        runs, floors = [], []
        for rep in range(1, reps + 1):
            wait_for_quiet(args.quiet_load)
            run = run_pipeline(wd, src, args.cores, env, scratch / "logs" / f"snakemake_{size}_{years}y_rep{rep}",
                               args.timeout)
            runs.append(run)
            msg = (f"  rep {rep}: wall {run['wall_s']:.1f}s, CPU {run['cpu_s']:.1f}s, peak RSS "
                   f"{run['peak_rss_bytes'] / MIB:.0f} MiB (tree {run['tree_rss_bytes'] / MIB:.0f}), dbt calls "
                   f"{run['dbt_invocations']}, dbt SQL {run['sql_s']:.1f}s, load {run['load']:.1f}")
            if not args.skip_floor:
                wait_for_quiet(args.quiet_load)
                floor = run_floor(src, compiled, scn, year_list, floor_dir, wd)
                floors.append(floor)
                msg += f"; floor {floor['floor_s']:.1f}s (tests {floor['tests_s']:.1f}s)"
                mismatch = {k: (v, run["handover_rows"].get(k)) for k, v in floor["handover_rows"].items()
                            if run["handover_rows"].get(k) not in (None, v)}
                if mismatch:
                    note = (f"{size:,}: the floor's handover row counts differ from the pipeline's: {mismatch} "
                            "(the floor does not reproduce the pipeline; its time is suspect)")
                    notes.append(note)
                    say(f"  WARNING {note}")
                if floor["test_failures"]:
                    notes.append(f"{size:,}: {floor['test_failures']} data test(s) failed on the floor's tables")
            say(msg)
        s = summarise(size, years, runs, floors, gen_s)
        summaries.append(s)
        say(f"  median wall {s['wall_s']:.1f}s" + (f", floor {s['floor_s']:.1f}s, pipeline wall / floor "
                                                   f"{s['wall_over_floor']:.2f}" if s["floor_s"] else ""))
        if not args.keep:
            shutil.rmtree(wd, ignore_errors=True)

    mbm = None
    if not args.skip_model_by_model:
        size, years = args.mbm_size, args.mbm_years
        say(f"\nbench: batched vs model-by-model, {size:,} employees x {years} years (dbt subprocesses)")
        census, _ = make_census(scratch / "census", size)
        wd = copy_workflow(src, scratch / "mbm_wf")
        write_config(wd, src, census, years)
        scn = load_scenario(wd)
        stage = run_measured([str(BIN / "snakemake"), "--cores", str(args.cores),
                              f"results/{SCENARIO}/staged_census.parquet"],
                             cwd=wd, env=env, log_prefix=scratch / "logs" / "mbm_stage")
        if stage["rc"] != 0:
            raise SystemExit(f"bench: staging the census for the comparison failed; see {stage['stderr']}\n"
                             f"{tail(stage['stderr'])}")
        manifest = compiled.get(START_YEAR)
        selectors = pipeline_selectors(src)
        year_list = list(range(START_YEAR, START_YEAR + years))
        batched = run_variant(src, wd, scn, year_list, manifest, "batched", selectors, env, scratch / "mbm")
        say(f"  batched ({' + '.join(selectors)}): {batched['dbt_invocations']} dbt calls, {batched['wall_s']:.1f}s")
        by_model = run_variant(src, wd, scn, year_list, manifest, "model_by_model", selectors, env, scratch / "mbm")
        say(f"  model-by-model: {by_model['dbt_invocations']} dbt calls, {by_model['wall_s']:.1f}s")
        mbm = {"size": size, "years": years, "selectors": selectors, "batched": batched, "model_by_model": by_model,
               "ratio": by_model["wall_s"] / batched["wall_s"]}
        say(f"  model-by-model / batched = {mbm['ratio']:.2f}")

    rows = {(s["size"], s["years"]): s for s in summaries}
    targets = evaluate_targets(rows, mbm, args.with_1m)
    duration = time.perf_counter() - t0
    run_id = stamp
    runs_csv = write_csvs(out_csv, summaries, run_id, rev)
    rel = lambda p: p.relative_to(REPO) if p.is_relative_to(REPO) else p  # noqa: E731
    write_report(out_md, args=args, argv=argv, summaries=summaries, targets=targets, mbm=mbm, machine=machine,
                 rev=rev, started=started, duration=duration, csv_path=rel(out_csv), runs_csv=rel(runs_csv),
                 notes=notes)

    header, table = results_table(summaries)
    say("\n" + md_table(header, table))
    say("\nTargets:")
    for t in targets:
        say(f"  [{t['status']:>4}] {t['target']}: {t['value']}")
    for s in summaries:
        if s["floor_s"]:
            say(f"pipeline wall / floor at {s['size']:,} x {s['years']}y: {s['wall_over_floor']:.2f}")
    if mbm:
        say(f"model-by-model / batched: {mbm['ratio']:.2f}")
    say(f"\nbench: {duration / 60:.1f} min; wrote {rel(out_md)}, {rel(out_csv)}, {rel(runs_csv)}")
    if args.keep:
        say(f"bench: scratch kept in {scratch}")
    else:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
