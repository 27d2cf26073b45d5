"""Snakemake script: one phase (workforce | plan) of one simulation year."""
from plansim.jobs import run_job, scenario_of
from plansim.phases import run_phase, write_json


def main(smk, log):
    report = run_phase(scenario_of(smk), int(smk.wildcards.year), smk.params.phase, smk.params.selector,
                       dict(smk.output.items()), log)
    write_json(smk.output.marker, report)


run_job(snakemake, main)  # noqa: F821 - injected by Snakemake
