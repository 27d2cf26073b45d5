{#-
  Grain: one row per employee employed at any time in the simulation year.
  Per pay period of the payroll calendar (macro pay_periods), each using the state on its pay
  date (or on the termination date, for the last pay of a leaver):
  - pay earned: annual rate / periods per year for a full period, prorated by the days
    employed in the period, at each rate in force (a raise mid-period splits it);
  - plan pay: pay counts until the year's 401(a)(17) limit is reached;
  - eligible pay: the period's plan pay when the employee is eligible on the pay date;
  - deferral: the pay date's rate x plan pay when enrolled, stopped once the year's deferrals
    reach 402(g) + catch-up (age 50+ by Dec 31; 60-63 the super catch-up where the year has one);
  - match: the tiers on the period's deferral as a share of the period's eligible pay; with
    match_true_up, the year's match is raised to the tiers on the year's deferral and eligible pay.
  Core = core_contribution_rate x eligible pay. Then §415(c): annual additions (deferrals other
  than catch-up + match + core) may not exceed min(limit, pay). Deferrals above it are catch-up
  first (§414(v), up to the unused catch-up limit); what remains is corrected in the order of
  limit_415c_correction_order (docs/semantics.md). All amounts are computed unrounded per
  period and rounded to cents per year.
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'employee_id', 'simulation_year'],
    tags=['deferral_pipeline', 'contributions']
) }}

{%- set tiers = var('match_tiers') %}

with timeline as (
    select * from {{ ref('int_deferral_timeline') }}
),

limits as (
    select * from {{ ref('irs_limits') }} where plan_year = {{ var('simulation_year') }}
),

periods as (
    select *, period_end - period_start + 1 as period_days from {{ pay_periods() }}
),

employed_days as (
    select
        timeline.*,
        periods.pay_period,
        periods.period_days,
        least(periods.period_end, coalesce(timeline.termination_date, periods.period_end)) as state_date,
        greatest(periods.period_start, timeline.hire_date) as employed_from,
        least(periods.period_end, coalesce(timeline.termination_date, periods.period_end)) as employed_to
    from timeline
    cross join periods
),

period_pay as (
    select
        *,
        greatest(0, employed_to - employed_from + 1) as days_employed,
        case when compensation_change_date is null then 0
             else greatest(0, employed_to - greatest(employed_from, compensation_change_date) + 1) end
            as days_at_new_rate
    from employed_days
),

earned as (
    select
        employee_id,
        pay_period,
        {{ deferral_rate_on('state_date') }}::double as deferral_rate,
        {{ is_enrolled_on('state_date') }} as is_enrolled,
        eligibility_date <= state_date as is_eligible,
        (starting_compensation::double * (days_employed - days_at_new_rate)
         + ending_compensation::double * days_at_new_rate)
            / ({{ periods_per_year() }} * period_days) as earned_pay
    from period_pay
),

plan_pay as (
    select
        earned.*,
        least(earned_pay, greatest(0, (select compensation_limit::double from limits)
            - coalesce(sum(earned_pay) over (partition by employee_id order by pay_period
                                             rows between unbounded preceding and 1 preceding), 0))) as plan_pay
    from earned
),

requested as (
    select
        plan_pay.*,
        case when is_eligible then plan_pay else 0 end as eligible_pay,
        case when is_enrolled then deferral_rate * plan_pay else 0 end as requested_deferral
    from plan_pay
),

people as (
    select
        timeline.employee_id,
        {{ var('simulation_year') }} - year(timeline.birth_date) as age_at_year_end,
        limits.elective_deferral_limit::double as elective_deferral_limit,
        limits.annual_additions_limit::double as annual_additions_limit,
        limits.is_estimated as is_irs_limit_estimated,
        case
            when {{ var('simulation_year') }} - year(timeline.birth_date) between 60 and 63
                 and limits.super_catch_up_limit is not null then limits.super_catch_up_limit
            when {{ var('simulation_year') }} - year(timeline.birth_date) >= 50 then limits.catch_up_limit
            else 0
        end::double as catch_up_limit
    from timeline
    cross join limits
),

cumulative as (
    select
        requested.*,
        people.elective_deferral_limit + people.catch_up_limit as deferral_limit,
        sum(requested_deferral) over (partition by requested.employee_id order by pay_period) as requested_to_date
    from requested
    inner join people on requested.employee_id = people.employee_id
),

