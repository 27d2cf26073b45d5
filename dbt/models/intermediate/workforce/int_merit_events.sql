{#-
  Grain: one row per merit + COLA raise. Everyone employed on the raise date (continuing
  employees and this year's hires hired by then): pay x (1 + merit_rates[level] + cola_rate),
  applied after a promotion on the same date (level and pay after the promotion).
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'employee_id', 'simulation_year'],
    tags=['foundation']
) }}

with population as (
    select employee_id, hire_date, job_level, annual_compensation from {{ this_year('int_baseline_workforce') }}
    union all
    select employee_id, hire_date, job_level, annual_compensation from {{ this_year('int_hiring_events') }}
),

terminations as (
    select employee_id, termination_date from {{ this_year('int_termination_events') }}
    union all
    select employee_id, termination_date from {{ this_year('int_new_hire_termination_events') }}
),

promotions as (
    select employee_id, to_level, compensation_after from {{ this_year('int_promotion_events') }}
),

active_on_raise_date as (
    select
        population.employee_id,
        coalesce(promotions.to_level, population.job_level) as job_level,
        coalesce(promotions.compensation_after, population.annual_compensation) as compensation_before
    from population
    left join terminations on population.employee_id = terminations.employee_id
    left join promotions on population.employee_id = promotions.employee_id
    where {{ is_active_on(raise_date(), 'population.hire_date', 'terminations.termination_date') }}
),

final as (
    select
        {{ identity_columns() }},
        employee_id,
        {{ raise_date() }} as effective_date,
        job_level,
        ({{ by_level(var('merit_rates'), 'job_level') }} + {{ var('cola_rate') }})::decimal(9, 6) as raise_rate,
        compensation_before,
        round(compensation_before * (1 + {{ by_level(var('merit_rates'), 'job_level') }} + {{ var('cola_rate') }}), 2)::decimal(18, 2)
            as compensation_after
    from active_on_raise_date
    where {{ by_level(var('merit_rates'), 'job_level') }} + {{ var('cola_rate') }} <> 0
)

select * from final
