{#-
  Deferral state on Jan 1 of the simulation year, as handed over by file: the staged census
  in the start year (deferral_rate > 0 means enrolled; rates above the plan maximum are
  capped at max_deferral_rate; census participants count as having made their own election),
  year N-1's December accumulator state (int_year_end_deferral_state) otherwise: rate,
  enrollment source, escalations so far, and an auto-enrollment opt-out still due. Var prior_deferral_state_file.
  Plan money: roth_share (share of the rate made as Roth; start year: census roth_deferral_rate /
  deferral_rate, 0 when either is null or 0, capped to 0..1; 0 for everyone in a plan without
  Roth), annual_hours (census; null = unknown), prior_year_wages (start year: census
  prior_year_wages, else annual_compensation stands in, is_prior_year_wages_assumed; null for a
  census employee hired in the start year; later years: last year's year_wages).
-#}
{%- set roth_available = var('roth_available', true) %}
{{ config(tags=['deferral_pipeline']) }}

with source_rows as (
    select * from read_parquet({{ sql_string(var("prior_deferral_state_file")) }})
),

final as (
    select
        {{ identity_columns() }},
        employee_id::varchar as employee_id,
{%- if var('simulation_year') == var('start_year') %}
        coalesce(deferral_rate, 0) > 0 as is_enrolled,
        least(coalesce(deferral_rate, 0), {{ var('max_deferral_rate') }})::decimal(9, 6) as deferral_rate,
        case when coalesce(deferral_rate, 0) > 0 then enrollment_date::date end as enrollment_date,
        false as is_auto_enrollment_opted_out,
        coalesce(auto_escalation_opt_out, false) as is_escalation_opted_out,
        case when coalesce(deferral_rate, 0) > 0 then 'census' else 'none' end as deferral_rate_source,
        -- the census does not say how a participant enrolled: their own election ('census')
        case when coalesce(deferral_rate, 0) > 0 then 'census' else 'none' end as enrollment_source,
        0 as escalation_count,
        null::date as pending_opt_out_date,
        {%- if roth_available %}
        case when coalesce(deferral_rate, 0) > 0 and roth_deferral_rate is not null
             then least(1, greatest(0, roth_deferral_rate::double / deferral_rate::double)) else 0 end
        {%- else %}
        0
        {%- endif %}::decimal(9, 6) as roth_share,
        annual_hours::double as annual_hours,
        case when hire_date::date >= make_date({{ var('start_year') }}, 1, 1) then null
             else coalesce(prior_year_wages, annual_compensation) end::decimal(18, 2) as prior_year_wages,
        hire_date::date < make_date({{ var('start_year') }}, 1, 1) and prior_year_wages is null
            as is_prior_year_wages_assumed,
{%- else %}
        is_enrolled,
        deferral_rate::decimal(9, 6) as deferral_rate,
        enrollment_date::date as enrollment_date,
        is_auto_enrollment_opted_out,
        is_escalation_opted_out,
        deferral_rate_source,
        enrollment_source,
        escalation_count::integer as escalation_count,
        pending_opt_out_date::date as pending_opt_out_date,
        {%- if roth_available %}
        coalesce(roth_share, 0)
        {%- else %}
        0
        {%- endif %}::decimal(9, 6) as roth_share,
        annual_hours::double as annual_hours,
        year_wages::decimal(18, 2) as prior_year_wages,
        false as is_prior_year_wages_assumed,
{%- endif %}
        -- compliance data (issue 14): NULL in every row when the census has no such column
        is_officer::boolean as is_officer,
        ownership_pct::decimal(9, 4) as ownership_pct
    from source_rows
)

select * from final
