"""Synthetic census generator (plansim column set).

``python -m plansim.sample_census --rows 5000 --seed 42 --out data/sample_census.csv``

Everything is drawn with ``numpy.random.default_rng(seed)`` in a fixed order, so the same
(n, seed, census_date) always gives the same frame and the same file, byte for byte.
Vectorised: a million rows take a few seconds.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

DEFAULT_ROWS = 5000
DEFAULT_SEED = 42
DEFAULT_CENSUS_DATE = datetime.date(2024, 12, 31)

# level -> (low, high) annual pay band, and the share of the workforce at each level
LEVEL_BANDS: dict[int, tuple[float, float]] = {
    1: (35_000, 60_000),
    2: (55_000, 90_000),
    3: (85_000, 140_000),
    4: (130_000, 220_000),
    5: (200_000, 450_000),
}
LEVEL_MIX: dict[int, float] = {1: 0.40, 2: 0.30, 3: 0.18, 4: 0.09, 5: 0.03}
DEFERRAL_RATES = np.array([0.03, 0.04, 0.05, 0.06, 0.08, 0.10, 0.15])
DEFERRAL_WEIGHTS = np.array([0.10, 0.10, 0.17, 0.30, 0.14, 0.13, 0.06])
PARTICIPATION_BY_LEVEL = np.array([0.55, 0.66, 0.74, 0.80, 0.85])  # index = level - 1
OPT_OUT_SHARE = 0.05
TERMINATED_SHARE = 0.03
MIN_AGE, MAX_AGE = 20.0, 65.0
MIN_HIRE_AGE = 18.0
MEAN_TENURE_YEARS = 5.5

COLUMNS = [
    "employee_id",
    "birth_date",
    "hire_date",
    "termination_date",
    "annual_compensation",
    "job_level",
    "deferral_rate",
    "enrollment_date",
    "auto_escalation_opt_out",
]


def _days(values: np.ndarray) -> np.ndarray:
    """Float day offsets -> int64 days."""
    return np.floor(values).astype(np.int64)


def generate_census(
    n: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED, census_date: datetime.date = DEFAULT_CENSUS_DATE
) -> pd.DataFrame:
    """A realistic census of ``n`` employees as of ``census_date`` (deterministic in n, seed)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, not {n}")
    rng = np.random.default_rng(seed)
    cd = np.datetime64(census_date, "D")
    year_start = np.datetime64(datetime.date(census_date.year, 1, 1), "D")

    # age: 20..65, mean ~42, a little heavier in the middle
    age = MIN_AGE + (MAX_AGE - MIN_AGE) * rng.beta(2.2, 2.3, n)
    birth = cd - _days(age * 365.25)

    # tenure: skewed to short tenures, never hired before 18
    max_tenure = np.maximum(age - MIN_HIRE_AGE, 0.0)
    tenure = np.minimum(rng.exponential(MEAN_TENURE_YEARS, n), max_tenure)
    hire = cd - _days(tenure * 365.25)
    tenure = (cd - hire).astype(np.int64) / 365.25

    # level: rank by a seniority score (age + tenure + noise), cut at the level mix
    score = (
        0.55 * (age - age.mean()) / age.std()
        + 0.35 * (tenure - tenure.mean()) / max(tenure.std(), 1e-9)
        + 0.9 * rng.standard_normal(n)
    )
    order = np.argsort(score, kind="stable")
    cuts = np.round(np.cumsum([LEVEL_MIX[k] for k in sorted(LEVEL_MIX)]) * n).astype(np.int64)
    level = np.empty(n, dtype=np.int64)
    level[order] = np.searchsorted(cuts, np.arange(n), side="right") + 1
    level = np.minimum(level, max(LEVEL_BANDS))

    # compensation: inside the level's band, skewed towards the low end
    lo = np.array([LEVEL_BANDS[k][0] for k in sorted(LEVEL_BANDS)])[level - 1]
    hi = np.array([LEVEL_BANDS[k][1] for k in sorted(LEVEL_BANDS)])[level - 1]
    comp = np.round(lo + (hi - lo) * rng.beta(2.0, 3.0, n), 2)

    # deferrals: participation rises with level; enrolled at some point after hire
    participates = rng.random(n) < PARTICIPATION_BY_LEVEL[level - 1]
    rate_choice = rng.choice(DEFERRAL_RATES, size=n, p=DEFERRAL_WEIGHTS / DEFERRAL_WEIGHTS.sum())
    deferral = np.where(participates, rate_choice, 0.0)
    days_employed = (cd - hire).astype(np.int64)
    enroll_offset = _days(rng.random(n) * np.minimum(days_employed, 3 * 365) * 0.5)
    enrollment = np.where(participates, hire + enroll_offset, np.datetime64("NaT", "D"))

    opt_out = rng.random(n) < OPT_OUT_SHARE

    # terminations during the census year, strictly before the census date
    terminated = rng.random(n) < TERMINATED_SHARE
    window_start = np.maximum(hire, year_start)
    window = (cd - window_start).astype(np.int64)  # >= 0; 0 when hired on the census date
    terminated &= window > 0
    term = window_start + _days(rng.random(n) * window)
    termination = np.where(terminated, term, np.datetime64("NaT", "D"))

    width = max(6, len(str(n)))
    ids = np.char.add("EMP_", np.char.zfill(np.arange(1, n + 1).astype(str), width))

    return pd.DataFrame(
        {
            "employee_id": ids.astype(object),
            "birth_date": birth.astype("datetime64[s]"),
            "hire_date": hire.astype("datetime64[s]"),
            "termination_date": termination.astype("datetime64[s]"),
            "annual_compensation": comp,
            "job_level": level,
            "deferral_rate": deferral,
            "enrollment_date": enrollment.astype("datetime64[s]"),
            "auto_escalation_opt_out": opt_out,
        },
        columns=COLUMNS,
    )


def write_census(
    path: str | os.PathLike[str],
    n: int = DEFAULT_ROWS,
    seed: int = DEFAULT_SEED,
    census_date: datetime.date = DEFAULT_CENSUS_DATE,
) -> Path:
    """Generate a census and write it as CSV (dates YYYY-MM-DD, booleans true/false)."""
    df = generate_census(n, seed, census_date)
    out = df.copy()
    for col in ("birth_date", "hire_date", "termination_date", "enrollment_date"):
        out[col] = out[col].dt.strftime("%Y-%m-%d")
    out["annual_compensation"] = np.char.mod("%.2f", df["annual_compensation"].to_numpy())
    out["auto_escalation_opt_out"] = np.where(df["auto_escalation_opt_out"], "true", "false")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        out.to_csv(tmp, index=False, lineterminator="\n", float_format=None, na_rep="")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def main(argv: list[str] | None = None) -> int:
    """Command line: write a sample census CSV."""
    parser = argparse.ArgumentParser(prog="python -m plansim.sample_census", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS, help="number of employees (default 5000)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed (default 42)")
    parser.add_argument(
        "--census-date",
        type=datetime.date.fromisoformat,
        default=DEFAULT_CENSUS_DATE,
        help="census date YYYY-MM-DD (default 2024-12-31)",
    )
    parser.add_argument("--out", required=True, help="output CSV path")
    args = parser.parse_args(argv)
    if args.rows < 1:
        parser.error("--rows must be >= 1")
    path = write_census(args.out, args.rows, args.seed, args.census_date)
    print(f"wrote {args.rows:,} employees (seed {args.seed}, census date {args.census_date}) to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
