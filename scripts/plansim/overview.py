"""What a finished run leaves to open, and each scenario's key figures, for the terminal.

``plansim report`` (and so ``make run``) ends with this: the paths a person opens next (the
HTML report, each scenario's workbook, the comparison, the model documentation) and one short
table, a row per scenario, of its first and last year's key figures. Only files that exist are
listed; a scenario whose summary.csv is missing is named as not run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from plansim.report import format_figure, read_summary

# The terminal table: end-of-horizon figures a sponsor asks about first.
TABLE_FIGURES = ["headcount_end", "participation_rate", "average_deferral_rate", "employer_match",
                 "employer_core", "employer_cost_pct_of_payroll", "net_employer_cost_pct_of_payroll"]
SHORT_LABELS = {"headcount_end": "headcount", "participation_rate": "participation",
                "average_deferral_rate": "avg deferral", "employer_match": "match", "employer_core": "core",
                "employer_cost_pct_of_payroll": "employer cost % pay",
                "net_employer_cost_pct_of_payroll": "net cost % pay"}


def next_files(results: Path, scenarios: Sequence[str], report: Path | None) -> list[tuple[str, Path]]:
    """(what, path) of every output a person opens next, in reading order; only existing files."""
    candidates = [("report", report)] if report else []
    candidates += [(f"workbook ({sid})", results / sid / f"{sid}.xlsx") for sid in scenarios]
    candidates += [("comparison", results / "comparison" / "comparison.html"),
                   ("comparison (CSV)", results / "comparison" / "comparison.csv"),
                   ("model documentation", results / "docs" / "models.html")]
    return [(what, path) for what, path in candidates if path is not None and path.is_file()]


def figures_table(results: Path, scenarios: Sequence[str]) -> list[list[str]]:
    """Header + one row per scenario: years simulated and the last year's key figures."""
    rows = [["scenario", "years", *(SHORT_LABELS[f] for f in TABLE_FIGURES)]]
    for sid in scenarios:
        path = results / sid / "summary.csv"
        if not path.is_file():
            rows.append([sid, "not run", *([""] * len(TABLE_FIGURES))])
            continue
        summary = read_summary(path)
        first, last = summary[0], summary[-1]
        years = "-".join(dict.fromkeys(str(r["simulation_year"]) for r in (first, last)))
        rows.append([sid, years, *(format_figure(f, last.get(f)) for f in TABLE_FIGURES)])
    return rows


def render(results: Path, scenarios: Sequence[str], report: Path | None) -> str:
    lines = ["", "Open next:"]
    files = next_files(results, scenarios, report)
    width = max((len(what) for what, _ in files), default=0)
    lines += [f"  {what:<{width}}  {path}" for what, path in files] or ["  nothing yet: run `plansim report`"]
    table = figures_table(results, scenarios)
    sizes = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines += ["", "Key figures, last year of each scenario (employer cost = match + core, as % of pay; net = less the forfeitures used):"]
    for n, row in enumerate(table):
        cells = [row[0].ljust(sizes[0]), row[1].ljust(sizes[1])] + [c.rjust(s) for c, s in zip(row[2:], sizes[2:])]
        lines.append("  " + "  ".join(cells))
        if n == 0:
            lines.append("  " + "  ".join("-" * s for s in sizes))
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plansim.overview", description=__doc__.splitlines()[0])
    parser.add_argument("--results", default="results", type=Path)
    parser.add_argument("--report", type=Path, default=None)
    parser.add_argument("scenarios", nargs="*", help="default: every scenario with a results folder")
    opts = parser.parse_args(argv)
    scenarios = opts.scenarios or sorted(p.parent.name for p in opts.results.glob("*/summary.csv"))
    sys.stdout.write(render(opts.results, scenarios, opts.report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
