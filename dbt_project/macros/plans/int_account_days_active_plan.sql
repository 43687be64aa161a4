{#- int_account_days_active's plan. An account's dates are the union of its members' active
    dates, so they change only where a member who stayed gained or lost a user-day (the
    rows int_user_days_active wrote and replaced since this model's last run: written
    without a replaced copy, or replaced without a written one) or a member joined or left
    (the latest group call moves the user's whole history). A member who left, or a lost
    user-day, can take dates away: those accounts are rebuilt from their members' days
    (is_rebuilt, few). Every other changed account only gains dates: its new dates are
    added to its stored rows, no user-day is read. As in user_days_plan, for each changed
    account the stored rows from the last date before its earliest new (or possibly lost)
    date (is_plan_start) onward are deleted here and rewritten by the model. -#}
{% macro account_days_changes_relation() -%}
    int_account_days_active__changes
{%- endmacro %}

{% macro account_days_starts_relation() -%}
    int_account_days_active__starts
{%- endmacro %}

{% macro account_days_plan_relation() -%}
    int_account_days_active__plan
{%- endmacro %}

{#- Every member's account as of this model's latest run (users with an account_id in
    int_user_properties): whom a user left, when the latest group call moves them. -#}
{% macro account_members_relation() -%}
    intermediate.int_account_days_active__members
{%- endmacro %}

{% macro account_days_plan(ready) -%}
    {%- set members -%}
        select user_key, account_id from {{ ref('int_user_properties') }} where account_id is not null
    {%- endset -%}
    {%- if ready -%}
    create or replace temp table int_account_days_active__switched as
    select
        coalesce(members.user_key, previous.user_key) as user_key,
        previous.account_id as previous_account_id,
        members.account_id
    from ({{ members }}) as members
    full outer join {{ account_members_relation() }} as previous on previous.user_key = members.user_key
    where members.account_id is null or previous.account_id is null or members.account_id <> previous.account_id;
    {#- (account, date) pairs that may be new (is_added) or may be gone. #}
    create or replace temp table {{ account_days_changes_relation() }} as
    with members as (
        {{ members }}
    ),
    written as (
        select user_key, activity_date from {{ ref('int_user_days_active') }} where _batch_at > {{ changed_since() }}
    ),
    replaced as (
        select user_key, activity_date from {{ user_days_replaced_relation() }} where _batch_at > {{ changed_since() }}
    ),
    day_changes as (
        select
            coalesce(written.user_key, replaced.user_key) as user_key,
            coalesce(written.activity_date, replaced.activity_date) as activity_date,
            replaced.user_key is null as is_added
        from written
        full outer join replaced
            on replaced.user_key = written.user_key and replaced.activity_date = written.activity_date
        where written.user_key is null or replaced.user_key is null
    ),
    switched_days as (
        select switched.user_key, switched.previous_account_id, switched.account_id, user_days.activity_date
        from int_account_days_active__switched as switched
        join {{ ref('int_user_days_active') }} as user_days on user_days.user_key = switched.user_key
        union all
        select switched.user_key, switched.previous_account_id, switched.account_id, replaced.activity_date
        from int_account_days_active__switched as switched
        join replaced on replaced.user_key = switched.user_key
    )
    select distinct account_id, activity_date, is_added
    from (
        select members.account_id, day_changes.activity_date, day_changes.is_added
        from day_changes
        join members on members.user_key = day_changes.user_key
        union all
        select account_id, activity_date, true
        from switched_days
        where account_id is not null
        union all
        select previous_account_id, activity_date, false
        from switched_days
        where previous_account_id is not null
    ) as changes;
    create or replace temp table int_account_days_active__candidates as
    with by_account as (
        select account_id, min(activity_date) as earliest_date
        from {{ account_days_changes_relation() }}
        group by account_id
    ),
    candidates as (
        select stored.account_id, stored.activity_date, stored.previous_activity_date, stored.next_activity_date
        from {{ this }} as stored
        join by_account on by_account.account_id = stored.account_id
        where stored.activity_date >= by_account.earliest_date
           or stored.next_activity_date is null
           or stored.next_activity_date >= by_account.earliest_date
    )
    select * from candidates;
    create or replace temp table {{ account_days_starts_relation() }} as
    with changed as (
        select account_id, min(activity_date) as first_changed_date, bool_or(not is_added) as is_rebuilt
        from {{ account_days_changes_relation() }} as changes
        where not is_added
           or not exists (
               select 1 from int_account_days_active__candidates as stored
               where stored.account_id = changes.account_id and stored.activity_date = changes.activity_date
           )
        group by account_id
    )
    select
        changed.account_id,
        changed.first_changed_date,
        changed.is_rebuilt,
        max(stored.activity_date) as plan_start_date
    from changed
    left join int_account_days_active__candidates as stored
        on stored.account_id = changed.account_id and stored.activity_date < changed.first_changed_date
    group by changed.account_id, changed.first_changed_date, changed.is_rebuilt;
    create or replace temp table {{ account_days_plan_relation() }} as
    select
        stored.account_id,
        stored.activity_date,
        stored.previous_activity_date,
        coalesce(stored.activity_date = starts.plan_start_date, false) as is_plan_start
    from int_account_days_active__candidates as stored
    join {{ account_days_starts_relation() }} as starts
        on starts.account_id = stored.account_id
        and stored.activity_date >= coalesce(starts.plan_start_date, starts.first_changed_date);
    delete from {{ this }}
    where exists (
        select 1 from {{ account_days_plan_relation() }} as plan
        where plan.account_id = {{ this }}.account_id and plan.activity_date = {{ this }}.activity_date
    );
    delete from {{ account_members_relation() }}
    where user_key in (select user_key from int_account_days_active__switched);
    insert into {{ account_members_relation() }}
    select user_key, account_id from int_account_days_active__switched where account_id is not null
    {%- else -%}
    create or replace table {{ account_members_relation() }} as
    {{ members }}
    {%- endif -%}
{%- endmacro %}
