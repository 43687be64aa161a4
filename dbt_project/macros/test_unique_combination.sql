{#- A generic test for a unique combination of columns (dbt_utils is not available offline). -#}
{% test unique_combination_of_columns(model, columns) %}
select {{ columns | join(', ') }}, count(*) as copies
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- The same rule for an incremental model, checked where an incremental build can break
    it: among the rows the latest build wrote (largest _batch_at), and between those and
    the older rows. A full build writes every row at once, so it checks the whole table;
    an incremental one does not regroup tens of millions of untouched rows. -#}
{% test unique_in_incremental_model(model, columns) %}
{%- set key = columns | join(', ') %}
with

latest_build as (

    select max(_batch_at) as batch_at from {{ model }}

),

written as (

    select {{ key }} from {{ model }} where _batch_at = (select batch_at from latest_build)

),

older as (

    select {{ key }} from {{ model }} where _batch_at < (select batch_at from latest_build)

)

select {{ key }}, count(*) as copies
from written
group by {{ key }}
having count(*) > 1
union all
select {% for column in columns %}older.{{ column }}, {% endfor %}2
from older
join written on {% for column in columns %}written.{{ column }} = older.{{ column }}{% if not loop.last %} and {% endif %}{% endfor %}
{% endtest %}
