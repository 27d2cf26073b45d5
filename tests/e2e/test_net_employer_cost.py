"""Net employer cost on the sample census: the same formula under cliff-3 vesting costs the
sponsor less than under immediate vesting, by exactly the forfeitures the plan used.

Both scenarios draw the same numbers for the same employee and year (draw streams never hold
the scenario id), so their workforces, elections and gross contributions are the same; only
vesting differs. Under immediate vesting nothing is ever forfeited."""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import SAMPLE_VESTING_SCENARIOS

CLIFF, IMMEDIATE = SAMPLE_VESTING_SCENARIOS


@pytest.fixture(scope="module")
def summaries(vesting_run) -> dict[str, pd.DataFrame]:
    return {sid: pd.read_csv(vesting_run / "results" / sid / "summary.csv").set_index("simulation_year")
            for sid in (CLIFF, IMMEDIATE)}


def test_same_formula_same_gross_cost(summaries):
    cliff, immediate = summaries[CLIFF], summaries[IMMEDIATE]
    pd.testing.assert_series_equal(cliff.gross_employer_cost, immediate.gross_employer_cost)
    assert (cliff.gross_employer_cost > 0).all()


def test_immediate_vesting_forfeits_nothing(summaries):
    immediate = summaries[IMMEDIATE]
    assert (immediate.forfeitures_generated == 0).all()
    assert (immediate.net_employer_cost == immediate.gross_employer_cost).all()


def test_cliff_3_costs_less_by_the_forfeitures_used(summaries):
    cliff, immediate = summaries[CLIFF], summaries[IMMEDIATE]
    # the first year's forfeitures are used the year after: from 2026 the sponsor pays less
    assert cliff.forfeitures_used.loc[2025] == 0
    assert (cliff.forfeitures_generated > 0).all()
    later = cliff.index[1:]
    assert (cliff.net_employer_cost.loc[later] < immediate.net_employer_cost.loc[later]).all()
    difference = (immediate.net_employer_cost - cliff.net_employer_cost).round(2)
    pd.testing.assert_series_equal(difference, cliff.forfeitures_used.round(2), check_names=False)
    # the account: what was carried plus what was forfeited, less what was used
    carried = cliff.forfeiture_account_end.shift(1, fill_value=0.0)
    pd.testing.assert_series_equal(
        (carried + cliff.forfeitures_generated - cliff.forfeitures_used).round(2),
        cliff.forfeiture_account_end.round(2), check_names=False)
    # % of payroll: gross - used = net
    pd.testing.assert_series_equal(
        (cliff.employer_cost_pct_of_payroll - cliff.forfeitures_used_pct_of_payroll).round(3),
        cliff.net_employer_cost_pct_of_payroll.round(3), check_names=False, atol=1e-3)
