{#-
  Grain: one row per employee, simulation year and month (as_of_month 1..12): 12 rows per
  employee employed at any time in the year. The deferral state at the end of each month.
  Built only from the prior year's December state (stg_prior_deferral_state: a file handed
  over from year N-1, or the census in the start year) and this year's int_* event models,
  through int_deferral_timeline. It never reads fct_* models: that is what removes the
  circular dependency of the seed story. Within a year an employee has at most one
  enrollment, one opt-out (after enrollment) and one escalation (or escalation opt-out), so
  the month-end state is a fixed precedence of the events dated by then. Contributions do
  not use these month ends: they use the state on each pay date (int_employee_contributions).
  roth_share: the Roth share of the rate (a new election's from its date, kept by an
  escalation, 0 after an opt-out).
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'employee_id', 'simulation_year', 'as_of_month'],
    tags=['deferral_pipeline']
) }}

with timeline as (
    select * from {{ ref('int_deferral_timeline') }}
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
        timeline.*,
        months.as_of_month,
        months.month_start_date,
        months.month_end_date,
        coalesce(timeline.opt_out_date <= months.month_end_date, false) as has_opted_out,
        coalesce(timeline.escalation_date <= months.month_end_date, false) as has_escalated,
        coalesce(timeline.escalation_opt_out_date <= months.month_end_date, false) as has_opted_out_of_escalation,
        coalesce(timeline.enrollment_event_date <= months.month_end_date, false) as has_enrolled
    from timeline
    cross join months
),

final as (
    select
        {{ identity_columns() }},
        employee_id,
        as_of_month,
        month_end_date,
        {{ deferral_rate_on('month_end_date') }} as deferral_rate,
        {{ is_enrolled_on('month_end_date') }} as is_enrolled,
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
            when has_opted_out then 'none'
            when has_enrolled then enrollment_source
            else prior_enrollment_source
        end as enrollment_source,
        case
            when has_opted_out then null
            when has_enrolled then enrollment_event_date
            else prior_enrollment_date
        end as enrollment_date,
        prior_is_auto_enrollment_opted_out or has_opted_out as is_auto_enrollment_opted_out,
        prior_is_escalation_opted_out or has_opted_out_of_escalation as is_escalation_opted_out,
        (prior_escalation_count + case when has_escalated then 1 else 0 end)::integer as escalation_count,
        {{ roth_share_on('month_end_date') }}::decimal(9, 6) as roth_share,
        -- an auto-enrollment opt-out still to come after this month (carried into next year at Dec)
        case when not has_opted_out and scheduled_opt_out_date > month_end_date then scheduled_opt_out_date end
            as pending_opt_out_date
    from monthly
)

select * from final
