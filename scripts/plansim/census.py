"""Census validation and staging.

A census is one row per employee as of ``census_date`` (SPEC §3.1), given as CSV (UTF-8,
comma-separated, optional BOM, LF or CRLF), Parquet or an Excel workbook (``.xlsx``, ``.xlsm``,
``.xlsb``, ``.xls``; also ``.ods``), with either the plansim column names or the PlanAlign ones
(``employee_hire_date``, ``employee_gross_compensation``, ...).

``validate_census`` loads the file into an in-memory DuckDB as one table of text columns, runs
every check in SQL on it and raises one :class:`~plansim.errors.CensusError` listing all problems
found (SPEC §7). A workbook's sheet (the first one, or the one named by ``sheet``) is read with
python-calamine and each cell turned into the text the same value would have in a CSV (a date
cell into ``YYYY-MM-DD``, a number into its shortest decimal), so every check and every message
is the one of the CSV path. Rows are named by their data row number (row 1 = the first row
after the header), then where the row is in the file when that is known (the line of a CSV
whose rows are one physical line each, the sheet row a person sees in Excel) and its
employee_id, e.g. ``row 7 (line 8, employee_id E0042)`` or ``row 7 (sheet row 8, employee_id
E0042)``.

``stage_census`` validates and then writes the active rows, in :data:`CANONICAL_COLUMNS`
order and types, to a Parquet file atomically.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import gzip
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import duckdb
import pyarrow as pa

from plansim.atomic import replacing
from plansim.db import sql_identifier, sql_literal
from plansim.errors import CensusError

CANONICAL_COLUMNS: list[tuple[str, str]] = [
    ("employee_id", "VARCHAR"),
    ("birth_date", "DATE"),
    ("hire_date", "DATE"),
    ("termination_date", "DATE"),
    ("annual_compensation", "DECIMAL(18,2)"),
    ("job_level", "INTEGER"),
    ("deferral_rate", "DECIMAL(9,6)"),
    ("enrollment_date", "DATE"),
    ("auto_escalation_opt_out", "BOOLEAN"),
    # optional plan money (issue 19): NULL when the census does not give them
    ("roth_deferral_rate", "DECIMAL(9,6)"),
    ("prior_year_wages", "DECIMAL(18,2)"),
    ("annual_hours", "DECIMAL(9,2)"),
    ("vesting_service_years", "INTEGER"),
    ("balance_pretax", "DECIMAL(18,2)"),
    ("balance_roth", "DECIMAL(18,2)"),
    ("balance_match", "DECIMAL(18,2)"),
    ("balance_core", "DECIMAL(18,2)"),
    ("account_balance", "DECIMAL(18,2)"),
    # optional compliance data (issue 14): NULL in every row when the census does not have the column
    ("is_officer", "BOOLEAN"),
    ("ownership_pct", "DECIMAL(9,4)"),
]

REQUIRED_COLUMNS: tuple[str, ...] = ("employee_id", "birth_date", "hire_date", "annual_compensation")

# PlanAlign census column names -> canonical name. ``None`` = no canonical column of its own.
# ``employee_id``, ``job_level``, ``auto_escalation_opt_out``, ``prior_year_wages``,
# ``annual_hours``, ``vesting_service_years`` and the balances have the same name in both sets;
# ``active`` (PlanAlign) is accepted in either set and only used for rows without a
# termination_date (active = false there means "terminated, date unknown"). roth_deferral_rate
# has no PlanAlign name: a PlanAlign file gives the dollar amounts ``pre_tax_contribution`` and
# ``roth_contribution`` (:data:`ROTH_SOURCES`) instead, and roth_deferral_rate = deferral_rate *
# roth / (pre_tax + roth); in a plansim file those two are ignored.
PLANALIGN_ALIASES: dict[str, str | None] = {
    "employee_birth_date": "birth_date",
    "employee_hire_date": "hire_date",
    "employee_termination_date": "termination_date",
    "employee_gross_compensation": "annual_compensation",
    "employee_deferral_rate": "deferral_rate",
    "employee_enrollment_date": "enrollment_date",
    "employee_ssn": None,
    "employee_capped_compensation": None,
    "employee_contribution": None,
    "pre_tax_contribution": None,
    "roth_contribution": None,
    "after_tax_contribution": None,
    "employer_core_contribution": None,
    "employer_match_contribution": None,
    "eligibility_entry_date": None,
}
ROTH_SOURCES: tuple[str, ...] = ("pre_tax_contribution", "roth_contribution")
BALANCE_SOURCES: tuple[str, ...] = ("balance_pretax", "balance_roth", "balance_match", "balance_core")

_CANONICAL_NAMES = [name for name, _ in CANONICAL_COLUMNS]
_SHARED_NAMES = {
    "employee_id", "job_level", "auto_escalation_opt_out",
    "prior_year_wages", "annual_hours", "vesting_service_years", *BALANCE_SOURCES, "account_balance",
    "is_officer", "ownership_pct",
}
_PLANSIM_ONLY = [n for n in _CANONICAL_NAMES if n not in _SHARED_NAMES]
_ALIAS_OF = {canon: alias for alias, canon in PLANALIGN_ALIASES.items() if canon}
# the VARCHAR columns of table ``src``: every canonical field, then what only feeds one
_SOURCE_FIELDS = [*_CANONICAL_NAMES, "active", *ROTH_SOURCES]

MAX_COMPENSATION = 100_000_000
MAX_BALANCE = 100_000_000_000  # exclusive
MAX_ANNUAL_HOURS = 8784  # 366 days x 24 hours
MAX_VESTING_YEARS = 80
MAX_AGE_AT_CENSUS = 100
MIN_HIRE_AGE = 14
EXAMPLES = 5
_SNIFF_BYTES = 65536
_NULL_TOKENS = ("", "null", "na", "n/a", "nan", "none")
_TRUE_TOKENS = ("true", "t", "1", "yes")
_FALSE_TOKENS = ("false", "f", "0", "no")
_DATE_RE = r"\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?"
_DATE_PART_RE = r"^\d{4}-\d{1,2}-\d{1,2}"
_NUMBER_RE = r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?"
_PLAIN_ID_RE = re.compile(r"[A-Za-z0-9_.\-]{1,40}")
_EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls (and password-protected .xlsx)


@dataclass
class CensusSummary:
    """What a valid census holds."""

    path: str
    rows: int
    active_rows: int
    terminated_rows: int
    column_set: str  # "plansim" or "planalign"
    sheet: str | None = None  # the sheet read, for a workbook

    def line(self) -> str:
        """One-line human summary."""
        where = f" (sheet {self.sheet!r})" if self.sheet is not None else ""
        return (
            f"census {self.path}{where}: {self.rows:,} rows, {self.active_rows:,} active, "
            f"{self.terminated_rows:,} terminated on/before the census date "
            f"({self.column_set} columns)"
        )


class _Invalid(Exception):
    """Internal: structural problems that stop validation early (``sheet``: of the workbook read)."""

    def __init__(self, problems: list[str], sheet: str | None = None):
        super().__init__("; ".join(problems))
        self.problems = problems
        self.sheet = sheet


@dataclass
class _Source:
    """The loaded census: table ``src`` in ``con`` plus what is known about the file.

    ``src`` has the data row number ``rn`` (1 = first row after the header), ``ln`` (where the
    row is in the file: its line or sheet row; meaningful only when ``line_word`` is set) and
    one cleaned VARCHAR column per canonical field.
    """

    con: duckdb.DuckDBPyConnection
    kind: str  # "csv", "parquet" or "excel"
    column_set: str
    shown: dict[str, str]  # canonical (and "active") -> column name as written in the file
    rows: int
    line_word: str | None  # how ``ln`` is named in messages ("line", "sheet row"); None = not known
    sheet: str | None = None  # the sheet read, for a workbook


# --------------------------------------------------------------------------- helpers


def _as_date(value: datetime.date | str) -> datetime.date:
    """Accept a date, a datetime or an ISO string."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    return datetime.date.fromisoformat(str(value))


