"""Snakemake script: one phase (workforce | plan) of one simulation year."""
from plansim.jobs import run_job, scenario_of
from plansim.phases import run_phase, write_json
from plansim.preflight import ensure_preflight


def main(smk, log):
    scenario = scenario_of(smk)
    manifest = ensure_preflight(scenario, log)
    report = run_phase(scenario, int(smk.wildcards.year), smk.params.phase, smk.params.selector,
                       dict(smk.output.items()), log, manifest=manifest)
    write_json(smk.output.marker, report)


run_job(snakemake, main)  # noqa: F821 - injected by Snakemake
