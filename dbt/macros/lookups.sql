{#- Config lists rendered as SQL CASE expressions. -#}

{#- value of a by-level list (level 1 first) -#}
{% macro by_level(values, level_expr) -%}
    case {{ level_expr }}
    {%- for v in values %} when {{ loop.index }} then {{ v }}{% endfor %}
    end
{%- endmacro %}

{#- value of the band whose lower bound is the highest one <= x; bands start at 0 -#}
{% macro by_band(bands, bound_key, value_key, x_expr) -%}
    case
    {%- for band in bands | reverse %} when {{ x_expr }} >= {{ band[bound_key] }} then {{ band[value_key] }}{% endfor %}
    end
{%- endmacro %}

{#- weighted choice: the item whose cumulative weight share first exceeds u -#}
{% macro weighted_choice(items, value_key, weight_key, u_expr) -%}
    {%- set total = items | sum(attribute=weight_key) -%}
    {%- set ns = namespace(cum=0) -%}
    case
    {%- for item in items %}
        {%- set ns.cum = ns.cum + item[weight_key] %}
        {%- if loop.last %} else {{ item[value_key] }}
        {%- else %} when {{ u_expr }} < {{ ns.cum / total }} then {{ item[value_key] }}{% endif %}
    {%- endfor %}
    end
{%- endmacro %}

{#- job level from pay when the census has none: highest level whose band minimum <= pay -#}
{% macro level_from_compensation(comp_expr) -%}
    {%- set bands = var('compensation_bands') -%}
    case
    {%- for band in bands | reverse %} when {{ comp_expr }} >= {{ band[0] }} then {{ bands | length - loop.index0 }}{% endfor %}
    else 1 end
{%- endmacro %}

{#- a rate as integer parts per million, for exact integer headcount arithmetic -#}
{% macro ppm(rate) -%} {{ (rate * 1000000) | round | int }} {%- endmacro %}

{#- index (0-based) of the service/points band holding x: bands tile [0, inf), from inclusive -#}
{% macro band_index(bands, x_expr) -%}
    case
    {%- for band in bands | reverse %} when {{ x_expr }} >= {{ band['from'] }} then {{ bands | length - loop.index }}{% endfor %}
    end
{%- endmacro %}

{#- a value per band, as a CASE on a band index column (one band: the value itself) -#}
{% macro value_by_band(values, index_col) -%}
    {%- if values | length == 1 -%} {{ values[0] }}
    {%- else -%}
    case {{ index_col }}
    {%- for v in values %} when {{ loop.index0 }} then {{ v }}{% endfor %}
    end
    {%- endif -%}
{%- endmacro %}

{#- the match tiers on a deferral amount as a share of a pay amount (tiers from match_tiers) -#}
{% macro tier_match(tiers, deferral_expr, pay_expr) -%}
    0
    {%- for tier in tiers %}
        + {{ tier['rate'] }} * least(greatest({{ deferral_expr }} - {{ tier['from'] }} * {{ pay_expr }}, 0),
                                     {{ tier['to'] - tier['from'] }} * {{ pay_expr }})
    {%- endfor %}
{%- endmacro %}

{#- the match of a band's tiers, as a CASE on the band index (one band: its tiers' formula) -#}
{% macro banded_tier_match(bands, index_col, deferral_expr, pay_expr) -%}
    {%- if bands | length == 1 -%} {{ tier_match(bands[0]['tiers'], deferral_expr, pay_expr) }}
    {%- else -%}
    case {{ index_col }}
    {%- for band in bands %} when {{ loop.index0 }} then {{ tier_match(band['tiers'], deferral_expr, pay_expr) }}{% endfor %}
    end
    {%- endif -%}
{%- endmacro %}

{#- an allocation condition (allocation_conditions_<source>) set at all: a last-day, hours or service condition -#}
{% macro has_allocation_conditions(conditions) -%}
    {{- 'true' if (conditions.get('last_day_employed') or conditions.get('min_hours') is not none
                 or conditions.get('min_service_years') is not none) else 'false' -}}
{%- endmacro %}

{#- SQL boolean: the row meets the allocation conditions of a source (columns termination_date,
    hours_in_year, service_years, is_retirement; waived on a retirement when waived_on lists it) -#}
{% macro meets_allocation_conditions(conditions) -%}
    {%- set checks = [] -%}
    {%- if conditions.get('last_day_employed') %}{% do checks.append("(termination_date is null or termination_date >= " ~ year_end() ~ ")") %}{% endif -%}
    {%- if conditions.get('min_hours') is not none %}{% do checks.append("hours_in_year >= " ~ conditions['min_hours']) %}{% endif -%}
    {%- if conditions.get('min_service_years') is not none %}{% do checks.append("service_years >= " ~ conditions['min_service_years']) %}{% endif -%}
    {%- if not checks -%} true
    {%- else -%}
    ({% if 'retirement' in conditions.get('waived_on', ['retirement', 'death', 'disability']) %}is_retirement or {% endif %}({{ checks | join(' and ') }}))
    {%- endif -%}
{%- endmacro %}

{#- Roth share of a new election (rows with employee_id, birth_date, enrollment_date): 1 with the
    probability of the roth_new_election_share band of the age on the enrollment date, else 0 -#}
{% macro roth_election_share(roth_available) -%}
    {%- if roth_available -%}
    (case when {{ uniform('roth_election', 'employee_id') }}
               < {{ by_band(var('roth_new_election_share'), 'min_age', 'share', years_between('birth_date', 'enrollment_date')) }}
          then 1 else 0 end)::decimal(9, 6)
    {%- else -%}
    0::decimal(9, 6)
    {%- endif -%}
{%- endmacro %}
