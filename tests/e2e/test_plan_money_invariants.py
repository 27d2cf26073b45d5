"""Plan money (issue 19) on a multi-year run, read from the exported parquet files: for every
account holder, year and source the balance rolls forward to the cent, year N opens where year
N-1 closed, forfeitures never exceed the non-vested employer money, a vested share never falls
while employed, nothing is forfeited under immediate vesting, and the snapshot carries the
balances. One run: the tiny census with opening balances, 2025-2026 (SCENARIOS below)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from conftest import TINY_CENSUS, copy_workflow, snakemake, tiny_config, write_config
from plansim.errors import StateFileError
from plansim.state_files import check_state_file

pytestmark = pytest.mark.slow

YEARS = [2025, 2026]
SOURCES = ["pretax", "roth", "match", "core"]
EMPLOYER = ["match", "core"]
# One scenario, both kinds of vesting: the match vests at once (nothing of it may ever be forfeited),
# the core on a 6-year graded schedule counted in hours-years; the non-vested core waits a one-year
# break in service or goes at the cash-out; distributions the year after; a negative 2026 return.
SCENARIO = "money"
SCENARIOS = {SCENARIO: {
    "plan_design": {"core_contribution_rate": 0.10,
                    "vesting": {"match": "immediate", "core": "graded_6", "service": "hours"},
                    "forfeitures": {"timing": "after_breaks_in_service", "break_in_service_years": 1}},
    "balances": {"distribution_timing": "year_after", "investment_return_by_year": {"2026": -0.1}}}}


def _census(path: Path) -> pd.DataFrame:
    """The tiny census with opening balances (a total split by the config, or per source), vesting
    service for some rows and part-time hours for others."""
    census = pd.read_csv(TINY_CENSUS, dtype=str)
    n = len(census)
    census["account_balance"] = [f"{2500 * (i % 6) + 0.37:.2f}" if i % 4 else "" for i in range(n)]
    for source in SOURCES:
        census[f"balance_{source}"] = ""
    for i in range(0, n, 4):  # every 4th row gives its balance per source instead
        census.loc[i, ["balance_pretax", "balance_roth", "balance_match", "balance_core"]] = [
            "4000.10", "500.00", "1200.55", str(300 * (i % 3))]
    census["vesting_service_years"] = [str(i % 5) if i % 3 == 0 else "" for i in range(n)]
    census["annual_hours"] = ["800" if i % 7 == 3 else "" for i in range(n)]
    census.to_csv(path, index=False)
    return census


@pytest.fixture(scope="module")
def money_run(tmp_path_factory) -> Path:
    wd = copy_workflow(tmp_path_factory.mktemp("plan_money") / "wf")
    _census(wd / "tests" / "data" / "tiny_census.csv")
    write_config(wd, tiny_config(end_year=YEARS[-1], scenarios=SCENARIOS))
    # the plan phases are all the money needs (the audit and summary have their own tests)
    snakemake(wd, "--cores", "2", f"results/{SCENARIO}/{YEARS[-1]}/plan_phase.json")
    return wd


def read(wd: Path, scenario: str, year: int, model: str) -> pd.DataFrame:
    return pd.read_parquet(wd / "results" / scenario / str(year) / f"{model}.parquet")


def cents(value) -> int:
    return int((Decimal(str(value)) * 100).to_integral_value())


@pytest.fixture(scope="module")
def balances(money_run):
    scenario = SCENARIO
    return scenario, {year: read(money_run, scenario, year, "int_employee_balances").set_index("employee_id")
                      for year in YEARS}


def test_every_source_rolls_forward_to_the_cent(balances):
    scenario, by_year = balances
    for year, frame in by_year.items():
        for source in SOURCES:
            forfeited = frame[f"forfeiture_{source}"] if source in EMPLOYER else 0
            for emp, row in frame.iterrows():
                expected = (cents(row[f"opening_balance_{source}"]) + cents(row[f"contributions_{source}"])
                            + cents(row[f"investment_return_{source}"]) - cents(row[f"distribution_{source}"])
                            - (cents(forfeited[emp]) if source in EMPLOYER else 0))
                assert expected == cents(row[f"closing_balance_{source}"]), (scenario, year, emp, source)
                assert cents(row[f"closing_balance_{source}"]) >= 0, (scenario, year, emp, source)
            # the return: round(opening x r + contributions x r x year_share, 2)
            r = frame.investment_return_rate.astype(float)
            want = (frame[f"opening_balance_{source}"].astype(float) * r
                    + frame[f"contributions_{source}"].astype(float) * r * frame[f"year_share_{source}"].astype(float))
            assert ((want - frame[f"investment_return_{source}"].astype(float)).abs() <= 0.0051).all(), (scenario, year)
    assert set(by_year[2025].investment_return_rate.astype(float)) == {0.05}
    assert set(by_year[2026].investment_return_rate.astype(float)) == {-0.1}


def test_year_n_opens_where_year_n_minus_1_closed(balances, money_run):
    scenario, by_year = balances
    census = pd.read_parquet(money_run / "results" / scenario / "staged_census.parquet").set_index("employee_id")
    first = by_year[YEARS[0]]
    for emp, row in first.iterrows():  # start year: the census, per source or split
        total = sum(cents(row[f"opening_balance_{s}"]) for s in SOURCES)
        if emp in census.index:
            c = census.loc[emp]
            given = [c[f"balance_{s}"] for s in SOURCES]
            if any(pd.notna(v) for v in given):
                assert [cents(row[f"opening_balance_{s}"]) for s in SOURCES] == [
                    cents(v) if pd.notna(v) else 0 for v in given], emp
            else:
                assert total == (cents(c.account_balance) if pd.notna(c.account_balance) else 0), emp
        else:
            assert total == 0, emp
    for year in YEARS[1:]:
        prev, cur = by_year[year - 1], by_year[year]
        handover = read(money_run, scenario, year - 1, "int_year_end_balances").set_index("employee_id")
        still_in = prev[~prev.is_terminated | (prev.closing_balance_total.astype(float) > 0)]
        assert set(handover.index) == set(still_in.index), (scenario, year)
        assert set(handover.index) <= set(cur.index), (scenario, year)
        left = prev[prev.is_terminated & (prev.closing_balance_total.astype(float) == 0)]
        assert not set(left.index) & set(cur[cur.is_former_employee].index), "a row after all money left"
        for emp in cur.index:
            for source in SOURCES:
                closed = cents(prev.loc[emp, f"closing_balance_{source}"]) if emp in prev.index else 0
                assert cents(cur.loc[emp, f"opening_balance_{source}"]) == closed, (scenario, year, emp, source)
        # former employees keep their vesting state: frozen at termination
        for emp in cur[cur.is_former_employee].index:
            for col in ("vested_share_match", "vested_share_core", "vesting_service_years", "termination_date"):
                assert cur.loc[emp, col] == prev.loc[emp, col], (scenario, year, emp, col)


def test_forfeitures_never_exceed_the_non_vested_employer_money(balances):
    scenario, by_year = balances
    totals = {source: 0.0 for source in EMPLOYER}
    for year, frame in by_year.items():
        for source in EMPLOYER:
            before = (frame[f"opening_balance_{source}"].astype(float) + frame[f"contributions_{source}"].astype(float)
                      + frame[f"investment_return_{source}"].astype(float))
            non_vested = (before * (1 - frame[f"vested_share_{source}"].astype(float))).round(2)
            forfeited = frame[f"forfeiture_{source}"].astype(float)
            assert (forfeited <= non_vested + 0.005).all(), (scenario, year, source)
            assert (forfeited[~frame.is_terminated] == 0).all(), (scenario, year, source)
            totals[source] += forfeited.sum()
        # distributions only to leavers
        assert (frame.distribution_total.astype(float)[~frame.is_terminated] == 0).all()
    assert totals["match"] == 0, "nothing is forfeited under immediate vesting"
    assert totals["core"] > 0, "graded-6 leavers forfeit the non-vested core"


def test_vested_share_never_decreases_while_employed(balances):
    scenario, by_year = balances
    for year in YEARS[1:]:
        prev, cur = by_year[year - 1], by_year[year]
        both = cur.index.intersection(prev.index)
        for source in EMPLOYER:
            col = f"vested_share_{source}"
            assert (cur.loc[both, col].astype(float) >= prev.loc[both, col].astype(float)).all(), (scenario, year, col)
        assert (cur.loc[both, "vesting_service_years"] >= prev.loc[both, "vesting_service_years"]).all()
    assert all((frame.vested_share_match.astype(float) == 1).all() for frame in by_year.values())
    assert any((frame.vested_share_core.astype(float) < 1).any() for frame in by_year.values())


def test_the_snapshot_carries_vested_shares_and_closing_balances(balances, money_run):
    scenario, by_year = balances
    for year, frame in by_year.items():
        snap = read(money_run, scenario, year, "fct_workforce_snapshot").set_index("employee_id")
        contributions = read(money_run, scenario, year, "int_employee_contributions")
        assert len(snap) == len(contributions), "every snapshot row keeps its place"
        employed = frame[~frame.is_former_employee]
        assert set(snap.index) == set(employed.index)
        for source in SOURCES:
            assert (snap[f"balance_{source}"] == employed.loc[snap.index, f"closing_balance_{source}"]).all()
        assert (snap.balance_total == employed.loc[snap.index, "closing_balance_total"]).all()
        assert (snap.vested_share_match == employed.loc[snap.index, "vested_share_match"]).all()


def test_a_damaged_balances_file_is_refused_like_the_other_handover_files(money_run, tmp_path):
    year = YEARS[0]
    path = money_run / "results" / SCENARIO / str(year) / "int_year_end_balances.parquet"
    check_state_file(path, model="int_year_end_balances", scenario_id=SCENARIO, year=year)
    damaged = tmp_path / "int_year_end_balances.parquet"
    data = path.read_bytes()
    damaged.write_bytes(data[: len(data) // 2])
    with pytest.raises(StateFileError, match="not a readable parquet file: truncated or corrupted"):
        check_state_file(damaged, model="int_year_end_balances", scenario_id=SCENARIO, year=year)
    # through Snakemake: next year's plan phase declares it as an input, and the DAG refuses it
    backup = path.read_bytes()
    try:
        path.write_bytes(backup[: len(backup) // 2])
        proc = snakemake(money_run, "-n", f"results/{SCENARIO}/{year + 1}/plan_phase.json", check=False)
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0
        assert (f"prior-year file results/{SCENARIO}/{year}/int_year_end_balances.parquet" in out
                and "truncated or corrupted" in out), out[-2000:]
    finally:
        path.write_bytes(backup)
