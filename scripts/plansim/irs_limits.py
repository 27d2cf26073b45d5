"""Generate ``dbt/seeds/irs_limits.csv``: IRS limits by plan year.

2023-2026 are the official values published by the IRS (Notices 2022-55, 2023-75, 2024-80
and 2025-67). Later years are projected from 2026 at ``GROWTH`` a year and rounded down to
the statutory increments, and flagged ``is_estimated``. The age 60-63 super catch-up
(SECURE 2.0 s.109) starts in 2025; before that the column is empty.

``roth_catch_up_wage_threshold`` is the SECURE 2.0 s.603 Roth catch-up rule (IRC 414(v)(7)): a
participant whose FICA wages from the employer in the prior year exceed it may make catch-up
contributions only as Roth. The statute's $145,000 is indexed under 415(d) in $5,000 steps
($150,000 for 2026, Notice 2025-67). The IRS's administrative transition period (Notice 2023-62)
runs through 2025, so the column is empty before 2026: the rule applies from 2026.

``hce_compensation_threshold`` is the IRC 414(q)(1)(B) amount ($80,000 indexed in $5,000 steps)
and ``key_employee_compensation_threshold`` the 416(i)(1)(A)(i) officer amount ($130,000 indexed
in $5,000 steps). Both are listed by the year whose pay they are compared with: an employee paid
more than the 2025 amount in 2025 is highly compensated in 2026 (the look-back year, Treas. Reg.
1.414(q)-1T Q&A-14), and an officer paid more than it in the year of the determination date is
a key employee for the next plan year.

    python -m plansim.irs_limits            # rewrites the seed
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

OFFICIAL = {
    # year: 402(g), catch-up (50+), super catch-up (60-63), 415(c), 401(a)(17)
    2023: (22500, 7500, None, 66000, 330000),
    2024: (23000, 7500, None, 69000, 345000),
    2025: (23500, 7500, 11250, 70000, 350000),
    2026: (24500, 8000, 11250, 72000, 360000),
}
INCREMENTS = (500, 500, None, 1000, 5000)
ROTH_CATCH_UP_THRESHOLD = {2026: 150000}  # official values; from 2026, the first year the rule applies
ROTH_CATCH_UP_STEP = 5000
# year: 414(q)(1)(B) HCE amount, 416(i)(1)(A)(i) key-employee officer amount (both in $5,000 steps)
TESTING_THRESHOLDS = {2023: (150000, 215000), 2024: (155000, 220000), 2025: (160000, 230000),
                      2026: (160000, 235000)}
TESTING_STEP = 5000
GROWTH = 0.025
LAST_YEAR = 2060
SEED = Path(__file__).resolve().parents[2] / "dbt" / "seeds" / "irs_limits.csv"


def projected(year: int) -> tuple:
    base_year = max(OFFICIAL)
    factor = (1 + GROWTH) ** (year - base_year)
    base = OFFICIAL[base_year]
    out = []
    for value, step in zip(base, INCREMENTS):
        out.append(None if step is None else math.floor(value * factor / step) * step)
    # super catch-up: 150% of the regular catch-up, never below the 2025 amount
    out[2] = max(OFFICIAL[2025][2], math.floor(out[1] * 1.5 / 50) * 50)
    return tuple(out)


def roth_catch_up_threshold(year: int) -> int | None:
    """The 414(v)(7) prior-year wage threshold of a plan year (None before the rule applies)."""
    first = min(ROTH_CATCH_UP_THRESHOLD)
    if year < first:
        return None
    if year in ROTH_CATCH_UP_THRESHOLD:
        return ROTH_CATCH_UP_THRESHOLD[year]
    base_year = max(ROTH_CATCH_UP_THRESHOLD)
    factor = (1 + GROWTH) ** (year - base_year)
    return math.floor(ROTH_CATCH_UP_THRESHOLD[base_year] * factor / ROTH_CATCH_UP_STEP) * ROTH_CATCH_UP_STEP


def testing_thresholds(year: int) -> tuple[int, int]:
    """(HCE amount, key-employee officer amount) of a year: official, or projected from the last official year."""
    if year in TESTING_THRESHOLDS:
        return TESTING_THRESHOLDS[year]
    base_year = max(TESTING_THRESHOLDS)
    factor = (1 + GROWTH) ** (year - base_year)
    return tuple(math.floor(value * factor / TESTING_STEP) * TESTING_STEP for value in TESTING_THRESHOLDS[base_year])


def rows() -> list[dict]:
    out = []
    for year in range(min(OFFICIAL), LAST_YEAR + 1):
        values, estimated = (OFFICIAL[year], False) if year in OFFICIAL else (projected(year), True)
        out.append({
            "plan_year": year,
            "elective_deferral_limit": values[0],
            "catch_up_limit": values[1],
            "super_catch_up_limit": "" if values[2] is None else values[2],
            "annual_additions_limit": values[3],
            "compensation_limit": values[4],
            "roth_catch_up_wage_threshold": "" if roth_catch_up_threshold(year) is None else roth_catch_up_threshold(year),
            "hce_compensation_threshold": testing_thresholds(year)[0],
            "key_employee_compensation_threshold": testing_thresholds(year)[1],
            "is_estimated": str(estimated).lower(),
        })
    return out


def main() -> None:
    data = rows()
    with SEED.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(data[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(data)


if __name__ == "__main__":
    main()
