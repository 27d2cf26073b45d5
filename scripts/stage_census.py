"""Snakemake script: validate the census and stage its active rows (canonical columns)."""
import datetime as dt
import json

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


run_job(snakemake, main)  # noqa: F821 - injected by Snakemake
