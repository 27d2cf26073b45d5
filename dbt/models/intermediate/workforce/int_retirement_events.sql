{#-
  Grain: one row per retirement of the year (an employee active on Jan 1). Drawn before
  the experienced terminations, which then sample only the others.
  - max_age: certain retirement on the day the employee reaches retirement.max_age, or on
    Jan 1 if already that old on Jan 1 (retirement_type 'max_age').
  - otherwise with the probability of the retirement.age_probabilities band of the age
    attained in the year (year - birth year; 0 below the first band), on a date uniform over
    the year (retirement_type 'age_probability').
  Hires of the year do not retire in their hire year. retirement.enabled false: no rows.
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'employee_id', 'simulation_year'],
    tags=['foundation']
) }}

{%- set retirement = var('retirement') %}
{%- set bands = retirement['age_probabilities'] %}

with baseline as (
    select * from {{ this_year('int_baseline_workforce') }}
),

drawn as (
    select
        *,
        {{ var('simulation_year') }} - year(birth_date) as attained_age,
        (birth_date + to_years({{ retirement['max_age'] }}))::date as max_age_date,
        {{ uniform('retirement', 'employee_id') }} as u_retire,
        {{ uniform('retirement_date', 'employee_id') }} as u_date
    from baseline
),

classified as (
    select
        *,
        max_age_date <= {{ year_end() }} as reaches_max_age,
        {%- if bands %}
        coalesce({{ by_band(bands, 'min_age', 'probability', 'attained_age') }}, 0)
        {%- else %}
        0
        {%- endif %} as retirement_probability
    from drawn
),

final as (
    select
        scenario_id,
        plan_design_id,
        simulation_year,
        employee_id,
        case when reaches_max_age then 'max_age' else 'age_probability' end as retirement_type,
        case
            when reaches_max_age then greatest(max_age_date, {{ year_start() }})
            else ({{ year_start() }} + floor(u_date * {{ days_in_year() }})::integer)::date
        end as retirement_date,
        attained_age,
        retirement_probability::decimal(9, 6) as retirement_probability,
        job_level,
        annual_compensation
    from classified
    where {{ 'true' if retirement['enabled'] else 'false' }}
      and (reaches_max_age or u_retire < retirement_probability)
)

select * from final
