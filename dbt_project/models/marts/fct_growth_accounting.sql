{#-
  Growth accounting (metrics.md marts.fct_growth_accounting) for grains day, week, month,
  dense from the first to the last period holding activity. Each user-period is classified
  by the user's previous active period: none (new), the period just before (retained) or an
  earlier one (resurrected); a user-period whose next active period is not the following
  period produces a churned user in the following period.

  Read row by row from int_user_days_active: a user's active day opens a user-period when
  the previous active day lies in an earlier period (or there is none), and that previous
  day's period is the user's previous active period; a day closes a user-period when the
  next active day lies in a later period (or there is none).
-#}
with

user_days as (

    select * from {{ ref('int_user_days_active') }}

),

reporting_period as (

    select * from {{ ref('int_reporting_period') }}

),

{% for grain in ['day', 'week', 'month'] %}
{{ grain }}_days as (

    select
        {{ trunc_date(grain, 'activity_date') }} as period_start,
        {{ trunc_date(grain, 'previous_activity_date') }} as previous_period,
        {{ trunc_date(grain, 'next_activity_date') }} as next_period
    from user_days

),

{{ grain }}_bounds as (

    select min(period_start) as first_period, max(period_start) as last_period from {{ grain }}_days

),

{{ grain }}_spine as (

    select {{ add_periods(grain, 'series.n', 'bounds.first_period') }} as period_start
    from {{ grain }}_bounds as bounds
    cross join {{ integer_series(periods_between(grain, 'bounds.first_period', 'bounds.last_period')) }} as series(n)

),

{{ grain }}_counts as (

    select
        period_start,
        count(*) as active_users,
        sum(case when previous_period is null then 1 else 0 end) as new_users,
        sum(case when previous_period = {{ add_periods(grain, -1, 'period_start') }} then 1 else 0 end)
            as retained_users,
        sum(case when previous_period < {{ add_periods(grain, -1, 'period_start') }} then 1 else 0 end)
            as resurrected_users
    from {{ grain }}_days
    where previous_period is null or previous_period < period_start
    group by period_start

),

{{ grain }}_churn as (

    select {{ add_periods(grain, 1, 'period_start') }} as period_start, count(*) as churned_users
    from {{ grain }}_days
    where next_period is null or next_period > {{ add_periods(grain, 1, 'period_start') }}
    group by 1

),
{{ grain }}_rows as (

    select
        '{{ grain }}' as grain,
        spine.period_start,
        coalesce(counts.active_users, 0) as active_users,
        coalesce(counts.new_users, 0) as new_users,
        coalesce(counts.retained_users, 0) as retained_users,
        coalesce(counts.resurrected_users, 0) as resurrected_users,
        coalesce(churn.churned_users, 0) as churned_users,
        lag(coalesce(counts.active_users, 0)) over (order by spine.period_start) as previous_active_users,
        {{ period_last_day(grain, 'spine.period_start') }} <= reporting_period.data_end_date as is_complete
    from {{ grain }}_spine as spine
    cross join reporting_period
    left join {{ grain }}_counts as counts on counts.period_start = spine.period_start
    left join {{ grain }}_churn as churn on churn.period_start = spine.period_start

){% if not loop.last %},{% endif %}
{% endfor %}

select
    grain,
    period_start,
    cast(active_users as bigint) as active_users,
    cast(new_users as bigint) as new_users,
    cast(retained_users as bigint) as retained_users,
    cast(resurrected_users as bigint) as resurrected_users,
    cast(churned_users as bigint) as churned_users,
    {{ safe_ratio('churned_users', 'previous_active_users') }} as churn_rate,
    {{ safe_ratio('new_users + resurrected_users', 'churned_users') }} as quick_ratio,
    is_complete
from (
    select * from day_rows
    union all
    select * from week_rows
    union all
    select * from month_rows
) as all_grains
