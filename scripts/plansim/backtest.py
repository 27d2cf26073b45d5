"""``plansim backtest``: how well would plansim have predicted years it did not see?

The snapshots' last ``holdout`` years are held out; the assumptions are fitted on the others
(:mod:`plansim.fit`); the held-out years are simulated from the last fitted snapshot, once per
replicate (``replicates`` seeds, each its own scenario of the workflow), and each held-out
year's actual figures are scored against the replicates: the median as the prediction, its
error, and whether the actual lies inside the replicates' P5-P95 range. Headcount is solved
exactly from the growth rate: with the fitted values only, its range is a point
("deterministic") and inside means equal.
"""

from __future__ import annotations

import copy
import html
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import numpy as np
import yaml

from plansim.atomic import write_text
from plansim.fit import Z95, FitResult, fit, fitted_config
from plansim.history import HistoryError, Snapshot, simulated_snapshot_sql

REPLICATE_SEED_BASE = 1_000_000  # replicate r simulates with seed REPLICATE_SEED_BASE + r
PERCENTILES = (5, 95)


@dataclass
class Score:
    year: int
    metric: str
    actual: float
    predicted: float      # median over the replicates
    p5: float
    p95: float
    error: float          # predicted - actual
    error_pct: float | None
    inside: bool          # p5 <= actual <= p95
    deterministic: bool   # the replicates do not vary (the range is a point)


def metrics_sql(table: str, year: int, age_bands: list[dict]) -> str:
    """The scored figures of one year from census-shaped rows with ``is_active`` (``table``: an
    employer snapshot as read, or a simulated year through history.simulated_snapshot_sql)."""
    start, end = f"DATE '{year}-01-01'", f"DATE '{year}-12-31'"
    active = "is_active"  # as the census reader decides it (a PlanAlign active = false without a date is a leaver)
    jan1_age = f"(year({start}) - year(birth_date) - CASE WHEN strftime(birth_date, '%m%d') > '0101' THEN 1 ELSE 0 END)"
    bands = []
    for i, band in enumerate(age_bands):
        upper = f" AND {jan1_age} < {age_bands[i + 1]['min_age']}" if i + 1 < len(age_bands) else ""
        name = f"terminations_age_{band['min_age']}" + (f"_{age_bands[i + 1]['min_age'] - 1}" if upper else "_plus")
        bands.append(f"count(*) FILTER (WHERE termination_date BETWEEN {start} AND {end} "
                     f"AND {jan1_age} >= {band['min_age']}{upper}) AS {name}")
    return f"""
        SELECT count(*) FILTER (WHERE {active}) AS headcount,
               count(*) FILTER (WHERE hire_date BETWEEN {start} AND {end}) AS hires,
               count(*) FILTER (WHERE termination_date BETWEEN {start} AND {end}) AS terminations,
               {', '.join(bands)},
               coalesce(sum(annual_compensation::DOUBLE) FILTER (WHERE {active}), 0) AS payroll,
               avg(annual_compensation::DOUBLE) FILTER (WHERE {active}) AS average_pay,
               avg((deferral_rate > 0)::INTEGER) FILTER (WHERE {active}) AS participation,
               avg(deferral_rate::DOUBLE) FILTER (WHERE {active} AND deferral_rate > 0) AS average_deferral
        FROM {table}"""


def _metrics(con: duckdb.DuckDBPyConnection, table: str, year: int, age_bands: list[dict]) -> dict[str, float]:
    cur = con.execute(metrics_sql(table, year, age_bands))
    (row,) = cur.fetchall()  # fetchall: DuckDB 2 keeps a half-read result open on the connection
    return {d[0]: (float(v) if v is not None else float("nan")) for d, v in zip(cur.description, row)}


def split(snapshots: list[Snapshot], holdout: int) -> tuple[list[Snapshot], list[Snapshot]]:
    if holdout < 1:
        raise HistoryError(f"--holdout {holdout}: hold out at least one year")
    if len(snapshots) - holdout < 2:
        raise HistoryError(f"{len(snapshots)} snapshots with {holdout} held out leave {len(snapshots) - holdout} "
                           "to fit on: the fit needs at least 2")
    fitted, held = snapshots[:-holdout], snapshots[-holdout:]
    for snap in [fitted[-1], *held]:
        if (snap.date.month, snap.date.day) != (12, 31):
            raise HistoryError(f"snapshot {snap.path} is dated {snap.date.isoformat()}: a backtest simulates "
                               "calendar plan years, so the last fitted and the held-out snapshots must be Dec 31")
    return fitted, held


