"""Contributions follow effective dates, on the real runs a user gets (tiny hand-made census and
the 5,000-row sample): an independent re-computation in Python of every employee's pay and
requested deferral per biweekly pay period from the year's exported files, the deferral values
of the events chained in event_sequence, opt-outs carried over the year end, the 402(g) flag,
and the 415(c) + catch-up case of the tiny census worked out by hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from conftest import REPO

pytestmark = pytest.mark.slow

RUNS = [("tiny_run", "tiny"), ("sample_run", "baseline"), ("sample_run", "no_auto_features")]
LIMITS = pd.read_csv(REPO / "dbt" / "seeds" / "irs_limits.csv").set_index("plan_year")


def read(wd, scenario, year, model):
    return pd.read_parquet(wd / "results" / scenario / str(year) / f"{model}.parquet")


def years_of(wd, scenario):
    return sorted(int(p.name) for p in (wd / "results" / scenario).iterdir() if p.name.isdigit())


@pytest.fixture(params=RUNS, ids=[f"{r}-{s}" for r, s in RUNS])
def run(request):
    fixture, scenario = request.param
    wd = request.getfixturevalue(fixture)
    return wd, scenario, years_of(wd, scenario)


def biweekly_periods(year: int):
    """26 periods of 14 days from Jan 1, the last to Dec 31; pay date = last day (docs/semantics.md)."""
    jan1 = dt.date(year, 1, 1)
    out = []
    for k in range(26):
        start = jan1 + dt.timedelta(days=14 * k)
        end = dt.date(year, 12, 31) if k == 25 else start + dt.timedelta(days=13)
        out.append((start, end))
    return out


def day(value):
    return None if value is None or pd.isna(value) else pd.Timestamp(value).date()


def jan1_state(wd, scenario, year, first_year):
    """{employee_id: (is_enrolled, rate)} on Jan 1: the staged census in the first year (rates above
    the plan maximum 0.75 capped), last year's December state file otherwise."""
    if year == first_year:
        census = pd.read_parquet(wd / "results" / scenario / "staged_census.parquet")
        rate = census.deferral_rate.fillna(0).astype(float).clip(upper=0.75)
        return {e: (r > 0, r) for e, r in zip(census.employee_id, rate)}
    prior = read(wd, scenario, year - 1, "int_year_end_deferral_state")
    return {e: (bool(en), float(r)) for e, en, r in zip(prior.employee_id, prior.is_enrolled, prior.deferral_rate)}


def test_pay_and_requested_deferral_follow_the_pay_dates(run):
    """Each period's pay is the annual rate / 26, prorated by days employed at each rate; the state on
    its pay date (the termination date for a leaver's last pay) decides whether and at what rate
    it is deferred; pay counts as eligible when the employee is eligible on that date."""
    wd, scenario, years = run
    checked = 0
    for year in years:
        comp = read(wd, scenario, year, "int_employee_compensation_by_year").set_index("employee_id")
        snap = read(wd, scenario, year, "fct_workforce_snapshot").set_index("employee_id")
        contrib = read(wd, scenario, year, "int_employee_contributions").set_index("employee_id")
        events = read(wd, scenario, year, "fct_yearly_events")
        events = events[events.event_type.isin(["enrollment", "opt_out", "deferral_escalation"])]
        by_employee = {e: list(zip(g.effective_date.map(day), g.event_type, g.deferral_rate_after.astype(float)))
                       for e, g in events.sort_values(["employee_id", "event_sequence"]).groupby("employee_id")}
        start_state = jan1_state(wd, scenario, year, years[0])
        periods = biweekly_periods(year)
        for emp, row in comp.iterrows():
            if contrib.loc[emp, "is_401a17_limited"]:
                continue  # plan pay stops at the limit: the uncapped recomputation would differ
            hire, term, change = day(row.hire_date), day(row.termination_date), day(row.compensation_change_date)
            eligible_from = day(snap.loc[emp, "eligibility_date"])
            gross = eligible = requested = 0.0
            for start, end in periods:
                lo, hi = max(start, hire), min(end, term or end)
                days = (hi - lo).days + 1
                if days <= 0:
                    continue
                after = 0 if change is None else max(0, (hi - max(lo, change)).days + 1)
                pay = (float(row.starting_compensation) * (days - after)
                       + float(row.ending_compensation) * after) / (26 * ((end - start).days + 1))
                gross += pay
                state_day = min(end, term or end)
                enrolled, rate = start_state.get(emp, (False, 0.0))
                for when, kind, rate_after in by_employee.get(emp, []):
                    if when <= state_day:
                        enrolled, rate = (kind != "opt_out"), rate_after
                if enrolled:
                    requested += rate * pay
                if eligible_from <= state_day:
                    eligible += pay
            got = contrib.loc[emp]
            assert abs(float(got.gross_compensation) - gross) < 0.011, (year, emp, "gross", got.gross_compensation, gross)
            assert abs(float(got.requested_deferral) - requested) < 0.011, \
                (year, emp, "requested deferral", got.requested_deferral, requested)
            assert abs(float(got.eligible_plan_compensation) - eligible) < 0.011, \
                (year, emp, "eligible pay", got.eligible_plan_compensation, eligible)
            checked += 1
    assert checked > 30


