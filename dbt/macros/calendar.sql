{% macro year_start() -%} make_date({{ var('simulation_year') }}, 1, 1) {%- endmacro %}
{% macro year_end() -%} make_date({{ var('simulation_year') }}, 12, 31) {%- endmacro %}
{% macro days_in_year() -%} ({{ year_end() }} - {{ year_start() }} + 1) {%- endmacro %}

{#- completed years between birth (or hire) and a date -#}
{% macro years_between(from_date, to_date) -%}
    (year({{ to_date }}) - year({{ from_date }})
     - case when strftime({{ from_date }}, '%m%d') > strftime({{ to_date }}, '%m%d') then 1 else 0 end)
{%- endmacro %}

{#- employed on a date: hired on/before it and not terminated before it -#}
{% macro is_active_on(day, hire_col='hire_date', term_col='termination_date') -%}
    ({{ hire_col }} <= {{ day }} and ({{ term_col }} is null or {{ term_col }} >= {{ day }}))
{%- endmacro %}

{% macro eligibility_date(hire_col='hire_date', birth_col='birth_date') -%}
    greatest({{ hire_col }} + {{ var('eligibility_waiting_days') }},
             ({{ birth_col }} + to_years({{ var('eligibility_minimum_age') }}))::date)
{%- endmacro %}

{% macro raise_date() -%} make_date({{ var('simulation_year') }}, {{ var('raise_effective_month') }}, 1) {%- endmacro %}
{% macro escalation_date() -%}
    make_date({{ var('simulation_year') }}, {{ var('auto_escalation_effective_month') }}, {{ var('auto_escalation_effective_day') }})
{%- endmacro %}
