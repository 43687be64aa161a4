{#-
  The growth-accounting identities of metrics.md (marts.fct_growth_accounting), per grain;
  the previous period is the row before (the mart is dense from its first period on).
  Returns every period that breaks one:
    active = new + retained + resurrected;
    |A(p-1)| = retained(p) + churned(p) in every period after the first;
    nobody is retained or churned in the first period (A(p-1) is empty).
-#}
with

periods as (

    select
        *,
        lag(active_users) over (partition by grain order by period_start) as previous_active_users
    from {{ ref('fct_growth_accounting') }}

)

select *
from periods
where active_users <> new_users + retained_users + resurrected_users
   or (previous_active_users is not null and previous_active_users <> retained_users + churned_users)
   or (previous_active_users is null and (retained_users <> 0 or churned_users <> 0))
