{#- data_end_date (metrics.md "Data end"): the latest date of any valid event, and
    data_end_at, its latest timestamp (experiments.md: a metric's window is over once it
    ends at or before it). Every "as of" question is answered as of these, never the wall
    clock. -#}
select
    max(event_date) as data_end_date,
    max(event_at) as data_end_at
from {{ ref('stg_segment__events') }}
