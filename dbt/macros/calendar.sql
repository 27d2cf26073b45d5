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

{#- the day an employee becomes eligible. eligibility_rules (plansim.config.year_scenario) are the
    waiting days and minimum age of each design so far, from the day each applies: eligible on the
    first day a rule in force makes them so (a later, stricter rule does not take eligibility away;
    it applies to those not yet eligible). Without the var (dbt unit tests): the design's own rule. -#}
{% macro eligibility_date(hire_col='hire_date', birth_col='birth_date') -%}
    {%- set rules = var('eligibility_rules', none) or [{'from': none, 'waiting_days': var('eligibility_waiting_days'),
                                                         'minimum_age': var('eligibility_minimum_age')}] %}
    {%- set by_rule = [] %}
    {%- for rule in rules %}
        {%- set under = 'greatest(' ~ hire_col ~ ' + ' ~ rule['waiting_days'] ~ ', (' ~ birth_col ~ ' + to_years('
                         ~ rule['minimum_age'] ~ '))::date)' %}
        {%- set since = under if rule['from'] is none else 'greatest(' ~ under ~ ", date '" ~ rule['from'] ~ "')" %}
        {%- if loop.last %}{% do by_rule.append(since) %}
        {%- else %}{% do by_rule.append('case when ' ~ since ~ " < date '" ~ rules[loop.index]['from'] ~ "' then " ~ since ~ ' end') %}
        {%- endif %}
    {%- endfor %}
    {%- if by_rule | length == 1 %}{{ by_rule[0] }}{% else %}least({{ by_rule | join(', ') }}){% endif %}
{%- endmacro %}

{% macro raise_date() -%} make_date({{ var('simulation_year') }}, {{ var('raise_effective_month') }}, 1) {%- endmacro %}
{% macro escalation_date() -%}
    make_date({{ var('simulation_year') }}, {{ var('auto_escalation_effective_month') }}, {{ var('auto_escalation_effective_day') }})
{%- endmacro %}