def _check_options(max_job_level: int, deferral_rate_units: str) -> None:
    if deferral_rate_units not in ("fraction", "percent"):
        raise ValueError(f"deferral_rate_units must be 'fraction' or 'percent', not {deferral_rate_units!r}")
    if int(max_job_level) < 1:
        raise ValueError(f"max_job_level must be >= 1, not {max_job_level!r}")


def _sniff_kind(path: Path) -> str:
    """Return "csv", "csv.gz", "parquet" or "excel" from the file's content and name, or raise _Invalid."""
    if not path.exists():
        raise _Invalid(["file not found"])
    if path.is_dir():
        raise _Invalid(["is a directory, not a CSV, Parquet or Excel file"])
    if path.stat().st_size == 0:
        raise _Invalid(["file is empty (0 bytes): expected a CSV header line and one row per employee"])
    with open(path, "rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    suffix = path.suffix.lower()
    if head[:4] == b"PAR1":
        return "parquet"
    if suffix in (".parquet", ".pq"):
        raise _Invalid([f"file is named {suffix} but is not a Parquet file (no PAR1 magic bytes)"])
    if head[:4] == _ZIP_MAGIC or head[:8] == _OLE_MAGIC or suffix in _EXCEL_SUFFIXES:
        return "excel"
    if head[:2] == b"\x1f\x8b":
        return "csv.gz"
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise _Invalid(["is UTF-16 encoded: save it as UTF-8 CSV"])
    if b"\x00" in head:
        raise _Invalid(["is neither a CSV (UTF-8 text) nor a Parquet file: it contains binary data"])
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < _SNIFF_BYTES)
    except UnicodeDecodeError as exc:
        text_like = sum(32 <= b < 127 or b in (9, 10, 13) for b in head) / max(1, len(head))
        if text_like < 0.9:
            raise _Invalid(["is neither a CSV (UTF-8 text) nor a Parquet file: it contains binary data"]) from exc
        raise _Invalid([f"is not UTF-8 encoded (invalid byte at offset {exc.start}): save it as UTF-8 CSV"]) from exc
    if not head.lstrip(b"\xef\xbb\xbf").strip():
        raise _Invalid(["file is empty (only whitespace): expected a CSV header line and one row per employee"])
    return "csv"


def _read_header(path: Path, kind: str) -> list[str]:
    """The CSV header cells (BOM removed)."""
    opener = gzip.open if kind == "csv.gz" else open
    with opener(path, "rb") as fh:
        raw = fh.readline()
        # a header with a quoted newline: keep reading until the quotes balance
        while raw.count(b'"') % 2 == 1:
            more = fh.readline()
            if not more:
                break
            raw += more
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _Invalid(["header line is not UTF-8 text: save the file as UTF-8 CSV"]) from exc
    return next(csv.reader(io.StringIO(text)), [])


