{#- Account retention (segments.md marts.fct_account_retention): fct_retention's definition
    (macros/cohort_retention.sql), grains week and month, with accounts in place of users.
    An account's cohort is trunc(grain, first_activity_date); accounts with no activity
    have no cohort. -#}
{{ cohort_retention(
    members_sql="select account_id as member_key, first_activity_date as start_date from " ~ ref('dim_accounts')
        ~ " where first_activity_date is not null",
    member_days_sql="select account_id as member_key, activity_date, previous_activity_date, next_activity_date from "
        ~ ref('int_account_days_active'),
    grains=['week', 'month'],
    names={'cohort_size': 'cohort_accounts', 'retained_users': 'retained_accounts',
           'retained_users_unbounded': 'retained_accounts_unbounded'},
) }}
