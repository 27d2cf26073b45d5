# The two dbt phases of a simulation year. Each runs one `dbt build` with a tag selector
# (models run in DAG order, each model's tests right after it), then exports the year's
# slice of its models to parquet.


rule build_workforce_year:
    input:
        starting_workforce=get_starting_workforce_file,
        previous_plan=get_previous_plan_marker,
        scenario=get_scenario_file,
    output:
        workforce_state=f"{RESULTS}/{{scenario}}/{{year}}/int_year_end_workforce_state.parquet",
        needs=f"{RESULTS}/{{scenario}}/{{year}}/int_workforce_needs.parquet",
        compensation=f"{RESULTS}/{{scenario}}/{{year}}/int_employee_compensation_by_year.parquet",
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
        prior_deferral_state=get_prior_deferral_state_file,
        prior_balances=get_prior_balances_file,
        prior_compliance=get_prior_compliance_file,
        scenario=get_scenario_file,
    output:
        deferral_state=f"{RESULTS}/{{scenario}}/{{year}}/int_year_end_deferral_state.parquet",
        accumulator=f"{RESULTS}/{{scenario}}/{{year}}/int_deferral_rate_state_accumulator.parquet",
        contributions=f"{RESULTS}/{{scenario}}/{{year}}/int_employee_contributions.parquet",
        events=f"{RESULTS}/{{scenario}}/{{year}}/fct_yearly_events.parquet",
        snapshot=f"{RESULTS}/{{scenario}}/{{year}}/fct_workforce_snapshot.parquet",
        balances=f"{RESULTS}/{{scenario}}/{{year}}/int_employee_balances.parquet",
        year_end_balances=f"{RESULTS}/{{scenario}}/{{year}}/int_year_end_balances.parquet",
        compliance=f"{RESULTS}/{{scenario}}/{{year}}/fct_compliance_tests.parquet",
        nondiscrimination=f"{RESULTS}/{{scenario}}/{{year}}/int_nondiscrimination_ratios.parquet",
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
