"""The census's optional plan-money columns (scripts/plansim/census.py, issue 19).

roth_deferral_rate, prior_year_wages, annual_hours, vesting_service_years and the account
balances are staged when the census gives them and NULL when it does not; a PlanAlign census
gives the Roth part of its deferral rate as the dollar amounts pre_tax_contribution and
roth_contribution. The bad values and their messages are cases in tests/data/census/cases.yaml;
here: what the staged file holds, worked out by hand.
"""

from __future__ import annotations

import csv
import datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from plansim.census import CANONICAL_COLUMNS, stage_census, validate_census
from plansim.errors import CensusError

REPO = Path(__file__).resolve().parents[2]
CENSUS_DIR = REPO / "tests" / "data" / "census"
CENSUS_DATE: datetime.date = yaml.safe_load((CENSUS_DIR / "cases.yaml").read_text(encoding="utf-8"))["census_date"]
PLAN_MONEY = [
    ("roth_deferral_rate", "DECIMAL(9,6)"),
    ("prior_year_wages", "DECIMAL(18,2)"),
    ("annual_hours", "DECIMAL(9,2)"),
    ("vesting_service_years", "INTEGER"),
    ("balance_pretax", "DECIMAL(18,2)"),
    ("balance_roth", "DECIMAL(18,2)"),
    ("balance_match", "DECIMAL(18,2)"),
    ("balance_core", "DECIMAL(18,2)"),
    ("account_balance", "DECIMAL(18,2)"),
]
NEW = [name for name, _ in PLAN_MONEY]
EXISTING = [name for name, _ in CANONICAL_COLUMNS if name not in NEW]
D = Decimal


def _stage(path: Path, tmp_path: Path, **options) -> pd.DataFrame:
    out = tmp_path / f"{path.stem}.parquet"
    stage_census(path, out, CENSUS_DATE, **options)
    schema = [(field.name, str(field.type)) for field in pq.read_schema(out)]
    assert [name for name, _ in schema] == [name for name, _ in CANONICAL_COLUMNS]
    return pq.read_table(out).to_pandas().set_index("employee_id")


def _value(frame: pd.DataFrame, emp: str, column: str):
    value = frame.loc[emp, column]
    return None if pd.isna(value) else value


def _values(frame: pd.DataFrame, emp: str) -> dict:
    return {c: _value(frame, emp, c) for c in NEW}


def _parquet_types(path: Path) -> list[tuple[str, str]]:
    con = duckdb.connect()
    try:
        return [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()]
    finally:
        con.close()


def test_plan_money_columns_are_appended_with_their_types(tmp_path: Path) -> None:
    # the plan-money columns follow the nine original ones (the compliance columns of issue 14 come after)
    assert CANONICAL_COLUMNS[9:9 + len(PLAN_MONEY)] == PLAN_MONEY
    assert [name for name, _ in CANONICAL_COLUMNS[:9]] == [
        "employee_id", "birth_date", "hire_date", "termination_date", "annual_compensation", "job_level",
        "deferral_rate", "enrollment_date", "auto_escalation_opt_out"]
    out = tmp_path / "census.parquet"
    stage_census(CENSUS_DIR / "valid" / "plan_money_columns.csv", out, CENSUS_DATE)
    assert _parquet_types(out) == CANONICAL_COLUMNS


def test_plansim_census_stages_every_plan_money_column(tmp_path: Path) -> None:
    df = _stage(CENSUS_DIR / "valid" / "plan_money_columns.csv", tmp_path)
    assert list(df.index) == ["M001", "M002", "M003", "M005", "M006"]  # M004 left on 2024-05-31
    assert _values(df, "M001") == {
        "roth_deferral_rate": D("0.040000"), "prior_year_wages": D("152000.50"), "annual_hours": D("2080.00"),
        "vesting_service_years": 14, "balance_pretax": D("250000.00"), "balance_roth": D("40000.00"),
        "balance_match": D("60000.00"), "balance_core": D("10000.00"), "account_balance": D("360000.00"),
    }
    # everything deferred as Roth; only the total balance known
    assert _values(df, "M002") == {
        "roth_deferral_rate": D("0.050000"), "prior_year_wages": D("58000.00"), "annual_hours": D("1950.50"),
        "vesting_service_years": 6, "balance_pretax": None, "balance_roth": None, "balance_match": None,
        "balance_core": None, "account_balance": D("42000.75"),
    }
    # per-source balances without a total; a Roth rate of 0 stays 0, a blank wage stays NULL
    assert _values(df, "M003") == {
        "roth_deferral_rate": D("0.000000"), "prior_year_wages": None, "annual_hours": D("1000.00"),
        "vesting_service_years": 0, "balance_pretax": D("1200.00"), "balance_roth": None,
        "balance_match": D("300.00"), "balance_core": None, "account_balance": None,
    }
    assert _values(df, "M005") == dict.fromkeys(NEW)  # all blank: NULL, not 0
    assert df.loc["M005", "deferral_rate"] == D("0")  # while a blank deferral_rate is still 0
    # 100.10 + 200.20 = 300.30 is within 0.01 of 300.31: accepted, and each staged as given
    assert _values(df, "M006")["account_balance"] == D("300.31")
    assert (_values(df, "M006")["balance_pretax"], _values(df, "M006")["balance_roth"]) == (D("100.10"), D("200.20"))
    assert _values(df, "M006")["annual_hours"] == D("8784.00") and _values(df, "M006")["vesting_service_years"] == 25


