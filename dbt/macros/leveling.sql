{#- The arithmetic of the ADP and ACP tests (int_nondiscrimination_ratios): leveling, and ratios
    rounded to the nearest 0.01% exactly. -#}

{#-
  Leveling: the level L at which cutting every value above L down to L removes exactly a total T,
  sum(max(x_i - L, 0)) = T. It is the method of both steps of correcting a failed ADP or ACP test
  (Treas. Reg. 1.401(k)-2(b)(2)(ii)-(iii), 1.401(m)-2(b)(2)(ii)-(iii)): ratios leveled down to find
  the total excess, then dollar amounts leveled down to assign it.
  Values sorted from the highest (rank k, ties in any order), S_k = the sum of the top k values and
  x_(k+1) the next value (`floor` after the last): bringing the top k down to x_(k+1) removes
  S_k - k * x_(k+1), which never decreases with k. The first k where that reaches T holds the level:
  L = (S_k - T) / k, with x_(k+1) <= L <= x_k. A T of 0 or less gives the highest value (nothing is
  removed); a T above what the values hold down to `floor` (or no values) gives `floor`.
  Renders a query of one row and one column, `level`, from `source` (a relation or CTE name);
  `value` is a column (or expression) of it and `total` an expression, e.g. a scalar subquery.
-#}
{% macro leveling(source, value, total, floor=0) -%}
    select coalesce(
        (select (cumulative - total_to_remove) / rank_desc
         from (
             select
                 rank_desc,
                 total_to_remove,
                 sum(x) over (order by rank_desc) as cumulative,
                 sum(x) over (order by rank_desc)
                     - rank_desc * coalesce(lead(x) over (order by rank_desc), {{ floor }}) as removed_to_next
             from (
                 select
                     ({{ value }}) as x,
                     row_number() over (order by ({{ value }}) desc) as rank_desc,
                     greatest(coalesce({{ total }}, 0), 0) as total_to_remove
                 from {{ source }}
             ) as ranked
         ) as steps
         where removed_to_next >= total_to_remove
         order by rank_desc
         limit 1),
        {{ floor }}) as level
{%- endmacro %}

{#- numerator / denominator (money, cents exact) as a fraction rounded half up to the nearest
    0.01% (four decimals), in integer arithmetic: no binary rounding at a half. Denominator > 0. -#}
{% macro ratio_to_hundredth_percent(numerator, denominator) -%}
    (((20000 * round(({{ numerator }}) * 100)::hugeint + round(({{ denominator }}) * 100)::hugeint)
      // (2 * round(({{ denominator }}) * 100)::hugeint)) * 0.0001)::decimal(9, 4)
{%- endmacro %}

{#- the average of four-decimal ratios over the rows meeting `condition`, rounded half up to the
    nearest 0.01% in integer arithmetic (an aggregate; null when no row meets it) -#}
{% macro average_to_hundredth_percent(ratio, condition) -%}
    (((2 * sum(round(({{ ratio }}) * 10000)::hugeint) filter (where {{ condition }})
       + count(*) filter (where {{ condition }}))
      // nullif(2 * count(*) filter (where {{ condition }}), 0)) * 0.0001)::decimal(9, 4)
{%- endmacro %}

{#- Each row's cut by a leveling, in cents that add up to `total` exactly: the rows of `source` whose
    `value` is above `level` (an expression, e.g. a scalar subquery on a leveling CTE) are cut to
    it, each cut rounded down to the cent, and the cents the rounding left out of `total` go one
    each to the rows with the highest values (then the lowest `key`): all cuts share one level, so
    their fractions of a cent are equal. Renders a query with columns key_value and share. -#}
{% macro leveled_cents(source, key, value, level, total) -%}
    select
        key_value,
        (floor_share + case when cent_rank <= extra_cents then 0.01 else 0 end)::decimal(18, 2) as share
    from (
        select
            *,
            row_number() over (order by x desc, key_value) as cent_rank,
            least(count(*) over (), greatest(0, round((coalesce({{ total }}, 0) - sum(floor_share) over ()) * 100)))
                as extra_cents
        from (
            select
                {{ key }} as key_value,
                ({{ value }}) as x,
                -- 1e-6 of a cent: a cut that is a whole number of cents stays whole despite binary error
                floor((({{ value }}) - ({{ level }})) * 100 + 0.000001) / 100 as floor_share
            from {{ source }}
            where ({{ value }}) > ({{ level }})
        ) as above
    ) as ranked
{%- endmacro %}
