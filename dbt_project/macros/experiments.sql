{#- The experiment configuration of docs/experiments.md ("Configuration"), read and checked in
    one place: every ill-formed value is a build error naming it, never a silent default. -#}


{#- True for YAML numbers, which Jinja also sees in booleans. -#}
{% macro is_real_number(value) -%}
    {{ return(value is number and value is not sameas true and value is not sameas false) }}
{%- endmacro %}

{#- Ids are compared as text (a YAML key 42 is the id "42"). -#}
{% macro experiment_text(value) -%}
    {{ return(value | string) }}
{%- endmacro %}

{#- The metric objects of experiment_metrics, completed with their defaults and checked. -#}
{% macro experiment_metrics() -%}
    {%- set configured = var('experiment_metrics') -%}
    {%- if configured is none -%}
        {%- set configured = [
            {'name': 'activation', 'type': 'conversion', 'event': var('activation_event'),
             'window_days': var('activation_window_days')},
            {'name': 'purchase', 'type': 'conversion', 'event': var('purchase_event'), 'window_days': 14,
             'revenue_positive': true},
            {'name': 'revenue', 'type': 'revenue', 'window_days': 14},
            {'name': 'week_2_retention', 'type': 'retention', 'start_day': 7, 'end_day': 13},
        ] -%}
    {%- endif -%}
    {%- if not is_list(configured) or configured | length == 0 -%}
        {{ var_error('experiment_metrics', 'must be a non-empty list of metric objects') }}
    {%- endif -%}
    {%- set metrics = [] -%}
    {%- set names = [] -%}
    {%- for metric in configured -%}
        {%- set where = 'experiment_metrics[' ~ loop.index0 ~ ']' -%}
        {%- if metric is not mapping -%}{{ var_error(where, 'must be an object with name and type') }}{%- endif -%}
        {%- for key in ['name', 'type'] -%}
            {%- if metric.get(key) is none or (metric[key] | string | trim) == '' -%}
                {{ var_error(where, "has no '" ~ key ~ "'") }}
            {%- endif -%}
        {%- endfor -%}
        {%- set name = metric['name'] | string -%}
        {%- set where = 'experiment_metrics.' ~ name -%}
        {%- if name in names -%}{{ var_error(where, 'is defined twice') }}{%- endif -%}
        {%- do names.append(name) -%}
        {%- set kind = metric['type'] -%}
        {%- if kind not in ['conversion', 'count', 'revenue', 'retention'] -%}
            {{ var_error(where ~ '.type', "'" ~ kind ~ "' is not one of conversion, count, revenue, retention") }}
        {%- endif -%}
        {%- set required = {'conversion': ['event', 'window_days'], 'count': ['event', 'window_days'],
                            'revenue': ['window_days'], 'retention': ['start_day', 'end_day']}[kind] -%}
        {%- for key in required -%}
            {%- if metric.get(key) is none -%}
                {{ var_error(where, "a " ~ kind ~ " metric needs '" ~ key ~ "'") }}
            {%- endif -%}
        {%- endfor -%}
        {%- for key in ['window_days', 'start_day', 'end_day'] -%}
            {%- set value = metric.get(key) -%}
            {%- if value is not none and not (value is integer and value is not sameas true and value is not sameas false and value >= 0) -%}
                {{ var_error(where ~ '.' ~ key, 'must be a whole number of days >= 0, got ' ~ value) }}
            {%- endif -%}
        {%- endfor -%}
        {%- if kind == 'retention' and metric['start_day'] > metric['end_day'] -%}
            {{ var_error(where, 'start_day is after end_day') }}
        {%- endif -%}
        {%- if kind in ['conversion', 'count'] and (metric['event'] is not string or metric['event'] | trim == '') -%}
            {{ var_error(where ~ '.event', 'must be an event name') }}
        {%- endif -%}
        {%- set goal = metric.get('goal', 'increase') -%}
        {%- if goal not in ['increase', 'decrease'] -%}
            {{ var_error(where ~ '.goal', "'" ~ goal ~ "' is not increase or decrease") }}
        {%- endif -%}
        {%- for key in ['revenue_positive', 'guardrail'] -%}
            {%- if metric.get(key) is not none and metric[key] is not sameas true and metric[key] is not sameas false -%}
                {{ var_error(where ~ '.' ~ key, 'must be true or false') }}
            {%- endif -%}
        {%- endfor -%}
        {%- do metrics.append({
            'name': name,
            'type': kind,
            'event': metric.get('event') if kind in ['conversion', 'count'] else none,
            'window_days': metric.get('window_days') if kind != 'retention' else none,
            'start_day': metric.get('start_day') if kind == 'retention' else none,
            'end_day': metric.get('end_day') if kind == 'retention' else none,
            'revenue_positive': (metric.get('revenue_positive') is sameas true) and kind in ['conversion', 'count'],
            'goal': goal,
            'guardrail': metric.get('guardrail') is sameas true,
        }) -%}
    {%- endfor -%}
    {{ return(metrics) }}
{%- endmacro %}

{#- The experiments var, checked: one object per configured experiment with its id, control
    (none for the default), weights as [variation_id, weight] pairs (empty for equal weights)
    and metric names (empty for all). An empty object, list or mapping counts as absent. -#}
{% macro experiments_config() -%}
    {%- set configured = var('experiments') -%}
    {%- if configured is none -%}{%- set configured = {} -%}{%- endif -%}
    {%- if configured is not mapping -%}
        {{ var_error('experiments', 'must be a mapping from experiment id to {control, weights, metrics}') }}
    {%- endif -%}
    {%- set metric_names = experiment_metrics() | map(attribute='name') | list -%}
    {%- set experiments = [] -%}
    {%- for key, options in configured.items() -%}
        {%- set experiment_id = experiment_text(key) -%}
        {%- set where = 'experiments.' ~ experiment_id -%}
        {%- if options is none or (options is mapping and options | length == 0) -%}{%- set options = {} -%}{%- endif -%}
        {%- if options is not mapping -%}
            {{ var_error(where, 'must be an object with control, weights and/or metrics') }}
        {%- endif -%}
        {%- for option in options -%}
            {%- if option not in ['control', 'weights', 'metrics'] -%}
                {{ var_error(where, "unknown key '" ~ option ~ "' (expected control, weights, metrics)") }}
            {%- endif -%}
        {%- endfor -%}
        {%- set weights = [] -%}
        {%- set raw_weights = options.get('weights') -%}
        {%- if raw_weights is not none and not (raw_weights is mapping and raw_weights | length == 0)
               and not (raw_weights is iterable and raw_weights is not string and raw_weights | length == 0) -%}
            {%- if raw_weights is not mapping -%}
                {{ var_error(where ~ '.weights', 'must map variation ids to positive numbers') }}
            {%- endif -%}
            {%- for variation, weight in raw_weights.items() -%}
                {%- if not is_real_number(weight) or weight <= 0 -%}
                    {{ var_error(where ~ '.weights.' ~ experiment_text(variation), 'must be a positive number, got ' ~ weight) }}
                {%- endif -%}
                {%- do weights.append([experiment_text(variation), weight]) -%}
            {%- endfor -%}
        {%- endif -%}
        {%- set control = options.get('control') -%}
        {%- if control is not none -%}
            {%- set control = experiment_text(control) -%}
            {%- if weights and control not in (weights | map('first') | list) -%}
                {{ var_error(where ~ '.control', "'" ~ control ~ "' is not one of the variations in weights") }}
            {%- endif -%}
        {%- endif -%}
        {%- set metrics = options.get('metrics') -%}
        {%- if metrics is none or (metrics is iterable and metrics | length == 0) -%}
            {%- set metrics = [] -%}
        {%- elif not is_list(metrics) -%}
            {{ var_error(where ~ '.metrics', 'must be a list of metric names') }}
        {%- endif -%}
        {%- for name in metrics -%}
            {%- if name not in metric_names -%}
                {{ var_error(where ~ '.metrics', "unknown metric '" ~ name ~ "' (known: " ~ metric_names | join(', ') ~ ")") }}
            {%- endif -%}
        {%- endfor -%}
        {%- do experiments.append({'id': experiment_id, 'control': control, 'weights': weights, 'metrics': metrics}) -%}
    {%- endfor -%}
    {{ return(experiments) }}
{%- endmacro %}

{#- Rows as a typed relation; with no rows, a relation with the same columns and none.
    Types are SQL names both engines read, but for varchar: the engine's text type. -#}
{% macro values_relation(typed_columns, rows) -%}
    {%- set columns = [] -%}
    {%- for name, type in typed_columns -%}
        {%- do columns.append((name, dbt.type_string() if type == 'varchar' else type)) -%}
    {%- endfor -%}
    {%- if rows | length == 0 -%}
    select {% for name, type in columns %}cast(null as {{ type }}) as {{ name }}{% if not loop.last %}, {% endif %}{% endfor %}
    where false
    {%- else -%}
    select {% for name, type in columns %}cast({{ name }} as {{ type }}) as {{ name }}{% if not loop.last %}, {% endif %}{% endfor %}
    from (values
        {%- for row in rows %}
        ({% for value in row %}{{ sql_literal(value) }}{% if not loop.last %}, {% endif %}{% endfor %}){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as config_rows ({% for name, type in columns %}{{ name }}{% if not loop.last %}, {% endif %}{% endfor %})
    {%- endif -%}
{%- endmacro %}

{% macro sql_literal(value) -%}
    {%- if value is none -%}null
    {%- elif value is sameas true -%}true
    {%- elif value is sameas false -%}false
    {%- elif value is number -%}{{ value }}
    {%- else -%}{{ sql_string(value) }}
    {%- endif -%}
{%- endmacro %}

{#- An id property at `path` of the JSON text `json`, as experiments.md reads it: a string
    non-empty after trimming spaces, kept as sent, or a JSON integer as its decimal string;
    anything else is null (not usable). -#}
{% macro usable_json_id(json, path) -%}
    case
        when {{ json_type_at(json, path) }} = 'VARCHAR' and {{ trim_spaces(json_text_at(json, path)) }} <> ''
            then {{ json_text_at(json, path) }}
        when {{ json_type_at(json, path) }} in ('BIGINT', 'UBIGINT') then {{ json_text_at(json, path) }}
    end
{%- endmacro %}

{#- A label property: a string that is not blank after trimming spaces, kept as sent. -#}
{% macro json_label(json, path) -%}
    case
        when {{ json_type_at(json, path) }} = 'VARCHAR' and {{ trim_spaces(json_text_at(json, path)) }} <> ''
            then {{ json_text_at(json, path) }}
    end
{%- endmacro %}

{#- (experiment_id, metric_name) for every experiment of `experiments` (a relation with an
    experiment_id column) and each metric it analyses: its configured metrics, else all. -#}
{% macro experiment_metric_pairs(experiments) -%}
    {%- set rows = [] -%}
    {%- for experiment in experiments_config() -%}
        {%- for name in experiment.metrics -%}{%- do rows.append([experiment.id, name]) -%}{%- endfor -%}
    {%- endfor -%}
    select analysed.experiment_id, metrics.metric_name
    from (select distinct experiment_id from {{ experiments }}) as analysed
    cross join {{ ref('int_experiment_metrics') }} as metrics
    left join ({{ values_relation([('experiment_id', 'varchar'), ('metric_name', 'varchar')], rows) }}) as selected
        on selected.experiment_id = analysed.experiment_id and selected.metric_name = metrics.metric_name
    where selected.metric_name is not null
       or analysed.experiment_id not in (
           select experiment_id from ({{ values_relation([('experiment_id', 'varchar'), ('metric_name', 'varchar')], rows) }}) as configured
       )
{%- endmacro %}