def test_percent_units_scale_the_roth_rate_like_the_deferral_rate(tmp_path: Path) -> None:
    df = _stage(CENSUS_DIR / "valid" / "plan_money_percent_units.csv", tmp_path, deferral_rate_units="percent")
    assert df["deferral_rate"].to_dict() == {"M001": D("0.060000"), "M002": D("0.100000"), "M003": D("0.045000")}
    assert _value(df, "M001", "roth_deferral_rate") == D("0.015000")  # 1.5 of 6 percent
    assert _value(df, "M002", "roth_deferral_rate") == D("0.100000")  # all of it
    assert _value(df, "M003", "roth_deferral_rate") is None
    assert _value(df, "M001", "prior_year_wages") == D("80000.00")  # dollars are not scaled


def test_percent_roth_rate_is_checked_against_the_percent_deferral_rate(tmp_path: Path) -> None:
    path = tmp_path / "percent.csv"
    path.write_text("employee_id,birth_date,hire_date,annual_compensation,deferral_rate,roth_deferral_rate\n"
                    "E1,1980-01-01,2010-01-01,50000,6,6\n"
                    "E2,1980-01-01,2010-01-01,50000,6,7\n")
    with pytest.raises(CensusError) as info:
        validate_census(path, CENSUS_DATE, deferral_rate_units="percent")
    assert info.value.problems == [
        "roth_deferral_rate is above deferral_rate: 1 row: row 2 (line 3, employee_id E2) '7 > 6'"]


def test_planalign_roth_rate_comes_from_the_contribution_amounts(tmp_path: Path) -> None:
    df = _stage(CENSUS_DIR / "valid" / "planalign_plan_money.csv", tmp_path)
    assert list(df.index) == ["P001", "P002", "P003", "P004", "P005", "P006"]  # P007: active false
    roth = {emp: _value(df, emp, "roth_deferral_rate") for emp in df.index}
    assert roth == {
        "P001": D("0.012000"),  # 6% x 200 / (800 + 200)
        "P002": D("0.050000"),  # 5% x 3,100 / (0 + 3,100): all Roth
        "P003": None,  # no roth_contribution on the row
        "P004": None,  # 0 + 0: no split to take
        "P005": D("0.000000"),  # a blank deferral rate is 0, and so is its Roth part
        "P006": D("0.030000"),  # 10% x 1,350 / (3,150 + 1,350)
    }
    # the plan-money columns with plansim names in a PlanAlign file
    assert _values(df, "P001") == {
        "roth_deferral_rate": D("0.012000"), "prior_year_wages": D("150000.00"), "annual_hours": D("2080.00"),
        "vesting_service_years": 14, "balance_pretax": D("30000.00"), "balance_roth": D("5000.00"),
        "balance_match": None, "balance_core": None, "account_balance": D("35000.00"),
    }
    assert df.loc["P001", "deferral_rate"] == D("0.060000")


def test_planalign_roth_rate_with_percent_units(tmp_path: Path) -> None:
    path = tmp_path / "planalign.csv"
    path.write_text("employee_id,employee_birth_date,employee_hire_date,employee_gross_compensation,"
                    "employee_deferral_rate,pre_tax_contribution,roth_contribution\n"
                    "P1,1980-01-01,2010-01-01,50000,6,800,200\n")
    df = _stage(path, tmp_path, deferral_rate_units="percent")
    assert (df.loc["P1", "deferral_rate"], df.loc["P1", "roth_deferral_rate"]) == (D("0.060000"), D("0.012000"))


def test_planalign_file_without_pre_tax_contribution_has_no_roth_rate(tmp_path: Path) -> None:
    path = tmp_path / "planalign.csv"
    path.write_text("employee_id,employee_birth_date,employee_hire_date,employee_gross_compensation,"
                    "employee_deferral_rate,roth_contribution,account_balance\n"
                    "P1,1980-01-01,2010-01-01,50000,0.06,200,1000\n")
    summary = validate_census(path, CENSUS_DATE)
    assert summary.column_set == "planalign"  # account_balance is a name of both sets
    df = _stage(path, tmp_path)
    assert _value(df, "P1", "roth_deferral_rate") is None and df.loc["P1", "account_balance"] == D("1000.00")


