{#-
  One row per (experiment, metric, user) for every assigned user who is not a
  multiple-exposure user (experiments.md "Metric types", "Maturity", "Covariate"): the
  outcome y over the closed window [exposed_at, exposed_at + window_days x 24 h] (for
  retention: activity on a date d with start_day <= d - exposure_date <= end_day), the
  pre-exposure covariate x over [exposed_at - cuped_lookback_days x 24 h, exposed_at) (for
  retention: active dates in [exposure_date - cuped_lookback_days, exposure_date - 1]),
  and whether the window is over (is_mature). Users whose window is still open are counted
  as in progress downstream, never as zeros. A user with no other events has 0 everywhere.
-#}
{%- set metrics = experiment_metrics() %}
{#- Metric events that are not funnel steps are not in int_conversion_events. #}
{%- set other_events = metrics | selectattr('event') | map(attribute='event') | unique
                       | reject('in', funnel_steps()) | list %}
{%- set lookback = var('cuped_lookback_days') %}
with

assignments as (

    select experiment_id, variation_id, user_key, exposed_at, exposure_date
    from {{ ref('int_experiment_assignments') }}
    where not is_multiple_exposure

),

metrics as (

    select * from {{ ref('int_experiment_metrics') }}

),

reporting_period as (

    select * from {{ ref('int_reporting_period') }}

),

user_metrics as (

    select
        assignments.*,
        metrics.*,
        {{ dbt.dateadd('hour', 'metrics.window_days * 24', 'assignments.exposed_at') }} as window_end_at,
        {{ dbt.dateadd('hour', -24 * lookback, 'assignments.exposed_at') }} as lookback_start_at
    from assignments
    join ({{ experiment_metric_pairs('assignments') }}) as pairs using (experiment_id)
    join metrics using (metric_name)

),

{#- The track events a conversion, count or revenue metric can read, of exposed users:
    int_conversion_events holds every funnel step and every event with revenue, a small
    table; only metric events outside the funnel steps are looked up among all events
    (those with revenue are already in the first part). #}
metric_events as (

    select user_key, event_name, event_at, revenue
    from {{ ref('int_conversion_events') }}
    where user_key in (select user_key from assignments)
    {%- if other_events %}
    union all
    select user_key, event_name, event_at, revenue
    from {{ ref('int_events_attributed') }}
    where event_type = 'track'
      and event_name in {{ sql_string_list(other_events) }}
      and revenue is null
      and user_key in (select user_key from assignments)
    {%- endif %}

),

event_outcomes as (

    select
        user_metrics.experiment_id,
        user_metrics.metric_name,
        user_metrics.user_key,
        count(*) filter (where metric_events.event_at >= user_metrics.exposed_at) as window_events,
        count(*) filter (where metric_events.event_at < user_metrics.exposed_at) as lookback_events,
        sum(metric_events.revenue) filter (where metric_events.event_at >= user_metrics.exposed_at) as window_revenue,
        sum(metric_events.revenue) filter (where metric_events.event_at < user_metrics.exposed_at) as lookback_revenue
    from user_metrics
    join metric_events
        on metric_events.user_key = user_metrics.user_key
        and metric_events.event_at >= user_metrics.lookback_start_at
        and metric_events.event_at <= user_metrics.window_end_at
        and (
            (
                user_metrics.metric_type in ('conversion', 'count')
                and metric_events.event_name = user_metrics.event_name
                and (not user_metrics.is_revenue_positive or metric_events.revenue > 0)
            )
            or (user_metrics.metric_type = 'revenue' and metric_events.revenue is not null)
        )
    where user_metrics.metric_type <> 'retention'
    group by user_metrics.experiment_id, user_metrics.metric_name, user_metrics.user_key

),

day_outcomes as (

    select
        user_metrics.experiment_id,
        user_metrics.metric_name,
        user_metrics.user_key,
        count(*) filter (
            where {{ dbt.datediff('user_metrics.exposure_date', 'days.activity_date', 'day') }}
                between user_metrics.start_day and user_metrics.end_day
        ) as window_days_active,
        count(*) filter (where days.activity_date < user_metrics.exposure_date) as lookback_days_active
    from user_metrics
    join {{ ref('int_user_days_active') }} as days
        on days.user_key = user_metrics.user_key
        and days.activity_date >= {{ add_periods('day', -lookback, 'user_metrics.exposure_date') }}
        and days.activity_date <= {{ add_periods('day', 'user_metrics.end_day', 'user_metrics.exposure_date') }}
    where user_metrics.metric_type = 'retention'
    group by user_metrics.experiment_id, user_metrics.metric_name, user_metrics.user_key

)

select
    user_metrics.experiment_id,
    user_metrics.metric_name,
    user_metrics.variation_id,
    user_metrics.user_key,
    user_metrics.exposed_at,
    case
        when user_metrics.metric_type = 'retention'
            then {{ add_periods('day', 'user_metrics.end_day', 'user_metrics.exposure_date') }} < reporting_period.data_end_date
        else user_metrics.window_end_at <= reporting_period.data_end_at
    end as is_mature,
    cast(case user_metrics.metric_type
        when 'conversion' then case when coalesce(event_outcomes.window_events, 0) > 0 then 1 else 0 end
        when 'count' then coalesce(event_outcomes.window_events, 0)
        when 'revenue' then coalesce(event_outcomes.window_revenue, 0)
        when 'retention' then case when coalesce(day_outcomes.window_days_active, 0) > 0 then 1 else 0 end
    end as double) as y,
    cast(case user_metrics.metric_type
        when 'conversion' then least(coalesce(event_outcomes.lookback_events, 0), 1)
        when 'count' then coalesce(event_outcomes.lookback_events, 0)
        when 'revenue' then coalesce(event_outcomes.lookback_revenue, 0)
        when 'retention' then coalesce(day_outcomes.lookback_days_active, 0)
    end as double) as x
from user_metrics
cross join reporting_period
left join event_outcomes using (experiment_id, metric_name, user_key)
left join day_outcomes using (experiment_id, metric_name, user_key)
