{#-
  One row per account with at least one user (segments.md marts.dim_accounts). A user belongs
  to the account of their latest group call (dim_users.account_id). account_name is
  trim(traits.name) of the latest valid group event of the groupId, with or without a
  user_key, whose traits.name is a non-blank string: int_account_names, kept up to date
  incrementally, as this table is rebuilt at every build (reading the group calls among
  every staged event each time was most of its cost).
-#}
with

users as (

    select * from {{ ref('dim_users') }}
    where account_id is not null

),

reporting_period as (

    select * from {{ ref('int_reporting_period') }}

),

names as (

    select group_id, account_name from {{ ref('int_account_names') }}

),

members as (

    select
        account_id,
        count(*) as users,
        cast(coalesce(sum(lifetime_revenue), 0) as double) as lifetime_revenue,
        cast(sum(case when is_customer then 1 else 0 end) as bigint) as customers
    from users
    group by account_id

),

first_activity as (

    select account_id, min(activity_date) as first_activity_date
    from {{ ref('int_account_days_active') }}
    group by account_id

),

recently_active as (

    select users.account_id, count(distinct users.user_key) as active_users_30d
    from users
    join {{ ref('int_user_days_active') }} as user_days on user_days.user_key = users.user_key
    cross join reporting_period
    where user_days.activity_date >= {{ add_periods('day', -29, 'reporting_period.data_end_date') }}
      and user_days.activity_date <= reporting_period.data_end_date
    group by users.account_id

)

select
    members.account_id,
    names.account_name,
    members.users,
    first_activity.first_activity_date,
    coalesce(recently_active.active_users_30d, 0) as active_users_30d,
    members.lifetime_revenue,
    members.customers
from members
left join names on names.group_id = members.account_id
left join first_activity on first_activity.account_id = members.account_id
left join recently_active on recently_active.account_id = members.account_id
