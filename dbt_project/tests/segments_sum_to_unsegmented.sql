{#-
  segments.md "Breakdowns": for every dimension, summing a cohort's cohort_size (or signups)
  over its segments gives the unsegmented mart's figure. Returns every (mart, grain,
  dimension, cohort) where it does not, including cohorts missing on either side.
-#}
with

retention_segments as (

    select grain, dimension, cohort_start, sum(cohort_size) as users
    from {{ ref('fct_retention_by_segment') }}
    where period_number = 0
    group by 1, 2, 3

),

retention as (

    select grain, cohort_start, cohort_size as users
    from {{ ref('fct_retention') }}
    where period_number = 0 and grain in ('week', 'month')

),

activation_segments as (

    select grain, dimension, cohort_start, sum(signups) as users
    from {{ ref('fct_activation_by_segment') }}
    group by 1, 2, 3

),

activation as (

    select grain, cohort_start, signups as users
    from {{ ref('fct_activation') }}
    where grain in ('week', 'month')

),

dimensions as (

    select distinct dimension from {{ ref('int_user_segments') }}

),

expected as (

    select 'retention' as mart, retention.grain, dimensions.dimension, retention.cohort_start, retention.users
    from retention cross join dimensions
    union all
    select 'activation', activation.grain, dimensions.dimension, activation.cohort_start, activation.users
    from activation cross join dimensions

),

summed as (

    select 'retention' as mart, * from retention_segments
    union all
    select 'activation', * from activation_segments

)

select
    coalesce(expected.mart, summed.mart) as mart,
    coalesce(expected.grain, summed.grain) as grain,
    coalesce(expected.dimension, summed.dimension) as dimension,
    coalesce(expected.cohort_start, summed.cohort_start) as cohort_start,
    expected.users as unsegmented_users,
    summed.users as summed_users
from expected
full outer join summed
    on summed.mart = expected.mart
    and summed.grain = expected.grain
    and summed.dimension = expected.dimension
    and summed.cohort_start = expected.cohort_start
where expected.users is distinct from summed.users
