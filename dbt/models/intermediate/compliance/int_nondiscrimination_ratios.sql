{#-
  Grain: one row per employee of int_employee_contributions of the year who was eligible to defer
  at some time in the year. Eligibility is read from the money: eligible_plan_compensation > 0, i.e.
  the employee was eligible on at least one pay date with pay (int_employee_contributions: a
  period's plan pay is eligible pay when the employee is eligible on its state date). An eligible
  employee who defers nothing is in the test at 0% (Treas. Reg. 1.401(k)-6, "eligible employee";
  1.401(k)-2(a)(3)). The ACP test counts those of them eligible for the match: the same people
  minus who fails the match's allocation conditions (meets_match_conditions false: last day,
  hours or service; Treas. Reg. 1.401(m)-5, "eligible employee"; plan practice reads a failed
  condition as not eligible for the year). plansim has no after-tax employee contributions, so the
  ACP numerator is the match alone (IRC 401(m)(3)).
  Per employee:
  - testing_compensation: eligible_plan_compensation, 414(s) pay while eligible, already capped at
    401(a)(17) (IRC 401(k)(3)(B), 414(s); Treas. Reg. 1.401(k)-6 "compensation").
  - adp_deferrals = employee_deferral - catch_up_deferral: pre-tax + Roth (IRC 402A), catch-up
    excluded (IRC 414(v)(3)(B); Treas. Reg. 1.414(v)-1(d)(2)).
  - actual_deferral_ratio = adp_deferrals / testing_compensation, rounded half up to the nearest
    0.01% (Treas. Reg. 1.401(k)-2(a)(3), 1.401(m)-2(a)(3): each ratio to the nearest one-hundredth
    of one percent); the group averages are rounded the same way (plan-document practice).
  Per test (columns adp_* / acp_*, the same on every row of the year; int_adp_acp_tests reports them):
  - group averages of the ratios of eligible HCEs (int_hce_determination.is_hce) and NHCEs.
  - base: the NHCE average of this year (current_year) or of the year before (prior_year:
    stg_prior_compliance.nhce_value of the test; in the start year compliance_prior_year_nhce_adp /
    _acp, the 3% first-year rule of IRC 401(k)(3)(E) / 401(m)(3) unless the sponsor gives its own).
  - limit = max(1.25 x base, min(2 x base, base + 0.02)) (IRC 401(k)(3)(A)(ii), 401(m)(2)(A);
    Treas. Reg. 1.401(k)-2(a)(1)(i), 1.401(m)-2(a)(1)(i)); pass when the HCE average <= limit.
  - status: not_applicable without eligible employees; deemed_pass when
    compliance_<test>_deemed_reason is set (safe harbor, IRC 401(k)(12)/(13), 401(m)(11)/(12): the
    averages are still computed, nothing is corrected); not_determinable under prior_year when the
    previous year left no result; deemed_pass when the base year had no eligible NHCEs (base null;
    Treas. Reg. 1.401(k)-2(a)(1)(ii), 1.401(m)-2(a)(1)(ii)); pass without eligible HCEs; else pass / fail.
  Correction of a failed ADP test (IRC 401(k)(8); Treas. Reg. 1.401(k)-2(b)(2)), macro leveling:
  1. total excess contributions: the highest HCE ratios are leveled down to highest_permitted_adr,
     the level at which the HCE ratios sum to hce_count x limit (the HCE average equals the limit);
     each HCE above it contributes adp_deferrals - level x testing_compensation (cents); the total
     is their sum ((b)(2)(ii)).
  2. that total is assigned by dollar amount ((b)(2)(iii); IRC 401(k)(8)(C)): the HCEs with the
     highest adp_deferrals are cut first, down to the next highest, until the total is used
     (adp_dollar_level); adp_excess is each HCE's cut (cents).
  3. recharacterized_as_catch_up: up to the HCE's unused catch-up room (age 50 or more by Dec 31;
     the year's catch-up limit actually applied, deferral_limit_applied - elective_deferral_limit,
     which is 0 in a plan without Roth above the 414(v)(7) wage threshold, minus catch_up_deferral)
     the excess stays in the plan as catch-up (IRC 414(v); Treas. Reg. 1.414(v)-1(b)(1)(iii));
     adp_refund is the rest.
  4. match_forfeited: the match attributable to the refunded deferrals (not the recharacterized
     ones), forfeited (IRC 401(k)(8)(E), 411(a)(3)(G)): the year's match formula of the
     employee's band on the annual employee_deferral and eligible pay, minus the formula on
     (employee_deferral - adp_refund), capped at employer_match, in cents.
  The ACP test then runs on acp_contributions = employer_match - match_forfeited (the match left
  after the ADP correction; the order is plan practice, Treas. Reg. 1.401(a)(4)-4(e)(3)(iii)(G)
  judges the match rate after corrections). A failed ACP test is corrected the same way on the
  ratios and then the dollars of match (IRC 401(m)(6); Treas. Reg. 1.401(m)-2(b)(2)): acp_excess
  is the HCE's excess aggregate contributions, distributed where vested and forfeited where not
  (int_adp_acp_tests reports the total).
  Rounding: ratios to 0.0001 half up in integer arithmetic (macro ratio_to_hundredth_percent);
  the levels are exact quotients; step 1's amounts are rounded to cents per HCE and the total
  excess is their sum; step 2's cuts are in cents that add up to that total exactly (macro
  leveled_cents: rounded down, the cents left over one each to the highest amounts).
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'employee_id', 'simulation_year'],
    tags=['compliance']
) }}

