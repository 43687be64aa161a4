{#-
  The track events conversions are measured from: every funnel step event and every event
  carrying revenue (attributed, with user_key; null for anonymous visitors). A small table
  fct_funnel and int_user_revenue_months read instead of scanning every event.

  Incremental: the rows int_events_attributed wrote since the last run; those it re-staged
  (re-attributed) replace their stored copies (`restage` strategy). Whether an event
  belongs here depends only on its type, name and revenue, which re-attribution never
  changes; the funnel_steps var is part of the signature, so changing it rebuilds.
-#}
{{ config(
    materialized='incremental',
    incremental_strategy='restage',
    unique_key='message_id',
    **incremental_hooks(),
) }}
select
    message_id,
    user_key,
    event_name,
    event_at,
    event_date,
    revenue,
    billing_interval_months,
    _is_restaged,
    {{ batch_at() }} as _batch_at
from {{ ref('int_events_attributed') }}
where event_type = 'track'
  and (event_name in {{ sql_string_list(funnel_steps()) }} or revenue is not null)
  {%- if incremental_ready() %}
  and _batch_at > {{ changed_since() }}
  {%- endif %}
