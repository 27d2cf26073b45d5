{#-
  Grain: one row per new-hire termination. Exactly int_workforce_needs.new_hire_terminations
  of this year's hires (the smallest draws), each leaving after the hire date and by Dec 31.
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'employee_id', 'simulation_year'],
    tags=['foundation']
) }}

with hires as (
    select * from {{ this_year('int_hiring_events') }}
),

needs as (
    select new_hire_terminations from {{ this_year('int_workforce_needs') }}
),

ranked as (
    select
        *,
        row_number() over (order by {{ uniform('new_hire_termination', 'employee_id') }}, employee_id) as selection_rank,
        {{ uniform('new_hire_termination_date', 'employee_id') }} as u_date
    from hires
),

final as (
    select
        scenario_id,
        plan_design_id,
        simulation_year,
        employee_id,
        'new_hire_termination' as termination_type,
        (hire_date + 1 + floor(u_date * ({{ year_end() }} - hire_date))::integer)::date as termination_date,
        job_level,
        annual_compensation
    from ranked
    where selection_rank <= (select new_hire_terminations from needs)
)

select * from final