{%- set tier_bands_spec = var('match_tier_bands', none) %}
{%- set match_bands = tier_bands_spec['bands'] if tier_bands_spec else [{'from': 0, 'to': none, 'tiers': var('match_tiers')}] %}
{%- set method = var('compliance_testing_method', 'current_year') %}
{%- set is_start_year = var('simulation_year') == var('start_year') %}
{%- set reasons = {'adp': var('compliance_adp_deemed_reason', none), 'acp': var('compliance_acp_deemed_reason', none)} %}
{#- per test: the SQL of its base and of "the prior year left no result" -#}
{%- set first_year_base = {'adp': var('compliance_prior_year_nhce_adp', 0.03),
                           'acp': var('compliance_prior_year_nhce_acp', 0.03)} %}
{%- set base_sql = {} %}
{%- set missing_prior_sql = {} %}
{%- for t in ['adp', 'acp'] %}
    {%- if reasons[t] or method != 'prior_year' %}
        {%- do base_sql.update({t: 'nhce_average'}) %}
        {%- do missing_prior_sql.update({t: 'false'}) %}
    {%- elif is_start_year %}
        {%- do base_sql.update({t: '(' ~ (first_year_base[t] | float) ~ ')::decimal(9, 6)'}) %}
        {%- do missing_prior_sql.update({t: 'false'}) %}
    {%- else %}
        {%- do base_sql.update({t: "(select max(nhce_value) from prior_results where test_name = '" ~ t ~ "')"}) %}
        {%- do missing_prior_sql.update({t: "not exists (select 1 from prior_results where test_name = '" ~ t ~ "')"}) %}
    {%- endif %}
{%- endfor %}

with contributions as (
    select * from {{ this_year('int_employee_contributions') }}
    where eligible_plan_compensation > 0
),

hce as (
    select employee_id, is_hce from {{ this_year('int_hce_determination') }}
),

prior_results as (
    select test_name, nhce_value from {{ ref('stg_prior_compliance') }}
),

limits as (
    select elective_deferral_limit from {{ ref('irs_limits') }} where plan_year = {{ var('simulation_year') }}
),

eligible as (
    select
        contributions.employee_id,
        coalesce(hce.is_hce, false) as is_hce,
        coalesce(contributions.meets_match_conditions, true) as is_acp_eligible,
        contributions.age_at_year_end,
        contributions.eligible_plan_compensation as testing_compensation,
        contributions.employee_deferral,
        contributions.catch_up_deferral,
        (contributions.employee_deferral - contributions.catch_up_deferral)::decimal(18, 2) as adp_deferrals,
        contributions.employer_match,
        contributions.match_tier_band,
        case when contributions.age_at_year_end >= 50
             then greatest(0, contributions.deferral_limit_applied - limits.elective_deferral_limit
                              - contributions.catch_up_deferral)
             else 0 end::decimal(18, 2) as catch_up_room,
        {{ ratio_to_hundredth_percent('contributions.employee_deferral - contributions.catch_up_deferral',
                                      'contributions.eligible_plan_compensation') }} as actual_deferral_ratio
    from contributions
    left join hce on contributions.employee_id = hce.employee_id
    cross join limits
),

-- ADP test ------------------------------------------------------------------------------------

{{ adp_acp_test_ctes('adp', 'eligible', 'actual_deferral_ratio', 'true', base_sql, missing_prior_sql, reasons) }},

adp_hces as (
    select * from eligible where is_hce
),

adp_ratio_level as (
    {{ leveling('adp_hces', 'actual_deferral_ratio', '(select ratio_to_remove from adp_to_remove)') }}
),

adp_ratio_step as (
    -- Treas. Reg. 1.401(k)-2(b)(2)(ii): each HCE above the highest permitted ratio, in dollars
    select
        adp_hces.employee_id,
        case when adp_to_remove.status = 'fail' and adp_hces.actual_deferral_ratio > adp_ratio_level.level
             then round(greatest(0, adp_hces.adp_deferrals - adp_ratio_level.level * adp_hces.testing_compensation), 2)
             else 0 end::decimal(18, 2) as ratio_step_excess
    from adp_hces
    cross join adp_ratio_level
    cross join adp_to_remove
),

adp_dollar_level as (
    {{ leveling('adp_hces', 'adp_deferrals', '(select sum(ratio_step_excess) from adp_ratio_step)') }}
),

adp_dollar_step as (
    -- Treas. Reg. 1.401(k)-2(b)(2)(iii): the total goes to the highest dollar amounts first
    {{ leveled_cents('adp_hces', 'employee_id', 'adp_deferrals', '(select level from adp_dollar_level)',
                     '(select sum(ratio_step_excess) from adp_ratio_step)') }}
),

adp_corrected as (
    select
        eligible.*,
        coalesce(adp_ratio_step.ratio_step_excess, 0)::decimal(18, 2) as adp_excess_by_ratio,
        case when adp_to_remove.status = 'fail' then coalesce(adp_dollar_step.share, 0) else 0 end::decimal(18, 2) as adp_excess
    from eligible
    left join adp_ratio_step on eligible.employee_id = adp_ratio_step.employee_id
    left join adp_dollar_step on eligible.employee_id = adp_dollar_step.key_value
    cross join adp_to_remove
),

adp_recharacterized as (
    select
        *,
        least(adp_excess, catch_up_room)::decimal(18, 2) as recharacterized_as_catch_up,
        (adp_excess - least(adp_excess, catch_up_room))::decimal(18, 2) as adp_refund
    from adp_corrected
),

adp_forfeiture as (
    -- the match the formula gives on the refunded deferrals (the top of the year's deferral)
    select
        *,
        case when adp_refund > 0
             then least(employer_match,
                        round(({{ banded_tier_match(match_bands, 'match_tier_band', 'employee_deferral', 'testing_compensation') }})
                              - ({{ banded_tier_match(match_bands, 'match_tier_band', '(employee_deferral - adp_refund)', 'testing_compensation') }}), 2))
             else 0 end::decimal(18, 2) as match_forfeited
    from adp_recharacterized
),

-- ACP test, on the match left after the ADP correction ---------------------------------------

acp_ratios as (
    select
        *,
        (employer_match - match_forfeited)::decimal(18, 2) as acp_contributions,
        case when is_acp_eligible
             then {{ ratio_to_hundredth_percent('employer_match - match_forfeited', 'testing_compensation') }}
        end as actual_contribution_ratio
    from adp_forfeiture
),

{{ adp_acp_test_ctes('acp', 'acp_ratios', 'actual_contribution_ratio', 'is_acp_eligible', base_sql, missing_prior_sql, reasons) }},

acp_hces as (
    select * from acp_ratios where is_acp_eligible and is_hce
),

acp_ratio_level as (
    {{ leveling('acp_hces', 'actual_contribution_ratio', '(select ratio_to_remove from acp_to_remove)') }}
),

acp_ratio_step as (
    -- Treas. Reg. 1.401(m)-2(b)(2)(ii)
    select
        acp_hces.employee_id,
        case when acp_to_remove.status = 'fail' and acp_hces.actual_contribution_ratio > acp_ratio_level.level
             then round(greatest(0, acp_hces.acp_contributions - acp_ratio_level.level * acp_hces.testing_compensation), 2)
             else 0 end::decimal(18, 2) as ratio_step_excess
    from acp_hces
    cross join acp_ratio_level
    cross join acp_to_remove
),

acp_dollar_level as (
    {{ leveling('acp_hces', 'acp_contributions', '(select sum(ratio_step_excess) from acp_ratio_step)') }}
),

acp_dollar_step as (
    -- Treas. Reg. 1.401(m)-2(b)(2)(iii): the highest dollar amounts of match first
    {{ leveled_cents('acp_hces', 'employee_id', 'acp_contributions', '(select level from acp_dollar_level)',
                     '(select sum(ratio_step_excess) from acp_ratio_step)') }}
),

acp_corrected as (
    select
        acp_ratios.*,
        coalesce(acp_ratio_step.ratio_step_excess, 0)::decimal(18, 2) as acp_excess_by_ratio,
        case when acp_to_remove.status = 'fail' then coalesce(acp_dollar_step.share, 0) else 0 end::decimal(18, 2) as acp_excess
    from acp_ratios
    left join acp_ratio_step on acp_ratios.employee_id = acp_ratio_step.employee_id
    left join acp_dollar_step on acp_ratios.employee_id = acp_dollar_step.key_value
    cross join acp_to_remove
),

final as (
    select
        {{ identity_columns() }},
        acp_corrected.employee_id,
        acp_corrected.is_hce,
        acp_corrected.is_acp_eligible,
        acp_corrected.age_at_year_end,
        acp_corrected.testing_compensation,
        acp_corrected.adp_deferrals,
        acp_corrected.actual_deferral_ratio,
        acp_corrected.catch_up_room,
        acp_corrected.adp_excess_by_ratio,
        acp_corrected.adp_excess,
        acp_corrected.recharacterized_as_catch_up,
        acp_corrected.adp_refund,
        acp_corrected.employer_match,
        acp_corrected.match_forfeited,
        acp_corrected.acp_contributions,
        acp_corrected.actual_contribution_ratio,
        acp_corrected.acp_excess_by_ratio,
        acp_corrected.acp_excess,
        -- the year's tests, the same on every row
        {{ sql_string('safe_harbor' if reasons['adp'] else method) }}::varchar as adp_test_method,
        adp_test.status::varchar as adp_status,
        adp_test.hce_average::decimal(9, 6) as adp_hce_average,
        adp_test.nhce_average::decimal(9, 6) as adp_nhce_average,
        adp_test.nhce_base as adp_nhce_base,
        adp_test.limit_value as adp_limit,
        case when adp_test.status = 'fail' then adp_ratio_level.level end::decimal(18, 8) as highest_permitted_adr,
        case when adp_test.status = 'fail' then adp_dollar_level.level end::decimal(18, 4) as adp_dollar_level,
        {{ sql_string('safe_harbor' if reasons['acp'] else method) }}::varchar as acp_test_method,
        acp_test.status::varchar as acp_status,
        acp_test.hce_average::decimal(9, 6) as acp_hce_average,
        acp_test.nhce_average::decimal(9, 6) as acp_nhce_average,
        acp_test.nhce_base as acp_nhce_base,
        acp_test.limit_value as acp_limit,
        case when acp_test.status = 'fail' then acp_ratio_level.level end::decimal(18, 8) as highest_permitted_acr,
        case when acp_test.status = 'fail' then acp_dollar_level.level end::decimal(18, 4) as acp_dollar_level
    from acp_corrected
    cross join adp_test
    cross join adp_ratio_level
    cross join adp_dollar_level
    cross join acp_test
    cross join acp_ratio_level
    cross join acp_dollar_level
)

select * from final
