{#- One test's group figures, base, limit and status, and step 1's target, as CTEs
    <test>_group, <test>_base, <test>_limit, <test>_test, <test>_to_remove over the employees of
    `source` meeting `eligible`, with their `ratio`. IRC 401(k)(3)(A)(ii) / 401(m)(2)(A): the
    limit is max(1.25 x base, min(2 x base, base + 2 points)). -#}
{% macro adp_acp_test_ctes(test, source, ratio, eligible, base_sql, missing_prior_sql, reasons) -%}
{{ test }}_group as (
    select
        count(*) filter (where {{ eligible }} and is_hce) as hce_count,
        count(*) filter (where {{ eligible }} and not is_hce) as nhce_count,
        {{ average_to_hundredth_percent(ratio, eligible ~ ' and is_hce') }} as hce_average,
        {{ average_to_hundredth_percent(ratio, eligible ~ ' and not is_hce') }} as nhce_average,
        coalesce(sum({{ ratio }}) filter (where {{ eligible }} and is_hce), 0) as hce_ratio_sum
    from {{ source }}
),

{{ test }}_base as (
    select
        *,
        {{ base_sql[test] }}::decimal(9, 6) as nhce_base,
        {{ missing_prior_sql[test] }} as is_prior_result_missing
    from {{ test }}_group
),

{{ test }}_limit as (
    select
        *,
        greatest(1.25 * nhce_base, least(2 * nhce_base, nhce_base + 0.02))::decimal(9, 6) as limit_value
    from {{ test }}_base
),

{{ test }}_test as (
    select
        *,
        case
            when hce_count + nhce_count = 0 then 'not_applicable'
            {%- if reasons[test] %}
            when true then 'deemed_pass'
            {%- endif %}
            when is_prior_result_missing then 'not_determinable'
            when nhce_base is null then 'deemed_pass'
            when hce_count = 0 then 'pass'
            when hce_average <= limit_value then 'pass'
            else 'fail'
        end as status
    from {{ test }}_limit
),

{{ test }}_to_remove as (
    -- step 1's target: the HCE ratios may sum to hce_count x limit
    select
        *,
        case when status = 'fail' then hce_ratio_sum - hce_count * limit_value else 0 end as ratio_to_remove
    from {{ test }}_test
)
{%- endmacro %}
