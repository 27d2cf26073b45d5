"""Workforce rules on multi-year runs (the shared tiny and 5,000-row sample runs), read from
the exported parquet files: events carry the values of their effective date, nobody works
past the retirement age, new-hire pay bands grow, raises follow the service rule."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.slow

RUNS = [("tiny_run", "tiny"), ("sample_run", "baseline")]
# events that carry a level and a pay, in the order they chain within a year
LEVEL_PAY_EVENTS = ["hire", "promotion", "raise", "termination", "retirement"]


def years_of(wd, scenario):
    return sorted(int(p.name) for p in (wd / "results" / scenario).iterdir() if p.name.isdigit())


def read(wd, scenario, year, model):
    return pd.read_parquet(wd / "results" / scenario / str(year) / f"{model}.parquet")


def workforce_config(wd, scenario):
    cfg = yaml.safe_load((wd / "config.yaml").read_text())
    wf = dict(cfg["workforce"])
    wf.update((cfg["scenarios"].get(scenario) or {}).get("workforce") or {})
    return cfg["start_year"], wf


def money(series):
    return series.astype(float)


@pytest.fixture(params=RUNS, ids=[f"{r}-{s}" for r, s in RUNS])
def run(request):
    fixture, scenario = request.param
    wd = request.getfixturevalue(fixture)
    return wd, scenario, years_of(wd, scenario)


def jan_1_values(wd, scenario, year, first_year):
    """Level and pay of each employee active on Jan 1, from the file the year started from."""
    if year == first_year:
        census = pd.read_parquet(wd / "results" / scenario / "staged_census.parquet").set_index("employee_id")
        # census rows without a job level get one from their pay band (the model's starting level)
        comp = read(wd, scenario, year, "int_employee_compensation_by_year").set_index("employee_id")
        level = census.job_level.fillna(comp.starting_job_level.reindex(census.index))
        return pd.DataFrame({"job_level": level, "annual_compensation": money(census.annual_compensation)})
    prior = read(wd, scenario, year - 1, "int_year_end_workforce_state").set_index("employee_id")
    return pd.DataFrame({"job_level": prior.job_level.astype(float),
                         "annual_compensation": money(prior.annual_compensation)})


def test_each_event_starts_from_the_values_the_previous_one_left(run):
    """Walking an employee's level/pay events in event_sequence, each "before" is the previous
    event's "after", and the first "before" is the employee's Jan 1 level and pay (a hire has
    no "before"). A termination after the raise date therefore shows the raised pay."""
    wd, scenario, years = run
    checked_leavers_after_raise = 0
    for year in years:
        jan1 = jan_1_values(wd, scenario, year, years[0])
        events = read(wd, scenario, year, "fct_yearly_events")
        ev = events[events.event_type.isin(LEVEL_PAY_EVENTS)].sort_values(["employee_id", "event_sequence"])
        ev = ev.assign(comp_before=money(ev.compensation_before), comp_after=money(ev.compensation_after))
        problems = []
        for employee, rows in ev.groupby("employee_id", sort=False):
            level, pay = None, None
            first = rows.iloc[0]
            if first.event_type == "hire":
                assert pd.isna(first.job_level_before) and pd.isna(first.comp_before)
            else:
                assert employee in jan1.index, f"{year} {employee}: an event but not active on Jan 1"
                level, pay = jan1.loc[employee, "job_level"], jan1.loc[employee, "annual_compensation"]
            for row in rows.itertuples():
                if row.event_type != "hire" and (row.job_level_before != level
                                                 or abs(row.comp_before - pay) > 0.005):
                    problems.append(f"{employee} {row.event_type} on {row.effective_date}: before "
                                    f"(level {row.job_level_before}, pay {row.comp_before}), expected "
                                    f"(level {level}, pay {pay})")
                level, pay = row.job_level_after, row.comp_after
            if rows.event_type.iloc[-1] in ("termination", "retirement") and "raise" in set(rows.event_type):
                checked_leavers_after_raise += 1
        assert not problems, f"{scenario} {year}: {len(problems)} broken chain(s):\n" + "\n".join(problems[:10])
    assert checked_leavers_after_raise > 0, "no leaver after a raise: the check proved nothing"


def test_nobody_is_active_at_year_end_at_or_past_max_age(run):
    wd, scenario, years = run
    max_age = workforce_config(wd, scenario)[1]["retirement"]["max_age"]
    oldest = 0
    for year in years:
        snap = read(wd, scenario, year, "fct_workforce_snapshot")
        active = snap[snap.is_active]
        too_old = active[active.age >= max_age]
        assert too_old.empty, f"{scenario} {year}: active on Dec 31 aged >= {max_age}:\n{too_old[['employee_id', 'age']]}"
        oldest = max(oldest, int(active.age.max()))
        retired = snap[snap.employment_status == "retirement"]
        assert not retired.is_active.any() and retired.termination_date.notna().all()
    assert oldest >= 60, "the run has nobody near retirement age: the check proved nothing"


def test_retirements_follow_max_age_and_the_age_probabilities(run):
    """max_age retirements happen on the birthday reaching max_age (Jan 1 if older); the others
    are all of an age with a positive band probability; retirees are never also terminated.
    On the sample, the number of age-probability retirements is the sum of the probabilities
    within sampling error."""
    wd, scenario, years = run
    start_year, wf = workforce_config(wd, scenario)
    ret = wf["retirement"]
    max_age, bands = ret["max_age"], ret["age_probabilities"]

    def probability(attained):
        p = 0.0
        for band in bands:  # bands increase: the last one whose min_age <= attained
            if attained >= band["min_age"]:
                p = band["probability"]
        return p

    expected, variance, drawn, certain = 0.0, 0.0, 0, 0
    for year in years:
        comp = read(wd, scenario, year, "int_employee_compensation_by_year")
        events = read(wd, scenario, year, "fct_yearly_events")
        retirements = events[events.event_type == "retirement"].set_index("employee_id")
        terminated = set(events.loc[events.event_type == "termination", "employee_id"])
        assert not terminated & set(retirements.index)
        jan1 = comp[~comp.is_new_hire].set_index("employee_id")
        assert set(retirements.index) <= set(jan1.index), "a hire of the year retired"
        for employee, person in jan1.iterrows():
            birth = person.birth_date
            try:
                birthday = birth.replace(year=birth.year + max_age)
            except ValueError:  # born Feb 29, the birthday year is not a leap year: Feb 28
                birthday = dt.date(birth.year + max_age, 2, 28)
            reaches = birthday <= dt.date(year, 12, 31)
            if reaches:
                certain += 1
                assert employee in retirements.index, f"{year} {employee} reaches {max_age} and did not retire"
                row = retirements.loc[employee]
                assert row.event_subtype == "max_age"
                assert row.effective_date == max(birthday, dt.date(year, 1, 1))
                continue
            p = probability(year - birth.year)
            expected, variance = expected + p, variance + p * (1 - p)
            if employee in retirements.index:
                assert retirements.loc[employee, "event_subtype"] == "age_probability"
                assert p > 0, f"{year} {employee} retired at attained age {year - birth.year}, probability 0"
                drawn += 1
    if scenario != "tiny":
        assert variance > 10, "too few employees in the retirement bands for a count check"
        assert abs(drawn - expected) <= 4 * math.sqrt(variance), \
            f"{drawn} age-probability retirements, expected {expected:.1f} +- {4 * math.sqrt(variance):.1f}"
    else:
        assert certain >= 2, "the tiny census covers retirement at max_age (TINY_037, TINY_038)"


def test_hire_pay_lies_in_the_grown_band_and_tracks_the_growth(run):
    """band of year Y = band x (1 + g)^(Y - start_year), g = cola_rate + mean(merit_rates) when
    new_hire_pay_growth_rate is null. Each hire's pay lies in its level's grown band, and
    pay / (start-year band midpoint) averages (1 + g)^k within 4 standard errors."""
    wd, scenario, years = run
    start_year, wf = workforce_config(wd, scenario)
    growth = wf["new_hire_pay_growth_rate"]
    if growth is None:
        growth = wf["cola_rate"] + sum(wf["merit_rates"]) / len(wf["merit_rates"])
    bands = wf["compensation_bands"]
    for year in years:
        factor = (1 + growth) ** (year - start_year)
        events = read(wd, scenario, year, "fct_yearly_events")
        hires = events[events.event_type == "hire"]
        pay = money(hires.compensation_after)
        level = hires.job_level_after.astype(int)
        low = level.map(lambda lv: bands[lv - 1][0] * factor)
        high = level.map(lambda lv: bands[lv - 1][1] * factor)
        outside = hires[(pay < low - 0.5) | (pay > high + 0.5)]  # pay is rounded to whole dollars
        assert outside.empty, f"{scenario} {year}: {len(outside)} hire(s) paid outside the grown band"
        if scenario == "tiny":
            continue
        ratio = pay / level.map(lambda lv: (bands[lv - 1][0] + bands[lv - 1][1]) / 2)
        tolerance = 4 * ratio.std() / math.sqrt(len(ratio))
        assert abs(ratio.mean() - factor) <= tolerance, \
            f"{year}: new-hire pay / start-year band midpoint averages {ratio.mean():.4f}, expected {factor:.4f}"


def test_raises_follow_the_service_rule(run):
    """Cutoff rule (the default, 3 months): a hire on or after the raise date gets no raise; a
    hire after raise date - 3 months gets COLA only; everyone else merit[level] + COLA."""
    wd, scenario, years = run
    _, wf = workforce_config(wd, scenario)
    assert wf["merit_service_rule"] == "cutoff"
    months = wf["merit_cutoff_months"]
    for year in years:
        raise_date = dt.date(year, wf["raise_effective_month"], 1)
        cutoff = (pd.Timestamp(raise_date) - pd.DateOffset(months=months)).date()
        comp = read(wd, scenario, year, "int_employee_compensation_by_year").set_index("employee_id")
        events = read(wd, scenario, year, "fct_yearly_events")
        raises = events[events.event_type == "raise"].set_index("employee_id")
        hired = comp.loc[raises.index, "hire_date"]
        assert (hired < raise_date).all(), "a raise for someone hired on or after the raise date"
        rate = money(raises.compensation_after) / money(raises.compensation_before) - 1
        merit = raises.job_level_after.astype(int).map(lambda lv: wf["merit_rates"][lv - 1])
        expected = wf["cola_rate"] + merit.where(hired <= cutoff, 0.0)
        # pay is rounded to the cent: the rate is exact to 0.005 / pay
        off = (rate - expected).abs() > 0.006 / money(raises.compensation_before)
        assert not off.any(), f"{scenario} {year}: {int(off.sum())} raise(s) off the rule:\n{raises[off].head()}"
        late = comp[(comp.hire_date >= raise_date)]
        assert not set(late.index) & set(raises.index)