def _map_columns(names: list[str]) -> tuple[str, dict[str, int], dict[str, str]]:
    """Match file column names to canonical fields.

    Returns (column_set, canonical -> column index, canonical -> name as written).
    """
    problems: list[str] = []
    by_norm: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        by_norm.setdefault(name.strip().lower(), []).append(i)
    known = set(_CANONICAL_NAMES) | set(PLANALIGN_ALIASES) | {"active"}
    for norm, idxs in by_norm.items():
        if norm in known and len(idxs) > 1:
            cols = ", ".join(str(i + 1) for i in idxs)
            problems.append(
                f"column {names[idxs[0]].strip()!r} appears {len(idxs)} times in the header (columns {cols})"
            )
    plansim_used = [n for n in _PLANSIM_ONLY if n in by_norm]
    planalign_used = [a for a, c in PLANALIGN_ALIASES.items() if c and a in by_norm]
    column_set = "planalign" if planalign_used and not plansim_used else "plansim"
    if plansim_used and planalign_used:
        pairs = [f"{c} and {_ALIAS_OF[c]}" for c in plansim_used if _ALIAS_OF.get(c) in by_norm]
        if pairs:
            detail = "; ".join(pairs) + " are both present"
        else:
            detail = f"plansim names ({', '.join(plansim_used)}) with PlanAlign names ({', '.join(planalign_used)})"
        problems.append(
            f"file mixes the plansim and PlanAlign column sets: {detail}; use one naming set"
        )
    index: dict[str, int] = {}
    shown: dict[str, str] = {}
    # the contribution amounts feed roth_deferral_rate only in a PlanAlign file
    used = [*_CANONICAL_NAMES, "active", *(ROTH_SOURCES if column_set == "planalign" else ())]
    for canon in used:
        for candidate in (canon, _ALIAS_OF.get(canon)):
            if candidate and candidate in by_norm:
                index[canon] = by_norm[candidate][0]
                shown[canon] = names[by_norm[candidate][0]].strip()
                break
    missing = [c for c in REQUIRED_COLUMNS if c not in index]
    if missing and not (plansim_used and planalign_used):
        wanted = [(_ALIAS_OF.get(c, c) if column_set == "planalign" else c) for c in missing]
        hint = ""
        if len(names) == 1 and (";" in names[0] or "\t" in names[0]):
            hint = " (the header looks ';'- or tab-separated: plansim reads comma-separated CSV)"
        problems.append(
            f"missing required column(s): {', '.join(wanted)}{hint}; found columns: "
            + (", ".join(n.strip() for n in names[:20]) or "(none)")
        )
    if problems:
        raise _Invalid(problems)
    return column_set, index, shown


def _count_lines(path: Path) -> int:
    """Number of physical lines in a (plain) file."""
    count = 0
    last = b""
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 24):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (1 if last not in (b"\n", b"") else 0)


def _clean(expr: str) -> str:
    """SQL: trimmed VARCHAR, NULL for blank and null tokens."""
    tokens = ", ".join(sql_literal(t) for t in _NULL_TOKENS)
    trimmed = f"trim(CAST({expr} AS VARCHAR), E' \\t')"
    return f"CASE WHEN lower({trimmed}) IN ({tokens}) THEN NULL ELSE {trimmed} END"


def _load_csv(con: duckdb.DuckDBPyConnection, path: Path, kind: str) -> _Source:
    names = _read_header(path, kind)
    column_set, index, shown = _map_columns(names)
    cols = ", ".join(f"{sql_literal(f'c{i}')}: 'VARCHAR'" for i in range(len(names)))
    select = ", ".join(
        f"{_clean(f'c{index[c]}') if c in index else 'CAST(NULL AS VARCHAR)'} AS {c}"
        for c in _SOURCE_FIELDS
    )
    con.execute(
        f"""CREATE TABLE raw AS SELECT * FROM read_csv({sql_literal(str(path))},
              header = true, auto_detect = false, delim = ',', quote = '"', escape = '"',
              columns = {{{cols}}}, compression = {"'gzip'" if kind == "csv.gz" else "'none'"},
              store_rejects = true, rejects_table = 'census_rejects', rejects_scan = 'census_reject_scans')"""
    )
    rejects = con.execute(
        "SELECT line, error_type, error_message FROM census_rejects ORDER BY line, error_type"
    ).fetchall()
    if rejects:
        raise _Invalid(_reject_problems(rejects))
    con.execute(f"CREATE TABLE src AS SELECT rowid + 1 AS rn, rowid + 2 AS ln, {select} FROM raw ORDER BY rowid")
    con.execute("DROP TABLE raw")
    rows = con.execute("SELECT count(*) FROM src").fetchone()[0]
    # data row N is on line N + 1 only when no row spans lines and no line is blank
    lines_exact = kind == "csv" and _count_lines(path) == rows + 1
    return _Source(con, "csv", column_set, shown, rows, "line" if lines_exact else None)


def _reject_problems(rejects: list[tuple[Any, ...]]) -> list[str]:
    """Turn DuckDB's rejected CSV lines into one problem per kind of error (one entry per line)."""
    groups: dict[str, dict[int, str]] = {}
    for line, etype, message in rejects:
        etype = str(etype)
        if etype == "INVALID ENCODING":
            reason = "not valid UTF-8 text (save the file as UTF-8 CSV)"
        elif etype in ("MISSING COLUMNS", "TOO MANY COLUMNS"):
            reason = "the wrong number of fields"
        elif etype == "UNQUOTED VALUE":
            reason = "a quote that is not closed"
        else:
            reason = f"a CSV syntax error ({etype.lower()})"
        groups.setdefault(reason, {}).setdefault(int(line), str(message).splitlines()[0])
    problems = []
    for reason, by_line in groups.items():
        items = sorted(by_line.items())
        shown = ", ".join(f"line {ln} ({msg})" for ln, msg in items[:EXAMPLES])
        more = f" (first {EXAMPLES} shown)" if len(items) > EXAMPLES else ""
        count = "1 line has" if len(items) == 1 else f"{len(items):,} lines have"
        problems.append(f"malformed CSV: {count} {reason}: {shown}{more}")
    return problems


