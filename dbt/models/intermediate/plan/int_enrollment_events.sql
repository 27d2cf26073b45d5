{#-
  Grain: one row per employee and event type (enrollment | opt_out) in the year.
  Non-participants on Jan 1 who are eligible by their last day of the year:
  - auto-enrollment (when on, in scope, never opted out before) at the default rate on
    max(eligibility date, Jan 1); a share opt_out_rate opts out on a day drawn within the
    window (rate 0). A drawn day after Dec 31 is not moved: the enrollment row carries it as
    scheduled_opt_out_date, the year-end state hands it over, and next year's opt_out event
    happens on that day if the employee is still employed then;
  - otherwise voluntary enrollment with the age band's probability, on a day drawn between
    eligibility and the last day employed, at a rate drawn from rate_choices.
  Census participants (deferral_rate > 0) are enrolled at baseline: no event.
  "New hires" (auto_enrollment scope new_hires_only) are those hired on or after the day the
  design's auto-enrollment of new hires began (auto_enrollment_new_hires_from; the start year's
  Jan 1 for a scenario with one design).
  An enrollment sweep in the year (enrollment_sweep, docs/semantics.md 4.21): every candidate not
  in auto-enrollment's scope who is employed and eligible on the sweep date and has not enrolled
  voluntarily before it (an opt-out of earlier years included) is enrolled on that date at the
  sweep's rate (enrollment_source enrollment_sweep); a share opt_out_rate opts out on a day drawn
  within the sweep's window, handled like an auto-enrollment opt-out. A voluntary enrollment
  drawn on or after the sweep date is replaced by the sweep.
  roth_share of an enrollment (auto or voluntary): 1 (Roth) with the probability of the
  roth_new_election_share band of the age on the enrollment date (draw stream roth_election),
  else 0 (pre-tax); always 0 when roth_available is false. Opt-out rows: null.
-#}
{%- set roth_available = var('roth_available', true) %}
{%- set new_hires_from = var('auto_enrollment_new_hires_from', none) %}
{%- set sweep = var('enrollment_sweep', none) %}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'employee_id', 'simulation_year', 'event_type'],
    tags=['deferral_pipeline']
) }}

with workforce as (
    select * from {{ this_year('int_employee_compensation_by_year') }}
),

prior_state as (
    select * from {{ this_year('stg_prior_deferral_state') }}
),

candidates as (
    select
        workforce.*,
        {{ eligibility_date('workforce.hire_date', 'workforce.birth_date') }} as eligibility_date,
        least(coalesce(workforce.termination_date, {{ year_end() }}), {{ year_end() }}) as last_day_employed,
        coalesce(prior_state.is_auto_enrollment_opted_out, false) as was_opted_out
    from workforce
    left join prior_state on workforce.employee_id = prior_state.employee_id
    where not coalesce(prior_state.is_enrolled, false)
),

eligible as (
    select
        *,
        greatest(eligibility_date, {{ year_start() }}) as first_enrollable_date,
        {%- if var('auto_enrollment_enabled') %}
        not was_opted_out
        {%- if var('auto_enrollment_scope') == 'new_hires_only' %}
            and hire_date >= {% if new_hires_from %}date '{{ new_hires_from }}'{% else %}make_date({{ var('start_year') }}, 1, 1){% endif %}
        {%- endif %} as is_auto_enrollment_in_scope
        {%- else %}
        false as is_auto_enrollment_in_scope
        {%- endif %}
    from candidates
    where greatest(eligibility_date, {{ year_start() }}) <= last_day_employed
),

auto_enrolled as (
    select
        *,
        first_enrollable_date as enrollment_date,
        (first_enrollable_date + 1
            + floor({{ uniform('opt_out_date', 'employee_id') }} * {{ var('auto_enrollment_opt_out_window_days') }})::integer
        )::date as opt_out_date_drawn,
        {{ uniform('opt_out', 'employee_id') }} < {{ var('auto_enrollment_opt_out_rate') }} as draws_opt_out
    from eligible
    where is_auto_enrollment_in_scope
),

