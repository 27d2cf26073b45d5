"""A phase of a simulation year: one ``dbt build`` with a tag selector, the phase's gates,
then atomic exports of its models for the year and a marker JSON (timings, counts)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from plansim import gates
from plansim.config import dbt_vars, year_scenario
from plansim.db import connect
from plansim.dbt_runner import invoke, scenario_paths
from plansim.state_files import export_model

RESULTS = "results"

EXPORTS = {
    "workforce": {
        "workforce_state": "int_year_end_workforce_state",
        "needs": "int_workforce_needs",
        "compensation": "int_employee_compensation_by_year",
    },
    "plan": {
        "deferral_state": "int_year_end_deferral_state",
        "accumulator": "int_deferral_rate_state_accumulator",
        "contributions": "int_employee_contributions",
        "events": "fct_yearly_events",
        "snapshot": "fct_workforce_snapshot",
        "balances": "int_employee_balances",
        "year_end_balances": "int_year_end_balances",
        "compliance": "fct_compliance_tests",
        "nondiscrimination": "int_nondiscrimination_ratios",
    },
}


# The files year N reads from year N-1 (the staged census in the start year), in the order
# dbt_vars takes them: starting workforce, prior deferral state, prior balances, prior
# compliance tests (the prior-year ADP/ACP testing method's NHCE averages).
HANDOVER_MODELS = ("int_year_end_workforce_state", "int_year_end_deferral_state", "int_year_end_balances",
                   "fct_compliance_tests")
# The dbt var through which the next year's staging model reads each of them.
HANDOVER_VARS = dict(zip(HANDOVER_MODELS, ("starting_workforce_file", "prior_deferral_state_file",
                                           "prior_balances_file", "prior_compliance_file")))


def handover_files(scn: dict, year: int, results: str = RESULTS) -> tuple[str, ...]:
    """The :data:`HANDOVER_MODELS` files ``year`` reads, absolute paths (the staged census in the start year)."""
    sid = scn["scenario_id"]
    if year == scn["start_year"]:
        staged = str(Path(results, sid, "staged_census.parquet").resolve())
        return (staged,) * len(HANDOVER_MODELS)
    prev = Path(results, sid, str(year - 1)).resolve()
    return tuple(str(prev / f"{model}.parquet") for model in HANDOVER_MODELS)


def year_vars(scn: dict, year: int, results: str = RESULTS) -> dict:
    return dbt_vars(scn, year, *handover_files(scn, year, results))


def run_phase(scn: dict, year: int, phase: str, selector: str, outputs: dict[str, str], log,
              results: str = RESULTS, manifest: str | Path | None = None) -> dict:
    """``manifest``: the scenario's parsed manifest (the pre-flight's), or None to parse."""
    sid, pid = scn["scenario_id"], year_scenario(scn, year)["plan_design_id"]  # the rows' design: the year's
    paths = scenario_paths(results, sid)
    what = f"scenario {sid}, year {year}, {phase} phase"
    started = time.perf_counter()
    if phase == "plan":
        with connect(paths["database"], log=log) as con:
            gates.require_workforce_year(con, sid, pid, year, paths["database"])
    log(f"{what}: dbt build --selector {selector}")
    # Unit tests (formula checks on hand-built rows) run once per scenario in the pre-flight.
    outcome = invoke(["build", "--selector", selector, "--exclude-resource-type", "unit_test"], database=paths["database"], target_path=paths["target"],
                     log_path=paths["logs"], dbt_vars=year_vars(scn, year, results),
                     threads=scn["dbt_threads"], what=what, log=log, manifest=manifest)
    rows = {}
    with connect(paths["database"], log=log) as con:
        if phase == "workforce":
            gates.check_headcount(con, sid, pid, year)
        else:
            gates.check_accumulator(con, sid, pid, year, scn["start_year"],
                                    handover_files(scn, year, results)[1])
        for name, model in EXPORTS[phase].items():
            rows[model] = export_model(con, model, outputs[name], scenario_id=sid, plan_design_id=pid, year=year)
    report = {"scenario_id": sid, "plan_design_id": pid, "simulation_year": year, "phase": phase,
              "selector": selector, "threads": scn["dbt_threads"], "dbt": outcome.as_dict(), "rows": rows,
              "seconds": round(time.perf_counter() - started, 3)}
    log(f"{what}: done in {report['seconds']}s; rows {rows}")
    return report


def write_json(path: str | Path, data: dict) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    tmp.replace(path)
