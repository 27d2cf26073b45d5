"""Key figures of a simulated year, from its exported parquet files.

Plan money (docs/semantics.md, "Net employer cost"): gross employer cost is what the employer
deposits in the year (match + core allocated, plus a match deposited and then forfeited by an
allocation condition, plus a top-heavy minimum applied to the core source). Forfeitures of the year (non-vested employer money of leavers, and those
deposited-then-forfeited matches) go to the plan's forfeiture account on Dec 31. In the next
plan year the account pays, as the plan document says (``forfeitures.use``), the employer's
contributions (up to the year's gross cost) or the plan's expenses (up to
``plan_expense_per_participant`` x account holders at year end); what it cannot pay is carried.
Net employer cost = gross employer cost - forfeitures used for contributions. The account's
Dec 31 balance is handed from year to year through the previous year's summary.
"""

from __future__ import annotations

import duckdb

SUMMARY_FIELDS = [
    "scenario_id", "plan_design_id", "simulation_year", "headcount_start", "headcount_end", "growth_rate",
    "hires", "experienced_terminations", "retirements", "new_hire_terminations", "promotions", "total_payroll",
    "average_pay",
    "eligible_count", "participant_count", "participation_rate", "average_deferral_rate", "employee_deferrals",
    "employer_match", "employer_core", "employer_cost_pct_of_payroll", "share_at_402g_limit",
    "pretax_deferrals", "roth_deferrals", "catch_up_deferrals", "roth_catch_up",
    "gross_employer_cost", "forfeitures_generated", "forfeitures_used", "forfeitures_used_for_expenses",
    "forfeiture_account_end", "net_employer_cost", "forfeitures_used_pct_of_payroll", "net_employer_cost_pct_of_payroll", "plan_assets_end",
    # nondiscrimination (plansim.compliance.summary_figures; the rows are in compliance.csv)
    "adp_margin_points", "acp_margin_points", "compliance_tests_failed", "compliance_corrections",
    # the day a new plan design took effect in the year (plan_design_id timeline), empty if none
    "plan_design_change_date",
]

# Plan-money figures read from the year's contributions and balances files.
_PLAN_MONEY_SQL = """
    with c as (select * from read_parquet($contributions)),
         b as (select * from read_parquet($balances))
    select
        (select coalesce(sum(pretax_deferral + pretax_catch_up), 0) from c),
        (select coalesce(sum(roth_deferral + roth_catch_up), 0) from c),
        (select coalesce(sum(catch_up_deferral), 0) from c),
        (select coalesce(sum(roth_catch_up), 0) from c),
        (select coalesce(sum(employer_match + employer_core + match_deposited_forfeited), 0) from c)
            + (select coalesce(sum(top_heavy_minimum), 0) from b),
        (select coalesce(sum(match_deposited_forfeited), 0) from c),
        (select coalesce(sum(forfeiture_match + forfeiture_core), 0) from b),
        (select count(*) filter (where closing_balance_total > 0) from b),
        (select coalesce(sum(closing_balance_total), 0) from b)
"""


def plan_money(contributions: str, balances: str, forfeitures: dict, previous: dict | None,
               payroll: float) -> dict:
    """The year's sources, gross and net employer cost and forfeiture account (module docstring).

    ``forfeitures`` is the plan design's ``forfeitures`` block; ``previous`` the previous year's
    summary (None in the start year: the account starts empty)."""
    con = duckdb.connect()
    (pretax, roth, catch_up, roth_catch_up, gross, deposited_forfeited, balance_forfeitures, holders,
     assets) = (float(x) for x in con.execute(
        _PLAN_MONEY_SQL, {"contributions": contributions, "balances": balances}).fetchone())
    available = float(previous["forfeiture_account_end"]) if previous else 0.0
    if forfeitures["use"] == "reduce_employer_contributions":
        used, used_for_expenses = min(available, gross), 0.0
    else:
        used, used_for_expenses = 0.0, min(available, forfeitures["plan_expense_per_participant"] * holders)
    generated = balance_forfeitures + deposited_forfeited
    carried = available - used - used_for_expenses + generated
    net = gross - used

    def pct(x: float) -> float:
        return round(100 * x / payroll, 4) if payroll else 0.0

    return {
        "pretax_deferrals": round(pretax, 2), "roth_deferrals": round(roth, 2),
        "catch_up_deferrals": round(catch_up, 2), "roth_catch_up": round(roth_catch_up, 2),
        "gross_employer_cost": round(gross, 2), "forfeitures_generated": round(generated, 2),
        "forfeitures_used": round(used, 2), "forfeitures_used_for_expenses": round(used_for_expenses, 2),
        "forfeiture_account_end": round(carried, 2), "net_employer_cost": round(net, 2),
        "employer_cost_pct_of_payroll": pct(gross), "forfeitures_used_pct_of_payroll": pct(used),
        "net_employer_cost_pct_of_payroll": pct(net), "plan_assets_end": round(assets, 2),
    }


def year_summary(needs: str, snapshot: str, events: str, contributions: str, balances: str,
                 forfeitures: dict, previous: dict | None = None) -> dict:
    con = duckdb.connect()
    row = con.execute("""
        with needs as (select * from read_parquet($needs)),
             snap as (select * from read_parquet($snapshot)),
             ev as (select * from read_parquet($events)),
             participants as (select * from snap where is_active and is_enrolled)
        select
            (select scenario_id from needs), (select plan_design_id from needs), (select simulation_year from needs),
            (select starting_headcount from needs),
            (select count(*) from snap where is_active),
            (select hires from needs),
            (select experienced_terminations from needs),
            (select retirements from needs),
            (select new_hire_terminations from needs),
            (select count(*) from ev where event_type = 'promotion'),
            (select coalesce(sum(gross_compensation), 0) from snap),
            (select avg(annual_compensation) from snap where is_active),
            (select count(*) from snap where is_active and is_eligible),
            (select count(*) from participants),
            (select avg(deferral_rate) from participants),
            (select coalesce(sum(employee_deferral), 0) from snap),
            (select coalesce(sum(employer_match), 0) from snap),
            (select coalesce(sum(employer_core), 0) from snap),
            (select count(*) filter (where is_402g_limited) from participants)
    """, {"needs": needs, "snapshot": snapshot, "events": events}).fetchone()
    (sid, pid, year, start, end, hires, terms, retirements, nh_terms, promotions, payroll, avg_pay, eligible,
     participants, avg_rate, deferrals, match, core, at_limit) = row
    payroll = float(payroll)
    out = {
        "scenario_id": sid, "plan_design_id": pid, "simulation_year": int(year),
        "headcount_start": int(start), "headcount_end": int(end),
        "growth_rate": round((end - start) / start, 6) if start else None,
        "hires": int(hires), "experienced_terminations": int(terms), "retirements": int(retirements),
        "new_hire_terminations": int(nh_terms),
        "promotions": int(promotions),
        "total_payroll": round(payroll, 2), "average_pay": round(float(avg_pay or 0), 2),
        "eligible_count": int(eligible), "participant_count": int(participants),
        "participation_rate": round(participants / eligible, 6) if eligible else 0.0,
        "average_deferral_rate": round(float(avg_rate or 0), 6),
        "employee_deferrals": round(float(deferrals), 2), "employer_match": round(float(match), 2),
        "employer_core": round(float(core), 2),
        "share_at_402g_limit": round(at_limit / participants, 6) if participants else 0.0,
    }
    out.update(plan_money(contributions, balances, forfeitures, previous, payroll))
    return out