period_deferral as (
    -- the deferral of a period: what the year's running request adds below the 402(g) + catch-up limit
    select
        *,
        least(requested_to_date, deferral_limit)
            - least(requested_to_date - requested_deferral, deferral_limit) as deferral
    from cumulative
),

period_match as (
    select
        *,
        0
        {%- for tier in tiers %}
            + {{ tier['rate'] }} * least(greatest(deferral - {{ tier['from'] }} * eligible_pay, 0),
                                         {{ tier['to'] - tier['from'] }} * eligible_pay)
        {%- endfor %} as match
    from period_deferral
),

yearly as (
    select
        employee_id,
        sum(earned_pay) as gross_compensation,
        sum(plan_pay) as plan_compensation,
        sum(eligible_pay) as eligible_plan_compensation,
        sum(requested_deferral) as requested_deferral,
        sum(deferral) as deferral,
        sum(match) as period_match,
        count(*) filter (where is_enrolled and earned_pay > 0)::integer as pay_periods_enrolled
    from period_match
    group by employee_id
),

annual as (
    select
        yearly.*,
        people.age_at_year_end,
        people.elective_deferral_limit,
        people.catch_up_limit,
        people.annual_additions_limit,
        people.is_irs_limit_estimated,
        round(gross_compensation, 2) as gross_compensation_rounded,
        -- the period sums telescope to least(request, limit); least() keeps float noise from the cents
        least(round(deferral, 2), round(requested_deferral, 2), elective_deferral_limit + catch_up_limit) as capped_deferral,
        round(0
        {%- for tier in tiers %}
            + {{ tier['rate'] }} * least(greatest(deferral - {{ tier['from'] }} * eligible_plan_compensation, 0),
                                         {{ tier['to'] - tier['from'] }} * eligible_plan_compensation)
        {%- endfor %}, 2) as formula_match,
        round(period_match, 2) as period_match_rounded,
        round({{ var('core_contribution_rate') }} * eligible_plan_compensation, 2) as core_before_415
    from yearly
    inner join people on yearly.employee_id = people.employee_id
),

employer as (
    select
        *,
        greatest(0, capped_deferral - elective_deferral_limit) as catch_up_402g,
        {{ 'greatest(period_match_rounded, formula_match)' if var('match_true_up') else 'period_match_rounded' }}
            as match_before_415,
        least(annual_additions_limit, gross_compensation_rounded) as additions_limit_applied
    from annual
),

excess as (
    select
        *,
        capped_deferral - catch_up_402g + match_before_415 + core_before_415 - additions_limit_applied
            as excess_before_catch_up
    from employer
),

reclassified as (
    -- §414(v) / Treas. Reg. §1.414(v)-1(b)(1)(i): deferrals above the 415(c) limit are catch-up
    -- contributions, up to the catch-up limit not used for 402(g)
    select
        *,
        least(greatest(excess_before_catch_up, 0), catch_up_limit - catch_up_402g, capped_deferral - catch_up_402g)
            as catch_up_415
    from excess
),

correction_0 as (
    select
        *,
        catch_up_402g + catch_up_415 as catch_up_deferral,
        greatest(0, excess_before_catch_up - catch_up_415) as excess_0,
        capped_deferral as deferral_level_0,
        capped_deferral - catch_up_402g - catch_up_415 as refundable_0,
        0::double as refund_0,
        0::double as match_attributable_0
    from reclassified
),

