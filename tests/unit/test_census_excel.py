"""A census given as an Excel workbook (scripts/plansim/census.py, SPEC §3.1, §7).

The workbooks are real files: written here by openpyxl with date cells and text dates, and one
saved by LibreOffice from a CSV. An Excel census must stage to exactly what the same data as
CSV stages to, and a bad one must give the CSV's messages, its rows named by the sheet row a
person sees in Excel instead of the file line.
"""

from __future__ import annotations

import csv
import datetime
import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import openpyxl
import pytest
import yaml
from python_calamine import CalamineWorkbook

from plansim import cli
from plansim.census import CensusSummary, stage_census, validate_census
from plansim.errors import CensusError

REPO = Path(__file__).resolve().parents[2]
CENSUS_DIR = REPO / "tests" / "data" / "census"
CASES = yaml.safe_load((CENSUS_DIR / "cases.yaml").read_text(encoding="utf-8"))
CENSUS_DATE: datetime.date = CASES["census_date"]
VALID_CSV = CENSUS_DIR / "valid" / "plansim_columns.csv"
# The invalid CSV fixtures whose problems are about rows (not the file's structure or encoding).
ROW_LEVEL_CASES = sorted(n for n, case in CASES["invalid"].items() if any("row " in e for e in case["expect"]))


def _options(case: dict) -> dict:
    return dict(case.get("options") or {})


