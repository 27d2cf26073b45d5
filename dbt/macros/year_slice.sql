{#-
  The year_slice incremental strategy (dbt_project.yml: +incremental_strategy: year_slice), dbt's
  extension point for a custom strategy (a macro get_incremental_<name>_sql). Every incremental
  model holds all years of one scenario; a build replaces exactly the current
  (scenario_id, plan_design_id, simulation_year) slice: delete it, insert the new rows. The
  delete is a constant predicate, not a join on the unique key: a join on a key that is constant
  within the run is quadratic in DuckDB, and a per-key delete would leave rows of employees that
  a re-run no longer produces (e.g. a hire that no longer exists). The model's unique_key states
  its grain (its tests assert it); a key that does not hold the slice's columns is refused here,
  since the slice would then not be a set of whole keys.
-#}
{% macro get_incremental_year_slice_sql(arg_dict) -%}
    {%- set key = arg_dict["unique_key"] -%}
    {%- set key = [key] if key is string else (key or []) -%}
    {%- for column in ["scenario_id", "plan_design_id", "simulation_year"] if column not in key -%}
        {{ exceptions.raise_compiler_error("year_slice: the unique_key of " ~ arg_dict["target_relation"]
                                           ~ " must hold " ~ column ~ " (it is " ~ key ~ ")") }}
    {%- endfor -%}
    {%- set dest_cols_csv = get_quoted_csv(arg_dict["dest_columns"] | map(attribute="name")) -%}
    delete from {{ arg_dict["target_relation"] }}
    where {{ year_slice_predicate() }};

    insert into {{ arg_dict["target_relation"] }} ({{ dest_cols_csv }})
    (select {{ dest_cols_csv }} from {{ arg_dict["temp_relation"] }})
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
