"""The streaming XLSX writer (scripts/plansim/xlsx.py) and the analyst workbook written with it
(plansim.report.write_workbook), read back with openpyxl as an analyst's tools would."""

from __future__ import annotations

import datetime as dt
import json
import struct
import zipfile
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import load_workbook

from plansim import xlsx
from plansim.report import write_workbook
from plansim.summary import SUMMARY_FIELDS

NASTY = 'a<b & c>d "quoted"'


def values(path: Path, sheet: str) -> list[tuple]:
    """A sheet's rows, each as far as its last cell (read-only mode does not pad them)."""
    return list(load_workbook(path, read_only=True)[sheet].iter_rows(values_only=True))


def local_header_extra(path: Path, name: str) -> bytes:
    """The extra field of an entry's local header, where ZIP64 sizes would be."""
    with zipfile.ZipFile(path) as zf, open(path, "rb") as fh:
        fh.seek(zf.getinfo(name).header_offset)
        header = fh.read(30)
        name_length, extra_length = struct.unpack("<HH", header[26:30])
        fh.seek(name_length, 1)
        return fh.read(extra_length)


# ---------------------------------------------------------------------------- Python rows
@pytest.fixture
def small_book(tmp_path: Path) -> Path:
    path = tmp_path / "small.xlsx"
    with xlsx.Workbook(path) as wb:
        with wb.sheet("Values", freeze="C2", widths=[12, 30.5, 9]) as ws:
            ws.header(["int", "text", "more"], note="NOTE: a note")
            ws.append([1_234_567, NASTY, 0.125], ["#,##0", None, "0.00%"])
            ws.append([Decimal("1234.50"), "x\x00y\x1fz\ttab\nline", 2.5], ["#,##0.00", None, "0.00"])
            ws.append([True, "  padded  ", False])
            ws.append([dt.date(2024, 2, 29), None, dt.datetime(2024, 2, 29, 18, 0)])
            ws.append([float("nan"), "", -(2 ** 53), Decimal("2.00"), 3.0, 0.1 + 0.2])
        with wb.sheet("Second", freeze="A2") as ws:
            ws.header(["only"])
    return path


def test_every_value_type_round_trips_in_read_only_mode(small_book):
    expected = [
        ("int", "text", "more", "NOTE: a note"),
        (1_234_567, NASTY, 0.125),
        (1234.5, "xyz\ttab\nline", 2.5),
        (True, "  padded  ", False),
        (dt.datetime(2024, 2, 29), None, dt.datetime(2024, 2, 29, 18, 0)),
        (None, "", -(2 ** 53), 2, 3, 0.1 + 0.2),
    ]
    rows = values(small_book, "Values")
    assert rows == expected
    assert [list(map(type, row)) for row in rows] == [list(map(type, row)) for row in expected]


def test_formats_panes_widths_and_header_style_round_trip_in_normal_mode(small_book):
    wb = load_workbook(small_book)
    assert wb.sheetnames == ["Values", "Second"]
    ws = wb["Values"]
    assert ws.freeze_panes == "C2" and wb["Second"].freeze_panes == "A2"
    assert [ws.column_dimensions[c].width for c in "ABC"] == [12, 30.5, 9]
    assert [ws[ref].number_format for ref in ("A2", "C2", "A3", "C3", "A5", "C5")] == [
        "#,##0", "0.00%", "#,##0.00", "0.00", "yyyy-mm-dd", "yyyy-mm-dd"]
    assert ws["B2"].number_format == "General" and ws["A4"].value is True
    assert ws["A5"].is_date and ws["C5"].value == dt.datetime(2024, 2, 29, 18, 0)
    for ref in ("A1", "B1", "C1"):
        assert ws[ref].font.b and ws[ref].fill.fill_type == "solid" and ws[ref].fill.fgColor.rgb.endswith("DDE4EE")
    assert ws["D1"].font.b and ws["D1"].font.color.rgb.endswith("9C0006") and ws["D1"].fill.fill_type is None
    assert not ws["A2"].font.b
    assert ws["A6"].value is None, "NaN has no Excel value: no cell"


