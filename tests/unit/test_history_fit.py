"""plansim.history and plansim.fit on hand-built snapshots: what a consultant's three census
files say happened, counted by hand; the estimators on data with a known answer; and the
snapshot sets that must be refused."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from plansim.config import load_scenarios
from plansim.fit import fit, fit_leaving_model, wilson
from plansim.history import HistoryError, load_snapshots, parse_spec

REPO = Path(__file__).resolve().parents[2]
HEADER = "employee_id,birth_date,hire_date,termination_date,annual_compensation,job_level,deferral_rate,enrollment_date\n"

# Three year-ends of a 6-person employer, written as an HR extract would be: the active people and
# the year's leavers (with their termination date).
#   A: stays both years; level 1 -> 2 in 2025 (promotion), pay 50,000 -> 57,750 -> 59,482.50
#   B: stays; pay 60,000 -> 63,000 (raise); enrolls in 2025 (0 -> 5%), escalates 5% -> 6% in 2026
#   C: leaves 2025-06-30 (row in the 2025 file)
#   D: in 2024, missing from 2025 altogether (left, date unknown)
#   E: deferring 4% in 2024, 0% in 2025 (stopped deferring)
#   F: hired 2025-03-01, leaves 2025-09-30 (a new hire who left within the year)
#   G: hired 2025-05-01, active at the end of 2025 and 2026
S2024 = HEADER + """A,1980-01-15,2010-01-01,,50000,1,0.06,2010-02-01
B,1975-05-05,2012-06-01,,60000,2,0,
C,1990-07-07,2020-03-01,,45000,1,0.03,2020-04-01
D,1985-02-02,2018-01-01,,52000,1,0,
E,1970-09-09,2005-01-01,,80000,3,0.04,2005-02-01
"""
S2025 = HEADER + """A,1980-01-15,2010-01-01,,57750,2,0.06,2010-02-01
B,1975-05-05,2012-06-01,,63000,2,0.05,2025-07-01
C,1990-07-07,2020-03-01,2025-06-30,45000,1,0.03,2020-04-01
E,1970-09-09,2005-01-01,,84000,3,0,2005-02-01
F,1995-01-01,2025-03-01,2025-09-30,40000,1,0,
G,1998-04-04,2025-05-01,,42000,1,0.06,2025-05-01
"""
S2026 = HEADER + """A,1980-01-15,2010-01-01,,59482.50,2,0.06,2010-02-01
B,1975-05-05,2012-06-01,,64890,2,0.06,2025-07-01
E,1970-09-09,2005-01-01,,86520,3,0,2005-02-01
G,1998-04-04,2025-05-01,,43260,1,0.06,2025-05-01
"""


@pytest.fixture
def history(tmp_path: Path) -> list[str]:
    paths = []
    for year, text in ((2024, S2024), (2025, S2025), (2026, S2026)):
        path = tmp_path / f"hr_extract_{year}.csv"
        path.write_text(text)
        paths.append(str(path))
    return paths


@pytest.fixture(scope="module")
def baseline() -> dict:
    return load_scenarios(REPO / "config.yaml", base_dir=REPO)["baseline"]


def test_what_happened_each_year_is_counted_as_the_files_say(history, baseline):
    result = fit(load_snapshots(history), baseline)
    y2025, y2026 = result.intervals
    assert (y2025["from"], y2025["to"]) == ("2024-12-31", "2025-12-31")
    # 2025: A, B, C, D, E active at the start; C left (dated), D vanished (undated); F and G hired, F left
    assert y2025["active_at_start"] == 5 and y2025["active_at_end"] == 4
    assert (y2025["stayed"], y2025["terminated"], y2025["terminated_date_unknown"]) == (3, 2, 1)
    assert (y2025["hired"], y2025["new_hires_terminated"]) == (2, 1)
    assert (y2025["promoted"], y2025["raised"]) == (1, 2)            # A promoted; B and E raised
    assert (y2025["enrolled"], y2025["opted_out"], y2025["changed_rate"]) == (1, 1, 0)   # B; E
    # 2026: A, B, E, G all stay; B's 5% -> 6% is a rate change; no one hired
    assert (y2026["active_at_start"], y2026["stayed"], y2026["terminated"], y2026["hired"]) == (4, 4, 0, 0)
    assert (y2026["enrolled"], y2026["opted_out"], y2026["changed_rate"]) == (0, 0, 1)


def test_a_history_too_thin_to_estimate_keeps_the_base_values_and_says_so(history, baseline):
    result = fit(load_snapshots(history), baseline)
    by_key = {e.key.split(" ")[0]: e for e in result.estimates}
    nh = by_key["workforce.new_hire_termination_rate"]
    assert nh.status == "base" and nh.value == baseline["workforce"]["new_hire_termination_rate"]
    assert nh.exposure == 2 and "too few hires" in nh.note
    assert all(e.status == "base" for k, e in by_key.items() if "promotion_rates" in k)
    assert by_key["workforce.cola_rate"].status == "base"
    # growth is a plain ratio even in a tiny history: 5 -> 4 -> 4 active
    growth = by_key["workforce.target_growth_rate"]
    assert growth.status == "fitted" and growth.value == pytest.approx(((4 / 5 - 1) + (4 / 4 - 1)) / 2, abs=1e-6)
    assert "promotion_rates" not in result.overrides["workforce"]


def test_the_wilson_interval_matches_the_textbook_value():
    # 10 events in 100: Wilson (1927) 95% interval 0.0552 to 0.1744 (p = 0.1, z = 1.96)
    low, high = wilson(10, 100)
    assert (round(low, 4), round(high, 4)) == (0.0552, 0.1744)
    # none in 50: from 0 to z^2 / (n + z^2) = 3.8415 / 53.8415
    low, high = wilson(0, 50)
    assert low == pytest.approx(0, abs=1e-12) and high == pytest.approx(3.841459 / 53.841459, abs=1e-6)


def test_the_leaving_model_recovers_known_weights_with_retirements_drawn_first():
    """Simulate the engine's process by hand: retire with r, then sample exactly k of the rest by
    Efraimidis-Spirakis weights; the fitted weight ratios must cover the truth."""
    rng = np.random.default_rng(2024)
    n_people = 40_000
    band = rng.integers(0, 3, n_people)
    true_w = np.array([1.0, 1.6, 0.5])[band]
    r = np.where(rng.random(n_people) < 0.2, 0.1, 0.0)         # a fifth are of retirement age
    retired = rng.random(n_people) < r
    k = 6_000
    keys = np.where(retired, np.inf, rng.exponential(size=n_people) / true_w)
    left = retired.copy()
    left[np.argsort(keys)[:k]] = True
    cells = {}
    for b, rr, y in zip(band, r, left):
        n, e = cells.get((b, rr), (0, 0))
        cells[(b, rr)] = (n + 1, e + int(y))
    keys_, vals = list(cells), list(cells.values())
    n = np.array([v[0] for v in vals], float)
    y = np.array([v[1] for v in vals], float)
    rr = np.array([c[1] for c in keys_])
    b = np.array([c[0] for c in keys_])
    X = np.column_stack([np.ones_like(n), (b == 1).astype(float), (b == 2).astype(float)])
    beta, cov = fit_leaving_model(n, y, -np.log1p(-rr), X, np.zeros_like(n))
    for j, truth in ((1, 1.6), (2, 0.5)):
        se = math.sqrt(cov[j, j])
        assert beta[j] - 3 * se < math.log(truth) < beta[j] + 3 * se, (j, math.exp(beta[j]))
    # ignoring the retirements would have biased the weights: the model must not
    beta_naive, _ = fit_leaving_model(n, y, np.zeros_like(n), X, np.zeros_like(n))
    assert abs(beta_naive[1] - beta[1]) > 1e-3


def test_a_parquet_snapshot_and_csv_snapshots_mix(history, tmp_path, baseline):
    import pyarrow.csv as pacsv

    table = pacsv.read_csv(history[1], convert_options=pacsv.ConvertOptions(strings_can_be_null=True,
                                                                          column_types={"employee_id": pa.string()}))
    parquet = tmp_path / "extract_2025.parquet"
    pq.write_table(table, parquet)
    snaps = load_snapshots([history[0], f"{parquet}@2025-12-31", history[2]])
    assert [s.date.isoformat() for s in snaps] == ["2024-12-31", "2025-12-31", "2026-12-31"]
    assert fit(snaps, baseline).intervals[0]["hired"] == 2


@pytest.mark.parametrize("spec, date", [("x/census_2025-12-31.csv", "2025-12-31"), ("x/hr_2026.xlsx", "2026-12-31"),
                                        ("x/any name.csv@2024-06-30", "2024-06-30")])
def test_a_snapshot_date_comes_from_the_spec_or_the_file_name(spec, date):
    assert parse_spec(spec)[1].isoformat() == date


# --------------------------------------------------------------------------- refused
def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_snapshots_out_of_date_order_are_refused(history):
    with pytest.raises(HistoryError) as err:
        load_snapshots([history[1], history[0], history[2]])
    assert "hr_extract_2024.csv (2024-12-31) is older than" in str(err.value)
    assert "hr_extract_2025.csv" in str(err.value) and "oldest first" in str(err.value)


def test_two_snapshots_with_the_same_date_are_refused(history, tmp_path):
    copy = _write(tmp_path, "copy.csv", S2025)
    with pytest.raises(HistoryError) as err:
        load_snapshots([history[0], history[1], f"{copy}@2025-12-31"])
    assert "hr_extract_2025.csv and" in str(err.value) and "copy.csv" in str(err.value)
    assert "same date 2025-12-31" in str(err.value)


def test_snapshots_not_a_year_apart_are_refused(history):
    with pytest.raises(HistoryError) as err:
        load_snapshots([history[0], f"{history[2]}@2026-12-31"])
    assert "730 days apart" in str(err.value) and "a year apart" in str(err.value)


def test_ids_written_in_another_format_are_refused(history, tmp_path):
    renumbered = _write(tmp_path, "payroll_2025.csv", S2025.replace("\nA,", "\n00017,").replace("\nB,", "\n00018,")
                        .replace("\nC,", "\n00019,").replace("\nE,", "\n00021,").replace("\nF,", "\n00022,")
                        .replace("\nG,", "\n00023,"))
    with pytest.raises(HistoryError) as err:
        load_snapshots([history[0], renumbered])
    message = str(err.value)
    assert "hr_extract_2024.csv and" in message and "payroll_2025.csv" in message
    assert "different formats" in message and "00017" in message and "A, B" in message


def test_snapshots_with_no_id_in_common_are_refused(history, tmp_path):
    other = _write(tmp_path, "other_employer_2025.csv",
                   HEADER + "Q,1980-01-15,2010-01-01,,50000,1,0.06,2010-02-01\nR,1981-01-15,2011-01-01,,51000,1,0,\n")
    with pytest.raises(HistoryError) as err:
        load_snapshots([history[0], other])
    assert "other_employer_2025.csv" in str(err.value) and "no employee_id in common" in str(err.value)


def test_a_snapshot_without_a_date_is_refused(tmp_path):
    with pytest.raises(HistoryError) as err:
        parse_spec(str(tmp_path / "latest_extract.csv"))
    assert "latest_extract.csv" in str(err.value) and "@YYYY-MM-DD" in str(err.value)


def test_an_invalid_snapshot_is_refused_by_the_census_checks_naming_the_row(history, tmp_path):
    bad = _write(tmp_path, "hr_2025.csv", S2025.replace("B,1975-05-05,2012-06-01,,63000", "B,1975-05-05,2012-06-01,,-5"))
    from plansim.errors import CensusError

    with pytest.raises(CensusError) as err:
        load_snapshots([history[0], bad])
    assert "hr_2025.csv" in str(err.value) and "employee_id B" in str(err.value)


def test_the_cli_refuses_bad_snapshots_with_one_message_and_exit_2(history, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "plansim.cli", "fit", history[1], history[0],
                           "--configfile", str(REPO / "config.yaml"), "--out", str(tmp_path / "fit")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2
    assert "oldest first" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "fit").exists()


def test_the_cli_writes_a_config_the_workflow_accepts(history, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "plansim.cli", "fit", *history, "--configfile",
                           str(REPO / "config.yaml"), "--out", str(tmp_path / "fit"), "--name", "acme"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    scenarios = load_scenarios(tmp_path / "fit" / "fitted.yaml", base_dir=tmp_path)
    assert list(scenarios) == ["acme"]
    acme = scenarios["acme"]
    assert (acme["start_year"], acme["census_date"]) == (2027, "2026-12-31")
    assert Path(acme["census"]) == Path(history[2]).resolve()
    report = (tmp_path / "fit" / "fit_report.md").read_text()
    assert "| 2024-12-31 to 2025-12-31 | 5 | 3 | 2 | 2 | 1 |" in report


def _employer(tmp_path: Path, with_leavers: bool = True, hires: int = 0) -> list[str]:
    """Three year-ends of a 400-person employer (enough for the fit to estimate rates): a seventh
    leave in 2025 and a ninth of the rest in 2026, each on Jun 30; ``hires`` people join on Mar 1
    of 2025, every third of whom leaves on Sep 30. ``with_leavers``: the files list the year's
    leavers with their termination_date, as an HR extract can."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    # born 1970-1989: no one reaches a retirement age (60) by 2026
    people = [f"E{i:04d},{1970 + i % 20}-03-01,{2000 + i % 20}-06-01,{{term}},{40000 + 150 * i},{1 + i % 4},"
              f"{0.05 if i % 3 else 0}," for i in range(400)]
    left_in = {2025: {i for i in range(400) if i % 7 == 0}}
    left_in[2026] = {i for i in range(400) if i % 9 == 0} - left_in[2025]
    new = [(f"N{j:04d},1995-05-05,2025-03-01,{{term}},45000,1,0,", "2025-09-30" if j % 3 == 0 else "")
           for j in range(hires)]
    specs = []
    for y in (2024, 2025, 2026):
        lines = [HEADER.strip()]
        for i, person in enumerate(people):
            if any(i in left_in[x] for x in left_in if x < y):
                continue  # left in an earlier year: not in this extract
            leaving = i in left_in.get(y, ())
            if leaving and not with_leavers:
                continue
            lines.append(person.format(term=f"{y}-06-30" if leaving else ""))
        for person, term in new if y >= 2025 else []:
            if term and (y > 2025 or not with_leavers):
                continue
            lines.append(person.format(term=term if y == 2025 else ""))
        path = tmp_path / f"e_{y}.csv"
        path.write_text("\n".join(lines) + "\n")
        specs.append(str(path))
    return specs


