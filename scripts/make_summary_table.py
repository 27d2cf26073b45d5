"""Snakemake script: a scenario's key figures by year as an HTML table (for the report)."""
from plansim.jobs import run_job
from plansim.report import write_summary_html


def main(smk, log):
    write_summary_html(smk.input.summary, smk.output.table, smk.input.compliance)
    log(f"wrote {smk.output.table}")


run_job(snakemake, main)  # noqa: F821 - injected by Snakemake