def test_the_package_is_a_valid_zip_with_the_parts_excel_needs(small_book):
    with zipfile.ZipFile(small_book) as zf:
        assert zf.testzip() is None
        names = zf.namelist()
        assert all(info.compress_type == zipfile.ZIP_DEFLATED for info in zf.infolist())
        sheet = zf.read("xl/worksheets/sheet1.xml").decode()
    assert {"[Content_Types].xml", "_rels/.rels", "xl/workbook.xml", "xl/_rels/workbook.xml.rels", "xl/styles.xml",
            "xl/worksheets/sheet1.xml", "xl/worksheets/sheet2.xml"} <= set(names)
    assert all(local_header_extra(small_book, name) == b"" for name in names), "ZIP64 headers where none are needed"
    assert "a&lt;b &amp; c&gt;d" in sheet and "\x00" not in sheet and "\x1f" not in sheet
    assert '<row r="2"><c r="A2" s="3"><v>1234567</v></c>' in sheet
    assert '<t xml:space="preserve">  padded  </t>' in sheet


def test_every_table_has_a_filter_on_its_header_row_and_a_frozen_pane(small_book):
    wb = load_workbook(small_book)
    # The note column (D) is not part of the table; 'Second' is a header with no rows yet.
    assert {ws.title: ws.auto_filter.ref for ws in wb.worksheets} == {"Values": "A1:C6", "Second": "A1:A1"}
    with zipfile.ZipFile(small_book) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml").decode()
        book = zf.read("xl/workbook.xml").decode()
    assert ('<pane xSplit="2" ySplit="1" topLeftCell="C2" activePane="bottomRight" state="frozen"/>' in sheet)
    assert sheet.endswith('</sheetData><autoFilter ref="A1:C6"/></worksheet>'), "autoFilter goes after sheetData"
    # Excel writes, and LibreOffice reads the filter from, a hidden name of the filtered range per sheet.
    assert ('<definedName name="_xlnm._FilterDatabase" localSheetId="0" hidden="1">\'Values\'!$A$1:$C$6'
            '</definedName>') in book
    assert '<definedName name="_xlnm._FilterDatabase" localSheetId="1" hidden="1">\'Second\'!$A$1:$A$1' in book


def test_footer_rows_stay_out_of_the_filter_and_a_sheet_without_header_has_none(tmp_path):
    path = tmp_path / "footer.xlsx"
    with xlsx.Workbook(path) as wb:
        with wb.sheet("Bob's totals", freeze="B2") as ws:
            ws.header(["kind", "n"])
            ws.append(["a", 1], [None, "#,##0"])
            ws.append(["b", 2], [None, "#,##0"])
            ws.append_footer(["all", 3], [None, "#,##0"])
            with pytest.raises(ValueError, match="cannot follow a footer"):
                ws.append(["c", 4])
        with wb.sheet("bare") as ws:
            ws.append([1])
        with wb.sheet("unfiltered") as ws:
            ws.header(["x"], autofilter=False)
    wb = load_workbook(path)
    assert [ws.auto_filter.ref for ws in wb.worksheets] == ["A1:B3", None, None]
    assert values(path, "Bob's totals")[-1] == ("all", 3) and wb["Bob's totals"]["B4"].number_format == "#,##0"
    with zipfile.ZipFile(path) as zf:
        book = zf.read("xl/workbook.xml").decode()
    assert book.count("_xlnm._FilterDatabase") == 1 and ">'Bob''s totals'!$A$1:$B$3</definedName>" in book


def test_bad_input_is_refused(tmp_path):
    with xlsx.Workbook(tmp_path / "bad.xlsx") as wb:
        with pytest.raises(ValueError, match="sheet name"):
            wb.sheet("a/b")
        with pytest.raises(ValueError, match="sheet name"):
            wb.sheet("x" * 32)
        with wb.sheet("ok") as ws:
            with pytest.raises(ValueError, match="not in the style table"):
                ws.append([1], ["0.000"])
            with pytest.raises(TypeError, match="cannot write a bytes"):
                ws.append([b"raw"])
        with pytest.raises(ValueError, match="sheet name"):
            wb.sheet("ok")


