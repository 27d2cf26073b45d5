{#-
  Grain: one row per account holder on Jan 1 of the simulation year, as handed over by file
  (var prior_balances_file): the staged census in the start year, year N-1's
  int_year_end_balances otherwise.
  Start year: balances per source from the census balance_pretax / balance_roth / balance_match /
  balance_core (blanks as 0 when any of them is given), else the census account_balance split by
  balances_opening_split (match, core and Roth rounded to cents, pre-tax the remainder, so the
  four add up to account_balance), else 0. vesting_service_years: the census value, else completed
  years from hire to Dec 31 of the year before the start year (the hours method counts on from it).
  Nobody in the census has left: no termination or distribution state.
  Later years: last year's closing balances, vesting service and share, and the termination /
  distribution / forfeiture state of every account holder still in the plan.
-#}
{%- set split = var('balances_opening_split', {'pretax': 0.65, 'roth': 0.05, 'match': 0.25, 'core': 0.05}) %}
{{ config(tags=['balances']) }}

with source_rows as (
    select * from read_parquet({{ sql_string(var("prior_balances_file")) }})
),

{%- if var('simulation_year') == var('start_year') %}

census as (
    select
        *,
        coalesce(balance_pretax, balance_roth, balance_match, balance_core) is not null as has_source_balances,
        round(coalesce(account_balance, 0) * {{ split['roth'] }}, 2)::decimal(18, 2) as split_roth,
        round(coalesce(account_balance, 0) * {{ split['match'] }}, 2)::decimal(18, 2) as split_match,
        round(coalesce(account_balance, 0) * {{ split['core'] }}, 2)::decimal(18, 2) as split_core
    from source_rows
),

final as (
    select
        {{ identity_columns() }},
        employee_id::varchar as employee_id,
        case when has_source_balances then coalesce(balance_pretax, 0)
             else coalesce(account_balance, 0) - split_roth - split_match - split_core end::decimal(18, 2)
            as balance_pretax,
        case when has_source_balances then coalesce(balance_roth, 0) else split_roth end::decimal(18, 2) as balance_roth,
        case when has_source_balances then coalesce(balance_match, 0) else split_match end::decimal(18, 2)
            as balance_match,
        case when has_source_balances then coalesce(balance_core, 0) else split_core end::decimal(18, 2) as balance_core,
        coalesce(vesting_service_years::integer,
                 greatest(0, {{ years_between('hire_date::date', 'make_date(' ~ (var('start_year') - 1) ~ ', 12, 31)') }}))::integer
            as vesting_service_years,
        null::decimal(9, 6) as vested_share_match,
        null::decimal(9, 6) as vested_share_core,
        null::date as termination_date,
        false as is_retirement,
        false as is_distribution_elected,
        null::date as distribution_date,
        null::date as forfeiture_date
    from census
)

{%- else %}

final as (
    select
        {{ identity_columns() }},
        employee_id::varchar as employee_id,
        balance_pretax::decimal(18, 2) as balance_pretax,
        balance_roth::decimal(18, 2) as balance_roth,
        balance_match::decimal(18, 2) as balance_match,
        balance_core::decimal(18, 2) as balance_core,
        vesting_service_years::integer as vesting_service_years,
        vested_share_match::decimal(9, 6) as vested_share_match,
        vested_share_core::decimal(9, 6) as vested_share_core,
        termination_date::date as termination_date,
        is_retirement::boolean as is_retirement,
        is_distribution_elected::boolean as is_distribution_elected,
        distribution_date::date as distribution_date,
        forfeiture_date::date as forfeiture_date
    from source_rows
)

{%- endif %}

select * from final