def drawn_assumptions(result: FitResult, rng: np.random.Generator) -> dict:
    """The fitted overrides with every fitted estimate redrawn from its sampling distribution:
    normal with the 95% interval's standard error (log-normal for the multipliers), kept at or
    above 0 (growth excepted) and probabilities below 1. A replicate that draws its assumptions so
    carries the estimates' uncertainty as well as the simulation's own randomness into the range
    it is scored against."""
    fitted = copy.deepcopy(result.fitted)
    touched: set[tuple[str, str]] = set()  # (section, scenario key) of every redrawn value
    for e in result.estimates:
        if e.status != "fitted" or e.path is None or e.low is None or e.high is None or e.high <= e.low:
            continue
        *parents, leaf = e.path
        container = fitted
        for part in parents:
            container = container[part]
        key = e.path[1]
        if leaf == "multiplier":
            value = e.value * float(np.exp(rng.normal(0.0, (np.log(e.high) - np.log(e.low)) / (2 * Z95))))
        else:
            value = e.value + float(rng.normal(0.0, (e.high - e.low) / (2 * Z95)))
            if key != "target_growth_rate":  # growth may be negative; no other fitted value may
                value = max(value, 0.0)
            if key not in ("promotion_raise", "merit_rates"):
                value = min(value, 0.999)  # a probability, a share or the growth rate
        container[leaf] = round(value, 6)
        touched.add((e.path[0], key))
    mix = fitted["workforce"]["new_hire_level_mix"]
    total = sum(mix)
    mix[:] = [round(m / total, 6) for m in mix]
    mix[int(np.argmax(mix))] += round(1.0 - sum(mix), 6)
    out = copy.deepcopy(result.overrides)
    for section, key in touched:
        out.setdefault(section, {})[key] = fitted[section][key]
    return out


def backtest_config(raw: dict, result: FitResult, fitted: list[Snapshot], holdout: int, replicates: int,
                    name: str, parameter_uncertainty: bool = True) -> dict:
    """The base config with one scenario per replicate: the fitted assumptions (each replicate's
    own draw of them, with ``parameter_uncertainty``), from the last fitted snapshot through the
    held-out years, each with its own seed."""
    one = fitted_config(raw, result, fitted, scenario_id="_", years=holdout)
    template = one["scenarios"].pop("_")
    one["scenarios"] = {}
    for r in range(1, replicates + 1):
        scenario = {**copy.deepcopy(template), "random_seed": REPLICATE_SEED_BASE + r}
        if parameter_uncertainty:
            drawn = drawn_assumptions(result, np.random.default_rng(REPLICATE_SEED_BASE + r))
            scenario["workforce"] = drawn["workforce"]
            if drawn.get("plan_design"):
                scenario["plan_design"] = drawn["plan_design"]
        one["scenarios"][replicate_id(name, r)] = scenario
    return one


def replicate_id(name: str, r: int) -> str:
    return f"{name}_r{r:02d}"


def score(snapshots_held: list[Snapshot], results: Path, name: str, replicates: int,
          age_bands: list[dict]) -> list[Score]:
    from plansim.phases import EXPORTS

    con = duckdb.connect()
    out: list[Score] = []
    try:
        for snap in snapshots_held:
            year = snap.date.year
            con.register("actual", snap.rows)
            actual = _metrics(con, "actual", year, age_bands)
            sims = []
            for r in range(1, replicates + 1):
                parquet = results / replicate_id(name, r) / str(year) / f"{EXPORTS['plan']['snapshot']}.parquet"
                con.execute(f"CREATE OR REPLACE TEMP VIEW simulated AS {simulated_snapshot_sql(str(parquet))}")
                sims.append(_metrics(con, "simulated", year, age_bands))
            con.unregister("actual")
            for metric in actual:
                values = np.array([s[metric] for s in sims], dtype=float)
                p5, p50, p95 = (float(np.percentile(values, q)) for q in (PERCENTILES[0], 50, PERCENTILES[1]))
                a = actual[metric]
                out.append(Score(year, metric, a, p50, p5, p95, p50 - a, (p50 - a) / a if a else None,
                                 bool(p5 - 1e-9 <= a <= p95 + 1e-9), bool(np.ptp(values) == 0)))
    finally:
        con.close()
    return out


def _fmt(metric: str, v: float | None) -> str:
    if v is None or v != v:
        return ""
    if metric in ("participation", "average_deferral"):
        return f"{v:.2%}"
    if metric in ("payroll", "average_pay"):
        return f"{v:,.0f}"
    return f"{v:,.0f}"


def _rows(scores: list[Score]) -> list[list[str]]:
    rows = []
    for s in scores:
        band = "deterministic" if s.deterministic else f"{_fmt(s.metric, s.p5)} to {_fmt(s.metric, s.p95)}"
        rows.append([str(s.year), s.metric, _fmt(s.metric, s.actual), _fmt(s.metric, s.predicted), band,
                     _fmt(s.metric, s.error), "" if s.error_pct is None else f"{s.error_pct:+.2%}",
                     "yes" if s.inside else "NO"])
    return rows


