"""The year's plan-money figures (plansim.summary.plan_money), worked by hand.

Gross employer cost = match + core allocated + match deposited then forfeited by an allocation
condition. The forfeiture account pays, in the year after a forfeiture, the employer's
contributions (up to the year's gross cost) or the plan's expenses (up to the expense per
account holder); what it cannot pay is carried. Net = gross - forfeitures used for contributions.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from plansim.summary import plan_money

REDUCE = {"use": "reduce_employer_contributions", "plan_expense_per_participant": 0.0}
EXPENSES = {"use": "pay_plan_expenses", "plan_expense_per_participant": 50.0}


def _files(tmp_path, *, match_b=1500.0, core_a=1000.0, top_heavy_b=0.0):
    contributions = tmp_path / "contributions.parquet"
    pq.write_table(pa.table({
        "employee_id": ["A", "B"],
        "pretax_deferral": [5000.0, 1000.0], "roth_deferral": [0.0, 2000.0],
        "pretax_catch_up": [0.0, 0.0], "roth_catch_up": [0.0, 500.0], "catch_up_deferral": [0.0, 500.0],
        "employer_match": [3000.0, match_b], "employer_core": [core_a, 0.0],
        "match_deposited_forfeited": [0.0, 250.0],
    }), contributions)
    balances = tmp_path / "balances.parquet"
    # B left: 400 of match and 100 of core were not vested; B's vested balance was paid out
    pq.write_table(pa.table({"employee_id": ["A", "B"], "forfeiture_match": [0.0, 400.0],
                             "forfeiture_core": [0.0, 100.0], "closing_balance_total": [20000.0, 0.0],
                             "top_heavy_minimum": [0.0, top_heavy_b]}), balances)
    return str(contributions), str(balances)


def test_start_year_the_account_is_empty_and_fills_with_the_years_forfeitures(tmp_path):
    got = plan_money(*_files(tmp_path), REDUCE, None, payroll=100_000.0)
    # sources: pre-tax 5,000 + 1,000; Roth 2,000 + 500 catch-up
    assert (got["pretax_deferrals"], got["roth_deferrals"], got["catch_up_deferrals"], got["roth_catch_up"]) \
        == (6000.0, 2500.0, 500.0, 500.0)
    # gross: 3,000 + 1,000 + 1,500 + 250 deposited then forfeited = 5,750
    assert got["gross_employer_cost"] == 5750.0
    # nothing in the account yet: nothing used; 400 + 100 + 250 forfeited this year, carried
    assert (got["forfeitures_used"], got["forfeitures_generated"], got["forfeiture_account_end"]) == (0.0, 750.0, 750.0)
    assert got["net_employer_cost"] == 5750.0
    assert got["employer_cost_pct_of_payroll"] == 5.75 and got["net_employer_cost_pct_of_payroll"] == 5.75
    assert got["plan_assets_end"] == 20000.0


def test_next_year_the_account_reduces_the_employer_contributions(tmp_path):
    got = plan_money(*_files(tmp_path), REDUCE, {"forfeiture_account_end": 750.0}, payroll=100_000.0)
    # 750 carried in pays 750 of the 5,750: net 5,000; the account ends with this year's 750
    assert (got["forfeitures_used"], got["net_employer_cost"], got["forfeiture_account_end"]) == (750.0, 5000.0, 750.0)
    assert (got["employer_cost_pct_of_payroll"], got["forfeitures_used_pct_of_payroll"],
            got["net_employer_cost_pct_of_payroll"]) == (5.75, 0.75, 5.0)


def test_the_account_pays_no_more_than_the_years_contributions(tmp_path):
    # gross 3,000 + 0 + 0 + 250 = 3,250 against 5,000 in the account: 3,250 used, 1,750 + 750 carried
    got = plan_money(*_files(tmp_path, match_b=0.0, core_a=0.0), REDUCE, {"forfeiture_account_end": 5000.0},
                     payroll=100_000.0)
    assert (got["gross_employer_cost"], got["forfeitures_used"], got["net_employer_cost"],
            got["forfeiture_account_end"]) == (3250.0, 3250.0, 0.0, 2500.0)


def test_forfeitures_that_pay_plan_expenses_leave_the_employer_cost_gross(tmp_path):
    # one account holder at year end (B's balance is 0) x 50 = 50 of expenses paid from 750
    got = plan_money(*_files(tmp_path), EXPENSES, {"forfeiture_account_end": 750.0}, payroll=100_000.0)
    assert (got["forfeitures_used"], got["forfeitures_used_for_expenses"]) == (0.0, 50.0)
    assert got["net_employer_cost"] == got["gross_employer_cost"] == 5750.0
    assert got["forfeiture_account_end"] == pytest.approx(700.0 + 750.0)


def test_a_top_heavy_minimum_applied_to_the_core_is_employer_cost(tmp_path):
    # IRC 416(c)(2) top-up of 300 deposited into B's core account (compliance.top_heavy_minimum apply):
    # gross 5,750 + 300 = 6,050, 6.05% of a 100,000 payroll
    got = plan_money(*_files(tmp_path, top_heavy_b=300.0), REDUCE, None, payroll=100_000.0)
    assert (got["gross_employer_cost"], got["employer_cost_pct_of_payroll"]) == (6050.0, 6.05)
