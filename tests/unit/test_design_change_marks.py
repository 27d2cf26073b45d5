"""A year in which a scenario's plan design changed (a design timeline) is marked wherever an
analyst reads the figures: a dashed line on every plot, a note and a dashed rule in summary.html
and comparison.html, the date in comparison.csv and the workbook. The summary rows are made
here; nothing is simulated."""

from __future__ import annotations

import csv
from html.parser import HTMLParser
from pathlib import Path

import pytest
from matplotlib.colors import to_hex
from openpyxl import load_workbook

from plansim import plots, report
from plansim.summary import SUMMARY_FIELDS
from plansim.xlsx import Workbook

NOTE = "design changed: 2027-01-01 → standard"
LABEL = "design → standard"
CHANGE_X = 2026.5  # Jan 1 2027: between the 2026 and 2027 points


def summary_rows(sid: str, designs: tuple[str, str] = ("no_auto", "standard"),
                 change: str | None = "2027-01-01") -> list[dict]:
    """Two plan years of ``sid`` with every summary field; the second year under ``designs[1]``
    from ``change`` (None: no change)."""
    rows = []
    for index, (year, design) in enumerate(zip((2026, 2027), designs)):
        row = {f: 0 for f in report.FIGURES}
        row.update(scenario_id=sid, plan_design_id=design, simulation_year=year, headcount_start=100 + 3 * index,
                   headcount_end=103 + 3 * index, hires=15, participation_rate=0.55 + 0.2 * index,
                   average_deferral_rate=0.04, employee_deferrals=400_000.0, employer_match=150_000.0,
                   employer_core=50_000.0, employer_cost_pct_of_payroll=2.5, total_payroll=8_000_000.0,
                   plan_design_change_date=change if index else None)
        rows.append(row)
    return rows


UNCHANGED = summary_rows("tiny", designs=("standard", "standard"), change=None)
CHANGED = summary_rows("tiny_no_auto")


def write_summary(folder: Path, rows: list[dict]) -> Path:
    """``rows`` as the workflow writes summary.csv: SUMMARY_FIELDS, None as ''."""
    path = folder / rows[0]["scenario_id"] / "summary.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=SUMMARY_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows({f: "" if row.get(f) is None else row[f] for f in SUMMARY_FIELDS} for row in rows)
    return path


class Tables(HTMLParser):
    """A page's tables as a reader sees them: {title: rows}, the title the <h2> before the table
    ('' for the first untitled one), each row a list of (cell text, cell class)."""

    def __init__(self, page: str):
        super().__init__()
        self.tables: dict[str, list[list[tuple[str, str]]]] = {}
        self._title, self._in_h2, self._cell = "", False, None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag == "h2":
            self._in_h2, self._title = True, ""
        elif tag == "table":
            self.tables[self._title] = []
        elif tag == "tr":
            self.tables[self._title].append([])
        elif tag in ("td", "th"):
            self._cell = ([], dict(attrs).get("class", ""))

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False
        elif tag in ("td", "th"):
            texts, css = self._cell
            self.tables[self._title][-1].append((" ".join(t.strip() for t in texts if t.strip()), css))
            self._cell = None

    def handle_data(self, data):
        if self._in_h2:
            self._title += data
        elif self._cell is not None:
            self._cell[0].append(data)


# ---------------------------------------------------------------------------- reading
def test_read_summary_keeps_the_change_date_as_text_and_an_empty_one_as_none(tmp_path):
    rows = report.read_summary(write_summary(tmp_path, CHANGED))
    assert [(r["plan_design_id"], r["plan_design_change_date"]) for r in rows] == [("no_auto", None),
                                                                                   ("standard", "2027-01-01")]
    assert [report.design_change_note(r) for r in rows] == [None, NOTE]


def test_a_summary_from_before_design_timelines_has_no_change():
    older = [{k: v for k, v in row.items() if k != report.DESIGN_CHANGE_FIELD} for row in CHANGED]
    assert [report.design_change(r) for r in older] == [None, None]


@pytest.mark.parametrize("date, x", [("2027-01-01", 2026.5), ("2027-07-02", 2026.5 + 182 / 365),
                                     ("2028-12-31", 2027.5 + 365 / 366)])
def test_a_change_sits_at_the_share_of_its_plan_year_gone_by(date, x):
    assert plots.design_change_x(date) == pytest.approx(x)


# ---------------------------------------------------------------------------- plots
def marks(fig) -> tuple[list[list[tuple[float, str, str]]], list[str]]:
    """Per axes of ``fig`` its design-change lines as (x, line style, colour), and every label."""
    lines = [[(line.get_xdata()[0], line.get_linestyle(), to_hex(line.get_color()))
              for line in ax.lines if line.get_gid() == plots.DESIGN_CHANGE_GID] for ax in fig.axes]
    labels = [t.get_text() for ax in fig.axes for t in ax.texts if t.get_gid() == plots.DESIGN_CHANGE_GID]
    return lines, labels


SCENARIO_PLOTS = [plots.plot_headcount, plots.plot_participation, plots.plot_contributions]


