"""A small streaming XLSX writer: the analyst workbook without openpyxl's per-cell cost.

openpyxl builds a Python object per cell, which made the final year's workforce sheet take
minutes at 250,000 rows. Here each worksheet is one zip entry written as XML text while it is
made: the small sheets row by row in Python, a parquet file's rows by DuckDB with SQL string
functions, batch by batch, so neither a sheet nor the table is ever held in memory.

The package is the minimal Office Open XML workbook: content types, relationships, the
workbook, a fixed style table (:data:`FORMATS`) and one worksheet per sheet with frozen panes,
column widths, rows of cells holding numbers, booleans, inline strings or dates (serial day
numbers with a date style) and an autoFilter on the header row of its table (with the hidden
``_xlnm._FilterDatabase`` name of the filtered range that Excel writes and LibreOffice reads the
filter from). A value of None is no cell at all.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape, quoteattr

import duckdb
import pyarrow as pa

from plansim.db import sql_identifier, sql_literal

# Deflate level 2 makes the workforce sheet 10% smaller than level 1 for a few percent more
# time; level 3 costs half again as much compression time for 10% less.
COMPRESSLEVEL = 2

# Number format -> cell style id (the style table is _STYLES below).
FORMATS = {"#,##0": 3, "#,##0.00": 4, "0.00%": 5, "0.00": 6, "yyyy-mm-dd": 7}
DEFAULT, HEADER, NOTE = 0, 1, 2
DATE_STYLE = FORMATS["yyyy-mm-dd"]

# Serial day 0 of Excel's 1900 date system; serials from it are right from 1900-03-01 on.
_EPOCH = dt.datetime(1899, 12, 30)
# What XML 1.0 cannot carry, even escaped: C0 controls but tab, LF and CR; U+FFFE and U+FFFF; and
# (in Python strings only; DuckDB's are UTF-8) surrogates. The second pattern is for DuckDB's RE2.
_ILLEGAL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ILLEGAL_RE2 = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x{fffe}\x{ffff}]"
_WHITESPACE = " \t\n\r"  # at a string's edges, kept only under xml:space="preserve" (Excel trims it)
_PRESERVE = ' xml:space="preserve"'
_CELL_REF = re.compile(r"([A-Z]{1,3})([1-9][0-9]*)")
_SHEET_NAME_FORBIDDEN = set("[]:*?/\\")
# A zip entry that may pass this size must be a ZIP64 entry from its first header on (zipfile's
# own rule, which leaves room for compressed data larger than the original).
_ZIP64_FROM = zipfile.ZIP64_LIMIT / 1.05
_HEAD_ROOM = 1 << 20  # bytes allowed for a worksheet's head and header row when bounding its size

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_STYLES = (
    f'{_XML}<styleSheet xmlns="{_MAIN}">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>'
    '<fonts count="3">'
    '<font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><color rgb="FF9C0006"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill>'
    '<fill><patternFill patternType="solid"><fgColor rgb="FFDDE4EE"/><bgColor indexed="64"/></patternFill></fill>'
    '</fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="8">'
    '<xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1"/>'
    '<xf numFmtId="0" fontId="2" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    + "".join(f'<xf numFmtId="{i}" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
              for i in (3, 4, 10, 2, 164))  # #,##0  #,##0.00  0.00%  0.00 (built-in ids), yyyy-mm-dd
    + '</cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles></styleSheet>')


# ---------------------------------------------------------------------------- cells
def column_letter(index: int) -> str:
    """Excel's name of the 1-based column ``index``: 1 -> A, 26 -> Z, 27 -> AA."""
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _split_ref(ref: str) -> tuple[int, int]:
    """(column, row), both 1-based, of a cell reference such as ``E2``."""
    match = _CELL_REF.fullmatch(ref)
    if not match:
        raise ValueError(f"not a cell reference: {ref!r}")
    column = 0
    for letter in match.group(1):
        column = column * 26 + ord(letter) - ord("A") + 1
    return column, int(match.group(2))


def _s(style: int) -> str:
    return f' s="{style}"' if style else ""


def _string_cell(ref: str, style: int, value: str) -> str:
    text = escape(_ILLEGAL_RE.sub("", value))
    space = _PRESERVE if text != text.strip(_WHITESPACE) else ""
    return f'<c r="{ref}"{_s(style)} t="inlineStr"><is><t{space}>{text}</t></is></c>'


