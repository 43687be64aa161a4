{#-
  One row per account and date on which one of its users was active (segments.md
  "Accounts": an account is active on a date when one of its users is), with the
  account's previous and next active dates, as int_user_days_active has them for users:
  fct_account_retention reads them through the one retention definition. A user counts
  for the account of their latest group call with their whole history.

  Incremental: an account's dates change only where a member who stayed gained or lost a
  user-day, or where a member joined or left it (a later group call moves the user's whole
  history; int_account_days_active__members keeps whom each user belonged to). For each
  changed account, the rows from the last stored date before its earliest changed date
  onward are rewritten (account_days_plan): accounts that can have lost a date (a member
  left, a user-day went away) from their members' days, the others, which only gain dates,
  from their stored dates and the new ones; previous/next dates again.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    **incremental_hooks(plan=['account_days_plan']),
) }}
{%- set ready = incremental_ready() %}
with

members as (

    select user_key, account_id
    from {{ ref('int_user_properties') }}
    where account_id is not null

),

{%- if ready %}

starts as (

    select * from {{ account_days_starts_relation() }}

),

kept as (

    select * from {{ account_days_plan_relation() }}

),

{#- Accounts that only gained dates: their stored dates and the new ones. #}
gained as (

    select kept.account_id, kept.activity_date
    from kept
    join starts on starts.account_id = kept.account_id
    where not kept.is_plan_start and not starts.is_rebuilt
    union
    select changes.account_id, changes.activity_date
    from {{ account_days_changes_relation() }} as changes
    join starts on starts.account_id = changes.account_id
    where changes.is_added and not starts.is_rebuilt and changes.activity_date >= starts.first_changed_date

),

{#- Accounts that can have lost a date: their members' dates. #}
rebuilt as (

    select distinct members.account_id, user_days.activity_date
    from {{ ref('int_user_days_active') }} as user_days
    join members on members.user_key = user_days.user_key
    join starts on starts.account_id = members.account_id
    where starts.is_rebuilt and user_days.activity_date >= starts.first_changed_date

),

account_days as (

    select account_id, activity_date, previous_activity_date as kept_previous_date, true as is_plan_start
    from kept
    where is_plan_start
    union all
    select account_id, activity_date, cast(null as date), false
    from gained
    union all
    select account_id, activity_date, cast(null as date), false
    from rebuilt

),

days as (

    select
        account_id,
        activity_date,
        case
            when is_plan_start then kept_previous_date
            else lag(activity_date) over by_account
        end as previous_activity_date,
        lead(activity_date) over by_account as next_activity_date
    from account_days
    window by_account as (partition by account_id order by activity_date)

)

{%- else %}

account_days as (

    select distinct members.account_id, user_days.activity_date
    from {{ ref('int_user_days_active') }} as user_days
    join members on members.user_key = user_days.user_key

),

days as (

    select
        account_id,
        activity_date,
        lag(activity_date) over by_account as previous_activity_date,
        lead(activity_date) over by_account as next_activity_date
    from account_days
    window by_account as (partition by account_id order by activity_date)

)

{%- endif %}

select
    account_id,
    activity_date,
    previous_activity_date,
    next_activity_date,
    {{ batch_at() }} as _batch_at
from days
