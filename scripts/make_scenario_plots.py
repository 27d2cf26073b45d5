"""Snakemake script: a scenario's plots (headcount, participation + deferral, contributions)."""
from plansim.jobs import run_job
from plansim.plots import plot_contributions, plot_headcount, plot_participation
from plansim.report import read_summary


def main(smk, log):
    rows = read_summary(smk.input.summary)
    plot_headcount(rows, smk.output.headcount)
    plot_participation(rows, smk.output.participation)
    plot_contributions(rows, smk.output.contributions)
    log(f"wrote {len(smk.output)} plots of {len(rows)} year(s)")


run_job(snakemake, main)  # noqa: F821 - injected by Snakemake
