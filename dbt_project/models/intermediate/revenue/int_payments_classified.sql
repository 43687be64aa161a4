{#-
  Every purchase revenue.md reads (a valid track purchase_event with revenue > 0 and a
  user_key), with the months it covers: billing_interval_months is 1, 3 or 12 for a
  recurring payment, 0 for an unrecognised interval and null without one (both one-time
  revenue). Refunds and other negative revenue are no purchase here, so they never change
  MRR. A small table: int_conversion_events holds only funnel steps and revenue events.
-#}
select
    message_id,
    user_key,
    event_at,
    event_date,
    revenue,
    billing_interval_months,
    coalesce(billing_interval_months > 0, false) as is_recurring
from {{ ref('int_conversion_events') }}
where event_name = {{ sql_string(var('purchase_event')) }}
  and revenue > 0
  and user_key is not null
