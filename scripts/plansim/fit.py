"""``plansim fit``: the workforce and enrollment assumptions of a scenario, estimated from the
employer's own annual census snapshots (plansim.history).

Consecutive snapshots are linked by employee_id; for each plan year between two of them every
person is classified (stayed, terminated, hired, new hire terminated, promoted, raised, enrolled,
opted out, changed rate) and the parameters the simulation consumes are estimated from the
people exposed to each event. Each estimate carries its exposure, its event count and a 95%
interval; a cell too thin to estimate (fewer than :data:`MIN_EXPOSURE` people exposed or
:data:`MIN_EVENTS` events) keeps the base config's value and says so. docs/fit.md gives every
estimator and why it was chosen.

The termination multipliers are fitted by maximum likelihood on the exact model the simulation
samples from. Experienced terminations are a weighted sample without replacement
(Efraimidis-Spirakis), in which a person of weight w is chosen with probability 1 - exp(-w t) for
the year's threshold t; retirements are drawn before, independently, with the base config's
age probabilities r (the census carries no termination reason, so retirement is not fitted). A
person active on Jan 1 therefore leaves with probability 1 - (1 - r) exp(-exp(eta)), eta = log t
+ log(age multiplier) + log(tenure multiplier) + log(level multiplier). With r = 0 this is the
complementary log-log binomial model; the known retirement hazard -log(1 - r) adds to the
termination hazard, which no GLM link or offset expresses, so the model is fitted here by Fisher
scoring (a dozen lines of numpy) rather than with a GLM library.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import yaml

from plansim.atomic import write_text
from plansim.history import Snapshot, connect

MIN_EXPOSURE = 30   # fewer people exposed: the cell keeps the base config's value
MIN_EVENTS = 10     # fewer events in a termination-multiplier band: the band keeps its base value
Z95 = 1.959963984540054
# two-sided 95% Student t quantiles by degrees of freedom (growth over 1-4 intervals)
T95 = {1: 12.706204736, 2: 4.302652730, 3: 3.182446305, 4: 2.776445105}


@dataclass
class Estimate:
    key: str                    # where the value goes in a scenario, e.g. workforce.promotion_rates[2]
    value: float | None         # what the fitted scenario uses (the base value unless fitted; None: see note)
    low: float | None = None    # 95% interval
    high: float | None = None
    exposure: int = 0           # people (or person-years) exposed
    events: int | None = None
    status: str = "fitted"      # fitted | base (kept: too thin, or not identifiable here)
    base: float | None = None   # the base config's value
    note: str = ""
    # where the value sits in a scenario's overrides, e.g. ["workforce", "promotion_rates", 2] or
    # [..., "termination_age_multipliers", 1, "multiplier"]; set on every fitted estimate with an interval
    path: list[str | int] | None = None


@dataclass
class FitResult:
    snapshots: list[tuple[str, str]]
    intervals: list[dict]               # per plan year between snapshots: the event counts
    estimates: list[Estimate] = field(default_factory=list)
    overrides: dict = field(default_factory=dict)   # scenario overrides: workforce + plan_design
    fitted: dict = field(default_factory=dict)      # the same keys in full (every value the fit touched)

    def to_json(self) -> dict:
        return {"snapshots": [{"file": f, "date": d} for f, d in self.snapshots], "intervals": self.intervals,
                "estimates": [asdict(e) for e in self.estimates], "overrides": self.overrides}


# --------------------------------------------------------------------------- small statistics
def wilson(events: int, n: int) -> tuple[float | None, float | None]:
    """95% Wilson score interval of a proportion (sound near 0 and 1, unlike p +- z se)."""
    if n <= 0:
        return None, None
    p = events / n
    denom = 1 + Z95 ** 2 / n
    centre = (p + Z95 ** 2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95 ** 2 / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_interval(values: np.ndarray) -> tuple[float, float | None, float | None]:
    n = len(values)
    mean = float(values.mean())
    if n < 2:
        return mean, None, None
    half = Z95 * float(values.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half


def fit_leaving_model(n: np.ndarray, y: np.ndarray, retire_hazard: np.ndarray, X: np.ndarray,
                      offset: np.ndarray, n_intercepts: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Maximum likelihood for P(leave) = 1 - exp(-(h + exp(X b + offset))) on grouped binomial
    data (n people, y leavers, h = -log(1 - r) known); the first ``n_intercepts`` columns of X
    are the intercepts (one per year). Returns (b, covariance of b).
    Fisher scoring: the expected information of a cell is n (dP/deta)^2 / (P (1 - P))."""
    rate = max(min(y.sum() / n.sum(), 0.999), 1e-6)
    beta = np.zeros(X.shape[1])
    beta[:n_intercepts] = math.log(-math.log(1 - rate))
    for _ in range(200):
        eta = X @ beta + offset
        lam = np.exp(eta)
        surv = np.exp(-(retire_hazard + lam))
        p = np.clip(1 - surv, 1e-12, 1 - 1e-12)
        dp = lam * surv
        score = X.T @ (y * dp / p - (n - y) * lam)
        info = (X * (n * dp * dp / (p * (1 - p)))[:, None]).T @ X
        step = np.linalg.solve(info, score)
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta, np.linalg.inv(info)


