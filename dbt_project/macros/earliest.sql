{#-
  "Earliest" and "latest" in (timestamp, messageId) order (segments.md), as aggregates and as
  a fold of two stored candidates. A candidate is three columns: <name>_at, <name>_message_id
  and <name> (the value), all null when there is none.
-#}

{#- The (timestamp, messageId) sort key of a row where `condition` holds, else null. -#}
{% macro order_key(at, message_id, condition) -%}
    case when {{ condition }} then {{ struct_of([('at', at), ('id', message_id)]) }} end
{%- endmacro %}

{#- `value` of the earliest (or with latest=true the latest) row where `condition` holds and
    `value` is not null; null when there is none. -#}
{% macro pick_value(value, condition, latest=false, at='event_at', message_id='message_id') -%}
    {{ 'max' if latest else 'min' }}_by({{ value }}, {{ order_key(at, message_id, '(' ~ condition ~ ') and ' ~ value ~ ' is not null') }})
{%- endmacro %}

{#- Candidate `name` of `left` and `right` folded into one: the earlier (or later) of the two. -#}
{% macro fold_candidate(name, left, right, latest=false) -%}
    {%- set op = '>' if latest else '<' -%}
    {%- set right_wins -%}
        {{ right }}.{{ name }}_at is not null and (
            {{ left }}.{{ name }}_at is null
            or {{ right }}.{{ name }}_at {{ op }} {{ left }}.{{ name }}_at
            or ({{ right }}.{{ name }}_at = {{ left }}.{{ name }}_at
                and {{ right }}.{{ name }}_message_id {{ op }} {{ left }}.{{ name }}_message_id)
        )
    {%- endset -%}
    {%- for column in [name ~ '_at', name ~ '_message_id', name] %}
    case when {{ right_wins }} then {{ right }}.{{ column }} else {{ left }}.{{ column }} end as {{ column }}
    {%- if not loop.last %},{% endif %}
    {%- endfor %}
{%- endmacro %}
