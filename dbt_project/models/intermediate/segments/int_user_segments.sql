{#-
  Every user's segment in every breakdown dimension (segments.md "Breakdowns"), one row per
  (user, dimension): the dim_users column's value as text (booleans true/false, integers
  as digits), null shown as (none); per dimension only the breakdown_max_values values
  with the most users among all of dim_users are kept (ties: smaller text in byte order
  first, (none) ranked as that text), every other user is in (other). A real value spelled
  (none) merges with (none); one spelled (other) never takes a kept slot.

  Reads the published dim_users on purpose: a dimension may be any of its columns, and the
  ranking is over all its users (an old cohort's (other) can change as new users arrive).
-#}
{%- set dimensions = breakdown_dimensions() %}
{%- set max_values = whole_number_var('breakdown_max_values', 1) %}
{{ check_breakdown_columns(ref('dim_users'), dimensions) }}
with

users as (

    select * from {{ ref('dim_users') }}

),

user_values as (

    {%- for dimension in dimensions %}
    select
        user_key,
        '{{ dimension }}' as dimension,
        coalesce(cast({{ adapter.quote(dimension) }} as {{ dbt.type_string() }}), '(none)') as segment_value
    from users
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
    {%- if not dimensions %}
    select cast(null as {{ dbt.type_string() }}) as user_key, cast(null as {{ dbt.type_string() }}) as dimension, cast(null as {{ dbt.type_string() }}) as segment_value
    where false
    {%- endif %}

),

ranked as (

    select
        dimension,
        segment_value,
        row_number() over (partition by dimension order by count(*) desc, segment_value) as value_rank
    from user_values
    where segment_value <> '(other)'
    group by dimension, segment_value

)

select
    user_values.user_key,
    user_values.dimension,
    case when ranked.value_rank <= {{ max_values }} then user_values.segment_value else '(other)' end as segment
from user_values
left join ranked
    on ranked.dimension = user_values.dimension
    and ranked.segment_value = user_values.segment_value
