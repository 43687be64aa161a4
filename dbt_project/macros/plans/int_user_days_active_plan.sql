{#- int_user_days_active's plan: for each user whose activity changed, the stored rows
    from the last date before the earliest changed date (is_plan_start) onward. They are
    kept as they were in int_user_days_active__replaced, deleted here and rewritten by the
    model. Only rows on or after the run's earliest changed date, or whose next date is (or
    is missing), can be in a plan: a literal filter on those keeps the scan cheap. -#}
{% macro user_days_plan_relation() -%}
    int_user_days_active__plan
{%- endmacro %}

{% macro user_days_plan(ready) -%}
    {%- if ready -%}
    {%- set earliest = earliest_activity_change(date=true) -%}
    create or replace temp table {{ user_days_plan_relation() }} as
    with changed_users as (
        {{ activity_changed_users(changed_since()) }}
    ),
    candidates as (
        select stored.*
        from {{ this }} as stored
        where stored.activity_date >= {{ earliest }}
           or stored.next_activity_date is null
           or stored.next_activity_date >= {{ earliest }}
    ),
    starts as (
        select
            changed_users.user_key,
            changed_users.first_changed_date,
            max(candidates.activity_date) as plan_start_date
        from changed_users
        left join candidates
            on candidates.user_key = changed_users.user_key
            and candidates.activity_date < changed_users.first_changed_date
        group by changed_users.user_key, changed_users.first_changed_date
    )
    select
        candidates.user_key,
        candidates.activity_date,
        candidates.activity_events,
        candidates.previous_activity_date,
        candidates.next_activity_date,
        candidates.activity_date = starts.plan_start_date as is_plan_start
    from candidates
    join starts
        on starts.user_key = candidates.user_key
        and candidates.activity_date >= coalesce(starts.plan_start_date, starts.first_changed_date);
    create or replace table {{ user_days_replaced_relation() }} as
    select user_key, activity_date, previous_activity_date, next_activity_date, {{ batch_at() }} as _batch_at
    from {{ user_days_plan_relation() }};
    delete from {{ this }}
    where (activity_date >= {{ earliest }} or next_activity_date is null or next_activity_date >= {{ earliest }})
      and exists (
        select 1 from {{ user_days_plan_relation() }} as plan
        where plan.user_key = {{ this }}.user_key and plan.activity_date = {{ this }}.activity_date
    )
    {%- else -%}
    create or replace table {{ user_days_replaced_relation() }} (
        user_key varchar, activity_date date, previous_activity_date date, next_activity_date date,
        _batch_at timestamptz
    )
    {%- endif -%}
{%- endmacro %}

{#- The rows the latest run of int_user_days_active replaced, as they were (a table the
    plan rewrites on every run, stamped with that run's _batch_at): with the rows it wrote,
    they are the run's changes, which int_growth_accounting_counts folds into its counts. -#}
{% macro user_days_replaced_relation() -%}
    intermediate.int_user_days_active__replaced
{%- endmacro %}
