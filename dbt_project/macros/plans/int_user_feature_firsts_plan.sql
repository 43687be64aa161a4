{#- int_user_feature_firsts' plan: the firsts of the weeks int_user_feature_weeks rewrote
    since this model's last run, for users whose events did not move (those are recomputed
    whole by the model). A rewritten week's first is the earlier of its stored first and
    the new events', never later than the stored first of its (user, event), so a pair
    changes only when it is new or its first moved earlier (a late event): only those are
    kept here, the stored rows of the second kind deleted, and the model writes them. A
    day's events are mostly further uses of known features: no stored row is deleted (the
    delete reads nothing when no pair is stored) and a fifth of the pairs are written. -#}
{% macro feature_firsts_plan_relation() -%}
    int_user_feature_firsts__plan
{%- endmacro %}

{% macro feature_firsts_plan(ready) -%}
    {%- if ready -%}
    create or replace temp table {{ feature_firsts_plan_relation() }} as
    with batch_firsts as (
        {{ feature_firsts(
            "select * from " ~ ref('int_user_feature_weeks')
            ~ " where _batch_at > " ~ changed_since()
            ~ " and user_key not in (" ~ users_with_moved_events(changed_since()) ~ ")"
        ) }}
    )
    select batch_firsts.*, stored.user_key is not null as is_stored
    from batch_firsts
    left join {{ this }} as stored
        on stored.user_key = batch_firsts.user_key
        and stored.event_name = batch_firsts.event_name
    where stored.user_key is null or batch_firsts.first_used_at < stored.first_used_at;
    delete from {{ this }}
    where exists (
        select 1 from {{ feature_firsts_plan_relation() }} as plan
        where plan.is_stored
          and plan.user_key = {{ this }}.user_key
          and plan.event_name = {{ this }}.event_name
    )
    {%- endif -%}
{%- endmacro %}
