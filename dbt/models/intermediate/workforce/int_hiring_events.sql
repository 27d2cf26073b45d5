{#-
  Grain: one row per hire of the year. Ids NH_<year>_<seq>; hire dates spread over
  Jan 1 .. Dec 30 (so a new-hire termination can follow); level from new_hire_level_mix,
  pay uniform in the level's band (whole dollars), age from new_hire_age_distribution.
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'employee_id', 'simulation_year'],
    tags=['foundation']
) }}

with needs as (
    select hires from {{ this_year('int_workforce_needs') }}
),

sequence as (
    select
        seq,
        'NH_{{ var("simulation_year") }}_' || lpad(seq::varchar, 7, '0') as employee_id
    from needs, range(1, needs.hires + 1) as hire_range(seq)
),

draws as (
    select
        *,
        {{ uniform('hire_date', 'employee_id') }} as u_date,
        {{ uniform('hire_level', 'employee_id') }} as u_level,
        {{ uniform('hire_pay', 'employee_id') }} as u_pay,
        {{ uniform('hire_age', 'employee_id') }} as u_age,
        {{ uniform('hire_birthday', 'employee_id') }} as u_birthday
    from sequence
),

profiled as (
    select
        *,
        ({{ year_start() }} + floor(u_date * ({{ days_in_year() }} - 1))::integer)::date as hire_date,
        {%- set mix = [] -%}
        {%- for share in var('new_hire_level_mix') %}{% do mix.append({'level': loop.index, 'weight': share}) %}{% endfor %}
        {{ weighted_choice(mix | selectattr('weight') | list, 'level', 'weight', 'u_level') }} as job_level,
        {{ weighted_choice(var('new_hire_age_distribution'), 'age', 'weight', 'u_age') }} as age_at_hire
    from draws
),

final as (
    select
        {{ identity_columns() }},
        employee_id,
        hire_date,
        ((hire_date - to_years(age_at_hire))::date - floor(u_birthday * 365)::integer)::date as birth_date,
        job_level,
        round(
            {{ by_level(var('compensation_bands') | map('first') | list, 'job_level') }}
            + u_pay * ({{ by_level(var('compensation_bands') | map('last') | list, 'job_level') }}
                       - {{ by_level(var('compensation_bands') | map('first') | list, 'job_level') }})
        )::decimal(18, 2) as annual_compensation
    from profiled
)

select * from final
