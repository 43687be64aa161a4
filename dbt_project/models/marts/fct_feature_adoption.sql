{#-
  Weekly feature adoption (segments.md marts.fct_feature_adoption): one row per (week_start,
  feature) for every week from the first to the last week holding activity. active_users:
  users active in the week; feature_users: users who used the feature in the week;
  new_adopters: users whose first use of the feature ever falls in the week.
-#}
with

reporting_period as (

    select * from {{ ref('int_reporting_period') }}

),

features as (

    select * from {{ ref('int_features') }}

),

active_weeks as (

    select {{ trunc_date('week', 'activity_date') }} as week_start, count(distinct user_key) as active_users
    from {{ ref('int_user_days_active') }}
    group by 1

),

weeks as (

    select {{ add_periods('week', 'series.n', 'bounds.first_week') }} as week_start
    from (select min(week_start) as first_week, max(week_start) as last_week from active_weeks) as bounds
    cross join {{ integer_series(periods_between('week', 'bounds.first_week', 'bounds.last_week')) }} as series(n)
    where bounds.first_week is not null

),

feature_days as (

    select features.feature, feature_days.user_key, feature_days.activity_date
    from {{ ref('int_user_feature_days') }} as feature_days
    join features on features.event_name = feature_days.event_name

),

feature_weeks as (

    select feature, {{ trunc_date('week', 'activity_date') }} as week_start, count(distinct user_key) as feature_users
    from feature_days
    group by 1, 2

),

first_uses as (

    select feature, {{ trunc_date('week', 'first_use_date') }} as week_start, count(*) as new_adopters
    from (
        select feature, user_key, min(activity_date) as first_use_date
        from feature_days
        group by feature, user_key
    ) as adopters
    group by 1, 2

)

select
    weeks.week_start,
    features.feature,
    coalesce(active_weeks.active_users, 0) as active_users,
    coalesce(feature_weeks.feature_users, 0) as feature_users,
    {{ safe_ratio('coalesce(feature_weeks.feature_users, 0)', 'active_weeks.active_users') }} as adoption_rate,
    coalesce(first_uses.new_adopters, 0) as new_adopters,
    {{ period_last_day('week', 'weeks.week_start') }} <= reporting_period.data_end_date as is_complete
from weeks
cross join features
cross join reporting_period
left join active_weeks on active_weeks.week_start = weeks.week_start
left join feature_weeks on feature_weeks.week_start = weeks.week_start and feature_weeks.feature = features.feature
left join first_uses on first_uses.week_start = weeks.week_start and first_uses.feature = features.feature
