{#- One row per account and date on which one of its users was active (segments.md
    "Accounts": an account is active on a date when one of its users is), with the
    account's previous and next active dates, as int_user_days_active has them for users:
    fct_account_retention reads them through the one retention definition. A user counts
    for the account of their latest group call with their whole history. -#}
with

account_days as (

    select distinct properties.account_id, user_days.activity_date
    from {{ ref('int_user_days_active') }} as user_days
    join {{ ref('int_user_properties') }} as properties
        on properties.user_key = user_days.user_key
    where properties.account_id is not null

)

select
    account_id,
    activity_date,
    lag(activity_date) over by_account as previous_activity_date,
    lead(activity_date) over by_account as next_activity_date
from account_days
window by_account as (partition by account_id order by activity_date)
