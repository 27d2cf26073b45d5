"""SPEC §4 invariants on multi-year runs (tiny hand-made census, and the 5,000-row sample
with two plan designs), read from the exported parquet files a user gets."""

from __future__ import annotations

import pandas as pd
import pytest

from plansim.config import load_scenarios

pytestmark = pytest.mark.slow

RUNS = [("tiny_run", "tiny"), ("sample_run", "baseline"), ("sample_run", "no_auto_features")]
KEYS = {
    "int_deferral_rate_state_accumulator": ["employee_id", "as_of_month"],
    "int_employee_contributions": ["employee_id"],
    "fct_workforce_snapshot": ["employee_id"],
    "fct_yearly_events": ["event_id"],
    "int_year_end_deferral_state": ["employee_id"],
    "int_year_end_workforce_state": ["employee_id"],
    "int_employee_compensation_by_year": ["employee_id"],
    "int_employee_balances": ["employee_id"],
    "int_year_end_balances": ["employee_id"],
}


def years_of(wd, scenario):
    return sorted(int(p.name) for p in (wd / "results" / scenario).iterdir() if p.name.isdigit())


def read(wd, scenario, year, model):
    return pd.read_parquet(wd / "results" / scenario / str(year) / f"{model}.parquet")


def plan_design(wd, scenario):
    """The scenario's resolved plan design (a design may inherit from another with `extends`)."""
    return load_scenarios(wd / "config.yaml")[scenario]["plan_design"]


@pytest.fixture(params=RUNS, ids=[f"{r}-{s}" for r, s in RUNS])
def run(request):
    fixture, scenario = request.param
    wd = request.getfixturevalue(fixture)
    return wd, scenario, years_of(wd, scenario)


def test_every_key_is_unique_in_every_model(run):
    wd, scenario, years = run
    for year in years:
        for model, key in KEYS.items():
            frame = read(wd, scenario, year, model)
            dupes = frame.duplicated(key).sum()
            assert dupes == 0, f"{model} {year}: {dupes} duplicate keys {key}"
            assert (frame.simulation_year == year).all() and (frame.scenario_id == scenario).all()


def test_twelve_accumulator_rows_per_employee_year(run):
    wd, scenario, years = run
    for year in years:
        acc = read(wd, scenario, year, "int_deferral_rate_state_accumulator")
        per_employee = acc.groupby("employee_id").as_of_month.agg(["count", "nunique", "min", "max"])
        assert (per_employee["count"] == 12).all() and (per_employee["nunique"] == 12).all()
        assert (per_employee["min"] == 1).all() and (per_employee["max"] == 12).all()
        snap = read(wd, scenario, year, "fct_workforce_snapshot")
        assert set(per_employee.index) == set(snap.employee_id)


def test_december_state_equals_january_when_nothing_happened(run):
    wd, scenario, years = run
    checked = 0
    for prev, year in zip(years, years[1:]):
        dec = read(wd, scenario, prev, "int_year_end_deferral_state").set_index("employee_id")
        acc = read(wd, scenario, year, "int_deferral_rate_state_accumulator")
        jan = acc[acc.as_of_month == 1].set_index("employee_id")
        events = read(wd, scenario, year, "fct_yearly_events")
        touched = set(events.loc[pd.to_datetime(events.effective_date).dt.month.eq(1)
                                 & events.event_type.isin(["enrollment", "opt_out", "deferral_escalation",
                                                           "escalation_opt_out"]),
                                 "employee_id"])
        assert set(dec.index) <= set(jan.index), "an employee active on Dec 31 is missing in January"
        quiet = [e for e in dec.index if e not in touched]
        for column in ("deferral_rate", "is_enrolled", "is_auto_enrollment_opted_out", "is_escalation_opted_out"):
            pd.testing.assert_series_equal(dec.loc[quiet, column], jan.loc[quiet, column], check_names=False,
                                           obj=f"{scenario} {prev}->{year} {column}")
        checked += len(quiet)
    assert checked > 0


