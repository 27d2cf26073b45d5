"""What analysts see: summary figures, workbook, comparison, plots and the HTML report,
through the real `snakemake` command on the tiny census (2 scenarios x 2 years); the report
is rendered in headless Chromium."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path

import duckdb
import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook

# the run itself is conftest's session fixture report_run
from conftest import REPORT_SCENARIOS as SCENARIOS, REPORT_SHEETS as SHEETS, REPORT_YEARS as YEARS, report_config
from plansim.cli import scenario_targets
from plansim.config import resolve_config
from plansim.report import EXCEL_MAX_DATA_ROWS, FIGURES, write_workbook

COMPARISON = ["comparison.csv", "comparison.html", "headcount.png", "participation.png", "average_deferral.png",
              "employer_cost.png"]
pytestmark = pytest.mark.slow


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def as_number(text: str):
    """A summary.csv field as the workbook holds it: an empty field is an empty cell."""
    if text == "":
        return None
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def sheet_rows(ws) -> list[tuple]:
    """The sheet's rows, each as wide as the header: openpyxl's read-only mode leaves out a row's
    trailing empty cells (an empty last column, e.g. plan_design_change_date of a year without a
    change, is no cell at all in the file)."""
    rows = list(ws.iter_rows(values_only=True))
    width = max((len(r) for r in rows), default=0)
    return [tuple(row) + (None,) * (width - len(row)) for row in rows]


def workbook(wd: Path, scenario: str):
    return load_workbook(wd / "results" / scenario / f"{scenario}.xlsx", read_only=True)


# ---------------------------------------------------------------------------- summary figures
# How far a figure in summary.csv may be from an exact recount: it is rounded when written.
TOLERANCE = {"total_payroll": 0.006, "average_pay": 0.006, "employee_deferrals": 0.006, "employer_match": 0.006,
             "employer_core": 0.006, "employer_cost_pct_of_payroll": 5.1e-5}


def test_summary_csv_figures_equal_a_recount_from_the_year_files(report_run):
    """Each key figure recounted with pandas from the year's snapshot and events."""
    for scenario in SCENARIOS:
        rows = read_csv(report_run / "results" / scenario / "summary.csv")
        assert [int(r["simulation_year"]) for r in rows] == YEARS
        for row in rows:
            year = int(row["simulation_year"])
            folder = report_run / "results" / scenario / str(year)
            snap = pd.read_parquet(folder / "fct_workforce_snapshot.parquet")
            events = pd.read_parquet(folder / "fct_yearly_events.parquet")
            money = ["gross_compensation", "annual_compensation", "deferral_rate", "employee_deferral",
                     "employer_match", "employer_core"]
            snap[money] = snap[money].astype(float)
            active = snap[snap.is_active]
            eligible = active[active.is_eligible]
            participants = active[active.is_enrolled]
            kind = events.event_type + ":" + events.event_subtype.fillna("")
            payroll = snap.gross_compensation.sum()
            expected = {
                "headcount_start": int((snap.hire_date < dt.date(year, 1, 1)).sum()),
                "headcount_end": len(active),
                "hires": int((events.event_type == "hire").sum()),
                "experienced_terminations": int((kind == "termination:experienced_termination").sum()),
                "retirements": int((events.event_type == "retirement").sum()),
                "new_hire_terminations": int((kind == "termination:new_hire_termination").sum()),
                "promotions": int((events.event_type == "promotion").sum()),
                "total_payroll": payroll,
                "average_pay": active.annual_compensation.mean(),
                "eligible_count": len(eligible),
                "participant_count": len(participants),
                "participation_rate": len(eligible[eligible.is_enrolled]) / len(eligible),
                "average_deferral_rate": participants.deferral_rate.mean(),
                "employee_deferrals": snap.employee_deferral.sum(),
                "employer_match": snap.employer_match.sum(),
                "employer_core": snap.employer_core.sum(),
                "employer_cost_pct_of_payroll": 100 * (snap.employer_match.sum() + snap.employer_core.sum()) / payroll,
                "share_at_402g_limit": participants.is_402g_limited.sum() / len(participants),
            }
            expected["growth_rate"] = (expected["headcount_end"] - expected["headcount_start"]) / expected[
                "headcount_start"]
            for field, value in expected.items():
                assert float(row[field]) == pytest.approx(float(value), abs=TOLERANCE.get(field, 5.1e-7)), \
                    f"{scenario} {year} {field}: summary.csv says {row[field]}, recount gives {value}"
            assert json.loads((folder / "summary.json").read_text())["headcount_end"] == expected["headcount_end"]


