{#-
  Ordered conversion funnel (metrics.md marts.fct_funnel). t1 is the user's first track
  event named step 1; each later step k is the earliest track event named step k with
  t(k-1) <= tk <= t1 + funnel_window_days. Users are grouped by the ISO week of t1 and
  by acquisition channel, plus '(all)' rows for every channel together.
-#}
{%- set steps = funnel_steps() %}
with

tracks as (

    select user_key, event_name, event_at
    from {{ ref('int_conversion_events') }}
    where user_key is not null and event_name in {{ sql_string_list(steps) }}

),

step_1 as (

    select user_key, min(event_at) as reached_at
    from tracks
    where event_name = {{ sql_string(steps[0]) }}
    group by user_key

),
{% for step in steps[1:] %}
{%- set k = loop.index + 1 %}
step_{{ k }} as (

    select previous.user_key, min(tracks.event_at) as reached_at
    from step_{{ k - 1 }} as previous
    join step_1 as first_step on first_step.user_key = previous.user_key
    join tracks
        on tracks.user_key = previous.user_key
        and tracks.event_name = {{ sql_string(step) }}
        and tracks.event_at >= previous.reached_at
        and tracks.event_at <= {{ dbt.dateadd('day', var('funnel_window_days'), 'first_step.reached_at') }}
    group by previous.user_key

),
{% endfor %}

reached as (

    {% for step in steps %}
    select user_key, {{ loop.index }} as step_number, {{ sql_string(step) }} as step_event
    from step_{{ loop.index }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

grouped_users as (

    select
        step_1.user_key,
        {{ trunc_date('week', reporting_date('step_1.reached_at')) }} as cohort_week,
        users.acquisition_channel
    from step_1
    join {{ ref('dim_users') }} as users on users.user_key = step_1.user_key

),

groups as (

    select user_key, cohort_week, acquisition_channel from grouped_users
    union all
    select user_key, cohort_week, '(all)' from grouped_users

),

steps as (

    {% for step in steps %}
    select {{ loop.index }} as step_number, {{ sql_string(step) }} as step_event
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

spine as (

    select cohorts.cohort_week, cohorts.acquisition_channel, steps.step_number, steps.step_event
    from (select distinct cohort_week, acquisition_channel from groups) as cohorts
    cross join steps

),

counts as (

    select groups.cohort_week, groups.acquisition_channel, reached.step_number, count(*) as users
    from groups
    join reached on reached.user_key = groups.user_key
    group by 1, 2, 3

),

filled as (

    select
        spine.cohort_week,
        spine.acquisition_channel,
        spine.step_number,
        spine.step_event,
        coalesce(counts.users, 0) as users
    from spine
    left join counts
        on counts.cohort_week = spine.cohort_week
        and counts.acquisition_channel = spine.acquisition_channel
        and counts.step_number = spine.step_number

)

select
    cohort_week,
    acquisition_channel,
    step_number,
    step_event,
    users,
    case
        when step_number = 1 then cast(1 as double)
        else {{ safe_ratio('users', 'lag(users) over (partition by cohort_week, acquisition_channel order by step_number)') }}
    end as conversion_from_previous,
    {{ safe_ratio('users', 'first_value(users) over (partition by cohort_week, acquisition_channel order by step_number)') }}
        as conversion_from_start
from filled
