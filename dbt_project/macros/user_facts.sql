{#- The per-user facts of int_events_aggregated_to_users and int_user_facts, computed from
    every event of the users in `events_sql` (a select of int_events_attributed rows). One
    definition for every user (the view) and for the users an incremental build of
    int_user_facts computes. -#}
{% macro user_facts_from_events(events_sql) -%}
    {#- (name, value, condition): segments.md "User properties", the earliest activity event
        with a platform and the earliest event with a country. #}
    {%- set earliest_candidates = [
        ('first_platform', 'platform', 'events.is_activity'),
        ('first_country', 'country', 'true'),
    ] %}
    with

    {#- not materialized: read four times, each with its own filter (touches, activations and
        the events at the earliest platform and country instants are few), which beats one
        copy of every event. #}
    events as {{ not_materialized() }} (

        {{ events_sql }}

    ),

    firsts as (

        select
            user_key,
            min(event_at) as first_seen_at,
            {{ signup_event_at() }} as signup_event_at,
            min(case when event_type = 'track' and event_name = {{ sql_string(var('purchase_event')) }}
                      and revenue > 0 then event_at end) as first_purchase_at,
            max(case when is_activity then event_at end) as last_active_at,
            cast(coalesce(sum(case when event_type = 'track' then revenue end), 0) as double) as lifetime_revenue,
            cast(sum(case when is_activity then 1 else 0 end) as bigint) as activity_events,
            {#- segments.md "User properties": the instants of the earliest activity event with
                a platform and of the earliest event with a country (their messageId and value
                below). #}
            min(case when is_activity and platform is not null then event_at end) as first_platform_at,
            max(case when is_activity and event_type = 'page' then 1 else 0 end) = 1 as has_page_activity,
            min(case when country is not null then event_at end) as first_country_at
        from events
        group by user_key

    ),

    signed_up as (

        select
            user_key,
            first_seen_at,
            signup_event_at,
            coalesce(signup_event_at, first_seen_at) as signed_up_at,
            first_purchase_at,
            last_active_at,
            lifetime_revenue,
            activity_events,
            first_platform_at,
            has_page_activity,
            first_country_at
        from firsts

    ),

    touches as (

        select
            events.user_key,
            events.event_at as touch_at,
            events.message_id as touch_message_id,
            events.campaign_source as acquisition_source,
            events.campaign_name as acquisition_campaign
        from events
        join signed_up on signed_up.user_key = events.user_key
        where {{ is_acquisition_touch('events', 'signed_up.signed_up_at') }}
        qualify row_number() over (partition by events.user_key order by events.event_at, events.message_id) = 1

    ),

    activations as (

        {{ first_activations('events', 'signed_up') }}

    ),

    {#- Among the events at those earliest instants, the smallest messageId: two aggregates
        and a join cost a third of one aggregate over (timestamp, messageId) pairs. Platform
        and country in one join: each of a user's events is read against the user's one or
        two instants (mostly one, the first event), not once per candidate. #}
    earliest_instants as (

        {{ instants_of('signed_up', earliest_candidates) }}

    ),

    earliest as (

        {{ earliest_at_instants('events', 'earliest_instants', earliest_candidates) }}

    )

    select
        signed_up.user_key,
        signed_up.first_seen_at,
        signed_up.signup_event_at,
        signed_up.signed_up_at,
        signed_up.first_purchase_at,
        signed_up.last_active_at,
        signed_up.lifetime_revenue,
        signed_up.activity_events,
        signed_up.first_platform_at,
        earliest.first_platform_message_id,
        earliest.first_platform,
        signed_up.has_page_activity,
        signed_up.first_country_at,
        earliest.first_country_message_id,
        earliest.first_country,
        touches.touch_at,
        touches.touch_message_id,
        touches.acquisition_source,
        touches.acquisition_campaign,
        activations.activated_at
    from signed_up
    left join touches on touches.user_key = signed_up.user_key
    left join activations on activations.user_key = signed_up.user_key
    left join earliest on earliest.user_key = signed_up.user_key
{%- endmacro %}

{#- The aggregate over a user's events giving signup_event_at: the earliest track
    signup_event (int_user_facts' plan reads it too). -#}
{% macro signup_event_at() -%}
    min(case when event_type = 'track' and event_name = {{ sql_string(var('signup_event')) }} then event_at end)
{%- endmacro %}

{#- Per user of `users` and (name, value, condition) of `candidates`: the user's distinct
    instants <name>_at (not null) as event_at, each row with every <name>_at of the user. -#}
{% macro instants_of(users, candidates) -%}
    {%- for name, value, condition in candidates %}
    select
        user_key,
        {{ name }}_at as event_at
        {%- for other in candidates %},
        {{ other[0] }}_at
        {%- endfor %}
    from {{ users }}
    where {{ name }}_at is not null
    {%- if not loop.last %}
    union
    {%- endif %}
    {%- endfor %}
{%- endmacro %}

{#- Per user of `instants` (instants_of: with <name>_at, the earliest instant of an event of
    `events` where `condition` holds and `value` is not null) and candidate of `candidates`:
    <name>_message_id and <name>, the smallest messageId among the events at that instant
    and its value, null when there is none. One join of the events on (user, instant) for
    all the candidates. -#}
{% macro earliest_at_instants(events, instants, candidates) -%}
    select
        {{ events }}.user_key
        {%- for name, value, condition in candidates %}
        {%- set at_instant -%}
            {{ events }}.event_at = {{ instants }}.{{ name }}_at and {{ condition }} and {{ events }}.{{ value }} is not null
        {%- endset %},
        min(case when {{ at_instant }} then {{ events }}.message_id end) as {{ name }}_message_id,
        min_by({{ events }}.{{ value }}, case when {{ at_instant }} then {{ events }}.message_id end) as {{ name }}
        {%- endfor %}
    from {{ events }}
    join {{ instants }}
        on {{ instants }}.user_key = {{ events }}.user_key
        and {{ instants }}.event_at = {{ events }}.event_at
    group by {{ events }}.user_key
{%- endmacro %}

{#- Whether an event can be the user's acquisition touch: it carries a campaign source and
    is at or before signed_up_at (the earliest such event wins). -#}
{% macro is_acquisition_touch(event, signed_up_at) -%}
    {{ event }}.campaign_source is not null and {{ event }}.event_at <= {{ signed_up_at }}
{%- endmacro %}

{#- Per user of `users` (with signed_up_at), activated_at: the earliest of the user's `events`
    that is the activation event within activation_window_days of signed_up_at, both edges
    included. -#}
{% macro first_activations(events, users) -%}
    select {{ users }}.user_key, min({{ events }}.event_at) as activated_at
    from {{ users }}
    join {{ events }} on {{ events }}.user_key = {{ users }}.user_key
    where {{ events }}.event_type = 'track'
      and {{ events }}.event_name = {{ sql_string(var('activation_event')) }}
      and {{ events }}.event_at >= {{ users }}.signed_up_at
      and {{ events }}.event_at <= {{ dbt.dateadd('day', var('activation_window_days'), users ~ '.signed_up_at') }}
    group by {{ users }}.user_key
{%- endmacro %}
