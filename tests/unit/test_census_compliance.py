"""The census's officer and ownership columns (issue 14) are staged as the HCE and top-heavy
tests need them: with the column, a blank is "not an officer" / 0%; without it, every row is
unknown (NULL), so the tests can say "not determinable" instead of guessing."""

from __future__ import annotations

import datetime as dt

import duckdb

from plansim.census import stage_census

HEADER = "employee_id,birth_date,hire_date,annual_compensation"


def staged(tmp_path, header: str, rows: list[str]) -> dict:
    src = tmp_path / "census.csv"
    src.write_text("\n".join([header, *rows]) + "\n")
    out = tmp_path / "staged.parquet"
    stage_census(src, out, dt.date(2024, 12, 31))
    return {r[0]: (r[1], r[2]) for r in duckdb.execute(
        f"select employee_id, is_officer, ownership_pct from read_parquet('{out}') order by 1").fetchall()}


def test_given_columns_blank_means_no(tmp_path):
    got = staged(tmp_path, HEADER + ",is_officer,ownership_pct",
                 ["E1,1970-01-01,2010-01-01,300000,yes,10", "E2,1980-01-01,2015-01-01,60000,,",
                  "E3,1985-01-01,2016-01-01,70000,0,2.5"])
    assert got == {"E1": (True, 10), "E2": (False, 0), "E3": (False, 2.5)}


def test_a_census_without_them_stages_unknown(tmp_path):
    got = staged(tmp_path, HEADER, ["E1,1970-01-01,2010-01-01,300000"])
    assert got == {"E1": (None, None)}
    got = staged(tmp_path, HEADER + ",ownership_pct", ["E1,1970-01-01,2010-01-01,300000,6"])
    assert got == {"E1": (None, 6)}, "owners known, officers unknown"
