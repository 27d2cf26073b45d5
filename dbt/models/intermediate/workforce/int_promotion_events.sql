{#-
  Grain: one row per promotion. Employees active on Jan 1 and still employed on the raise
  date (not terminated or retired before it), below the top level, promoted with probability promotion_rates[level]; pay rises by
  promotion_raise on the raise date.
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'employee_id', 'simulation_year'],
    tags=['foundation']
) }}

with baseline as (
    select * from {{ this_year('int_baseline_workforce') }}
),

terminations as (
    select employee_id, termination_date from {{ this_year('int_termination_events') }}
    union all
    select employee_id, retirement_date as termination_date from {{ this_year('int_retirement_events') }}
),

candidates as (
    select baseline.*, terminations.termination_date
    from baseline
    left join terminations on baseline.employee_id = terminations.employee_id
    where {{ is_active_on(raise_date()) }}
      and baseline.job_level < {{ var('promotion_rates') | length }}
),

final as (
    select
        scenario_id,
        plan_design_id,
        simulation_year,
        employee_id,
        {{ raise_date() }} as effective_date,
        job_level as from_level,
        job_level + 1 as to_level,
        annual_compensation as compensation_before,
        round(annual_compensation * (1 + {{ var('promotion_raise') }}), 2)::decimal(18, 2) as compensation_after
    from candidates
    where {{ uniform('promotion', 'employee_id') }} < {{ by_level(var('promotion_rates'), 'job_level') }}
)

select * from final
