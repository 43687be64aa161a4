{#- The metric configuration (dbt vars) this build ran with, one row, so the Python
    transforms downstream of the marts read the same values the marts were built with,
    whether they came from dbt_project.yml, `growth build --vars` or Dagster. -#}
select
    {{ sql_string(var('purchase_event')) }} as purchase_event,
    cast({{ var('ltv_horizon_months') }} as integer) as ltv_horizon_months
