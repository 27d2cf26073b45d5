# plansim: multi-year workforce and 401(k) plan simulation.
#
# Path scheme (every phase of every year is a rule with file outputs):
#   results/{scenario}/staged_census.parquet            validated census, active rows, canonical columns
#   results/{scenario}/simulation.duckdb                the scenario's DuckDB file (one writer at a time)
#   results/{scenario}/{year}/workforce_phase.json      phase 1: workforce events (tag foundation)
#   results/{scenario}/{year}/int_year_end_workforce_state.parquet   -> next year's starting workforce
#   results/{scenario}/{year}/plan_phase.json           phase 2: plan events -> accumulator -> contributions -> marts
#   results/{scenario}/{year}/int_year_end_deferral_state.parquet    -> next year's deferral state
#   results/{scenario}/{year}/int_year_end_balances.parquet          -> next year's account balances and vesting
#   results/{scenario}/{year}/<model>.parquet           exports: fct_workforce_snapshot, fct_yearly_events,
#                                                       int_deferral_rate_state_accumulator, int_employee_contributions, ...
#   results/{scenario}/{year}/summary.json, done        phase 3: quality gates + the year's sentinel
#   results/{scenario}/summary.csv                      all years, after the multi-year consistency check
#   results/catalog.duckdb                              views over every scenario's and year's exports + summaries
#   results/docs/models.html                            dbt's documentation of every model (rules/report.smk)
#   logs/{scenario}/{year}/{rule}.log, benchmarks/{scenario}/{year}/{rule}.tsv
#
# Year N reads year N-1 only through the exported files above (declared as input:).
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
