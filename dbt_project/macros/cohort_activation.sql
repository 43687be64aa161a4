{#- Activation by signup cohort (metrics.md marts.fct_activation), the one definition behind
    fct_activation and fct_activation_by_segment. `users_sql` selects dim_users' signup_date,
    signed_up_at, activated_at and is_activated with the `keys` columns. A cohort is
    complete once its last signup day plus the activation window has passed. -#}
{% macro cohort_activation(users_sql, grains, keys=[]) -%}
{%- set key_list = (keys | join(', ') ~ ', ') if keys else '' -%}
with

users as (

    {{ users_sql }}

),

reporting_period as (

    select * from {{ ref('int_reporting_period') }}

),

cohorts as (

    {% for grain in grains %}
    select
        '{{ grain }}' as grain,
        {{ key_list }}
        {{ trunc_date(grain, 'signup_date') }} as cohort_start,
        count(*) as signups,
        sum(case when is_activated then 1 else 0 end) as activated_users,
        {{ median(seconds_between('signed_up_at', 'activated_at') ~ ' / 3600e0') }} as median_hours_to_activate
    from users
    group by {{ positions(keys | length + 2) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select
    cohorts.grain,
    {%- for key in keys %}
    cohorts.{{ key }},
    {%- endfor %}
    cohorts.cohort_start,
    cohorts.signups,
    cast(cohorts.activated_users as bigint) as activated_users,
    {{ safe_ratio('cohorts.activated_users', 'cohorts.signups') }} as activation_rate,
    cohorts.median_hours_to_activate,
    case cohorts.grain
    {% for grain in grains %}
        when '{{ grain }}' then {{ add_periods('day', var('activation_window_days'), period_last_day(grain, 'cohorts.cohort_start')) }}
            <= reporting_period.data_end_date
    {% endfor %}
    end as is_complete
from cohorts
cross join reporting_period
{%- endmacro %}
