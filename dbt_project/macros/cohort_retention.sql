{#-
  Cohort retention (metrics.md marts.fct_retention), the one definition behind fct_retention,
  fct_retention_by_segment and fct_account_retention (segments.md: "the definitions and
  columns of fct_retention").

  `members_sql` selects member_key, start_date and the `keys` columns (a segment, say);
  `member_days_sql` selects member_key, activity_date, previous_activity_date and
  next_activity_date, one row per date the member was active. A member's cohort is
  trunc(grain, start_date); they are retained in period n when active on a date
  d >= start_date with periods_between(grain, start_date, d) = n. "On or after" (unbounded)
  counts members whose last retained period is >= n. `names` renames the three counts
  (cohort_size, retained_users, retained_users_unbounded).
-#}
{% macro cohort_retention(members_sql, member_days_sql, grains, keys=[], names={}) -%}
{%- set size_name = names.get('cohort_size', 'cohort_size') -%}
{%- set retained_name = names.get('retained_users', 'retained_users') -%}
{%- set unbounded_name = names.get('retained_users_unbounded', 'retained_users_unbounded') -%}
{%- set key_list = (keys | join(', ') ~ ', ') if keys else '' -%}
with

members as (

    {{ members_sql }}

),

member_days as (

    {{ member_days_sql }}

),

{#- Active days on or after the start date, each flagged per grain when it opens a retained
    period (the member's first active day on or after the start within that calendar
    period: the previous active day, when on or after the start, lies in an earlier period),
    then counted per (keys, start date, activity date, flags): every grain below reads these
    counts instead of every member-day. #}
day_counts as (

    select
        {{ key_list }}
        start_date,
        activity_date,
        {%- for grain in grains %}
        opens_{{ grain }},
        {%- endfor %}
        is_last_active_day,
        count(*) as members
    from (
        select
            {%- for key in keys %}
            members.{{ key }},
            {%- endfor %}
            members.start_date,
            member_days.activity_date,
            {%- for grain in grains %}
            case
                when member_days.previous_activity_date is null
                    or member_days.previous_activity_date < members.start_date
                    or {{ trunc_date(grain, 'member_days.previous_activity_date') }}
                        < {{ trunc_date(grain, 'member_days.activity_date') }}
                then 1 else 0
            end as opens_{{ grain }},
            {%- endfor %}
            case when member_days.next_activity_date is null then 1 else 0 end as is_last_active_day
        from members
        join member_days
            on member_days.member_key = members.member_key
            and member_days.activity_date >= members.start_date
    ) as flagged
    group by
        {{ key_list }}
        start_date,
        activity_date,
        {%- for grain in grains %}
        opens_{{ grain }},
        {%- endfor %}
        is_last_active_day

),

reporting_period as (

    select * from {{ ref('int_reporting_period') }}

),

{% for grain in grains %}
{{ grain }}_cohorts as (

    select
        {{ key_list }}
        {{ trunc_date(grain, 'start_date') }} as cohort_start,
        count(*) as cohort_size
    from members
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

{{ grain }}_on as (

    select
        {{ key_list }}
        {{ trunc_date(grain, 'start_date') }} as cohort_start,
        {{ periods_between(grain, 'start_date', 'activity_date') }} as period_number,
        cast(sum(members) as bigint) as retained
    from day_counts
    where opens_{{ grain }} = 1
    group by {{ positions(keys | length + 2) }}

),

{{ grain }}_last_period as (

    select
        {{ key_list }}
        {{ trunc_date(grain, 'start_date') }} as cohort_start,
        {{ periods_between(grain, 'start_date', 'activity_date') }} as last_period,
        cast(sum(members) as bigint) as members
    from day_counts
    where is_last_active_day = 1
    group by {{ positions(keys | length + 2) }}

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
            select coalesce(sum(last_period.members), 0)
            from {{ grain }}_last_period as last_period
            where last_period.cohort_start = spine.cohort_start
              {%- for key in keys %}
              and last_period.{{ key }} = spine.{{ key }}
              {%- endfor %}
              and last_period.last_period >= spine.period_number
        ) as retained_unbounded,
        {{ period_last_day(grain, add_periods(grain, 'spine.period_number', 'spine.cohort_start')) }}
            <= reporting_period.data_end_date as is_complete
    from {{ grain }}_spine as spine
    cross join reporting_period
    left join {{ grain }}_on as retained_on
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
