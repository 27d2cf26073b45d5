{#-
  Grain: one row per event (event_id): every event of the year with its effective date,
  before/after values and a per-employee event_sequence. event_id = md5 of
  scenario|plan design|employee|year|type, so it is stable across runs.
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'simulation_year', 'event_id'],
    tags=['marts']
) }}

with hires as (
    select * from {{ this_year('int_hiring_events') }}
),

terminations as (
    select * from {{ this_year('int_termination_events') }}
    union all by name
    select * from {{ this_year('int_new_hire_termination_events') }}
),

retirements as (
    select * from {{ this_year('int_retirement_events') }}
),

promotions as (
    select * from {{ this_year('int_promotion_events') }}
),

merits as (
    select * from {{ this_year('int_merit_events') }}
),

eligibility as (
    select * from {{ this_year('int_eligibility_events') }}
),

enrollment as (
    select * from {{ this_year('int_enrollment_events') }}
),

escalations as (
    select * from {{ this_year('int_deferral_rate_escalation_events') }}
),

contributions as (
    select * from {{ this_year('int_employee_contributions') }}
    where employee_deferral + employer_match + employer_core > 0
),

workforce as (
    select employee_id, termination_date, ending_job_level, ending_compensation
    from {{ this_year('int_employee_compensation_by_year') }}
),

events as (
    select employee_id, 'hire' as event_type, null as event_subtype, hire_date as effective_date, 1 as type_order,
           null::integer as job_level_before, job_level as job_level_after,
           null::decimal(18, 2) as compensation_before, annual_compensation as compensation_after,
           null::decimal(9, 6) as deferral_rate_before, null::decimal(9, 6) as deferral_rate_after,
           null::decimal(18, 2) as employee_deferral_amount, null::decimal(18, 2) as employer_match_amount,
           null::decimal(18, 2) as employer_core_amount
    from hires
    union all
    select employee_id, 'eligibility', null, effective_date, 2,
           null, null, null, null, null, null, null, null, null
    from eligibility
    union all
    select enrollment.employee_id, enrollment.event_type, enrollment.enrollment_source, enrollment.effective_date,
           case enrollment.event_type when 'enrollment' then 3 else 4 end,
           null, null, null, null,
           -- an opt-out after this year's escalation gives up the escalated rate
           case when enrollment.event_type = 'opt_out' and escalations.event_type = 'deferral_escalation'
                     and escalations.effective_date < enrollment.effective_date
                then escalations.deferral_rate_after else enrollment.deferral_rate_before end,
           enrollment.deferral_rate_after, null, null, null
    from enrollment
    left join escalations on enrollment.employee_id = escalations.employee_id
    union all
    select employee_id, event_type, null, effective_date, 5,
           null, null, null, null, deferral_rate_before, deferral_rate_after, null, null, null
    from escalations
    union all
    select employee_id, 'promotion', null, effective_date, 6,
           from_level, to_level, compensation_before, compensation_after, null, null, null, null, null
    from promotions
    union all
    select employee_id, 'raise', 'merit_cola', effective_date, 7,
           job_level, job_level, compensation_before, compensation_after, null, null, null, null, null
    from merits
    union all
    -- a leaver's "before" values are the level and pay on the leaving date (after a raise or
    -- promotion on an earlier date): the workforce's ending values
    select terminations.employee_id, 'termination', terminations.termination_type, terminations.termination_date, 8,
           workforce.ending_job_level, null, workforce.ending_compensation, null, null, null, null, null, null
    from terminations
    inner join workforce on terminations.employee_id = workforce.employee_id
    union all
    select retirements.employee_id, 'retirement', retirements.retirement_type, retirements.retirement_date, 8,
           workforce.ending_job_level, null, workforce.ending_compensation, null, null, null, null, null, null
    from retirements
    inner join workforce on retirements.employee_id = workforce.employee_id
    union all
    select contributions.employee_id, 'contribution', null,
           least(coalesce(workforce.termination_date, {{ year_end() }}), {{ year_end() }}), 9,
           null, null, null, null, null, null,
           contributions.employee_deferral, contributions.employer_match, contributions.employer_core
    from contributions
    inner join workforce on contributions.employee_id = workforce.employee_id
),

final as (
    select
        {{ identity_columns() }},
        md5(concat_ws('|', '{{ var("scenario_id") }}', '{{ var("plan_design_id") }}', employee_id,
                      '{{ var("simulation_year") }}', event_type)) as event_id,
        employee_id,
        event_type,
        event_subtype,
        effective_date,
        row_number() over (partition by employee_id order by effective_date, type_order)::integer as event_sequence,
        job_level_before,
        job_level_after,
        compensation_before,
        compensation_after,
        deferral_rate_before,
        deferral_rate_after,
        employee_deferral_amount,
        employer_match_amount,
        employer_core_amount
    from events
)

select * from final