def _load_parquet(con: duckdb.DuckDBPyConnection, path: Path) -> _Source:
    try:
        schema = con.execute(f"DESCRIBE SELECT * FROM read_parquet({sql_literal(str(path))})").fetchall()
    except duckdb.Error as exc:
        raise _Invalid([f"cannot be read as Parquet: {str(exc).splitlines()[0]}"]) from exc
    names = [r[0] for r in schema]
    types = {r[0]: str(r[1]).upper() for r in schema}
    column_set, index, shown = _map_columns(names)
    exprs = []
    for canon in _SOURCE_FIELDS:
        if canon not in index:
            exprs.append(f"CAST(NULL AS VARCHAR) AS {canon}")
            continue
        name = names[index[canon]]
        col = sql_identifier(name)
        if types[name].startswith("TIMESTAMP"):
            col = f"CAST(CAST({col} AS TIMESTAMP) AS DATE)"
        exprs.append(f"{_clean(col)} AS {canon}")
    try:
        con.execute(
            f"CREATE TABLE src AS SELECT file_row_number + 1 AS rn, NULL::BIGINT AS ln, {', '.join(exprs)} "
            f"FROM read_parquet({sql_literal(str(path))}, file_row_number = true) ORDER BY file_row_number"
        )
    except duckdb.Error as exc:
        raise _Invalid([f"cannot be read as Parquet: {str(exc).splitlines()[0]}"]) from exc
    rows = con.execute("SELECT count(*) FROM src").fetchone()[0]
    return _Source(con, "parquet", column_set, shown, rows, None)


def _cell_text(value: Any) -> str:
    """A workbook cell as the text the same value has in a CSV ("" = empty cell)."""
    kind = type(value)
    if kind is str:
        return value
    if kind is float:
        # whole numbers without ".0" (a job level 3, an id 42); others in their shortest form
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is datetime.date:
        return value.isoformat()
    if kind is datetime.datetime:
        return value.isoformat(sep=" ")
    return str(value)  # int, and a time or duration cell (never a date: the checks say so)


