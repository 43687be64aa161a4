{#-
  Week-4 retention of early adopters and non-adopters of each feature (segments.md
  marts.fct_feature_retention). An association, not an effect: experiments measure effects.

  A user qualifies when signup_date + 34 <= data_end_date. Among qualifying users, adopters
  used the feature by an event at an instant in [signed_up_at, signed_up_at +
  feature_early_days x 24 h). Week-4 retention: the share of the group active on a date d
  with 28 <= d - signup_date <= 34.

  The early window is decided at the events' instants: by the first use of each
  (user, event) in int_user_feature_firsts, and, where that first use precedes signup, by
  the user's events of that name inside the window.
-#}
{%- set early_days = whole_number_var('feature_early_days', 0) %}
with

reporting_period as (

    select * from {{ ref('int_reporting_period') }}

),

features as (

    select * from {{ ref('int_features') }}

),

qualifying as (

    select
        users.user_key,
        users.signup_date,
        users.signed_up_at,
        {{ dbt.dateadd('hour', early_days * 24, 'users.signed_up_at') }} as window_end_at
    from {{ ref('dim_users') }} as users
    cross join reporting_period
    where {{ add_periods('day', 34, 'users.signup_date') }} <= reporting_period.data_end_date

),

week_4_retained as (

    select distinct qualifying.user_key
    from qualifying
    join {{ ref('int_user_days_active') }} as user_days
        on user_days.user_key = qualifying.user_key
        and user_days.activity_date >= {{ add_periods('day', 28, 'qualifying.signup_date') }}
        and user_days.activity_date <= {{ add_periods('day', 34, 'qualifying.signup_date') }}

),

{#- Each qualifying user with whether they were retained in week 4, carried along with their
    adoptions so that no adoption needs looking up again. #}
qualifying_outcomes as (

    select
        qualifying.user_key,
        qualifying.signed_up_at,
        qualifying.window_end_at,
        week_4_retained.user_key is not null as is_retained
    from qualifying
    left join week_4_retained on week_4_retained.user_key = qualifying.user_key

),

{#- A feature whose first use falls inside the window was adopted early; one first used
    before signup (an event stitched to the user from before it) was adopted early when
    one of its events falls inside the window, which only those users' events decide. #}
early_firsts as (

    select
        features.feature,
        features.event_name,
        qualifying.user_key,
        qualifying.signed_up_at,
        qualifying.window_end_at,
        qualifying.is_retained,
        firsts.first_used_at >= qualifying.signed_up_at as is_first_use_after_signup
    from qualifying_outcomes as qualifying
    join {{ ref('int_user_feature_firsts') }} as firsts
        on firsts.user_key = qualifying.user_key
        and firsts.first_used_at < qualifying.window_end_at
    join features on features.event_name = firsts.event_name

),

{#- One row per adoption: (user, event) is unique in int_user_feature_firsts, and the
    second part holds the other (user, event) pairs only. #}
early_adoptions as (

    select feature, user_key, is_retained
    from early_firsts
    where is_first_use_after_signup
    union all
    select distinct early_firsts.feature, early_firsts.user_key, early_firsts.is_retained
    from early_firsts
    join {{ ref('int_events_attributed') }} as events
        on events.user_key = early_firsts.user_key
        and events.event_name = early_firsts.event_name
        and events.event_at >= early_firsts.signed_up_at
        and events.event_at < early_firsts.window_end_at
    where not early_firsts.is_first_use_after_signup
        and events.is_activity and events.event_type = 'track'

),

{#- Non-adopters are the qualifying users who are not adopters: their counts are the
    totals less the adopters'. #}
totals as (

    select count(*) as users, count(case when is_retained then 1 end) as retained_users
    from qualifying_outcomes

),

adopter_counts as (

    select
        feature,
        count(*) as users,
        count(case when is_retained then 1 end) as retained_users
    from early_adoptions
    group by feature

),

by_feature as (

    select
        features.feature,
        coalesce(adopter_counts.users, 0) as adopters,
        totals.users - coalesce(adopter_counts.users, 0) as non_adopters,
        coalesce(adopter_counts.retained_users, 0) as adopters_retained,
        totals.retained_users - coalesce(adopter_counts.retained_users, 0) as non_adopters_retained
    from features
    cross join totals
    left join adopter_counts on adopter_counts.feature = features.feature

)

select
    feature,
    cast(adopters as bigint) as adopters,
    cast(non_adopters as bigint) as non_adopters,
    {{ safe_ratio('adopters_retained', 'adopters') }} as adopter_week_4_retention,
    {{ safe_ratio('non_adopters_retained', 'non_adopters') }} as non_adopter_week_4_retention,
    {{ safe_ratio('adopters_retained', 'adopters') }} - {{ safe_ratio('non_adopters_retained', 'non_adopters') }}
        as retention_difference
from by_feature
