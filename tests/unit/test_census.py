"""Census validation and staging (scripts/plansim/census.py).

Data-driven: tests/data/census/cases.yaml lists every fixture under tests/data/census/{valid,invalid}
with the counts or the message substrings expected.
"""

from __future__ import annotations

import csv
import datetime
import gzip
import re
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from plansim.census import (
    CANONICAL_COLUMNS,
    PLANALIGN_ALIASES,
    CensusSummary,
    stage_census,
    validate_census,
)
from plansim.errors import CensusError, PlansimError

REPO = Path(__file__).resolve().parents[2]
CENSUS_DIR = REPO / "tests" / "data" / "census"
CASES = yaml.safe_load((CENSUS_DIR / "cases.yaml").read_text(encoding="utf-8"))
CENSUS_DATE: datetime.date = CASES["census_date"]
TINY = REPO / "tests" / "data" / "tiny_census.csv"
HEADER = (
    "employee_id,birth_date,hire_date,termination_date,annual_compensation,job_level,"
    "deferral_rate,enrollment_date,auto_escalation_opt_out"
)


def _options(case: dict) -> dict:
    return dict(case.get("options") or {})


def _raises(path: Path, **options) -> CensusError:
    with pytest.raises(CensusError) as info:
        validate_census(path, CENSUS_DATE, **options)
    return info.value


def _staged(path: Path) -> pd.DataFrame:
    """The staged parquet with dates as datetime.date and decimals as Decimal."""
    return pq.read_table(path).to_pandas()


def _sql(query: str) -> list[tuple]:
    con = duckdb.connect()
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


# --------------------------------------------------------------------------- data-driven cases


def test_cases_table_covers_every_fixture() -> None:
    for kind in ("invalid", "valid"):
        on_disk = {p.name for p in (CENSUS_DIR / kind).iterdir() if p.is_file()}
        assert on_disk == set(CASES[kind]), f"{kind}/ fixtures and cases.yaml disagree"
    assert len(CASES["invalid"]) >= 20


@pytest.mark.parametrize("name", sorted(CASES["invalid"]))
def test_invalid_census_is_rejected_with_a_clear_message(name: str) -> None:
    case = CASES["invalid"][name]
    path = CENSUS_DIR / "invalid" / name
    error = _raises(path, **_options(case))
    message = str(error)
    assert isinstance(error, PlansimError)
    assert str(path) in message, "the message must name the file"
    assert error.problems, "at least one problem line"
    for expected in case["expect"]:
        assert expected in message, f"{expected!r} not in:\n{message}"


ROW_NAMED = re.compile(r"row (\d+) \(line (\d+)(?:, employee_id ([^)]+))?\)")


ROW_LEVEL_CASES = sorted(n for n, case in CASES["invalid"].items() if any("row " in e for e in case["expect"]))


@pytest.mark.parametrize("name", ROW_LEVEL_CASES)
def test_every_row_named_carries_its_line_and_employee_id(name: str) -> None:
    """Each row a problem names is given with its file line and, unless the problem is about
    the id itself (blank, or repeated and named before its rows), the id the file has there."""
    path = CENSUS_DIR / "invalid" / name
    error = _raises(path, **_options(CASES["invalid"][name]))
    rows = list(csv.reader(path.open(encoding="utf-8-sig", newline="")))
    ids = [r[[h.strip() for h in rows[0]].index("employee_id")].strip() for r in rows[1:]]
    named = 0
    for problem in error.problems:
        if problem.startswith("employee_id is not unique"):
            continue
        for found in ROW_NAMED.finditer(problem):
            row, line, shown = int(found[1]), int(found[2]), found[3]
            assert line == row + 1, problem
            assert shown == (ids[row - 1] or None), f"row {row} has employee_id {ids[row - 1]!r}: {problem}"
            named += 1
    assert named or name == "duplicate_employee_id.csv", f"no row named in {error.problems}"


@pytest.mark.parametrize("name", sorted(CASES["valid"]))
def test_valid_census_is_accepted_with_counts(name: str) -> None:
    case = CASES["valid"][name]
    path = CENSUS_DIR / "valid" / name
    summary = validate_census(path, CENSUS_DATE, **_options(case))
    assert isinstance(summary, CensusSummary)
    assert (summary.rows, summary.active_rows, summary.terminated_rows, summary.column_set) == (
        case["rows"],
        case["active"],
        case["terminated"],
        case["column_set"],
    )
    assert summary.path == str(path)
    line = summary.line()
    assert "\n" not in line and f"{case['rows']:,} rows" in line and str(path) in line


