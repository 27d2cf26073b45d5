{#-
  Grain: one row per account holder still in the plan on Dec 31: every employee active at year
  end (their vesting service carries on, whatever the balance), and every leaver with a closing
  balance above 0. Closing balances per source, vesting service and share, and the termination,
  distribution and forfeiture state. Exported as results/<scenario>/<year>/int_year_end_balances.parquet
  and read by next year's stg_prior_balances (a Snakemake input), never through the database.
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'employee_id', 'simulation_year'],
    tags=['balances']
) }}

with balances as (
    select * from {{ this_year('int_employee_balances') }}
),

final as (
    select
        scenario_id,
        plan_design_id,
        simulation_year,
        employee_id,
        closing_balance_pretax as balance_pretax,
        closing_balance_roth as balance_roth,
        closing_balance_match as balance_match,
        closing_balance_core as balance_core,
        closing_balance_total as account_balance,
        vesting_service_years,
        vested_share_match,
        vested_share_core,
        termination_date,
        is_retirement,
        is_distribution_elected,
        distribution_date,
        forfeiture_date
    from balances
    where not is_terminated or closing_balance_total > 0
)

select * from final
