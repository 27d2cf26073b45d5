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
  Plan money (issue 19):
  - service_years: completed years from hire to Dec 31 (or the termination date); service_points:
    age in completed years at the same date + service_years. core_contribution_bands and
    match_tier_bands (when set) pick one band per employee-year on that basis.
  - allocation conditions (allocation_conditions_<source>), before 415(c): employed on Dec 31,
    hours_in_year (census annual_hours, else full_time_hours, x days employed / days in the
    year) and service_years; waived for a retirement when waived_on lists it. A failing core is
    core_withheld; a failing match is match_withheld (allocate_at_year_end) or deposited per
    period and forfeited at year end (deposit_then_forfeit: match_deposited_forfeited, not an
    annual addition); the true-up has its own conditions.
  - sources: deferrals split by the year's deferral-weighted roth_share; IRC 414(v)(7) (from
    the first year with a roth_catch_up_wage_threshold): prior_year_wages above it make
    catch-up only as Roth, and none at all in a plan without Roth (catch-up limit 0).
  - *_year_share: contribution-weighted share of the year left after each deposit (pay date;
    Dec 31 for the true-up and a condition-gated year-end allocation).
  Design timeline (docs/semantics.md 4.20): plan_design_segments are the match and core formulas
  of each design in force in the year, from the day each applies. A period's match and core
  follow the formula in force on its pay date (the period end); the true-up compares the year's
  match with each formula on the deferrals and eligible pay of the periods it governed. The
  columns core_contribution_rate_applied and match_tier_band, and the 415(c) deferrals_first
  refund's match attributable, follow the formula in force on Dec 31.
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'employee_id', 'simulation_year'],
    tags=['deferral_pipeline', 'contributions']
) }}

