"""Snakemake script: results/catalog.duckdb, views over every scenario's and year's files."""
from plansim.jobs import run_job
from plansim.results import write_catalog


def main(smk, log):
    # a view with one file comes as a str, with several as a list
    sources = {view: [files] if isinstance(files, str) else list(files) for view, files in smk.input.items()}
    counts = write_catalog(smk.output.catalog, sources)
    log(f"wrote {smk.output.catalog}: " + ", ".join(f"{view} ({n} files)" for view, n in counts.items()))


run_job(snakemake, main)  # noqa: F821 - injected by Snakemake
