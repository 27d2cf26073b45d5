"""What analysts see: the scenario workbook, the summary tables and the scenario comparison.

Every function here reads the files the simulation already wrote (a scenario's
``summary.csv``, each year's ``fct_yearly_events.parquet``, the final year's
``fct_workforce_snapshot.parquet``, the years' ``done`` sentinels) and writes one output;
the Snakemake scripts ``scripts/make_*.py`` only pass paths in. Plots are in
:mod:`plansim.plots`.
"""

from __future__ import annotations

import csv
import html
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from plansim import compliance
from plansim.summary import SUMMARY_FIELDS
from plansim.xlsx import Workbook

# Excel sheets hold 1,048,576 rows; one is the header.
EXCEL_MAX_DATA_ROWS = 1_048_575

# How each summary figure is labelled and shown. "fraction" values are shares (0.74 = 74%);
# the *_pct_of_payroll figures are already in percent.
FIGURES: dict[str, tuple[str, str]] = {
    "headcount_start": ("Headcount, start of year", "count"),
    "headcount_end": ("Headcount, end of year", "count"),
    "growth_rate": ("Headcount growth", "fraction"),
    "hires": ("Hires", "count"),
    "experienced_terminations": ("Experienced terminations", "count"),
    "retirements": ("Retirements", "count"),
    "new_hire_terminations": ("New-hire terminations", "count"),
    "promotions": ("Promotions", "count"),
    "total_payroll": ("Total payroll", "money"),
    "average_pay": ("Average pay (active at year end)", "money"),
    "eligible_count": ("Eligible (active at year end)", "count"),
    "participant_count": ("Participants (active at year end)", "count"),
    "participation_rate": ("Participation rate (of eligible)", "fraction"),
    "average_deferral_rate": ("Average deferral rate (participants)", "fraction"),
    "employee_deferrals": ("Employee deferrals", "money"),
    "employer_match": ("Employer match", "money"),
    "employer_core": ("Employer core", "money"),
    "employer_cost_pct_of_payroll": ("Gross employer cost, % of payroll", "percent"),
    "share_at_402g_limit": ("Participants at the 402(g) limit", "fraction"),
    "pretax_deferrals": ("Pre-tax deferrals (with catch-up)", "money"),
    "roth_deferrals": ("Roth deferrals (with catch-up)", "money"),
    "catch_up_deferrals": ("Catch-up deferrals", "money"),
    "roth_catch_up": ("Roth catch-up", "money"),
    "gross_employer_cost": ("Gross employer cost", "money"),
    "forfeitures_generated": ("Forfeitures generated", "money"),
    "forfeitures_used": ("Forfeitures used for contributions", "money"),
    "forfeitures_used_for_expenses": ("Forfeitures used for plan expenses", "money"),
    "forfeiture_account_end": ("Forfeiture account, end of year (carried)", "money"),
    "net_employer_cost": ("Net employer cost", "money"),
    "forfeitures_used_pct_of_payroll": ("Forfeitures used, % of payroll", "percent"),
    "net_employer_cost_pct_of_payroll": ("Net employer cost, % of payroll", "percent"),
    "plan_assets_end": ("Plan assets, end of year", "money"),
    "adp_margin_points": ("ADP test margin, points (negative = fails)", "points"),
    "acp_margin_points": ("ACP test margin, points (negative = fails)", "points"),
    "compliance_tests_failed": ("Compliance tests failed", "count"),
    "compliance_corrections": ("Corrections (refunds, distributions, top-heavy minimum)", "money"),
}
IDENTITY_FIELDS = ("scenario_id", "plan_design_id", "simulation_year")
# The ISO date on which a new plan design took effect in the row's plan year (a design
# timeline), empty when the year kept the previous year's design.
DESIGN_CHANGE_FIELD = "plan_design_change_date"

# Figures compared across scenarios (comparison.html and the comparison plots); the
# comparison CSV carries every summary figure.
KEY_FIGURES = ["headcount_end", "hires", "participation_rate", "average_deferral_rate", "total_payroll",
               "employee_deferrals", "employer_match", "employer_core", "gross_employer_cost",
               "employer_cost_pct_of_payroll", "forfeitures_used", "forfeitures_used_pct_of_payroll",
               "net_employer_cost", "net_employer_cost_pct_of_payroll",
               # will the design pass: the ADP and ACP margins and the tests failed, per scenario and year
               "adp_margin_points", "acp_margin_points", "compliance_tests_failed"]

