-- metrics.md invariants: active = new + retained + resurrected, and
-- |A(p-1)| = retained(p) + churned(p) for every period after the first.
with ordered as (
    select
        *,
        lag(active_users) over (partition by grain order by period_start) as previous_active_users
    from {{ ref('fct_growth_accounting') }}
)
select *
from ordered
where active_users <> new_users + retained_users + resurrected_users
   or (previous_active_users is not null and previous_active_users <> retained_users + churned_users)
