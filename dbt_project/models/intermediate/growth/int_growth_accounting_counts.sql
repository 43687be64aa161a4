{#-
  Growth-accounting counts per grain and period (metrics.md marts.fct_growth_accounting),
  added up from int_user_days_active row by row: a user's active day opens a user-period
  when the previous active day lies in an earlier period (or there is none), and that
  previous day's period classifies it (none: new, the period just before: retained, an
  earlier one: resurrected); a day closes a user-period when the next active day lies in a
  later period (or there is none), and when that is not the following period the user
  churned in the following period.

  Incremental: the counts are sums over user-day rows, so a run adds the contributions of
  the rows int_user_days_active wrote and subtracts those of the rows it replaced (kept as
  they were in int_user_days_active__replaced).
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['grain', 'period_start'],
    **incremental_hooks(),
) }}
{%- set ready = incremental_ready() %}
with

{#- Read six times below: a full build scans the user-days again each time (`not
    materialized`) rather than copying all of them; an incremental build's few rows are
    kept once. #}
changed_days as {% if not ready %}{{ not_materialized() }} {% endif %}(

    {%- if ready %}
    select user_key, activity_date, previous_activity_date, next_activity_date, 1 as sign
    from {{ ref('int_user_days_active') }}
    where _batch_at > {{ changed_since() }}
    union all
    select user_key, activity_date, previous_activity_date, next_activity_date, -1
    from {{ user_days_replaced_relation() }}
    where _batch_at > {{ changed_since() }}
    {%- else %}
    select user_key, activity_date, previous_activity_date, next_activity_date, 1 as sign
    from {{ ref('int_user_days_active') }}
    {%- endif %}

),

contributions as (

    {%- for grain in grains() %}
    select
        '{{ grain }}' as grain,
        period_start,
        sign * is_opening as active_users,
        sign * is_opening * (case when previous_period is null then 1 else 0 end) as new_users,
        sign * is_opening * (case when previous_period = {{ add_periods(grain, -1, 'period_start') }} then 1 else 0 end)
            as retained_users,
        sign * is_opening * (case when previous_period < {{ add_periods(grain, -1, 'period_start') }} then 1 else 0 end)
            as resurrected_users,
        0 as churned_users
    from (
        select
            {{ trunc_date(grain, 'activity_date') }} as period_start,
            {{ trunc_date(grain, 'previous_activity_date') }} as previous_period,
            case
                when previous_activity_date is null
                    or {{ trunc_date(grain, 'previous_activity_date') }} < {{ trunc_date(grain, 'activity_date') }}
                then 1 else 0
            end as is_opening,
            sign
        from changed_days
    ) as days
    where is_opening = 1
    union all
    select
        '{{ grain }}',
        {{ add_periods(grain, 1, trunc_date(grain, 'activity_date')) }},
        0, 0, 0, 0,
        sign
    from changed_days
    where next_activity_date is null
       or {{ trunc_date(grain, 'next_activity_date') }}
           > {{ add_periods(grain, 1, trunc_date(grain, 'activity_date')) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

{%- if ready %}

stored as (

    select stored.grain, stored.period_start, stored.active_users, stored.new_users, stored.retained_users,
        stored.resurrected_users, stored.churned_users
    from {{ this }} as stored
    where exists (
        select 1 from contributions
        where contributions.grain = stored.grain and contributions.period_start = stored.period_start
    )

),

{%- endif %}

counts as (

    select
        grain,
        period_start,
        sum(active_users) as active_users,
        sum(new_users) as new_users,
        sum(retained_users) as retained_users,
        sum(resurrected_users) as resurrected_users,
        sum(churned_users) as churned_users
    from (
        select * from contributions
        {%- if ready %}
        union all
        select * from stored
        {%- endif %}
    ) as all_counts
    group by grain, period_start

)

select
    grain,
    period_start,
    cast(active_users as bigint) as active_users,
    cast(new_users as bigint) as new_users,
    cast(retained_users as bigint) as retained_users,
    cast(resurrected_users as bigint) as resurrected_users,
    cast(churned_users as bigint) as churned_users,
    {{ batch_at() }} as _batch_at
from counts
