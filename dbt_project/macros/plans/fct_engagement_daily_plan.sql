{#- fct_engagement_daily's plan: the dates from the earliest session start fct_sessions
    rewrote since this model's last run are deleted, and the model aggregates them again. -#}
{% macro engagement_daily_delete_changed(ready) -%}
    {%- if ready -%}
    delete from {{ this }} where session_date >= {{ reporting_date(parent_changed_from('fct_sessions')) }}
    {%- endif -%}
{%- endmacro %}
