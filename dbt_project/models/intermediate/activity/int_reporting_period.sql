{#- data_end_date (metrics.md "Data end"): the latest date of any valid event. Every
    "as of" question is answered as of this date, never the wall clock. -#}
select max(event_date) as data_end_date
from {{ ref('stg_segment__events') }}
