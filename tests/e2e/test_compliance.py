"""The nondiscrimination tests on the sample census, re-derived by hand from the exported files.

- sample_run (baseline and no_auto_features, 2025-2029): HCEs and the ADP/ACP group averages are
  recomputed from each year's contributions file and the previous year's pay (IRC 414(q), Treas.
  Reg. 1.401(k)-2(a)); they equal compliance.csv, the year's summary.json lists the same rows, and
  summary.csv carries the margins. Without auto features the NHCE average falls by about a point,
  but the HCE average stays inside NHCE + 2 points: on this census the design still passes, with
  a far smaller margin (the test says by how much).
- vesting_run (2025-2027, the standard formula): vesting_cliff_3 tests by the prior-year method,
  vesting_immediate by the current-year method, on the same workforce. Under prior-year testing
  the start year's base is the first-plan-year 3% (IRC 401(k)(3)(E)): the limit is 5% and the
  HCE average above it fails; the excess is found by ratio leveling and assigned by dollar
  leveling (Treas. Reg. 1.401(k)-2(b)(2)), re-derived here by bisection. The next year's base
  is the start year's own NHCE average, read from the handover file.
"""

from __future__ import annotations

import csv
import json
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from conftest import REPO

pytestmark = pytest.mark.slow

# IRC 414(q)(1)(B) amounts by look-back year (Notices 2022-55, 2023-75, 2024-80, 2025-67)
HCE_AMOUNT = {2024: 155_000, 2025: 160_000, 2026: 160_000}
YEARS = [2025, 2026, 2027]  # determination years whose look-back amount is official