def test_contribution_amounts_in_a_plansim_file_are_still_ignored(tmp_path: Path) -> None:
    path = tmp_path / "plansim.csv"
    path.write_text("employee_id,birth_date,hire_date,annual_compensation,deferral_rate,pre_tax_contribution,"
                    "roth_contribution\n"
                    "E1,1980-01-01,2010-01-01,50000,0.06,lots,-5\n")
    df = _stage(path, tmp_path)
    assert _value(df, "E1", "roth_deferral_rate") is None


@pytest.mark.parametrize("name", ["plansim_columns.csv", "planalign_columns.csv", "required_columns_only.csv"])
def test_census_without_plan_money_columns_stages_them_as_null(name: str, tmp_path: Path) -> None:
    df = _stage(CENSUS_DIR / "valid" / name, tmp_path)
    assert len(df) and df[NEW].isna().all().all()


def test_plan_money_columns_leave_the_existing_columns_unchanged(tmp_path: Path) -> None:
    """The same census without the new columns stages the same existing columns."""
    source = CENSUS_DIR / "valid" / "plan_money_columns.csv"
    with source.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    keep = [i for i, name in enumerate(rows[0]) if name not in NEW]
    without = tmp_path / "without" / "census.csv"
    without.parent.mkdir()
    with without.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows([[r[i] for i in keep] for r in rows])
    with_new = _stage(source, tmp_path)
    plain = _stage(without, tmp_path / "without")
    assert plain[NEW].isna().all().all()
    pd.testing.assert_frame_equal(with_new[EXISTING[1:]], plain[EXISTING[1:]])
    assert with_new.loc["M001", "deferral_rate"] == D("0.100000") and with_new.loc["M001", "job_level"] == 4


def test_excel_census_with_plan_money_cells_stages_like_the_csv(tmp_path: Path) -> None:
    source = CENSUS_DIR / "valid" / "plan_money_columns.csv"
    with source.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))

    def cell(column: str, text: str):
        if text == "":
            return None
        if column.endswith("_date"):
            return datetime.date.fromisoformat(text)
        if column in ("employee_id", "auto_escalation_opt_out"):
            return text
        return float(text)  # a number cell: 250000.00 is 250000 in the workbook

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Census"
    sheet.append(rows[0])
    for row in rows[1:]:
        sheet.append([cell(c, v) for c, v in zip(rows[0], row)])
    xlsx = tmp_path / "census.xlsx"
    book.save(xlsx)
    assert openpyxl.load_workbook(xlsx)["Census"]["N2"].value == 250000, "balance_pretax is a number cell"
    from_csv = _stage(source, tmp_path)
    from_xlsx = _stage(xlsx, tmp_path)
    pd.testing.assert_frame_equal(from_xlsx, from_csv)


def test_parquet_census_with_native_plan_money_types_is_checked_the_same_way(tmp_path: Path) -> None:
    path = tmp_path / "census.parquet"
    con = duckdb.connect()
    con.execute(
        f"""COPY (SELECT * FROM (VALUES
              ('A', DATE '1980-01-01', DATE '2010-01-01', 50000.0, 0.06, 0.02, 49000.0::DECIMAL(18,2), 2080::INTEGER,
               3::BIGINT, 600.0::DOUBLE, 400.0::DOUBLE, 1000.0::DECIMAL(18,2)),
              ('B', DATE '1980-01-01', DATE '2010-01-01', 50000.0, 0.06, 0.01, NULL, NULL,
               NULL, 600.0, 400.0, 1100.0))
            t(employee_id, birth_date, hire_date, annual_compensation, deferral_rate, roth_deferral_rate,
              prior_year_wages, annual_hours, vesting_service_years, balance_pretax, balance_roth, account_balance))
           TO '{path}' (FORMAT parquet)"""
    )
    con.close()
    with pytest.raises(CensusError) as info:
        validate_census(path, CENSUS_DATE)
    assert info.value.problems == [
        "balance_pretax + balance_roth (blanks as 0) do not add up to account_balance (within 0.01): 1 row: "
        "row 2 (employee_id B) 'sum 1000.00, total 1100.00'"]


def test_balances_just_below_the_limit_are_summed_to_the_cent(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    path.write_text("employee_id,birth_date,hire_date,annual_compensation,balance_pretax,balance_roth,account_balance\n"
                    "E1,1980-01-01,2010-01-01,50000,99999999999.50,,99999999999.49\n"  # 0.01 off: within
                    "E2,1980-01-01,2010-01-01,50000,99999999999.50,,99999999999.40\n")
    with pytest.raises(CensusError) as info:
        validate_census(path, CENSUS_DATE)
    assert info.value.problems == [
        "balance_pretax + balance_roth (blanks as 0) do not add up to account_balance (within 0.01): 1 row: "
        "row 2 (line 3, employee_id E2) 'sum 99999999999.50, total 99999999999.40'"]
    path.write_text(path.read_text().rsplit("E2,", 1)[0])
    df = _stage(path, tmp_path)
    assert (df.loc["E1", "balance_pretax"], df.loc["E1", "account_balance"]) == (
        D("99999999999.50"), D("99999999999.49"))
