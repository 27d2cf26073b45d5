# Quality gates after the phases, the year's sentinel, and the scenario's final target.


rule audit_year:
    input:
        **{name: rules.build_workforce_year.output[name] for name in EXPORTS["workforce"]},
        **{name: rules.build_plan_year.output[name] for name in EXPORTS["plan"]},
        workforce_marker=rules.build_workforce_year.output.marker,
        plan_marker=rules.build_plan_year.output.marker,
        prior_deferral_state=get_handover_file("prior_deferral_state"),
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
