# Census staging. (The scenario's pre-flight runs at the start of its first job after a
# change of code or config: see plansim.preflight.)


rule stage_census:
    input:
        census=get_census_file,
        scenario=get_scenario_file,
    output:
        staged=f"{RESULTS}/{{scenario}}/staged_census.parquet",
    log:
        f"{LOGS}/{{scenario}}/stage_census.log",
    params:
        census=get_census_params,
    resources:
        mem_mb=get_mem_mb,
        runtime=get_runtime_min,
    script:
        "../scripts/stage_census.py"
