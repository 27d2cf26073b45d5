"""The README's figures, made from a real run, never typed by hand.

``python -m plansim.readme_figures [RESULTS]`` prints the block (the `baseline` scenario's summary
table and the auto-features comparison of the final year) from ``RESULTS/<scenario>/summary.csv``;
``--write README.md`` replaces the block between its markers in that file. A test checks that the
README holds exactly what this prints for the test suite's run of the default config.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from plansim.report import format_figure, read_summary, summary_markdown

BEGIN = "<!-- readme-figures: made by `python -m plansim.readme_figures --write README.md`; do not edit by hand -->"
END = "<!-- /readme-figures -->"


def figures_block(results: str | Path, base: str = "baseline", other: str = "no_auto_features") -> str:
    results = Path(results)
    table = summary_markdown(results / base / "summary.csv")
    last = read_summary(results / base / "summary.csv")[-1]
    last_other = read_summary(results / other / "summary.csv")[-1]
    year = last["simulation_year"]
    sentence = (f"In the same run, the `{other}` scenario shows what the auto features do: by {year}, "
                f"{format_figure('participation_rate', last['participation_rate'])} of the eligible participate "
                f"in `{base}` against {format_figure('participation_rate', last_other['participation_rate'])} "
                f"in `{other}`, at an employer cost of "
                f"{format_figure('employer_cost_pct_of_payroll', last['employer_cost_pct_of_payroll'])} of payroll "
                f"against {format_figure('employer_cost_pct_of_payroll', last_other['employer_cost_pct_of_payroll'])}; "
                f"net of the forfeitures of leavers who were not vested, "
                f"{format_figure('net_employer_cost_pct_of_payroll', last['net_employer_cost_pct_of_payroll'])} against "
                f"{format_figure('net_employer_cost_pct_of_payroll', last_other['net_employer_cost_pct_of_payroll'])}.")
    return f"{BEGIN}\n{table}\n{sentence}\n{END}"


def replace_block(text: str, block: str) -> str:
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError("README has no readme-figures block (its two marker lines)")
    return text[:start] + block + text[end + len(END):]


def block_in(text: str) -> str:
    start, end = text.find(BEGIN), text.find(END)
    return text[start:end + len(END)] if start >= 0 and end > start else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plansim.readme_figures", description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", default="results", help="the results folder of the run (default: results)")
    parser.add_argument("--write", metavar="README", help="replace the block in this file instead of printing it")
    args = parser.parse_args(argv)
    block = figures_block(args.results)
    if args.write:
        path = Path(args.write)
        path.write_text(replace_block(path.read_text(encoding="utf-8"), block), encoding="utf-8")
    else:
        print(block)
    return 0


if __name__ == "__main__":
    sys.exit(main())