def test_bom_crlf_fixture_really_has_a_bom_and_crlf() -> None:
    data = (CENSUS_DIR / "valid" / "bom_crlf.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and b"\r\n" in data


def test_percent_like_rates_pass_with_percent_units() -> None:
    path = CENSUS_DIR / "invalid" / "deferral_looks_like_percent.csv"
    assert validate_census(path, CENSUS_DATE, deferral_rate_units="percent").rows == 4


def test_census_date_accepts_iso_string() -> None:
    assert validate_census(CENSUS_DIR / "valid" / "plansim_columns.csv", "2024-12-31").rows == 6


def test_bad_options_are_programming_errors() -> None:
    path = CENSUS_DIR / "valid" / "plansim_columns.csv"
    with pytest.raises(ValueError):
        validate_census(path, CENSUS_DATE, deferral_rate_units="basis_points")
    with pytest.raises(ValueError):
        validate_census(path, CENSUS_DATE, max_job_level=0)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert "file not found" in str(_raises(tmp_path / "nope.csv"))
    assert "is a directory" in str(_raises(tmp_path))


def test_hire_date_on_census_date_and_age_14_boundary(tmp_path: Path) -> None:
    path = tmp_path / "edges.csv"
    path.write_text(
        HEADER + "\n"
        "A,2010-12-31,2024-12-31,,30000,1,0,,false\n"  # hired on the census date, exactly 14
        "B,2000-02-29,2014-02-28,,30000,1,0,,false\n"  # born Feb 29: 14th birthday is Feb 28 2014
        "C,1980-01-01,2000-01-01,2024-12-31,30000,1,0,,false\n"  # terminated on the census date
        "D,1980-01-01,2000-01-01,2025-01-01,30000,1,0,,false\n"  # terminates after: still active
    )
    summary = validate_census(path, CENSUS_DATE)
    assert (summary.active_rows, summary.terminated_rows) == (3, 1)
    path.write_text(HEADER + "\nA,2010-12-31,2024-12-30,,30000,1,0,,false\n")
    assert "hired before age 14" in str(_raises(path))


def test_all_problems_are_listed_and_capped_in_message(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    rows = [
        "A,1980-13-01,2010-01-01,,x,7,abc,nope,maybe",
        "A,1980-01-01,2030-01-01,1999-01-01,0,0.5,-1,2020-02-30,2",
        ",19800101,2000-01-01,,2e9,,2,,",
    ]
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    error = _raises(path)
    assert len(error.problems) >= 12
    assert all("row " in p for p in error.problems)
    assert str(error).count("\n  - ") == min(20, len(error.problems))


def test_examples_are_capped_at_five_with_total_count(tmp_path: Path) -> None:
    path = tmp_path / "many.csv"
    rows = [f"E{i},1980-01-01,2010-01-01,,-{i},1,0,,false" for i in range(1, 41)]
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    (problem,) = _raises(path).problems
    assert problem.startswith("annual_compensation is not > 0: 40 rows: row 1 (line 2, employee_id E1) '-1'")
    assert problem.count("row ") == 5 and problem.endswith("(first 5 shown)")


def test_line_numbers_are_omitted_when_rows_span_several_lines(tmp_path: Path) -> None:
    path = tmp_path / "multiline.csv"
    path.write_text(
        "employee_id,birth_date,hire_date,annual_compensation,note\n"
        'A,1980-01-01,2010-01-01,50000,"two\nlines"\n'
        "\n"
        "B,1980-01-01,2030-01-01,50000,\n"
    )
    message = str(_raises(path))
    assert "hire_date is after the census date 2024-12-31: 1 row: row 2 (employee_id B) '2030-01-01'" in message


def test_active_column_used_only_without_termination_date(tmp_path: Path) -> None:
    path = tmp_path / "pa.csv"
    path.write_text(
        "employee_id,employee_birth_date,employee_hire_date,employee_termination_date,"
        "employee_gross_compensation,active\n"
        "P1,1980-01-01,2010-01-01,,50000,FALSE\n"  # inactive, no date -> terminated
        "P2,1980-01-01,2010-01-01,2024-03-01,50000,true\n"  # dated termination wins
        "P3,1980-01-01,2010-01-01,2025-03-01,50000,false\n"  # terminates after census: active
        "P4,1980-01-01,2010-01-01,,50000,\n"  # blank active -> active
    )
    summary = validate_census(path, CENSUS_DATE)
    assert (summary.column_set, summary.active_rows, summary.terminated_rows) == ("planalign", 2, 2)


def test_unknown_extra_columns_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "extra.csv"
    path.write_text(
        "department,employee_id,birth_date,hire_date,annual_compensation,employee_ssn,foo,foo\n"
        "x,A,1980-01-01,2010-01-01,50000,123,1,2\n"
    )
    assert validate_census(path, CENSUS_DATE).rows == 1


def test_gzipped_csv_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "census.csv.gz"
    path.write_bytes(gzip.compress((CENSUS_DIR / "valid" / "plansim_columns.csv").read_bytes()))
    assert validate_census(path, CENSUS_DATE).rows == 6


def test_planalign_alias_table_maps_to_canonical_columns() -> None:
    canonical = {name for name, _ in CANONICAL_COLUMNS}
    for alias, target in PLANALIGN_ALIASES.items():
        assert target is None or target in canonical, alias
    for name in ("employee_birth_date", "employee_hire_date", "employee_termination_date",
                 "employee_gross_compensation", "employee_deferral_rate", "employee_enrollment_date"):
        assert PLANALIGN_ALIASES[name] in canonical
    assert PLANALIGN_ALIASES["employee_ssn"] is None


# --------------------------------------------------------------------------- parquet input


def _write_parquet(path: Path, select_sql: str) -> None:
    con = duckdb.connect()
    con.execute(f"COPY ({select_sql}) TO '{path}' (FORMAT parquet)")
    con.close()


def test_parquet_with_native_types_is_accepted_and_staged(tmp_path: Path) -> None:
    src = tmp_path / "census.parquet"
    _write_parquet(
        src,
        """SELECT * FROM (VALUES
             ('B', DATE '1980-01-15', DATE '2010-03-01', NULL::DATE, 85000.5::DOUBLE, 3::BIGINT, 0.06::DOUBLE,
              DATE '2010-06-01', true),
             ('A', DATE '1990-06-30', DATE '2018-09-10', NULL::DATE, 62000::DOUBLE, NULL::BIGINT, NULL::DOUBLE,
              NULL::DATE, NULL::BOOLEAN),
             ('C', DATE '1975-11-02', DATE '2005-01-17', DATE '2024-05-31', 120000::DOUBLE, 4::BIGINT, 0.1::DOUBLE,
              NULL::DATE, false))
           t(employee_id, birth_date, hire_date, termination_date, annual_compensation, job_level,
             deferral_rate, enrollment_date, auto_escalation_opt_out)""",
    )
    summary = stage_census(src, tmp_path / "out.parquet", CENSUS_DATE)
    assert (summary.rows, summary.active_rows, summary.terminated_rows) == (3, 2, 1)
    df = _staged(tmp_path / "out.parquet")
    assert list(df["employee_id"]) == ["A", "B"]
    assert df.loc[1, "annual_compensation"] == Decimal("85000.50")
    assert df.loc[0, "deferral_rate"] == Decimal("0") and not df.loc[0, "auto_escalation_opt_out"]
    assert pd.isna(df.loc[0, "job_level"]) and df.loc[1, "job_level"] == 3


def test_parquet_planalign_timestamps_are_accepted(tmp_path: Path) -> None:
    src = tmp_path / "planalign.parquet"
    _write_parquet(
        src,
        """SELECT 'P' || i AS employee_id, '000-00-000' || i AS employee_ssn,
                  TIMESTAMP '1980-01-01 00:00:00' + INTERVAL (i) DAY AS employee_birth_date,
                  TIMESTAMP '2010-01-01 00:00:00' AS employee_hire_date,
                  CASE WHEN i = 1 THEN TIMESTAMP '2024-06-30 00:00:00' END AS employee_termination_date,
                  50000.0 + i AS employee_gross_compensation, 0.05 AS employee_deferral_rate,
                  i <> 1 AS active
           FROM range(5) r(i)""",
    )
    summary = stage_census(src, tmp_path / "out.parquet", CENSUS_DATE)
    assert (summary.column_set, summary.rows, summary.active_rows) == ("planalign", 5, 4)
    df = _staged(tmp_path / "out.parquet")
    assert df["birth_date"].iloc[0] == datetime.date(1980, 1, 1)
    assert list(df["deferral_rate"]) == [Decimal("0.050000")] * 4


def test_parquet_bad_row_is_reported_by_row_number(tmp_path: Path) -> None:
    src = tmp_path / "bad.parquet"
    _write_parquet(
        src,
        """SELECT 'E' || i AS employee_id, DATE '1980-01-01' AS birth_date,
                  CASE WHEN i = 99999 THEN DATE '2026-01-01' ELSE DATE '2010-01-01' END AS hire_date,
                  50000 AS annual_compensation
           FROM range(100000) r(i)""",
    )
    message = str(_raises(src))
    assert ("hire_date is after the census date 2024-12-31: 1 row: row 100000 (employee_id E99999) '2026-01-01'"
            in message)
    assert "(line" not in message


def test_empty_parquet_is_rejected(tmp_path: Path) -> None:
    src = tmp_path / "empty.parquet"
    _write_parquet(src, "SELECT 'x' AS employee_id, DATE '2000-01-01' AS birth_date, "
                   "DATE '2020-01-01' AS hire_date, 1.0 AS annual_compensation WHERE false")
    assert "has no rows" in str(_raises(src))


# --------------------------------------------------------------------------- staging


def test_stage_schema_types_and_order(tmp_path: Path) -> None:
    out = tmp_path / "staged" / "census.parquet"
    summary = stage_census(CENSUS_DIR / "valid" / "plansim_columns.csv", out, CENSUS_DATE)
    assert summary.active_rows == 5
    schema = _sql(f"DESCRIBE SELECT * FROM read_parquet('{out}')")
    assert [(r[0], r[1]) for r in schema] == CANONICAL_COLUMNS
    df = _staged(out)
    assert list(df["employee_id"]) == ["E001", "E002", "E004", "E005", "E006"]  # E003 terminated
    rows = df.set_index("employee_id")
    assert rows.loc["E005", "termination_date"] == datetime.date(2025, 6, 30)  # after census: kept
    assert pd.isna(rows.loc["E005", "job_level"])  # blank level stays NULL
    assert rows.loc["E005", "annual_compensation"] == Decimal("96000.50")
    assert rows.loc["E006", "deferral_rate"] == Decimal("0.000000")  # blank -> 0
    assert bool(rows.loc["E006", "auto_escalation_opt_out"]) is True  # "Yes"
    assert bool(rows.loc["E005", "auto_escalation_opt_out"]) is False  # "FALSE"
    assert rows.loc["E001", "enrollment_date"] == datetime.date(2010, 6, 1)
    assert pd.isna(rows.loc["E004", "enrollment_date"])
    assert not [p for p in out.parent.iterdir() if p.name != out.name], "no temp files left"


def test_stage_percent_units_divides_by_100(tmp_path: Path) -> None:
    out = tmp_path / "census.parquet"
    stage_census(CENSUS_DIR / "valid" / "percent_units.csv", out, CENSUS_DATE, deferral_rate_units="percent")
    rates = _staged(out).set_index("employee_id")["deferral_rate"]
    assert rates.to_dict() == {"E001": Decimal("0.065000"), "E002": Decimal("0.100000"), "E004": Decimal("0")}


def test_stage_planalign_columns(tmp_path: Path) -> None:
    out = tmp_path / "census.parquet"
    stage_census(CENSUS_DIR / "valid" / "planalign_columns.csv", out, CENSUS_DATE)
    df = _staged(out).set_index("employee_id")
    assert list(df.index) == ["P001", "P002", "P006"]
    assert df.loc["P001", "birth_date"] == datetime.date(1980, 1, 15)
    assert df.loc["P001", "annual_compensation"] == Decimal("85000.00")
    assert df.loc["P001", "job_level"] == 3 and pd.isna(df.loc["P002", "job_level"])
    assert df.loc["P001", "enrollment_date"] == datetime.date(2010, 6, 1)


def test_stage_trims_and_parses_timestamps(tmp_path: Path) -> None:
    out = tmp_path / "census.parquet"
    stage_census(CENSUS_DIR / "valid" / "timestamps_extras_whitespace.csv", out, CENSUS_DATE)
    df = _staged(out).set_index("employee_id")
    assert list(df.index) == ["E001", "E002"]
    assert df.loc["E001", "birth_date"] == datetime.date(1980, 1, 15)
    assert df.loc["E002", "hire_date"] == datetime.date(2018, 9, 10)
    assert df.loc["E001", "annual_compensation"] == Decimal("85000.00")
    assert bool(df.loc["E001", "auto_escalation_opt_out"]) and not bool(df.loc["E002", "auto_escalation_opt_out"])
    assert df.loc["E002", "deferral_rate"] == Decimal("0")


@pytest.mark.parametrize("bad", ["hire_after_census.csv", "binary_garbage.csv", "empty.csv", "ragged_rows.csv"])
def test_stage_leaves_existing_output_byte_identical_when_invalid(tmp_path: Path, bad: str) -> None:
    out = tmp_path / "census.parquet"
    stage_census(CENSUS_DIR / "valid" / "plansim_columns.csv", out, CENSUS_DATE)
    before = out.read_bytes()
    mtime = out.stat().st_mtime_ns
    with pytest.raises(CensusError):
        stage_census(CENSUS_DIR / "invalid" / bad, out, CENSUS_DATE)
    assert out.read_bytes() == before and out.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in tmp_path.iterdir()) == ["census.parquet"]


def test_stage_writes_nothing_when_invalid(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "census.parquet"
    with pytest.raises(CensusError):
        stage_census(CENSUS_DIR / "invalid" / "duplicate_employee_id.csv", out, CENSUS_DATE)
    assert not out.parent.exists()


def test_stage_replaces_existing_output(tmp_path: Path) -> None:
    out = tmp_path / "census.parquet"
    out.write_bytes(b"old content")
    stage_census(TINY, out, CENSUS_DATE)
    assert len(_staged(out)) == 36  # 39 rows, of which 3 (TINY_017, _018, _033) left by the census date
    assert sorted(p.name for p in tmp_path.iterdir()) == ["census.parquet"]


def test_stage_is_deterministic(tmp_path: Path) -> None:
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    stage_census(TINY, a, CENSUS_DATE)
    stage_census(TINY, b, CENSUS_DATE)
    assert _staged(a).equals(_staged(b))


# --------------------------------------------------------------------------- tiny census fixture


def test_tiny_census_covers_the_edge_cases(tmp_path: Path) -> None:
    summary = validate_census(TINY, CENSUS_DATE)
    assert 30 <= summary.rows <= 40 and summary.column_set == "plansim"
    raw = pd.read_csv(TINY, dtype=str, keep_default_na=False)
    birth = pd.to_datetime(raw["birth_date"])
    hire = pd.to_datetime(raw["hire_date"])
    term = pd.to_datetime(raw["termination_date"].replace("", None))
    comp = raw["annual_compensation"].astype(float)
    age_2025 = 2025 - birth.dt.year  # age reached by Dec 31 of the first simulated year
    assert (age_2025 == 50).any(), "someone aged 49 turning 50"
    assert age_2025.between(60, 63).sum() >= 2 and (age_2025 == 59).any() and (age_2025 == 64).any()
    # retirement at max_age 70: one active turning 70 during 2025, one already older on Jan 1
    assert (term.isna() & (age_2025 == 70)).any() and (term.isna() & (age_2025 > 70)).any()
    assert (comp > 360_000).any()
    assert (raw["deferral_rate"] == "0.50").any()
    assert ((pd.Timestamp(CENSUS_DATE) - hire).dt.days <= 31).any(), "a recent hire"
    assert (term < pd.Timestamp(CENSUS_DATE)).any() and (term == pd.Timestamp(CENSUS_DATE)).any()
    assert (raw["job_level"] == "").sum() >= 2
    assert (raw["deferral_rate"] == "0").any() and (raw["deferral_rate"] == "").any()
    assert (raw["auto_escalation_opt_out"] == "true").any()
    assert (raw["enrollment_date"] != "").any()
    assert set(raw["job_level"]) - {""} == {"1", "2", "3", "4", "5"}
    assert raw["birth_date"].str.endswith("02-29").any()
    out = tmp_path / "tiny.parquet"
    stage_census(TINY, out, CENSUS_DATE)
    assert len(_staged(out)) == summary.active_rows


# --------------------------------------------------------------------------- scale


def _big_csv_with_bad_last_row(path: Path, rows: int) -> None:
    from plansim.sample_census import write_census

    write_census(path, rows - 1, seed=7, census_date=CENSUS_DATE)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("EMP_LAST,1980-01-01,2010-01-01,,-5,2,0.05,,false\n")


def test_bad_last_row_of_a_large_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    _big_csv_with_bad_last_row(path, 50_000)
    message = str(_raises(path))
    assert "annual_compensation is not > 0: 1 row: row 50000 (line 50001, employee_id EMP_LAST) '-5'" in message


@pytest.mark.slow
def test_million_row_census_validates_and_reports_last_row(tmp_path: Path) -> None:
    # how long it takes is make bench's to measure, not a timed assertion here
    path = tmp_path / "million.csv"
    _big_csv_with_bad_last_row(path, 1_000_000)
    message = str(_raises(path))
    assert "annual_compensation is not > 0: 1 row: row 1000000 (line 1000001, employee_id EMP_LAST) '-5'" in message
    # without the bad row, the file stages
    path.write_bytes(path.read_bytes().rstrip(b"\n").rsplit(b"\n", 1)[0] + b"\n")
    summary = stage_census(path, tmp_path / "million.parquet", CENSUS_DATE)
    assert summary.rows == 999_999
    assert _sql(f"SELECT count(*) FROM read_parquet('{tmp_path / 'million.parquet'}')")[0][0] == summary.active_rows