{#- deferrals_first: refund deferrals from the top of the year's deferral, segment by segment
    of the match formula on eligible pay (above the top tier: unmatched; then each tier from the
    top down). A refunded dollar in a tier with rate m removes 1 + m of additions: the match
    attributable to it is forfeited. -#}
{%- set segments = [] %}
{%- if var('limit_415c_correction_order') == 'deferrals_first' %}
    {%- set ns = namespace(top=none) %}
    {%- for tier in tiers | reverse %}
        {%- do segments.append({'lo': tier['to'], 'hi': ns.top, 'rate': 0}) %}
        {%- do segments.append({'lo': tier['from'], 'hi': tier['to'], 'rate': tier['rate']}) %}
        {%- set ns.top = tier['from'] %}
    {%- endfor %}
    {%- do segments.append({'lo': 0, 'hi': ns.top, 'rate': 0}) %}
{%- endif %}
{%- for seg in segments %}
{%- set i = loop.index0 %}
correction_{{ i + 1 }} as (
    select
        *,
        deferral_level_{{ i }} - step_refund_{{ i + 1 }} as deferral_level_{{ i + 1 }},
        refundable_{{ i }} - step_refund_{{ i + 1 }} as refundable_{{ i + 1 }},
        refund_{{ i }} + step_refund_{{ i + 1 }} as refund_{{ i + 1 }},
        match_attributable_{{ i }} + {{ seg['rate'] }} * step_refund_{{ i + 1 }} as match_attributable_{{ i + 1 }},
        greatest(0, excess_{{ i }} - (1 + {{ seg['rate'] }}) * step_refund_{{ i + 1 }}) as excess_{{ i + 1 }}
    from (
        select
            *,
            least(
                excess_{{ i }} / (1 + {{ seg['rate'] }}),
                refundable_{{ i }},
                greatest(0, {% if seg['hi'] is none %}deferral_level_{{ i }}{% else %}least(deferral_level_{{ i }}, {{ seg['hi'] }} * eligible_plan_compensation){% endif %}
                            - {{ seg['lo'] }} * eligible_plan_compensation)
            ) as step_refund_{{ i + 1 }}
        from correction_{{ i }}
    )
),
{%- endfor %}
{%- set last = segments | length %}

corrected as (
    select
        *,
        round(refund_{{ last }}, 2) as deferral_refund_415,
        round(least(match_before_415, match_attributable_{{ last }}), 2) as match_forfeited_415
    from correction_{{ last }}
),

residual as (
    -- what the deferral refunds left above the limit (all of it under employer_first)
    select
        *,
        greatest(0, capped_deferral - deferral_refund_415 - catch_up_deferral
                    + match_before_415 - match_forfeited_415 + core_before_415 - additions_limit_applied)
            as excess_left
    from corrected
),

employer_corrected as (
    -- comes off core, then match, then the deferrals still refundable
    select
        *,
        least(core_before_415, excess_left) as core_cut,
        least(match_before_415 - match_forfeited_415, greatest(0, excess_left - core_before_415)) as match_cut,
        least(refundable_{{ last }},
              greatest(0, excess_left - core_before_415 - (match_before_415 - match_forfeited_415))) as late_refund
    from residual
),

final as (
    select
        {{ identity_columns() }},
        employee_id,
        age_at_year_end,
        gross_compensation_rounded::decimal(18, 2) as gross_compensation,
        round(plan_compensation, 2)::decimal(18, 2) as plan_compensation,
        round(eligible_plan_compensation, 2)::decimal(18, 2) as eligible_plan_compensation,
        round(requested_deferral, 2)::decimal(18, 2) as requested_deferral,
        (capped_deferral - deferral_refund_415 - round(late_refund, 2))::decimal(18, 2) as employee_deferral,
        catch_up_deferral::decimal(18, 2) as catch_up_deferral,
        (match_before_415 - match_forfeited_415 - round(match_cut, 2))::decimal(18, 2) as employer_match,
        (core_before_415 - round(core_cut, 2))::decimal(18, 2) as employer_core,
        (capped_deferral - deferral_refund_415 - round(late_refund, 2) - catch_up_deferral
         + match_before_415 - match_forfeited_415 - round(match_cut, 2)
         + core_before_415 - round(core_cut, 2))::decimal(18, 2) as annual_additions,
        (deferral_refund_415 + round(late_refund, 2))::decimal(18, 2) as deferral_refund_415,
        (match_forfeited_415 + round(match_cut, 2))::decimal(18, 2) as match_forfeited_415,
        (elective_deferral_limit + catch_up_limit)::decimal(18, 2) as deferral_limit_applied,
        additions_limit_applied::decimal(18, 2) as annual_additions_limit_applied,
        pay_periods_enrolled,
        gross_compensation_rounded > round(plan_compensation, 2) as is_401a17_limited,
        capped_deferral >= elective_deferral_limit as is_402g_limited,
        catch_up_deferral > 0 as is_catch_up_used,
        catch_up_limit > 0 and catch_up_deferral >= catch_up_limit as is_catch_up_limited,
        excess_before_catch_up > 0 as is_415c_limited,
        is_irs_limit_estimated
    from employer_corrected
)

select * from final
