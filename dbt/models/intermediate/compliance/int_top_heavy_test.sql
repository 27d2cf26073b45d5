{#-
  Grain: one row per year: test 'top_heavy' (IRC 416(g)), from int_top_heavy_minimum (who is a
  key employee, the balances on the determination date, the minimum owed per employee).
  - status: not_determinable when the census had neither is_officer nor ownership_pct;
    deemed_pass when var compliance_top_heavy_deemed_reason is set (416(g)(4)(H): only deferrals
    and safe harbor contributions); fail when key employees hold more than 60% of the counted
    balances (the plan is top-heavy and owes the 416(c)(2) minimum); else pass.
  - hce_count / nhce_count: key / non-key account holders counted on the determination date;
    hce_value / nhce_value: their shares of the balances; test_value = key share, limit 0.60,
    margin_points = (0.60 - key share) x 100 (negative = top-heavy).
  - corrective_amount: the minimum owed in the year (sum of top_heavy_minimum, within 415(c)),
    affected_count: the employees owed some; applied to the core balance only with
    compliance.top_heavy_minimum apply.
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'simulation_year', 'test_name'],
    tags=['compliance']
) }}

{%- set deemed_reason = var('compliance_top_heavy_deemed_reason', none) %}
{%- set applied = var('compliance_top_heavy_minimum', 'report') == 'apply' %}

with minimum as (
    select * from {{ this_year('int_top_heavy_minimum') }}
),

year_figures as (
    select
        count(*) as employee_count,
        coalesce(bool_or(is_officer_data_known), false) as is_officer_data_known,
        coalesce(bool_or(is_owner_data_known), false) as is_owner_data_known,
        any_value(determination_date) as determination_date,
        any_value(key_balance) as key_balance,
        any_value(determination_balance) as determination_balance,
        any_value(key_balance_share) as key_balance_share,
        coalesce(any_value(key_holder_count), 0) as key_holder_count,
        coalesce(any_value(non_key_holder_count), 0) as non_key_holder_count,
        coalesce(bool_or(is_top_heavy), false) as is_top_heavy,
        any_value(required_rate) as required_rate,
        coalesce(sum(top_heavy_minimum), 0)::decimal(18, 2) as minimum_total,
        count(*) filter (where top_heavy_minimum > 0)::integer as minimum_count,
        count(*) filter (where is_415c_limited)::integer as limited_count
    from minimum
),

evaluated as (
    select
        *,
        case
            when not is_officer_data_known and not is_owner_data_known then 'not_determinable'
            {%- if deemed_reason %}
            when true then 'deemed_pass'
            {%- endif %}
            when is_top_heavy then 'fail'
            else 'pass'
        end as status,
        case
            when not is_officer_data_known and not is_owner_data_known then ''
            when not is_officer_data_known then ' (key employees from ownership_pct only: the census has no is_officer column)'
            when not is_owner_data_known then ' (key employees from is_officer only: the census has no ownership_pct column)'
            else ''
        end as data_caveat,
        'key employees hold ' || coalesce(printf('%.2f', key_balance_share * 100), '0.00') || '% of the '
            || format('{:,.2f}', coalesce(determination_balance, 0)) || ' in the plan on '
            || strftime(coalesce(determination_date, make_date({{ var('simulation_year') - 1 }}, 12, 31)), '%Y-%m-%d')
            as share_text
    from year_figures
),

final as (
    select
        {{ identity_columns() }},
        'top_heavy' as test_name,
        'determination_date' as test_method,
        status,
        key_holder_count::integer as hce_count,
        non_key_holder_count::integer as nhce_count,
        case when status <> 'not_determinable' then key_balance_share end::decimal(9, 6) as hce_value,
        case when status <> 'not_determinable' then 1 - key_balance_share end::decimal(9, 6) as nhce_value,
        case when status <> 'not_determinable' then 1 - key_balance_share end::decimal(9, 6) as nhce_base,
        case when status <> 'not_determinable' then key_balance_share end::decimal(9, 6) as test_value,
        0.60::decimal(9, 6) as limit_value,
        case when status in ('pass', 'fail') then round((0.60 - coalesce(key_balance_share, 0)) * 100, 4) end::decimal(9, 4)
            as margin_points,
        case when status = 'fail' then minimum_total else 0 end::decimal(18, 2) as corrective_amount,
        0::decimal(18, 2) as recharacterized_amount,
        0::decimal(18, 2) as match_forfeited,
        case when status = 'fail' then minimum_count else 0 end::integer as affected_count,
        case status
            when 'not_determinable'
                then 'top-heavy status not determinable: the census has neither an is_officer nor an ownership_pct column, '
                     || 'so key employees (IRC 416(i)(1)) are unknown'
            when 'deemed_pass'
                then {{ sql_string(deemed_reason) if deemed_reason else "''" }}
            when 'fail'
                then 'top-heavy: ' || share_text || ' (more than 60%, IRC 416(g)(1)); the minimum contribution of IRC '
                     || '416(c)(2) (' || printf('%.2f', required_rate * 100) || '% of pay) is required: '
                     || format('{:,.2f}', minimum_total) || ' for ' || minimum_count || ' non-key employees'
                     || case when limited_count > 0 then ', ' || limited_count || ' of them capped by 415(c)' else '' end
                     || ', {{ "applied to the core balance" if applied else "reported, not applied" }}' || data_caveat
            else 'not top-heavy: ' || share_text || ' (60% or less, IRC 416(g)(1))' || data_caveat
        end as note
    from evaluated
)

select * from final