@pytest.mark.parametrize("plot", SCENARIO_PLOTS, ids=lambda p: p.__name__)
def test_scenario_plots_draw_a_labelled_dashed_line_where_the_design_changed(plot, tmp_path):
    out = tmp_path / "plot.png"
    lines, labels = marks(plot(CHANGED, out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert lines == [[(CHANGE_X, "--", plots.DESIGN_CHANGE_COLOR)]] * len(lines), "one line on every panel"
    assert labels == [LABEL], "labelled once"


@pytest.mark.parametrize("plot", SCENARIO_PLOTS, ids=lambda p: p.__name__)
def test_scenario_plots_of_an_unchanged_design_have_no_mark(plot, tmp_path):
    fig = plot(UNCHANGED, tmp_path / "plot.png")
    assert marks(fig) == ([[]] * len(fig.axes), [])


def test_comparison_plot_marks_each_scenarios_change_in_its_line_colour(tmp_path):
    later = summary_rows("later", designs=("standard", "rich"), change="2027-07-02")
    fig = plots.plot_comparison({"tiny": UNCHANGED, "tiny_no_auto": CHANGED, "later": later}, "participation_rate",
                                tmp_path / "comparison.png")
    (ax,) = fig.axes
    colour = {line.get_label(): to_hex(line.get_color()) for line in ax.lines if line.get_gid() is None}
    lines, labels = marks(fig)
    assert lines == [[(CHANGE_X, "--", colour["tiny_no_auto"]),
                      (pytest.approx(2026.5 + 182 / 365), "--", colour["later"])]]
    assert labels == [LABEL, "design → rich"]
    assert len(set(colour.values())) == 3


# ---------------------------------------------------------------------------- summary.html
def test_summary_html_notes_the_change_under_the_year_and_marks_its_column(tmp_path):
    out = tmp_path / "summary.html"
    report.write_summary_html(write_summary(tmp_path, CHANGED), out)
    page = out.read_text(encoding="utf-8")
    header, design, *figures = Tables(page).tables[""]
    assert header == [("figure", ""), ("2026", ""), (f"2027 {NOTE}", "design-change")]
    assert design == [("Plan design", ""), ("no_auto", ""), ("standard", "design-change")]
    assert all(row[2][1] == "design-change" and row[1][1] == "" for row in figures)
    assert "Plan design no_auto, then standard from 2027-01-01." in page
    assert ".design-change {" in page, "the class is styled"


def test_summary_html_of_an_unchanged_design_has_no_mark(tmp_path):
    out = tmp_path / "summary.html"
    report.write_summary_html(write_summary(tmp_path, UNCHANGED), out)
    page = out.read_text(encoding="utf-8")
    header, design, *_ = Tables(page).tables[""]
    assert header == [("figure", ""), ("2026", ""), ("2027", "")]
    assert design == [("Plan design", ""), ("standard", ""), ("standard", "")]
    assert 'class="design-change"' not in page and "design changed" not in page and "dashed rule" not in page
    assert "Plan design standard." in page


def test_workbook_summary_sheet_has_the_change_date_as_text(tmp_path):
    fields = list(SUMMARY_FIELDS)
    with Workbook(tmp_path / "s.xlsx") as wb:
        report._summary_sheet(wb, report.read_summary(write_summary(tmp_path, CHANGED)), fields)
    header, *rows = load_workbook(tmp_path / "s.xlsx")["Summary"].iter_rows(values_only=True)
    at = header.index(report.DESIGN_CHANGE_FIELD)
    assert [(row[header.index("plan_design_id")], row[at]) for row in rows] == [("no_auto", None),
                                                                                ("standard", "2027-01-01")]


# ---------------------------------------------------------------------------- comparison
def test_comparison_carries_each_years_design_and_marks_the_changed_scenario_year(tmp_path):
    summaries = {"tiny": write_summary(tmp_path, UNCHANGED), "tiny_no_auto": write_summary(tmp_path, CHANGED)}
    csv_out, html_out = tmp_path / "comparison.csv", tmp_path / "comparison.html"
    report.write_comparison(summaries, csv_out, html_out)
    with csv_out.open(newline="") as fh:
        table = [(r["scenario_id"], r["simulation_year"], r["plan_design_id"], r["plan_design_change_date"])
                 for r in csv.DictReader(fh)]
    assert table == [("tiny", "2026", "standard", ""), ("tiny", "2027", "standard", ""),
                     ("tiny_no_auto", "2026", "no_auto", ""), ("tiny_no_auto", "2027", "standard", "2027-01-01")]

    tables = Tables(html_out.read_text(encoding="utf-8")).tables
    assert list(tables)[0] == "Plan design", "the designs come before the figures they explain"
    assert tables["Plan design"][1:] == [[("tiny", ""), ("standard", ""), ("standard", "")],
                                         [("tiny_no_auto", ""), ("no_auto", ""), (f"standard {NOTE}", "design-change")]]
    for title in (report.FIGURES[f][0] for f in report.KEY_FIGURES):
        unchanged, changed = tables[title][1:]
        assert [css for _, css in unchanged] == ["", "", ""], title
        assert [css for _, css in changed] == ["", "", "design-change"], title
    assert "A dashed rule before a year marks" in html_out.read_text(encoding="utf-8")


def test_comparison_html_of_unchanged_designs_has_no_mark(tmp_path):
    html_out = tmp_path / "comparison.html"
    report.write_comparison({"tiny": write_summary(tmp_path, UNCHANGED)}, tmp_path / "comparison.csv", html_out)
    page = html_out.read_text(encoding="utf-8")
    assert 'class="design-change"' not in page and "design changed" not in page and "dashed rule" not in page
