"""The analyst workbooks as LibreOffice Calc reads them: every workbook of the reports run
(conftest's session fixture ``report_run``, no run of its own) converted by headless
``soffice`` to CSV, one file per sheet, twice (the cell values, and the cells as shown with
their number formats), and re-saved as .xlsx to read its filters and formats back with openpyxl.

A headless ``--convert-to`` opens a document without a view, and LibreOffice keeps frozen panes
in the view: it drops them from every file it converts (one written by openpyxl too), so the
panes are checked in the workbook LibreOffice was given (see also tests/unit/test_xlsx.py)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook

from conftest import REPORT_SCENARIOS as SCENARIOS, REPORT_SHEETS as SHEETS, REPORT_YEARS as YEARS, report_config
from plansim.config import resolve_config
from plansim.report import FIGURES
from plansim.xlsx import column_letter

# LibreOffice's CSV filter options: separator, quote, charset, first line, cell formats, language,
# quoted as text, detect special numbers, save as shown, formulas, remove spaces, sheet (-1: every
# sheet, to <file>-<sheet name>.csv; LibreOffice 7.2 and later).
VALUES = "csv:Text - txt - csv (StarCalc):44,34,UTF8,1,,0,false,true,false,false,false,-1"
SHOWN = "csv:Text - txt - csv (StarCalc):44,34,UTF8,1,,0,false,true,true,false,false,-1"
pytestmark = pytest.mark.slow


def soffice() -> str:
    path = shutil.which("soffice") or shutil.which("libreoffice")
    if path is None:
        how = ("run `bash scripts/ci/install_system_deps.sh`" if os.geteuid() == 0
               else "ask an administrator to install the Debian package `libreoffice-calc-nogui` "
                    "(scripts/ci/install_system_deps.sh)")
        pytest.fail(f"LibreOffice (soffice) is not installed: the workbooks cannot be opened in it; {how}")
    return path


def convert(workbooks: list[Path], target: str, outdir: Path, profile: Path) -> None:
    """``soffice --headless --convert-to target``, with a profile of its own (no clash with
    another soffice running at the same time)."""
    proc = subprocess.run([soffice(), f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
                           "--convert-to", target, "--outdir", str(outdir), *map(str, workbooks)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"soffice --convert-to {target} failed:\n{proc.stdout}\n{proc.stderr}"
    assert "Error" not in proc.stderr, proc.stderr


@pytest.fixture(scope="module")
def calc(report_run: Path, tmp_path_factory) -> Path:
    """Every workbook of the run as LibreOffice wrote it back: values/, shown/ and xlsx/."""
    workbooks = sorted((report_run / "results").glob("*/*.xlsx"))
    root = tmp_path_factory.mktemp("libreoffice")
    for name, target in (("values", VALUES), ("shown", SHOWN), ("xlsx", "xlsx")):
        convert(workbooks, target, root / name, root / f"profile-{name}")
    return root


def sheet(calc: Path, kind: str, scenario: str, name: str) -> list[list[str]]:
    with open(calc / kind / f"{scenario}-{name}.csv", newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def number(text: str) -> Decimal:
    """A number as LibreOffice wrote it with all its digits: 1234.5, 74.19354838709677%."""
    return Decimal(text[:-1]) / 100 if text.endswith("%") else Decimal(text)


def shown(value, kind: str) -> str:
    """How a value looks in its number format (LibreOffice rounds half away from zero)."""
    value = Decimal(str(value))
    if kind in ("fraction", "percent"):
        return f"{(value * 100).quantize(Decimal('0.01'), ROUND_HALF_UP)}%"
    if kind == "money":
        return f"{value.quantize(Decimal('0.01'), ROUND_HALF_UP):,}"
    if kind == "points":
        return f"{value.quantize(Decimal('0.01'), ROUND_HALF_UP)}"
    return f"{int(value):,}"


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_libreoffice_opens_every_workbook_of_the_run_with_every_sheet(report_run, calc):
    workbooks = sorted(p.relative_to(report_run).as_posix() for p in (report_run / "results").glob("*/*.xlsx"))
    assert workbooks == [f"results/{s}/{s}.xlsx" for s in SCENARIOS]
    for kind in ("values", "shown"):
        assert sorted(p.name for p in (calc / kind).iterdir()) == sorted(
            f"{s}-{name}.csv" for s in SCENARIOS for name in SHEETS)
    for scenario in SCENARIOS:
        assert load_workbook(calc / "xlsx" / f"{scenario}.xlsx", read_only=True).sheetnames == SHEETS
        assert all(len(sheet(calc, "values", scenario, name)) > 1 for name in SHEETS), "a sheet came back empty"


def test_libreoffice_reads_the_summary_of_summary_csv_with_employer_cost_as_a_percent(report_run, calc):
    for scenario in SCENARIOS:
        expected = read_csv(report_run / "results" / scenario / "summary.csv")
        values, looks = sheet(calc, "values", scenario, "Summary"), sheet(calc, "shown", scenario, "Summary")
        assert values[0] == looks[0] == list(expected[0])
        assert len(values) == len(looks) == 1 + len(expected)
        for got, look, want in zip(values[1:], looks[1:], expected):
            for field, cell, text in zip(values[0], got, look):
                csv_text = want[field]
                kind = FIGURES.get(field, ("", ""))[1]
                if not kind or csv_text == "":
                    assert cell == text == csv_text, field
                    continue
                value = Decimal(csv_text) / 100 if kind == "percent" else Decimal(csv_text)
                assert number(cell) == value, f"{scenario} {want['simulation_year']} {field}: {cell} != {csv_text}"
                assert text == shown(value, kind), f"{field} shows as {text}"
        cost = looks[1][values[0].index("employer_cost_pct_of_payroll")]
        assert cost.endswith("%") and 0 < float(cost[:-1]) < 20, f"employer cost shows as {cost}"


def test_libreoffice_reads_the_final_years_workforce_of_the_snapshot(report_run, calc):
    for scenario in SCENARIOS:
        table = pq.read_table(report_run / "results" / scenario / "2026" / "fct_workforce_snapshot.parquet")
        values = sheet(calc, "values", scenario, "Workforce 2026")
        looks = sheet(calc, "shown", scenario, "Workforce 2026")
        assert values[0] == table.column_names and len(values) == 1 + table.num_rows
        rows = table.to_pylist()
        for index in sorted({*range(0, len(rows), 5), len(rows) - 1}):
            want, got, look = rows[index], dict(zip(values[0], values[1 + index])), dict(zip(values[0], looks[1 + index]))
            assert got["employee_id"] == want["employee_id"]
            for column, value in want.items():
                cell = got[column]
                if value is None:
                    assert cell == "", column
                elif isinstance(value, bool):
                    assert cell == ("TRUE" if value else "FALSE"), column
                elif isinstance(value, (int, Decimal)):
                    assert number(cell) == value, f"{want['employee_id']} {column}: {cell} != {value}"
                elif hasattr(value, "isoformat"):
                    assert cell == look[column] == value.isoformat(), column
                else:
                    assert cell == value, column
            assert look["annual_compensation"] == shown(want["annual_compensation"], "money")
            assert look["deferral_rate"] == shown(want["deferral_rate"], "fraction")


def test_libreoffice_reads_the_event_counts_assumptions_and_run_metadata(report_run, calc):
    resolved = resolve_config(report_config(), base_dir=report_run)
    for scenario in SCENARIOS:
        folder = report_run / "results" / scenario
        events = sheet(calc, "values", scenario, "Events by type")
        assert events[0] == ["event_type", "event_subtype", "2025", "2026", "total"]
        counts = duckdb.sql(
            "select event_type, coalesce(event_subtype, '') as sub, simulation_year, count(*) as n from read_parquet("
            + repr([str(folder / str(y) / "fct_yearly_events.parquet") for y in YEARS]) + ") group by all").fetchall()
        expected = {(t, s, y): n for t, s, y, n in counts}
        got = {(t, s, y): int(n) for t, s, *ns, _ in events[1:-1] for y, n in zip(YEARS, ns) if n != "0"}
        assert got == expected
        assert events[-1] == ["all events", "", *(str(sum(n for (*_, y), n in expected.items() if y == year))
                                                  for year in YEARS), str(sum(expected.values()))]

        scn = resolved[scenario]
        settings = dict(sheet(calc, "shown", scenario, "Assumptions")[1:])
        assert settings["scenario_id"] == scenario and settings["random_seed"] == str(scn["random_seed"])
        assert settings["workforce.target_growth_rate"] == shown(scn["workforce"]["target_growth_rate"], "fraction")
        assert settings["workforce.compensation_bands[2][1]"] == shown(
            scn["workforce"]["compensation_bands"][1][0], "money")
        assert settings["plan_design.auto_enrollment.enabled"] == str(
            scn["plan_design"]["auto_enrollment"]["enabled"]).upper()

        meta = {row[0]: row[1:] for row in sheet(calc, "values", scenario, "Run metadata")}
        done = [json.loads((folder / str(y) / "done").read_text()) for y in YEARS]
        assert meta["config_hash"] == [d["config_hash"] for d in done]
        assert meta["row_counts.fct_yearly_events"] == [str(d["row_counts"]["fct_yearly_events"]) for d in done]
        assert not [k for k in meta if k.startswith(("compliance", "summary"))], "those have sheets of their own"


def test_libreoffice_keeps_every_tables_header_filter_and_number_formats(report_run, calc):
    for scenario in SCENARIOS:
        sizes = {name: len(sheet(calc, "values", scenario, name)) for name in SHEETS}
        summary_fields = sheet(calc, "values", scenario, "Summary")[0]
        snapshot_columns = sheet(calc, "values", scenario, "Workforce 2026")[0]
        expected = {"Summary": f"A1:{column_letter(len(summary_fields))}{sizes['Summary']}",
                    "Events by type": f"A1:E{sizes['Events by type'] - 1}",  # the total row stays out
                    "Compliance": f"A1:S{sizes['Compliance']}",
                    "Workforce 2026": f"A1:{column_letter(len(snapshot_columns))}{sizes['Workforce 2026']}",
                    "Assumptions": f"A1:B{sizes['Assumptions']}",
                    "Run metadata": f"A1:C{sizes['Run metadata']}"}
        resaved = load_workbook(calc / "xlsx" / f"{scenario}.xlsx")
        assert {ws.title: ws.auto_filter.ref for ws in resaved.worksheets} == expected

        summary, workforce = resaved["Summary"], resaved["Workforce 2026"]
        formats = {field: summary.cell(2, i).number_format for i, field in enumerate(summary_fields, start=1)}
        assert formats["employer_cost_pct_of_payroll"] == formats["participation_rate"] == "0.00%"
        assert formats["total_payroll"] == "#,##0.00" and formats["headcount_end"] == "#,##0"
        formats = {column: workforce.cell(2, i).number_format for i, column in enumerate(snapshot_columns, start=1)}
        assert formats["annual_compensation"] == formats["employer_match"] == "#,##0.00"
        assert formats["deferral_rate"] == "0.00%" and formats["hire_date"].replace("\\", "") == "yyyy-mm-dd"

        given = load_workbook(report_run / "results" / scenario / f"{scenario}.xlsx", read_only=False)
        assert {ws.title: ws.freeze_panes for ws in given.worksheets} == {
            "Summary": "D2", "Events by type": "C2", "Compliance": "E2", "Workforce 2026": "E2", "Assumptions": "B2", "Run metadata": "B2"}


def test_libreoffice_reads_the_compliance_tests_of_compliance_csv(report_run, calc):
    """The Compliance sheet: every year's tests as compliance.csv has them, averages shown as
    percentages, margins in signed points, dollars with cents; the ADP and ACP rows of each year."""
    shares = ("hce_value", "nhce_value", "nhce_base", "test_value", "limit_value")
    for scenario in SCENARIOS:
        expected = read_csv(report_run / "results" / scenario / "compliance.csv")
        values, looks = sheet(calc, "values", scenario, "Compliance"), sheet(calc, "shown", scenario, "Compliance")
        assert values[0] == list(expected[0]) and len(values) == 1 + len(expected)
        assert {(r["simulation_year"], r["test_name"]) for r in expected} == {
            (str(y), t) for y in YEARS for t in ("adp", "acp", "coverage_401k", "coverage_401m",
                                                 "coverage_nonelective", "top_heavy")}
        for got, look, want in zip(values[1:], looks[1:], expected):
            row = dict(zip(values[0], got))
            shown_row = dict(zip(values[0], look))
            assert (row["test_name"], row["status"], row["note"]) == (want["test_name"], want["status"], want["note"])
            for field in (*shares, "margin_points", "corrective_amount"):
                if want[field] == "":
                    assert row[field] == "", field
                    continue
                assert number(row[field]) == Decimal(want[field]), (scenario, want["test_name"], field)
            if want["hce_value"]:
                assert shown_row["hce_value"] == shown(want["hce_value"], "fraction")
            if want["margin_points"]:
                assert shown_row["margin_points"] == shown(want["margin_points"], "points")