# Number formats of the workbook by kind of figure. A "percent" figure (in percent in summary.csv)
# goes into its cell as a fraction, 4.86 -> 0.0486, so that it shows as 4.86% and a formula
# (=L2*U2) gets the value Excel users expect from a percentage cell; "fraction" figures already are.
EXCEL_FORMATS = {"count": "#,##0", "money": "#,##0.00", "fraction": "0.00%", "percent": "0.00%", "points": "0.00"}

# Event types in the order a year happens (SPEC §4); types not listed follow, sorted.
EVENT_ORDER = ["hire", "termination", "retirement", "promotion", "raise", "eligibility", "enrollment",
               "opt_out", "deferral_escalation", "contribution"]


# ---------------------------------------------------------------------------- reading
def _typed(field: str, text: str) -> Any:
    if field in ("scenario_id", "plan_design_id"):
        return text
    if text == "":
        return None
    if field == DESIGN_CHANGE_FIELD:
        return text  # a date as written ('2027-01-01'), never a number
    try:
        if field == "simulation_year" or FIGURES.get(field, ("", ""))[1] == "count":
            return int(text)
        return float(text)
    except ValueError:
        return text


def read_summary(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a scenario's summary.csv, typed (ints stay ints), in year order."""
    with open(path, newline="") as fh:
        rows = [{k: _typed(k, v) for k, v in row.items()} for row in csv.DictReader(fh)]
    return sorted(rows, key=lambda r: r["simulation_year"])


def design_change(row: Mapping[str, Any]) -> str | None:
    """The date a new plan design took effect in ``row``'s plan year, or None: the year kept
    its design, or the summary predates design timelines (no such column)."""
    return row.get(DESIGN_CHANGE_FIELD) or None


def design_change_note(row: Mapping[str, Any]) -> str | None:
    """What the tables say of a year whose plan design changed, None for the other years."""
    date = design_change(row)
    return None if date is None else f"design changed: {date} → {row['plan_design_id']}"


def events_by_type(events_files: Sequence[str | Path]) -> tuple[list[int], list[tuple[str, str, dict[int, int]]]]:
    """Event counts from the years' fct_yearly_events files.

    Returns (years, rows) with one row per (event_type, event_subtype) — subtype '' when the
    event has none — holding {year: count}; rows in the order a year happens."""
    con = duckdb.connect()
    try:
        counts = con.execute(
            "select simulation_year, event_type, coalesce(event_subtype, '') as event_subtype, count(*) "
            "from read_parquet($files) group by all",
            {"files": [str(f) for f in events_files]}).fetchall()
    finally:
        con.close()
    years = sorted({int(year) for year, *_ in counts})
    table: dict[tuple[str, str], dict[int, int]] = {}
    for year, event_type, subtype, n in counts:
        table.setdefault((event_type, subtype), {})[int(year)] = int(n)

    def order(key: tuple[str, str]) -> tuple[int, str, str]:
        position = EVENT_ORDER.index(key[0]) if key[0] in EVENT_ORDER else len(EVENT_ORDER)
        return position, key[0], key[1]

    return years, [(t, s, table[(t, s)]) for t, s in sorted(table, key=order)]


def flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted key, scalar) pairs of a nested config; list items are numbered from 1
    (``workforce.promotion_rates[1]`` is level 1, ``plan_design.match_tiers[2].rate`` tier 2)."""
    if isinstance(value, Mapping):
        out: list[tuple[str, Any]] = []
        for key in value:
            out.extend(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, (list, tuple)):
        if not value:
            return [(prefix, "(none)")]
        out = []
        for number, item in enumerate(value, start=1):
            out.extend(flatten(item, f"{prefix}[{number}]"))
        return out
    return [(prefix, value)]


def run_metadata(done_files: Iterable[str | Path],
                 scenario: Mapping[str, Any]) -> tuple[list[int], list[tuple[str, dict[int, Any]]]]:
    """What the years' ``done`` sentinels say about the run (versions, config hash, timings,
    row counts, content checksums), flattened to one row per key with one column per year;
    the random seed (from the resolved scenario) first. The year summaries and compliance
    tests are left out: they are the Summary and Compliance sheets."""
    by_year: dict[int, dict[str, Any]] = {}
    for path in done_files:
        data = json.loads(Path(path).read_text())
        data.pop("summary", None)
        data.pop("compliance", None)  # the Compliance sheet
        by_year[int(data["simulation_year"])] = dict(flatten(data))
    years = sorted(by_year)
    keys: list[str] = []
    for year in years:
        keys.extend(k for k in by_year[year] if k not in keys and k != "simulation_year")
    rows = [("random_seed", {year: scenario.get("random_seed") for year in years})]
    first = ["scenario_id", "config_hash"]
    for key in first + sorted(k for k in keys if k not in first):
        if key in keys:
            rows.append((key, {year: by_year[year].get(key) for year in years}))
    return years, rows


# ---------------------------------------------------------------------------- workbook
def _excel_value(value: Any) -> Any:
    """A cell holds one value: dicts and lists go in as JSON; None stays an empty cell."""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str)
    return value


def _filter_width(name: str, least: float, most: float) -> float:
    """A column wide enough for its header ``name`` and the header's filter button."""
    return max(least, min(len(name) + 4, most))


