{#-
  Grain: one row per merit + COLA raise. Everyone employed on the raise date and hired
  before it (continuing employees and this year's hires; a hire on the raise date itself gets
  neither merit nor COLA): pay x (1 + merit + cola_rate), applied after a promotion on the
  same date (level and pay after the promotion). Merit by merit_service_rule:
  - cutoff: merit_rates[level] if hire_date <= raise date - merit_cutoff_months, else 0;
  - prorate: merit_rates[level] x min(12, completed months of service on the raise date) / 12.
  raise_rate = merit_rate + cola_rate, rounded to 6 decimals; compensation_after =
  round(compensation_before x (1 + raise_rate), 2).
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
    union all
    select employee_id, retirement_date as termination_date from {{ this_year('int_retirement_events') }}
),

promotions as (
    select employee_id, to_level, compensation_after from {{ this_year('int_promotion_events') }}
),

active_on_raise_date as (
    select
        population.employee_id,
        population.hire_date,
        date_sub('month', population.hire_date, {{ raise_date() }}) as months_of_service,
        coalesce(promotions.to_level, population.job_level) as job_level,
        coalesce(promotions.compensation_after, population.annual_compensation) as compensation_before
    from population
    left join terminations on population.employee_id = terminations.employee_id
    left join promotions on population.employee_id = promotions.employee_id
    where {{ is_active_on(raise_date(), 'population.hire_date', 'terminations.termination_date') }}
      and population.hire_date < {{ raise_date() }}
),

rated as (
    select
        *,
        {%- if var('merit_service_rule') == 'prorate' %}
        ({{ by_level(var('merit_rates'), 'job_level') }} * least(12, months_of_service) / 12)::decimal(9, 6)
        {%- else %}
        case when hire_date <= ({{ raise_date() }} - to_months({{ var('merit_cutoff_months') }}))::date
            then {{ by_level(var('merit_rates'), 'job_level') }} else 0 end::decimal(9, 6)
        {%- endif %} as merit_rate,
        ({{ var('cola_rate') }})::decimal(9, 6) as cola_rate
    from active_on_raise_date
),

final as (
    select
        {{ identity_columns() }},
        employee_id,
        {{ raise_date() }} as effective_date,
        job_level,
        months_of_service,
        merit_rate,
        cola_rate,
        (merit_rate + cola_rate)::decimal(9, 6) as raise_rate,
        compensation_before,
        round(compensation_before * (1 + merit_rate + cola_rate), 2)::decimal(18, 2) as compensation_after
    from rated
    where merit_rate + cola_rate <> 0
)

select * from final
