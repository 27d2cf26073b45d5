{#-
  Grain: one row per hire of the year. Ids NH_<year>_<seq>; hire dates spread over
  Jan 1 .. Dec 30 (so a new-hire termination can follow); level from new_hire_level_mix,
  pay uniform in the level's band grown to the year (whole dollars), age from
  new_hire_age_distribution. compensation_bands are in start_year dollars; the band of year Y
  is band x (1 + g)^(Y - start_year), g = new_hire_pay_growth_rate (a null in the config is
  resolved to cola_rate + the arithmetic mean of merit_rates by plansim.config).
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'employee_id', 'simulation_year'],
    tags=['foundation']
) }}

{%- set growth = var('new_hire_pay_growth_rate') %}
{%- set band_min = by_level(var('compensation_bands') | map('first') | list, 'job_level') %}
{%- set band_max = by_level(var('compensation_bands') | map('last') | list, 'job_level') %}

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

banded as (
    select
        *,
        {{ band_min }} * band_growth as band_min,
        {{ band_max }} * band_growth as band_max
    from (
        select
            *,
            power(1 + ({{ growth }})::double, {{ var('simulation_year') }} - {{ var('start_year') }}) as band_growth
        from profiled
    )
),

final as (
    select
        {{ identity_columns() }},
        employee_id,
        hire_date,
        ((hire_date - to_years(age_at_hire))::date - floor(u_birthday * 365)::integer)::date as birth_date,
        job_level,
        round(band_min + u_pay * (band_max - band_min))::decimal(18, 2) as annual_compensation
    from banded
)

select * from final
