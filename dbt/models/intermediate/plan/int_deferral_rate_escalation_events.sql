{#-
  Grain: one row per escalated employee in the year. On the escalation date: employed,
  enrolled (and not opted out by then), 0 < rate < cap, enrolled for at least delay_years
  (census participants without an enrollment date count as enrolled long ago), not opted
  out of escalation => rate = min(cap, rate + increment).
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'employee_id', 'simulation_year'],
    tags=['deferral_pipeline']
) }}

with workforce as (
    select * from {{ this_year('int_employee_compensation_by_year') }}
),

prior_state as (
    select * from {{ this_year('stg_prior_deferral_state') }}
),

enrollments as (
    select * from {{ this_year('int_enrollment_events') }} where event_type = 'enrollment'
),

opt_outs as (
    select * from {{ this_year('int_enrollment_events') }} where event_type = 'opt_out'
),

state_on_escalation_date as (
    select
        workforce.employee_id,
        coalesce(prior_state.is_escalation_opted_out, false) as is_escalation_opted_out,
        case
            when opt_outs.effective_date <= {{ escalation_date() }} then false
            when enrollments.effective_date <= {{ escalation_date() }} then true
            else coalesce(prior_state.is_enrolled, false)
        end as is_enrolled,
        case
            when opt_outs.effective_date <= {{ escalation_date() }} then 0
            when enrollments.effective_date <= {{ escalation_date() }} then enrollments.deferral_rate_after
            else coalesce(prior_state.deferral_rate, 0)
        end as deferral_rate,
        case
            when enrollments.effective_date <= {{ escalation_date() }} then enrollments.effective_date
            else prior_state.enrollment_date
        end as enrollment_date
    from workforce
    left join prior_state on workforce.employee_id = prior_state.employee_id
    left join enrollments on workforce.employee_id = enrollments.employee_id
    left join opt_outs on workforce.employee_id = opt_outs.employee_id
    where {{ is_active_on(escalation_date(), 'workforce.hire_date', 'workforce.termination_date') }}
),

final as (
    select
        {{ identity_columns() }},
        employee_id,
        {{ escalation_date() }} as effective_date,
        deferral_rate::decimal(9, 6) as deferral_rate_before,
        least({{ var('auto_escalation_cap') }}, deferral_rate + {{ var('auto_escalation_increment') }})::decimal(9, 6)
            as deferral_rate_after
    from state_on_escalation_date
    where {{ 'true' if var('auto_escalation_enabled') else 'false' }}
      and is_enrolled
      and not is_escalation_opted_out
      and deferral_rate > 0
      and deferral_rate < {{ var('auto_escalation_cap') }}
      and (enrollment_date is null
           or (enrollment_date + to_years({{ var('auto_escalation_delay_years') }}))::date <= {{ escalation_date() }})
)

select * from final