def test_a_sheet_that_may_pass_2_gib_gets_zip64_headers(tmp_path):
    path = tmp_path / "big.xlsx"
    with xlsx.Workbook(path) as wb:
        wb.sheet("small", size_hint=10_000).close()
        wb.sheet("huge", size_hint=3 << 30).close()
    assert local_header_extra(path, "xl/worksheets/sheet1.xml") == b""
    assert local_header_extra(path, "xl/worksheets/sheet2.xml")[:2] == b"\x01\x00", "ZIP64 extra field"
    assert values(path, "huge") == []


def test_column_letters():
    assert [xlsx.column_letter(i) for i in (1, 26, 27, 52, 53, 702, 703, 16384)] == [
        "A", "Z", "AA", "AZ", "BA", "ZZ", "AAA", "XFD"]


# ---------------------------------------------------------------------------- parquet rows
def typed_table(rows: int) -> pa.Table:
    """Every column type of the workforce snapshot (and a few more), with NULLs and awkward text."""
    def pick(options, i):
        return options[i % len(options)]

    text = ["plain", NASTY, " lead", "trail\t", "ctl\x01\x08x", "é ü 😀", None, ""]
    return pa.table({
        "id": pa.array([f"EMP_{i:06d}" for i in range(rows)]),
        "text": pa.array([pick(text, i) for i in range(rows)]),
        "flag": pa.array([pick([True, False, None], i) for i in range(rows)]),
        "level": pa.array([i % 5 for i in range(rows)], pa.int32()),
        "big": pa.array([i * 10**12 - 7 for i in range(rows)], pa.int64()),
        "pay": pa.array([Decimal(i * 1001) / 100 for i in range(rows)], pa.decimal128(18, 2)),
        "deferral_rate": pa.array([Decimal(i % 1000) / 10**6 for i in range(rows)], pa.decimal128(9, 6)),
        "whole": pa.array([Decimal(-i) for i in range(rows)], pa.decimal128(10, 0)),
        "share": pa.array([Decimal(i % 3 - 1) / 4 for i in range(rows)], pa.decimal128(4, 4)),
        "hire_date": pa.array([dt.date(1990, 1, 1) + dt.timedelta(days=i % 20000) for i in range(rows)]),
        "end_date": pa.array([pick([dt.date(2029, 12, 31), None], i) for i in range(rows)], pa.date32()),
        "stamp": pa.array([dt.datetime(2025, 1, 1, 6) + dt.timedelta(minutes=i) for i in range(rows)],
                          pa.timestamp("us")),
        "ratio": pa.array([pick([0.1, 1e-7, 12345.678, float("nan"), None], i) for i in range(rows)], pa.float64()),
    })


def expected_cell(value):
    """What openpyxl reads back for a parquet value."""
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, str):
        return value.replace("\x01", "").replace("\x08", "")
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    return value


FORMATS = {"pay": "#,##0.00", "deferral_rate": "0.00%", "whole": "#,##0.00", "share": "0.00%",
           "hire_date": "yyyy-mm-dd", "end_date": "yyyy-mm-dd"}


def parquet_book(tmp_path: Path, table: pa.Table, limit: int, note: str | None = None, **write) -> Path:
    source, path = tmp_path / "table.parquet", tmp_path / "table.xlsx"
    pq.write_table(table, source, **write)
    with xlsx.Workbook(path) as wb:
        written = wb.parquet_sheet("Table", source, header=table.column_names, note=note, formats=FORMATS,
                                   limit=limit, freeze="E2", widths=[11] * table.num_columns)
    assert written == min(limit, table.num_rows)
    return path


def test_parquet_rows_round_trip_in_file_order_across_row_groups_and_batches(tmp_path):
    table = typed_table(45_000)
    path = parquet_book(tmp_path, table, limit=10**9, row_group_size=4_000)
    rows = values(path, "Table")
    assert rows[0] == tuple(table.column_names)
    assert len(rows) == 1 + table.num_rows
    for got, want in zip(rows[1:], table.to_pylist()):
        expected = [expected_cell(v) for v in want.values()]
        got = [*got, *[None] * (len(expected) - len(got))]
        assert got == expected, want["id"]
        assert [type(v) for v in got] == [type(v) for v in expected], want["id"]