def _excel_figure(field: str, value: Any) -> Any:
    """A summary figure as its workbook cell holds it: percents as fractions (exactly: 4.8633 ->
    0.048633), everything else as in summary.csv."""
    if FIGURES.get(field, ("", ""))[1] == "percent" and isinstance(value, float) and math.isfinite(value):
        return Decimal(repr(value)).scaleb(-2)
    return value


def _summary_sheet(wb: Workbook, summary: list[dict[str, Any]], fields: list[str]) -> None:
    widths = [_filter_width(f, 14, 32) for f in fields]
    formats = [EXCEL_FORMATS.get(FIGURES.get(f, ("", ""))[1]) for f in fields]
    with wb.sheet("Summary", freeze="D2", widths=widths) as ws:  # header and scenario, design, year
        ws.header(fields)
        for row in summary:
            ws.append([_excel_figure(f, row.get(f)) for f in fields], formats)


def _events_sheet(wb: Workbook, events_files: Sequence[str | Path]) -> int:
    years, rows = events_by_type(events_files)
    formats = [None, None] + ["#,##0"] * (len(years) + 1)
    with wb.sheet("Events by type", freeze="C2", widths=[22, 28] + [12] * (len(years) + 1)) as ws:
        ws.header(["event_type", "event_subtype", *map(str, years), "total"])
        for event_type, subtype, counts in rows:
            values = [counts.get(year, 0) for year in years]
            ws.append([event_type, subtype or None, *values, sum(values)], formats)
        totals = [sum(counts.get(year, 0) for *_, counts in rows) for year in years]
        ws.append_footer(["all events", None, *totals, sum(totals)], formats)  # stays last when sorted
    return len(rows)


def _compliance_sheet(wb: Workbook, compliance_csv: str | Path) -> int:
    """Every year's nondiscrimination tests (compliance.csv): shares as percentages, margins in points."""
    rows = compliance.read_csv(compliance_csv)
    fields = compliance.FIELDS
    kinds = {**{f: "fraction" for f in compliance.SHARE_FIELDS}, **{f: "money" for f in compliance.MONEY_FIELDS},
             **{f: "count" for f in compliance.COUNT_FIELDS if f != "simulation_year"}, "margin_points": "points"}
    formats = [EXCEL_FORMATS.get(kinds.get(f, "")) for f in fields]
    widths = [_filter_width(f, 12, 24) for f in fields[:-1]] + [90]
    with wb.sheet("Compliance", freeze="E2", widths=widths) as ws:  # header and scenario, design, year, test
        ws.header(fields)
        for row in rows:
            ws.append([row[f] for f in fields], formats)
    return len(rows)


def _snapshot_formats(schema: pa.Schema) -> dict[str, str]:
    """Dates as dates, rates and shares (``*_share``, ``*_share_*``) as percentages, other decimals
    (money) with two decimals."""
    formats = {}
    for field in schema:
        kind = str(field.type)
        if kind.startswith("date"):
            formats[field.name] = "yyyy-mm-dd"
        elif kind.startswith("decimal") and ("rate" in field.name or field.name.endswith("_share") or "_share_" in field.name):
            formats[field.name] = "0.00%"
        elif kind.startswith("decimal"):
            formats[field.name] = "#,##0.00"
    return formats


