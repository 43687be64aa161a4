{#- Date helpers of metrics.md ("Dates"), dispatched so another engine can supply its own. -#}

{#- An instant's calendar date in the reporting time zone. -#}
{% macro reporting_date(timestamp_expr) -%}
    {{ return(adapter.dispatch('reporting_date', 'growth_warehouse')(timestamp_expr)) }}
{%- endmacro %}
{% macro default__reporting_date(timestamp_expr) -%}
    cast(convert_timezone({{ sql_string(var('reporting_timezone')) }}, {{ timestamp_expr }}) as date)
{%- endmacro %}
{% macro duckdb__reporting_date(timestamp_expr) -%}
    cast(timezone({{ sql_string(var('reporting_timezone')) }}, {{ timestamp_expr }}) as date)
{%- endmacro %}
{#- Spark's timestamps are instants shown in the session time zone, which the profile sets
    to UTC: from_utc_timestamp shifts them to the reporting zone's wall clock. -#}
{% macro spark__reporting_date(timestamp_expr) -%}
    to_date(from_utc_timestamp({{ timestamp_expr }}, {{ sql_string(var('reporting_timezone')) }}))
{%- endmacro %}

{#- trunc(grain, date): start of the day / ISO week (Monday) / month holding the date. -#}
{% macro trunc_date(grain, date_expr) -%}
    cast({{ dbt.date_trunc(grain, date_expr) }} as date)
{%- endmacro %}

{#- periods_between(grain, a, b): whole grain steps from trunc(grain, a) to trunc(grain, b). -#}
{% macro periods_between(grain, a, b) -%}
    {{ return(adapter.dispatch('periods_between', 'growth_warehouse')(grain, a, b)) }}
{%- endmacro %}
{% macro default__periods_between(grain, a, b) -%}
    {%- if grain == 'week' -%}
        cast({{ dbt.datediff(trunc_date('week', a), trunc_date('week', b), 'day') }} / 7 as integer)
    {%- else -%}
        {{ dbt.datediff(trunc_date(grain, a), trunc_date(grain, b), grain) }}
    {%- endif -%}
{%- endmacro %}
{% macro spark__periods_between(grain, a, b) -%}
    {%- if grain == 'week' -%}
        cast(datediff({{ trunc_date('week', b) }}, {{ trunc_date('week', a) }}) / 7 as integer)
    {%- elif grain == 'month' -%}
        cast((year({{ b }}) * 12 + month({{ b }})) - (year({{ a }}) * 12 + month({{ a }})) as bigint)
    {%- else -%}
        cast(datediff({{ trunc_date(grain, b) }}, {{ trunc_date(grain, a) }}) as bigint)
    {%- endif -%}
{%- endmacro %}
{% macro duckdb__periods_between(grain, a, b) -%}
    {%- if grain == 'week' -%}
        cast(date_diff('day', {{ trunc_date('week', a) }}, {{ trunc_date('week', b) }}) / 7 as integer)
    {%- else -%}
        date_diff('{{ grain }}', {{ trunc_date(grain, a) }}, {{ trunc_date(grain, b) }})
    {%- endif -%}
{%- endmacro %}

{#- The date n grains after a date (n may be an expression). -#}
{% macro add_periods(grain, n, date_expr) -%}
    cast({{ dbt.dateadd(grain, n, date_expr) }} as date)
{%- endmacro %}

{#- Last day of the grain period that starts at period_start. -#}
{% macro period_last_day(grain, period_start) -%}
    cast({{ dbt.dateadd('day', -1, add_periods(grain, 1, period_start)) }} as date)
{%- endmacro %}

{#- Seconds between two timestamps, fractional, exact to the stored microsecond: the
    difference is taken in integer microseconds and divided once. (The difference of two
    floating-point epochs, ~1.7e9 s each, keeps only ~1e-7 s: 1 ms came out as 0.0009999.) -#}
{% macro seconds_between(a, b) -%}
    {{ return(adapter.dispatch('seconds_between', 'growth_warehouse')(a, b)) }}
{%- endmacro %}
{% macro default__seconds_between(a, b) -%}
    {{ dbt.datediff(a, b, 'microsecond') }} / 1000000.0
{%- endmacro %}
{% macro spark__seconds_between(a, b) -%}
    (unix_micros({{ b }}) - unix_micros({{ a }})) / 1e6
{%- endmacro %}
{% macro duckdb__seconds_between(a, b) -%}
    (epoch_us({{ b }}) - epoch_us({{ a }})) / 1000000.0
{%- endmacro %}

{#- Whether instant b is more than n minutes after instant a. DuckDB's timestamptz + interval
    goes through the ICU calendar, several times slower than integer microseconds, which
    counts when it runs for every event. -#}
{% macro more_than_minutes_after(a, b, minutes) -%}
    {{ return(adapter.dispatch('more_than_minutes_after', 'growth_warehouse')(a, b, minutes)) }}
{%- endmacro %}
{% macro default__more_than_minutes_after(a, b, minutes) -%}
    {{ b }} > {{ dbt.dateadd('minute', minutes, a) }}
{%- endmacro %}
{% macro spark__more_than_minutes_after(a, b, minutes) -%}
    unix_micros({{ b }}) - unix_micros({{ a }}) > cast({{ minutes }} as bigint) * 60000000
{%- endmacro %}
{% macro duckdb__more_than_minutes_after(a, b, minutes) -%}
    epoch_us({{ b }}) - epoch_us({{ a }}) > cast({{ minutes }} as bigint) * 60000000
{%- endmacro %}

{#- Ratio with SQL null instead of a division by zero. -#}
{% macro safe_ratio(numerator, denominator) -%}
    cast({{ numerator }} as double) / nullif({{ denominator }}, 0)
{%- endmacro %}

{#- 0..n inclusive as rows of column `n`. -#}
{% macro integer_series(upper_bound_expr) -%}
    {{ return(adapter.dispatch('integer_series', 'growth_warehouse')(upper_bound_expr)) }}
{%- endmacro %}
{% macro duckdb__integer_series(upper_bound_expr) -%}
    unnest(generate_series(0, {{ upper_bound_expr }}))
{%- endmacro %}
{#- explode() of a null array gives no rows, as generate_series(0, n) does for n < 0
    (sequence(0, n) would count down). -#}
{% macro spark__integer_series(upper_bound_expr) -%}
    lateral explode(case when {{ upper_bound_expr }} >= 0 then sequence(cast(0 as bigint), cast({{ upper_bound_expr }} as bigint)) end)
{%- endmacro %}

{#- Interpolated median. -#}
{% macro median(expr) -%}
    percentile_cont(0.5) within group (order by {{ expr }})
{%- endmacro %}

{#- A timestamp as text that does not depend on the session time zone (for keys). -#}
{% macro timestamp_key(timestamp_expr) -%}
    {{ return(adapter.dispatch('timestamp_key', 'growth_warehouse')(timestamp_expr)) }}
{%- endmacro %}
{% macro default__timestamp_key(timestamp_expr) -%}
    cast({{ dbt.datediff("cast('1970-01-01' as timestamp)", timestamp_expr, 'microsecond') }} as {{ dbt.type_string() }})
{%- endmacro %}
{% macro spark__timestamp_key(timestamp_expr) -%}
    cast(unix_micros({{ timestamp_expr }}) as string)
{%- endmacro %}
{% macro duckdb__timestamp_key(timestamp_expr) -%}
    cast(epoch_us({{ timestamp_expr }}) as varchar)
{%- endmacro %}
