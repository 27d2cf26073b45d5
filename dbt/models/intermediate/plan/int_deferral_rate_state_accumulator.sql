{#-
  Grain: one row per employee, simulation year and month (as_of_month 1..12): 12 rows per
  employee employed at any time in the year. The deferral state at the end of each month.
  Built only from the prior year's December state (stg_prior_deferral_state: a file handed
  over from year N-1, or the census in the start year) and this year's int_* event models.
  It never reads fct_* models: that is what removes the circular dependency of the seed story.
  Within a year an employee has at most one enrollment, one opt-out (after enrollment) and
  one escalation, so the month-end state is a fixed precedence of the events dated by then.
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'employee_id', 'simulation_year', 'as_of_month'],
    tags=['deferral_pipeline', 'state_accumulator']
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

escalations as (
    select * from {{ this_year('int_deferral_rate_escalation_events') }}
),

employee_year as (
    select
        workforce.employee_id,
        workforce.hire_date,
        workforce.termination_date,
        {{ eligibility_date('workforce.hire_date', 'workforce.birth_date') }} as eligibility_date,
        coalesce(prior_state.is_enrolled, false) as prior_is_enrolled,
        coalesce(prior_state.deferral_rate, 0)::decimal(9, 6) as prior_deferral_rate,
        prior_state.enrollment_date as prior_enrollment_date,
        coalesce(prior_state.deferral_rate_source, 'none') as prior_deferral_rate_source,
        coalesce(prior_state.is_auto_enrollment_opted_out, false) as prior_is_auto_enrollment_opted_out,
        coalesce(prior_state.is_escalation_opted_out, false) as is_escalation_opted_out,
        enrollments.effective_date as enrollment_event_date,
        enrollments.deferral_rate_after as enrollment_rate,
        enrollments.enrollment_source,
        opt_outs.effective_date as opt_out_date,
        escalations.effective_date as escalation_date,
        escalations.deferral_rate_after as escalation_rate
    from workforce
    left join prior_state on workforce.employee_id = prior_state.employee_id
    left join enrollments on workforce.employee_id = enrollments.employee_id
    left join opt_outs on workforce.employee_id = opt_outs.employee_id
    left join escalations on workforce.employee_id = escalations.employee_id
),

months as (
    select
        month_number::integer as as_of_month,
        make_date({{ var('simulation_year') }}, month_number::integer, 1) as month_start_date,
        last_day(make_date({{ var('simulation_year') }}, month_number::integer, 1)) as month_end_date
    from range(1, 13) as month_range(month_number)
),

monthly as (
    select
        employee_year.*,
        months.as_of_month,
        months.month_start_date,
        months.month_end_date,
        coalesce(employee_year.opt_out_date <= months.month_end_date, false) as has_opted_out,
        coalesce(employee_year.escalation_date <= months.month_end_date, false) as has_escalated,
        coalesce(employee_year.enrollment_event_date <= months.month_end_date, false) as has_enrolled
    from employee_year
    cross join months
),

final as (
    select
        {{ identity_columns() }},
        employee_id,
        as_of_month,
        month_end_date,
        case
            when has_opted_out then 0
            when has_escalated then escalation_rate
            when has_enrolled then enrollment_rate
            else prior_deferral_rate
        end::decimal(9, 6) as deferral_rate,
        case
            when has_opted_out then false
            when has_enrolled then true
            else prior_is_enrolled
        end as is_enrolled,
        hire_date <= month_end_date
            and (termination_date is null or termination_date >= month_start_date) as is_active,
        eligibility_date <= month_end_date as is_eligible,
        as_of_month = 12 as is_current,
        case
            when has_opted_out then 'opt_out'
            when has_escalated then 'escalation'
            when has_enrolled then enrollment_source
            else prior_deferral_rate_source
        end as deferral_rate_source,
        case
            when has_opted_out then null
            when has_enrolled then enrollment_event_date
            else prior_enrollment_date
        end as enrollment_date,
        prior_is_auto_enrollment_opted_out or has_opted_out as is_auto_enrollment_opted_out,
        is_escalation_opted_out
    from monthly
)

select * from final
