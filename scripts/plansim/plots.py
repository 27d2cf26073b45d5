"""Plots of a scenario's key figures and of the scenario comparison (PNG, matplotlib Agg).

Each function takes summary rows (:func:`plansim.report.read_summary`), writes one PNG and
returns the figure (so a test can read what was drawn). Figures are built with the object API
(``matplotlib.figure.Figure``): no pyplot state, no display needed. A year whose plan design
changed gets a dashed vertical line labelled with the new design (:func:`_mark_design_changes`).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib import patheffects  # noqa: E402 - after choosing the backend
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from plansim.report import FIGURES, design_change, format_figure  # noqa: E402

Rows = Sequence[Mapping[str, Any]]

DPI = 110
COLORS = ["#1f6feb", "#d1242f", "#1a7f37", "#9a6700", "#8250df", "#bf3989", "#0a7f8c", "#57606a"]
SOURCE_COLORS = {"employee_deferrals": "#1f6feb", "employer_match": "#1a7f37", "employer_core": "#9a6700"}
DESIGN_CHANGE_COLOR = "#57606a"  # a scenario's own plots; the comparison uses each scenario's line colour
DESIGN_CHANGE_GID = "design-change"  # the gid of the marks' lines and labels
_LABEL_HALO = [patheffects.withStroke(linewidth=2.5, foreground="white")]  # legible over lines, data unhidden
# Comparison plots: the figure and how its axis reads.
COMPARISON_PLOTS = {
    "headcount": "headcount_end",
    "participation": "participation_rate",
    "average_deferral": "average_deferral_rate",
    "employer_cost": "employer_cost_pct_of_payroll",
}


def _money(value: float, _pos: Any = None) -> str:
    if abs(value) >= 1e9:
        return f"${value / 1e9:,.1f}B"
    if abs(value) >= 1e6:
        return f"${value / 1e6:,.1f}M"
    if abs(value) >= 1e3:
        return f"${value / 1e3:,.0f}K"
    return f"${value:,.0f}"


def _axis_formatter(field: str) -> FuncFormatter:
    kind = FIGURES[field][1]
    if kind == "fraction":
        return FuncFormatter(lambda v, _p: f"{100 * v:.1f}%")
    if kind == "percent":
        return FuncFormatter(lambda v, _p: f"{v:.2f}%")
    if kind == "money":
        return FuncFormatter(_money)
    return FuncFormatter(lambda v, _p: f"{v:,.0f}")


def _years_axis(ax, years: Sequence[int]) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(years) <= 12:
        ax.set_xticks(list(years))
    ax.set_xlabel("plan year")
    ax.grid(True, axis="y", color="#d0d7de", linewidth=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _save(fig: Figure, out: str | Path) -> Figure:
    """Writes ``fig`` to ``out`` through a temporary file (a reader never sees half a PNG) and
    returns it, the plot functions' result."""
    out = Path(out)
    tmp = out.with_name(f".{out.stem}.tmp-{os.getpid()}{out.suffix}")
    try:
        fig.savefig(tmp, dpi=DPI, format="png", metadata={"Software": None})
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return fig


def design_change_x(date: str) -> float:
    """Where a design change on ``date`` (ISO) sits on a plan-year axis.

    The plan year is the calendar year and a year's point or bar is drawn at x = year, so the
    year spans year - 0.5 to year + 0.5 and the change sits at year - 0.5 plus the share of the
    year gone by: a change on Jan 1 falls between the previous year's point and its own year's,
    one on July 1 at its own year's point."""
    day = dt.date.fromisoformat(date)
    start = dt.date(day.year, 1, 1)
    days_in_year = (dt.date(day.year + 1, 1, 1) - start).days
    return day.year - 0.5 + (day - start).days / days_in_year


def _mark_design_changes(axes: Sequence[Any], rows: Rows, color: str = DESIGN_CHANGE_COLOR, *,
                         label_at: str = "top") -> list[tuple[float, str]]:
    """A dashed vertical line on each of ``axes`` at every design change of ``rows`` (see
    :func:`design_change_x`), labelled "design → <plan_design_id>" along the line at the top of
    the first axes (``label_at="bottom"`` where a legend holds the top): the figures after the
    line were made under other plan rules. A label already there at the same x (another
    scenario's change) steps the next one aside. Returns the (x, label) of each mark."""
    marks = [(design_change_x(date), f"design → {r['plan_design_id']}") for r in rows if (date := design_change(r))]
    first = axes[0]
    y, dy, va = (1, -3, "top") if label_at == "top" else (0, 3, "bottom")
    for x, label in marks:
        for ax in axes:
            ax.axvline(x, color=color, linestyle="--", linewidth=1, gid=DESIGN_CHANGE_GID)
        beside = sum(1 for t in first.texts if t.get_gid() == DESIGN_CHANGE_GID and t.xy[0] == x)
        first.annotate(label, (x, y), xycoords=first.get_xaxis_transform(), xytext=(-2 - 9 * beside, dy),
                       textcoords="offset points", rotation=90, ha="right", va=va, fontsize=7, color=color,
                       path_effects=_LABEL_HALO, gid=DESIGN_CHANGE_GID)
    return marks


def _scenario(rows: Rows) -> str:
    return str(rows[0]["scenario_id"]) if rows else "?"


