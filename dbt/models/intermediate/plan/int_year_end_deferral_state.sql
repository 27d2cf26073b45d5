{#-
  Grain: one row per employee active on Dec 31: the accumulator's December state.
  Exported as results/<scenario>/<year>/int_year_end_deferral_state.parquet and read by
  next year's stg_prior_deferral_state (a Snakemake input), never through the database.
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'employee_id', 'simulation_year'],
    tags=['deferral_pipeline', 'state_accumulator']
) }}

with december as (
    select * from {{ this_year('int_deferral_rate_state_accumulator') }}
    where is_current
),

active_at_year_end as (
    select employee_id from {{ this_year('int_employee_compensation_by_year') }}
    where is_active_at_year_end
),

final as (
    select
        december.scenario_id,
        december.plan_design_id,
        december.simulation_year,
        december.employee_id,
        december.is_enrolled,
        december.deferral_rate,
        december.enrollment_date,
        december.is_auto_enrollment_opted_out,
        december.is_escalation_opted_out,
        december.deferral_rate_source,
        december.enrollment_source,
        december.escalation_count,
        december.pending_opt_out_date
    from december
    inner join active_at_year_end on december.employee_id = active_at_year_end.employee_id
)

select * from final
