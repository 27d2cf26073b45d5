"""Synthetic census generator (scripts/plansim/sample_census.py)."""

from __future__ import annotations

import datetime
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from plansim.census import validate_census
from plansim.sample_census import COLUMNS, LEVEL_BANDS, generate_census, main, write_census

REPO = Path(__file__).resolve().parents[2]
CENSUS_DATE = datetime.date(2024, 12, 31)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return generate_census(5000, 42, CENSUS_DATE)


def test_same_seed_gives_identical_frame(frame: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(frame, generate_census(5000, 42, CENSUS_DATE))


def test_different_seed_gives_different_frame(frame: pd.DataFrame) -> None:
    other = generate_census(5000, 43, CENSUS_DATE)
    assert not frame.equals(other)
    assert (frame["birth_date"] != other["birth_date"]).mean() > 0.9


def test_shape_columns_and_ids(frame: pd.DataFrame) -> None:
    assert list(frame.columns) == COLUMNS and len(frame) == 5000
    assert frame["employee_id"].iloc[0] == "EMP_000001" and frame["employee_id"].iloc[-1] == "EMP_005000"
    assert frame["employee_id"].is_unique
    assert generate_census(3, 1)["employee_id"].tolist() == ["EMP_000001", "EMP_000002", "EMP_000003"]


def test_distributions_are_realistic(frame: pd.DataFrame) -> None:
    cd = pd.Timestamp(CENSUS_DATE)
    age = (cd - frame["birth_date"]).dt.days / 365.25
    tenure = (cd - frame["hire_date"]).dt.days / 365.25
    assert age.min() >= 20 and age.max() <= 65 and 40 <= age.mean() <= 44
    assert tenure.min() >= 0 and tenure.median() < tenure.mean() < 8  # skewed to short tenures
    assert ((frame["hire_date"] - frame["birth_date"]).dt.days / 365.25).min() >= 17.9
    mix = frame["job_level"].value_counts(normalize=True).sort_index()
    assert np.allclose(mix.to_numpy(), [0.40, 0.30, 0.18, 0.09, 0.03], atol=0.01)
    for level, (lo, hi) in LEVEL_BANDS.items():
        comp = frame.loc[frame["job_level"] == level, "annual_compensation"]
        assert comp.min() >= lo and comp.max() <= hi
    assert (frame["annual_compensation"] > 360_000).any()
    participating = frame["deferral_rate"] > 0
    assert 0.60 <= participating.mean() <= 0.70
    assert set(frame.loc[participating, "deferral_rate"]) <= {0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.15}
    assert frame.loc[participating, "enrollment_date"].notna().all()
    assert frame.loc[~participating, "enrollment_date"].isna().all()
    assert (frame["enrollment_date"].dropna() >= frame.loc[participating, "hire_date"]).all()
    assert 0.03 <= frame["auto_escalation_opt_out"].mean() <= 0.07
    term = frame["termination_date"].dropna()
    assert 0.02 <= len(term) / len(frame) <= 0.04
    assert (term < cd).all() and (term >= pd.Timestamp(CENSUS_DATE.year, 1, 1)).all()
    assert (term >= frame.loc[term.index, "hire_date"]).all()


def test_generated_census_validates(tmp_path: Path, frame: pd.DataFrame) -> None:
    path = write_census(tmp_path / "census.csv", 5000, 42, CENSUS_DATE)
    summary = validate_census(path, CENSUS_DATE)
    assert summary.rows == 5000 and summary.column_set == "plansim"
    assert summary.terminated_rows == frame["termination_date"].notna().sum()


@pytest.mark.parametrize("seed", [0, 1, 2024])
def test_small_censuses_validate_for_other_seeds_and_dates(tmp_path: Path, seed: int) -> None:
    date = datetime.date(2030, 6, 30)
    path = write_census(tmp_path / "c.csv", 300, seed, date)
    assert validate_census(path, date).rows == 300


def test_write_is_byte_deterministic(tmp_path: Path) -> None:
    a = write_census(tmp_path / "a.csv", 500, 9)
    b = write_census(tmp_path / "b.csv", 500, 9)
    assert a.read_bytes() == b.read_bytes()
    text = a.read_text()
    assert text.startswith(",".join(COLUMNS) + "\n") and "\r" not in text
    assert "true" in text and "True" not in text


def test_committed_sample_matches_the_generator(tmp_path: Path) -> None:
    committed = REPO / "data" / "sample_census.csv"
    regenerated = write_census(tmp_path / "sample.csv", 5000, 42, CENSUS_DATE)
    assert committed.read_bytes() == regenerated.read_bytes()


def test_main_writes_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sub" / "census.csv"
    assert main(["--rows", "50", "--seed", "3", "--out", str(out)]) == 0
    assert "50 employees" in capsys.readouterr().out
    assert out.read_bytes() == write_census(tmp_path / "ref.csv", 50, 3).read_bytes()


def test_module_runs_as_script(tmp_path: Path) -> None:
    out = tmp_path / "census.csv"
    env = dict(os.environ, PYTHONPATH=str(REPO / "scripts") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    subprocess.run(
        [sys.executable, "-m", "plansim.sample_census", "--rows", "20", "--seed", "5", "--out", str(out)],
        check=True, env=env, capture_output=True,
    )
    assert len(pd.read_csv(out)) == 20


def test_rejects_bad_row_count() -> None:
    with pytest.raises(ValueError):
        generate_census(0)


@pytest.mark.slow
def test_million_rows_generate_and_validate(tmp_path: Path) -> None:
    # how long it takes is make bench's to measure, not a timed assertion here
    path = write_census(tmp_path / "million.csv", 1_000_000, 42)
    assert validate_census(path, CENSUS_DATE).rows == 1_000_000
