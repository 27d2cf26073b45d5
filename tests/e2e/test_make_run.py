"""`make run` ends at the report: it is `plansim report --out results/report.html`, which prints
the files to open next and each scenario's key figures; the model documentation it links renders
in headless Chromium. The run is conftest's `report_run` (the tiny census, 2 scenarios x 2 years,
through that same command)."""

from __future__ import annotations

import csv
import re
import subprocess

import pytest

from conftest import REPO as ROOT, REPORT_SCENARIOS as SCENARIOS, REPORT_YEARS as YEARS
from test_reports import run_chromium

pytestmark = pytest.mark.slow


def test_make_run_is_plansim_report_into_results():
    proc = subprocess.run(["make", "-n", "-s", "run"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    command = proc.stdout.strip().splitlines()[-1]
    assert re.search(r"/plansim report --cores \d+ --out results/report.html$", command), command


def _open_next(stdout: str) -> dict[str, str]:
    block = stdout.split("Open next:\n", 1)[1].split("\n\n", 1)[0]
    return dict(re.fullmatch(r"  (.+?)  +(\S+)", line).groups() for line in block.splitlines())


def test_the_report_command_prints_every_file_to_open_and_each_exists(report_run):
    stdout = (report_run / "plansim_report.out").read_text()
    assert "plansim: report written to results/report.html" in stdout
    files = _open_next(stdout)
    assert files == {
        "report": "results/report.html",
        **{f"workbook ({s})": f"results/{s}/{s}.xlsx" for s in SCENARIOS},
        "comparison": "results/comparison/comparison.html",
        "comparison (CSV)": "results/comparison/comparison.csv",
        "model documentation": "results/docs/models.html",
    }, stdout
    for path in files.values():
        assert (report_run / path).stat().st_size > 0, path


def test_the_key_figures_table_shows_each_scenarios_last_year(report_run):
    stdout = (report_run / "plansim_report.out").read_text()
    table = stdout.split("Key figures", 1)[1].splitlines()[1:]
    header = re.split(r"\s{2,}", table[0].strip())
    assert header[:4] == ["scenario", "years", "headcount", "participation"], table[0]
    rows = {cells[0]: cells for cells in (re.split(r"\s{2,}", line.strip()) for line in table[2:] if line.strip())}
    assert sorted(rows) == sorted(SCENARIOS)
    for scenario in SCENARIOS:
        with open(report_run / "results" / scenario / "summary.csv", newline="") as fh:
            last = list(csv.DictReader(fh))[-1]
        assert int(last["simulation_year"]) == YEARS[-1]
        cells = dict(zip(header, rows[scenario]))
        assert cells["years"] == f"{YEARS[0]}-{YEARS[-1]}"
        assert cells["headcount"] == f"{int(last['headcount_end']):,}"
        assert cells["participation"] == f"{100 * float(last['participation_rate']):.1f}%"
        assert cells["match"] == f"${float(last['employer_match']):,.0f}"
        assert cells["employer cost % pay"] == f"{float(last['employer_cost_pct_of_payroll']):.2f}%"


def test_the_model_documentation_renders_offline_in_headless_chromium(report_run, tmp_path):
    page = report_run / "results" / "docs" / "models.html"
    dom = run_chromium(tmp_path, "--dump-dom", page.resolve().as_uri())
    assert dom.returncode == 0 and "Uncaught" not in dom.stderr, dom.stderr[-3000:]
    # what dbt's docs app rendered (outside the inlined manifest): the project tree's model entries
    rendered = re.sub(r"<script.*?</script>", "", dom.stdout, flags=re.S)
    for model in ("fct_workforce_snapshot", "fct_yearly_events", "int_employee_contributions"):
        assert f'data-nav-unique-id="model.plansim.{model}"' in rendered, model


def test_the_html_report_links_the_model_documentation(report_run, tmp_path):
    dom = run_chromium(tmp_path, "--dump-dom", (report_run / "results" / "report.html").resolve().as_uri())
    assert dom.returncode == 0 and "Uncaught" not in dom.stderr, dom.stderr[-3000:]
    app = dom.stdout.split('<div id="app">', 1)[1].split("<script", 1)[0]
    assert "Model documentation" in app
