"""Snakemake script: the analyst's Excel workbook of one scenario."""
import json

from plansim.jobs import run_job
from plansim.report import write_workbook


def main(smk, log):
    written = write_workbook(smk.output.workbook, summary_csv=smk.input.summary, events_files=list(smk.input.events),
                             snapshot_file=smk.input.snapshot, done_files=list(smk.input.done),
                             scenario=json.loads(smk.params.scenario), compliance_csv=smk.input.compliance)
    note = ""
    if written["snapshot_rows_written"] < written["snapshot_rows"]:
        note = f" (only the first {written['snapshot_rows_written']:,} fit in Excel; noted in the sheet)"
    log(f"wrote {smk.output.workbook}: {written['years']} year(s), {written['event_rows']} event type rows, "
        f"{written['snapshot_rows']:,} snapshot rows{note}, {written['settings']} settings")


run_job(snakemake, main)  # noqa: F821 - injected by Snakemake
