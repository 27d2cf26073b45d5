# Census staging and the per-scenario pre-flight.


rule stage_census:
    input:
        census=get_census_file,
    output:
        staged=f"{RESULTS}/{{scenario}}/staged_census.parquet",
    log:
        f"{LOGS}/{{scenario}}/stage_census.log",
    params:
        census=get_census_params,
    script:
        "../scripts/stage_census.py"


rule preflight_scenario:
    input:
        staged=rules.stage_census.output.staged,
        code=WORKFORCE_CODE + PLAN_CODE,
    output:
        report=f"{RESULTS}/{{scenario}}/preflight.json",
    log:
        f"{LOGS}/{{scenario}}/preflight_scenario.log",
    benchmark:
        f"{BENCH}/{{scenario}}/preflight_scenario.tsv"
    threads: get_dbt_threads
    script:
        "../scripts/preflight.py"
