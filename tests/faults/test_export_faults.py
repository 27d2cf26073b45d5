"""Exports and prior-year checks in Python, without Snakemake (fast): the disk-full hook of
plansim.state_files.export_model, and check_state_file on intact and damaged files."""

from __future__ import annotations

import duckdb
import pyarrow.parquet as pq
import pytest

from plansim import state_files
from plansim.errors import PlansimError, StateFileError
from plansim.state_files import ExportError, check_state_file, export_model

pytestmark = pytest.mark.fault

WORKFORCE = "int_year_end_workforce_state"


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute(f"""create table {WORKFORCE} as
        select 'tiny' as scenario_id, 'standard' as plan_design_id, y as simulation_year,
               'E' || lpad(i::varchar, 4, '0') as employee_id, date '1980-01-01' + i::integer as birth_date,
               date '2010-01-01' + i::integer as hire_date, 1 + i % 5 as job_level,
               50000 + i * 10 as annual_compensation
        from range(200) t(i), (values (2025), (2026)) v(y)""")
    yield con
    con.close()


def export(con, path, year=2025):
    return export_model(con, WORKFORCE, path, scenario_id="tiny", plan_design_id="standard", year=year)


def test_an_export_passes_the_prior_year_check(con, tmp_path):
    path = tmp_path / "2025" / f"{WORKFORCE}.parquet"
    assert export(con, path) == 200
    check_state_file(path, model=WORKFORCE, scenario_id="tiny", year=2025)


def test_the_disk_full_hook_fails_the_export_and_keeps_the_previous_file(con, tmp_path, monkeypatch):
    path = tmp_path / f"{WORKFORCE}.parquet"
    export(con, path)
    previous = path.read_bytes()
    con.execute(f"update {WORKFORCE} set annual_compensation = annual_compensation + 1")
    monkeypatch.setenv(state_files.FAULT_EXPORT_ENV, WORKFORCE)
    with pytest.raises(ExportError) as info:
        export(con, path)
    message = str(info.value)
    assert isinstance(info.value, PlansimError)
    assert f"export of {WORKFORCE} (scenario tiny, year 2025) to {path} failed: no space left on device" in message
    assert "injected by PLANSIM_FAULT_EXPORT" in message and "--rerun-incomplete" in message
    assert path.read_bytes() == previous, "the previous complete file must stay"
    assert [p.name for p in tmp_path.iterdir()] == [path.name], "a temporary file was left"


def test_the_hook_can_target_one_year_only(con, tmp_path, monkeypatch):
    monkeypatch.setenv(state_files.FAULT_EXPORT_ENV, f"{WORKFORCE}@2026")
    assert export(con, tmp_path / "a.parquet", year=2025) == 200
    with pytest.raises(ExportError, match="no space left on device"):
        export(con, tmp_path / "b.parquet", year=2026)
    monkeypatch.setenv(state_files.FAULT_EXPORT_ENV, "fct_yearly_events")
    assert export(con, tmp_path / "c.parquet", year=2026) == 200


def test_a_file_damaged_after_its_export_is_decoded_and_refused(con, tmp_path, monkeypatch):
    """The footer intact, the pages not: only decoding finds it (the export's stamp no longer
    matches the file's size and mtime)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".snakemake").mkdir()
    path = tmp_path / "results" / f"{WORKFORCE}.parquet"
    export(con, path)
    assert list((tmp_path / ".snakemake/plansim/state-ok").iterdir()), "the export stamps what it wrote"
    meta = pq.read_metadata(path)
    chunk = meta.row_group(0).column(3)  # employee_id
    assert chunk.path_in_schema == "employee_id"
    start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
    data = bytearray(path.read_bytes())
    data[start:start + chunk.total_compressed_size] = b"\xff" * chunk.total_compressed_size
    path.write_bytes(bytes(data))
    assert pq.read_metadata(path).num_rows == 200, "the footer still reads"
    with pytest.raises(StateFileError) as info:
        check_state_file(path, model=WORKFORCE, scenario_id="tiny", year=2025)
    assert f"prior-year file {path} (year 2025's {WORKFORCE}, which year 2026 of scenario tiny starts from)" \
        in str(info.value)
    assert "is corrupted: its pages cannot be decoded" in str(info.value)


@pytest.mark.parametrize(("kwargs", "reason"), [
    ({"scenario_id": "other", "year": 2025}, "belongs to scenario 'tiny', not 'other'"),
    ({"scenario_id": "tiny", "year": 2024}, "holds year 2025, expected 2024"),
])
def test_a_file_of_another_scenario_or_year_is_refused(con, tmp_path, kwargs, reason):
    path = tmp_path / f"{WORKFORCE}.parquet"
    export(con, path)
    with pytest.raises(StateFileError, match=reason):
        check_state_file(path, model=WORKFORCE, **kwargs)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(StateFileError, match=r"prior-year file .*nope\.parquet does not exist"):
        check_state_file(tmp_path / "nope.parquet", model=WORKFORCE, scenario_id="tiny", year=2025)