def _number_text(value: int | float | Decimal) -> str | None:
    """A number as the text of ``<v>``: exact (the shortest text that reads back as the same
    float), trailing zeros dropped (2.50 -> 2.5, 3.0 -> 3) as in the SQL below; None for NaN
    and infinities, which Excel cannot hold."""
    if isinstance(value, int):
        return str(value)
    if not (value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)):
        return None
    text = format(value, "f") if isinstance(value, Decimal) else repr(value)
    return text.rstrip("0").rstrip(".") if "." in text and "e" not in text else text


def _serial(value: dt.date) -> str:
    """A date or datetime as an Excel serial number: days since 1899-12-30, time as a fraction."""
    if isinstance(value, dt.datetime):
        return _number_text((value - _EPOCH) / dt.timedelta(days=1))
    return str((value - _EPOCH.date()).days)


def cell_xml(ref: str, value: Any, style: int = DEFAULT) -> str:
    """One ``<c>`` element, or '' where there is no cell (None, NaN, infinities).

    Dates and datetimes get the yyyy-mm-dd style unless ``style`` says otherwise."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref}"{_s(style)} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (int, float, Decimal)):
        text = _number_text(value)
        return "" if text is None else f'<c r="{ref}"{_s(style)}><v>{text}</v></c>'
    if isinstance(value, dt.date):
        return f'<c r="{ref}"{_s(style or DATE_STYLE)}><v>{_serial(value)}</v></c>'
    if isinstance(value, str):
        return _string_cell(ref, style, value)
    raise TypeError(f"cannot write a {type(value).__name__} to cell {ref}: {value!r}")


def style_of(number_format: str | None) -> int:
    """The cell style id of a number format (DEFAULT for None); only FORMATS exist."""
    if number_format is None:
        return DEFAULT
    if number_format not in FORMATS:
        raise ValueError(f"number format {number_format!r} is not in the style table ({', '.join(FORMATS)})")
    return FORMATS[number_format]


# ---------------------------------------------------------------------------- parquet rows
# The widest text DuckDB gives for a value of each fixed-size type, sign included.
_INTEGER_WIDTH = {"TINYINT": 4, "SMALLINT": 6, "INTEGER": 11, "BIGINT": 20, "HUGEINT": 40, "UTINYINT": 3,
                  "USMALLINT": 5, "UINTEGER": 10, "UBIGINT": 20, "UHUGEINT": 39}
_DOUBLE_WIDTH = 25  # -1.2345678901234567e+308
_DATE_WIDTH = 11


def _value_sql(column: str, kind: str) -> tuple[str, str, int | None]:
    """How a column of DuckDB type ``kind`` becomes cell text: (SQL giving the text or NULL,
    cell kind, widest text or None when unbounded). Kinds: "n" number, "d" date serial,
    "b" boolean, "s" string (escaped, illegal characters dropped)."""
    q = sql_identifier(column)
    decimal = re.fullmatch(r"DECIMAL\((\d+),(\d+)\)", kind)
    if kind == "BOOLEAN":
        return f"{q}::int::varchar", "b", 1
    if kind in _INTEGER_WIDTH:
        return f"{q}::varchar", "n", _INTEGER_WIDTH[kind]
    if decimal:
        return _decimal_sql(q, *map(int, decimal.groups()))
    if kind in ("FLOAT", "DOUBLE"):
        return f"CASE WHEN isfinite({q}) THEN {q}::varchar END", "n", _DOUBLE_WIDTH
    if kind == "DATE":
        return f"date_diff('day', DATE '1899-12-30', {q})::varchar", "d", _DATE_WIDTH
    if kind.startswith("TIMESTAMP") and "TIME ZONE" not in kind:
        return f"(epoch_us({q}) / 86400000000 + 25569)::varchar", "d", _DOUBLE_WIDTH
    return _escaped_sql(f"regexp_replace({q}::varchar, {sql_literal(_ILLEGAL_RE2)}, '', 'g')"), "s", None


def _decimal_sql(q: str, precision: int, scale: int) -> tuple[str, str, int]:
    """Exact digits less trailing zeros (12.50 -> 12.5, 0.00 -> 0). DuckDB writes DECIMAL(s,s)
    values without the leading zero (.5); one more digit of precision brings it back."""
    if not scale:
        return f"{q}::varchar", "n", precision + 1
    column = f"{q}::DECIMAL({precision + 1},{scale})" if precision == scale < 38 else q
    text = f"CASE WHEN {q} = 0 THEN '0' ELSE rtrim(rtrim({column}::varchar, '0'), '.') END"
    return text, "n", precision + 3  # sign, leading zero, point


def _escaped_sql(text: str) -> str:
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = f"replace({text}, '{char}', '{entity}')"
    return text


def _cell_sql(letter: str, kind: str, style: int, value: str) -> tuple[str, int]:
    """(SQL for one cell of a row whose number is the column ``r``, length of its constant text).
    ``||`` propagates NULL: a NULL value gives a NULL cell, which concat() then leaves out."""
    attributes = _s(style) + (' t="b"' if kind == "b" else ' t="inlineStr"' if kind == "s" else "")
    head, middle = f'<c r="{letter}', f'"{attributes}>'
    if kind == "s":
        space = f"CASE WHEN {value} = trim({value}, {sql_literal(_WHITESPACE)}) THEN '' ELSE {sql_literal(_PRESERVE)} END"
        open_, close = "<is><t", "</t></is></c>"
        sql = f"{sql_literal(head)} || r || {sql_literal(middle + open_)} || {space} || '>' || {value} || {sql_literal(close)}"
        return sql, len(head + middle + open_ + _PRESERVE + ">" + close)
    sql = f"{sql_literal(head)} || r || {sql_literal(middle + '<v>')} || {value} || '</v></c>'"
    return sql, len(head + middle + "<v></v></c>")


def _row_sql(columns: Sequence[tuple[str, str]], formats: Mapping[str, str]) \
        -> tuple[list[str], list[str], int, list[str]]:
    """For (name, DuckDB type) columns: the SQL of their cell texts (v1, v2, ...), of their
    cells, the widest row less row numbers and strings, and the SQL of the strings' lengths
    (escaped; dropping characters only shortens them)."""
    values, cells, width, strings = [], [], len('<row r=""></row>'), []
    for index, (name, kind) in enumerate(columns, start=1):
        value, cell_kind, value_width = _value_sql(name, kind)
        style = style_of(formats.get(name)) or (DATE_STYLE if cell_kind == "d" else DEFAULT)
        cell, constant = _cell_sql(column_letter(index), cell_kind, style, f"v{index}")
        values.append(f"{value} as v{index}")
        cells.append(f"({cell})")
        width += constant + (value_width or 0)
        if value_width is None:
            strings.append(f"strlen({_escaped_sql(sql_identifier(name) + '::varchar')})")
    return values, cells, width, strings


class ParquetRows:
    """A parquet file's rows as worksheet ``<row>`` elements, made by DuckDB.

    The rows are the file's first ``limit``, in file order (DuckDB keeps insertion order), as
    sheet rows ``first_row`` on; each row's number is the file's own row number, so ``r``
    attributes and order agree. ``formats`` maps column names to number formats (date and
    timestamp columns default to yyyy-mm-dd). Close it when done."""

    def __init__(self, path: str | Path, *, first_row: int, limit: int, formats: Mapping[str, str] | None = None,
                 batch_rows: int = 20_000):
        self.first_row, self._batch_rows = first_row, batch_rows
        self._con = duckdb.connect(config={"preserve_insertion_order": True})
        source = f"read_parquet({sql_literal(str(path))}, file_row_number = true)"
        self.rows = min(limit, self._con.execute(f"select count(*) from {source}").fetchall()[0][0])
        table = self._con.sql(f"select * exclude (file_row_number) from {source}")
        self._columns = list(zip(table.columns, map(str, table.types)))
        self._source = f"{source} where file_row_number < {self.rows}"
        values, cells, self._row_width, self._strings = _row_sql(self._columns, formats or {})
        self._sql = (f"select concat('<row r=\"', r, '\">', {', '.join(cells)}, '</row>') from (select "
                     f"(file_row_number + {first_row})::varchar as r, {', '.join(values)} from {self._source})")

    def close(self) -> None:
        self._con.close()

    def size_bound(self) -> int:
        """At least the number of bytes :meth:`chunks` gives, without making them: whether
        the sheet's zip entry needs ZIP64 headers has to be known before it is written, and
        they are better left out where they are not needed (not every reader copes)."""
        digits = len(str(self.first_row + self.rows - 1))
        strings = 0
        if self._strings and self.rows:
            total = " + ".join(f"coalesce(sum({length}), 0)" for length in self._strings)
            strings = self._con.execute(f"select {total} from {self._source}").fetchall()[0][0]
        return self.rows * (self._row_width + digits * (len(self._columns) + 1)) + int(strings)

    def chunks(self) -> Iterator[memoryview]:
        """The rows' XML, one chunk per Arrow batch. A string array holds its values back to
        back in one data buffer, so a batch's rows are a view of that buffer: no Python work
        per row or cell."""
        for batch in self._con.sql(self._sql).to_arrow_reader(self._batch_rows):
            array = batch.column(0)
            _, offsets, data = array.buffers()
            offsets = memoryview(offsets).cast("q" if pa.types.is_large_string(array.type) else "i")
            yield memoryview(data)[offsets[array.offset]:offsets[array.offset + len(array)]]


# ---------------------------------------------------------------------------- sheets
class Sheet:
    """One worksheet being written: each row goes straight into the sheet's zip entry.

    A sheet is a table: its header row (see :meth:`header`) and the rows appended after it, which
    an autoFilter on the header covers; footer rows (totals) follow the table outside the filter,
    so sorting or filtering the table leaves them where they are."""

    def __init__(self, stream: IO[bytes], freeze: str | None, widths: Sequence[float]):
        self._stream = stream
        self.next_row = 1
        self._table: tuple[int, int] | None = None  # (header row, columns) once a filtered header is written
        self._table_end = 0  # the table's last row
        self._footer = False
        self.filter_ref: str | None = None  # the autoFilter's range, set on close
        stream.write(_worksheet_head(freeze, widths).encode())

    def _write_row(self, cells: str) -> None:
        self._stream.write(f'<row r="{self.next_row}">{cells}</row>'.encode())
        self.next_row += 1

    def header(self, names: Sequence[str], note: str | None = None, *, autofilter: bool = True) -> None:
        """The header row: ``names`` bold on a light fill, then ``note`` (if any) bold in red.
        With ``autofilter``, the table's columns (``names``, not the note) get filter buttons."""
        row = self.next_row
        if autofilter and names:
            if self._table is not None:
                raise ValueError("a sheet has one filtered table")
            self._table, self._table_end = (row, len(names)), row
        cells = [cell_xml(f"{column_letter(i)}{row}", name, HEADER) for i, name in enumerate(names, start=1)]
        if note is not None:
            cells.append(cell_xml(f"{column_letter(len(names) + 1)}{row}", note, NOTE))
        self._write_row("".join(cells))

    def _extend_table(self, rows: int) -> None:
        if self._footer:
            raise ValueError("table rows cannot follow a footer row")
        if self._table is not None:
            self._table_end = self.next_row + rows - 1

    def _row_cells(self, values: Sequence[Any], formats: Sequence[str | None] | None) -> str:
        row = self.next_row
        styles = [style_of(f) for f in formats] if formats is not None else [DEFAULT] * len(values)
        return "".join(cell_xml(f"{column_letter(i)}{row}", value, style)
                       for i, (value, style) in enumerate(zip(values, styles, strict=True), start=1))

    def append(self, values: Sequence[Any], formats: Sequence[str | None] | None = None) -> None:
        """One row of the table; ``formats``, if given, holds a number format (or None) per value."""
        self._extend_table(1)
        self._write_row(self._row_cells(values, formats))

    def append_footer(self, values: Sequence[Any], formats: Sequence[str | None] | None = None) -> None:
        """One row after the table (a total), outside its autoFilter; only footers may follow."""
        self._footer = True
        self._write_row(self._row_cells(values, formats))

    def append_parquet(self, rows: ParquetRows) -> int:
        """All of ``rows`` as table rows, which must start at this sheet's next row; returns how many."""
        if rows.first_row != self.next_row:
            raise ValueError(f"the parquet rows start at row {rows.first_row}, the sheet is at row {self.next_row}")
        self._extend_table(rows.rows)
        for chunk in rows.chunks():
            self._stream.write(chunk)
        self.next_row += rows.rows
        return rows.rows

    def close(self) -> None:
        tail = "</sheetData>"
        if self._table is not None:
            row, columns = self._table
            self.filter_ref = f"A{row}:{column_letter(columns)}{self._table_end}"
            tail += f'<autoFilter ref="{self.filter_ref}"/>'
        self._stream.write(f"{tail}</worksheet>".encode())
        self._stream.close()

    def __enter__(self) -> Sheet:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _worksheet_head(freeze: str | None, widths: Sequence[float]) -> str:
    """What a worksheet has before its rows: the frozen panes and the column widths."""
    view = '<sheetView workbookViewId="0"/>'
    if freeze:
        column, row = _split_ref(freeze)
        x, y = column - 1, row - 1
        pane = "bottomRight" if x and y else "topRight" if x else "bottomLeft"
        splits = (f' xSplit="{x}"' if x else "") + (f' ySplit="{y}"' if y else "")
        view = (f'<sheetView workbookViewId="0"><pane{splits} topLeftCell="{freeze}" activePane="{pane}" '
                f'state="frozen"/><selection pane="{pane}" activeCell="{freeze}" sqref="{freeze}"/></sheetView>')
    cols = "".join(f'<col min="{i}" max="{i}" width="{w:g}" customWidth="1"/>' for i, w in enumerate(widths, start=1))
    cols = f"<cols>{cols}</cols>" if cols else ""
    return f'{_XML}<worksheet xmlns="{_MAIN}"><sheetViews>{view}</sheetViews>{cols}<sheetData>'


