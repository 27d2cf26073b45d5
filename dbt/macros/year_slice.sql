{#-
  delete+insert, by year slice. Every incremental model holds all years of one scenario;
  a build replaces exactly the current (scenario_id, plan_design_id, simulation_year)
  slice. The delete is a constant predicate, not a join on the unique key: a join on a key
  that is constant within the run is quadratic in DuckDB, and a per-key delete would leave
  rows of employees that a re-run no longer produces (e.g. a hire that no longer exists).
  The model's unique_key states its grain; tests assert it.
-#}
{% macro duckdb__get_delete_insert_merge_sql(target, source, unique_key, dest_columns, incremental_predicates) -%}
    {%- set dest_cols_csv = get_quoted_csv(dest_columns | map(attribute="name")) -%}
    delete from {{ target }}
    where {{ year_slice_predicate() }};

    insert into {{ target }} ({{ dest_cols_csv }})
    (select {{ dest_cols_csv }} from {{ source }})
{%- endmacro %}

{% macro year_slice_predicate(alias=none) -%}
    {%- set p = (alias ~ '.') if alias else '' -%}
    {{ p }}scenario_id = '{{ var("scenario_id") }}'
    and {{ p }}plan_design_id = '{{ var("plan_design_id") }}'
    and {{ p }}simulation_year = {{ var("simulation_year") }}
{%- endmacro %}

{#- read the current year's slice of an upstream incremental model -#}
{% macro this_year(model_name) -%}
    (select * from {{ ref(model_name) }} where {{ year_slice_predicate() }})
{%- endmacro %}

{% macro identity_columns() -%}
    '{{ var("scenario_id") }}'::varchar as scenario_id,
    '{{ var("plan_design_id") }}'::varchar as plan_design_id,
    {{ var("simulation_year") }}::integer as simulation_year
{%- endmacro %}

{#- a text value as a SQL string literal (quotes doubled), for paths read by read_parquet -#}
{% macro sql_string(value) -%}
    '{{ value | replace("'", "''") }}'
{%- endmacro %}
