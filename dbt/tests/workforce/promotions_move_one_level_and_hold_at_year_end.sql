{#-
  A promotion of the year moves the employee up one level from their Jan 1 level, and an employee
  promoted and still employed on Dec 31 ends the year, and starts the next, at the new level.
  Checked across models (the Jan 1 workforce, the events, the year-end state handed to next
  year), not against the promotion model's own arithmetic. One row per employee it fails for.
-#}
select
    promotion.employee_id,
    baseline.job_level as jan_1_level,
    promotion.from_level,
    promotion.to_level,
    year_end.job_level as dec_31_level
from {{ this_year('int_promotion_events') }} as promotion
left join {{ this_year('int_baseline_workforce') }} as baseline using (employee_id)
left join {{ this_year('int_year_end_workforce_state') }} as year_end using (employee_id)
where baseline.job_level is distinct from promotion.from_level
   or promotion.to_level <> baseline.job_level + 1
   or (year_end.employee_id is not null and year_end.job_level <> promotion.to_level)
