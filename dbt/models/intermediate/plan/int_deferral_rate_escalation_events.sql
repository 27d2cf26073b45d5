{#-
  Grain: one row per employee due an escalation in the year. On the escalation date:
  employed, enrolled (and not opted out by then), in scope (auto_escalation_scope:
  auto_enrolled = enrolled by auto-enrollment or a sweep; all_participants), 0 < rate < cap, enrolled
  for at least delay_years (census participants without an enrollment date count as
  enrolled long ago), not opted out of escalation => event_type deferral_escalation,
  rate = min(cap, rate + increment). At the first escalation due (none before), a share
  auto_escalation_opt_out_rate opts out instead: event_type escalation_opt_out, the rate
  stays, and no escalation follows in any later year.
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
        end as enrollment_date,
        case
            when enrollments.effective_date <= {{ escalation_date() }} then enrollments.enrollment_source
            else coalesce(prior_state.enrollment_source, 'none')
        end as enrollment_source,
        coalesce(prior_state.escalation_count, 0) as escalation_count
    from workforce
    left join prior_state on workforce.employee_id = prior_state.employee_id
    left join enrollments on workforce.employee_id = enrollments.employee_id
    left join opt_outs on workforce.employee_id = opt_outs.employee_id
    where {{ is_active_on(escalation_date(), 'workforce.hire_date', 'workforce.termination_date') }}
),

due as (
    select
        *,
        escalation_count = 0
            and {{ uniform('escalation_opt_out', 'employee_id') }} < {{ var('auto_escalation_opt_out_rate') }}
            as opts_out
    from state_on_escalation_date
    where {{ 'true' if var('auto_escalation_enabled') else 'false' }}
      and is_enrolled
      and not is_escalation_opted_out
      {%- if var('auto_escalation_scope') == 'auto_enrolled' %}
      and enrollment_source in ('auto_enrollment', 'enrollment_sweep')
      {%- endif %}
      and deferral_rate > 0
      and deferral_rate < {{ var('auto_escalation_cap') }}
      and (enrollment_date is null
           or (enrollment_date + to_years({{ var('auto_escalation_delay_years') }}))::date <= {{ escalation_date() }})
),

final as (
    select
        {{ identity_columns() }},
        employee_id,
        case when opts_out then 'escalation_opt_out' else 'deferral_escalation' end as event_type,
        {{ escalation_date() }} as effective_date,
        deferral_rate::decimal(9, 6) as deferral_rate_before,
        case when opts_out then deferral_rate
             else least({{ var('auto_escalation_cap') }}, deferral_rate + {{ var('auto_escalation_increment') }})
        end::decimal(9, 6) as deferral_rate_after
    from due
)

select * from final
