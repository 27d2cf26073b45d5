{#-
  Grain: one row per employee employed at any time in the simulation year.
  From the accumulator's months: pay earned while active (the month's annual rate / 12,
  prorated by days employed in the month) counts toward plan pay until the 401(a)(17)
  limit is reached; requested deferral = sum of the month's deferral rate x plan pay of the
  months enrolled; the deferral is capped at 402(g) + catch-up (age 50+ by Dec 31; ages
  60-63 the super catch-up where the year has one); match by tiers on the deferral as a share
  of plan pay; core on plan pay of eligible months; 415(c) caps annual additions (deferrals
  other than catch-up + match + core) at min(limit, pay), reducing core, then match, then
  the deferral.
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'employee_id', 'simulation_year'],
    tags=['deferral_pipeline', 'contributions']
) }}

with accumulator as (
    select * from {{ this_year('int_deferral_rate_state_accumulator') }}
),

workforce as (
    select * from {{ this_year('int_employee_compensation_by_year') }}
),

limits as (
    select * from {{ ref('irs_limits') }} where plan_year = {{ var('simulation_year') }}
),

monthly_pay as (
    select
        accumulator.employee_id,
        accumulator.as_of_month,
        accumulator.deferral_rate,
        accumulator.is_enrolled,
        accumulator.is_eligible,
        case
            when workforce.compensation_change_date is not null
                 and make_date({{ var('simulation_year') }}, accumulator.as_of_month, 1) >= workforce.compensation_change_date
                then workforce.ending_compensation
            else workforce.starting_compensation
        end::double / 12
        * greatest(0,
            least(accumulator.month_end_date, coalesce(workforce.termination_date, accumulator.month_end_date))
            - greatest(make_date({{ var('simulation_year') }}, accumulator.as_of_month, 1), workforce.hire_date) + 1)
        / day(accumulator.month_end_date) as earned_pay
    from accumulator
    inner join workforce on accumulator.employee_id = workforce.employee_id
),

plan_pay as (
    select
        monthly_pay.*,
        least(earned_pay, greatest(0, (select compensation_limit::double from limits)
            - coalesce(sum(earned_pay) over (partition by employee_id order by as_of_month
                                             rows between unbounded preceding and 1 preceding), 0))) as plan_pay
    from monthly_pay
),

yearly as (
    select
        employee_id,
        round(sum(earned_pay), 2) as gross_compensation,
        round(sum(plan_pay), 2) as plan_compensation,
        round(sum(case when is_eligible then plan_pay else 0 end), 2) as eligible_plan_compensation,
        round(sum(case when is_enrolled then deferral_rate::double * plan_pay else 0 end), 2) as requested_deferral,
        count(*) filter (where is_enrolled and earned_pay > 0) as months_enrolled
    from plan_pay
    group by employee_id
),

limited as (
    select
        yearly.*,
        workforce.birth_date,
        {{ var('simulation_year') }} - year(workforce.birth_date) as age_at_year_end,
        limits.elective_deferral_limit::double as elective_deferral_limit,
        limits.compensation_limit::double as compensation_limit,
        limits.annual_additions_limit::double as annual_additions_limit,
        limits.is_estimated as is_irs_limit_estimated,
        case
            when {{ var('simulation_year') }} - year(workforce.birth_date) between 60 and 63
                 and limits.super_catch_up_limit is not null then limits.super_catch_up_limit
            when {{ var('simulation_year') }} - year(workforce.birth_date) >= 50 then limits.catch_up_limit
            else 0
        end::double as catch_up_limit
    from yearly
    inner join workforce on yearly.employee_id = workforce.employee_id
    cross join limits
),

deferrals as (
    select
        *,
        least(requested_deferral, elective_deferral_limit + catch_up_limit) as capped_deferral
    from limited
),

employer as (
    select
        *,
        greatest(0, capped_deferral - elective_deferral_limit) as catch_up_deferral,
        round(0
        {%- for tier in var('match_tiers') %}
            + {{ tier['rate'] }} * least(greatest(capped_deferral - {{ tier['from'] }} * plan_compensation, 0),
                                         {{ tier['to'] - tier['from'] }} * plan_compensation)
        {%- endfor %}, 2) as match_before_415,
        round({{ var('core_contribution_rate') }} * eligible_plan_compensation, 2) as core_before_415,
        least(annual_additions_limit, gross_compensation) as additions_limit_applied
    from deferrals
),

excess as (
    select
        *,
        greatest(0, capped_deferral - catch_up_deferral + match_before_415 + core_before_415
                    - additions_limit_applied) as excess_415
    from employer
),

corrected as (
    select
        *,
        core_before_415 - least(core_before_415, excess_415) as employer_core,
        match_before_415 - least(match_before_415, greatest(0, excess_415 - core_before_415)) as employer_match,
        capped_deferral - least(capped_deferral - catch_up_deferral,
                                greatest(0, excess_415 - core_before_415 - match_before_415)) as employee_deferral
    from excess
),

final as (
    select
        {{ identity_columns() }},
        employee_id,
        age_at_year_end,
        gross_compensation::decimal(18, 2) as gross_compensation,
        plan_compensation::decimal(18, 2) as plan_compensation,
        requested_deferral::decimal(18, 2) as requested_deferral,
        employee_deferral::decimal(18, 2) as employee_deferral,
        catch_up_deferral::decimal(18, 2) as catch_up_deferral,
        employer_match::decimal(18, 2) as employer_match,
        employer_core::decimal(18, 2) as employer_core,
        (employee_deferral - catch_up_deferral + employer_match + employer_core)::decimal(18, 2) as annual_additions,
        (elective_deferral_limit + catch_up_limit)::decimal(18, 2) as deferral_limit_applied,
        additions_limit_applied::decimal(18, 2) as annual_additions_limit_applied,
        months_enrolled,
        gross_compensation > plan_compensation as is_401a17_limited,
        requested_deferral > elective_deferral_limit + catch_up_limit as is_402g_limited,
        catch_up_deferral > 0 as is_catch_up_used,
        excess_415 > 0 as is_415c_limited,
        is_irs_limit_estimated
    from corrected
)

select * from final
