"""Snakemake script: one phase (workforce | plan) of one simulation year.

Reads only what its rule declares: ``params.vars`` and the handover inputs make its dbt
variable scope (plansim.phases.job_vars), ``threads`` is dbt's thread count, and the resolved
scenario input serves the scenario's pre-flight alone (plansim.preflight).
"""
from plansim.jobs import run_job, scenario_of
from plansim.phases import job_vars, run_phase, write_json
from plansim.preflight import ensure_preflight


def main(smk, log):
    manifest = ensure_preflight(scenario_of(smk), log)
    report = run_phase(job_vars(smk.params.vars, dict(smk.input.items())), smk.params.phase, smk.params.selector,
                       dict(smk.output.items()), log, threads=smk.threads, manifest=manifest)
    write_json(smk.output.marker, report)


run_job(snakemake, main)  # noqa: F821 - injected by Snakemake
