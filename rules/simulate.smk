# The two dbt phases of a simulation year. Each runs one `dbt build` with a tag selector
# (models run in DAG order, each model's tests right after it), then exports the year's
# slice of its models to parquet.


rule build_workforce_year:
    input:
        starting_workforce=get_handover_file("starting_workforce"),
        previous_plan=get_previous_plan_marker,
        scenario=get_scenario_file,
    output:
        **phase_outputs("workforce"),
        marker=f"{RESULTS}/{{scenario}}/{{year}}/workforce_phase.json",
    log:
        f"{LOGS}/{{scenario}}/{{year}}/build_workforce_year.log",
    benchmark:
        f"{BENCH}/{{scenario}}/{{year}}/build_workforce_year.tsv"
    params:
        phase="workforce",
        selector=SELECTORS["workforce"],
        vars=get_phase_vars("workforce"),
        code=WORKFORCE_CODE_HASH,
    threads: get_dbt_threads
    resources:
        duckdb=1,
        mem_mb=get_mem_mb,
        runtime=get_runtime_min,
    script:
        "../scripts/build_phase.py"


rule build_plan_year:
    input:
        workforce=rules.build_workforce_year.output.marker,
        prior_deferral_state=get_handover_file("prior_deferral_state"),
        prior_balances=get_handover_file("prior_balances"),
        prior_compliance=get_handover_file("prior_compliance"),
        scenario=get_scenario_file,
    output:
        **phase_outputs("plan"),
        marker=f"{RESULTS}/{{scenario}}/{{year}}/plan_phase.json",
    log:
        f"{LOGS}/{{scenario}}/{{year}}/build_plan_year.log",
    benchmark:
        f"{BENCH}/{{scenario}}/{{year}}/build_plan_year.tsv"
    params:
        phase="plan",
        selector=SELECTORS["plan"],
        vars=get_phase_vars("plan"),
        code=PLAN_CODE_HASH,
    threads: get_dbt_threads
    resources:
        duckdb=1,
        mem_mb=get_mem_mb,
        runtime=get_runtime_min,
    script:
        "../scripts/build_phase.py"
