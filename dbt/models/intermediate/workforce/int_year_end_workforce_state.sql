{#-
  Grain: one row per employee active on Dec 31. Exported as
  results/<scenario>/<year>/int_year_end_workforce_state.parquet: next year's starting
  workforce (stg_starting_workforce reads it).
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'employee_id', 'simulation_year'],
    tags=['foundation']
) }}

with workforce as (
    select * from {{ this_year('int_employee_compensation_by_year') }}
),

final as (
    select
        scenario_id,
        plan_design_id,
        simulation_year,
        employee_id,
        birth_date,
        hire_date,
        ending_job_level as job_level,
        ending_compensation as annual_compensation
    from workforce
    where is_active_at_year_end
)

select * from final
