{#- Incremental strategy `restage`: the batch's rows flagged _is_restaged replace their
    stored copies (by unique_key); the rest are appended. Unlike delete+insert, a batch of
    only new rows does not scan the whole table for keys to delete. -#}
{% macro get_incremental_restage_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set temp = arg_dict['temp_relation'] -%}
    {%- set key = arg_dict['unique_key'] -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}
    {%- set restaged = run_query('select count(*) from ' ~ temp ~ ' where _is_restaged').rows[0][0] -%}
    {%- if restaged > 0 -%}
    delete from {{ target }} where {{ key }} in (select {{ key }} from {{ temp }} where _is_restaged);
    {% endif -%}
    insert into {{ target }} ({{ columns }}) select {{ columns }} from {{ temp }}
{%- endmacro %}
