{#-
  Growth accounting (metrics.md marts.fct_growth_accounting) for grains day, week, month,
  dense from the first to the last period holding activity: the counts of
  int_growth_accounting_counts (where the classification rules live) on a period spine,
  with the previous period's active users, churn rate, quick ratio and completeness.
-#}
with

counts as (

    select * from {{ ref('int_growth_accounting_counts') }}

),

reporting_period as (

    select * from {{ ref('int_reporting_period') }}

),

{% for grain in grains() %}
{{ grain }}_bounds as (

    select min(period_start) as first_period, max(period_start) as last_period
    from counts
    where grain = '{{ grain }}' and active_users > 0

),

{{ grain }}_spine as (

    select {{ add_periods(grain, 'series.n', 'bounds.first_period') }} as period_start
    from {{ grain }}_bounds as bounds
    cross join {{ integer_series(periods_between(grain, 'bounds.first_period', 'bounds.last_period')) }} as series(n)

),

{{ grain }}_rows as (

    select
        '{{ grain }}' as grain,
        spine.period_start,
        coalesce(counts.active_users, 0) as active_users,
        coalesce(counts.new_users, 0) as new_users,
        coalesce(counts.retained_users, 0) as retained_users,
        coalesce(counts.resurrected_users, 0) as resurrected_users,
        coalesce(counts.churned_users, 0) as churned_users,
        lag(coalesce(counts.active_users, 0)) over (order by spine.period_start) as previous_active_users,
        {{ period_last_day(grain, 'spine.period_start') }} <= reporting_period.data_end_date as is_complete
    from {{ grain }}_spine as spine
    cross join reporting_period
    left join counts on counts.grain = '{{ grain }}' and counts.period_start = spine.period_start

){% if not loop.last %},{% endif %}
{% endfor %}

select
    grain,
    period_start,
    active_users,
    new_users,
    retained_users,
    resurrected_users,
    churned_users,
    {{ safe_ratio('churned_users', 'previous_active_users') }} as churn_rate,
    {{ safe_ratio('new_users + resurrected_users', 'churned_users') }} as quick_ratio,
    is_complete
from (
    {{ union_all_grains('_rows') }}
) as all_grains