def test_parquet_rows_formats_and_styles_in_normal_mode(tmp_path):
    table = typed_table(12)
    ws = load_workbook(parquet_book(tmp_path, table, limit=100))["Table"]
    assert ws.freeze_panes == "E2" and ws.column_dimensions["M"].width == 11
    assert ws.auto_filter.ref == "A1:M13", "the filter covers the header and every row"
    formats = {name: ws.cell(2, i).number_format for i, name in enumerate(table.column_names, start=1)}
    assert formats == {**{name: "General" for name in table.column_names}, **FORMATS, "stamp": "yyyy-mm-dd"}
    assert all(ws.cell(1, i).font.b for i in range(1, table.num_columns + 1))
    assert ws["K2"].value == dt.datetime(2029, 12, 31) and ws["K3"].value is None


def test_parquet_rows_stop_at_the_limit(tmp_path):
    table = typed_table(100)
    path = parquet_book(tmp_path, table, limit=10, note="NOTE: 100 rows; only the first 10 fit")
    rows = values(path, "Table")
    assert len(rows) == 11
    assert rows[0] == (*table.column_names, "NOTE: 100 rows; only the first 10 fit")
    assert [r[0] for r in rows[1:]] == table.column("id").to_pylist()[:10]
    ws = load_workbook(path)["Table"]
    assert ws.auto_filter.ref == "A1:M11", "the rows written, not the note's column"
    assert ws.cell(1, table.num_columns + 1).font.color.rgb.endswith("9C0006")
    with zipfile.ZipFile(path) as zf:
        sheet = zf.read("xl/worksheets/sheet1.xml").decode()
    assert '<t xml:space="preserve"> lead</t>' in sheet and '<t xml:space="preserve">trail\t</t>' in sheet
    assert "<t>a&lt;b &amp; c&gt;d" in sheet and '<c r="L2" s="7"><v>45658.25</v></c>' in sheet


def test_the_size_bound_holds(tmp_path):
    source = tmp_path / "t.parquet"
    pq.write_table(typed_table(3_000), source)
    rows = xlsx.ParquetRows(source, first_row=2, limit=2_500)
    try:
        size = sum(len(chunk) for chunk in rows.chunks())
        assert size <= rows.size_bound() < 2 * size
    finally:
        rows.close()


# ---------------------------------------------------------------------------- the analyst workbook
def analyst_inputs(tmp_path: Path, snapshot_rows: int) -> dict:
    years = [2025, 2026]
    summary = tmp_path / "summary.csv"
    lines = [",".join(SUMMARY_FIELDS)]
    for year in years:
        figures = {"scenario_id": "s", "plan_design_id": "standard", "simulation_year": year, "headcount_end": 100,
                   "growth_rate": 0.03, "total_payroll": 1234567.891, "employer_cost_pct_of_payroll": 4.5}
        lines.append(",".join(str(figures.get(f, "")) for f in SUMMARY_FIELDS))
    summary.write_text("\n".join(lines) + "\n")
    events, done = [], []
    for year in years:
        events.append(tmp_path / f"events_{year}.parquet")
        pq.write_table(pa.table({"simulation_year": [year] * 3, "event_type": ["hire", "hire", "raise"],
                                 "event_subtype": [None, None, "merit"]}), events[-1])
        done.append(tmp_path / f"done_{year}")
        done[-1].write_text(json.dumps({"simulation_year": year, "config_hash": "abc", "versions": {"duckdb": "2"},
                                        "row_counts": {"fct_yearly_events": 3}}))
    snapshot = tmp_path / "fct_workforce_snapshot.parquet"
    pq.write_table(typed_table(snapshot_rows), snapshot)
    scenario = {"scenario_id": "s", "plan_design_id": "standard", "start_year": 2025, "end_year": 2026,
                "random_seed": 42, "census_date": "2024-12-31", "census_sheet": None,
                "workforce": {"promotion_rates": [0.1, 0.05], "compensation_bands": [[35000, 60000]],
                              "termination_level_multipliers": [1.2]},
                "plan_design": {"match_tiers": [{"rate": 1.0}, {"rate": 0.5}], "auto_enrollment": {"enabled": True}}}
    return {"summary_csv": summary, "events_files": events, "snapshot_file": snapshot, "done_files": done,
            "scenario": scenario}


