{#- One row per user and date on which the user had an activity event. -#}
select
    user_key,
    event_date as activity_date,
    count(*) as activity_events
from {{ ref('int_events_attributed') }}
where is_activity
group by user_key, event_date
