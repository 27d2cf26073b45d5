"""The done sentinel's content checksum: what a user comparing two runs relies on."""

import duckdb
import pytest

from plansim.audit import content_checksum


def _write(path, rows_sql):
    duckdb.connect().execute(f"copy ({rows_sql}) to '{path}' (format parquet)")
    return path


@pytest.fixture
def table_sql():
    return ("select * from (values (1, 'E1', 0.06::decimal(6,4), date '2025-01-31', null::varchar), "
            "(2, 'E2', 0.03, date '2025-02-28', 'x'), (3, 'E3', null, date '2025-03-31', '')) "
            "as t(n, employee_id, deferral_rate, as_of, note)")


def test_same_rows_in_another_order_give_the_same_checksum(tmp_path, table_sql):
    a = content_checksum(_write(tmp_path / "a.parquet", f"{table_sql} order by n"))
    b = content_checksum(_write(tmp_path / "b.parquet", f"{table_sql} order by n desc"))
    assert a == b
    assert a.startswith("3:")


def test_one_changed_value_changes_the_checksum(tmp_path, table_sql):
    a = content_checksum(_write(tmp_path / "a.parquet", table_sql))
    changed = table_sql.replace("0.03", "0.04")
    assert content_checksum(_write(tmp_path / "b.parquet", changed)) != a


def test_null_and_empty_text_differ(tmp_path, table_sql):
    a = content_checksum(_write(tmp_path / "a.parquet", table_sql))
    swapped = table_sql.replace("null::varchar", "''::varchar").replace("'x'), (3, 'E3', null, date '2025-03-31', '')",
                                                                          "'x'), (3, 'E3', null, date '2025-03-31', null)")
    assert content_checksum(_write(tmp_path / "b.parquet", swapped)) != a


def test_values_moved_between_columns_change_the_checksum(tmp_path):
    a = content_checksum(_write(tmp_path / "a.parquet", "select 'ab' as x, 'c' as y"))
    b = content_checksum(_write(tmp_path / "b.parquet", "select 'a' as x, 'bc' as y"))
    assert a != b


def test_quoted_column_names_are_read(tmp_path):
    path = _write(tmp_path / "a.parquet", 'select 1 as "odd ""name""", 2 as "select"')
    assert content_checksum(path).startswith("1:")


def test_empty_file(tmp_path):
    path = _write(tmp_path / "a.parquet", "select 1 as n where false")
    assert content_checksum(path) == "0:0"