def test_without_the_years_leavers_new_hire_turnover_is_not_estimated_and_leavers_are_undated(tmp_path, baseline):
    with_rows = fit(load_snapshots(_employer(tmp_path / "a", hires=60)), baseline)
    without = fit(load_snapshots(_employer(tmp_path / "b", with_leavers=False, hires=60)), baseline)
    # the same people leave either way; only the dates are missing
    assert [i["terminated"] for i in without.intervals] == [i["terminated"] for i in with_rows.intervals]
    assert [i["terminated_date_unknown"] for i in without.intervals] == [i["terminated"] for i in without.intervals]
    assert [i["terminated_date_unknown"] for i in with_rows.intervals] == [0, 0]
    nh = {e.key: e for e in with_rows.estimates}["workforce.new_hire_termination_rate"]
    assert nh.status == "fitted" and (nh.exposure, nh.events) == (60, 20) and nh.value == pytest.approx(1 / 3, abs=1e-6)
    nh = {e.key: e for e in without.estimates}["workforce.new_hire_termination_rate"]
    assert nh.status == "base" and "no hire left within the year" in nh.note
    # experienced terminations: 58 multiples of 7 in 0..399 leave in 2025; in 2026 the 45 multiples of
    # 9 less the 7 multiples of 63 already gone = 38, out of 400 - 58 + 40 surviving hires = 382
    assert [(i["active_at_start"], i["terminated"]) for i in with_rows.intervals] == [(400, 58), (382, 38)]
    rate = {e.key: e for e in with_rows.estimates}["workforce.termination_rate"]
    assert rate.value == round((58 + 38) / (400 + 382), 6) and (rate.exposure, rate.events) == (782, 96)


