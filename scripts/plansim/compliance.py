"""The nondiscrimination tests of a scenario, as analysts read them.

Each year's ``fct_compliance_tests.parquet`` (one row per test: ADP, ACP, the three coverage
tests, top-heavy; docs/semantics.md section 4.19) goes into the year's ``summary.json`` and
``done`` sentinel as a list of rows; ``finalize_scenario`` writes them all to
``results/<scenario>/compliance.csv``, which the workbook's Compliance sheet and the summary
page's compliance panel read. The year's summary figures carry the ADP and ACP margins and the
number of failed tests.
"""

from __future__ import annotations

import csv
import html
from pathlib import Path
from typing import Any

import duckdb

from plansim.atomic import replacing

# The columns of fct_compliance_tests, in the order of compliance.csv and the Compliance sheet.
FIELDS = ["scenario_id", "plan_design_id", "simulation_year", "test_name", "test_method", "status",
          "hce_count", "nhce_count", "hce_value", "nhce_value", "nhce_base", "test_value", "limit_value",
          "margin_points", "corrective_amount", "recharacterized_amount", "match_forfeited", "affected_count", "note"]
# How each kind of column is shown: shares (0.0412 = 4.12%), percentage points, dollars, counts.
SHARE_FIELDS = ("hce_value", "nhce_value", "nhce_base", "test_value", "limit_value")
MONEY_FIELDS = ("corrective_amount", "recharacterized_amount", "match_forfeited")
COUNT_FIELDS = ("simulation_year", "hce_count", "nhce_count", "affected_count")
TEST_ORDER = ["adp", "acp", "coverage_401k", "coverage_401m", "coverage_nonelective", "top_heavy"]
TEST_LABELS = {"adp": "ADP test (401(k)(3))", "acp": "ACP test (401(m)(2))",
               "coverage_401k": "Coverage, deferrals (410(b))", "coverage_401m": "Coverage, match (410(b))",
               "coverage_nonelective": "Coverage, core (410(b))", "top_heavy": "Top-heavy (416)"}
# What a status means for the sponsor: a failed test needs a correction (or, top-heavy, a minimum).
FAILED = "fail"


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    """One test row with plain Python values: counts as int, figures as float, blanks as None
    (from the parquet export's DECIMALs or from compliance.csv's text alike)."""
    out = {}
    for key in FIELDS:
        value = row.get(key)
        if value is None or value == "":
            out[key] = None
        elif key in COUNT_FIELDS:
            out[key] = int(value)
        elif key in (*SHARE_FIELDS, *MONEY_FIELDS, "margin_points"):
            out[key] = float(value)
        else:
            out[key] = value
    return out


def _test_rank(row: dict[str, Any]) -> int:
    return TEST_ORDER.index(row["test_name"]) if row["test_name"] in TEST_ORDER else len(TEST_ORDER)


def read_tests(path: str | Path) -> list[dict[str, Any]]:
    """A year's test rows from its fct_compliance_tests export, in TEST_ORDER, as plain values."""
    con = duckdb.connect()
    try:
        cur = con.execute(f"select {', '.join(FIELDS)} from read_parquet($f)", {"f": str(path)})
        rows = [_typed(dict(zip(FIELDS, r))) for r in cur.fetchall()]
    finally:
        con.close()
    return sorted(rows, key=_test_rank)


def summary_figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The year's compliance figures in summary.csv: ADP and ACP margins, tests failed, corrections."""
    by_name = {r["test_name"]: r for r in rows}

    def margin(name: str) -> float | None:
        row = by_name.get(name)
        return None if row is None or row["margin_points"] is None else round(row["margin_points"], 4)

    return {
        "adp_margin_points": margin("adp"),
        "acp_margin_points": margin("acp"),
        "compliance_tests_failed": sum(1 for r in rows if r["status"] == FAILED),
        "compliance_corrections": round(sum(float(r["corrective_amount"] or 0.0) for r in rows), 2),
    }


def write_csv(rows: list[dict[str, Any]], out: str | Path) -> None:
    """All years' test rows of a scenario, atomically."""
    with replacing(out) as tmp, tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def read_csv(path: str | Path) -> list[dict[str, Any]]:
    """compliance.csv's rows, typed like :func:`read_tests`."""
    with open(path, newline="") as fh:
        return [_typed(row) for row in csv.DictReader(fh)]


def _share(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.2f}%"


def _money(value: float | None) -> str:
    return "" if value is None else f"${value:,.0f}"


def panel_html(rows: list[dict[str, Any]]) -> str:
    """The summary page's compliance panel: per year and test, the result, the HCE and NHCE
    figures, the limit, the margin in points and the corrections, with the reason as a note."""
    if not rows:
        return "<h2>Compliance</h2><p>No compliance tests were run.</p>\n"
    head = ["year", "test", "result", "HCE", "NHCE", "limit", "margin (points)", "correction", "note"]
    body = []
    for r in sorted(rows, key=lambda r: (r["simulation_year"], _test_rank(r))):
        margin = "" if r["margin_points"] is None else f"{r['margin_points']:+.2f}"
        css = {"fail": "fail", "pass": "pass", "deemed_pass": "pass"}.get(r["status"], "other")
        cells = [str(r["simulation_year"]), TEST_LABELS.get(r["test_name"], r["test_name"]),
                 f'<span class="{css}">{html.escape(r["status"].replace("_", " "))}</span>',
                 html.escape(_share(r["hce_value"])), html.escape(_share(r["nhce_value"])),
                 html.escape(_share(r["limit_value"])), margin, html.escape(_money(r["corrective_amount"])),
                 html.escape(r["note"] or "")]
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>\n")
    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return ("<h2 id=\"compliance\">Compliance</h2><p>Nondiscrimination tests of each plan year "
            "(docs/semantics.md 4.19). HCE and NHCE are the group averages (ADP, ACP), the shares benefiting "
            "(coverage) or the key employees' and others' shares of balances (top-heavy); the margin is how far "
            "inside the limit the tested figure is.</p>\n"
            f"<table class=\"compliance\"><thead><tr>{header}</tr></thead><tbody>\n{''.join(body)}</tbody></table>\n")
