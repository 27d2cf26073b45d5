# The per-scenario pre-flight, then census staging.


rule preflight_scenario:
    input:
        code=WORKFORCE_CODE + PLAN_CODE,
    output:
        report=f"{RESULTS}/{{scenario}}/preflight.json",
    log:
        f"{LOGS}/{{scenario}}/preflight_scenario.log",
    benchmark:
        f"{BENCH}/{{scenario}}/preflight_scenario.tsv"
    threads: 1
    script:
        "../scripts/preflight.py"


rule stage_census:
    input:
        census=get_census_file,
        preflight=ancient(rules.preflight_scenario.output.report),
    output:
        staged=f"{RESULTS}/{{scenario}}/staged_census.parquet",
    log:
        f"{LOGS}/{{scenario}}/stage_census.log",
    params:
        census=get_census_params,
    script:
        "../scripts/stage_census.py"
