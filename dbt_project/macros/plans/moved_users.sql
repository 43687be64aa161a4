{#- Users who gained or lost events by re-attribution since this model's last run. -#}
{% macro users_with_moved_events(since) -%}
    select user_key from {{ ref('int_events_attributed') }}
    where _batch_at > {{ since }} and _is_restaged and user_key is not null
    union
    select replaced_user_key from {{ ref('int_events_attributed') }}
    where _batch_at > {{ since }} and _is_restaged and replaced_user_key is not null
{%- endmacro %}

{#- Pre-hook of the per-user incremental models (int_user_facts, int_user_properties, int_user_feature_weeks,
    int_user_feature_firsts): users with moved events are recomputed from scratch, and
    those left without any event must disappear, so their stored rows go first. -#}
{% macro delete_users_with_moved_events(ready) -%}
    {%- if ready -%}
    delete from {{ this }} where user_key in ({{ users_with_moved_events(changed_since()) }})
    {%- endif -%}
{%- endmacro %}
