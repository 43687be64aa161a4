{#-
  revenue.md marts.fct_mrr: every month's MRR is the previous month's plus new, expansion and
  reactivation, minus contraction and churned (the previous month of the first row holds no
  MRR: it is before the earliest month holding any). Returns every month that breaks it,
  beyond what summing doubles in another order can change (a millionth of a cent per unit).
-#}
with

months as (

    select
        *,
        coalesce(lag(mrr) over (order by month), 0) as previous_mrr
    from {{ ref('fct_mrr') }}

)

select *
from months
where abs(
    mrr - (previous_mrr + new_mrr + expansion_mrr + reactivation_mrr - contraction_mrr - churned_mrr)
) > 1e-8 * (1 + previous_mrr + new_mrr + expansion_mrr + reactivation_mrr + contraction_mrr + churned_mrr)
