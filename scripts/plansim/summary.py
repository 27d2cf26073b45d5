"""Key figures of a simulated year, from its exported parquet files."""

from __future__ import annotations

import duckdb

SUMMARY_FIELDS = [
    "scenario_id", "plan_design_id", "simulation_year", "headcount_start", "headcount_end", "growth_rate",
    "hires", "experienced_terminations", "retirements", "new_hire_terminations", "promotions", "total_payroll",
    "average_pay",
    "eligible_count", "participant_count", "participation_rate", "average_deferral_rate", "employee_deferrals",
    "employer_match", "employer_core", "employer_cost_pct_of_payroll", "share_at_402g_limit",
]


def year_summary(needs: str, snapshot: str, events: str) -> dict:
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
    return {
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
        "employer_cost_pct_of_payroll": round(100 * (float(match) + float(core)) / payroll, 4) if payroll else 0.0,
        "share_at_402g_limit": round(at_limit / participants, 6) if participants else 0.0,
    }
