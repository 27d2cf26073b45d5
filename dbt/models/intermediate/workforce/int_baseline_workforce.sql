{#- Grain: one row per employee active on Jan 1 of the simulation year. -#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'employee_id', 'simulation_year'],
    tags=['foundation']
) }}

with starting as (
    select * from {{ ref('stg_starting_workforce') }}
),

final as (
    select
        scenario_id,
        plan_design_id,
        simulation_year,
        employee_id,
        birth_date,
        hire_date,
        job_level,
        annual_compensation,
        {{ years_between('birth_date', year_start()) }} as age,
        {{ years_between('hire_date', year_start()) }} as tenure_years
    from starting
)

select * from final
