{#-
  Deterministic uniform draws. u in (0, 1) is the first 52 bits of
  md5('<random_seed>|<stream>|<key>|<simulation_year>') divided by 2^52 (plus half a step,
  so it is never 0). md5 is standard and stable across DuckDB versions (DuckDB's hash()
  is not). Stream names never contain the scenario id, so two scenarios with the same
  seed draw the same numbers for the same employee and year.
-#}
{% macro uniform(stream, key_expr) -%}
    ((('0x' || substr(md5(concat_ws('|', '{{ var("random_seed") }}', '{{ stream }}', {{ key_expr }}, '{{ var("simulation_year") }}')), 1, 13))::bigint + 0.5) / 4503599627370496.0)
{%- endmacro %}
