{#-
  Per user: what dim_users needs from the user's events (metrics.md marts.dim_users),
  computed from every attributed event with a user_key. signed_up_at = the first signup
  event, else the first event; the acquisition touch is the earliest event with a campaign
  source at or before signed_up_at (timestamp, then messageId); activated_at is the first
  activation event within activation_window_days of signed_up_at (both edges included).

  A view: nothing is computed until it is read, and it is read only when int_user_facts
  rebuilds (an incremental build of int_user_facts folds new events into its stored facts
  instead, with the same user_facts_from_events for the users it recomputes).
-#}
{{ config(materialized='view') }}
{{ user_facts_from_events("select * from " ~ ref('int_events_attributed') ~ " where user_key is not null") }}
