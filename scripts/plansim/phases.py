"""A phase of a simulation year: one ``dbt build`` with a tag selector, the phase's gates,
then atomic exports of its models for the year and a marker JSON (timings, counts)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from plansim import gates
from plansim.atomic import write_text
from plansim.config import FILE_VARS, dbt_vars
from plansim.db import connect
from plansim.dbt_runner import invoke
from plansim.paths import RESULTS, model_file, scenario_paths, staged_census
from plansim.state_files import export_model

# The dbt selector (dbt/selectors.yml) of each phase, and what every phase build adds to it: the
# unit tests (formula checks on hand-built rows) run in the pre-flight (plansim.preflight).
SELECTORS = {"workforce": "workforce_year", "plan": "plan_year"}
PHASE_SELECTION = ("--exclude-resource-type", "unit_test")

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
HANDOVER_VARS = dict(zip(HANDOVER_MODELS, FILE_VARS))
# The phase rules' input names for them (rules/common.smk get_handover_file): the var less `_file`.
HANDOVER_INPUTS = {var.removesuffix("_file"): model for model, var in HANDOVER_VARS.items()}


def handover_files(scn: dict, year: int, results: str = RESULTS) -> tuple[str, ...]:
    """The :data:`HANDOVER_MODELS` files ``year`` reads, absolute paths (the staged census in the start year)."""
    sid = scn["scenario_id"]
    if year == scn["start_year"]:
        return (str(Path(staged_census(sid, results)).resolve()),) * len(HANDOVER_MODELS)
    return tuple(str(Path(model_file(sid, year - 1, model, results)).resolve()) for model in HANDOVER_MODELS)


def year_vars(scn: dict, year: int, results: str = RESULTS) -> dict:
    return dbt_vars(scn, year, *handover_files(scn, year, results))


def run_phase(dbt_vars: dict, phase: str, selector: str, outputs: dict[str, str], log, threads: int,
              manifest: str | Path, results: str = RESULTS) -> dict:
    """One phase of one year from its complete dbt variable scope (the rule's ``params.vars`` plus
    its handover inputs: nothing else of the config). ``threads``: dbt's, the job's own.
    ``manifest``: the scenario's parsed manifest (the pre-flight's). A phase job does not parse:
    its vars are only those of its phase, and a parse renders every model."""
    sid, pid, year = dbt_vars["scenario_id"], dbt_vars["plan_design_id"], int(dbt_vars["simulation_year"])
    paths = scenario_paths(results, sid)
    what = f"scenario {sid}, year {year}, {phase} phase"
    started = time.perf_counter()
    if phase == "plan":
        with connect(paths["database"], log=log) as con:
            gates.require_workforce_year(con, sid, pid, year, paths["database"])
    log(f"{what}: dbt build --selector {selector}")
    outcome = invoke(["build", "--selector", selector, *PHASE_SELECTION], database=paths["database"],
                     target_path=paths["target"], log_path=paths["logs"], dbt_vars=dbt_vars,
                     threads=threads, what=what, log=log, manifest=manifest)
    rows = {}
    with connect(paths["database"], log=log) as con:
        if phase == "workforce":
            gates.check_headcount(con, sid, pid, year)
        else:
            gates.check_accumulator(con, sid, pid, year, dbt_vars["start_year"], dbt_vars["prior_deferral_state_file"])
        for name, model in EXPORTS[phase].items():
            rows[model] = export_model(con, model, outputs[name], scenario_id=sid, plan_design_id=pid, year=year)
    report = {"scenario_id": sid, "plan_design_id": pid, "simulation_year": year, "phase": phase,
              "selector": selector, "threads": threads, "dbt": outcome.as_dict(), "rows": rows, "vars": dbt_vars,
              "seconds": round(time.perf_counter() - started, 3)}
    log(f"{what}: done in {report['seconds']}s; rows {rows}")
    return report


def job_vars(params_vars: str, inputs: dict[str, str]) -> dict:
    """A phase job's complete dbt variable scope: its rule's ``params.vars`` (JSON) and the
    absolute paths of its handover inputs, each under its var (input ``starting_workforce`` ->
    ``starting_workforce_file``). A pure function of the two."""
    out = json.loads(params_vars)
    out.update({f"{name}_file": str(Path(path).resolve()) for name, path in inputs.items()
                if f"{name}_file" in FILE_VARS})
    return out


def write_json(path: str | Path, data: dict) -> None:
    write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
