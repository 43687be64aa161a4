{#- One row per experiment metric (the var experiment_metrics, or its defaults), checked and
    completed by macros/experiments.sql: what each metric measures and over which window. -#}
{%- set rows = [] %}
{%- for metric in experiment_metrics() %}
    {%- do rows.append([metric.name, metric.type, metric.event, metric.window_days, metric.start_day, metric.end_day,
                        metric.revenue_positive, metric.goal, metric.guardrail]) %}
{%- endfor %}
{{ values_relation([
    ('metric_name', 'varchar'), ('metric_type', 'varchar'), ('event_name', 'varchar'), ('window_days', 'integer'),
    ('start_day', 'integer'), ('end_day', 'integer'), ('is_revenue_positive', 'boolean'), ('goal', 'varchar'),
    ('is_guardrail', 'boolean')
], rows) }}
