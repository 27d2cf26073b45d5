"""Snakemake script: the scenario comparison table (CSV + HTML) and plots."""
from plansim.jobs import run_job
from plansim.plots import COMPARISON_PLOTS, plot_comparison
from plansim.report import write_comparison


def main(smk, log):
    summaries = dict(zip(smk.params.scenarios, smk.input.summaries))
    rows = write_comparison(summaries, smk.output.table, smk.output.html)
    by_scenario = {sid: [r for r in rows if r["scenario_id"] == sid] for sid in summaries}
    for name, field in COMPARISON_PLOTS.items():
        plot_comparison(by_scenario, field, getattr(smk.output, name))
    log(f"compared {len(summaries)} scenario(s), {len(rows)} scenario-years")


run_job(snakemake, main)  # noqa: F821 - injected by Snakemake
