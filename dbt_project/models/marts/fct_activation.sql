{#- Activation by signup cohort (metrics.md marts.fct_activation), grains day, week, month.
    A cohort is complete once its last signup day plus the activation window has passed. -#}
with

users as (

    select * from {{ ref('dim_users') }}

),

reporting_period as (

    select * from {{ ref('int_reporting_period') }}

),

cohorts as (

    {% for grain in grains() %}
    select
        '{{ grain }}' as grain,
        {{ trunc_date(grain, 'signup_date') }} as cohort_start,
        count(*) as signups,
        sum(case when is_activated then 1 else 0 end) as activated_users,
        {{ median(seconds_between('signed_up_at', 'activated_at') ~ ' / 3600.0') }} as median_hours_to_activate
    from users
    group by 1, 2
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select
    cohorts.grain,
    cohorts.cohort_start,
    cohorts.signups,
    cast(cohorts.activated_users as bigint) as activated_users,
    {{ safe_ratio('cohorts.activated_users', 'cohorts.signups') }} as activation_rate,
    cohorts.median_hours_to_activate,
    case cohorts.grain
    {% for grain in grains() %}
        when '{{ grain }}' then {{ add_periods('day', var('activation_window_days'), period_last_day(grain, 'cohorts.cohort_start')) }}
            <= reporting_period.data_end_date
    {% endfor %}
    end as is_complete
from cohorts
cross join reporting_period
