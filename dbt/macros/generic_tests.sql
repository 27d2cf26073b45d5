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


{#- A model's key, in one query per model and year: no duplicate key, no null key column,
    and (unless require_rows is false) at least one row for the year. One failing row per
    duplicate key, per row with a null key column, and one if the year has no rows. -#}
{% test valid_key_this_year(model, columns, require_rows=true) %}
    with year_slice as (
        select {{ columns | join(', ') }} from {{ model }} where {{ year_slice_predicate() }}
    )
    select 'duplicate key' as problem from year_slice
    group by {{ columns | join(', ') }} having count(*) > 1
    union all
    select 'null in a key column' as problem from year_slice
    where {% for c in columns %}{{ c }} is null{{ ' or ' if not loop.last }}{% endfor %}
    {%- if require_rows %}
    union all
    select 'no rows for the year' as problem where not exists (select 1 from year_slice)
    {%- endif %}
{% endtest %}


{#- Year N's opening balance of each source is year N-1's closing balance, employee by employee,
    and a balance left at the end of N-1 does not vanish. The two sides travel far apart (N-1's
    closing is exported to parquet, read back by stg_prior_balances and joined in N), so this
    checks the chain across years, not a formula restated. Skipped in the start year and when
    N-1's rows are not in this database. One row per employee whose balances break the chain. -#}
{% test rolls_forward_from_prior_year(model, sources) %}
    with this_year as (
        select * from {{ model }} where {{ year_slice_predicate() }}
    ),
    prior_year as (
        select * from {{ model }}
        where scenario_id = '{{ var("scenario_id") }}' and simulation_year = {{ var("simulation_year") }} - 1
    )
    select coalesce(this_year.employee_id, prior_year.employee_id) as employee_id
    from prior_year full outer join this_year using (employee_id)
    where {{ var("simulation_year") }} > {{ var("start_year") }}
      and exists (select 1 from prior_year)
      and ({% for source in sources %}coalesce(this_year.opening_balance_{{ source }}, 0)
           <> coalesce(prior_year.closing_balance_{{ source }}, 0){{ ' or ' if not loop.last }}{% endfor %})
{% endtest %}
