{#-
  Who is employed on Jan 1 of the simulation year, as handed over by file:
  the staged census in the start year, year N-1's int_year_end_workforce_state otherwise
  (var starting_workforce_file; a Snakemake input of the rule).
-#}
{{ config(tags=['foundation']) }}

with source_rows as (
    select * from read_parquet({{ sql_string(var("starting_workforce_file")) }})
),

final as (
    select
        {{ identity_columns() }},
        employee_id::varchar as employee_id,
        birth_date::date as birth_date,
        hire_date::date as hire_date,
        coalesce(job_level::integer, {{ level_from_compensation('annual_compensation') }}) as job_level,
        annual_compensation::decimal(18, 2) as annual_compensation
    from source_rows
)

select * from final
