# plansim: multi-year workforce and 401(k) plan simulation.
#
# Every phase of every year is a rule with file outputs. The path scheme (results/<s>/<year>/...,
# .plansim/<s>/, logs/, benchmarks/) is scripts/plansim/paths.py; the models each phase exports,
# plansim.phases.EXPORTS; docs/orchestration.md draws the year DAG.
#
# Year N reads year N-1 only through its exported files (declared as input:).
# A scenario's first job after a change of dbt code or config runs the pre-flight
# (dbt build --empty + unit tests) before writing anything: see scripts/plansim/preflight.py.

# config.yaml (plus any --configfile) is loaded by rules/common.smk with a strict reader that
# names the file, line and column of a YAML error and refuses duplicate keys; Snakemake's
# `configfile:` directive would only say "Config file is not valid JSON or YAML".


# Cheap rules that read a few small files run on the submitting host (no cluster job).
localrules:
    finalize_scenario,
    tabulate_scenario,
    plot_scenario,
    compare_scenarios,
    write_catalog,
    document_models,


include: "rules/common.smk"
include: "rules/census.smk"
include: "rules/simulate.smk"
include: "rules/audit.smk"
include: "rules/report.smk"
include: "rules/catalog.smk"


rule all:
    input:
        expand(f"{RESULTS}/{{scenario}}/summary.csv", scenario=sorted(SCENARIOS)),
        expand(rules.write_workbook.output.workbook, scenario=sorted(SCENARIOS)),
        expand(rules.tabulate_scenario.output.table, scenario=sorted(SCENARIOS)),
        expand(rules.plot_scenario.output, scenario=sorted(SCENARIOS)),
        rules.compare_scenarios.output,
        rules.write_catalog.output.catalog,
        rules.document_models.output,