# --------------------------------------------------------------------------- SQL pieces
def _band_case(bands: list[dict], bound: str, expr: str) -> str:
    """The index (0-based) of the band ``expr`` falls in: bands apply from their bound up."""
    whens = " ".join(f"WHEN {expr} >= {_num(b[bound])} THEN {i}" for i, b in reversed(list(enumerate(bands))))
    return f"(CASE {whens} ELSE 0 END)"


def _years_between(a: str, b: str) -> str:
    return f"(year({b}) - year({a}) - CASE WHEN strftime({a}, '%m%d') > strftime({b}, '%m%d') THEN 1 ELSE 0 END)"


def _level_expr(wf: dict, row: str) -> str:
    """``row``'s job_level, or (where blank) the highest level whose pay band minimum is at most
    the pay, as the census staging of the simulation decides it."""
    mins = [band[0] for band in wf["compensation_bands"]]
    whens = " ".join(f"WHEN {row}.annual_compensation >= {_num(m)} THEN {i + 1}"
                     for i, m in reversed(list(enumerate(mins))))
    return f"coalesce({row}.job_level, CASE {whens} ELSE 1 END)"


def _eligibility_expr(design: dict, row: str) -> str:
    return (f"greatest({row}.hire_date + {int(design['eligibility_waiting_days'])}, "
            f"({row}.birth_date + to_years({int(design['eligibility_minimum_age'])}))::date)")


def _num(value: float) -> str:
    """A config number as a SQL literal (a float's repr is valid SQL; anything else fails here)."""
    return repr(float(value))


def _linked_sql(scn: dict) -> str:
    """One row per person active at the start of an interval (snapshot k) with what the next
    snapshot says of them."""
    wf, design = scn["workforce"], scn["plan_design"]
    jan1 = "(a.snapshot_date + 1)"
    raise_date = f"make_date(year(a.snapshot_date) + 1, {int(wf['raise_effective_month'])}, 1)"
    rule_months = 12 if wf["merit_service_rule"] == "prorate" else int(wf["merit_cutoff_months"])
    return f"""
        SELECT a.k, a.snapshot_date AS start_date, a.employee_id, a.birth_date, a.hire_date,
               {_years_between('a.birth_date', jan1)} AS age,
               {_years_between('a.hire_date', jan1)} AS tenure,
               year(a.snapshot_date) + 1 - year(a.birth_date) AS age_attained,
               {_level_expr(wf, 'a')} AS level_start, {_level_expr(wf, 'b')} AS level_end,
               a.annual_compensation::DOUBLE AS pay_start, b.annual_compensation::DOUBLE AS pay_end,
               a.deferral_rate::DOUBLE AS rate_start, b.deferral_rate::DOUBLE AS rate_end,
               b.enrollment_date AS enrollment_end,
               {_eligibility_expr(design, 'a')} AS eligibility_date,
               b.employee_id IS NOT NULL AS seen,
               coalesce(b.is_active, false) AS stayed,
               b.termination_date AS termination_date,
               {raise_date} AS raise_date,
               a.hire_date <= {raise_date} - to_months({rule_months}) AS full_merit,
               -- employed on the raise date (a leaver after it had the year's promotion and raise)
               b.employee_id IS NOT NULL AND (b.is_active OR b.termination_date >= {raise_date}) AS on_raise_date
        FROM snap a
        LEFT JOIN snap b ON b.k = a.k + 1 AND b.employee_id = a.employee_id
        WHERE a.is_active AND a.k < (SELECT max(k) FROM snap)"""


def _hires_sql(scn: dict) -> str:
    wf, design = scn["workforce"], scn["plan_design"]
    return f"""
        SELECT b.k - 1 AS k, b.employee_id, b.hire_date, b.is_active, b.deferral_rate::DOUBLE AS rate_end,
               b.annual_compensation,
               {_level_expr(wf, 'b')} AS level, {_years_between('b.birth_date', 'b.hire_date')} AS age_at_hire,
               {_eligibility_expr(design, 'b')} AS eligibility_date, b.snapshot_date AS end_date
        FROM snap b
        WHERE b.k > 0
          AND b.hire_date > (SELECT max(snapshot_date) FROM snap p WHERE p.k = b.k - 1)
          AND NOT EXISTS (SELECT 1 FROM snap p WHERE p.k = b.k - 1 AND p.employee_id = b.employee_id)"""


