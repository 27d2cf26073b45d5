{#-
  Grain: one row per employee employed at any time in the simulation year: year-end
  status, level, pay, age, tenure, eligibility, December deferral state and the year's
  contributions; the vested shares of the employer sources and the closing account balances per
  source (int_employee_balances, left join: every snapshot row stays).
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'employee_id', 'simulation_year'],
    tags=['marts']
) }}

with workforce as (
    select * from {{ this_year('int_employee_compensation_by_year') }}
),

december as (
    select * from {{ this_year('int_deferral_rate_state_accumulator') }} where is_current
),

contributions as (
    select * from {{ this_year('int_employee_contributions') }}
),

balances as (
    select * from {{ this_year('int_employee_balances') }}
),

final as (
    select
        workforce.scenario_id,
        workforce.plan_design_id,
        workforce.simulation_year,
        workforce.employee_id,
        workforce.employment_status,
        workforce.is_active_at_year_end as is_active,
        workforce.hire_date,
        workforce.termination_date,
        workforce.birth_date,
        {{ years_between('workforce.birth_date', year_end()) }} as age,
        {{ years_between('workforce.hire_date', 'coalesce(workforce.termination_date, ' ~ year_end() ~ ')') }}
            as tenure_years,
        workforce.ending_job_level as job_level,
        workforce.ending_compensation as annual_compensation,
        {{ eligibility_date('workforce.hire_date', 'workforce.birth_date') }} as eligibility_date,
        {{ eligibility_date('workforce.hire_date', 'workforce.birth_date') }}
            <= coalesce(workforce.termination_date, {{ year_end() }}) as is_eligible,
        december.is_enrolled,
        december.deferral_rate,
        december.deferral_rate_source,
        december.enrollment_date,
        december.is_auto_enrollment_opted_out,
        contributions.gross_compensation,
        contributions.plan_compensation,
        contributions.eligible_plan_compensation,
        contributions.requested_deferral,
        contributions.employee_deferral,
        contributions.catch_up_deferral,
        contributions.employer_match,
        contributions.employer_core,
        (contributions.employee_deferral + contributions.employer_match + contributions.employer_core)::decimal(18, 2)
            as total_contributions,
        contributions.deferral_refund_415,
        contributions.match_forfeited_415,
        contributions.is_402g_limited,
        contributions.is_catch_up_used,
        contributions.is_catch_up_limited,
        contributions.is_401a17_limited,
        contributions.is_415c_limited,
        balances.vested_share_match,
        balances.vested_share_core,
        balances.closing_balance_pretax as balance_pretax,
        balances.closing_balance_roth as balance_roth,
        balances.closing_balance_match as balance_match,
        balances.closing_balance_core as balance_core,
        balances.closing_balance_total as balance_total
    from workforce
    inner join december on workforce.employee_id = december.employee_id
    inner join contributions on workforce.employee_id = contributions.employee_id
    left join balances on workforce.employee_id = balances.employee_id
)

select * from final
