# Quality gates after the phases, the year's sentinel, and the scenario's final target.


rule audit_year:
    input:
        needs=rules.build_workforce_year.output.needs,
        workforce_state=rules.build_workforce_year.output.workforce_state,
        workforce_marker=rules.build_workforce_year.output.marker,
        deferral_state=rules.build_plan_year.output.deferral_state,
        accumulator=rules.build_plan_year.output.accumulator,
        contributions=rules.build_plan_year.output.contributions,
        events=rules.build_plan_year.output.events,
        snapshot=rules.build_plan_year.output.snapshot,
        balances=rules.build_plan_year.output.balances,
        year_end_balances=rules.build_plan_year.output.year_end_balances,
        compliance=rules.build_plan_year.output.compliance,
        nondiscrimination=rules.build_plan_year.output.nondiscrimination,
        plan_marker=rules.build_plan_year.output.marker,
        prior_deferral_state=get_prior_deferral_state_file,
        previous_done=get_previous_done,
    output:
        summary=f"{RESULTS}/{{scenario}}/{{year}}/summary.json",
        done=f"{RESULTS}/{{scenario}}/{{year}}/done",
    log:
        f"{LOGS}/{{scenario}}/{{year}}/audit_year.log",
    params:
        config_hash=get_config_hash,
        forfeitures=get_forfeiture_params,
        design_change_date=get_design_change_date,
    resources:
        mem_mb=get_mem_mb,
        runtime=get_runtime_min,
    script:
        "../scripts/audit_year.py"


rule finalize_scenario:
    input:
        done=get_year_targets,
    output:
        summary=f"{RESULTS}/{{scenario}}/summary.csv",
        compliance=f"{RESULTS}/{{scenario}}/compliance.csv",
    log:
        f"{LOGS}/{{scenario}}/finalize_scenario.log",
    params:
        years=get_year_span,
    script:
        "../scripts/finalize_scenario.py"
