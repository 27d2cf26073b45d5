{#-
  Grain: one row per (scenario, plan design, year, test): the year's nondiscrimination tests
  (docs/semantics.md 4.19). test_name: adp, acp (int_adp_acp_tests), coverage_401k,
  coverage_401m, coverage_nonelective (int_coverage_tests), top_heavy (int_top_heavy_test).
  status: pass | fail | deemed_pass | not_determinable | not_applicable; margin_points: how many
  percentage points inside the limit the tested figure is (negative = fails). Exported as
  results/<scenario>/<year>/fct_compliance_tests.parquet: the year's summary.json lists it, and
  the next year's stg_prior_compliance reads its NHCE averages (prior-year testing method).
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'simulation_year', 'test_name'],
    tags=['marts', 'compliance']
) }}

{%- set columns = ['scenario_id', 'plan_design_id', 'simulation_year', 'test_name', 'test_method', 'status',
                   'hce_count', 'nhce_count', 'hce_value', 'nhce_value', 'nhce_base', 'test_value',
                   'limit_value', 'margin_points', 'corrective_amount', 'recharacterized_amount',
                   'match_forfeited', 'affected_count', 'note'] %}

{%- for model in ['int_adp_acp_tests', 'int_coverage_tests', 'int_top_heavy_test'] %}
select {{ columns | join(', ') }} from {{ this_year(model) }}
{% if not loop.last %}union all{% endif %}
{%- endfor %}
