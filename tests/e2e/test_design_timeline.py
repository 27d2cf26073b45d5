"""A scenario whose plan design changes over time (docs/semantics.md 4.20, 4.21), on the sample census:
`switch` keeps `no_auto` in 2025-2026, moves to `standard` in 2027 with an enrollment sweep on
Jan 1, 2027, and to a richer match for pay from Jul 1, 2028. Compared with sample_run's
`no_auto_features` (same config, `no_auto` every year). The match of each pay period across a
change within a year is hand-computed in the dbt unit test contributions_mid_year_formula_change."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from conftest import base_config, copy_workflow, snakemake, write_config
from test_orchestration import edited_config, planned_jobs
from test_reports import run_chromium
from test_workbook_libreoffice import VALUES, convert

pytestmark = pytest.mark.slow

SWEEP_OPT_OUT = 0.15
RICH_MATCH = [{"from": 0.0, "to": 0.06, "rate": 1.0}]  # from Jul 1, 2028: 6% of pay at a 6% deferral (was 4%)
TIMELINE = {2025: "no_auto",
            2027: {"extends": "standard", "enrollment_sweeps": [{"date": "2027-01-01", "opt_out_rate": SWEEP_OPT_OUT}]},
            "2028-07-01": {"extends": "standard", "match_tiers": RICH_MATCH}}
# columns whose value is derived from the scenario id (an event's id hashes it)
SCENARIO_DERIVED = {"scenario_id", "event_id"}


@pytest.fixture(scope="module")
def switch_run(tmp_path_factory) -> Path:
    wd = copy_workflow(tmp_path_factory.mktemp("timeline") / "wf")
    write_config(wd, base_config(end_year=2028, scenarios={"switch": {"plan_design_id": TIMELINE}}))
    snakemake(wd, "--cores", "2", "results/switch/summary.csv", "results/switch/summary.html",
              "results/switch/switch.xlsx")
    return wd


def _without_scenario(value):
    """A summary.json without the scenario id, at any depth (each compliance test row carries it)."""
    if isinstance(value, dict):
        return {k: _without_scenario(v) for k, v in value.items() if k != "scenario_id"}
    if isinstance(value, list):
        return [_without_scenario(v) for v in value]
    return value


def _frame(path: Path) -> pd.DataFrame:
    frame = pd.read_parquet(path).drop(columns=list(SCENARIO_DERIVED), errors="ignore")
    return frame.sort_values(list(frame.columns)[:4]).reset_index(drop=True)


def test_the_first_two_years_are_the_no_auto_scenario_row_for_row(switch_run, sample_run):
    for year in (2025, 2026):
        mine, theirs = switch_run / "results/switch" / str(year), sample_run / "results/no_auto_features" / str(year)
        files = sorted(p.name for p in theirs.glob("*.parquet"))
        assert files and files == sorted(p.name for p in mine.glob("*.parquet"))
        for name in files:
            pd.testing.assert_frame_equal(_frame(mine / name), _frame(theirs / name), obj=f"{year}/{name}")
        a = json.loads((mine / "summary.json").read_text())
        b = json.loads((theirs / "summary.json").read_text())
        assert a["scenario_id"] == "switch" and b["scenario_id"] == "no_auto_features"
        assert _without_scenario(a) == _without_scenario(b)


def test_the_switch_year_sweeps_every_eligible_non_participant_and_raises_participation(switch_run, sample_run):
    mine, theirs = switch_run / "results/switch", sample_run / "results/no_auto_features"
    con = duckdb.connect()
    # who the sweep must reach, from the 2026 year-end files alone: active on Dec 31, 2026 (the year-end
    # workforce state holds the actives; so employed on Jan 1), not participating, 21 by Jan 1, 2027 (no
    # waiting days in `standard`)
    expected = {r[0] for r in con.execute("""
        select w.employee_id from read_parquet($w) w join read_parquet($d) d using (employee_id)
        where not d.is_enrolled and w.birth_date + interval 21 year <= date '2027-01-01'
    """, {"w": str(mine / "2026/int_year_end_workforce_state.parquet"),
          "d": str(mine / "2026/int_year_end_deferral_state.parquet")}).fetchall()}
    events = pd.read_parquet(mine / "2027/fct_yearly_events.parquet")
    swept = events[(events.event_type == "enrollment") & (events.event_subtype == "enrollment_sweep")]
    assert len(expected) > 100
    assert set(swept.employee_id) == expected
    assert (pd.to_datetime(swept.effective_date) == pd.Timestamp("2027-01-01")).all()
    assert (swept.deferral_rate_after.astype(float) == 0.06).all()  # standard's default rate
    opted = events[(events.event_type == "opt_out") & (events.event_subtype == "enrollment_sweep")]
    assert set(opted.employee_id) <= expected and (opted.deferral_rate_after.astype(float) == 0).all()
    days = (pd.to_datetime(opted.effective_date) - pd.Timestamp("2027-01-01")).dt.days
    assert days.between(1, 90).all()  # within the sweep's window (opt_out_window_days: 90)
    state = pd.read_parquet(mine / "2027/int_year_end_deferral_state.parquet")
    carried = state[state.employee_id.isin(expected) & state.pending_opt_out_date.notna()]  # due after Dec 31
    n, k = len(swept), len(opted) + len(carried)
    assert abs(k - n * SWEEP_OPT_OUT) < 4 * math.sqrt(n * SWEEP_OPT_OUT * (1 - SWEEP_OPT_OUT)), (k, n)

    summary = pd.read_csv(mine / "summary.csv", keep_default_na=False)
    no_auto = pd.read_csv(theirs / "summary.csv")
    assert list(summary.plan_design_id) == ["no_auto", "no_auto", "standard", "standard"]
    assert list(summary.plan_design_change_date) == ["", "", "2027-01-01", "2028-07-01"]
    switched = summary.set_index("simulation_year").participation_rate
    before = no_auto.set_index("simulation_year").participation_rate
    assert switched[2027] > before[2027] + 0.10, (switched[2027], before[2027])
    # hires of 2027 on are auto-enrolled (standard: new hires from the change); no_auto has none
    ae = events[(events.event_type == "enrollment") & (events.event_subtype == "auto_enrollment")]
    hires = events[events.event_type == "hire"]
    assert len(ae) > 0 and set(ae.employee_id) <= set(hires.employee_id)


def test_a_formula_change_on_jul_1_pays_the_old_match_before_it_and_the_new_after(switch_run):
    """Participants at 6% or more all of 2028 (no enrollment, opt-out or escalation event, employed all
    year, below every limit): the standard match is 4% of eligible pay, the richer one 6%; with the
    change on Jul 1 the year's match lies strictly between, near the middle (13 of 26 pay dates after)."""
    year = switch_run / "results/switch/2028"
    con = duckdb.connect()
    rows = con.execute("""
        select c.employer_match::double, c.eligible_plan_compensation::double
        from read_parquet($c) c
        join read_parquet($d) d using (employee_id)
        join read_parquet($w) w using (employee_id)
        where d.is_enrolled and d.deferral_rate >= 0.06
          and w.hire_date < date '2028-01-01'
          and not c.is_402g_limited and not c.is_401a17_limited and not c.is_catch_up_used
          and employee_id not in (select employee_id from read_parquet($e)
                                  where event_type in ('enrollment', 'opt_out', 'deferral_escalation', 'termination',
                                                       'retirement'))
    """, {"c": str(year / "int_employee_contributions.parquet"),
          "d": str(switch_run / "results/switch/2027/int_year_end_deferral_state.parquet"),
          "w": str(switch_run / "results/switch/2027/int_year_end_workforce_state.parquet"),
          "e": str(year / "fct_yearly_events.parquet")}).fetchall()
    assert len(rows) > 100
    shares = [match / pay for match, pay in rows]
    assert all(0.04 + 1e-4 < share < 0.06 - 1e-4 for share in shares), (min(shares), max(shares))
    assert 0.0485 < sum(shares) / len(shares) < 0.0515


