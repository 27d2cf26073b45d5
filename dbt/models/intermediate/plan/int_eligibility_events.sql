{#-
  Grain: one row per employee who becomes eligible during the simulation year while
  employed. Eligible from max(hire_date + waiting days, the day they reach the minimum age).
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'employee_id', 'simulation_year'],
    tags=['deferral_pipeline']
) }}

with workforce as (
    select * from {{ this_year('int_employee_compensation_by_year') }}
),

dated as (
    select *, {{ eligibility_date() }} as eligibility_date from workforce
),

final as (
    select
        scenario_id,
        plan_design_id,
        simulation_year,
        employee_id,
        eligibility_date as effective_date
    from dated
    where eligibility_date between {{ year_start() }} and {{ year_end() }}
      and {{ is_active_on('eligibility_date') }}
)

select * from final
