{#-
  Grain: one row per employee employed at any time in the simulation year. The workforce
  phase's result: dates, status, level and pay at the start and end of the year, and the
  date pay changed (the raise date, when a promotion or merit raise happened). A leaver's
  (termination or retirement) ending level and pay are those on the leaving date: raises
  happen only to employees employed on the raise date. employment_status: continuous_active,
  new_hire_active, experienced_termination, new_hire_termination, retirement.
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'employee_id', 'simulation_year'],
    tags=['foundation']
) }}

with baseline as (
    select * from {{ this_year('int_baseline_workforce') }}
),

hires as (
    select * from {{ this_year('int_hiring_events') }}
),

terminations as (
    select employee_id, termination_type, termination_date from {{ this_year('int_termination_events') }}
    union all
    select employee_id, termination_type, termination_date from {{ this_year('int_new_hire_termination_events') }}
    union all
    select employee_id, 'retirement' as termination_type, retirement_date as termination_date
    from {{ this_year('int_retirement_events') }}
),

promotions as (
    select * from {{ this_year('int_promotion_events') }}
),

merits as (
    select * from {{ this_year('int_merit_events') }}
),

population as (
    select employee_id, birth_date, hire_date, job_level, annual_compensation, false as is_new_hire from baseline
    union all
    select employee_id, birth_date, hire_date, job_level, annual_compensation, true as is_new_hire from hires
),

final as (
    select
        {{ identity_columns() }},
        population.employee_id,
        population.birth_date,
        population.hire_date,
        terminations.termination_date,
        case
            when terminations.termination_type is not null then terminations.termination_type
            when population.is_new_hire then 'new_hire_active'
            else 'continuous_active'
        end as employment_status,
        population.is_new_hire,
        terminations.termination_date is null as is_active_at_year_end,
        population.job_level as starting_job_level,
        coalesce(promotions.to_level, population.job_level) as ending_job_level,
        population.annual_compensation as starting_compensation,
        coalesce(merits.compensation_after, promotions.compensation_after, population.annual_compensation)
            as ending_compensation,
        case when merits.employee_id is not null or promotions.employee_id is not null
            then {{ raise_date() }} end as compensation_change_date
    from population
    left join terminations on population.employee_id = terminations.employee_id
    left join promotions on population.employee_id = promotions.employee_id
    left join merits on population.employee_id = merits.employee_id
)

select * from final
