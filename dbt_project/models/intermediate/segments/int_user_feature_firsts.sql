{#-
  One row per (user, track event name) the user ever had as an activity event: the instant
  of the first such event and the week it falls in. Who uses an event at all
  (int_features), who adopts a feature in a week (fct_feature_adoption's new adopters) and
  who adopts it early (fct_feature_retention) read these rows, about half as many as
  int_user_feature_weeks'.

  Incremental: the (user, event, week) rows int_user_feature_weeks wrote since the last run
  fold into the stored firsts by their minimum, and only the pairs that are new or whose
  first moved earlier are rewritten (feature_firsts_plan); users who gained or lost events
  by re-attribution are deleted first (a pre-hook) and recomputed from all their weeks.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    **incremental_hooks(plan=['delete_users_with_moved_events', 'feature_firsts_plan']),
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

{#- Pairs that are new or whose first moved earlier, with the new first. #}
changed as (

    select user_key, event_name, first_used_at, first_week_start
    from {{ feature_firsts_plan_relation() }}

),

recomputed as (

    {{ feature_firsts(
        "select * from " ~ ref('int_user_feature_weeks')
        ~ " where user_key in (select user_key from moved_users)"
    ) }}

),

firsts as (

    select * from changed
    union all
    select * from recomputed

)

{%- endif %}

select *, {{ batch_at() }} as _batch_at
from firsts
