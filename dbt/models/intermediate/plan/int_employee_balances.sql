{#-
  Grain: one row per account holder and year: everyone employed at any time in the year, plus
  former employees whose balance is still in the plan (last year's int_year_end_balances).
  Vesting (employer sources; deferrals are always 100% vested):
  - vesting_service_years: elapsed_time = completed years from hire to Dec 31 (or the
    termination date); hours = last year's count (start year: census vesting_service_years, else
    elapsed years on Dec 31 before the start year; a hire of the year: 0) + 1 when hours_in_year
    >= vesting_hours_per_year.
  - vested share = the schedule's entry for that many years (vesting_match / vesting_core; the last
    entry applies from then on); 1 from vesting_normal_retirement_age (age on Dec 31 or at the
    termination date) and on retirement. Frozen at termination (carried from then on). Never
    below last year's share: a vesting schedule changed by the design timeline keeps what was
    vested (IRC 411(a)(10)(A); docs/semantics.md 4.20).
  Per source (pretax = pretax_deferral + pretax_catch_up, roth = roth_deferral + roth_catch_up,
  match = employer_match, core = employer_core): opening = last year's closing (census in the start
  year); return = round(opening x r + contributions x r x year_share, 2), r =
  balances_investment_return_by_year[year] else balances_investment_return; then, on Dec 31:
  forfeiture (match, core) = round((opening + contributions + return) x (1 - vested share), 2) in
  the forfeiture year; distribution = everything left in the distribution year;
  closing = opening + contributions + return - distributions - forfeitures.
  A leaver distributes (is_distribution_elected) when u(distribution) < balances_distribution_share,
  drawn in the termination year; distribution_date = Dec 31 of the termination year
  (termination_year) or of the year after (year_after). forfeiture_date: at_termination = Dec 31 of
  the termination year; after_breaks_in_service = Dec 31 of the termination year +
  forfeitures_break_in_service_years, or the distribution date when earlier (cash-out).
  Match deposited then forfeited by an allocation condition never enters the balance.
  Top-heavy minimum (issue 14): with compliance_top_heavy_minimum apply, int_top_heavy_minimum's
  top-up (IRC 416(c)(2)) is added to the core contributions as a Dec 31 deposit: it earns no
  return in the year (year_share_core becomes the contribution-weighted share of both) and vests
  on the core schedule. top_heavy_minimum is the amount applied (0 with report: nothing changes).
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'employee_id', 'simulation_year'],
    tags=['balances']
) }}

