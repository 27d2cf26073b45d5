{#-
  The payroll calendar of the simulation year (var payroll_frequency). Periods tile the plan
  year exactly, so a full-year employee is paid exactly the annual rate:
  - monthly: the 12 calendar months; semi_monthly: the 1st-15th and the 16th-last day of
    each month (24 periods);
  - weekly / biweekly: 52 / 26 periods of 7 / 14 days from Jan 1, the last one running to
    Dec 31 (8 or 9 / 15 or 16 days).
  The pay date is the last day of the period. A full period pays annual rate / periods per year.
-#}
{% macro periods_per_year() -%}
    {{ {'weekly': 52, 'biweekly': 26, 'semi_monthly': 24, 'monthly': 12}[var('payroll_frequency')] }}
{%- endmacro %}

{% macro pay_periods() -%}
    {%- set frequency = var('payroll_frequency') -%}
    {%- set year = var('simulation_year') -%}
    (
    {%- if frequency in ('weekly', 'biweekly') %}
        {%- set days = 7 if frequency == 'weekly' else 14 %}
        select
            k::integer as pay_period,
            (make_date({{ year }}, 1, 1) + ((k - 1) * {{ days }})::integer)::date as period_start,
            case when k = {{ periods_per_year() }} then make_date({{ year }}, 12, 31)
                 else (make_date({{ year }}, 1, 1) + (k * {{ days }} - 1)::integer)::date end as period_end
        from range(1, {{ periods_per_year() }} + 1) as periods(k)
    {%- else %}
        {%- set halves = 2 if frequency == 'semi_monthly' else 1 %}
        select
            k::integer as pay_period,
            case when {{ halves }} = 2 and k % 2 = 0
                 then make_date({{ year }}, ((k + 1) // 2)::integer, 16)
                 else make_date({{ year }}, ((k + {{ halves }} - 1) // {{ halves }})::integer, 1) end as period_start,
            case when {{ halves }} = 2 and k % 2 = 1
                 then make_date({{ year }}, ((k + 1) // 2)::integer, 15)
                 else last_day(make_date({{ year }}, ((k + {{ halves }} - 1) // {{ halves }})::integer, 1)) end
                as period_end
        from range(1, {{ periods_per_year() }} + 1) as periods(k)
    {%- endif %}
    )
{%- endmacro %}

{#-
  The deferral state of an int_deferral_timeline row on a day: the fixed precedence of the
  year's events dated on or before it (an opt-out ends participation; otherwise the
  escalation's rate, the enrollment's rate, or the Jan 1 state).
-#}
{% macro deferral_rate_on(day) -%}
    case
        when opt_out_date <= {{ day }} then 0
        when escalation_date <= {{ day }} then escalation_rate
        when enrollment_event_date <= {{ day }} then enrollment_rate
        else prior_deferral_rate
    end::decimal(9, 6)
{%- endmacro %}

{% macro is_enrolled_on(day) -%}
    case
        when opt_out_date <= {{ day }} then false
        when enrollment_event_date <= {{ day }} then true
        else prior_is_enrolled
    end
{%- endmacro %}

{#- the Roth share of the deferral rate on a day: a new election's share from its date (an
    escalation keeps it), 0 after an opt-out, else the Jan 1 share -#}
{% macro roth_share_on(day) -%}
    case
        when opt_out_date <= {{ day }} then 0
        when enrollment_event_date <= {{ day }} then coalesce(enrollment_roth_share, 0)
        else coalesce(prior_roth_share, 0)
    end::double
{%- endmacro %}