def _snapshot_sheet(wb: Workbook, snapshot_file: str | Path, year: int, max_rows: int) -> dict[str, int]:
    """The final year's snapshot, its rows turned into sheet XML by DuckDB (memory stays flat)."""
    parquet = pq.ParquetFile(snapshot_file)
    total = parquet.metadata.num_rows
    names = parquet.schema_arrow.names
    note = None
    if total > max_rows:
        note = (f"NOTE: {total:,} rows in {Path(snapshot_file).name}; only the first {max_rows:,} fit in "
                f"an Excel sheet and are shown here. The full table is {snapshot_file}.")
    written = wb.parquet_sheet(f"Workforce {year}", snapshot_file, header=names, note=note,
                               formats=_snapshot_formats(parquet.schema_arrow), limit=max_rows,
                               freeze="E2", widths=[_filter_width(n, 12, 28) for n in names] + [90])
    return {"rows": total, "written": written}


# Settings that are shares (config.yaml: "Rates are fractions (0.03 = 3%)") and that are dollars,
# by the last name of their dotted key, list numbers left out.
PERCENT_SETTINGS = ("rate", "promotion_raise", "new_hire_level_mix", "increment", "cap", "from", "to", "probability",
                    "share", "investment_return", "distribution_share", "pretax", "roth", "match", "core")
MONEY_SETTINGS = ("compensation_bands", "plan_expense_per_participant")


