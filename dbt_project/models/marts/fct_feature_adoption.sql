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

{#- The weeks from the first to the last holding activity and their active users: the
    weekly rows of fct_growth_accounting, where active users are defined. #}
weeks as (

    select period_start as week_start, active_users
    from {{ ref('fct_growth_accounting') }}
    where grain = 'week'

),

{#- int_user_feature_weeks has one row per (user, event, week of use). Counted per event
    before the features are joined: a few thousand rows to join instead of every user-week. #}
feature_weeks as (

    select features.feature, event_weeks.week_start, event_weeks.feature_users
    from (
        select event_name, week_start, count(*) as feature_users
        from {{ ref('int_user_feature_weeks') }}
        group by event_name, week_start
    ) as event_weeks
    join features on features.event_name = event_weeks.event_name

),

{#- A user's first use of a feature ever falls in the week of their first use of its event. #}
first_uses as (

    select features.feature, event_firsts.week_start, event_firsts.new_adopters
    from (
        select event_name, first_week_start as week_start, count(*) as new_adopters
        from {{ ref('int_user_feature_firsts') }}
        group by event_name, first_week_start
    ) as event_firsts
    join features on features.event_name = event_firsts.event_name

)

select
    weeks.week_start,
    features.feature,
    weeks.active_users,
    coalesce(feature_weeks.feature_users, 0) as feature_users,
    {{ safe_ratio('coalesce(feature_weeks.feature_users, 0)', 'weeks.active_users') }} as adoption_rate,
    coalesce(first_uses.new_adopters, 0) as new_adopters,
    {{ period_last_day('week', 'weeks.week_start') }} <= reporting_period.data_end_date as is_complete
from weeks
cross join features
cross join reporting_period
left join feature_weeks on feature_weeks.week_start = weeks.week_start and feature_weeks.feature = features.feature
left join first_uses on first_uses.week_start = weeks.week_start and first_uses.feature = features.feature
