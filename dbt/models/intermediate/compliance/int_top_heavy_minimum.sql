{#-
  Grain: one row per employee employed at any time in the simulation year (the grain of
  int_employee_contributions). Who is a key employee, the year's top-heavy determination
  (IRC 416(g), the same on every row of the year) and the minimum contribution each non-key
  employee is owed (IRC 416(c)(2)); int_top_heavy_test reports it, int_employee_balances adds
  it to the core source when compliance.top_heavy_minimum is apply.
  - Key employee (416(i)(1)(A), "at any time during the plan year" that contains the
    determination date, i.e. the look-back year of int_hce_determination):
      an officer (is_officer) paid more than the seed's key_employee_compensation_threshold of the
      look-back year (lookback_compensation), at most min(50, max(3, ceil(10% of the employees)))
      officers, the best paid first (Treas. Reg. 1.416-1 T-14; employees = this year's employees
      with look-back pay, the 414(q)(5) exclusions not applied); a 5% owner (ownership_pct > 5);
      a 1% owner (ownership_pct > 1) paid more than $150,000 (not indexed).
  - Determination date (416(g)(4)(C)): Dec 31 of the previous plan year. The balances on it are
    the year's opening balances (stg_prior_balances: last year's closing; in the start year the
    census balances, taken as the balances on Dec 31 before the start year). A leaver who did not
    work in the 1-year period ending on that date (termination_date before Jan 1 of the previous
    year) is left out (416(g)(4)(E)). Distributions of that period are not added back (416(g)(3)):
    the handover holds neither the amounts nor the paid-out leavers. A leaver of the previous
    year is not in this year's employees: counted as non-key. Former key employees (416(g)(4)(B))
    are not tracked.
  - Top-heavy: key balances > 60% of all counted balances (416(g)(1)(A)(ii)), compared exactly
    (key x 5 > total x 3). Not determinable when the census had neither is_officer nor
    ownership_pct. Exempt (416(g)(4)(H)) when var compliance_top_heavy_deemed_reason is set
    (plansim.config: a safe harbor design with no other employer money).
  - Minimum (416(c)(2)(A)) for each non-key participant (eligible by Dec 31) employed on Dec 31,
    whatever their hours or allocation conditions (1.416-1 M-10): employer match + core
    (matching contributions count, 416(c)(2)(A) and 1.416-1 M-18; their deferrals do not, M-20)
    must reach rate x plan_compensation (pay capped at 401(a)(17)), rate = min(3%, the highest key
    employee rate) (416(c)(2)(B), M-7); a key employee's rate = (deferrals other than catch-up
    (1.414(v)-1(d)(3)) + match + core) / plan_compensation. The top-up is the shortfall, rounded
    to cents, kept within the 415(c) room (annual_additions_limit_applied - annual_additions).
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'employee_id', 'simulation_year'],
    tags=['compliance']
) }}

{%- set lookback_year = var('simulation_year') - 1 %}
{%- set deemed_reason = var('compliance_top_heavy_deemed_reason', none) %}

with contributions as (
    select * from {{ this_year('int_employee_contributions') }}
),

workforce as (
    select * from {{ this_year('int_employee_compensation_by_year') }}
),

hce as (
    select * from {{ this_year('int_hce_determination') }}
),

opening as (
    select * from {{ this_year('stg_prior_balances') }}
),

threshold as (
    select key_employee_compensation_threshold from {{ ref('irs_limits') }} where plan_year = {{ lookback_year }}
),

census_data as (
    select
        coalesce(bool_or(is_officer_data_known), false) as is_officer_data_known,
        coalesce(bool_or(is_owner_data_known), false) as is_owner_data_known,
        -- 416(i)(1)(A): no more than 50 officers, or if less the greater of 3 or 10% of the employees (rounded up, T-14)
        least(50, greatest(3, ceil(0.1 * count(*) filter (where lookback_compensation is not null))))::integer
            as officer_limit
    from hce
),

people as (
    select
        contributions.employee_id,
        hce.lookback_compensation,
        coalesce(hce.is_officer, false) as is_officer,
        coalesce(hce.ownership_pct > 5, false) as is_five_percent_owner,
        coalesce(hce.ownership_pct > 1 and hce.lookback_compensation > 150000, false) as is_one_percent_owner_paid,
        coalesce(contributions.plan_compensation, 0)::decimal(18, 2) as plan_compensation,
        (coalesce(contributions.employee_deferral, 0) - coalesce(contributions.catch_up_deferral, 0))::decimal(18, 2)
            as deferral_before_catch_up,
        (coalesce(contributions.employer_match, 0) + coalesce(contributions.employer_core, 0))::decimal(18, 2)
            as employer_contribution,
        greatest(0, coalesce(contributions.annual_additions_limit_applied, 0)
                    - coalesce(contributions.annual_additions, 0))::decimal(18, 2) as additions_room,
        {{ is_active_on(year_end(), 'workforce.hire_date', 'workforce.termination_date') }} as is_employed_at_year_end,
        {{ eligibility_date('workforce.hire_date', 'workforce.birth_date') }} <= {{ year_end() }} as is_participant
    from contributions
    inner join workforce on contributions.employee_id = workforce.employee_id
    left join hce on contributions.employee_id = hce.employee_id
),

