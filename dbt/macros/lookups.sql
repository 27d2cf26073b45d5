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
