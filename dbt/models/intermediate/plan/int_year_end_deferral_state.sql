{#-
  Grain: one row per employee active on Dec 31: the accumulator's December state.
  Exported as results/<scenario>/<year>/int_year_end_deferral_state.parquet and read by
  next year's stg_prior_deferral_state (a Snakemake input), never through the database.
  Plan money: roth_share (December's), annual_hours (the census value, kept for the person) and
  year_wages (this year's gross_compensation, next year's prior_year_wages for IRC 414(v)(7)).
  Compliance: is_officer and ownership_pct, carried for the HCE and key-employee tests.
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'employee_id', 'simulation_year'],
    tags=['deferral_pipeline']
) }}

with december as (
    select * from {{ this_year('int_deferral_rate_state_accumulator') }}
    where is_current
),

timeline as (
    select employee_id, annual_hours, is_officer, ownership_pct from {{ ref('int_deferral_timeline') }}
),

contributions as (
    select employee_id, gross_compensation from {{ this_year('int_employee_contributions') }}
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
        december.pending_opt_out_date,
        december.roth_share,
        timeline.annual_hours,
        timeline.is_officer,
        timeline.ownership_pct,
        coalesce(contributions.gross_compensation, 0)::decimal(18, 2) as year_wages
    from december
    inner join active_at_year_end on december.employee_id = active_at_year_end.employee_id
    left join timeline on december.employee_id = timeline.employee_id
    left join contributions on december.employee_id = contributions.employee_id
)

select * from final
