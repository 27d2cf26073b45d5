{#-
  Grain: one row per (scenario, plan design, year, test): test_name 'adp' (IRC 401(k)(3); Treas.
  Reg. 1.401(k)-2) and 'acp' (IRC 401(m)(2); Treas. Reg. 1.401(m)-2), with the columns every
  compliance test row has (unioned into fct_compliance_tests). The figures come from
  int_nondiscrimination_ratios (one row per eligible employee, with the year's test on each row):
  - hce_count / nhce_count: eligible HCEs / NHCEs counted by the test (ACP: those eligible for the
    match); hce_value / nhce_value: their average ratios (fractions, to 0.0001), the NHCE one always
    this year's (next year's prior-year base); nhce_base: the NHCE figure the limit is built on;
    test_value = hce_value; limit_value = max(1.25 x base, min(2 x base, base + 0.02));
    margin_points = (limit_value - hce_value) x 100 (negative: fails). Null where a group is empty.
  - ADP: corrective_amount = the excess contributions refunded, recharacterized_amount = the excess
    kept as catch-up, match_forfeited = the match attributable to the refunds, affected_count =
    HCEs with excess contributions.
  - ACP: corrective_amount = the excess aggregate contributions (the vested part distributed, the
    rest forfeited: the total is reported), affected_count = HCEs with any; the other money 0.
  - test_method: compliance_testing_method, or 'safe_harbor' when the test is deemed met; note: one
    sentence saying why (deemed, not applicable, not determinable) or what passed / was corrected.
  A year without eligible employees has both rows, not_applicable.
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'simulation_year', 'test_name'],
    tags=['compliance']
) }}

{%- set method = var('compliance_testing_method', 'current_year') %}
{%- set reasons = {'adp': var('compliance_adp_deemed_reason', none), 'acp': var('compliance_acp_deemed_reason', none)} %}

with ratios as (
    select * from {{ this_year('int_nondiscrimination_ratios') }}
),

adp as (
    select
        'adp' as test_name,
        coalesce(any_value(adp_test_method), {{ sql_string('safe_harbor' if reasons['adp'] else method) }}) as test_method,
        coalesce(any_value(adp_status), 'not_applicable') as status,
        count(*) filter (where is_hce) as hce_count,
        count(*) filter (where not is_hce) as nhce_count,
        any_value(adp_hce_average) as hce_value,
        any_value(adp_nhce_average) as nhce_value,
        any_value(adp_nhce_base) as nhce_base,
        any_value(adp_limit) as limit_value,
        coalesce(sum(adp_refund), 0) as corrective_amount,
        coalesce(sum(recharacterized_as_catch_up), 0) as recharacterized_amount,
        coalesce(sum(match_forfeited), 0) as match_forfeited,
        count(*) filter (where adp_excess > 0) as affected_count
    from ratios
),

acp as (
    select
        'acp' as test_name,
        coalesce(any_value(acp_test_method), {{ sql_string('safe_harbor' if reasons['acp'] else method) }}) as test_method,
        coalesce(any_value(acp_status), 'not_applicable') as status,
        count(*) filter (where is_acp_eligible and is_hce) as hce_count,
        count(*) filter (where is_acp_eligible and not is_hce) as nhce_count,
        any_value(acp_hce_average) as hce_value,
        any_value(acp_nhce_average) as nhce_value,
        any_value(acp_nhce_base) as nhce_base,
        any_value(acp_limit) as limit_value,
        coalesce(sum(acp_excess), 0) as corrective_amount,
        0 as recharacterized_amount,
        0 as match_forfeited,
        count(*) filter (where acp_excess > 0) as affected_count
    from ratios
),

tests as (
    select * from adp
    union all
    select * from acp
),

described as (
    select
        *,
        -- which arm of the limit gives it
        case when 1.25 * nhce_base >= least(2 * nhce_base, nhce_base + 0.02) then ' x 1.25'
             when 2 * nhce_base <= nhce_base + 0.02 then ' x 2'
             else ' + 2 points' end as limit_rule,
        case test_name when 'adp' then '1.401(k)-2(a)(1)(ii)' else '1.401(m)-2(a)(1)(ii)' end as no_nhce_rule
    from tests
),

final as (
    select
        {{ identity_columns() }},
        test_name::varchar as test_name,
        test_method::varchar as test_method,
        status::varchar as status,
        hce_count::integer as hce_count,
        nhce_count::integer as nhce_count,
        hce_value::decimal(9, 6) as hce_value,
        nhce_value::decimal(9, 6) as nhce_value,
        nhce_base::decimal(9, 6) as nhce_base,
        hce_value::decimal(9, 6) as test_value,
        limit_value::decimal(9, 6) as limit_value,
        ((limit_value - hce_value) * 100)::decimal(9, 4) as margin_points,
        corrective_amount::decimal(18, 2) as corrective_amount,
        recharacterized_amount::decimal(18, 2) as recharacterized_amount,
        match_forfeited::decimal(18, 2) as match_forfeited,
        affected_count::integer as affected_count,
        case
            when status = 'not_applicable' and test_name = 'adp' then 'No employee was eligible to defer in the year.'
            when status = 'not_applicable' then 'No employee was eligible for the match in the year.'
            {%- for t in ['adp', 'acp'] if reasons[t] %}
            when test_name = '{{ t }}' then {{ sql_string(reasons[t]) }}
            {%- endfor %}
            when status = 'not_determinable' then format(
                'Prior-year testing, but {} left no {} result to build the limit on.',
                {{ var('simulation_year') - 1 }}, upper(test_name))
            when status = 'deemed_pass' then format(
                'No eligible NHCEs in the year the limit is built on: deemed to pass (Treas. Reg. {}).', no_nhce_rule)
            when hce_count = 0 then format(
                'No eligible HCEs: nothing to test (NHCE average {:.2f}%).', nhce_value::double * 100)
            when status = 'pass' then format(
                'HCE average {:.2f}% is within the limit {:.2f}% (NHCE base {:.2f}%{}).',
                hce_value::double * 100, limit_value::double * 100, nhce_base::double * 100, limit_rule)
            when test_name = 'adp' then format(
                'HCE average {:.2f}% is above the limit {:.2f}%: ${:,.2f} refunded to {} HCEs (leveling by dollar amount), '
                || '${:,.2f} kept as catch-up, ${:,.2f} of match forfeited.',
                hce_value::double * 100, limit_value::double * 100, corrective_amount::double, affected_count,
                recharacterized_amount::double, match_forfeited::double)
            else format(
                'HCE average {:.2f}% is above the limit {:.2f}%: ${:,.2f} of match corrected for {} HCEs (leveling by '
                || 'dollar amount; the vested part is distributed, the rest forfeited).',
                hce_value::double * 100, limit_value::double * 100, corrective_amount::double, affected_count)
        end::varchar as note
    from described
)

select * from final
