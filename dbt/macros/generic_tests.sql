{#- Generic tests of our own (the dbt hub is not reachable). Each checks only the
    current year's slice, so a year's gate costs O(year), not O(all years). -#}

{% test unique_combination_of_columns(model, combination_of_columns) %}
    select {{ combination_of_columns | join(', ') }}, count(*) as n_rows
    from {{ model }}
    where {{ year_slice_predicate() }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1
{% endtest %}

{% test not_null_this_year(model, column_name) %}
    select * from {{ model }}
    where {{ year_slice_predicate() }} and {{ column_name }} is null
{% endtest %}

{% test accepted_values_this_year(model, column_name, values) %}
    select {{ column_name }}, count(*) as n_rows from {{ model }}
    where {{ year_slice_predicate() }}
      and {{ column_name }} not in ({% for v in values %}'{{ v }}'{{ ',' if not loop.last }}{% endfor %})
    group by {{ column_name }}
{% endtest %}

{% test between_this_year(model, column_name, min_value, max_value) %}
    select * from {{ model }}
    where {{ year_slice_predicate() }}
      and ({{ column_name }} < {{ min_value }} or {{ column_name }} > {{ max_value }})
{% endtest %}

{#- rows of the current year that break a boolean SQL expression -#}
{% test expression_is_true_this_year(model, expression) %}
    select * from {{ model }}
    where {{ year_slice_predicate() }} and not ({{ expression }})
{% endtest %}

{% test has_rows_this_year(model) %}
    select 'no rows for the year' as problem
    where not exists (select 1 from {{ model }} where {{ year_slice_predicate() }})
{% endtest %}