def test_the_summary_page_and_the_workbook_mark_the_changes_as_chromium_and_libreoffice_read_them(switch_run, tmp_path):
    page = switch_run / "results/switch/summary.html"
    dom = run_chromium(tmp_path, "--dump-dom", page.resolve().as_uri())
    assert dom.returncode == 0 and "Uncaught" not in dom.stderr, dom.stderr[-3000:]
    head = dom.stdout.split("<thead>", 1)[1].split("</thead>", 1)[0]
    for date in ("2027-01-01", "2028-07-01"):
        assert f"design changed: {date} → standard" in head, head
    assert "<th>2025</th>" in head and "<th>2026</th>" in head  # years under an unchanged design: plain headings
    assert head.count('class="design-change"') == 2
    convert([switch_run / "results/switch/switch.xlsx"], VALUES, tmp_path / "values", tmp_path / "profile")
    with open(tmp_path / "values" / "switch-Summary.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["simulation_year"], r["plan_design_id"], r["plan_design_change_date"]) for r in rows] == [
        ("2025", "no_auto", ""), ("2026", "no_auto", ""), ("2027", "standard", "2027-01-01"),
        ("2028", "standard", "2028-07-01")]


def test_editing_the_design_that_applies_from_year_three_reruns_years_three_on_only(switch_run):
    def richer_2027(cfg):
        cfg["scenarios"]["switch"]["plan_design_id"][2027]["match_tiers"] = RICH_MATCH

    with edited_config(switch_run, richer_2027):
        proc = snakemake(switch_run, "-n", "--cores", "1", "results/switch/summary.csv")
    jobs = planned_jobs(proc)
    assert jobs.get("build_plan_year") == 2 and jobs.get("audit_year") == 2, jobs
    assert "build_workforce_year" not in jobs and "stage_census" not in jobs, jobs
    blocks = [b for b in proc.stdout.split("\nrule ")[1:] if b.startswith(("build_plan_year:", "audit_year:"))]
    years: dict[str, set[int]] = {}
    reasons = {}
    for block in blocks:
        year = int(re.search(r"wildcards: scenario=switch, year=(\d{4})", block).group(1))
        years.setdefault(block.split(":")[0], set()).add(year)
        reasons.setdefault(year, re.search(r"reason: ([^\n]+)", block).group(1))
    assert years == {"build_plan_year": {2027, 2028}, "audit_year": {2027, 2028}}, years
    assert reasons[2027].startswith("Params have changed"), reasons[2027][:200]
    assert reasons[2028].startswith("Input files updated by another job"), reasons[2028][:200]