def test_escalation_respects_cap_and_opt_outs(run):
    wd, scenario, years = run
    design = plan_design(wd, scenario)
    cap = design["auto_escalation"]["cap"]
    for year in years:
        events = read(wd, scenario, year, "fct_yearly_events")
        esc = events[events.event_type == "deferral_escalation"]
        if not design["auto_escalation"]["enabled"]:
            assert esc.empty
            continue
        assert (esc.deferral_rate_after.astype(float) <= cap + 1e-12).all()
        assert (esc.deferral_rate_after > esc.deferral_rate_before).all()
        opted_out = events[events.event_type == "opt_out"].set_index("employee_id").effective_date
        late = esc[esc.employee_id.isin(opted_out.index)]
        assert (late.effective_date.values < opted_out.loc[late.employee_id].values).all(), \
            "an escalation after the employee opted out"
        prior = (read(wd, scenario, year - 1, "int_year_end_deferral_state") if year > years[0] else None)
        if prior is not None:
            out = set(prior.loc[prior.is_escalation_opted_out | prior.is_auto_enrollment_opted_out, "employee_id"])
            assert not out & set(esc.employee_id), "escalated someone who had opted out"
        acc = read(wd, scenario, year, "int_deferral_rate_state_accumulator")
        assert acc.deferral_rate.astype(float).between(0, design["max_deferral_rate"]).all()
        escalated = acc[acc.deferral_rate_source == "escalation"]
        assert (escalated.deferral_rate.astype(float) <= cap + 1e-12).all()


def test_contributions_never_exceed_limits_or_the_request(run):
    wd, scenario, years = run
    for year in years:
        c = read(wd, scenario, year, "int_employee_contributions").astype(
            {col: float for col in ("requested_deferral", "employee_deferral", "deferral_limit_applied",
                                    "annual_additions", "annual_additions_limit_applied", "plan_compensation",
                                    "gross_compensation", "employer_match", "employer_core", "catch_up_deferral")})
        assert (c.employee_deferral <= c.requested_deferral + 1e-9).all()
        assert (c.employee_deferral <= c.deferral_limit_applied + 1e-9).all()
        assert (c.annual_additions <= c.annual_additions_limit_applied + 0.01).all()
        assert (c.plan_compensation <= c.gross_compensation + 1e-9).all()
        limit_17 = {2025: 350000, 2026: 360000}.get(year)
        if limit_17:
            assert (c.plan_compensation <= limit_17).all()
        assert (c[["employee_deferral", "employer_match", "employer_core", "catch_up_deferral"]] >= 0).all().all()


def test_no_event_after_termination(run):
    wd, scenario, years = run
    for year in years:
        events = read(wd, scenario, year, "fct_yearly_events")
        snap = read(wd, scenario, year, "fct_workforce_snapshot").set_index("employee_id")
        ended = snap.termination_date.dropna()
        ev = events[events.employee_id.isin(ended.index)]
        late = ev[ev.effective_date.values > ended.loc[ev.employee_id].values]
        assert late.empty, f"{len(late)} event(s) after termination in {year}:\n{late.head()}"
        assert (events.groupby("employee_id").event_sequence.apply(lambda s: sorted(s) == list(range(1, len(s) + 1)))).all()


def test_auto_enrollment_and_escalation_raise_participation_and_deferral(sample_run):
    with_features = pd.read_csv(sample_run / "results" / "baseline" / "summary.csv")
    without = pd.read_csv(sample_run / "results" / "no_auto_features" / "summary.csv")
    assert list(with_features.simulation_year) == list(without.simulation_year) == [2025, 2026, 2027, 2028, 2029]
    # same workforce (plan design does not change who is hired or leaves)
    assert (with_features.headcount_end == without.headcount_end).all()
    assert (with_features.participation_rate > without.participation_rate).all()
    assert (with_features.employee_deferrals > without.employee_deferrals).all()
    # and the gap widens as more employees are auto-enrolled each year
    gap = with_features.participation_rate - without.participation_rate
    assert gap.iloc[-1] > gap.iloc[0]
    # Auto-enrolled participants start at the 6% default, below many census elections, so the
    # participants' average starts lower with the features; escalation (auto-enrolled only) then
    # lifts it, past the design without them by the end of the horizon.
    rate_gap = with_features.average_deferral_rate - without.average_deferral_rate
    assert rate_gap.iloc[-1] > rate_gap.iloc[0] and rate_gap.iloc[-1] > 0


def test_readme_figures_are_the_scripts_output_for_this_run(sample_run):
    """The README's summary block equals what `python -m plansim.readme_figures` prints for a real
    run of the default config (the sample census, 2025-2029): regenerate it, never edit it."""
    from conftest import REPO
    from plansim.readme_figures import block_in, figures_block

    readme = block_in((REPO / "README.md").read_text(encoding="utf-8"))
    assert readme, "README.md has lost its readme-figures block"
    assert readme == figures_block(sample_run / "results"), \
        "README figures are stale: run `make run` then `python -m plansim.readme_figures --write README.md`"
