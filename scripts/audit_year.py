"""Snakemake script: the year's quality gates, summary.json and the `done` sentinel."""
import json
import sys
from pathlib import Path

from plansim import compliance
from plansim.audit import sentinel
from plansim.jobs import run_job
from plansim.phases import EXPORTS, write_json
from plansim.summary import year_summary


def main(smk, log):
    sid, year = smk.wildcards.scenario, int(smk.wildcards.year)
    files = {model: str(smk.input[name]) for phase in EXPORTS for name, model in EXPORTS[phase].items()}
    previous = json.loads(Path(smk.input.previous_done).read_text())["summary"] if smk.input.previous_done else None
    summary = year_summary(smk.input.needs, smk.input.snapshot, smk.input.events, smk.input.contributions,
                           smk.input.balances, json.loads(smk.params.forfeitures), previous)
    tests = compliance.read_tests(smk.input.compliance)
    summary.update(compliance.summary_figures(tests))
    summary["plan_design_change_date"] = smk.params.design_change_date or None
    done = sentinel(files, [smk.input.workforce_marker, smk.input.plan_marker], sid, year, smk.params.config_hash)
    done["summary"] = summary
    done["compliance"] = tests
    write_json(smk.output.summary, {**summary, "compliance_tests": tests})
    write_json(smk.output.done, done)
    line = (f"[plansim] {sid} {year}: headcount {summary['headcount_start']} -> {summary['headcount_end']}, "
            f"hires {summary['hires']}, participation {100 * summary['participation_rate']:.1f}%, "
            f"avg deferral {100 * summary['average_deferral_rate']:.2f}%, "
            f"employer cost {summary['employer_cost_pct_of_payroll']:.2f}% of payroll "
            f"({summary['net_employer_cost_pct_of_payroll']:.2f}% net of forfeitures), "
            f"compliance tests failed {summary['compliance_tests_failed']}")
    log(line)
    print(line, file=sys.__stdout__, flush=True)


run_job(snakemake, main)  # noqa: F821 - injected by Snakemake