# --------------------------------------------------------------------------- the fit
def fit(snapshots: list[Snapshot], scn: dict) -> FitResult:
    """Estimate the assumptions of ``scn`` (a resolved base scenario: its bands, plan design and
    everything not estimated) from ``snapshots`` (oldest first, already checked)."""
    con = connect(snapshots)
    try:
        con.execute(f"CREATE TABLE linked AS {_linked_sql(scn)}")
        con.execute(f"CREATE TABLE hires AS {_hires_sql(scn)}")
        result = FitResult([(str(s.path), s.date.isoformat()) for s in snapshots], _intervals(con, snapshots))
        wf_base, design = scn["workforce"], scn["plan_design"]
        wf = copy.deepcopy(wf_base)
        est = result.estimates
        _fit_growth(con, wf, est)
        _fit_terminations(con, scn, wf, est)
        _fit_new_hire_terminations(con, wf, est)
        _fit_pay(con, wf, est)
        _fit_hire_mix(con, wf, est)
        _fit_hire_pay(con, wf, est, snapshots[-1].date.year + 1)
        plan, plan_full = _fit_enrollment(con, design, est)
        result.overrides = {"workforce": {k: v for k, v in wf.items() if v != wf_base.get(k)},
                            "plan_design": plan}
        result.fitted = {"workforce": wf, "plan_design": plan_full}
        return result
    finally:
        con.close()


def _intervals(con: duckdb.DuckDBPyConnection, snapshots: list[Snapshot]) -> list[dict]:
    rows = con.execute("""
        WITH l AS (SELECT * FROM linked), h AS (SELECT * FROM hires)
        SELECT k,
               count(*) AS active_at_start,
               count(*) FILTER (WHERE stayed) AS stayed,
               count(*) FILTER (WHERE NOT stayed) AS terminated,
               count(*) FILTER (WHERE NOT seen) AS terminated_date_unknown,
               count(*) FILTER (WHERE stayed AND level_end > level_start) AS promoted,
               count(*) FILTER (WHERE stayed AND level_end = level_start AND pay_end > pay_start) AS raised,
               count(*) FILTER (WHERE seen AND rate_start = 0 AND rate_end > 0) AS enrolled,
               count(*) FILTER (WHERE seen AND rate_start > 0 AND rate_end = 0) AS opted_out,
               count(*) FILTER (WHERE seen AND rate_start > 0 AND rate_end > 0 AND rate_end <> rate_start)
                   AS changed_rate,
               (SELECT count(*) FROM h WHERE h.k = l.k) AS hired,
               (SELECT count(*) FROM h WHERE h.k = l.k AND NOT h.is_active) AS new_hires_terminated,
               (SELECT count(*) FROM snap s WHERE s.k = l.k + 1 AND s.is_active) AS active_at_end
        FROM l GROUP BY k ORDER BY k""").fetchall()
    names = [d[0] for d in con.description]
    out = []
    for row in rows:
        item = dict(zip(names, row))
        k = item.pop("k")
        item = {"from": snapshots[k].date.isoformat(), "to": snapshots[k + 1].date.isoformat(), **item}
        out.append({key: (int(v) if isinstance(v, (int, np.integer)) else v) for key, v in item.items()})
    return out


def _fit_growth(con, wf, est) -> None:
    rows = con.execute("""
        SELECT k, count(*) FILTER (WHERE is_active) FROM snap GROUP BY k ORDER BY k""").fetchall()
    counts = [c for _, c in rows]
    ratios = np.array([b / a - 1 for a, b in zip(counts, counts[1:])])
    mean = float(ratios.mean())
    low = high = None
    if len(ratios) >= 2:
        half = T95[len(ratios) - 1] * float(ratios.std(ddof=1)) / math.sqrt(len(ratios))
        low, high = mean - half, mean + half
    est.append(Estimate("workforce.target_growth_rate", round(mean, 6), low, high, exposure=int(sum(counts[:-1])),
                        path=["workforce", "target_growth_rate"],
                        base=wf["target_growth_rate"],
                        note=f"mean of {len(ratios)} yearly active-headcount changes"
                             + ("; t interval over the years" if low is not None else "; one year: no interval")))
    wf["target_growth_rate"] = round(mean, 6)