# ---------------------------------------------------------------------------- outputs exist
def test_a_default_run_leaves_every_analyst_output(report_run):
    for scenario in SCENARIOS:
        for target in scenario_targets(scenario):
            path = report_run / target
            assert path.is_file() and path.stat().st_size > 0, f"{target} missing or empty"
    for name in COMPARISON:
        assert (report_run / "results" / "comparison" / name).stat().st_size > 0
    assert (report_run / "logs" / "tiny" / "write_workbook.log").read_text().strip()


# ---------------------------------------------------------------------------- workbook
def test_workbook_has_the_analyst_sheets_and_its_summary_equals_summary_csv(report_run):
    for scenario in SCENARIOS:
        wb = workbook(report_run, scenario)
        assert wb.sheetnames == SHEETS
        rows = sheet_rows(wb["Summary"])
        expected = read_csv(report_run / "results" / scenario / "summary.csv")
        assert list(rows[0]) == list(expected[0].keys())
        assert len(rows) == 1 + len(expected)
        percents = [f for f, (_, kind) in FIGURES.items() if kind == "percent"]
        assert "employer_cost_pct_of_payroll" in percents and "net_employer_cost_pct_of_payroll" in percents
        for got, want in zip(rows[1:], expected):
            want = {k: as_number(v) for k, v in want.items()}
            # The workbook holds a percent as a fraction (shown as 4.86%); summary.csv in percent.
            for field in percents:
                assert got[list(rows[0]).index(field)] == pytest.approx(want.pop(field) / 100, rel=1e-12), field
            assert [v for k, v in zip(rows[0], got) if k not in percents] == list(want.values())


def test_workbook_event_counts_equal_the_event_files(report_run):
    for scenario in SCENARIOS:
        rows = sheet_rows(workbook(report_run, scenario)["Events by type"])
        assert rows[0] == ("event_type", "event_subtype", "2025", "2026", "total")
        body, total = rows[1:-1], rows[-1]
        counts = duckdb.sql(
            "select event_type, coalesce(event_subtype, '') as sub, simulation_year, count(*) as n from read_parquet("
            + repr([str(report_run / "results" / scenario / str(y) / "fct_yearly_events.parquet") for y in YEARS])
            + ") group by all").fetchall()
        expected = {(t, s, y): n for t, s, y, n in counts}
        got = {(t, s or "", y): n for t, s, *values, _ in body for y, n in zip(YEARS, values)}
        assert got == {**{k: 0 for k in got}, **expected}, "event counts differ from fct_yearly_events"
        assert {"hire", "termination", "raise", "contribution"} <= {t for t, *_ in body}
        for t, s, *values, row_total in body:
            assert row_total == sum(values)
        assert total[0] == "all events"
        assert list(total[2:4]) == [sum(n for (_, _, y), n in expected.items() if y == year) for year in YEARS]


def test_workbook_final_year_workforce_equals_the_snapshot(report_run):
    for scenario in SCENARIOS:
        rows = sheet_rows(workbook(report_run, scenario)["Workforce 2026"])
        snap = pd.read_parquet(report_run / "results" / scenario / "2026" / "fct_workforce_snapshot.parquet")
        header, body = rows[0], rows[1:]
        assert list(header) == list(snap.columns), "columns differ (or a truncation note where none is due)"
        assert len(body) == len(snap)
        sheet = pd.DataFrame(body, columns=header)
        assert list(sheet.employee_id) == list(snap.employee_id)
        for column in ("annual_compensation", "employee_deferral", "employer_match", "gross_compensation"):
            assert sheet[column].astype(float).sum() == pytest.approx(snap[column].astype(float).sum(), abs=0.005)
        assert int(sheet.is_active.sum()) == int(snap.is_active.sum())
        assert sheet.hire_date.iloc[0].date() == snap.hire_date.iloc[0]