officers as (
    -- the officers above the threshold, best paid first, up to the 416(i)(1)(A) number
    select
        people.employee_id,
        row_number() over (order by people.lookback_compensation desc, people.employee_id) as officer_rank,
        census_data.officer_limit
    from people
    cross join threshold
    cross join census_data
    where people.is_officer and people.lookback_compensation > threshold.key_employee_compensation_threshold
),

keys as (
    select
        people.*,
        coalesce(officers.officer_rank <= officers.officer_limit, false) as is_key_officer,
        case
            when people.is_five_percent_owner then 'five_percent_owner'
            when people.is_one_percent_owner_paid then 'one_percent_owner'
            when officers.officer_rank <= officers.officer_limit then 'officer'
        end as key_employee_reason
    from people
    left join officers on people.employee_id = officers.employee_id
),

holders as (
    -- balances on the determination date of everyone who worked in the year ending on it
    select
        opening.employee_id,
        (coalesce(opening.balance_pretax, 0) + coalesce(opening.balance_roth, 0)
         + coalesce(opening.balance_match, 0) + coalesce(opening.balance_core, 0))::decimal(18, 2) as balance,
        coalesce(keys.key_employee_reason is not null, false) as is_key_employee
    from opening
    left join keys on opening.employee_id = keys.employee_id
    where opening.termination_date is null or opening.termination_date >= make_date({{ lookback_year }}, 1, 1)
),

determination as (
    select
        census_data.is_officer_data_known,
        census_data.is_owner_data_known,
        census_data.officer_limit,
        coalesce(sum(holders.balance) filter (where holders.is_key_employee), 0)::decimal(18, 2) as key_balance,
        coalesce(sum(holders.balance), 0)::decimal(18, 2) as determination_balance,
        count(holders.employee_id) filter (where holders.is_key_employee)::integer as key_holder_count,
        count(holders.employee_id) filter (where not holders.is_key_employee)::integer as non_key_holder_count,
        coalesce((select max((deferral_before_catch_up + employer_contribution)::double / plan_compensation::double)
                  from keys where key_employee_reason is not null and plan_compensation > 0), 0) as highest_key_rate
    from census_data
    left join holders on true
    group by census_data.is_officer_data_known, census_data.is_owner_data_known, census_data.officer_limit
),

year_status as (
    select
        *,
        is_officer_data_known or is_owner_data_known as is_determinable,
        (is_officer_data_known or is_owner_data_known) and key_balance * 5 > determination_balance * 3 as is_top_heavy,
        {{ 'true' if deemed_reason else 'false' }} as is_exempt,
        least(0.03, highest_key_rate) as required_rate
    from determination
),

owed as (
    select
        keys.*,
        year_status.*,
        year_status.is_top_heavy and not year_status.is_exempt and keys.key_employee_reason is null
            and keys.is_participant and keys.is_employed_at_year_end as is_minimum_due
    from keys
    cross join year_status
),

amounts as (
    select
        *,
        case when is_minimum_due then round(required_rate * plan_compensation::double, 2) else 0 end::decimal(18, 2)
            as required_contribution
    from owed
),

final as (
    select
        {{ identity_columns() }},
        employee_id,
        key_employee_reason is not null as is_key_employee,
        key_employee_reason,
        lookback_compensation::decimal(18, 2) as lookback_compensation,
        plan_compensation,
        case when plan_compensation > 0
             then round(((case when key_employee_reason is not null then deferral_before_catch_up else 0 end)
                         + employer_contribution)::double / plan_compensation::double, 6)
             else 0 end::decimal(9, 6) as contribution_rate,
        employer_contribution,
        is_participant,
        is_employed_at_year_end,
        is_minimum_due,
        required_contribution,
        greatest(0, required_contribution - employer_contribution)::decimal(18, 2) as top_heavy_shortfall,
        additions_room,
        least(greatest(0, required_contribution - employer_contribution), additions_room)::decimal(18, 2)
            as top_heavy_minimum,
        greatest(0, required_contribution - employer_contribution) > additions_room as is_415c_limited,
        -- the year's determination, the same on every row
        make_date({{ lookback_year }}, 12, 31) as determination_date,
        is_officer_data_known,
        is_owner_data_known,
        is_determinable,
        officer_limit,
        key_balance,
        determination_balance,
        case when determination_balance > 0
             then round(key_balance::double / determination_balance::double, 6) end::decimal(9, 6) as key_balance_share,
        key_holder_count,
        non_key_holder_count,
        is_top_heavy,
        is_exempt as is_top_heavy_exempt,
        round(highest_key_rate, 6)::decimal(9, 6) as highest_key_contribution_rate,
        round(required_rate, 6)::decimal(9, 6) as required_rate,
        {{ 'true' if var('compliance_top_heavy_minimum', 'report') == 'apply' else 'false' }} as is_minimum_applied
    from amounts
)

select * from final
