"""An Excel census gives the same simulation as the same data in CSV: the hand-made tiny census
saved as a workbook (date cells, number cells, booleans) and run through the real `snakemake`
command produces the year files of the CSV run (conftest's `tiny_run`) byte for byte in content."""

from __future__ import annotations

import csv
import datetime as dt
import json

import openpyxl
import pytest

from conftest import TINY_CENSUS, copy_workflow, snakemake, tiny_config, write_config

pytestmark = pytest.mark.slow


def excel_cell(text: str):
    """The value a person typing the CSV's cell into Excel ends up with."""
    if text == "":
        return None
    if text in ("true", "false"):
        return text == "true"
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def test_an_excel_census_simulates_exactly_like_the_csv(tiny_run, tmp_path):
    wd = copy_workflow(tmp_path / "wf")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Census"
    with open(TINY_CENSUS, newline="") as fh:
        rows = list(csv.reader(fh))
    sheet.append(rows[0])
    for row in rows[1:]:
        # employee ids stay text; every other cell typed (dates as real date cells)
        sheet.append([row[0], *map(excel_cell, row[1:])])
    path = wd / "tests" / "data" / "tiny_census.xlsx"
    book.save(path)
    assert openpyxl.load_workbook(path)["Census"]["B2"].is_date  # a date cell, not text

    write_config(wd, tiny_config(end_year=2025, census="tests/data/tiny_census.xlsx"))
    snakemake(wd, "--cores", "2", "results/tiny/2025/done")

    excel = json.loads((wd / "results" / "tiny" / "2025" / "done").read_text())
    plain = json.loads((tiny_run / "results" / "tiny" / "2025" / "done").read_text())
    assert excel["content_checksums"] == plain["content_checksums"]
    assert excel["row_counts"] == plain["row_counts"] and excel["summary"] == plain["summary"]
    assert excel["config_hash"] != plain["config_hash"]  # the census file is part of the config
