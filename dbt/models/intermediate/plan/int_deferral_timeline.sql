{#-
  Grain: one row per employee employed at any time in the simulation year. Everything that
  decides the employee's deferral state on any day of the year: the Jan 1 state (the prior
  year's December state file, or the census), and the dates and rates of this year's
  enrollment, opt-out and escalation events. The monthly accumulator reads it at month ends
  (deferral_rate_on / is_enrolled_on), the contributions at each pay date. Ephemeral: it
  is a shared CTE, not a table. Plan money: the Roth share of the Jan 1 rate and of this year's
  election (prior_roth_share, enrollment_roth_share), census annual_hours (null = unknown),
  prior_year_wages (for IRC 414(v)(7); null for a hire of the year) and whether the leaving is a
  retirement (is_retirement). Compliance (issue 14): is_officer and ownership_pct (false / 0 for a
  hire when the census had the columns, null when it did not) and whether it had them.
-#}
{{ config(materialized='ephemeral') }}

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

-- whether the census gave officers and owners at all (then a hire is neither; else unknown)
compliance_data as (
    select
        bool_or(is_officer is not null) as is_officer_data_known,
        bool_or(ownership_pct is not null) as is_owner_data_known
    from prior_state
),

final as (
    select
        workforce.employee_id,
        workforce.birth_date,
        workforce.hire_date,
        workforce.termination_date,
        {{ eligibility_date('workforce.hire_date', 'workforce.birth_date') }} as eligibility_date,
        workforce.starting_compensation,
        workforce.ending_compensation,
        workforce.compensation_change_date,
        coalesce(prior_state.is_enrolled, false) as prior_is_enrolled,
        coalesce(prior_state.deferral_rate, 0)::decimal(9, 6) as prior_deferral_rate,
        prior_state.enrollment_date as prior_enrollment_date,
        coalesce(prior_state.enrollment_source, 'none') as prior_enrollment_source,
        coalesce(prior_state.deferral_rate_source, 'none') as prior_deferral_rate_source,
        coalesce(prior_state.is_auto_enrollment_opted_out, false) as prior_is_auto_enrollment_opted_out,
        coalesce(prior_state.is_escalation_opted_out, false) as prior_is_escalation_opted_out,
        coalesce(prior_state.escalation_count, 0) as prior_escalation_count,
        coalesce(prior_state.roth_share, 0)::double as prior_roth_share,
        prior_state.annual_hours::double as annual_hours,
        prior_state.prior_year_wages::decimal(18, 2) as prior_year_wages,
        coalesce(prior_state.is_prior_year_wages_assumed, false) as is_prior_year_wages_assumed,
        workforce.employment_status = 'retirement' as is_retirement,
        coalesce(prior_state.is_officer, case when compliance_data.is_officer_data_known then false end)
            as is_officer,
        coalesce(prior_state.ownership_pct, case when compliance_data.is_owner_data_known then 0 end)::decimal(9, 4)
            as ownership_pct,
        coalesce(compliance_data.is_officer_data_known, false) as is_officer_data_known,
        coalesce(compliance_data.is_owner_data_known, false) as is_owner_data_known,
        enrollments.effective_date as enrollment_event_date,
        enrollments.deferral_rate_after as enrollment_rate,
        enrollments.enrollment_source,
        enrollments.roth_share::double as enrollment_roth_share,
        -- an auto-enrollment opt-out due after Dec 31 (this year's enrollment, or one carried in)
        coalesce(enrollments.scheduled_opt_out_date, prior_state.pending_opt_out_date) as scheduled_opt_out_date,
        opt_outs.effective_date as opt_out_date,
        case when escalations.event_type = 'deferral_escalation' then escalations.effective_date end
            as escalation_date,
        case when escalations.event_type = 'deferral_escalation' then escalations.deferral_rate_after end
            as escalation_rate,
        case when escalations.event_type = 'escalation_opt_out' then escalations.effective_date end
            as escalation_opt_out_date
    from workforce
    left join prior_state on workforce.employee_id = prior_state.employee_id
    left join enrollments on workforce.employee_id = enrollments.employee_id
    left join opt_outs on workforce.employee_id = opt_outs.employee_id
    left join escalations on workforce.employee_id = escalations.employee_id
    cross join compliance_data
)

select * from final