def _absolute_range(sheet: str, ref: str) -> str:
    """``'Sheet name'!$A$1:$C$9`` for the range ``A1:C9`` of ``sheet``."""
    corners = []
    for corner in ref.split(":"):
        column, row = _split_ref(corner)
        corners.append(f"${column_letter(column)}${row}")
    return "'" + sheet.replace("'", "''") + "'!" + ":".join(corners)


# ---------------------------------------------------------------------------- workbook
class Workbook:
    """An .xlsx file being written, one sheet after the other (a zip file has one entry open
    for writing at a time). Use it as a context manager: closing writes the parts that list
    the sheets."""

    def __init__(self, path: str | Path, compresslevel: int = COMPRESSLEVEL):
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel)
        self._names: list[str] = []
        self._sheets: list[Sheet] = []

    def sheet(self, name: str, *, freeze: str | None = None, widths: Sequence[float] = (),
              size_hint: int = 0) -> Sheet:
        """A new sheet, to write and close before the next. ``size_hint`` is a bound on its
        XML size in bytes, needed where that may pass 2 GiB (see ParquetRows.size_bound)."""
        if not 0 < len(name) <= 31 or _SHEET_NAME_FORBIDDEN & set(name) or _ILLEGAL_RE.search(name) \
                or name in self._names:
            raise ValueError(f"bad or repeated sheet name {name!r} (1 to 31 characters, none of []:*?/\\)")
        self._names.append(name)
        stream = self._zip.open(f"xl/worksheets/sheet{len(self._names)}.xml", "w",
                                force_zip64=size_hint > _ZIP64_FROM)
        self._sheets.append(Sheet(stream, freeze, widths))
        return self._sheets[-1]

    def parquet_sheet(self, name: str, path: str | Path, *, header: Sequence[str], note: str | None = None,
                      formats: Mapping[str, str] | None = None, limit: int, freeze: str | None = None,
                      widths: Sequence[float] = ()) -> int:
        """A sheet of a parquet file's first ``limit`` rows under ``header`` (and ``note``);
        returns the number of rows written."""
        rows = ParquetRows(path, first_row=2, limit=limit, formats=formats)
        try:
            with self.sheet(name, freeze=freeze, widths=widths, size_hint=rows.size_bound() + _HEAD_ROOM) as sheet:
                sheet.header(header, note)
                return sheet.append_parquet(rows)
        finally:
            rows.close()

    def close(self) -> None:
        try:
            for part, text in self._package_parts():
                self._zip.writestr(part, text)
        finally:
            self._zip.close()

    def __enter__(self) -> Workbook:
        return self

    def __exit__(self, error_type, *_) -> None:
        """On an error, only release the file: the caller throws the half-written file away."""
        if error_type is None:
            self.close()
        else:
            self._zip.close()

    def _package_parts(self) -> list[tuple[str, str]]:
        numbers = range(1, len(self._names) + 1)
        sheet_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
        content_types = (
            f'{_XML}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            + "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{sheet_type}"/>' for i in numbers)
            + "</Types>")
        package_rels = (f'{_XML}<Relationships xmlns="{_PKG_REL}"><Relationship Id="rId1" '
                        f'Type="{_REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        sheets = "".join(f'<sheet name={quoteattr(name)} sheetId="{i}" r:id="rId{i}"/>'
                         for i, name in zip(numbers, self._names))
        filters = "".join(
            f'<definedName name="_xlnm._FilterDatabase" localSheetId="{index}" hidden="1">'
            f"{escape(_absolute_range(name, sheet.filter_ref))}</definedName>"
            for index, (name, sheet) in enumerate(zip(self._names, self._sheets)) if sheet.filter_ref)
        filters = f"<definedNames>{filters}</definedNames>" if filters else ""
        workbook = (f'{_XML}<workbook xmlns="{_MAIN}" xmlns:r="{_REL}">'
                    f'<bookViews><workbookView/></bookViews><sheets>{sheets}</sheets>{filters}</workbook>')
        workbook_rels = (
            f'{_XML}<Relationships xmlns="{_PKG_REL}">'
            + "".join(f'<Relationship Id="rId{i}" Type="{_REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                      for i in numbers)
            + f'<Relationship Id="rId{len(self._names) + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
            + "</Relationships>")
        return [("[Content_Types].xml", content_types), ("_rels/.rels", package_rels), ("xl/workbook.xml", workbook),
                ("xl/_rels/workbook.xml.rels", workbook_rels), ("xl/styles.xml", _STYLES)]
