{#-
  Grain: one row per employee employed at any time in the simulation year (the grain of
  int_employee_contributions). Who is a highly compensated employee (IRC 414(q)) this year:
  - a 5% owner: ownership_pct > 5 (414(q)(1)(A); the census's figure, held for every year;
    family attribution under 318 is not modelled);
  - or paid more than the look-back year's amount in the look-back year (414(q)(1)(B)):
    lookback_compensation is the employee's pay from the employer in the previous plan year
    (the prior year's gross_compensation; in the start year the census's prior_year_wages,
    else its annual pay); a hire of this year has none and is not an HCE by pay. The amount
    is the seed's hce_compensation_threshold of the look-back year (Notice 97-45: pay in 2025
    above the 2025 amount makes an HCE in 2026).
  - With compliance.top_paid_group_election (414(q)(3)), the pay test also needs the top-paid
    group: the top 20% of the look-back year's employees by that pay (Treas. Reg. 1.414(q)-1T
    Q&A-9), counted among those with look-back pay, aged 21 and with six months of service by
    the end of the look-back year (the Q&A-9(b) exclusions plansim can see), rounded up, ties
    broken by employee_id (a reasonable rounding and tie rule, Q&A-3(b)).
  ownership_pct / is_officer are null when the census has no such column
  (is_owner_data_known / is_officer_data_known false): then nobody is an owner.
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'employee_id', 'simulation_year'],
    tags=['compliance']
) }}

{%- set lookback_year = var('simulation_year') - 1 %}

with timeline as (
    select * from {{ ref('int_deferral_timeline') }}
),

threshold as (
    select hce_compensation_threshold from {{ ref('irs_limits') }} where plan_year = {{ lookback_year }}
),

lookback as (
    select
        timeline.*,
        timeline.prior_year_wages as lookback_compensation,
        threshold.hce_compensation_threshold as hce_threshold,
        coalesce(timeline.ownership_pct > 5, false) as is_five_percent_owner,
        -- counted for the top-paid group's size: paid in the look-back year, 21 and six months of service by its end
        timeline.prior_year_wages is not null
            and timeline.birth_date + interval 21 year <= make_date({{ lookback_year }}, 12, 31)
            and timeline.hire_date + interval 6 month <= make_date({{ lookback_year }}, 12, 31) as is_counted_for_top_paid
    from timeline
    cross join threshold
),

ranked as (
    select
        *,
        row_number() over (order by lookback_compensation desc nulls last, employee_id) as pay_rank,
        ceil(0.2 * count(*) filter (where is_counted_for_top_paid) over ()) as top_paid_group_size
    from lookback
),

final as (
    select
        {{ identity_columns() }},
        employee_id,
        lookback_compensation::decimal(18, 2) as lookback_compensation,
        hce_threshold::decimal(18, 2) as hce_threshold,
        ownership_pct::decimal(9, 4) as ownership_pct,
        is_officer,
        is_five_percent_owner,
        lookback_compensation is not null and pay_rank <= top_paid_group_size as is_top_paid_group,
        coalesce(lookback_compensation > hce_threshold, false)
        {%- if var('compliance_top_paid_group_election', false) %}
            and lookback_compensation is not null and pay_rank <= top_paid_group_size
        {%- endif %} as is_paid_above_threshold,
        is_owner_data_known,
        is_officer_data_known
    from ranked
)

select
    scenario_id, plan_design_id, simulation_year, employee_id, lookback_compensation, hce_threshold,
    ownership_pct, is_officer, is_five_percent_owner, is_top_paid_group,
    is_five_percent_owner or is_paid_above_threshold as is_hce,
    case when is_five_percent_owner then 'five_percent_owner'
         when is_paid_above_threshold then 'compensation' end as hce_reason,
    is_owner_data_known,
    is_officer_data_known
from final
