{#- The metric configuration (dbt vars) this build ran with, one row, so the Python
    transforms downstream of the marts read the same values the marts were built with,
    whether they came from dbt_project.yml, `growth build --vars` or Dagster. -#}
{%- for name in ['experiment_alpha', 'srm_p_threshold'] %}
    {%- set value = var(name) %}
    {%- if not is_real_number(value) or value <= 0 or value >= 1 %}
        {{ var_error(name, 'must be a number between 0 and 1, got ' ~ value) }}
    {%- endif %}
{%- endfor %}
{%- do whole_number_var('sequential_tuning_n', 1) %}
{%- do whole_number_var('experiment_min_nonzero', 0) %}
{%- do whole_number_var('cuped_lookback_days', 0) %}
select
    {{ sql_string(var('purchase_event')) }} as purchase_event,
    cast({{ var('ltv_horizon_months') }} as integer) as ltv_horizon_months,
    cast({{ var('experiment_alpha') }} as double) as experiment_alpha,
    cast({{ var('srm_p_threshold') }} as double) as srm_p_threshold,
    cast({{ var('sequential_tuning_n') }} as bigint) as sequential_tuning_n,
    cast({{ var('experiment_min_nonzero') }} as bigint) as experiment_min_nonzero,
    cast({{ var('cuped_lookback_days') }} as integer) as cuped_lookback_days