def hundredth_pct(x: float) -> Decimal:
    """A ratio to the nearest 0.01%, half up (Treas. Reg. 1.401(k)-2(a)(3))."""
    return Decimal(repr(x)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def limit(base: Decimal) -> Decimal:
    """IRC 401(k)(3)(A)(ii): the larger of 1.25 x base and the lesser of 2 x base and base + 2 points."""
    return max(base * Decimal("1.25"), min(base * 2, base + Decimal("0.02")))


def compliance_rows(wd: Path, sid: str) -> dict[tuple[int, str], dict]:
    with open(wd / "results" / sid / "compliance.csv", newline="") as fh:
        return {(int(r["simulation_year"]), r["test_name"]): r for r in csv.DictReader(fh)}


def lookback_pay(wd: Path, sid: str, year: int) -> dict[str, float]:
    """Pay from the employer in year - 1: the previous year's gross pay; before the start year, the
    census's annual pay (the sample census has no prior_year_wages) of those hired before 2025."""
    if year == 2025:
        census = pd.read_csv(REPO / "data" / "sample_census.csv", dtype={"employee_id": str})
        census = census[pd.to_datetime(census["hire_date"]) < "2025-01-01"]
        return dict(zip(census["employee_id"], census["annual_compensation"].astype(float)))
    prev = pd.read_parquet(wd / "results" / sid / str(year - 1) / "int_employee_contributions.parquet")
    return dict(zip(prev["employee_id"], prev["gross_compensation"].astype(float)))


def group_averages(wd: Path, sid: str, year: int) -> dict:
    c = pd.read_parquet(wd / "results" / sid / str(year) / "int_employee_contributions.parquet")
    c = c[c["eligible_plan_compensation"].astype(float) > 0]
    pay = lookback_pay(wd, sid, year)
    out = {}
    for test, amount in (("adp", c["employee_deferral"].astype(float) - c["catch_up_deferral"].astype(float)),
                         ("acp", c["employer_match"].astype(float))):
        ratios = [hundredth_pct(a / float(comp)) for a, comp in zip(amount, c["eligible_plan_compensation"])]
        hce = [pay.get(e, 0.0) > HCE_AMOUNT[year - 1] for e in c["employee_id"]]
        if test == "acp":  # who fails the match's allocation conditions is not eligible for it (none here)
            assert c["meets_match_conditions"].all()
        groups = {flag: [r for r, h in zip(ratios, hce) if h == flag] for flag in (True, False)}
        out[test] = {"hce_count": len(groups[True]), "nhce_count": len(groups[False]),
                     "hce": hundredth_pct(float(sum(groups[True]) / len(groups[True]))),
                     "nhce": hundredth_pct(float(sum(groups[False]) / len(groups[False])))}
    return out


def test_hces_and_group_averages_equal_a_recount_from_the_year_files(sample_run):
    for sid in ("baseline", "no_auto_features"):
        rows = compliance_rows(sample_run, sid)
        for year in YEARS:
            mine = group_averages(sample_run, sid, year)
            for test in ("adp", "acp"):
                row, want = rows[(year, test)], mine[test]
                assert (int(row["hce_count"]), int(row["nhce_count"])) == (want["hce_count"], want["nhce_count"]), \
                    (sid, year, test)
                assert Decimal(row["hce_value"]) == want["hce"] and Decimal(row["nhce_value"]) == want["nhce"], \
                    (sid, year, test, row)
                # current-year method: the base is this year's NHCE average
                assert Decimal(row["limit_value"]) == limit(want["nhce"]), (sid, year, test)
                assert row["status"] == ("pass" if want["hce"] <= limit(want["nhce"]) else "fail")
                assert Decimal(row["margin_points"]) == (limit(want["nhce"]) - want["hce"]) * 100


def test_every_year_lists_every_test_in_summary_json_and_summary_csv(sample_run):
    for sid in ("baseline", "no_auto_features"):
        rows = compliance_rows(sample_run, sid)
        with open(sample_run / "results" / sid / "summary.csv", newline="") as fh:
            summary = {int(r["simulation_year"]): r for r in csv.DictReader(fh)}
        for year in range(2025, 2030):
            listed = json.loads((sample_run / "results" / sid / str(year) / "summary.json").read_text())
            names = [t["test_name"] for t in listed["compliance_tests"]]
            assert names == ["adp", "acp", "coverage_401k", "coverage_401m", "coverage_nonelective", "top_heavy"]
            exported = duckdb.execute("select test_name, status, margin_points from read_parquet($f) order by 1",
                                      {"f": str(sample_run / "results" / sid / str(year) / "fct_compliance_tests.parquet")}
                                      ).fetchall()
            assert sorted((t["test_name"], t["status"]) for t in listed["compliance_tests"]) == \
                [(n, s) for n, s, _ in exported]
            assert float(summary[year]["adp_margin_points"]) == float(rows[(year, "adp")]["margin_points"])
            assert int(summary[year]["compliance_tests_failed"]) == sum(
                1 for (y, _), r in rows.items() if y == year and r["status"] == "fail")
            # the sample census has no officer or owner columns: top-heavy cannot be determined, and says why
            assert rows[(year, "top_heavy")]["status"] == "not_determinable"
            assert "is_officer" in rows[(year, "top_heavy")]["note"]
            # no core contribution: nothing to test for it
            assert rows[(year, "coverage_nonelective")]["status"] == "not_applicable"


def test_without_auto_features_the_margin_shrinks_but_the_two_point_rule_still_holds(sample_run):
    base, no_auto = compliance_rows(sample_run, "baseline"), compliance_rows(sample_run, "no_auto_features")
    for year in range(2025, 2030):
        b, n = base[(year, "adp")], no_auto[(year, "adp")]
        assert b["status"] == "pass" and n["status"] == "pass"
        # NHCEs defer at least about a point less without auto-enrollment and escalation ...
        assert float(b["nhce_value"]) - float(n["nhce_value"]) > 0.009, (year, b, n)
        # ... so the margin is far smaller: at most 0.6 points against at least 1.4
        assert float(n["margin_points"]) < 0.6 < 1.4 < float(b["margin_points"]), (year, b, n)
        # why it still passes: the HCE average (census elections, no auto features for HCEs either) stays
        # under NHCE + 2 points, the arm of the limit that binds here
        assert float(n["hce_value"]) <= float(n["nhce_value"]) + 0.02


def level(values: list[float], total: float) -> float:
    """The level L at which sum(max(v - L, 0)) = total, by bisection (independent of the SQL's sort)."""
    lo, hi = 0.0, max(values)
    for _ in range(200):
        mid = (lo + hi) / 2
        if sum(max(v - mid, 0.0) for v in values) > total:
            lo = mid
        else:
            hi = mid
    return hi


def test_prior_year_method_fails_the_start_year_and_levels_the_refunds(vesting_run):
    prior, current = compliance_rows(vesting_run, "vesting_cliff_3"), compliance_rows(vesting_run, "vesting_immediate")
    p, c = prior[(2025, "adp")], current[(2025, "adp")]
    # the same workforce and deferrals: the same averages, a different base
    assert (p["hce_value"], p["nhce_value"]) == (c["hce_value"], c["nhce_value"])
    assert p["test_method"] == "prior_year" and Decimal(p["nhce_base"]) == Decimal("0.03")
    assert Decimal(p["limit_value"]) == limit(Decimal("0.03")) == Decimal("0.05")
    assert c["status"] == "pass" and p["status"] == "fail", (p, c)
    # next year's base is the start year's own NHCE average (the handover of fct_compliance_tests)
    assert Decimal(prior[(2026, "adp")]["nhce_base"]) == Decimal(p["nhce_value"])

    r = pd.read_parquet(vesting_run / "results" / "vesting_cliff_3" / "2025" / "int_nondiscrimination_ratios.parquet")
    hce = r[r["is_hce"]]
    comp = hce["testing_compensation"].astype(float).tolist()
    adr = hce["actual_deferral_ratio"].astype(float).tolist()
    deferrals = hce["adp_deferrals"].astype(float).tolist()
    # step 1: lower the highest ratios until the HCE average equals the limit; the dollars removed are the total
    cut = sum(adr) - len(adr) * float(p["limit_value"])  # the HCE ratios, as they stand, summed
    ratio_level = level(adr, cut)
    # each HCE above the level gives up what brings their deferrals (not the rounded ratio) down to it
    total = sum(d - ratio_level * w for a, d, w in zip(adr, deferrals, comp) if a > ratio_level)
    corrected = float(p["corrective_amount"]) + float(p["recharacterized_amount"])
    assert corrected > 0 and abs(corrected - total) <= 0.005 * len(adr), (corrected, total)
    # step 2: the total comes from the highest dollar amounts first
    dollar_level = level(deferrals, corrected)
    for d, excess in zip(deferrals, hce["adp_excess"].astype(float)):
        assert abs(excess - max(d - dollar_level, 0.0)) <= 0.011, (d, excess, dollar_level)
    assert abs(hce["adp_excess"].astype(float).sum() - corrected) < 0.005
    # catch-up eligible HCEs keep what fits their unused catch-up; the rest is refunded with the match on it
    assert (hce["adp_refund"] + hce["recharacterized_as_catch_up"] == hce["adp_excess"]).all()
    # the match on refunded deferrals, by the standard tiers (100% of the first 3% of pay, 50% of the next 2%)
    c = pd.read_parquet(vesting_run / "results" / "vesting_cliff_3" / "2025" / "int_employee_contributions.parquet")
    c = c.set_index("employee_id").loc[hce["employee_id"]]

    def match_on(rate: float) -> float:
        return min(rate, 0.03) + 0.5 * min(max(rate - 0.03, 0.0), 0.02)

    for (_, h), (_, e) in zip(hce.iterrows(), c.iterrows()):
        w, d, refund = float(h["testing_compensation"]), float(e["employee_deferral"]), float(h["adp_refund"])
        want = min(round(w * (match_on(d / w) - match_on((d - refund) / w)), 2), float(e["employer_match"]))
        assert abs(float(h["match_forfeited"]) - want) <= 0.01, (h["employee_id"], h["match_forfeited"], want)
    assert abs(hce["adp_refund"].astype(float).sum() - float(p["corrective_amount"])) < 0.005
    assert int(p["affected_count"]) == int((hce["adp_excess"] > 0).sum())