def _retire_probability(scn: dict) -> tuple[str, str]:
    """SQL for the base config's retirement probability by age attained, and for 'retires for
    certain' (max_age)."""
    ret = scn["workforce"]["retirement"]
    if not ret["enabled"]:
        return "0.0", "false"
    whens = " ".join(f"WHEN age_attained >= {_num(b['min_age'])} THEN {_num(b['probability'])}"
                     for b in reversed(ret["age_probabilities"]))
    return f"(CASE {whens} ELSE 0.0 END)", f"(age_attained >= {int(ret['max_age'])})"


def _fit_terminations(con, scn, wf, est) -> None:
    base = scn["workforce"]
    factors = [("termination_age_multipliers", "min_age", _band_case(base["termination_age_multipliers"], "min_age", "age")),
               ("termination_tenure_multipliers", "min_years",
                _band_case(base["termination_tenure_multipliers"], "min_years", "tenure")),
               ("termination_level_multipliers", None, "(level_start - 1)")]
    r_sql, certain_sql = _retire_probability(scn)
    cells = con.execute(f"""
        SELECT k, {factors[0][2]} AS f0, {factors[1][2]} AS f1, {factors[2][2]} AS f2, {r_sql} AS r,
               count(*) AS n, count(*) FILTER (WHERE NOT stayed) AS y
        FROM linked WHERE NOT {certain_sql}
        GROUP BY ALL ORDER BY ALL""").fetchnumpy()
    totals = con.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE {certain_sql} AND NOT stayed),
               count(*) FILTER (WHERE NOT {certain_sql} AND NOT stayed), sum({r_sql}) FILTER (WHERE NOT {certain_sql})
        FROM linked""").fetchone()
    start, certain_leavers, leavers, expected_retirements = totals[0], totals[1], totals[2], float(totals[3] or 0)
    # a year in which no one (or everyone) left says nothing about who leaves: its threshold is
    # at the edge of the parameter space, so its rows stay out of the multiplier model
    informative = {k for k in set(cells["k"]) if 0 < cells["y"][cells["k"] == k].sum() < cells["n"][cells["k"] == k].sum()}
    keep = np.isin(cells["k"], list(informative))
    cells = {c: np.asarray(v)[keep] for c, v in cells.items()}
    n, y, r = (np.asarray(cells[c], dtype=float) for c in ("n", "y", "r"))

    # experienced terminations = round(start x rate): the leavers less the retirements expected
    experienced = max(0.0, leavers - expected_retirements)
    rate = experienced / start
    low, high = wilson(round(experienced), start)
    est.append(Estimate("workforce.termination_rate", round(rate, 6), low, high, exposure=int(start),
                        path=["workforce", "termination_rate"],
                        events=round(experienced), base=base["termination_rate"],
                        note=f"{leavers + certain_leavers} leavers among {start} active at the start of a year, less "
                             f"{certain_leavers} at retirement.max_age and {expected_retirements:.1f} retirements "
                             "expected from retirement.age_probabilities (base config)"))
    wf["termination_rate"] = round(rate, 6)

    # design: an intercept per year (each year's sample has its own threshold t), then one
    # indicator per fitted non-reference band of each factor
    years = np.asarray(cells["k"], dtype=int)
    columns, offset = [(years == k).astype(float) for k in sorted(set(years))], np.zeros_like(n)
    plan = []  # per factor: (name, bound key, bands, reference, {band: column index | None})
    for f, (name, bound, _) in enumerate(factors):
        values = base[name]
        weights = [b["multiplier"] for b in values] if bound else list(values)
        codes = np.asarray(cells[f"f{f}"], dtype=int)
        exposure = [float(n[codes == j].sum()) for j in range(len(weights))]
        events = [float(y[codes == j].sum()) for j in range(len(weights))]
        ref = int(np.argmax(exposure))
        where: dict[int, int | None] = {}
        for j in range(len(weights)):
            if j == ref:
                continue
            if exposure[j] >= MIN_EXPOSURE and events[j] >= MIN_EVENTS:
                where[j] = len(columns)
                columns.append((codes == j).astype(float))
            else:  # too thin: the band keeps its base weight relative to the reference
                where[j] = None
                offset += (codes == j) * (math.log(weights[j] / weights[ref]) if weights[j] > 0 and weights[ref] > 0
                                          else 0.0)
        plan.append((name, bound, values, weights, ref, where, exposure, events))
    X = np.column_stack(columns) if len(n) else np.zeros((0, 1))
    beta = cov = None
    if len(n) and X.shape[1] > len(set(years)):
        try:
            beta, cov = fit_leaving_model(n, y, -np.log1p(-r), X, offset, n_intercepts=len(set(years)))
        except np.linalg.LinAlgError:  # collinear bands (e.g. one level only): keep the base weights
            beta = cov = None
    if beta is None:
        for entry in plan:
            entry[5].update({j: None for j in entry[5]})

    for name, bound, values, weights, ref, where, exposure, events in plan:
        fitted = []
        for j, w in enumerate(weights):
            key = f"workforce.{name}[{j}]"
            label = (f" ({bound} {values[j][bound]})" if bound else f" (level {j + 1})")
            if j == ref:
                value, low, high, status = w, None, None, "fitted"
                note = "reference band (most exposure): keeps its base value; the others are fitted relative to it"
            elif where[j] is None:
                value, low, high, status = w, None, None, "base"
                note = (f"too thin ({int(exposure[j])} exposed, {int(events[j])} leavers; needs {MIN_EXPOSURE} and "
                        f"{MIN_EVENTS}): base value")
            else:
                b, se = beta[where[j]], math.sqrt(cov[where[j], where[j]])
                value = round(weights[ref] * math.exp(b), 6)
                low, high = weights[ref] * math.exp(b - Z95 * se), weights[ref] * math.exp(b + Z95 * se)
                status, note = "fitted", ""
            est.append(Estimate(key + label, value, low, high, exposure=int(exposure[j]), events=int(events[j]),
                                status=status, base=w, note=note,
                                path=["workforce", name, j, *(["multiplier"] if bound else [])]))
            fitted.append(value)
        wf[name] = ([{bound: v[bound], "multiplier": m} for v, m in zip(values, fitted)] if bound else fitted)


def _fit_new_hire_terminations(con, wf, est) -> None:
    hired, left = con.execute("SELECT count(*), count(*) FILTER (WHERE NOT is_active) FROM hires").fetchone()
    base = wf["new_hire_termination_rate"]
    if hired < MIN_EXPOSURE:
        est.append(Estimate("workforce.new_hire_termination_rate", base, exposure=hired, events=left, status="base",
                            base=base, note="too few hires"))
        return
    if left == 0:
        # a history without the year's leavers cannot show a hire who left within the year
        est.append(Estimate("workforce.new_hire_termination_rate", base, exposure=hired, events=0, status="base",
                            base=base, note="no hire left within the year: the snapshots have no leavers' rows "
                                            "(termination_date), so new-hire turnover is not visible"))
        return
    low, high = wilson(left, hired)
    est.append(Estimate("workforce.new_hire_termination_rate", round(left / hired, 6), low, high, exposure=hired,
                        path=["workforce", "new_hire_termination_rate"],
                        events=left, base=base, note="hires of a year who left before its end"))
    wf["new_hire_termination_rate"] = round(left / hired, 6)


def _fit_pay(con, wf, est) -> None:
    levels = len(wf["promotion_rates"])
    cola = wf["cola_rate"]
    base_promo, base_merit = list(wf["promotion_rates"]), list(wf["merit_rates"])
    promo, merit = list(base_promo), list(base_merit)
    for lv in range(1, levels + 1):
        key = f"workforce.promotion_rates[{lv - 1}] (level {lv})"
        if lv == levels:
            est.append(Estimate(key, 0.0, status="base", base=base_promo[lv - 1], note="top level: no promotion"))
            promo[lv - 1] = 0.0
            continue
        n, k = con.execute(f"""SELECT count(*), count(*) FILTER (WHERE level_end > level_start)
                               FROM linked WHERE on_raise_date AND level_start = {lv}""").fetchone()
        if n < MIN_EXPOSURE:
            est.append(Estimate(key, base_promo[lv - 1], exposure=n, events=k, status="base", base=base_promo[lv - 1],
                                note="too thin: base value"))
            continue
        low, high = wilson(k, n)
        promo[lv - 1] = round(k / n, 6)
        est.append(Estimate(key, promo[lv - 1], low, high, exposure=n, events=k, base=base_promo[lv - 1],
                            path=["workforce", "promotion_rates", lv - 1],
                            note="employed on the raise date, by level on Jan 1"))
    for lv in range(1, levels + 1):
        key = f"workforce.merit_rates[{lv - 1}] (level {lv})"
        raises = con.execute(f"""SELECT pay_end / pay_start - 1 FROM linked
                                 WHERE stayed AND full_merit AND level_end = level_start AND level_start = {lv}
                                   AND pay_start > 0""").fetchnumpy()
        values = next(iter(raises.values())) if raises else np.array([])
        values = np.asarray(values, dtype=float)
        if len(values) < MIN_EXPOSURE:
            est.append(Estimate(key, base_merit[lv - 1], exposure=len(values), status="base", base=base_merit[lv - 1],
                                note="too thin: base value"))
            continue
        mean, low, high = mean_interval(values)
        note = (f"stayers not promoted, full merit: mean raise {mean:.4%} less cola_rate {cola:g} (base config: "
                "snapshots cannot tell COLA from merit)")
        if mean - cola < 0:
            note += "; the raises are below the COLA, so merit is 0 (the engine has no pay cuts)"
        merit[lv - 1] = round(max(0.0, mean - cola), 6)
        est.append(Estimate(key, merit[lv - 1], None if low is None else max(0.0, low - cola),
                            None if high is None else max(0.0, high - cola), exposure=len(values),
                            base=base_merit[lv - 1], note=note, path=["workforce", "merit_rates", lv - 1]))
    est.append(Estimate("workforce.cola_rate", cola, status="base", base=cola,
                        note="not identifiable from year-end pay: every stayer gets merit + COLA together"))
    wf["promotion_rates"], wf["merit_rates"] = promo, merit
    # promotion raise: the promoted stayers' raise over the merit + COLA of their new level
    merit_sql = "CASE " + " ".join(f"WHEN level_end = {i + 1} THEN {_num(m)}" for i, m in enumerate(merit)) + " END"
    values = np.asarray(next(iter(con.execute(f"""
        SELECT (pay_end / pay_start) / (1 + {merit_sql} + {_num(cola)}) - 1 FROM linked
        WHERE stayed AND full_merit AND level_end = level_start + 1 AND pay_start > 0""").fetchnumpy().values())),
        dtype=float)
    base_raise = wf["promotion_raise"]
    if len(values) < MIN_EXPOSURE:
        est.append(Estimate("workforce.promotion_raise", base_raise, exposure=len(values), status="base",
                            base=base_raise, note="too few promotions: base value"))
    else:
        mean, low, high = mean_interval(values)
        wf["promotion_raise"] = round(mean, 6)
        est.append(Estimate("workforce.promotion_raise", wf["promotion_raise"], low, high, exposure=len(values),
                            path=["workforce", "promotion_raise"],
                            base=base_raise, note="promoted stayers: raise over their new level's merit + COLA"))


def _fit_hire_mix(con, wf, est) -> None:
    levels = len(wf["new_hire_level_mix"])
    counts = dict(con.execute("SELECT level, count(*) FROM hires GROUP BY level").fetchall())
    total = sum(counts.values())
    if total < MIN_EXPOSURE:
        est.append(Estimate("workforce.new_hire_level_mix", None, exposure=total, status="base",
                            note="too few hires: base mix"))
    else:
        mix = [round(counts.get(lv, 0) / total, 6) for lv in range(1, levels + 1)]
        mix[int(np.argmax(mix))] += round(1.0 - sum(mix), 6)  # shares sum to 1 exactly
        for lv in range(1, levels + 1):
            low, high = wilson(counts.get(lv, 0), total)
            est.append(Estimate(f"workforce.new_hire_level_mix[{lv - 1}] (level {lv})", round(mix[lv - 1], 6), low,
                                high, exposure=total, events=counts.get(lv, 0), base=wf["new_hire_level_mix"][lv - 1],
                                path=["workforce", "new_hire_level_mix", lv - 1]))
        wf["new_hire_level_mix"] = [round(m, 6) for m in mix]
    ages = [a["age"] for a in wf["new_hire_age_distribution"]]
    nearest = "CASE " + " ".join(
        f"WHEN age_at_hire < {_num((a + b) / 2)} THEN {int(a)}" for a, b in zip(ages, ages[1:])) + f" ELSE {int(ages[-1])} END"
    counts = dict(con.execute(f"SELECT {nearest}, count(*) FROM hires GROUP BY ALL").fetchall())
    if total >= MIN_EXPOSURE:
        dist = []
        for i, item in enumerate(wf["new_hire_age_distribution"]):
            c = counts.get(item["age"], 0)
            low, high = wilson(c, total)
            est.append(Estimate(f"workforce.new_hire_age_distribution[age {item['age']}]", round(c / total, 6), low,
                                high, exposure=total, events=c, base=item["weight"],
                                note="share of hires whose age at hire is nearest this age",
                                path=["workforce", "new_hire_age_distribution", i, "weight"]))
            dist.append({"age": item["age"], "weight": round(c / total, 6)})
        if any(d["weight"] > 0 for d in dist):
            wf["new_hire_age_distribution"] = dist


def _fit_hire_pay(con, wf, est, start_year: int) -> None:
    """new_hire_pay_growth_rate and the pay bands of hires, in the fitted scenario's start-year
    dollars (the engine grows the bands from its start_year on)."""
    growth = round(wf["cola_rate"] + sum(wf["merit_rates"]) / len(wf["merit_rates"]), 6)
    est.append(Estimate("workforce.new_hire_pay_growth_rate", growth, base=wf.get("new_hire_pay_growth_rate"),
                        note="cola_rate + mean of the fitted merit_rates (what the engine assumes when it is null)"))
    wf["new_hire_pay_growth_rate"] = growth
    raise_month = int(wf["raise_effective_month"])
    # a hire's pay at hire: the year-end pay without the COLA of a hire before the raise date
    # (merit needs merit_cutoff_months of service by then: not a hire of the year), grown to the
    # start year by the bands' growth
    rows = con.execute(f"""
        SELECT level, annual_compensation::DOUBLE
                      / CASE WHEN hire_date < make_date(year(hire_date), {raise_month}, 1) THEN 1 + {_num(wf['cola_rate'])} ELSE 1 END
                      * power(1 + {_num(growth)}, {int(start_year)} - year(end_date)) AS pay
        FROM hires""").fetchnumpy()
    bands = [list(b) for b in wf["compensation_bands"]]
    for lv in range(1, len(bands) + 1):
        pay = np.asarray(rows["pay"][rows["level"] == lv], dtype=float)
        key = f"workforce.compensation_bands[{lv - 1}] (level {lv})"
        if len(pay) < MIN_EXPOSURE:
            est.append(Estimate(key, None, exposure=len(pay), status="base",
                                note=f"too few hires at level {lv}: base band {bands[lv - 1]}"))
            continue
        # hire pay is drawn uniformly in the band: [a, b] from the hires' P5 and P95, which for a
        # uniform are a + 5% and a + 95% of the width (robust to a few outliers, unlike min/max)
        p5, p95 = np.percentile(pay, [5, 95])
        width = (p95 - p5) / 0.9
        band = [int(round(p5 - 0.05 * width)), int(round(p95 + 0.05 * width))]
        est.append(Estimate(key + " min", float(band[0]), exposure=len(pay), base=float(bands[lv - 1][0]),
                            note=f"{start_year} dollars: hires' pay at hire, uniform band from its P5 and P95"))
        est.append(Estimate(key + " max", float(band[1]), exposure=len(pay), base=float(bands[lv - 1][1]),
                            note=f"{start_year} dollars"))
        bands[lv - 1] = band
    wf["compensation_bands"] = bands


def _fit_enrollment(con, design, est) -> tuple[dict, dict]:
    """The plan-design overrides (what changed) and the fitted keys in full."""
    plan: dict = {}
    bands = design["voluntary_enrollment"]["age_bands"]
    band = _band_case(bands, "min_age", "age")
    rows = dict((int(b), (int(n), int(k))) for b, n, k in con.execute(f"""
        SELECT {band}, count(*), count(*) FILTER (WHERE rate_end > 0 OR enrollment_end > start_date)
        FROM linked WHERE seen AND rate_start = 0 AND eligibility_date <= start_date
        GROUP BY ALL""").fetchall())
    fitted = []
    for j, b in enumerate(bands):
        n, k = rows.get(j, (0, 0))
        key = f"plan_design.voluntary_enrollment.age_bands[{j}] (min_age {b['min_age']})"
        if n < MIN_EXPOSURE:
            est.append(Estimate(key, b["probability"], exposure=n, events=k, status="base", base=b["probability"],
                                note="too thin: base value"))
            fitted.append(b["probability"])
            continue
        low, high = wilson(k, n)
        fitted.append(round(k / n, 6))
        est.append(Estimate(key, fitted[-1], low, high, exposure=n, events=k, base=b["probability"],
                            note="eligible non-participants on Jan 1 who enrolled in the year",
                            path=["plan_design", "voluntary_enrollment", "age_bands", j, "probability"]))
    full = {"voluntary_enrollment": {"age_bands": [{"min_age": b["min_age"], "probability": p}
                                                   for b, p in zip(bands, fitted)]}}
    if fitted != [b["probability"] for b in bands]:
        plan["voluntary_enrollment"] = copy.deepcopy(full["voluntary_enrollment"])
    ae = design["auto_enrollment"]
    key = "plan_design.auto_enrollment.opt_out_rate"
    if not ae["enabled"]:
        est.append(Estimate(key, ae["opt_out_rate"], status="base", base=ae["opt_out_rate"],
                            note="the base plan design has no auto-enrollment: nothing to estimate it from"))
        return plan, full
    n, k = con.execute(f"""
        SELECT count(*), count(*) FILTER (WHERE rate_end = 0) FROM hires
        WHERE is_active AND eligibility_date + {int(ae['opt_out_window_days'])} < end_date""").fetchone()
    if n < MIN_EXPOSURE:
        est.append(Estimate(key, ae["opt_out_rate"], exposure=n, events=k, status="base", base=ae["opt_out_rate"],
                            note="too few auto-enrolled hires past the opt-out window"))
        return plan, full
    low, high = wilson(k, n)
    est.append(Estimate(key, round(k / n, 6), low, high, exposure=n, events=k, base=ae["opt_out_rate"],
                        path=["plan_design", "auto_enrollment", "opt_out_rate"],
                        note="hires eligible for auto-enrollment, past the opt-out window by the year end, "
                             "deferring nothing"))
    full["auto_enrollment"] = {"opt_out_rate": round(k / n, 6)}
    if round(k / n, 6) != ae["opt_out_rate"]:
        plan["auto_enrollment"] = {"opt_out_rate": round(k / n, 6)}
    return plan, full


# --------------------------------------------------------------------------- outputs
def fitted_config(raw: dict, result: FitResult, snapshots: list[Snapshot], scenario_id: str = "fitted",
                  years: int = 5) -> dict:
    """The base config (``raw``) with one scenario, ``scenario_id``: the fitted assumptions,
    simulated from the last snapshot on."""
    last = snapshots[-1]
    start = last.date.year + 1
    cfg = {k: copy.deepcopy(v) for k, v in raw.items() if k not in ("scenarios", "sweeps")}
    cfg["scenarios"] = {scenario_id: {
        "census": str(last.path.resolve()), "census_date": last.date.isoformat(),
        "start_year": start, "end_year": start + years - 1, **copy.deepcopy(result.overrides)}}
    if not cfg["scenarios"][scenario_id]["plan_design"]:
        del cfg["scenarios"][scenario_id]["plan_design"]
    return cfg


def _fmt(v: float | None, key: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if "multiplier" in key or "age_distribution" in key:
        return f"{v:.3f}"
    return f"{v:.2%}" if abs(v) < 1.5 else f"{v:,.2f}"


def report_markdown(result: FitResult) -> str:
    lines = ["# plansim fit", "", "Snapshots (oldest first):", ""]
    lines += [f"- `{f}` ({d})" for f, d in result.snapshots]
    lines += ["", "## What happened each year", "",
              "| year | active at start | stayed | terminated | hired | new hires terminated | promoted | raised | "
              "enrolled | opted out | changed rate | active at end |", "|" + "---|" * 12]
    for i in result.intervals:
        lines.append(f"| {i['from']} to {i['to']} | {i['active_at_start']} | {i['stayed']} | {i['terminated']} | "
                     f"{i['hired']} | {i['new_hires_terminated']} | {i['promoted']} | {i['raised']} | {i['enrolled']} | "
                     f"{i['opted_out']} | {i['changed_rate']} | {i['active_at_end']} |")
    lines += ["", "## Estimates", "",
              "Each with its 95% interval, the people exposed and the events seen. *base* = kept from the base "
              "config (too thin, or not identifiable from snapshots).", "",
              "| key | fitted | 95% interval | base config | exposed | events | status | note |",
              "|---|---|---|---|---|---|---|---|"]
    for e in result.estimates:
        ci = f"{_fmt(e.low, e.key)} to {_fmt(e.high, e.key)}" if e.low is not None else ""
        lines.append(f"| `{e.key}` | {_fmt(e.value, e.key)} | {ci} | {_fmt(e.base, e.key)} | {e.exposure} | "
                     f"{'' if e.events is None else e.events} | {e.status} | {e.note} |")
    return "\n".join(lines) + "\n"


def write_outputs(out_dir: Path, raw: dict, result: FitResult, snapshots: list[Snapshot],
                  scenario_id: str = "fitted") -> dict[str, Path]:
    from plansim.config import resolve_config

    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = fitted_config(raw, result, snapshots, scenario_id)
    resolve_config(cfg, ".", "the fitted config")  # what plansim writes, it must accept
    header = (f"# plansim fit from {len(snapshots)} snapshots ({snapshots[0].date} .. {snapshots[-1].date}):\n"
              f"# scenario {scenario_id} = the base config with the fitted assumptions (fit_report.md).\n")
    paths = {"config": out_dir / "fitted.yaml", "report": out_dir / "fit_report.md", "json": out_dir / "fit_report.json"}
    write_text(paths["config"], header + yaml.safe_dump(cfg, sort_keys=False))
    write_text(paths["report"], report_markdown(result))
    write_text(paths["json"], json.dumps(result.to_json(), indent=2, default=_json_default, allow_nan=False) + "\n")
    return paths


def _json_default(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value))