HEADER = ["year", "metric", "actual", "predicted (median)", "P5 to P95", "error", "error %", "inside P5-P95"]


def _uncertainty(meta: dict) -> str:
    return ("each replicate draws its assumptions from the fit's intervals, so the range holds the estimates' "
            "uncertainty as well as the simulation's randomness" if meta["parameter_uncertainty"]
            else "every replicate uses the fitted values: the range is the simulation's randomness alone")


def scorecard_markdown(scores: list[Score], meta: dict) -> str:
    inside = sum(s.inside for s in scores)
    lines = ["# plansim backtest", "",
             f"Fitted on {meta['fitted_from']} to {meta['fitted_to']} ({meta['fitted_snapshots']} snapshots); "
             f"held out {', '.join(map(str, meta['held_out_years']))}; {meta['replicates']} replicates "
             f"(seeds {REPLICATE_SEED_BASE + 1}-{REPLICATE_SEED_BASE + meta['replicates']}); {_uncertainty(meta)}.", "",
             f"**{inside} of {len(scores)} actual figures inside the replicates' P5-P95 range.**", "",
             "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(r) + " |" for r in _rows(scores)]
    return "\n".join(lines) + "\n"


def scorecard_html(scores: list[Score], meta: dict) -> str:
    inside = sum(s.inside for s in scores)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADER)
    body = "".join(
        "<tr" + (' class="miss"' if r[-1] == "NO" else "") + ">" + "".join(f"<td>{html.escape(c)}</td>" for c in r)
        + "</tr>" for r in _rows(scores))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>plansim backtest</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:right}}tr.miss td{{background:#fde2e1}}</style></head>
<body><h1>plansim backtest</h1>
<p>Fitted on {html.escape(meta['fitted_from'])} to {html.escape(meta['fitted_to'])}
({meta['fitted_snapshots']} snapshots); held out {html.escape(', '.join(map(str, meta['held_out_years'])))};
{meta['replicates']} replicates; {html.escape(_uncertainty(meta))}.</p>
<p id="summary"><strong>{inside} of {len(scores)}</strong> actual figures inside the replicates' P5-P95 range.</p>
<table id="scores"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></body></html>
"""


def write_scorecard(out_dir: Path, scores: list[Score], meta: dict) -> dict[str, Path]:
    paths = {"markdown": out_dir / "scorecard.md", "html": out_dir / "scorecard.html",
             "json": out_dir / "scorecard.json"}
    write_text(paths["markdown"], scorecard_markdown(scores, meta))
    write_text(paths["html"], scorecard_html(scores, meta))
    rows = [{k: (None if isinstance(v, float) and v != v else v) for k, v in asdict(s).items()} for s in scores]
    write_text(paths["json"], json.dumps({**meta, "scores": rows}, indent=2, allow_nan=False) + "\n")
    return paths


def prepare(snapshots: list[Snapshot], raw: dict, scn: dict, holdout: int, replicates: int, name: str,
            out_dir: Path, parameter_uncertainty: bool = True) -> tuple[dict, list[Snapshot], list[Snapshot], FitResult, Path]:
    """Fit on the early snapshots and write the replicates' config; returns what the run needs."""
    from plansim.config import resolve_config
    from plansim.fit import write_outputs

    if replicates < 2:
        raise HistoryError(f"--replicates {replicates}: a P5-P95 range needs at least 2 replicates")
    fitted_snaps, held = split(snapshots, holdout)
    result = fit(fitted_snaps, scn)
    write_outputs(out_dir, raw, result, fitted_snaps)
    cfg = backtest_config(raw, result, fitted_snaps, holdout, replicates, name, parameter_uncertainty)
    resolve_config(cfg, ".", "the backtest config")
    config_path = out_dir / "backtest_config.yaml"
    write_text(config_path, yaml.safe_dump(cfg, sort_keys=False))
    meta = {"fitted_from": fitted_snaps[0].date.isoformat(), "fitted_to": fitted_snaps[-1].date.isoformat(),
            "fitted_snapshots": len(fitted_snaps), "held_out_years": [s.date.year for s in held],
            "replicates": replicates, "parameter_uncertainty": parameter_uncertainty,
            "scenarios": list(cfg["scenarios"])}
    return meta, fitted_snaps, held, result, config_path


def targets(meta: dict, results: str) -> list[str]:
    last = meta["held_out_years"][-1]
    return [f"{results}/{sid}/{last}/done" for sid in meta["scenarios"]]
