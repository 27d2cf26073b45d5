"""Snakemake script: dbt's documentation of every model, as one offline HTML page."""
import json

from plansim.jobs import run_job
from plansim.model_docs import write_model_docs


def main(smk, log):
    write_model_docs(json.loads(smk.params.scenario), smk.output.page, log=log)


run_job(snakemake, main)  # noqa: F821 - injected by Snakemake
