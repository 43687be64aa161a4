{#- Activation by signup cohort (metrics.md marts.fct_activation), grains day, week, month,
    by the one definition in macros/cohort_activation.sql. -#}
{{ cohort_activation(
    users_sql="select signup_date, signed_up_at, activated_at, is_activated from " ~ ref('dim_users'),
    grains=grains(),
) }}
