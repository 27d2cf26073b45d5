{#-
  The previous plan year's compliance test rows (fct_compliance_tests of year N-1, a Snakemake
  input of year N), read for the prior-year testing method: the NHCE averages of the ADP and
  ACP tests. No rows in the start year (the handover file is then the staged census, which has
  no test rows): the prior-year method takes compliance.prior_year_nhce_adp / _acp instead.
-#}
{{ config(tags=['compliance']) }}

{%- if var('simulation_year') == var('start_year') %}

select
    null::varchar as test_name,
    null::decimal(9, 6) as nhce_value
where false

{%- else %}

select
    test_name::varchar as test_name,
    nhce_value::decimal(9, 6) as nhce_value
from read_parquet({{ sql_string(var("prior_compliance_file")) }})
where simulation_year = {{ var('simulation_year') - 1 }}

{%- endif %}