def test_workbook_assumptions_and_run_metadata(report_run):
    resolved = resolve_config(report_config(), base_dir=report_run)
    for scenario in SCENARIOS:
        wb = workbook(report_run, scenario)
        settings = dict(sheet_rows(wb["Assumptions"])[1:])
        scn = resolved[scenario]
        assert settings["scenario_id"] == scenario
        assert settings["plan_design_id"] == scn["plan_design_id"]
        assert settings["random_seed"] == scn["random_seed"]
        assert settings["workforce.target_growth_rate"] == scn["workforce"]["target_growth_rate"]
        assert settings["workforce.promotion_rates[1]"] == scn["workforce"]["promotion_rates"][0]
        assert settings["plan_design.auto_enrollment.enabled"] is scn["plan_design"]["auto_enrollment"]["enabled"]
        assert settings["plan_design.match_tiers[2].rate"] == scn["plan_design"]["match_tiers"][1]["rate"]

        meta = {row[0]: row[1:] for row in sheet_rows(wb["Run metadata"])}
        assert meta["key (from each year's done file)"] == ("2025", "2026")
        done = [json.loads((report_run / "results" / scenario / str(y) / "done").read_text()) for y in YEARS]
        assert meta["random_seed"] == (scn["random_seed"],) * 2
        assert meta["config_hash"] == tuple(d["config_hash"] for d in done)
        for package in ("duckdb", "dbt-core", "snakemake", "plansim"):
            assert meta[f"versions.{package}"] == tuple(d["versions"][package] for d in done)
        assert meta["row_counts.fct_yearly_events"] == tuple(d["row_counts"]["fct_yearly_events"] for d in done)


def test_workbook_of_a_census_too_big_for_excel_keeps_the_first_rows_and_says_so(report_run, tmp_path):
    """The row limit is a parameter; the real one is Excel's 1,048,575 data rows."""
    assert EXCEL_MAX_DATA_ROWS == 1_048_576 - 1
    folder = report_run / "results" / "tiny"
    out = tmp_path / "small_limit.xlsx"
    written = write_workbook(out, summary_csv=folder / "summary.csv",
                             events_files=[folder / str(y) / "fct_yearly_events.parquet" for y in YEARS],
                             snapshot_file=folder / "2026" / "fct_workforce_snapshot.parquet",
                             done_files=[folder / str(y) / "done" for y in YEARS],
                             scenario=resolve_config(report_config(), base_dir=report_run)["tiny"], max_rows=10)
    snap = pd.read_parquet(folder / "2026" / "fct_workforce_snapshot.parquet")
    assert written["snapshot_rows"] == len(snap) > 10 and written["snapshot_rows_written"] == 10
    rows = sheet_rows(load_workbook(out, read_only=True)["Workforce 2026"])
    assert len(rows) == 1 + 10
    assert [r[3] for r in rows[1:]] == list(snap.employee_id[:10])
    note = rows[0][len(snap.columns)]
    assert note.startswith(f"NOTE: {len(snap):,} rows") and "only the first 10" in note


# ---------------------------------------------------------------------------- comparison
def test_comparison_table_has_one_row_per_scenario_and_year_with_the_summary_figures(report_run):
    table = read_csv(report_run / "results" / "comparison" / "comparison.csv")
    assert [(r["scenario_id"], int(r["simulation_year"])) for r in table] == [(s, y) for s in SCENARIOS for y in YEARS]
    for scenario in SCENARIOS:
        summary = read_csv(report_run / "results" / scenario / "summary.csv")
        assert [r for r in table if r["scenario_id"] == scenario] == summary
    rate = {(r["scenario_id"], int(r["simulation_year"])): float(r["participation_rate"]) for r in table}
    assert rate[("tiny", 2026)] > rate[("tiny_no_auto", 2026)], "auto-enrollment should lift participation"
    # the designs' ADP margins side by side, as summary.csv has them
    page = (report_run / "results" / "comparison" / "comparison.html").read_text(encoding="utf-8")
    block = page.split("<h2>ADP test margin, points (negative = fails)</h2>", 1)[1].split("</table>", 1)[0]
    for row in table:
        if row["adp_margin_points"]:
            assert f"{float(row['adp_margin_points']):+.2f} pts" in block, row["adp_margin_points"]


# ---------------------------------------------------------------------------- plots
def distinct_colours(path: Path) -> int:
    image = mpimg.imread(path)
    rgb = (image[..., :3] * 255).astype(np.uint32).reshape(-1, 3)
    return len(np.unique((rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]))


