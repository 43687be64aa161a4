{#- The recurring-revenue configuration and rules of revenue.md, read and checked in one
    place: every ill-formed value is a build error naming it. -#}

{#- billing_interval_property: the name of the purchase property holding the billing
    interval. Any non-blank name a JSON key can have, but for a double quote or a backslash,
    which would end or escape the quoted key of the JSON path. -#}
{% macro billing_interval_property() -%}
    {%- set name = var('billing_interval_property') -%}
    {%- if name is not string or name | trim == '' or '"' in name or '\\' in name -%}
        {{ var_error('billing_interval_property', 'must be a non-blank property name without " or \\, got ' ~ name) }}
    {%- endif -%}
    {{ return(name) }}
{%- endmacro %}

{#- mrr_grace_days: days a renewal may come after its due date and still be no churn. -#}
{% macro mrr_grace_days() -%}
    {{ return(whole_number_var('mrr_grace_days', 0)) }}
{%- endmacro %}

{#- The months a payment covers, from the JSON text of its properties object (revenue.md
    "MRR"): 1, 3 or 12 for a string that is, lowercased and trimmed, a recognised interval;
    0 for an unrecognised interval (present with any other value: another string, a blank, a
    number, an object; one-time revenue, but counted); null when the property is absent or
    null (one-time revenue). -#}
{% macro billing_interval_months(properties_json) -%}
    {%- set path = json_key_path(billing_interval_property()) -%}
    {%- set kind = json_type_at(properties_json, path) -%}
    {%- set value = "lower(" ~ trim_spaces(json_text_at(properties_json, path)) ~ ")" -%}
    case
        when {{ kind }} is null or {{ kind }} = 'NULL' then null
        when {{ kind }} <> 'VARCHAR' then 0
        when {{ value }} in ('month', 'monthly') then 1
        when {{ value }} in ('quarter', 'quarterly') then 3
        when {{ value }} in ('year', 'yearly', 'annual') then 12
        else 0
    end
{%- endmacro %}

{#- A campaign's key (revenue.md "Campaign economics"): lower(trim()), or `label` when null
    or blank ('(none)' for users, '(unattributed)' for spend). The labels are plain keys, so a
    real campaign spelled like one merges with it, and the two never match each other. -#}
{% macro campaign_key(campaign, label) -%}
    coalesce(nullif(lower({{ trim_spaces(campaign) }}), ''), {{ sql_string(label) }})
{%- endmacro %}
