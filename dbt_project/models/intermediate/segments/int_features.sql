{#-
  The features (segments.md "Feature adoption"), one row per feature with the track event
  that marks its use. Configured (var features: a list of {name, event}) or, when none are,
  chosen from the data: the track event names other than signup_event and purchase_event
  used as activity by at least 1% of all users in dim_users (100 * users >= users in all),
  at most the 20 used by the most distinct users (ties: name in byte order), each named
  after its event.
-#}
{%- set configured = configured_features() %}
{%- if configured %}
select feature, event_name
from (
    values
    {%- for feature in configured %}
    ({{ sql_string(feature.name) }}, {{ sql_string(feature.event) }}){% if not loop.last %},{% endif %}
    {%- endfor %}
) as configured(feature, event_name)
{%- else %}
with

{#- Users per event name: int_user_feature_firsts has one row per (user, event). #}
usage as (

    select event_name, count(*) as users
    from {{ ref('int_user_feature_firsts') }}
    where event_name not in {{ sql_string_list([var('signup_event'), var('purchase_event')]) }}
    group by event_name

),

population as (

    select count(*) as users from {{ ref('int_user_facts') }}

),

eligible as (

    select usage.event_name, usage.users
    from usage
    cross join population
    where 100 * usage.users >= population.users

)

select event_name as feature, event_name
from eligible
qualify row_number() over (order by users desc, event_name) <= 20
{%- endif %}
