{#-
  Grain: one row per experienced termination (an employee active on Jan 1 who does not
  retire this year: retirements are drawn first, in int_retirement_events).
  Exactly int_workforce_needs.experienced_terminations employees, chosen by weighted
  sampling without replacement (Efraimidis-Spirakis: the k smallest -ln(u) / weight),
  weight = age x tenure x level multipliers. Termination date uniform over the year.
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'employee_id', 'simulation_year'],
    tags=['foundation']
) }}

with baseline as (
    select * from {{ this_year('int_baseline_workforce') }}
),

retirements as (
    select employee_id from {{ this_year('int_retirement_events') }}
),

candidates as (
    select baseline.*
    from baseline
    anti join retirements on baseline.employee_id = retirements.employee_id
),

needs as (
    select experienced_terminations from {{ this_year('int_workforce_needs') }}
),

weighted as (
    select
        *,
        {{ by_band(var('termination_age_multipliers'), 'min_age', 'multiplier', 'age') }}
        * {{ by_band(var('termination_tenure_multipliers'), 'min_years', 'multiplier', 'tenure_years') }}
        * {{ by_level(var('termination_level_multipliers'), 'job_level') }} as termination_weight,
        {{ uniform('termination', 'employee_id') }} as u_select,
        {{ uniform('termination_date', 'employee_id') }} as u_date
    from candidates
),

ranked as (
    select
        *,
        row_number() over (order by -ln(u_select) / termination_weight, employee_id) as selection_rank
    from weighted
),

final as (
    select
        scenario_id,
        plan_design_id,
        simulation_year,
        employee_id,
        'experienced_termination' as termination_type,
        ({{ year_start() }} + floor(u_date * {{ days_in_year() }})::integer)::date as termination_date,
        job_level,
        annual_compensation,
        termination_weight
    from ranked
    where selection_rank <= (select experienced_terminations from needs)
)

select * from final