{{ 'voluntary_drawn' if sweep else 'voluntary' }} as (
    select
        *,
        (first_enrollable_date
            + floor({{ uniform('voluntary_date', 'employee_id') }} * (last_day_employed - first_enrollable_date + 1))::integer
        )::date as enrollment_date,
        {{ weighted_choice(var('voluntary_enrollment_rate_choices'), 'rate', 'weight',
                           uniform('voluntary_rate', 'employee_id')) }} as chosen_rate
    from eligible
    where not is_auto_enrollment_in_scope
      and {{ uniform('voluntary_enrollment', 'employee_id') }}
          < {{ by_band(var('voluntary_enrollment_age_bands'), 'min_age', 'probability',
                       years_between('birth_date', 'first_enrollable_date')) }}
),

{%- if sweep %}
{%- set sweep_date = "date '" ~ sweep['date'] ~ "'" %}

swept as (
    select
        *,
        {{ sweep_date }} as enrollment_date,
        ({{ sweep_date }} + 1
            + floor({{ uniform('sweep_opt_out_date', 'employee_id') }} * {{ sweep['opt_out_window_days'] }})::integer
        )::date as opt_out_date_drawn,
        {{ uniform('sweep_opt_out', 'employee_id') }} < {{ sweep['opt_out_rate'] }} as draws_opt_out
    from eligible
    where not is_auto_enrollment_in_scope
      and eligibility_date <= {{ sweep_date }}
      and {{ is_active_on(sweep_date) }}
      and employee_id not in (select employee_id from voluntary_drawn where enrollment_date < {{ sweep_date }})
),

voluntary as (
    select * from voluntary_drawn where employee_id not in (select employee_id from swept)
),
{%- endif %}

carried_opt_outs as (
    -- opt-outs of last year's auto-enrollments (or sweeps) whose drawn day fell after Dec 31
    select workforce.employee_id, prior_state.pending_opt_out_date as opt_out_date, prior_state.deferral_rate,
           case when prior_state.enrollment_source = 'enrollment_sweep' then 'enrollment_sweep'
                else 'auto_enrollment' end as enrollment_source
    from workforce
    inner join prior_state on workforce.employee_id = prior_state.employee_id
    where prior_state.is_enrolled
      and prior_state.pending_opt_out_date between {{ year_start() }} and {{ year_end() }}
      and {{ is_active_on('prior_state.pending_opt_out_date', 'workforce.hire_date', 'workforce.termination_date') }}
),

events as (
    select employee_id, 'enrollment' as event_type, 'auto_enrollment' as enrollment_source,
           enrollment_date as effective_date, 0::decimal(9, 6) as deferral_rate_before,
           {{ var('auto_enrollment_default_rate') }}::decimal(9, 6) as deferral_rate_after,
           case when draws_opt_out and opt_out_date_drawn > {{ year_end() }} then opt_out_date_drawn end
               as scheduled_opt_out_date,
           {{ roth_election_share(roth_available) }} as roth_share
    from auto_enrolled
    union all
    select employee_id, 'opt_out', 'auto_enrollment', opt_out_date_drawn,
           {{ var('auto_enrollment_default_rate') }}::decimal(9, 6), 0::decimal(9, 6), null::date, null::decimal(9, 6)
    from auto_enrolled
    where draws_opt_out and opt_out_date_drawn <= last_day_employed
    union all
    select employee_id, 'opt_out', enrollment_source, opt_out_date, deferral_rate::decimal(9, 6),
           0::decimal(9, 6), null::date, null::decimal(9, 6)
    from carried_opt_outs
    union all
    select employee_id, 'enrollment', 'voluntary', enrollment_date,
           0::decimal(9, 6), chosen_rate::decimal(9, 6), null::date, {{ roth_election_share(roth_available) }}
    from voluntary
    {%- if sweep %}
    union all
    select employee_id, 'enrollment', 'enrollment_sweep', enrollment_date,
           0::decimal(9, 6), {{ sweep['rate'] }}::decimal(9, 6),
           case when draws_opt_out and opt_out_date_drawn > {{ year_end() }} then opt_out_date_drawn end,
           {{ roth_election_share(roth_available) }}
    from swept
    union all
    select employee_id, 'opt_out', 'enrollment_sweep', opt_out_date_drawn,
           {{ sweep['rate'] }}::decimal(9, 6), 0::decimal(9, 6), null::date, null::decimal(9, 6)
    from swept
    where draws_opt_out and opt_out_date_drawn <= last_day_employed
    {%- endif %}
),

final as (
    select
        {{ identity_columns() }},
        employee_id,
        event_type,
        enrollment_source,
        effective_date,
        deferral_rate_before,
        deferral_rate_after,
        scheduled_opt_out_date,
        roth_share
    from events
)

select * from final