def _open_sheet(path: Path, sheet: str | None) -> tuple[str, int, list[list[Any]]]:
    """The sheet's name, the sheet row number of its first used row, and its used rows."""
    from python_calamine import CalamineError, CalamineWorkbook, PasswordError, SheetTypeEnum

    try:
        book = CalamineWorkbook.from_path(str(path))
    except PasswordError as exc:
        raise _Invalid(["is a password-protected workbook: save it without a password"]) from exc
    except (CalamineError, OSError, ValueError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise _Invalid([f"cannot be read as an Excel workbook ({detail}): save it again from Excel as .xlsx, "
                        "or the sheet as CSV (UTF-8)"]) from exc
    try:
        names = list(book.sheet_names)
        if sheet is None:
            worksheets = [m.name for m in book.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet]
            if not worksheets:
                raise _Invalid(["has no worksheet (only charts or macros)"])
            sheet = worksheets[0]
        elif sheet not in names:
            listed = ", ".join(repr(n) for n in names) or "none"
            raise _Invalid([f"has no sheet named {sheet!r} (census_sheet); its sheets are: {listed}"])
        data = book.get_sheet_by_name(sheet)
        start = data.start
        rows = data.to_python(skip_empty_area=True)
    except CalamineError as exc:
        raise _Invalid([f"sheet {sheet!r} cannot be read: {str(exc).splitlines()[0]}"]) from exc
    finally:
        book.close()
    return sheet, (start[0] + 1 if start else 1), rows


def _load_excel(con: duckdb.DuckDBPyConnection, path: Path, sheet: str | None) -> _Source:
    """One sheet as table ``src``: the header is the sheet's first used row; empty rows are
    skipped (like blank CSV lines) and every other row keeps its sheet row number."""
    name, first_row, rows = _open_sheet(path, sheet)
    if not rows:
        raise _Invalid(["the sheet is empty: expected a header row and one row per employee"], name)
    names = [_cell_text(v) for v in rows[0]]
    try:
        column_set, index, shown = _map_columns(names)
    except _Invalid as exc:
        raise _Invalid(exc.problems, name) from None
    width = len(names)
    kept = [(first_row + 1 + i, r) for i, r in enumerate(rows[1:]) if r.count("") != width]
    if not kept:
        raise _Invalid(["the sheet has a header row but no data rows: expected one row per employee"], name)
    columns = {"rn": pa.array(range(1, len(kept) + 1), pa.int64()),
               "ln": pa.array([ln for ln, _ in kept], pa.int64())}
    for i in sorted(set(index.values())):
        columns[f"c{i}"] = pa.array([_cell_text(r[i]) for _, r in kept], pa.string())
    select = ", ".join(
        f"{_clean(f'c{index[c]}') if c in index else 'CAST(NULL AS VARCHAR)'} AS {c}"
        for c in _SOURCE_FIELDS
    )
    con.register("sheet_cells", pa.table(columns))
    try:
        con.execute(f"CREATE TABLE src AS SELECT rn, ln, {select} FROM sheet_cells ORDER BY rn")
    finally:
        con.unregister("sheet_cells")
    return _Source(con, "excel", column_set, shown, len(kept), "sheet row", name)


def _load(path: Path, sheet: str | None = None) -> _Source:
    """Open an in-memory DuckDB and load the census into table ``src`` (all VARCHAR)."""
    kind = _sniff_kind(path)
    if sheet is not None and kind != "excel":
        what = "a Parquet file" if kind == "parquet" else "a CSV file"
        raise _Invalid([f"census_sheet {sheet!r} is set, but the census is {what}, not an Excel workbook"])
    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")
    except duckdb.Error:  # pragma: no cover - ICU missing
        pass
    try:
        if kind == "parquet":
            source = _load_parquet(con, path)
        elif kind == "excel":
            source = _load_excel(con, path, sheet)
        else:
            source = _load_csv(con, path, kind)
    except BaseException:
        con.close()
        raise
    if source.rows == 0:
        con.close()
        what = "has a header line but no data rows" if kind != "parquet" else "has no rows"
        raise _Invalid([f"{what}: expected one row per employee"])
    return source


# --------------------------------------------------------------------------- checks


_NUMBER_FIELDS = (
    "annual_compensation", "deferral_rate", "job_level", "roth_deferral_rate", "prior_year_wages", "annual_hours",
    "vesting_service_years", *BALANCE_SOURCES, "account_balance", *ROTH_SOURCES, "ownership_pct",
)


def _parse(src: _Source) -> None:
    """Create table ``p``: the cleaned strings (``v_*``) next to their parsed values."""
    parts = ["rn", "ln", "employee_id"]
    for c in ("birth_date", "hire_date", "termination_date", "enrollment_date"):
        parts.append(f"{c} AS v_{c}")
        parts.append(f"regexp_full_match({c}, {sql_literal(_DATE_RE)}) AS f_{c}")
        parts.append(f"TRY_CAST(regexp_extract({c}, {sql_literal(_DATE_PART_RE)}) AS DATE) AS {c}")
    for c in _NUMBER_FIELDS:
        parts.append(f"{c} AS v_{c}")
        parts.append(
            f"CASE WHEN regexp_full_match({c}, {sql_literal(_NUMBER_RE)}) THEN TRY_CAST({c} AS DOUBLE) END AS {c}"
        )
    true_tokens = ", ".join(sql_literal(t) for t in _TRUE_TOKENS)
    false_tokens = ", ".join(sql_literal(t) for t in _FALSE_TOKENS)
    for c in ("auto_escalation_opt_out", "active", "is_officer"):
        parts.append(f"{c} AS v_{c}")
        parts.append(
            f"CASE WHEN lower({c}) IN ({true_tokens}) THEN true "
            f"WHEN lower({c}) IN ({false_tokens}) THEN false END AS b_{c}"
        )
    src.con.execute(f"CREATE TABLE p AS SELECT {', '.join(parts)} FROM src")


def _checks(src: _Source, census_date: datetime.date, max_job_level: int, units: str) -> list[tuple[str, str, str]]:
    """(problem text, SQL condition, SQL value shown) for every row-level check."""
    s = src.shown
    cd = f"DATE {sql_literal(census_date.isoformat())}"
    out: list[tuple[str, str, str]] = [
        (f"{s['employee_id']} is blank", "employee_id IS NULL", "NULL"),
    ]
    for c in ("birth_date", "hire_date", "annual_compensation"):
        out.append((f"{s[c]} is blank (required)", f"v_{c} IS NULL", "NULL"))
    for c in ("birth_date", "hire_date", "termination_date", "enrollment_date"):
        if c not in s:
            continue
        out.append((f"{s[c]} is not a date (expected YYYY-MM-DD)", f"v_{c} IS NOT NULL AND NOT f_{c}", f"v_{c}"))
        out.append(
            (f"{s[c]} is an impossible calendar date", f"v_{c} IS NOT NULL AND f_{c} AND {c} IS NULL", f"v_{c}")
        )
    out += [
        (f"{s['birth_date']} is after {s['hire_date']}", "birth_date > hire_date",
         "v_birth_date || ' > ' || v_hire_date"),
        (f"{s['hire_date']} is after the census date {census_date.isoformat()}", f"hire_date > {cd}", "v_hire_date"),
        (f"hired before age {MIN_HIRE_AGE} ({s['hire_date']} < {s['birth_date']} + {MIN_HIRE_AGE} years)",
         f"birth_date <= hire_date AND hire_date < birth_date + INTERVAL {MIN_HIRE_AGE} YEAR",
         "'born ' || v_birth_date || ', hired ' || v_hire_date"),
        (f"{s['birth_date']} makes the employee older than {MAX_AGE_AT_CENSUS} at the census date",
         f"birth_date <= hire_date AND birth_date < {cd} - INTERVAL {MAX_AGE_AT_CENSUS} YEAR", "v_birth_date"),
        (f"{s['annual_compensation']} is not a number",
         "v_annual_compensation IS NOT NULL AND annual_compensation IS NULL",
         "v_annual_compensation"),
        (f"{s['annual_compensation']} is not > 0", "annual_compensation <= 0", "v_annual_compensation"),
        (f"{s['annual_compensation']} is absurdly large (> {MAX_COMPENSATION:,})",
         f"annual_compensation > {MAX_COMPENSATION}", "v_annual_compensation"),
    ]
    if "termination_date" in s:
        out.append((f"{s['termination_date']} is before {s['hire_date']}", "termination_date < hire_date",
                    "'hired ' || v_hire_date || ', terminated ' || v_termination_date"))
    if "deferral_rate" in s:
        dr = s["deferral_rate"]
        out += [
            (f"{dr} is not a number", "v_deferral_rate IS NOT NULL AND deferral_rate IS NULL", "v_deferral_rate"),
            (f"{dr} is negative", "deferral_rate < 0", "v_deferral_rate"),
        ]
        if units == "percent":
            out.append((f"{dr} is above 100 (deferral_rate_units: percent)", "deferral_rate > 100", "v_deferral_rate"))
    if "job_level" in s:
        jl = s["job_level"]
        out += [
            (f"{jl} is not an integer",
             "v_job_level IS NOT NULL AND (job_level IS NULL OR job_level <> floor(job_level))",
             "v_job_level"),
            (f"{jl} is outside 1..{max_job_level}",
             f"job_level = floor(job_level) AND (job_level < 1 OR job_level > {int(max_job_level)})", "v_job_level"),
        ]
    out += _plan_money_checks(s)
    if "auto_escalation_opt_out" in s:
        out.append((f"{s['auto_escalation_opt_out']} is not a boolean (true/false/1/0/yes/no/t/f)",
                    "v_auto_escalation_opt_out IS NOT NULL AND b_auto_escalation_opt_out IS NULL",
                    "v_auto_escalation_opt_out"))
    if "is_officer" in s:
        out.append((f"{s['is_officer']} is not a boolean (true/false/1/0/yes/no/t/f)",
                    "v_is_officer IS NOT NULL AND b_is_officer IS NULL", "v_is_officer"))
    if "ownership_pct" in s:
        out += _number_checks(s, "ownership_pct")
        out.append((f"{s['ownership_pct']} is above 100 (a percentage of the employer)",
                    "ownership_pct > 100", "v_ownership_pct"))
    if "active" in s:
        out.append((f"{s['active']} is not a boolean (true/false/1/0/yes/no/t/f)",
                    "v_active IS NOT NULL AND b_active IS NULL", "v_active"))
    return out


def _number_checks(s: dict[str, str], c: str) -> list[tuple[str, str, str]]:
    """Column ``c`` (when the file has it) is a number and not negative."""
    if c not in s:
        return []
    return [
        (f"{s[c]} is not a number", f"v_{c} IS NOT NULL AND {c} IS NULL", f"v_{c}"),
        (f"{s[c]} is negative", f"{c} < 0", f"v_{c}"),
    ]


def _plan_money_checks(s: dict[str, str]) -> list[tuple[str, str, str]]:
    """The optional plan-money columns: Roth rate, prior-year wages, hours, vesting service, balances."""
    out = _number_checks(s, "roth_deferral_rate")
    if "roth_deferral_rate" in s and "deferral_rate" in s:
        out.append((f"{s['roth_deferral_rate']} is above {s['deferral_rate']}",
                    "roth_deferral_rate > coalesce(deferral_rate, 0)",
                    "v_roth_deferral_rate || ' > ' || coalesce(v_deferral_rate, '(blank)')"))
    for c in ROTH_SOURCES:  # only mapped in a PlanAlign file
        out += _number_checks(s, c)
    out += _number_checks(s, "prior_year_wages")
    if "prior_year_wages" in s:
        out.append((f"{s['prior_year_wages']} is absurdly large (> {MAX_COMPENSATION:,})",
                    f"prior_year_wages > {MAX_COMPENSATION}", "v_prior_year_wages"))
    if "annual_hours" in s:
        out += [
            (f"{s['annual_hours']} is not a number", "v_annual_hours IS NOT NULL AND annual_hours IS NULL",
             "v_annual_hours"),
            (f"{s['annual_hours']} is outside 0..{MAX_ANNUAL_HOURS}",
             f"annual_hours < 0 OR annual_hours > {MAX_ANNUAL_HOURS}", "v_annual_hours"),
        ]
    if "vesting_service_years" in s:
        vs = s["vesting_service_years"]
        out += [
            (f"{vs} is not an integer",
             "v_vesting_service_years IS NOT NULL AND (vesting_service_years IS NULL "
             "OR vesting_service_years <> floor(vesting_service_years))",
             "v_vesting_service_years"),
            (f"{vs} is outside 0..{MAX_VESTING_YEARS}",
             "vesting_service_years = floor(vesting_service_years) AND "
             f"(vesting_service_years < 0 OR vesting_service_years > {MAX_VESTING_YEARS})",
             "v_vesting_service_years"),
        ]
    balances = [c for c in (*BALANCE_SOURCES, "account_balance") if c in s]
    for c in balances:
        out += _number_checks(s, c)
        out.append((f"{s[c]} is absurdly large (>= {MAX_BALANCE:,})", f"{c} >= {MAX_BALANCE}", f"v_{c}"))
    sources = [c for c in BALANCE_SOURCES if c in s]
    if sources and "account_balance" in s:
        # every balance given is a valid amount: compare them as they are staged (cents)
        valid = " AND ".join(f"(v_{c} IS NULL OR ({c} >= 0 AND {c} < {MAX_BALANCE}))"
                             for c in [*sources, "account_balance"])
        cents = [f"TRY_CAST(round(coalesce({c}, 0), 2) AS DECIMAL(18,2))" for c in sources]
        total = "TRY_CAST(round(account_balance, 2) AS DECIMAL(18,2))"
        given = " OR ".join(f"v_{c} IS NOT NULL" for c in sources)
        added = " + ".join(cents)
        out.append((
            f"{' + '.join(s[c] for c in sources)} (blanks as 0) do not add up to {s['account_balance']} "
            "(within 0.01)",
            f"v_account_balance IS NOT NULL AND ({given}) AND {valid} AND abs(({added}) - {total}) > 0.01",
            f"printf('sum %.2f, total %.2f', {added}, {total})",
        ))
    return out


Label = Callable[[int, Any, Any], str]


def _row_label(src: _Source) -> Label:
    """``label(rn, ln, employee_id)``: "row 7 (line 8, employee_id E0042)"; the line (or sheet
    row) when known, the id when the row has one (None: not shown)."""
    id_column = src.shown["employee_id"]

    def label(rn: int, ln: Any, emp: Any) -> str:
        where = [f"{src.line_word} {ln}"] if src.line_word and ln is not None else []
        if emp is not None:
            emp = str(emp)
            shown = emp if _PLAIN_ID_RE.fullmatch(emp) else repr(emp if len(emp) <= 40 else emp[:37] + "...")
            where.append(f"{id_column} {shown}")
        return f"row {rn} ({', '.join(where)})" if where else f"row {rn}"

    return label


def _describe(text: str, count: int, examples: list[dict[str, Any]], label: Label) -> str:
    """One problem line: what, how many rows, the first examples."""
    shown = []
    for ex in examples:
        value = ex["v"]
        item = label(int(ex["rn"]), ex["ln"], ex["id"])
        if value is not None:
            value = str(value)
            value = value if len(value) <= 40 else value[:37] + "..."
            item += f" {value!r}"
        shown.append(item)
    rows = "1 row" if count == 1 else f"{count:,} rows"
    more = f" (first {len(shown)} shown)" if count > len(shown) else ""
    return f"{text}: {rows}: {', '.join(shown)}{more}"


def _run_checks(src: _Source, census_date: datetime.date, max_job_level: int, units: str) -> list[str]:
    """All row-level problems, in a fixed order."""
    con = src.con
    _parse(src)
    checks = _checks(src, census_date, max_job_level, units)
    aggs = []
    for i, (_, cond, value) in enumerate(checks):
        aggs.append(f"count(*) FILTER (WHERE {cond}) AS n{i}")
        aggs.append(
            f"arg_min({{'rn': rn, 'ln': ln, 'id': employee_id, 'v': CAST({value} AS VARCHAR)}}, rn, {EXAMPLES}) "
            f"FILTER (WHERE {cond}) AS e{i}"
        )
    extra = [
        "count(*) FILTER (WHERE deferral_rate > 1) AS dr_gt1",
        "max(deferral_rate) AS dr_max",
        f"arg_min({{'rn': rn, 'ln': ln, 'id': employee_id, 'v': v_deferral_rate}}, rn, {EXAMPLES}) "
        "FILTER (WHERE deferral_rate > 1) AS dr_ex",
    ]
    row = con.execute(f"SELECT {', '.join(aggs + extra)} FROM p").fetchone()
    label = _row_label(src)
    problems = _column_problems(src)
    for i, (text, _, _) in enumerate(checks):
        n = row[2 * i]
        if n:
            problems.append(_describe(text, n, row[2 * i + 1] or [], label))
    dr_gt1, dr_max, dr_ex = row[-3:]
    if dr_gt1 and units == "fraction":
        dr = src.shown.get("deferral_rate", "deferral_rate")
        if dr_max <= 100:
            text = (
                f"{dr} values look like percents (max {dr_max:g}); rates must be fractions 0..1 "
                f"(0.06 for 6%), or set `deferral_rate_units: percent` in the config"
            )
        else:
            text = f"{dr} is above 1 (rates are fractions 0..1)"
        problems.append(_describe(text, dr_gt1, dr_ex or [], label))
    problems.extend(_duplicate_problems(src, label))
    return problems


def _column_problems(src: _Source) -> list[str]:
    """Problems of the columns the file has, not of its rows."""
    s = src.shown
    if "roth_deferral_rate" in s and "deferral_rate" not in s:
        return [
            f"column {s['roth_deferral_rate']!r} needs a deferral_rate column: the Roth rate is the part of "
            f"deferral_rate deferred as Roth; add deferral_rate or drop {s['roth_deferral_rate']}"
        ]
    return []


def _duplicate_problems(src: _Source, label: Label) -> list[str]:
    """One problem naming the duplicated employee ids and their rows."""
    con = src.con
    stats = con.execute(
        """SELECT count(*), coalesce(sum(n), 0) FROM
           (SELECT count(*) AS n FROM p WHERE employee_id IS NOT NULL GROUP BY employee_id HAVING count(*) > 1)"""
    ).fetchone()
    if not stats[0]:
        return []
    ids, rows = stats
    examples = con.execute(
        f"""SELECT employee_id, list({{'rn': rn, 'ln': ln}} ORDER BY rn)[1:{EXAMPLES}], count(*) FROM p
            WHERE employee_id IS NOT NULL GROUP BY employee_id HAVING count(*) > 1
            ORDER BY min(rn) LIMIT {EXAMPLES}"""
    ).fetchall()
    parts = []
    for emp, rows_of_id, n in examples:  # the id is named once, before its rows
        where = ", ".join(label(int(r["rn"]), r["ln"], None) for r in rows_of_id)
        where += " ..." if n > len(rows_of_id) else ""
        parts.append(f"{emp!r} in {where}")
    more = f" (first {len(parts)} shown)" if ids > len(parts) else ""
    return [
        f"{src.shown['employee_id']} is not unique: {ids:,} id(s) appear more than once "
        f"({int(rows):,} rows): {'; '.join(parts)}{more}"
    ]


_ACTIVE_SQL = (
    "(termination_date IS NULL AND coalesce(b_active, true)) OR termination_date > DATE {cd}"
)


def _where(path: Path, sheet: str | None) -> str:
    """The file (and the sheet read, for a workbook) as a CensusError names it."""
    return f"{path} (sheet {sheet!r})" if sheet is not None else str(path)


def _check_and_summarise(
    path: str | os.PathLike[str], census_date: datetime.date | str, max_job_level: int, units: str, sheet: str | None
) -> tuple[_Source, CensusSummary, datetime.date]:
    """Check the options, load + check the census; on success return the open source (table
    ``p``), the summary and the census date."""
    _check_options(max_job_level, units)
    path, census_date, max_job_level = Path(path), _as_date(census_date), int(max_job_level)
    try:
        src = _load(path, sheet)
    except _Invalid as exc:
        raise CensusError(_where(path, exc.sheet), exc.problems) from None
    except duckdb.Error as exc:  # anything DuckDB could not read at all
        raise CensusError(str(path), [f"cannot be read: {str(exc).splitlines()[0]}"]) from None
    try:
        problems = _run_checks(src, census_date, max_job_level, units)
        if problems:
            raise CensusError(_where(path, src.sheet), problems)
        active_sql = _ACTIVE_SQL.format(cd=sql_literal(census_date.isoformat()))
        # fetchall: a DuckDB 2 connection keeps a half-read result open, which blocks the next query
        ((active,),) = src.con.execute(f"SELECT count(*) FILTER (WHERE {active_sql}) FROM p").fetchall()
    except BaseException:
        src.con.close()
        raise
    summary = CensusSummary(str(path), src.rows, int(active), src.rows - int(active), src.column_set, src.sheet)
    return src, summary, census_date


# --------------------------------------------------------------------------- public API


def validate_census(
    path: str | os.PathLike[str],
    census_date: datetime.date,
    *,
    max_job_level: int = 5,
    deferral_rate_units: str = "fraction",
    sheet: str | None = None,
) -> CensusSummary:
    """Check a census file; raise CensusError listing every problem found.

    ``sheet`` names the sheet of a workbook to read (default: the first); it is an error for a
    CSV or Parquet file.
    """
    src, summary, _ = _check_and_summarise(path, census_date, max_job_level, deferral_rate_units, sheet)
    src.con.close()
    return summary


def stage_census(
    path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    census_date: datetime.date,
    *,
    max_job_level: int = 5,
    deferral_rate_units: str = "fraction",
    sheet: str | None = None,
) -> CensusSummary:
    """Validate, then atomically write the active rows to ``out_path`` as Parquet.

    Columns and types are :data:`CANONICAL_COLUMNS`, rows ordered by employee_id. A blank
    deferral_rate becomes 0, a blank auto_escalation_opt_out false; job_level and the plan-money
    columns stay NULL (so does a column the census does not have). is_officer and ownership_pct
    are NULL in every row without their column; with it, a blank is false / 0. roth_deferral_rate is a
    fraction like deferral_rate; from a PlanAlign file it is deferral_rate * roth_contribution /
    (pre_tax_contribution + roth_contribution), NULL unless both amounts are given and add up to > 0.
    Nothing is written when the census is invalid.
    """
    src, summary, cdate = _check_and_summarise(path, census_date, max_job_level, deferral_rate_units, sheet)
    out = Path(out_path)
    select = _canonical_select(src, summary, deferral_rate_units, cdate, active_only=True)
    try:
        with replacing(out) as tmp:
            src.con.execute(f"COPY ({select}) TO {sql_literal(str(tmp))} (FORMAT parquet, COMPRESSION zstd)")
    finally:
        src.con.close()
    return summary


def _canonical_select(src: _Source, summary: CensusSummary, deferral_rate_units: str, cdate: datetime.date,
                      *, active_only: bool) -> str:
    """The SELECT of a checked census (table ``p``) in :data:`CANONICAL_COLUMNS` order and types:
    the active rows only, or every row with a last column ``is_active``."""
    active = _ACTIVE_SQL.format(cd=sql_literal(cdate.isoformat()))
    active_col = "" if active_only else f",\n          ({active}) AS is_active"
    where = f"WHERE {active}" if active_only else ""
    scale = "100.0" if deferral_rate_units == "percent" else "1.0"
    if summary.column_set == "planalign":
        roth = ("CASE WHEN pre_tax_contribution + roth_contribution > 0 THEN coalesce(deferral_rate, 0) "
                "* roth_contribution / (pre_tax_contribution + roth_contribution) END")
    else:
        roth = "roth_deferral_rate"
    # a census with the column: a blank cell is "not an officer" / 0%; without it, NULL in every row (unknown)
    officer = ("CAST(coalesce(b_is_officer, false) AS BOOLEAN)" if "is_officer" in src.shown
               else "CAST(NULL AS BOOLEAN)")
    ownership = ("CAST(round(coalesce(ownership_pct, 0), 4) AS DECIMAL(9,4))" if "ownership_pct" in src.shown
                 else "CAST(NULL AS DECIMAL(9,4))")
    money = ",\n          ".join(
        f"CAST(round({c}, 2) AS DECIMAL(18,2)) AS {c}" for c in (*BALANCE_SOURCES, "account_balance")
    )
    select = f"""
        SELECT
          CAST(employee_id AS VARCHAR) AS employee_id,
          CAST(birth_date AS DATE) AS birth_date,
          CAST(hire_date AS DATE) AS hire_date,
          CAST(termination_date AS DATE) AS termination_date,
          CAST(round(annual_compensation, 2) AS DECIMAL(18,2)) AS annual_compensation,
          CAST(job_level AS INTEGER) AS job_level,
          CAST(round(coalesce(deferral_rate, 0) / {scale}, 6) AS DECIMAL(9,6)) AS deferral_rate,
          CAST(enrollment_date AS DATE) AS enrollment_date,
          CAST(coalesce(b_auto_escalation_opt_out, false) AS BOOLEAN) AS auto_escalation_opt_out,
          CAST(round(({roth}) / {scale}, 6) AS DECIMAL(9,6)) AS roth_deferral_rate,
          CAST(round(prior_year_wages, 2) AS DECIMAL(18,2)) AS prior_year_wages,
          CAST(round(annual_hours, 2) AS DECIMAL(9,2)) AS annual_hours,
          CAST(vesting_service_years AS INTEGER) AS vesting_service_years,
          {money},
          {officer} AS is_officer,
          {ownership} AS ownership_pct{active_col}
        FROM p
        {where}
        ORDER BY employee_id"""
    return select


def read_census_rows(
    path: str | os.PathLike[str],
    census_date: datetime.date,
    *,
    max_job_level: int = 5,
    deferral_rate_units: str = "fraction",
    sheet: str | None = None,
) -> pa.Table:
    """Validate, then return every row (active or not) in :data:`CANONICAL_COLUMNS` order and
    types, plus ``is_active`` (active on ``census_date``, as :func:`stage_census` decides it).
    A history snapshot (plansim.history) needs the leavers of the year as well as the actives."""
    src, summary, cdate = _check_and_summarise(path, census_date, max_job_level, deferral_rate_units, sheet)
    try:
        return src.con.sql(_canonical_select(src, summary, deferral_rate_units, cdate, active_only=False)).to_arrow_table()
    finally:
        src.con.close()