{%- set match_schedule = var('vesting_match', [1.0]) %}
{%- set core_schedule = var('vesting_core', [1.0]) %}
{%- set by_year = var('balances_investment_return_by_year', {}) or {} %}
{%- set year_key = var('simulation_year') | string %}
{%- set rate = by_year[year_key] if year_key in by_year else by_year.get(var('simulation_year'), var('balances_investment_return', 0.05)) %}
{%- set timing = var('forfeitures_timing', 'at_termination') %}
{%- set distribution_lag = 1 if var('balances_distribution_timing', 'year_after') == 'year_after' else 0 %}
{%- set sources = ['pretax', 'roth', 'match', 'core'] %}
{%- set apply_top_heavy = var('compliance_top_heavy_minimum', 'report') == 'apply' %}
{#- the dependency on int_top_heavy_minimum is taken at parse time whatever the var (the DAG does not
    change with it); the model is read only when the minimum is applied -#}
{%- if not execute or apply_top_heavy %}{% set top_heavy_relation = ref('int_top_heavy_minimum') %}{% endif %}
{#- the vested share after vesting_service_years completed years, from a schedule list -#}
{%- set share_sql = {} %}
{%- for name, schedule in [('match', match_schedule), ('core', core_schedule)] %}
{%- set ns = namespace(sql='') %}
{%- for share in schedule[:-1] %}{% set ns.sql = ns.sql ~ ' when vesting_service_years <= ' ~ loop.index0 ~ ' then ' ~ share %}{% endfor %}
{%- do share_sql.update({name: ('case' ~ ns.sql ~ ' else ' ~ schedule[-1] ~ ' end') if ns.sql else (schedule[-1] | string)}) %}
{%- endfor %}
{%- set match_share_sql = share_sql['match'] %}
{%- set core_share_sql = share_sql['core'] %}

with workforce as (
    select * from {{ this_year('int_employee_compensation_by_year') }}
),

contributions as (
    select * from {{ this_year('int_employee_contributions') }}
),

prior as (
    select * from {{ this_year('stg_prior_balances') }}
),
{%- if apply_top_heavy %}

top_heavy as (
    select * from {{ this_year('int_top_heavy_minimum') }}
),
{%- endif %}

employed as (
    select
        workforce.employee_id,
        workforce.birth_date,
        workforce.hire_date,
        workforce.termination_date,
        workforce.employment_status = 'retirement' as is_retirement,
        least(coalesce(workforce.termination_date, {{ year_end() }}), {{ year_end() }}) as service_date,
        (coalesce(contributions.pretax_deferral, 0) + coalesce(contributions.pretax_catch_up, 0))::decimal(18, 2)
            as contributions_pretax,
        (coalesce(contributions.roth_deferral, 0) + coalesce(contributions.roth_catch_up, 0))::decimal(18, 2)
            as contributions_roth,
        coalesce(contributions.employer_match, 0)::decimal(18, 2) as contributions_match,
        {%- if apply_top_heavy %}
        (coalesce(contributions.employer_core, 0) + coalesce(top_heavy.top_heavy_minimum, 0))::decimal(18, 2)
            as contributions_core,
        {%- else %}
        coalesce(contributions.employer_core, 0)::decimal(18, 2) as contributions_core,
        {%- endif %}
        coalesce(contributions.deferral_year_share, 0)::double as year_share_pretax,
        coalesce(contributions.deferral_year_share, 0)::double as year_share_roth,
        coalesce(contributions.match_year_share, 0)::double as year_share_match,
        {%- if apply_top_heavy %}
        -- the top-up is deposited on Dec 31 (share 0): the core's share is weighted by both deposits
        case when coalesce(top_heavy.top_heavy_minimum, 0) > 0
             then coalesce(contributions.core_year_share, 0)::double * coalesce(contributions.employer_core, 0)::double
                  / (coalesce(contributions.employer_core, 0) + top_heavy.top_heavy_minimum)::double
             else coalesce(contributions.core_year_share, 0)::double end as year_share_core,
        coalesce(top_heavy.top_heavy_minimum, 0)::decimal(18, 2) as top_heavy_minimum,
        {%- else %}
        coalesce(contributions.core_year_share, 0)::double as year_share_core,
        0::decimal(18, 2) as top_heavy_minimum,
        {%- endif %}
        coalesce(contributions.hours_in_year, 0)::double as hours_in_year,
        prior.vesting_service_years as prior_vesting_service_years,
        prior.vested_share_match as prior_vested_share_match,
        prior.vested_share_core as prior_vested_share_core,
        {%- for source in sources %}
        coalesce(prior.balance_{{ source }}, 0)::decimal(18, 2) as opening_balance_{{ source }}{{ ',' if not loop.last }}
        {%- endfor %}
    from workforce
    left join contributions on workforce.employee_id = contributions.employee_id
    left join prior on workforce.employee_id = prior.employee_id
    {%- if apply_top_heavy %}
    left join top_heavy on workforce.employee_id = top_heavy.employee_id
    {%- endif %}
),

employed_vesting as (
    select
        employed.*,
        {%- if var('vesting_service', 'elapsed_time') == 'hours' %}
        (coalesce(prior_vesting_service_years, 0)
         + case when hours_in_year >= {{ var('vesting_hours_per_year', 1000) }} then 1 else 0 end)::integer
        {%- else %}
        {{ years_between('hire_date', 'service_date') }}::integer
        {%- endif %} as vesting_service_years,
        is_retirement
            or {{ years_between('birth_date', 'service_date') }} >= {{ var('vesting_normal_retirement_age', 65) }}
            as is_fully_vested
    from employed
),

employed_holders as (
    select
        employee_id,
        termination_date,
        is_retirement,
        vesting_service_years,
        -- IRC 411(a)(10)(A): a schedule change never lowers a vested share (last year's is the floor)
        (case when is_fully_vested then 1
              else greatest({{ match_share_sql }}, coalesce(prior_vested_share_match, 0)) end)::decimal(9, 6)
            as vested_share_match,
        (case when is_fully_vested then 1
              else greatest({{ core_share_sql }}, coalesce(prior_vested_share_core, 0)) end)::decimal(9, 6)
            as vested_share_core,
        termination_date is not null
            and {{ uniform('distribution', 'employee_id') }} < {{ var('balances_distribution_share', 0.6) }}
            as is_distribution_elected,
        {%- for source in sources %}
        opening_balance_{{ source }},
        contributions_{{ source }},
        year_share_{{ source }},
        {%- endfor %}
        top_heavy_minimum,
        false as is_former_employee
    from employed_vesting
),

employed_schedule as (
    select
        employed_holders.*,
        case when is_distribution_elected
             then make_date(year(termination_date) + {{ distribution_lag }}, 12, 31) end as distribution_date
    from employed_holders
),

employed_final as (
    select
        employed_schedule.*,
        {%- if timing == 'after_breaks_in_service' %}
        case when termination_date is not null
             then least(make_date(year(termination_date) + {{ var('forfeitures_break_in_service_years', 5) }}, 12, 31),
                        coalesce(distribution_date, make_date(9999, 12, 31))) end
        {%- else %}
        case when termination_date is not null then make_date(year(termination_date), 12, 31) end
        {%- endif %} as forfeiture_date
    from employed_schedule
),

former_holders as (
    select
        prior.employee_id,
        prior.termination_date,
        prior.is_retirement,
        prior.vesting_service_years,
        prior.vested_share_match,
        prior.vested_share_core,
        prior.is_distribution_elected,
        {%- for source in sources %}
        prior.balance_{{ source }}::decimal(18, 2) as opening_balance_{{ source }},
        0::decimal(18, 2) as contributions_{{ source }},
        0::double as year_share_{{ source }},
        {%- endfor %}
        0::decimal(18, 2) as top_heavy_minimum,
        true as is_former_employee,
        prior.distribution_date,
        prior.forfeiture_date
    from prior
    anti join workforce on prior.employee_id = workforce.employee_id
    where prior.termination_date is not null
),

holders as (
    select * from employed_final
    union all by name
    select * from former_holders
),

returns as (
    select
        holders.*,
        {%- for source in sources %}
        round(opening_balance_{{ source }}::double * {{ rate }}
              + contributions_{{ source }}::double * {{ rate }} * year_share_{{ source }}, 2)::decimal(18, 2)
            as investment_return_{{ source }},
        (opening_balance_{{ source }} + contributions_{{ source }}
         + round(opening_balance_{{ source }}::double * {{ rate }}
                 + contributions_{{ source }}::double * {{ rate }} * year_share_{{ source }}, 2))::decimal(18, 2)
            as before_outflows_{{ source }}{{ ',' if not loop.last }}
        {%- endfor %}
    from holders
),

forfeitures as (
    select
        returns.*,
        0::decimal(18, 2) as forfeiture_pretax,
        0::decimal(18, 2) as forfeiture_roth,
        {%- for source in ['match', 'core'] %}
        case when forfeiture_date = {{ year_end() }}
             then round(before_outflows_{{ source }}::double * (1 - vested_share_{{ source }}::double), 2)
             else 0 end::decimal(18, 2) as forfeiture_{{ source }}{{ ',' if not loop.last }}
        {%- endfor %}
    from returns
),

distributions as (
    select
        forfeitures.*,
        {%- for source in sources %}
        case when distribution_date = {{ year_end() }} then before_outflows_{{ source }} - forfeiture_{{ source }}
             else 0 end::decimal(18, 2) as distribution_{{ source }}{{ ',' if not loop.last }}
        {%- endfor %}
    from forfeitures
),

final as (
    select
        {{ identity_columns() }},
        employee_id,
        is_former_employee,
        termination_date is not null as is_terminated,
        termination_date,
        is_retirement,
        vesting_service_years,
        vested_share_match,
        vested_share_core,
        {{ rate }}::decimal(9, 6) as investment_return_rate,
        is_distribution_elected,
        distribution_date,
        forfeiture_date,
        {%- for source in sources %}
        opening_balance_{{ source }},
        contributions_{{ source }},
        year_share_{{ source }}::decimal(9, 6) as year_share_{{ source }},
        investment_return_{{ source }},
        distribution_{{ source }},
        {%- endfor %}
        forfeiture_match,
        forfeiture_core,
        {%- for source in sources %}
        (before_outflows_{{ source }} - distribution_{{ source }} - forfeiture_{{ source }})::decimal(18, 2)
            as closing_balance_{{ source }},
        {%- endfor %}
        ({% for source in sources %}opening_balance_{{ source }}{{ ' + ' if not loop.last }}{% endfor %})::decimal(18, 2)
            as opening_balance_total,
        ({% for source in sources %}distribution_{{ source }}{{ ' + ' if not loop.last }}{% endfor %})::decimal(18, 2)
            as distribution_total,
        (forfeiture_match + forfeiture_core)::decimal(18, 2) as forfeiture_total,
        ({% for source in sources %}before_outflows_{{ source }} - distribution_{{ source }} - forfeiture_{{ source }}{{ ' + ' if not loop.last }}{% endfor %})::decimal(18, 2)
            as closing_balance_total,
        (before_outflows_pretax - distribution_pretax + before_outflows_roth - distribution_roth
         + round((before_outflows_match - distribution_match - forfeiture_match)::double * vested_share_match::double, 2)
         + round((before_outflows_core - distribution_core - forfeiture_core)::double * vested_share_core::double, 2))::decimal(18, 2)
            as vested_balance_total,
        top_heavy_minimum
    from distributions
)

select * from final
