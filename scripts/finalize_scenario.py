"""Snakemake script: multi-year consistency check, then results/<scenario>/summary.csv."""
import csv
import json
from pathlib import Path

from plansim import compliance
from plansim.audit import check_year_chain
from plansim.jobs import run_job
from plansim.summary import SUMMARY_FIELDS


def main(smk, log):
    start_year, end_year = smk.params.years
    done = sorted((json.loads(Path(p).read_text()) for p in smk.input.done), key=lambda d: d["simulation_year"])
    summaries = [d["summary"] for d in done]
    check_year_chain(summaries, smk.wildcards.scenario, start_year, end_year)
    out = Path(smk.output.summary)
    tmp = out.with_name(f".{out.name}.tmp")
    with tmp.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=SUMMARY_FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(summaries)
    tmp.replace(out)
    tests = [row for d in done for row in d.get("compliance", [])]
    compliance.write_csv(tests, smk.output.compliance)
    log(f"wrote {out}: {len(summaries)} year(s); {smk.output.compliance}: {len(tests)} test rows")


run_job(snakemake, main)  # noqa: F821 - injected by Snakemake
