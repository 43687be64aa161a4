{#-
  DAU / WAU / MAU (metrics.md marts.fct_daily_active_users), dense from the first to the
  last activity date. WAU and MAU avoid a distinct count per window: each active day of a
  user "covers" the dates from that day until the window ends or the user's next active
  day, whichever is first; these spans never overlap for one user, so a running sum of
  span starts minus span ends counts distinct users exactly, in one pass.
-#}
with

user_days as (

    select user_key, activity_date, next_activity_date from {{ ref('int_user_days_active') }}

),

users as (

    select * from {{ ref('dim_users') }}

),

calendar as (

    select cast({{ dbt.dateadd('day', 'n', 'first_date') }} as date) as activity_date
    from (
        select min(activity_date) as first_date, max(activity_date) as last_date from user_days
    ) as bounds
    cross join {{ integer_series(dbt.datediff('first_date', 'last_date', 'day')) }} as series(n)

),

spans as (

    select activity_date as span_start, next_activity_date as next_active_date from user_days

),

{% for window_name, days in [('wau', 7), ('mau', 30)] %}
{{ window_name }}_changes as (

    select change_date, sum(delta) as delta
    from (
        select span_start as change_date, 1 as delta from spans
        union all
        select
            case
                when next_active_date is not null
                     and next_active_date < {{ add_periods('day', days, 'span_start') }} then next_active_date
                else {{ add_periods('day', days, 'span_start') }}
            end,
            -1
        from spans
    ) as changes
    group by change_date

),

{{ window_name }}_counts as (

    select
        calendar.activity_date,
        sum(coalesce({{ window_name }}_changes.delta, 0)) over (order by calendar.activity_date rows unbounded preceding)
            as {{ window_name }}
    from calendar
    left join {{ window_name }}_changes on {{ window_name }}_changes.change_date = calendar.activity_date

),
{% endfor %}

dau as (

    select activity_date, count(*) as dau from user_days group by activity_date

),

new_users as (

    select signup_date, count(*) as new_users from users group by signup_date

),

anonymous_visitors as (

    select event_date, count(distinct anonymous_visitor_id) as anonymous_visitors
    from {{ ref('int_events_attributed') }}
    where user_key is null and anonymous_visitor_id is not null and is_engagement_event
    group by event_date

)

select
    calendar.activity_date,
    coalesce(dau.dau, 0) as dau,
    cast(wau_counts.wau as bigint) as wau,
    cast(mau_counts.mau as bigint) as mau,
    {{ safe_ratio('coalesce(dau.dau, 0)', 'mau_counts.mau') }} as stickiness,
    coalesce(new_users.new_users, 0) as new_users,
    coalesce(anonymous_visitors.anonymous_visitors, 0) as anonymous_visitors
from calendar
join wau_counts on wau_counts.activity_date = calendar.activity_date
join mau_counts on mau_counts.activity_date = calendar.activity_date
left join dau on dau.activity_date = calendar.activity_date
left join new_users on new_users.signup_date = calendar.activity_date
left join anonymous_visitors on anonymous_visitors.event_date = calendar.activity_date
