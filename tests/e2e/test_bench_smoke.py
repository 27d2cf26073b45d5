"""Smoke test of the benchmark harness (scripts/bench.py) on a tiny census.

Runs the real `snakemake` command once (300 employees x 2 years) plus the floor; the
model-by-model comparison is skipped here (20 dbt processes per year would not fit the
2-minute budget). No timed assertions: only that the harness runs and reports.
"""

from __future__ import annotations

import csv
import re
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "scripts" / "bench.py"
EXPECTED_COLUMNS = {"size", "years", "reps", "wall_s", "cpu_s", "peak_rss_mib", "dbt_invocations", "dbt_sql_s",
                    "overhead_share", "floor_s", "wall_over_floor"}


def load_bench():
    spec = importlib.util.spec_from_file_location("plansim_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_bench_runs_on_a_tiny_census_and_writes_its_report(tmp_path: Path) -> None:
    out, table = tmp_path / "perf.md", tmp_path / "bench.csv"
    proc = subprocess.run(
        [sys.executable, str(BENCH), "--sizes", "300", "--reps", "1", "--years", "2", "--skip-model-by-model",
         "--out", str(out), "--csv", str(table), "--scratch", str(tmp_path / "scratch")],
        cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]

    with table.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1
    row = rows[0]
    assert EXPECTED_COLUMNS <= set(row), sorted(EXPECTED_COLUMNS - set(row))
    assert (int(row["size"]), int(row["years"]), int(row["reps"])) == (300, 2, 1)
    assert float(row["wall_s"]) > 0 and float(row["cpu_s"]) > 0 and float(row["peak_rss_mib"]) > 0
    assert int(float(row["dbt_invocations"])) >= 2  # the pre-flight and at least one build a year
    assert float(row["floor_s"]) > 0
    assert float(row["wall_over_floor"]) > 0
    assert any(k.startswith("rule_build_") for k in row)  # per-rule times
    runs = list(csv.DictReader(table.with_name("bench_runs.csv").open()))
    assert len(runs) == 1

    text = out.read_text()
    for needle in ("# Performance", "## Machine", "## Results", "## Targets", "## Where the time goes",
                   "wall / floor", "snakemake --cores 2"):
        assert needle in text, needle
    assert re.search(r"\*\*(PASS|MISS|n/a)\*\*", text)
    assert "pipeline wall / floor" in proc.stdout
    assert not (tmp_path / "scratch").exists()  # removed without --keep


def test_dag_order_and_job_accounting_helpers() -> None:
    bench = load_bench()
    manifest = {"nodes": {
        "model.p.c": {"name": "c", "resource_type": "model", "config": {}, "depends_on": {"nodes": ["model.p.a", "seed.p.s"]}},
        "model.p.a": {"name": "a", "resource_type": "model", "config": {}, "depends_on": {"nodes": []}},
        "seed.p.s": {"name": "s", "resource_type": "seed", "config": {}, "depends_on": {"nodes": []}},
        "model.p.b": {"name": "b", "resource_type": "model", "config": {}, "depends_on": {"nodes": ["model.p.c"]}},
        "test.p.t": {"name": "t", "resource_type": "test", "config": {}, "depends_on": {"nodes": ["model.p.b"]}},
    }}
    assert [n["name"] for n in bench.topo_order(manifest)] == ["a", "s", "c", "b"]
    assert bench.union_seconds([(0, 2), (1, 3), (5, 6)]) == 4
    marker = {"dbt": {"seconds": 2.0, "sql_seconds": 1.0}, "rows": {"x": 1}}
    assert len(bench.dbt_invocations(marker)) == 1
    args = bench.parse_args(["--sizes", "5000,60000", "--reps", "3,1"])
    assert args.size_list == [5000, 60000] and args.rep_list == [3, 1] and args.mbm_years == 5


def test_targets_pass_miss_and_not_measured() -> None:
    bench = load_bench()
    rows = {(60000, 5): {"wall_s": 90.0, "floor_s": 30.0, "wall_over_floor": 3.0},
            (250000, 5): {"wall_s": 450.0, "floor_s": 200.0, "wall_over_floor": 2.25}}
    mbm = {"ratio": 3.5, "batched": {"wall_s": 10.0}, "model_by_model": {"wall_s": 35.0}}
    status = {t["key"]: t["status"] for t in bench.evaluate_targets(rows, mbm, one_m=False)}
    assert status == {"floor_60k": "PASS", "floor_250k": "MISS", "scaling": "MISS", "one_million": "n/a",
                      "model_by_model": "PASS"}
