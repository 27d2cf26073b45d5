"""Snakemake script: validate the census and stage its active rows (canonical columns)."""
import datetime as dt
import json
import sys

import pyarrow.parquet as pq

from plansim.census import stage_census
from plansim.jobs import run_job, scenario_of
from plansim.preflight import ensure_preflight


def main(smk, log):
    ensure_preflight(scenario_of(smk), log)
    params = json.loads(smk.params.census)
    summary = stage_census(smk.input.census, smk.output.staged, dt.date.fromisoformat(params["census_date"]),
                           max_job_level=params["max_job_level"], deferral_rate_units=params["deferral_rate_units"],
                           sheet=params["census_sheet"])
    log(summary.line())
    wages = pq.read_table(smk.output.staged, columns=["prior_year_wages"]).column(0)
    if wages.null_count == len(wages) and len(wages):
        # said once per staging of the census, so once per run that reads it
        note = (f"[plansim] {smk.input.census}: no prior_year_wages column: annual_compensation stands in for "
                f"the prior-year wages of the Roth catch-up rule (IRC 414(v)(7)) in {smk.wildcards.scenario}'s "
                "start year")
        log(note)
        print(note, file=sys.__stdout__, flush=True)


run_job(snakemake, main)  # noqa: F821 - injected by Snakemake
