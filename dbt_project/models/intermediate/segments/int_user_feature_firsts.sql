{#-
  One row per (user, track event name) the user ever had as an activity event: the instant
  of the first such event and the week it falls in. Who uses an event at all
  (int_features), who adopts a feature in a week (fct_feature_adoption's new adopters) and
  who adopts it early (fct_feature_retention) read these rows, about half as many as
  int_user_feature_weeks'.

  Incremental: the (user, event, week) rows int_user_feature_weeks wrote since the last run
  fold into the stored firsts by their minimum; users who gained or lost events by
  re-attribution are deleted first (a pre-hook) and recomputed from all their weeks.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['user_key', 'event_name'],
    **incremental_hooks(plan=['delete_users_with_moved_events']),
) }}
{%- set ready = incremental_ready() %}
{#- The parents the incremental form reads (dbt parses the model in its full form). #}
-- depends_on: {{ ref('int_events_attributed') }}
with

{%- if not ready %}

firsts as (

    {{ feature_firsts("select * from " ~ ref('int_user_feature_weeks')) }}

)

{%- else %}

moved_users as (

    {{ users_with_moved_events(changed_since()) }}

),

batch_firsts as (

    {{ feature_firsts(
        "select * from " ~ ref('int_user_feature_weeks')
        ~ " where _batch_at > " ~ changed_since()
        ~ " and user_key not in (select user_key from moved_users)"
    ) }}

),

folded as (

    select
        batch_firsts.user_key,
        batch_firsts.event_name,
        coalesce(least(stored.first_used_at, batch_firsts.first_used_at), batch_firsts.first_used_at) as first_used_at,
        coalesce(least(stored.first_week_start, batch_firsts.first_week_start), batch_firsts.first_week_start)
            as first_week_start
    from batch_firsts
    left join {{ this }} as stored
        on stored.user_key = batch_firsts.user_key
        and stored.event_name = batch_firsts.event_name

),

recomputed as (

    {{ feature_firsts(
        "select * from " ~ ref('int_user_feature_weeks')
        ~ " where user_key in (select user_key from moved_users)"
    ) }}

),

firsts as (

    select * from folded
    union all
    select * from recomputed

)

{%- endif %}

select *, {{ batch_at() }} as _batch_at
from firsts