def test_write_workbook_sheets_formats_panes_and_widths(tmp_path):
    out = tmp_path / "s.xlsx"
    written = write_workbook(out, **analyst_inputs(tmp_path, 30), max_rows=20)
    assert written == {"years": 2, "event_rows": 2, "snapshot_rows": 30, "snapshot_rows_written": 20, "settings": 15,
                       "compliance_rows": 0}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == [], "temp file left behind"
    wb = load_workbook(out)
    assert wb.sheetnames == ["Summary", "Events by type", "Workforce 2026", "Assumptions", "Run metadata"]
    panes = {ws.title: ws.freeze_panes for ws in wb.worksheets}
    assert panes == {"Summary": "D2", "Events by type": "C2", "Workforce 2026": "E2", "Assumptions": "B2",
                     "Run metadata": "B2"}
    filters = {ws.title: ws.auto_filter.ref for ws in wb.worksheets}
    last_summary_column = xlsx.column_letter(len(SUMMARY_FIELDS))
    assert filters == {"Summary": f"A1:{last_summary_column}3", "Events by type": "A1:E3", "Workforce 2026": "A1:M21",
                       "Assumptions": "A1:B16", "Run metadata": "A1:C5"}, "the events' total row stays out"
    summary = wb["Summary"]
    assert summary["F2"].value == 0.03 and summary["F2"].number_format == "0.00%"
    assert summary["E2"].value == 100 and summary["E2"].number_format == "#,##0"
    # L = total_payroll, U = employer_cost_pct_of_payroll (SUMMARY_FIELDS order)
    assert summary["L2"].value == 1234567.891 and summary["L2"].number_format == "#,##0.00"
    assert summary["U2"].value == 0.045 and summary["U2"].number_format == "0.00%", "4.5 in summary.csv is 4.50%"
    assert summary["D2"].value is None
    with zipfile.ZipFile(out) as zf:
        assert '<c r="U2" s="5"><v>0.045</v></c>' in zf.read("xl/worksheets/sheet1.xml").decode(), "exactly 4.5/100"
    widths = {c: summary.column_dimensions[c].width for c in "ACU"}
    assert widths == {"A": 15, "C": 19, "U": 32}, "header text and its filter button fit"
    events = [tuple(c.value for c in row) for row in wb["Events by type"].iter_rows()]
    assert events == [("event_type", "event_subtype", "2025", "2026", "total"), ("hire", None, 2, 2, 4),
                      ("raise", "merit", 1, 1, 2), ("all events", None, 3, 3, 6)]
    assert wb["Events by type"]["E4"].number_format == "#,##0"
    workforce = wb["Workforce 2026"]
    assert workforce.max_row == 21 and workforce["N1"].value.startswith("NOTE: 30 rows in fct_workforce_snapshot")
    assert workforce.column_dimensions["N"].width == 90 and workforce.column_dimensions["G"].width == 17
    formats = {workforce.cell(1, i).value: workforce.cell(2, i).number_format for i in range(1, 14)}
    assert formats["deferral_rate"] == "0.00%", "a decimal named *rate* is a percentage"
    assert formats["pay"] == formats["share"] == formats["whole"] == "#,##0.00", "other decimals are money"
    assert formats["hire_date"] == "yyyy-mm-dd" and formats["level"] == formats["ratio"] == "General"
    settings = dict(tuple(c.value for c in row) for row in wb["Assumptions"].iter_rows(min_row=2))
    assert settings["plan_design.match_tiers[2].rate"] == 0.5 and settings["plan_design.auto_enrollment.enabled"]
    assert settings["census_sheet"] == "(none)", "an unset setting says so rather than leaving a blank"
    shown = {row[0].value: row[1].number_format for row in wb["Assumptions"].iter_rows(min_row=2)}
    assert {k: shown[k] for k in ("workforce.promotion_rates[2]", "plan_design.match_tiers[1].rate",
                                  "workforce.compensation_bands[1][2]", "workforce.termination_level_multipliers[1]",
                                  "random_seed", "plan_design.auto_enrollment.enabled")} == {
        "workforce.promotion_rates[2]": "0.00%", "plan_design.match_tiers[1].rate": "0.00%",
        "workforce.compensation_bands[1][2]": "#,##0.00", "workforce.termination_level_multipliers[1]": "General",
        "random_seed": "General", "plan_design.auto_enrollment.enabled": "General"}, "rates as %, pay as money"
    meta = {row[0].value: [c.value for c in row[1:]] for row in wb["Run metadata"].iter_rows()}
    assert meta["random_seed"] == [42, 42] and meta["versions.duckdb"] == ["2", "2"]
    counts = [row for row in wb["Run metadata"].iter_rows() if row[0].value == "row_counts.fct_yearly_events"][0]
    assert [c.number_format for c in counts[1:]] == ["#,##0", "#,##0"]