def _setting_format(key: str, value: Any) -> str | None:
    """The number format of a setting's value: percent for rates and shares, money for pay."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    parent, _, name = re.sub(r"\[\d+\]", "", key).rpartition(".")
    if name in ("from", "to") and parent.endswith("_bands.bands"):
        return None  # years of service or points, not shares of pay
    if name in PERCENT_SETTINGS or name.endswith(("_rate", "_rates")) or parent.endswith("investment_return_by_year"):
        return EXCEL_FORMATS["fraction"]
    if name in MONEY_SETTINGS:
        return EXCEL_FORMATS["money"]
    return None


def _assumptions_sheet(wb: Workbook, scenario: Mapping[str, Any]) -> int:
    first = ["scenario_id", "plan_design_id", "start_year", "end_year", "random_seed", "census", "census_date",
             "deferral_rate_units"]
    scalars = [k for k in scenario if not isinstance(scenario[k], (Mapping, list, tuple))]
    order = [k for k in first if k in scenario] + [k for k in scalars if k not in first] + [
        k for k in scenario if k not in first and k not in scalars]
    pairs = flatten({key: scenario[key] for key in order})
    with wb.sheet("Assumptions", freeze="B2", widths=[60, 30]) as ws:
        ws.header(["setting (lists numbered from 1: level 1, tier 1, ...)", "value"])
        for key, value in pairs:  # a setting left unset (null) says so, as an empty list does
            ws.append([key, "(none)" if value is None else _excel_value(value)], [None, _setting_format(key, value)])
    return len(pairs)


def _metadata_sheet(wb: Workbook, done_files: Sequence[str | Path], scenario: Mapping[str, Any]) -> None:
    years, rows = run_metadata(done_files, scenario)
    with wb.sheet("Run metadata", freeze="B2", widths=[52] + [24] * len(years)) as ws:
        ws.header(["key (from each year's done file)", *map(str, years)])
        for key, values in rows:
            cells = [_excel_value(values.get(year)) for year in years]
            count = EXCEL_FORMATS["count"] if key.startswith("row_counts.") else None
            ws.append([key, *cells], [None, *(count if type(v) is int else None for v in cells)])


def write_workbook(out: str | Path, *, summary_csv: str | Path, events_files: Sequence[str | Path],
                   snapshot_file: str | Path, done_files: Sequence[str | Path], scenario: Mapping[str, Any],
                   compliance_csv: str | Path | None = None, max_rows: int = EXCEL_MAX_DATA_ROWS) -> dict[str, Any]:
    """The analyst's workbook of one scenario, written atomically to ``out``.

    Sheets: Summary (summary.csv, percents as fractions with a percent format), Events by type
    (counts per type/subtype and year, totals last), Compliance (compliance.csv: every year's
    nondiscrimination tests, when given), Workforce <end year> (the final year's
    fct_workforce_snapshot; the first ``max_rows`` rows and a note when it has more),
    Assumptions (the resolved scenario, flattened), Run metadata (the years' done sentinels).
    Every sheet is a table: a filter on its header row, the header (and identity columns)
    frozen, money, percent and count formats. Returns what it wrote."""
    with open(summary_csv, newline="") as fh:
        fields = list(csv.DictReader(fh).fieldnames or SUMMARY_FIELDS)
    summary = read_summary(summary_csv)
    year = int(scenario["end_year"])
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    try:
        with Workbook(tmp) as wb:
            _summary_sheet(wb, summary, fields)
            event_rows = _events_sheet(wb, events_files)
            tests = _compliance_sheet(wb, compliance_csv) if compliance_csv else 0
            snapshot = _snapshot_sheet(wb, snapshot_file, year, max_rows)
            settings = _assumptions_sheet(wb, scenario)
            _metadata_sheet(wb, done_files, scenario)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return {"years": len(summary), "event_rows": event_rows, "snapshot_rows": snapshot["rows"],
            "snapshot_rows_written": snapshot["written"], "settings": settings, "compliance_rows": tests}


# ---------------------------------------------------------------------------- tables
def format_figure(field: str, value: Any) -> str:
    """A figure as an analyst reads it: 5,000 / $425.5M / 74.1% / 2.95%."""
    if value is None or value == "":
        return ""
    kind = FIGURES.get(field, ("", ""))[1]
    if kind == "count":
        return f"{int(value):,}"
    if kind == "money":
        value = float(value)
        if abs(value) >= 1e6:
            return f"${value / 1e6:,.1f}M"
        return f"${value:,.0f}"
    if kind == "fraction":
        return f"{100 * float(value):.{2 if field == 'average_deferral_rate' else 1}f}%"
    if kind == "percent":
        return f"{float(value):.2f}%"
    if kind == "points":
        return f"{float(value):+.2f} pts"
    return str(value)


def summary_markdown(summary_csv: str | Path) -> str:
    """A scenario's summary.csv as a markdown table: one row per figure, one column per year."""
    rows = read_summary(summary_csv)
    years = [str(r["simulation_year"]) for r in rows]
    lines = ["| figure | " + " | ".join(years) + " |", "|---|" + "---:|" * len(years)]
    for field, (label, _) in FIGURES.items():
        lines.append(f"| {label} | " + " | ".join(format_figure(field, r.get(field)) for r in rows) + " |")
    return "\n".join(lines) + "\n"


_STYLE = """
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 1.5rem; color: #1f2933; }
h1 { font-size: 1.35rem; margin: 0 0 .3rem; } h2 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
p { margin: .2rem 0 .8rem; color: #52606d; }
table { border-collapse: collapse; font-size: .9rem; }
th, td { padding: .3rem .7rem; border-bottom: 1px solid #e4e7eb; }
th { background: #f0f4f8; text-align: right; } th:first-child, td:first-child { text-align: left; }
td { text-align: right; font-variant-numeric: tabular-nums; } tr:hover td { background: #f7f9fb; }
table.compliance td:last-child { text-align: left; color: #52606d; max-width: 36rem; }
.pass { color: #1f7a3a; font-weight: 600; } .fail { color: #b42318; font-weight: 600; } .other { color: #52606d; }
.design-change { border-left: 2px dashed #9a6700; }
.design-note { display: block; white-space: nowrap; font-size: .75rem; font-weight: normal; color: #9a6700; }
"""
# The intro's key to the design-change marks, on pages that have one.
_DESIGN_CHANGE_KEY = " A dashed rule before a year marks the year a plan design took effect."


def _page(title: str, intro: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head>\n<body><h1>{html.escape(title)}</h1><p>{html.escape(intro)}</p>\n"
            f"{body}</body></html>\n")


class _Marked(NamedTuple):
    """A cell of a year whose plan design changed: the note is its title (on hover) and, when
    ``shown``, also written under its text, where the page names the change."""
    text: str
    note: str
    shown: bool = False


_Cell = str | _Marked


def _marked(text: str, row: Mapping[str, Any], shown: bool = False) -> _Cell:
    """``text`` as the cell of ``row``'s year: marked if the year's plan design changed."""
    note = design_change_note(row)
    return text if note is None else _Marked(text, note, shown)


def _cell(tag: str, cell: _Cell) -> str:
    """A ``<td>`` or ``<th>``; a plain one stays bare, as pages and their tests read them."""
    if isinstance(cell, str):
        return f"<{tag}>{html.escape(cell)}</{tag}>"
    note = html.escape(cell.note)
    shown = f'<span class="design-note">{note}</span>' if cell.shown else ""
    return f'<{tag} class="design-change" title="{note}">{html.escape(cell.text)}{shown}</{tag}>'


def _table(header: Sequence[_Cell], rows: Iterable[Sequence[_Cell]]) -> str:
    head = "".join(_cell("th", h) for h in header)
    body = "".join("<tr>" + "".join(_cell("td", c) for c in row) + "</tr>\n" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>\n"


def _designs(rows: Sequence[Mapping[str, Any]]) -> str:
    """The plan designs of a scenario's years in words: 'no_auto, then standard from 2027-01-01'."""
    if not rows:
        return ""
    steps = [f"{r['plan_design_id']} from {design_change(r)}" for r in rows[1:] if design_change(r)]
    return ", then ".join([str(rows[0]["plan_design_id"]), *steps])


def _write_text(out: str | Path, text: str) -> None:
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)


def write_summary_html(summary_csv: str | Path, out: str | Path, compliance_csv: str | Path | None = None) -> None:
    """One scenario's key figures, one column per year (the report's summary table), and the
    compliance panel (plansim.compliance.panel_html) when ``compliance_csv`` is given.

    A year whose plan design changed says so under its heading ("design changed: <date> →
    <design>") and its column has a dashed rule on the left: the figures either side of the
    rule were made under different plan rules."""
    rows = read_summary(summary_csv)
    sid = rows[0]["scenario_id"] if rows else Path(summary_csv).parent.name
    figures = ([label, *(_marked(format_figure(f, r.get(f)), r) for r in rows)] for f, (label, _) in FIGURES.items())
    table = _table(["figure", *(_marked(str(r["simulation_year"]), r, shown=True) for r in rows)],
                   [["Plan design", *(_marked(r["plan_design_id"], r) for r in rows)], *figures])
    if compliance_csv:
        table += compliance.panel_html(compliance.read_csv(compliance_csv))
    key = _DESIGN_CHANGE_KEY if any(map(design_change, rows)) else ""
    _write_text(out, _page(f"Scenario {sid}: key figures by year",
                           f"Plan design {_designs(rows)}. From {summary_csv}; headcounts and rates are at year end, "
                           f"money is for the plan year.{key}", table))


def comparison_rows(summaries: Mapping[str, str | Path]) -> list[dict[str, Any]]:
    """Every scenario's summary rows (scenario order as given, then year)."""
    rows: list[dict[str, Any]] = []
    for sid, path in summaries.items():
        scenario_rows = read_summary(path)
        for row in scenario_rows:
            if row["scenario_id"] != sid:
                raise ValueError(f"{path} holds scenario {row['scenario_id']!r}, expected {sid!r}")
        rows.extend(scenario_rows)
    return rows


def write_comparison(summaries: Mapping[str, str | Path], csv_out: str | Path, html_out: str | Path) -> list[dict]:
    """The comparison table: one row per scenario x year with every summary figure (CSV),
    and the key figures side by side, one table per figure (HTML), after the plan design of
    each scenario and year. A scenario-year whose plan design changed is marked in every
    table as in :func:`write_summary_html`, the change written out in the plan design table."""
    rows = comparison_rows(summaries)
    fields = list(SUMMARY_FIELDS)
    csv_out = Path(csv_out)
    tmp = csv_out.with_name(f".{csv_out.name}.tmp-{os.getpid()}")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, csv_out)

    years = sorted({r["simulation_year"] for r in rows})
    by_key = {(r["scenario_id"], r["simulation_year"]): r for r in rows}

    def block(title: str, cell: Callable[[Mapping[str, Any]], _Cell]) -> str:
        table = _table(["scenario", *map(str, years)],
                       ([sid, *(cell(by_key.get((sid, y), {})) for y in years)] for sid in summaries))
        return f"<h2>{html.escape(title)}</h2>\n{table}"

    blocks = [block("Plan design", lambda r: _marked(r.get("plan_design_id", ""), r, shown=True))]
    blocks += [block(FIGURES[f][0], lambda r, f=f: _marked(format_figure(f, r.get(f)), r)) for f in KEY_FIGURES]
    key = _DESIGN_CHANGE_KEY if any(map(design_change, rows)) else ""
    _write_text(html_out, _page("Scenario comparison",
                                f"{len(summaries)} scenario(s): {', '.join(summaries)}. Every figure of every "
                                f"year is in {csv_out.name}.{key}", "".join(blocks)))
    return rows
