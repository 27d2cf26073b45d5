{#-
  Grain: one row per simulation year. The exact counts of the year (SPEC §4 steps 1-3):
  retirements = the rows of int_retirement_events (drawn first, from the Jan 1 workforce);
  experienced terminations = round(start x termination_rate), raised to (start - retirements)
  - target when the target is below the survivors, and at most start - retirements;
  net = target - (start - retirements - experienced terminations);
  hires = ceil(net / (1 - nh_term_rate)); nh_terms = hires - net. So the year ends at the
  target exactly: target = start - retirements - experienced + hires - nh_terms.
  Integer arithmetic on rates in parts per million: no float rounding drift.
-#}
{{ config(
    unique_key=['scenario_id', 'plan_design_id', 'simulation_year'],
    tags=['foundation']
) }}

with baseline as (
    select count(*)::bigint as starting_headcount from {{ this_year('int_baseline_workforce') }}
),

retirements as (
    select count(*)::bigint as retirements from {{ this_year('int_retirement_events') }}
),

targets as (
    select
        baseline.starting_headcount,
        retirements.retirements,
        (baseline.starting_headcount * ({{ ppm(1 + var('target_growth_rate')) }}) + 500000) // 1000000
            as target_headcount,
        (baseline.starting_headcount * {{ ppm(var('termination_rate')) }} + 500000) // 1000000 as rate_terminations
    from baseline
    cross join retirements
),

terminations as (
    select
        *,
        least(
            greatest(rate_terminations, starting_headcount - retirements - target_headcount),
            starting_headcount - retirements
        ) as experienced_terminations
    from targets
),

hiring as (
    select
        *,
        target_headcount - (starting_headcount - retirements - experienced_terminations) as net_hires_needed
    from terminations
),

final as (
    select
        {{ identity_columns() }},
        starting_headcount,
        target_headcount,
        retirements,
        experienced_terminations,
        hires,
        hires - net_hires_needed as new_hire_terminations
    from (
        select
            *,
            (net_hires_needed * 1000000 + (1000000 - {{ ppm(var('new_hire_termination_rate')) }}) - 1)
                // (1000000 - {{ ppm(var('new_hire_termination_rate')) }}) as hires
        from hiring
    )
)

select * from final