{#- the formulas of the year, one per segment (without the var, as in dbt unit tests: the design's own) -#}
{%- set segment_specs = var('plan_design_segments', none) or [{
        'from': none, 'match_tiers': var('match_tiers'), 'match_tier_bands': var('match_tier_bands', none),
        'core_contribution_rate': var('core_contribution_rate'), 'core_contribution_bands': var('core_contribution_bands', none)}] %}
{%- set formulas = [] %}
{%- for spec in segment_specs %}
    {%- set mb = spec['match_tier_bands'] %}
    {%- set cb = spec['core_contribution_bands'] %}
    {%- do formulas.append({
        'from': spec['from'],
        'match_bands': mb['bands'] if mb else [{'from': 0, 'to': none, 'tiers': spec['match_tiers']}],
        'match_basis': mb.get('basis', 'service') if mb else 'service',
        'core_bands': cb['bands'] if cb else [{'from': 0, 'to': none, 'rate': spec['core_contribution_rate']}],
        'core_basis': cb.get('basis', 'service') if cb else 'service'}) %}
{%- endfor %}
{%- set segmented = formulas | length > 1 %}
{#- the formula in force on Dec 31 -#}
{%- set match_bands = formulas[-1]['match_bands'] %}
{%- set match_basis = formulas[-1]['match_basis'] %}
{%- set core_bands = formulas[-1]['core_bands'] %}
{%- set core_basis = formulas[-1]['core_basis'] %}
{%- set roth_available = var('roth_available', true) %}
{%- set match_conditions = var('allocation_conditions_match', {}) or {} %}
{%- set true_up_conditions = var('allocation_conditions_match_true_up', {}) or {} %}
{%- set core_conditions = var('allocation_conditions_core', {}) or {} %}
{%- set withheld_match = var('allocation_conditions_withheld_match', 'allocate_at_year_end') %}
{%- set match_gated = has_allocation_conditions(match_conditions) == 'true' %}
{%- set core_gated = has_allocation_conditions(core_conditions) == 'true' %}

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
        periods.period_end,
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
        {{ roth_share_on('state_date') }} as roth_share,
        -- the deposit's share of the year left after the pay date (the period end)
        ({{ year_end() }} - period_end)::double / {{ days_in_year() }} as deposit_year_share,
        {{ is_enrolled_on('state_date') }} as is_enrolled,
        eligibility_date <= state_date as is_eligible,
        {%- if segmented %}
        -- the formula in force on the pay date
        case {% for f in formulas[1:] | reverse %}when period_end >= date '{{ f['from'] }}' then {{ formulas | length - loop.index }} {% endfor %}else 0 end
            as design_segment,
        {%- endif %}
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

service as (
    select
        timeline.*,
        least(coalesce(timeline.termination_date, {{ year_end() }}), {{ year_end() }}) as service_date,
        greatest(0, least(coalesce(timeline.termination_date, {{ year_end() }}), {{ year_end() }})
                    - greatest(timeline.hire_date, {{ year_start() }}) + 1) as days_employed_in_year
    from timeline
),

people as (
    select
        service.employee_id,
        service.termination_date,
        service.is_retirement,
        service.prior_year_wages,
        service.is_prior_year_wages_assumed,
        {{ var('simulation_year') }} - year(service.birth_date) as age_at_year_end,
        {{ years_between('service.hire_date', 'service.service_date') }}::integer as service_years,
        ({{ years_between('service.birth_date', 'service.service_date') }}
         + {{ years_between('service.hire_date', 'service.service_date') }})::integer as service_points,
        coalesce(service.annual_hours::double, {{ var('full_time_hours', 2080) }})
            * service.days_employed_in_year / {{ days_in_year() }} as hours_in_year,
        -- IRC 414(v)(7): prior-year wages from the employer above the year's threshold (none for a new hire)
        coalesce(limits.roth_catch_up_wage_threshold is not null
                 and service.prior_year_wages > limits.roth_catch_up_wage_threshold, false) as is_roth_catch_up_required,
        limits.elective_deferral_limit::double as elective_deferral_limit,
        limits.annual_additions_limit::double as annual_additions_limit,
        limits.is_estimated as is_irs_limit_estimated,
        case
            {%- if not roth_available %}
            -- no Roth in the plan: a participant bound to Roth catch-up makes none
            when coalesce(limits.roth_catch_up_wage_threshold is not null
                          and service.prior_year_wages > limits.roth_catch_up_wage_threshold, false) then 0
            {%- endif %}
            when {{ var('simulation_year') }} - year(service.birth_date) between 60 and 63
                 and limits.super_catch_up_limit is not null then limits.super_catch_up_limit
            when {{ var('simulation_year') }} - year(service.birth_date) >= 50 then limits.catch_up_limit
            else 0
        end::double as catch_up_limit
    from service
    cross join limits
),

banded as (
    select
        *,
        {{ band_index(match_bands, 'service_points' if match_basis == 'points' else 'service_years') }} as match_band,
        {{ band_index(core_bands, 'service_points' if core_basis == 'points' else 'service_years') }} as core_band,
        {%- if segmented %}
        {%- for f in formulas %}
        {{ band_index(f['match_bands'], 'service_points' if f['match_basis'] == 'points' else 'service_years') }} as match_band_{{ loop.index0 }},
        {{ band_index(f['core_bands'], 'service_points' if f['core_basis'] == 'points' else 'service_years') }} as core_band_{{ loop.index0 }},
        {%- endfor %}
        {%- endif %}
        {{ meets_allocation_conditions(match_conditions) }} as meets_match_conditions,
        {{ meets_allocation_conditions(true_up_conditions) }} as meets_true_up_conditions,
        {{ meets_allocation_conditions(core_conditions) }} as meets_core_conditions
    from people
),

cumulative as (
    select
        requested.*,
        banded.match_band,
        {%- if segmented %}
        {%- for f in formulas %}
        banded.match_band_{{ loop.index0 }},
        banded.core_band_{{ loop.index0 }},
        {%- endfor %}
        {%- endif %}
        banded.elective_deferral_limit + banded.catch_up_limit as deferral_limit,
        sum(requested_deferral) over (partition by requested.employee_id order by pay_period) as requested_to_date
    from requested
    inner join banded on requested.employee_id = banded.employee_id
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
        {%- if segmented %}
        case design_segment
        {%- for f in formulas %}
            when {{ loop.index0 }} then {{ banded_tier_match(f['match_bands'], 'match_band_' ~ loop.index0, 'deferral', 'eligible_pay') }}
        {%- endfor %}
        end as match,
        case design_segment
        {%- for f in formulas %}
            when {{ loop.index0 }} then {{ value_by_band(f['core_bands'] | map(attribute='rate') | list, 'core_band_' ~ loop.index0) }}
        {%- endfor %}
        end * eligible_pay as core
        {%- else %}
        {{ banded_tier_match(match_bands, 'match_band', 'deferral', 'eligible_pay') }} as match
        {%- endif %}
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
        sum(deferral * roth_share) as roth_share_weighted_deferral,
        sum(deferral * deposit_year_share) as deferral_share_weighted,
        sum(match * deposit_year_share) as match_share_weighted,
        sum(eligible_pay * deposit_year_share) as eligible_pay_share_weighted,
        {%- if segmented %}
        sum(core) as period_core,
        sum(core * deposit_year_share) as core_share_weighted,
        {%- for f in formulas %}
        coalesce(sum(deferral) filter (where design_segment = {{ loop.index0 }}), 0) as deferral_{{ loop.index0 }},
        coalesce(sum(eligible_pay) filter (where design_segment = {{ loop.index0 }}), 0) as eligible_pay_{{ loop.index0 }},
        {%- endfor %}
        {%- endif %}
        count(*) filter (where is_enrolled and earned_pay > 0)::integer as pay_periods_enrolled
    from period_match
    group by employee_id
),

annual as (
    select
        yearly.*,
        banded.* exclude (employee_id),
        round(gross_compensation, 2) as gross_compensation_rounded,
        -- the period sums telescope to least(request, limit); least() keeps float noise from the cents
        least(round(deferral, 2), round(requested_deferral, 2), elective_deferral_limit + catch_up_limit) as capped_deferral,
        {%- if segmented %}
        -- each formula on the deferrals and eligible pay of the periods it governed
        round(0 {%- for f in formulas %} + {{ banded_tier_match(f['match_bands'], 'match_band_' ~ loop.index0,
                                                               'deferral_' ~ loop.index0, 'eligible_pay_' ~ loop.index0) }}{% endfor %}, 2)
            as formula_match,
        {%- else %}
        round({{ banded_tier_match(match_bands, 'match_band', 'deferral', 'eligible_plan_compensation') }}, 2) as formula_match,
        {%- endif %}
        round(period_match, 2) as period_match_rounded,
        {{ value_by_band(core_bands | map(attribute='rate') | list, 'core_band') }} as core_rate,
        {%- if segmented %}
        round(period_core, 2) as core_formula
        {%- else %}
        round({{ value_by_band(core_bands | map(attribute='rate') | list, 'core_band') }} * eligible_plan_compensation, 2)
            as core_formula
        {%- endif %}
    from yearly
    inner join banded on yearly.employee_id = banded.employee_id
),

allocated as (
    -- allocation conditions, before 415(c)
    select
        *,
        case when meets_core_conditions then core_formula else 0 end as core_before_415,
        case when meets_core_conditions then 0 else core_formula end as core_withheld,
        case when meets_match_conditions then period_match_rounded else 0 end as period_match_allocated,
        {%- if withheld_match == 'deposit_then_forfeit' %}
        0::double as period_match_withheld,
        case when meets_match_conditions then 0 else period_match_rounded end as match_deposited_forfeited,
        {%- else %}
        case when meets_match_conditions then 0 else period_match_rounded end as period_match_withheld,
        0::double as match_deposited_forfeited,
        {%- endif %}
        {%- if var('match_true_up') %}
        greatest(0, formula_match - period_match_rounded) as true_up_formula
        {%- else %}
        0::double as true_up_formula
        {%- endif %}
    from annual
),

employer as (
    select
        *,
        greatest(0, capped_deferral - elective_deferral_limit) as catch_up_402g,
        -- the true-up is part of the match: it needs the match's conditions and its own
        case when meets_match_conditions and meets_true_up_conditions then true_up_formula else 0 end as match_true_up,
        case when meets_match_conditions and meets_true_up_conditions then 0 else true_up_formula end as true_up_withheld,
        period_match_allocated
            + case when meets_match_conditions and meets_true_up_conditions then true_up_formula else 0 end
            as match_before_415,
        least(annual_additions_limit, gross_compensation_rounded) as additions_limit_applied
    from allocated
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
    {#- segments between consecutive boundaries of all bands' tiers, from the top down; a
        segment's rate is its band's tier rate (0 outside every tier), as a CASE on the band -#}
    {%- set bounds = [0] %}
    {%- for band in match_bands %}{% for tier in band['tiers'] %}
        {%- do bounds.append(tier['from']) %}{% do bounds.append(tier['to']) %}
    {%- endfor %}{% endfor %}
    {%- set bounds = bounds | unique | sort %}
    {%- do segments.append({'lo': bounds[-1], 'hi': none, 'rate': '0'}) %}
    {%- for k in range(bounds | length - 1, 0, -1) %}
        {%- set lo = bounds[k - 1] %}{% set hi = bounds[k] %}
        {%- set rates = [] %}
        {%- for band in match_bands %}
            {%- set ns = namespace(rate=0) %}
            {%- for tier in band['tiers'] %}{% if tier['from'] <= lo and hi <= tier['to'] %}{% set ns.rate = tier['rate'] %}{% endif %}{% endfor %}
            {%- do rates.append(ns.rate) %}
        {%- endfor %}
        {%- do segments.append({'lo': lo, 'hi': hi,
              'rate': '(case when match_before_415 > 0 then ' ~ value_by_band(rates, 'match_band') ~ ' else 0 end)'}) %}
    {%- endfor %}
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

amounts as (
    select
        *,
        (capped_deferral - deferral_refund_415 - round(late_refund, 2))::decimal(18, 2) as employee_deferral_amount,
        catch_up_deferral::decimal(18, 2) as catch_up_amount,
        (match_before_415 - match_forfeited_415 - round(match_cut, 2))::decimal(18, 2) as employer_match_amount,
        (core_before_415 - round(core_cut, 2))::decimal(18, 2) as employer_core_amount,
        -- the year's Roth share of the deferral: deferral-weighted over the pay dates
        {%- if roth_available %}
        case when deferral > 0 then least(1, greatest(0, roth_share_weighted_deferral / deferral)) else 0 end
        {%- else %}
        0::double
        {%- endif %} as year_roth_share
    from employer_corrected
),

sources as (
    select
        *,
        round((employee_deferral_amount - catch_up_amount) * year_roth_share, 2)::decimal(18, 2) as roth_deferral_amount,
        case when is_roth_catch_up_required then catch_up_amount
             else round(catch_up_amount * year_roth_share, 2)::decimal(18, 2) end as roth_catch_up_amount
    from amounts
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
        employee_deferral_amount as employee_deferral,
        catch_up_amount as catch_up_deferral,
        (employee_deferral_amount - catch_up_amount - roth_deferral_amount)::decimal(18, 2) as pretax_deferral,
        roth_deferral_amount as roth_deferral,
        (catch_up_amount - roth_catch_up_amount)::decimal(18, 2) as pretax_catch_up,
        roth_catch_up_amount::decimal(18, 2) as roth_catch_up,
        year_roth_share::decimal(9, 6) as roth_share,
        prior_year_wages::decimal(18, 2) as prior_year_wages,
        is_prior_year_wages_assumed,
        is_roth_catch_up_required,
        employer_match_amount as employer_match,
        match_true_up::decimal(18, 2) as match_true_up,
        employer_core_amount as employer_core,
        (employee_deferral_amount - catch_up_amount + employer_match_amount + employer_core_amount)::decimal(18, 2)
            as annual_additions,
        (deferral_refund_415 + round(late_refund, 2))::decimal(18, 2) as deferral_refund_415,
        (match_forfeited_415 + round(match_cut, 2))::decimal(18, 2) as match_forfeited_415,
        (period_match_withheld + true_up_withheld)::decimal(18, 2) as match_withheld,
        match_deposited_forfeited::decimal(18, 2) as match_deposited_forfeited,
        core_withheld::decimal(18, 2) as core_withheld,
        service_years,
        service_points,
        core_rate::decimal(9, 6) as core_contribution_rate_applied,
        match_band::integer as match_tier_band,
        round(hours_in_year, 2)::decimal(9, 2) as hours_in_year,
        meets_match_conditions,
        meets_true_up_conditions,
        meets_core_conditions,
        -- deposit timing: contribution-weighted share of the year after the deposit date
        case when employee_deferral_amount > 0 and deferral > 0
             then round(deferral_share_weighted / deferral, 6) else 0 end::decimal(9, 6) as deferral_year_share,
        {%- if match_gated and withheld_match == 'allocate_at_year_end' %}
        0::decimal(9, 6) as match_year_share,
        {%- else %}
        -- per-period deposits at their pay dates' mean share (weighted by the period match), the true-up at Dec 31
        case when employer_match_amount > 0 and period_match_allocated + match_true_up > 0 and period_match > 0
             then round(match_share_weighted / period_match * period_match_allocated
                        / (period_match_allocated + match_true_up), 6)
             else 0 end::decimal(9, 6) as match_year_share,
        {%- endif %}
        {%- if core_gated %}
        0::decimal(9, 6) as core_year_share,
        {%- else %}
        {%- if segmented %}
        -- the core of each period at its pay date (formulas differ across the year)
        case when employer_core_amount > 0 and period_core > 0
             then round(core_share_weighted / period_core, 6) else 0 end::decimal(9, 6)
            as core_year_share,
        {%- else %}
        case when employer_core_amount > 0 and eligible_plan_compensation > 0
             then round(eligible_pay_share_weighted / eligible_plan_compensation, 6) else 0 end::decimal(9, 6)
            as core_year_share,
        {%- endif %}
        {%- endif %}
        (elective_deferral_limit + catch_up_limit)::decimal(18, 2) as deferral_limit_applied,
        additions_limit_applied::decimal(18, 2) as annual_additions_limit_applied,
        pay_periods_enrolled,
        gross_compensation_rounded > round(plan_compensation, 2) as is_401a17_limited,
        capped_deferral >= elective_deferral_limit as is_402g_limited,
        catch_up_deferral > 0 as is_catch_up_used,
        catch_up_limit > 0 and catch_up_deferral >= catch_up_limit as is_catch_up_limited,
        excess_before_catch_up > 0 as is_415c_limited,
        is_irs_limit_estimated
    from sources
)

select * from final
