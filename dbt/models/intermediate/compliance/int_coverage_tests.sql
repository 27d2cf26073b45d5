{#-
  Grain: one row per test and year: coverage_401k, coverage_401m, coverage_nonelective.
  The ratio percentage test of IRC 410(b)(1)(B) (Treas. Reg. 1.410(b)-2(b)(2), 1.410(b)-9),
  run on each part of the plan that 1.410(b)-7(c)(1) tests separately: the 401(k) arrangement,
  the 401(m) match, and the nonelective (core) contribution.
  - Population: the employees of int_employee_contributions of the year, minus the excludable
    employees of 1.410(b)-6:
      (b)(1) under the statutory minimums of IRC 410(a)(1) at Dec 31 (or the termination date):
        age attained in the year < 21, or service_years < 1 (completed years from hire to
        Dec 31 or the termination date, elapsed time; the 1,000-hour year of 410(a)(3) is not
        counted). Dropping employees the plan covers earlier than that is the 410(b)(4)(B)
        disaggregation: plansim takes the otherwise excludable part as passing on its own.
      (f) a leaver (not employed on Dec 31) with no more than 500 hours in the year who does
        not benefit because of the source's last-day / hours / service allocation condition
        (meets_match_conditions / meets_core_conditions false). Deferrals have no allocation
        condition, so (f) never drops anyone from coverage_401k.
  - Benefiting (1.410(b)-3(a)): 401(k): eligible to defer at some time in the year (eligibility
    date on or before Dec 31 or the termination date); 401(m): the plan has a match formula with
    a positive rate in the employee's band, the employee is eligible and meets the match's
    allocation conditions (not_applicable without any positive match rate); nonelective:
    employer_core > 0 (not_applicable without any positive core rate).
  - HCE from int_hce_determination (is_hce).
  - ratio = (NHCEs benefiting / NHCEs) / (HCEs benefiting / HCEs); passes at >= 70%, compared in
    whole numbers (nhce_benefiting x hce_count x 100 >= 70 x nhce_count x hce_benefiting).
    No HCE benefiting (none at all, or none benefiting): passes, 1.410(b)-2(b)(6); no NHCE:
    passes, 1.410(b)-2(b)(5). The average benefit test (1.410(b)-2(b)(3)) is not run.
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'simulation_year', 'test_name'],
    tags=['compliance']
) }}

