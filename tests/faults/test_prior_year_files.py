"""Bad prior-year files (SPEC §5 year chaining, §7): year N starts only from an intact file
that year N-1 of the same scenario exported. A truncated or corrupted file, one from another
scenario or year, one missing a column or rewritten by another tool is refused while
Snakemake builds the DAG (plansim.state_files.check_state_file, called by the input functions
of rules/common.smk): non-zero exit, one message naming the file and the reason, no job run,
every file under results/ unchanged (the DuckDB file included).

Each case damages a copy of the finished tiny run (tests/conftest.py tiny_run: 2025-2027,
scenario tiny) and makes the next year need a run.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from conftest import snakemake

pytestmark = [pytest.mark.slow, pytest.mark.fault]

WORKFORCE = "int_year_end_workforce_state"
DEFERRAL = "int_year_end_deferral_state"


def results_state(wd: Path) -> dict[str, tuple[int, int, str]]:
    """path -> (size, mtime_ns, sha256) of every file under results/."""
    return {str(p.relative_to(wd)): (p.stat().st_size, p.stat().st_mtime_ns,
                                     hashlib.sha256(p.read_bytes()).hexdigest())
            for p in sorted((wd / "results").rglob("*")) if p.is_file()}


def state_file(wd: Path, year: int, model: str, scenario: str = "tiny") -> Path:
    return wd / "results" / scenario / str(year) / f"{model}.parquet"


# --------------------------------------------------------------------------- damage


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def corrupt_pages(path: Path) -> None:
    """Overwrite the employee_id column chunk in place: the footer stays valid, the pages do not."""
    meta = pq.read_metadata(path)
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    chunk = meta.row_group(0).column(names.index("employee_id"))
    start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
    data = bytearray(path.read_bytes())
    data[start:start + chunk.total_compressed_size] = b"\xff" * chunk.total_compressed_size
    path.write_bytes(bytes(data))
    assert pq.read_metadata(path).num_rows == meta.num_rows, "the footer must still read"
    with pytest.raises(Exception):
        pq.read_table(path)


def drop_column(path: Path, column: str) -> None:
    """Rewrite without ``column``, keeping the plansim metadata (a hand-edited export)."""
    table = pq.read_table(path)
    pq.write_table(table.drop_columns([column]).replace_schema_metadata(table.schema.metadata), path)


def strip_metadata(path: Path) -> None:
    """Rewrite as another tool would (pandas round trip): same rows, no plansim metadata."""
    pq.write_table(pq.read_table(path).replace_schema_metadata(None), path)


# --------------------------------------------------------------------------- cases
# Each returns (target, extra snakemake args, the damaged file relative to the workdir, expected substrings).


def case_truncated(wd: Path):
    truncate(state_file(wd, 2025, WORKFORCE))
    shutil.rmtree(wd / "results/tiny/2026")
    return "results/tiny/2026/done", [], f"results/tiny/2025/{WORKFORCE}.parquet", [
        "is not a readable parquet file: truncated or corrupted", "Year 2026 was not started"]


def case_corrupted_pages(wd: Path):
    corrupt_pages(state_file(wd, 2025, DEFERRAL))
    return "results/tiny/2026/done", ["--forcerun", "results/tiny/2026/plan_phase.json"], \
        f"results/tiny/2025/{DEFERRAL}.parquet", ["is corrupted: its pages cannot be decoded",
                                                  "Year 2026 was not started"]


def case_missing_column(wd: Path):
    drop_column(state_file(wd, 2025, DEFERRAL), "deferral_rate")
    shutil.rmtree(wd / "results/tiny/2026")
    shutil.rmtree(wd / "results/tiny/2027")
    return "results/tiny/2027/done", [], f"results/tiny/2025/{DEFERRAL}.parquet", [
        f"lacks column(s) deferral_rate; it is not a complete {DEFERRAL} export"]


def case_other_scenario(wd: Path):
    """Scenario `other` is added; the user copies tiny's 2025 workforce state into it."""
    cfg = yaml.safe_load((wd / "config.yaml").read_text())
    cfg["scenarios"] = {"tiny": {}, "other": {}}
    (wd / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    (wd / "results/other/2025").mkdir(parents=True)
    shutil.copy2(state_file(wd, 2025, WORKFORCE), state_file(wd, 2025, WORKFORCE, "other"))
    return "results/other/2026/done", [], f"results/other/2025/{WORKFORCE}.parquet", [
        "belongs to scenario 'tiny', not 'other'", "Year 2026 was not started"]


def case_wrong_year(wd: Path):
    shutil.copy2(state_file(wd, 2025, WORKFORCE), state_file(wd, 2026, WORKFORCE))
    shutil.rmtree(wd / "results/tiny/2027")
    return "results/tiny/2027/done", [], f"results/tiny/2026/{WORKFORCE}.parquet", [
        "holds year 2025, expected 2026", "Year 2027 was not started"]


def case_rewritten_by_another_tool(wd: Path):
    strip_metadata(state_file(wd, 2026, WORKFORCE))
    return "results/tiny/2027/done", ["--forcerun", "results/tiny/2027/workforce_phase.json"], \
        f"results/tiny/2026/{WORKFORCE}.parquet", ["has no plansim metadata", "Year 2027 was not started"]


CASES = {f.__name__.removeprefix("case_"): f for f in (
    case_truncated, case_corrupted_pages, case_missing_column, case_other_scenario, case_wrong_year,
    case_rewritten_by_another_tool)}


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_bad_prior_year_file_is_refused_before_any_job_and_results_stay(name, tiny_run, tmp_path):
    wd = tmp_path / "wf"
    shutil.copytree(tiny_run, wd, symlinks=True)
    target, extra, damaged, reasons = CASES[name](wd)
    before = results_state(wd)

    proc = snakemake(wd, "--cores", "2", target, *extra, check=False, timeout=300)

    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-3000:]
    assert f"prior-year file {damaged} (" in output, f"the message must name the file:\n{output[-3000:]}"
    for reason in reasons:
        assert reason in output, f"{reason!r} not in:\n{output[-3000:]}"
    assert "Finished jobid" not in output and "localrule" not in output, "a job ran"
    assert results_state(wd) == before, "a file under results/ changed"
