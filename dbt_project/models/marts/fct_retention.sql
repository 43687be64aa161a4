{#-
  Cohort retention (metrics.md marts.fct_retention) for grains day, week and month.
  A user's cohort is trunc(grain, signup_date); they are retained in period n when active
  on a date d >= signup_date with periods_between(grain, signup_date, d) = n. "On or after"
  (unbounded) counts users whose last retained period is >= n.
-#}
with

users as (

    select user_key, signup_date from {{ ref('dim_users') }}

),

user_days as (

    select * from {{ ref('int_user_days_active') }}

),

{#- Active days on or after the signup date, each flagged per grain when it opens a retained
    period (the user's first active day on or after signup within that calendar period: the
    previous active day, when on or after signup, lies in an earlier period), then counted
    per (signup date, activity date, flags): every grain below reads these few hundred
    thousand counts instead of every user-day. #}
user_day_counts as (

    select
        signup_date,
        activity_date,
        {%- for grain in grains() %}
        opens_{{ grain }},
        {%- endfor %}
        is_last_active_day,
        count(*) as users
    from (
        select
            users.signup_date,
            user_days.activity_date,
            {%- for grain in grains() %}
            case
                when user_days.previous_activity_date is null
                    or user_days.previous_activity_date < users.signup_date
                    or {{ trunc_date(grain, 'user_days.previous_activity_date') }}
                        < {{ trunc_date(grain, 'user_days.activity_date') }}
                then 1 else 0
            end as opens_{{ grain }},
            {%- endfor %}
            case when user_days.next_activity_date is null then 1 else 0 end as is_last_active_day
        from users
        join user_days
            on user_days.user_key = users.user_key
            and user_days.activity_date >= users.signup_date
    ) as flagged
    group by
        signup_date,
        activity_date,
        {%- for grain in grains() %}
        opens_{{ grain }},
        {%- endfor %}
        is_last_active_day

),

reporting_period as (

    select * from {{ ref('int_reporting_period') }}

),

{% for grain in grains() %}
{{ grain }}_cohorts as (

    select
        {{ trunc_date(grain, 'signup_date') }} as cohort_start,
        count(*) as cohort_size
    from users
    group by 1

),

{{ grain }}_spine as (

    select
        '{{ grain }}' as grain,
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
        {{ trunc_date(grain, 'signup_date') }} as cohort_start,
        {{ periods_between(grain, 'signup_date', 'activity_date') }} as period_number,
        cast(sum(users) as bigint) as retained_users
    from user_day_counts
    where opens_{{ grain }} = 1
    group by 1, 2

),

{{ grain }}_last_period as (

    select
        {{ trunc_date(grain, 'signup_date') }} as cohort_start,
        {{ periods_between(grain, 'signup_date', 'activity_date') }} as last_period,
        cast(sum(users) as bigint) as users
    from user_day_counts
    where is_last_active_day = 1
    group by 1, 2

),

{{ grain }}_rows as (

    select
        spine.grain,
        spine.cohort_start,
        spine.period_number,
        spine.cohort_size,
        coalesce(retained_on.retained_users, 0) as retained_users,
        (
            select coalesce(sum(last_period.users), 0)
            from {{ grain }}_last_period as last_period
            where last_period.cohort_start = spine.cohort_start
              and last_period.last_period >= spine.period_number
        ) as retained_users_unbounded,
        {{ period_last_day(grain, add_periods(grain, 'spine.period_number', 'spine.cohort_start')) }}
            <= reporting_period.data_end_date as is_complete
    from {{ grain }}_spine as spine
    cross join reporting_period
    left join {{ grain }}_on as retained_on
        on retained_on.cohort_start = spine.cohort_start
        and retained_on.period_number = spine.period_number

){% if not loop.last %},{% endif %}
{% endfor %}

select
    grain,
    cohort_start,
    period_number,
    cohort_size,
    retained_users,
    {{ safe_ratio('retained_users', 'cohort_size') }} as retention_rate,
    cast(retained_users_unbounded as bigint) as retained_users_unbounded,
    {{ safe_ratio('retained_users_unbounded', 'cohort_size') }} as unbounded_retention_rate,
    is_complete
from (
    {{ union_all_grains('_rows') }}
) as all_grains