{%- set tier_bands_spec = var('match_tier_bands', none) %}
{%- set match_bands = tier_bands_spec['bands'] if tier_bands_spec else [{'from': 0, 'to': none, 'tiers': var('match_tiers', [])}] %}
{#- the band indexes whose tiers match anything -#}
{%- set matched_bands = [] %}
{%- for band in match_bands %}
    {%- if band['tiers'] | selectattr('rate', 'gt', 0) | list | length > 0 %}{% do matched_bands.append(loop.index0) %}{% endif %}
{%- endfor %}
{%- set core_bands_spec = var('core_contribution_bands', none) %}
{%- set core_rates = (core_bands_spec['bands'] | map(attribute='rate') | list) if core_bands_spec else [var('core_contribution_rate', 0)] %}
{%- set has_core = core_rates | select('gt', 0) | list | length > 0 %}

with contributions as (
    select * from {{ this_year('int_employee_contributions') }}
),

workforce as (
    select * from {{ this_year('int_employee_compensation_by_year') }}
),

hce as (
    select * from {{ this_year('int_hce_determination') }}
),

people as (
    select
        contributions.employee_id,
        coalesce(hce.is_hce, false) as is_hce,
        contributions.age_at_year_end < 21 or contributions.service_years < 1 as is_under_statutory_minimums,
        not {{ is_active_on(year_end(), 'workforce.hire_date', 'workforce.termination_date') }} as is_leaver,
        contributions.hours_in_year,
        {{ eligibility_date('workforce.hire_date', 'workforce.birth_date') }}
            <= least(coalesce(workforce.termination_date, {{ year_end() }}), {{ year_end() }}) as is_eligible,
        {%- if matched_bands %}
        coalesce(contributions.match_tier_band, 0) in ({{ matched_bands | join(', ') }}) as has_match_formula,
        {%- else %}
        false as has_match_formula,
        {%- endif %}
        coalesce(contributions.meets_match_conditions, true) as meets_match_conditions,
        coalesce(contributions.meets_core_conditions, true) as meets_core_conditions,
        coalesce(contributions.employer_core, 0) > 0 as receives_core
    from contributions
    inner join workforce on contributions.employee_id = workforce.employee_id
    left join hce on contributions.employee_id = hce.employee_id
),

by_test as (
    select
        employee_id, is_hce, 'coverage_401k' as test_name,
        is_eligible as is_benefiting,
        is_under_statutory_minimums as is_excludable
    from people
    union all
    select
        employee_id, is_hce, 'coverage_401m' as test_name,
        is_eligible and has_match_formula and meets_match_conditions as is_benefiting,
        is_under_statutory_minimums
            or (is_leaver and hours_in_year <= 500 and not meets_match_conditions) as is_excludable
    from people
    union all
    select
        employee_id, is_hce, 'coverage_nonelective' as test_name,
        receives_core as is_benefiting,
        is_under_statutory_minimums
            or (is_leaver and hours_in_year <= 500 and not receives_core and not meets_core_conditions) as is_excludable
    from people
),

tests as (
    select * from (values ('coverage_401k'), ('coverage_401m'), ('coverage_nonelective')) as t(test_name)
),

counts as (
    -- the nonexcludable employees of each test, and how many were left out
    select
        tests.test_name,
        count(*) filter (where by_test.is_hce and not by_test.is_excludable)::integer as hce_count,
        count(*) filter (where not by_test.is_hce and not by_test.is_excludable)::integer as nhce_count,
        count(*) filter (where by_test.is_hce and not by_test.is_excludable and by_test.is_benefiting)::integer
            as hce_benefiting,
        count(*) filter (where not by_test.is_hce and not by_test.is_excludable and by_test.is_benefiting)::integer
            as nhce_benefiting,
        count(*) filter (where by_test.is_excludable)::integer as excludable_count
    from tests
    left join by_test on tests.test_name = by_test.test_name
    group by tests.test_name
),

ratios as (
    select
        *,
        case when hce_count > 0 then hce_benefiting::double / hce_count end as hce_share,
        case when nhce_count > 0 then nhce_benefiting::double / nhce_count end as nhce_share
    from counts
),

evaluated as (
    select
        *,
        -- capped where decimal(9, 6) ends (a ratio that high needs 1 HCE benefiting among more than 999)
        case when hce_benefiting > 0 and nhce_count > 0 then least(nhce_share / hce_share, 999.999999) end as ratio,
        case
            {%- if not matched_bands %}
            when test_name = 'coverage_401m' then 'not_applicable'
            {%- endif %}
            {%- if not has_core %}
            when test_name = 'coverage_nonelective' then 'not_applicable'
            {%- endif %}
            when hce_benefiting = 0 or nhce_count = 0 then 'pass'
            when nhce_benefiting::bigint * hce_count * 100 >= 70::bigint * nhce_count * hce_benefiting then 'pass'
            else 'fail'
        end as status
    from ratios
),

final as (
    select
        {{ identity_columns() }},
        test_name,
        'ratio_percentage' as test_method,
        status,
        hce_count,
        nhce_count,
        case when status <> 'not_applicable' then round(hce_share, 6) end::decimal(9, 6) as hce_value,
        case when status <> 'not_applicable' then round(nhce_share, 6) end::decimal(9, 6) as nhce_value,
        case when status <> 'not_applicable' then round(nhce_share, 6) end::decimal(9, 6) as nhce_base,
        case when status <> 'not_applicable' then round(ratio, 6) end::decimal(9, 6) as test_value,
        0.70::decimal(9, 6) as limit_value,
        case when status <> 'not_applicable' then round((ratio - 0.70) * 100, 4) end::decimal(9, 4) as margin_points,
        0::decimal(18, 2) as corrective_amount,
        0::decimal(18, 2) as recharacterized_amount,
        0::decimal(18, 2) as match_forfeited,
        0::integer as affected_count,
        case
            when status = 'not_applicable' and test_name = 'coverage_401m'
                then 'the design has no match formula: nothing to test'
            when status = 'not_applicable'
                then 'the design has no nonelective (core) contribution: nothing to test'
            when hce_count = 0 and nhce_count = 0
                then 'no nonexcludable employees (all under age 21 or one year of service, or short-service leavers, '
                     || 'Treas. Reg. 1.410(b)-6): nothing to test'
            when hce_count = 0
                then 'no HCEs among the ' || nhce_count || ' nonexcludable employees: the plan benefits no HCE and passes '
                     || '(Treas. Reg. 1.410(b)-2(b)(6)); ' || nhce_benefiting || ' of ' || nhce_count || ' NHCEs benefit'
            when hce_benefiting = 0
                then 'none of the ' || hce_count || ' HCEs benefits: the plan passes (Treas. Reg. 1.410(b)-2(b)(6)); '
                     || nhce_benefiting || ' of ' || nhce_count || ' NHCEs benefit'
            when nhce_count = 0
                then 'no NHCEs among the nonexcludable employees: the plan passes (Treas. Reg. 1.410(b)-2(b)(5))'
            else 'ratio percentage ' || printf('%.2f', ratio * 100) || '% '
                 || case when status = 'pass' then 'meets' else 'is below' end
                 || ' the 70% of IRC 410(b)(1)(B): ' || nhce_benefiting || ' of ' || nhce_count || ' NHCEs and '
                 || hce_benefiting || ' of ' || hce_count || ' HCEs benefit'
                 || case when excludable_count > 0 then ' (excludable employees left out: ' || excludable_count || ')' else '' end
                 || case when status = 'fail' then '; the average benefit test is not run' else '' end
        end as note
    from evaluated
)

select * from final