def test_deferral_values_of_events_chain_in_event_sequence(run):
    """Every deferral event's "before" is the rate after the previous one, the first one's the Jan 1 rate."""
    wd, scenario, years = run
    for year in years:
        start_state = jan1_state(wd, scenario, year, years[0])
        events = read(wd, scenario, year, "fct_yearly_events")
        rated = events[events.deferral_rate_after.notna()].sort_values(["employee_id", "event_sequence"])
        for emp, group in rated.groupby("employee_id"):
            rate = start_state.get(emp, (False, 0.0))[1]
            for _, event in group.iterrows():
                assert float(event.deferral_rate_before) == pytest.approx(rate, abs=1e-9), \
                    (year, emp, event.event_type, event.effective_date, float(event.deferral_rate_before), rate)
                rate = float(event.deferral_rate_after)


def test_402g_flag_means_the_deferral_reached_the_limit(run):
    wd, scenario, years = run
    for year in years:
        c = read(wd, scenario, year, "int_employee_contributions")
        limit = float(LIMITS.loc[year, "elective_deferral_limit"])
        before_415_refund = c.employee_deferral.astype(float) + c.deferral_refund_415.astype(float)
        assert (c.is_402g_limited == (before_415_refund >= limit)).all()
        assert (c.is_catch_up_used == (c.catch_up_deferral.astype(float) > 0)).all()


def test_opt_outs_are_not_squeezed_to_dec_31_and_carry_into_next_year(sample_run):
    opt_outs, carried = [], 0
    years = years_of(sample_run, "baseline")
    for year in years:
        events = read(sample_run, "baseline", year, "fct_yearly_events")
        out = events[events.event_type == "opt_out"]
        opt_outs.append(out)
        if year > years[0]:
            prior = read(sample_run, "baseline", year - 1, "int_year_end_deferral_state")
            pending = prior[prior.pending_opt_out_date.notna()].set_index("employee_id").pending_opt_out_date
            due = out[out.employee_id.isin(pending.index)]
            assert len(due) > 0, f"no opt-out carried into {year}"
            assert (due.effective_date.values == pending.loc[due.employee_id].values).all()
            assert (pd.to_datetime(pending).dt.year == year).all()
            carried += len(due)
    dates = pd.to_datetime(pd.concat(opt_outs).effective_date)
    on_dec_31 = ((dates.dt.month == 12) & (dates.dt.day == 31)).mean()
    # a 90-day window drawn uniformly puts ~1/90 of an enrollment's opt-outs on any day it covers
    assert on_dec_31 < 0.03, f"{on_dec_31:.1%} of opt-outs on Dec 31"
    assert carried > 0


def test_415c_excess_deferral_is_catch_up_before_employer_money_is_cut(tiny_run):
    """TINY_039 (tiny census): born 1970-03-01, so age 55 in 2025 (catch-up eligible, limit 7,500);
    pay 350,000 and a raise on Apr 1, so plan pay stops at the 401(a)(17) limit 350,000. Deferral
    6.6% x 350,000 = 23,100 (below the 402(g) limit 23,500); match 100% x 3% + 50% x 2% = 4% x
    350,000 = 14,000; core 10% x 350,000 = 35,000: 72,100, over the 415(c) limit 70,000 by 2,100.
    §414(v): the 2,100 is catch-up, so core stays 35,000 and annual additions are exactly 70,000."""
    c = read(tiny_run, "tiny", 2025, "int_employee_contributions").set_index("employee_id").loc["TINY_039"]
    assert float(c.plan_compensation) == 350000.00
    assert float(c.employee_deferral) == 23100.00
    assert float(c.catch_up_deferral) == 2100.00
    assert float(c.employer_match) == 14000.00
    assert float(c.employer_core) == 35000.00
    assert float(c.annual_additions) == 70000.00
    assert float(c.deferral_refund_415) == 0.0 and bool(c.is_415c_limited) and not bool(c.is_402g_limited)