def test_each_backtest_replicate_draws_its_own_valid_assumptions(history, baseline, tmp_path):
    """Replicates carry the fit's uncertainty: the same seed draws the same assumptions, different
    seeds different ones, and every drawn scenario is a valid config."""
    import yaml

    from plansim.backtest import backtest_config, split
    from plansim.config import read_config_file, resolve_config
    from plansim.history import load_snapshots as load

    specs = _employer(tmp_path)
    snaps = load(specs)
    fitted, _ = split(snaps, 1)
    result = fit(fitted, baseline)
    raw = read_config_file(REPO / "config.yaml")
    one = backtest_config(raw, result, fitted, 1, 3, "bt")
    again = backtest_config(raw, result, fitted, 1, 3, "bt")
    assert yaml.safe_dump(one) == yaml.safe_dump(again)
    rates = [s["workforce"]["termination_rate"] for s in one["scenarios"].values()]
    assert len(set(rates)) == 3
    term = next(e for e in result.estimates if e.key == "workforce.termination_rate")
    assert all(term.low - 4 * (term.high - term.low) < r < term.high + 4 * (term.high - term.low) for r in rates)
    resolve_config(one, REPO, "the backtest config")
    plain = backtest_config(raw, result, fitted, 1, 3, "bt", parameter_uncertainty=False)
    assert {s["workforce"]["termination_rate"] for s in plain["scenarios"].values()} == {term.value}
    assert [s["random_seed"] for s in plain["scenarios"].values()] == [1_000_001, 1_000_002, 1_000_003]
