{#-
  Cohort retention (metrics.md marts.fct_retention), the one definition behind fct_retention,
  fct_retention_by_segment and fct_account_retention (segments.md: "the definitions and
  columns of fct_retention").

  `members_sql` selects member_key and start_date; `member_days_sql` selects member_key,
  activity_date, previous_activity_date and next_activity_date, one row per date the member
  was active. A member's cohort is trunc(grain, start_date); they are retained in period n
  when active on a date d >= start_date with periods_between(grain, start_date, d) = n. "On
  or after" (unbounded) counts members whose last retained period is >= n. `names` renames
  the three counts (cohort_size, retained_users, retained_users_unbounded).

  With `dimensions` (a list of breakdown dimensions) the rows are per (dimension, segment),
  each counting the members of that segment: `members_sql` then also selects segment_1 ...
  segment_n, the member's segment in each dimension in the order of the list (null: in none
  of its segments). A member's active days are read once for every dimension: they are
  counted per combination of segments, and a segment's counts are the sums over the
  combinations holding it.
-#}
{% macro cohort_retention(members_sql, member_days_sql, grains, dimensions=none, names={}) -%}
{%- set size_name = names.get('cohort_size', 'cohort_size') -%}
{%- set retained_name = names.get('retained_users', 'retained_users') -%}
{%- set unbounded_name = names.get('retained_users_unbounded', 'retained_users_unbounded') -%}
{%- set segmented = dimensions is not none -%}
{%- set segment_columns = [] -%}
{%- for dimension in dimensions or [] -%}
    {%- do segment_columns.append('segment_' ~ loop.index) -%}
{%- endfor -%}
{%- set keys = ['dimension', 'segment'] if segmented else [] -%}
{%- set key_list = (keys | join(', ') ~ ', ') if keys else '' -%}
{#- The grains whose cohort and period key the counts of member-days: the day alone when it
    is among the grains (a day's week and month follow from it), else each grain's. -#}
{%- set keyed_grains = ['day'] if 'day' in grains else grains -%}
with

members as (

    {{ members_sql }}

),

member_days as (

    {{ member_days_sql }}

),

reporting_period as (

    select * from {{ ref('int_reporting_period') }}

),

{%- if segmented %}

{#- The combinations of segments the members have, numbered, and the segments of each: the
    member-days are counted per combination number (a small key). #}
segment_combinations as (

    {%- if dimensions %}
    select
        {{ segment_columns | join(', ') }},
        row_number() over (order by {{ segment_columns | join(', ') }}) as combination
    from (select distinct {{ segment_columns | join(', ') }} from members) as combinations
    {%- else %}
    select 1 as combination
    {%- endif %}

),

combination_segments as (

    {%- for dimension in dimensions %}
    select combination, '{{ dimension }}' as dimension, segment_{{ loop.index }} as segment
    from segment_combinations
    where segment_{{ loop.index }} is not null
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
    {%- if not dimensions %}
    select
        combination,
        cast(null as {{ dbt.type_string() }}) as dimension,
        cast(null as {{ dbt.type_string() }}) as segment
    from segment_combinations
    where false
    {%- endif %}

),

{%- endif %}

{#- Every member's cohort, computed once per member rather than once per active day. #}
member_cohorts as (

    select
        members.member_key,
        members.start_date,
        {%- if segmented %}
        combinations.combination,
        {%- endif %}
        {%- for grain in keyed_grains %}
        {{ trunc_date(grain, 'members.start_date') }} as {{ grain }}_cohort{% if not loop.last %},{% endif %}
        {%- endfor %}
    from members
    {%- if dimensions %}
    join segment_combinations as combinations
        on {% for column in segment_columns -%}
        {% if not loop.first %}
        and {% endif %}combinations.{{ column }} is not distinct from members.{{ column }}
        {%- endfor %}
    {%- elif segmented %}
    cross join segment_combinations as combinations
    {%- endif %}

),

{#- Active days on or after the start date, each flagged per grain when it opens a retained
    period (the member's first active day on or after the start within that calendar
    period: the previous active day lies before the start or before the period, which is
    trunc(grain, previous) < trunc(grain, day) without truncating the previous day), then
    counted per (combination, cohort and period of the keyed grains, flags): every grain
    below reads these counts instead of every member-day. Cohorts and periods rather than
    dates as keys: far fewer groups once combinations are among them. #}
period_counts as (

    select
        {%- if segmented %}
        combination,
        {%- endif %}
        {%- for grain in keyed_grains %}
        {{ grain }}_cohort,
        {{ grain }}_period_start,
        {%- endfor %}
        {%- for grain in grains %}
        case
            when previous_activity_date is null
                or previous_activity_date < start_date
                or previous_activity_date < {{ grain }}_period_start
            then 1 else 0
        end as opens_{{ grain }},
        {%- endfor %}
        case when next_activity_date is null then 1 else 0 end as is_last_active_day,
        count(*) as members
    from (
        select
            {%- if segmented %}
            member_cohorts.combination,
            {%- endif %}
            member_cohorts.start_date,
            {%- for grain in keyed_grains %}
            member_cohorts.{{ grain }}_cohort,
            {%- endfor %}
            {%- for grain in grains %}
            {#- a date is its own day #}
            {{ 'member_days.activity_date' if grain == 'day' else trunc_date(grain, 'member_days.activity_date') }}
                as {{ grain }}_period_start,
            {%- endfor %}
            member_days.previous_activity_date,
            member_days.next_activity_date
        from member_cohorts
        join member_days
            on member_days.member_key = member_cohorts.member_key
            and member_days.activity_date >= member_cohorts.start_date
    ) as dated
    group by {{ positions((1 if segmented else 0) + 2 * (keyed_grains | length) + (grains | length) + 1) }}

),

cohort_counts as (

    select
        {%- if segmented %}
        combination,
        {%- endif %}
        {%- for grain in keyed_grains %}
        {{ grain }}_cohort,
        {%- endfor %}
        count(*) as members
    from member_cohorts
    group by {{ positions((1 if segmented else 0) + keyed_grains | length) }}

),

{% for grain in grains %}
{%- set cohort = grain ~ '_cohort' if grain in keyed_grains else trunc_date(grain, 'day_cohort') %}
{%- set period_start = grain ~ '_period_start' if grain in keyed_grains else 'day_period_start' %}
{#- Per period: the members retained in it (each opens it once) and the members whose last
    retained period it is (their last active day falls in it). #}
{{ grain }}_period_totals as (

    select
        {{ key_list }}
        {{ cohort }} as cohort_start,
        {{ periods_between(grain, cohort, period_start) }} as period_number,
        cast(sum(opens_{{ grain }} * members) as bigint) as retained,
        cast(sum(is_last_active_day * members) as bigint) as ending
    from period_counts
    {%- if segmented %}
    join combination_segments on combination_segments.combination = period_counts.combination
    {%- endif %}
    group by {{ positions(keys | length + 2) }}

),

{{ grain }}_cohorts as (

    select
        {{ key_list }}
        {{ cohort }} as cohort_start,
        cast(sum(members) as bigint) as cohort_size
    from cohort_counts
    {%- if segmented %}
    join combination_segments on combination_segments.combination = cohort_counts.combination
    {%- endif %}
    group by {{ positions(keys | length + 1) }}

),

{{ grain }}_spine as (

    select
        '{{ grain }}' as grain,
        {%- for key in keys %}
        cohorts.{{ key }},
        {%- endfor %}
        cohorts.cohort_start,
        cohorts.cohort_size,
        series.n as period_number
    from {{ grain }}_cohorts as cohorts
    cross join reporting_period
    cross join {{ integer_series(periods_between(grain, 'cohorts.cohort_start', 'reporting_period.data_end_date')) }}
        as series(n)

),

{{ grain }}_rows as (

    select
        spine.grain,
        {%- for key in keys %}
        spine.{{ key }},
        {%- endfor %}
        spine.cohort_start,
        spine.period_number,
        spine.cohort_size,
        coalesce(retained_on.retained, 0) as retained,
        (
            select coalesce(sum(last_period.ending), 0)
            from {{ grain }}_period_totals as last_period
            where last_period.cohort_start = spine.cohort_start
              {%- for key in keys %}
              and last_period.{{ key }} = spine.{{ key }}
              {%- endfor %}
              and last_period.period_number >= spine.period_number
        ) as retained_unbounded,
        {{ period_last_day(grain, add_periods(grain, 'spine.period_number', 'spine.cohort_start')) }}
            <= reporting_period.data_end_date as is_complete
    from {{ grain }}_spine as spine
    cross join reporting_period
    left join {{ grain }}_period_totals as retained_on
        on retained_on.cohort_start = spine.cohort_start
        and retained_on.period_number = spine.period_number
        {%- for key in keys %}
        and retained_on.{{ key }} = spine.{{ key }}
        {%- endfor %}

){% if not loop.last %},{% endif %}
{% endfor %}

select
    grain,
    {{ key_list }}
    cohort_start,
    period_number,
    cohort_size as {{ size_name }},
    retained as {{ retained_name }},
    {{ safe_ratio('retained', 'cohort_size') }} as retention_rate,
    cast(retained_unbounded as bigint) as {{ unbounded_name }},
    {{ safe_ratio('retained_unbounded', 'cohort_size') }} as unbounded_retention_rate,
    is_complete
from (
    {%- for grain in grains %}
    select * from {{ grain }}_rows
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
) as all_grains
{%- endmacro %}

{#- "1, 2, ..., n" for a positional group by. -#}
{% macro positions(n) -%}
    {%- for i in range(1, n + 1) %}{{ i }}{% if not loop.last %}, {% endif %}{% endfor -%}
{%- endmacro %}