def test_plots_are_nonempty_pngs(report_run):
    plots = [report_run / t for s in SCENARIOS for t in scenario_targets(s) if t.endswith(".png")]
    plots += [report_run / "results" / "comparison" / n for n in COMPARISON if n.endswith(".png")]
    assert len(plots) == 2 * 3 + 4
    for path in plots:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
        assert path.stat().st_size > 10_000, f"{path} is suspiciously small"
        height, width = mpimg.imread(path).shape[:2]
        assert width >= 600 and height >= 400
        assert distinct_colours(path) > 20, f"{path} looks blank"


# ---------------------------------------------------------------------------- HTML report
def test_snakemake_report_is_a_self_contained_html_with_every_result(report_run):
    page = (report_run / "results" / "report.html").read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<!doctype html>")
    assert len(page) > 200_000
    for name in ("summary.html", "headcount.png", "participation.png", "contributions.png", "comparison.csv",
                 "comparison.html", "average_deferral.png", "employer_cost.png"):
        assert name in page, f"{name} not in the report"
    for category in (*SCENARIOS, "Scenario comparison"):
        assert category in page
    assert "plansim: workforce and 401(k) plan projection" in page


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--enable-logging=stderr", "--v=0", "--virtual-time-budget=10000"]


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        how = ("run `bash scripts/ci/install_system_deps.sh`" if os.geteuid() == 0
               else "ask an administrator to install the Debian package `chromium` (scripts/ci/install_system_deps.sh)")
        pytest.fail(f"chromium is not installed: the HTML report cannot be checked in a browser; {how}")
    return path


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    return subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                          text=True, timeout=180)


def test_report_renders_in_headless_chromium_without_errors(report_run, tmp_path):
    url = (report_run / "results" / "report.html").resolve().as_uri()
    shot = tmp_path / "report.png"
    proc = run_chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", url)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert shot.is_file() and shot.stat().st_size > 30_000, f"no usable screenshot ({proc.stderr[-2000:]})"
    height, width = mpimg.imread(shot).shape[:2]
    assert (width, height) == (1280, 2000)
    assert distinct_colours(shot) > 50, "the screenshot is (nearly) blank"
    assert "Uncaught" not in proc.stderr, proc.stderr[-3000:]

    dom = run_chromium(tmp_path, "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-3000:]
    assert "Uncaught" not in dom.stderr, dom.stderr[-3000:]
    # What the report's JavaScript rendered into <div id="app"> (the data itself sits in <script> tags).
    app = dom.stdout.split('<div id="app">', 1)[1].split("<script", 1)[0]
    for text in ("plansim: workforce and 401(k) plan projection", "Scenario comparison", *SCENARIOS):
        assert text in app, f"{text!r} not rendered (screenshot: {shot})"


def test_summary_page_shows_each_years_compliance_tests_in_chromium(report_run, tmp_path):
    """The compliance panel of summary.html, as Chromium renders it: a row per year and test with
    the result, the HCE and NHCE averages and the margin of compliance.csv."""
    for scenario in SCENARIOS:
        page = report_run / "results" / scenario / "summary.html"
        dom = run_chromium(tmp_path, "--dump-dom", page.resolve().as_uri())
        assert dom.returncode == 0 and "Uncaught" not in dom.stderr, dom.stderr[-3000:]
        panel = dom.stdout.split('<table class="compliance">', 1)[1].split("</table>", 1)[0]
        rendered = [[cell.split(">", 1)[1].rsplit("<", 1)[0] if "<span" in cell else cell
                     for cell in (c.split("</td>")[0] for c in row.split("<td>")[1:])]
                    for row in panel.split("<tr>")[2:]]
        expected = read_csv(report_run / "results" / scenario / "compliance.csv")
        assert len(rendered) == len(expected) == 6 * len(YEARS)
        by_key = {(r[0], r[1]): r for r in rendered}
        for want in expected:
            if want["test_name"] not in ("adp", "acp"):
                continue
            label = "ADP test (401(k)(3))" if want["test_name"] == "adp" else "ACP test (401(m)(2))"
            got = by_key[(want["simulation_year"], label)]
            assert got[2] == want["status"].replace("_", " ")
            def pct(text: str) -> str:
                return f"{100 * float(text):.2f}%" if text else ""

            assert (got[3], got[4]) == (pct(want["hce_value"]), pct(want["nhce_value"])), (got, want)
            assert got[6] == (f"{float(want['margin_points']):+.2f}" if want["margin_points"] else ""), (got, want)
