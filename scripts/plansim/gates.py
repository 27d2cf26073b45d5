"""Quality gates in Python, after dbt's own per-model tests. A failed gate raises
``QualityGateError`` naming the check, the scenario, the year and the count."""

from __future__ import annotations

from pathlib import Path

from plansim.errors import QualityGateError

SLICE = "scenario_id = $s and plan_design_id = $p and simulation_year = $y"


def _one(con, sql: str, sid: str, pid: str, year: int, **extra):
    return con.execute(sql, {"s": sid, "p": pid, "y": int(year), **extra}).fetchone()


def _fail(check: str, sid: str, year: int, detail: str) -> None:
    raise QualityGateError(f"quality gate '{check}' failed for scenario {sid}, year {year}: {detail}")


def require_workforce_year(con, sid: str, pid: str, year: int, database) -> None:
    """The plan phase reads the year's workforce tables from the scenario's database."""
    exists = con.execute("select count(*) from information_schema.tables "
                         "where table_name = 'int_employee_compensation_by_year'").fetchone()[0]
    n = _one(con, f"select count(*) from int_employee_compensation_by_year where {SLICE}", sid, pid, year)[0] \
        if exists else 0
    if n == 0:
        _fail("workforce_year_present", sid, year,
              f"{database} has no workforce rows for the year (was the database deleted or replaced?). "
              f"Re-run the year's workforce phase: snakemake --forcerun build_workforce_year "
              f"results/{sid}/{year}/done")


def check_headcount(con, sid: str, pid: str, year: int) -> None:
    start, target, retirements, terms, hires, nh_terms = _one(
        con, f"select starting_headcount, target_headcount, retirements, experienced_terminations, hires, "
             f"new_hire_terminations from int_workforce_needs where {SLICE}", sid, pid, year)
    end = _one(con, f"select count(*) from int_employee_compensation_by_year where {SLICE} and is_active_at_year_end",
               sid, pid, year)[0]
    rolled = start - retirements - terms + hires - nh_terms
    if end != target or end != rolled:
        _fail("headcount_roll_forward", sid, year,
              f"year-end active headcount {end}; target {target}; start {start} - retirements {retirements} "
              f"- terminations {terms} + hires {hires} - new-hire terminations {nh_terms} = {rolled}")


def check_accumulator(con, sid: str, pid: str, year: int, start_year: int, prior_deferral_file: str | Path) -> None:
    active = _one(con, f"select count(*) from int_deferral_rate_state_accumulator where {SLICE} "
                       "and is_current and is_active", sid, pid, year)[0]
    if active == 0:
        _fail("accumulator_active_employees", sid, year, "0 active employees in the December state")
    # Exactly 12 rows per employee, one per month 1..12: 12 rows whose months set all 12 bits
    # (a month outside 1..12 sets none). A bitmask instead of count(distinct): 0.07 s instead of
    # 0.8 s on the 3M rows of a 250k-employee year.
    bad_grain = _one(con, f"select count(*) from (select employee_id from int_deferral_rate_state_accumulator "
                          f"where {SLICE} group by employee_id having count(*) <> 12 "
                          "or bit_or(case when as_of_month between 1 and 12 then 1::integer << as_of_month::integer "
                          "else 0 end) <> 8190)", sid, pid, year)[0]
    if bad_grain:
        _fail("accumulator_12_month_grain", sid, year, f"{bad_grain} employee(s) without exactly 12 monthly rows")
    if year == start_year:
        return
    missing, changed = _one(con, f"""
        with prior as (select * from read_parquet($f)),
             jan as (select * from int_deferral_rate_state_accumulator where {SLICE} and as_of_month = 1),
             january_events as (
                 select employee_id from int_enrollment_events where {SLICE} and month(effective_date) = 1
                 union
                 select employee_id from int_deferral_rate_escalation_events where {SLICE} and month(effective_date) = 1)
        select
            count(*) filter (where jan.employee_id is null),
            count(*) filter (where jan.employee_id is not null
                             and prior.employee_id not in (select employee_id from january_events)
                             and (jan.is_enrolled <> prior.is_enrolled or jan.deferral_rate <> prior.deferral_rate))
        from prior left join jan on prior.employee_id = jan.employee_id""", sid, pid, year,
                            f=str(prior_deferral_file))
    if missing:
        _fail("accumulator_continuity", sid, year,
              f"{missing} employee(s) of year {year - 1}'s December state have no January row")
    if changed:
        _fail("accumulator_continuity", sid, year,
              f"{changed} employee(s) changed deferral state between December {year - 1} and January {year} "
              "with no event")