def plot_headcount(rows: Rows, out: str | Path) -> Figure:
    """Year-end headcount (line, from the census) over the year's hires, terminations and retirements (bars)."""
    years = [r["simulation_year"] for r in rows]
    census_x = years[0] - 1 if years else 0
    fig = Figure(figsize=(8, 6), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 2])
    xs = [census_x, *years]
    heads = [rows[0]["headcount_start"] if rows else 0, *(r["headcount_end"] for r in rows)]
    top.plot(xs, heads, marker="o", color=COLORS[0], linewidth=2)
    for x, head in zip(xs, heads):
        top.annotate(f"{head:,}", (x, head), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=8)
    top.set_ylabel("active employees")
    top.set_title(f"{_scenario(rows)}: active headcount (census, then each year end)")
    low, high = min(heads), max(heads)
    pad = max((high - low) * 0.15, 1)
    top.set_ylim(low - pad, high + 2 * pad)
    width = 0.2
    bars = [("hires", "hires", "#1a7f37"), ("experienced_terminations", "experienced terminations", "#d1242f"),
            ("retirements", "retirements", "#8250df"), ("new_hire_terminations", "new-hire terminations", "#f0883e")]
    tallest = 1
    for offset, (field, label, color) in zip((-1.5 * width, -0.5 * width, 0.5 * width, 1.5 * width), bars):
        values = [r.get(field) or 0 for r in rows]
        tallest = max(tallest, *values) if values else tallest
        bottom.bar([y + offset for y in years], values, width=width, label=label, color=color)
    bottom.set_ylim(0, tallest * 1.35)
    bottom.set_ylabel("employees in the year")
    bottom.legend(fontsize=8, frameon=False, ncols=4, loc="upper left")
    for ax in (top, bottom):
        _years_axis(ax, xs)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_formatter(_axis_formatter("hires"))
    if len(xs) <= 12:
        bottom.set_xticks(xs, ["census", *map(str, years)])
    top.set_xlabel("")
    _mark_design_changes([top, bottom], rows)
    return _save(fig, out)


def plot_participation(rows: Rows, out: str | Path) -> Figure:
    """Participation rate of the eligible and average deferral rate of participants."""
    years = [r["simulation_year"] for r in rows]
    fig = Figure(figsize=(8, 6), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True)
    for ax, field, color in ((top, "participation_rate", COLORS[0]), (bottom, "average_deferral_rate", COLORS[2])):
        values = [r[field] for r in rows]
        ax.plot(years, values, marker="o", color=color, linewidth=2)
        for x, v in zip(years, values):
            ax.annotate(format_figure(field, v), (x, v), textcoords="offset points", xytext=(0, 7),
                        ha="center", fontsize=8)
        ax.set_title(f"{_scenario(rows)}: {FIGURES[field][0].lower()}" if ax is top else FIGURES[field][0])
        ax.yaxis.set_major_formatter(_axis_formatter(field))
        low, high = min(values, default=0), max(values, default=1)
        pad = max((high - low) * 0.25, 0.01)
        ax.set_ylim(max(0, low - pad), high + pad)
        _years_axis(ax, years)
    top.set_xlabel("")
    _mark_design_changes([top, bottom], rows)
    return _save(fig, out)


def plot_contributions(rows: Rows, out: str | Path) -> Figure:
    """Contributions by source, stacked per year: employee deferrals, match, core."""
    years = [r["simulation_year"] for r in rows]
    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.subplots()
    base = [0.0] * len(rows)
    for field, color in SOURCE_COLORS.items():
        values = [float(r[field]) for r in rows]
        ax.bar(years, values, bottom=base, color=color, label=FIGURES[field][0].lower(), width=0.6)
        base = [b + v for b, v in zip(base, values)]
    for x, total in zip(years, base):
        ax.annotate(_money(total), (x, total), textcoords="offset points", xytext=(0, 4), ha="center", fontsize=8)
    ax.set_title(f"{_scenario(rows)}: contributions by source")
    ax.set_ylabel("dollars per plan year")
    ax.yaxis.set_major_formatter(FuncFormatter(_money))
    ax.legend(fontsize=8, frameon=False, loc="upper left", ncols=3)
    ax.set_ylim(0, max(base, default=1) * 1.15 or 1)
    _years_axis(ax, years)
    _mark_design_changes([ax], rows, label_at="bottom")  # the legend is at the top, the bars leave gaps below
    return _save(fig, out)


def plot_comparison(rows_by_scenario: Mapping[str, Rows], field: str, out: str | Path) -> Figure:
    """One line per scenario of ``field`` by year; a scenario's design changes in its line's colour."""
    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.subplots()
    years: set[int] = set()
    for index, (sid, rows) in enumerate(rows_by_scenario.items()):
        xs = [r["simulation_year"] for r in rows]
        years.update(xs)
        color = COLORS[index % len(COLORS)]
        ax.plot(xs, [r[field] for r in rows], marker="o", linewidth=2, label=sid,
                color=color, linestyle="-" if index < len(COLORS) else "--")
        _mark_design_changes([ax], rows, color)
    ax.set_title(f"{FIGURES[field][0]} by scenario")
    ax.yaxis.set_major_formatter(_axis_formatter(field))
    if len(rows_by_scenario) <= 8:
        ax.legend(fontsize=8, frameon=False, loc="best")
    else:  # sweeps: many scenarios, legend beside the plot
        ax.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1),
                  ncols=1 + len(rows_by_scenario) // 30)
    _years_axis(ax, sorted(years))
    return _save(fig, out)