def test_write_workbook_leaves_nothing_when_it_fails(tmp_path):
    inputs = analyst_inputs(tmp_path, 5)
    inputs["snapshot_file"].unlink()
    out = tmp_path / "s.xlsx"
    with pytest.raises(Exception):
        write_workbook(out, **inputs)
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_the_compliance_sheet_holds_compliance_csv_with_percent_points_and_money_formats(tmp_path):
    from plansim import compliance

    rows = [
        {"scenario_id": "s", "plan_design_id": "standard", "simulation_year": 2025, "test_name": "adp",
         "test_method": "current_year", "status": "fail", "hce_count": 3, "nhce_count": 2, "hce_value": 0.0633,
         "nhce_value": 0.028, "nhce_base": 0.028, "test_value": 0.0633, "limit_value": 0.048, "margin_points": -1.53,
         "corrective_amount": 7150.0, "recharacterized_amount": 4000.0, "match_forfeited": 3575.0, "affected_count": 2,
         "note": "refunds by leveling"},
        {"scenario_id": "s", "plan_design_id": "standard", "simulation_year": 2025, "test_name": "top_heavy",
         "test_method": "determination_date", "status": "not_determinable", "hce_count": 0, "nhce_count": 5,
         "hce_value": None, "nhce_value": None, "nhce_base": None, "test_value": None, "limit_value": 0.6,
         "margin_points": None, "corrective_amount": 0.0, "recharacterized_amount": 0.0, "match_forfeited": 0.0,
         "affected_count": 0, "note": "no officer or owner data"},
    ]
    csv_path = tmp_path / "compliance.csv"
    compliance.write_csv(rows, csv_path)
    assert compliance.read_csv(csv_path) == rows, "compliance.csv reads back as written"
    out = tmp_path / "s.xlsx"
    written = write_workbook(out, **analyst_inputs(tmp_path, 3), compliance_csv=csv_path)
    assert written["compliance_rows"] == 2
    wb = load_workbook(out)
    assert wb.sheetnames == ["Summary", "Events by type", "Compliance", "Workforce 2026", "Assumptions", "Run metadata"]
    ws = wb["Compliance"]
    header = [c.value for c in ws[1]]
    assert header == compliance.FIELDS and ws.freeze_panes == "E2" and ws.auto_filter.ref == "A1:S3"
    adp = {name: cell for name, cell in zip(header, ws[2])}
    assert (adp["hce_value"].value, adp["hce_value"].number_format) == (0.0633, "0.00%")
    assert (adp["margin_points"].value, adp["margin_points"].number_format) == (-1.53, "0.00")
    assert (adp["corrective_amount"].value, adp["corrective_amount"].number_format) == (7150, "#,##0.00")
    assert adp["hce_count"].number_format == "#,##0" and adp["status"].value == "fail"
    top_heavy = {name: cell.value for name, cell in zip(header, ws[3])}
    assert top_heavy["hce_value"] is None and top_heavy["margin_points"] is None, "unknown stays an empty cell"