def _csv_rows(path: Path) -> list[list[str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def _typed(text: str):
    """The cell a person typing ``text`` into Excel would get: a date cell for an ISO date, a
    number cell for a plain number, TRUE/FALSE for true/false, no cell for a blank, else text."""
    if text == "":
        return None
    try:
        day = datetime.date.fromisoformat(text)
        if day.isoformat() == text:
            return day
    except ValueError:
        pass
    if text in ("true", "false"):
        return text == "true"
    try:
        number = float(text)
    except ValueError:
        return text
    return number if text in (repr(number), str(int(number)) if number.is_integer() else None) else text


def _write_xlsx(path: Path, sheets: dict[str, list[list]]) -> Path:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(path)
    return path


def _xlsx_from_csv(csv_path: Path, out: Path) -> Path:
    """The CSV's cells typed as Excel would type them, header on sheet row 1."""
    rows = _csv_rows(csv_path)
    return _write_xlsx(out, {"Census": [rows[0], *[[_typed(v) for v in r] for r in rows[1:]]]})


def _raises(path: Path, **options) -> CensusError:
    with pytest.raises(CensusError) as info:
        validate_census(path, CENSUS_DATE, **options)
    return info.value


def _content_checksum(parquet: Path) -> tuple[int, str]:
    """Row count and md5 of every staged value, rows in employee_id order."""
    con = duckdb.connect()
    try:
        return con.execute(
            f"""SELECT count(*), md5(string_agg(
                    concat_ws('|', employee_id, birth_date, hire_date, termination_date, annual_compensation,
                              job_level, deferral_rate, enrollment_date, auto_escalation_opt_out,
                              typeof(annual_compensation), typeof(deferral_rate)),
                    E'\\n' ORDER BY employee_id))
                FROM read_parquet('{parquet}')"""
        ).fetchone()
    finally:
        con.close()


# --------------------------------------------------------------------------- same data, same staged census


def test_excel_census_with_date_cells_and_text_dates_stages_like_the_csv(tmp_path: Path) -> None:
    rows = _csv_rows(VALID_CSV)
    body = []
    for i, row in enumerate(rows[1:]):
        cells = [_typed(v) for v in row]
        if i % 2:  # every other row keeps its dates as text, as a person pasting them would
            cells[1:4] = [v or None for v in row[1:4]]
        body.append(cells)
    body[0][2] = datetime.datetime(2010, 3, 1, 0, 0)  # a date-time cell at midnight
    body[1][7] = datetime.datetime(2019, 1, 1, 9, 30)  # and one with a time of day
    xlsx = _write_xlsx(tmp_path / "census.xlsx", {"Census": [rows[0], *body]})
    assert isinstance(openpyxl.load_workbook(xlsx)["Census"]["B2"].value, datetime.datetime), "a real date cell"
    assert openpyxl.load_workbook(xlsx)["Census"]["B3"].value == "1990-06-30", "a real text date"

    from_csv = stage_census(VALID_CSV, tmp_path / "from_csv.parquet", CENSUS_DATE)
    from_xlsx = stage_census(xlsx, tmp_path / "from_xlsx.parquet", CENSUS_DATE)
    assert _content_checksum(tmp_path / "from_xlsx.parquet") == _content_checksum(tmp_path / "from_csv.parquet")
    assert (from_xlsx.rows, from_xlsx.active_rows, from_xlsx.column_set) == (6, 5, "plansim")
    assert (from_csv.rows, from_csv.active_rows) == (from_xlsx.rows, from_xlsx.active_rows)
    assert from_xlsx.sheet == "Census" and "(sheet 'Census')" in from_xlsx.line()


def test_planalign_excel_census_stages_like_the_csv(tmp_path: Path) -> None:
    source = CENSUS_DIR / "valid" / "planalign_columns.csv"
    xlsx = _xlsx_from_csv(source, tmp_path / "planalign.xlsx")
    stage_census(source, tmp_path / "a.parquet", CENSUS_DATE)
    summary = stage_census(xlsx, tmp_path / "b.parquet", CENSUS_DATE)
    assert summary.column_set == "planalign"
    assert _content_checksum(tmp_path / "b.parquet") == _content_checksum(tmp_path / "a.parquet")


def _soffice() -> str:
    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found:
        return found
    message = ("LibreOffice (soffice) is not on PATH: scripts/ci/install_system_deps.sh installs "
               "libreoffice-calc-nogui, which this test needs to save a real LibreOffice workbook")
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.mark.parametrize("suffix", ["xlsx", "xls"])
def test_workbook_saved_by_libreoffice_stages_like_the_csv(tmp_path: Path, suffix: str) -> None:
    soffice = _soffice()
    source = tmp_path / "census.csv"
    shutil.copy(VALID_CSV, source)
    profile = (tmp_path / "lo-profile").as_uri()  # its own profile: runs in parallel do not clash
    proc = subprocess.run(
        [soffice, f"-env:UserInstallation={profile}", "--headless", "--convert-to", suffix,
         "--outdir", str(tmp_path / "lo"), str(source)],
        capture_output=True, text=True, timeout=180, check=False,
    )
    book = tmp_path / "lo" / f"census.{suffix}"
    assert proc.returncode == 0 and book.exists(), f"soffice failed: {proc.stdout}\n{proc.stderr}"
    if suffix == "xlsx":
        cell = openpyxl.load_workbook(book)["census"]["B2"].value
    else:  # openpyxl does not read .xls
        cell = CalamineWorkbook.from_path(str(book)).get_sheet_by_name("census").to_python()[1][1]
    assert isinstance(cell, datetime.date), f"LibreOffice kept the birth date as {cell!r}, not a date cell"

    stage_census(VALID_CSV, tmp_path / "from_csv.parquet", CENSUS_DATE)
    summary = stage_census(book, tmp_path / "from_lo.parquet", CENSUS_DATE)
    assert _content_checksum(tmp_path / "from_lo.parquet") == _content_checksum(tmp_path / "from_csv.parquet")
    assert summary.sheet == "census"


# --------------------------------------------------------------------------- bad input: the CSV's messages


@pytest.mark.parametrize("name", ROW_LEVEL_CASES)
def test_bad_excel_census_gives_the_csv_messages_with_sheet_rows(name: str, tmp_path: Path) -> None:
    case = CASES["invalid"][name]
    csv_path = CENSUS_DIR / "invalid" / name
    xlsx = _xlsx_from_csv(csv_path, tmp_path / (csv_path.stem + ".xlsx"))
    from_csv = _raises(csv_path, **_options(case))
    from_xlsx = _raises(xlsx, **_options(case))
    assert "(line " in str(from_csv)
    # data row N is on line N + 1 of the CSV and on sheet row N + 1: only the word differs
    assert from_xlsx.problems == [p.replace("(line ", "(sheet row ") for p in from_csv.problems]
    message = str(from_xlsx)
    assert message.startswith(f"census file {xlsx} (sheet 'Census') is invalid:")
    for expected in case["expect"]:
        assert expected.replace("(line ", "(sheet row ") in message


def test_rows_are_named_by_the_sheet_row_excel_shows(tmp_path: Path) -> None:
    """Empty rows above the header and between employees: the row numbers count employees, the
    sheet rows are the numbers at the left of the Excel window."""
    xlsx = _write_xlsx(tmp_path / "census.xlsx", {"Staff": [
        [],  # sheet row 1
        [],  # 2
        ["employee_id", "birth_date", "hire_date", "annual_compensation"],  # 3: the header
        ["E0001", datetime.date(1980, 1, 1), datetime.date(2010, 1, 1), 50000],  # 4: row 1
        [],  # 5: skipped, like a blank CSV line
        ["E0042", datetime.date(1980, 1, 1), datetime.date(2031, 1, 1), 50000],  # 6: row 2
    ]})
    assert openpyxl.load_workbook(xlsx)["Staff"]["A6"].value == "E0042"
    (problem,) = _raises(xlsx).problems
    assert problem == ("hire_date is after the census date 2024-12-31: 1 row: "
                       "row 2 (sheet row 6, employee_id E0042) '2031-01-01'")


def test_an_employee_id_typed_as_a_number_is_named_as_excel_shows_it(tmp_path: Path) -> None:
    header = ["employee_id", "birth_date", "hire_date", "annual_compensation"]
    xlsx = _write_xlsx(tmp_path / "census.xlsx", {"Census": [
        header, [1042, datetime.date(1980, 1, 1), datetime.date(2010, 1, 1), -5]]})
    (problem,) = _raises(xlsx).problems
    assert problem == "annual_compensation is not > 0: 1 row: row 1 (sheet row 2, employee_id 1042) '-5'"


def test_an_excel_number_in_a_date_column_is_not_a_date(tmp_path: Path) -> None:
    header = ["employee_id", "birth_date", "hire_date", "annual_compensation"]
    xlsx = _write_xlsx(tmp_path / "census.xlsx", {"Census": [
        header, ["E1", 29221, datetime.date(2010, 1, 1), 50000]]})  # a serial day without a date format
    assert "birth_date is not a date (expected YYYY-MM-DD): 1 row: row 1 (sheet row 2, employee_id E1) '29221'" in str(
        _raises(xlsx))


def test_empty_sheet_and_header_only_sheet(tmp_path: Path) -> None:
    header = ["employee_id", "birth_date", "hire_date", "annual_compensation"]
    xlsx = _write_xlsx(tmp_path / "census.xlsx", {"Census": [], "Header": [header, [], [None, None]]})
    assert str(_raises(xlsx)) == (f"census file {xlsx} (sheet 'Census') is invalid:\n"
                                  "  - the sheet is empty: expected a header row and one row per employee")
    assert str(_raises(xlsx, sheet="Header")) == (
        f"census file {xlsx} (sheet 'Header') is invalid:\n"
        "  - the sheet has a header row but no data rows: expected one row per employee")


# --------------------------------------------------------------------------- census_sheet


def _two_sheet_workbook(path: Path) -> Path:
    rows = _csv_rows(VALID_CSV)
    return _write_xlsx(path, {
        "Read me": [["This workbook holds the Dec 31, 2024 census on the next sheet."]],
        "Census 2024": [rows[0], *[[_typed(v) for v in r] for r in rows[1:]]],
    })


def test_census_sheet_selects_a_second_sheet(tmp_path: Path) -> None:
    xlsx = _two_sheet_workbook(tmp_path / "census.xlsx")
    summary = stage_census(xlsx, tmp_path / "staged.parquet", CENSUS_DATE, sheet="Census 2024")
    assert isinstance(summary, CensusSummary)
    assert (summary.sheet, summary.rows, summary.active_rows) == ("Census 2024", 6, 5)
    stage_census(VALID_CSV, tmp_path / "from_csv.parquet", CENSUS_DATE)
    assert _content_checksum(tmp_path / "staged.parquet") == _content_checksum(tmp_path / "from_csv.parquet")
    # without census_sheet the first sheet is read, and the message says which sheet that was
    message = str(_raises(xlsx))
    assert f"census file {xlsx} (sheet 'Read me') is invalid" in message
    assert "missing required column(s): employee_id, birth_date, hire_date, annual_compensation" in message


def test_unknown_census_sheet_names_the_file_and_its_sheets(tmp_path: Path) -> None:
    xlsx = _two_sheet_workbook(tmp_path / "census.xlsx")
    out = tmp_path / "staged.parquet"
    with pytest.raises(CensusError) as info:
        stage_census(xlsx, out, CENSUS_DATE, sheet="Census 2023")
    assert info.value.problems == ["has no sheet named 'Census 2023' (census_sheet); "
                                   "its sheets are: 'Read me', 'Census 2024'"]
    assert str(xlsx) in str(info.value)
    assert not out.exists()


def test_census_sheet_for_a_csv_census_is_an_error(tmp_path: Path) -> None:
    (problem,) = _raises(VALID_CSV, sheet="Census").problems
    assert problem == "census_sheet 'Census' is set, but the census is a CSV file, not an Excel workbook"


def test_a_file_named_xlsx_that_is_not_a_workbook(tmp_path: Path) -> None:
    fake = tmp_path / "census.xlsx"
    shutil.copy(VALID_CSV, fake)
    assert "cannot be read as an Excel workbook" in str(_raises(fake))


# --------------------------------------------------------------------------- the command


def test_validate_census_command_reads_a_workbook(tmp_path: Path, capsys) -> None:
    xlsx = _xlsx_from_csv(VALID_CSV, tmp_path / "census.xlsx")
    assert cli.main(["validate-census", str(xlsx), "--census-date", str(CENSUS_DATE)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"census {xlsx} (sheet 'Census'): 6 rows, 5 active")
    bad = _xlsx_from_csv(CENSUS_DIR / "invalid" / "hire_after_census.csv", tmp_path / "bad.xlsx")
    assert cli.main(["validate-census", str(bad), "--census-date", str(CENSUS_DATE)]) == 1
    err = capsys.readouterr().err
    assert "row 2 (sheet row 3, employee_id E002) '2025-02-01'" in err


def test_validate_census_command_takes_the_configs_sheet_for_the_configs_census(tmp_path: Path, capsys) -> None:
    xlsx = _two_sheet_workbook(tmp_path / "census.xlsx")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"start_year": 2025, "census": "census.xlsx", "census_sheet": "Census 2024"}))
    # the config's census: its census_sheet applies (census date Dec 31 before start_year)
    assert cli.main(["validate-census", str(xlsx), "--configfile", str(config)]) == 0
    assert capsys.readouterr().out.startswith(f"census {xlsx} (sheet 'Census 2024'): 6 rows, 5 active")
    # --sheet wins; another file is read from its first sheet
    assert cli.main(["validate-census", str(xlsx), "--configfile", str(config), "--sheet", "Read me"]) == 1
    assert "missing required column(s)" in capsys.readouterr().err
    other = _two_sheet_workbook(tmp_path / "other.xlsx")
    assert cli.main(["validate-census", str(other), "--configfile", str(config)]) == 1
    assert f"census file {other} (sheet 'Read me') is invalid" in capsys.readouterr().err
