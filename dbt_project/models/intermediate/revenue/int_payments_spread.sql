{#-
  Each user's MRR per month (revenue.md "MRR"): one row per (user, month) with MRR > 0, up to
  the month of data_end_date. A month's snapshot date is its last day, or data_end_date for
  the month holding it; the user's MRR there is revenue / k of their latest recurring payment
  dated <= the snapshot date, while the snapshot date is before that payment's date + k
  months (same day of month, clamped to the month's last day) + mrr_grace_days days.

  So a payment sets its MRR at the snapshot dates in [its date, stop), stop being the earlier
  of its end (date + k months + grace) and the date of the user's next recurring payment in
  (timestamp, messageId) order: from then on that one is the latest (a next payment of the
  same date leaves this one no snapshot date at all). Snapshot dates rise with the month, so
  those are a run of months from the payment's month: every month up to that of
  data_end_date when data_end_date < stop, else the months before stop's month (a month's
  last day is before stop exactly when the month starts before stop's month). Each snapshot
  date has one latest payment, so each (user, month) comes from one payment.
-#}
with

payments as (

    select * from {{ ref('int_payments_classified') }} where is_recurring

),

reporting_period as (

    select data_end_date from {{ ref('int_reporting_period') }}

),

windows as (

    select
        user_key,
        event_date,
        revenue / billing_interval_months as mrr,
        {{ add_periods('day', mrr_grace_days(), add_periods('month', 'billing_interval_months', 'event_date')) }}
            as ends_on,
        lead(event_date) over (partition by user_key order by event_at, message_id) as next_payment_date
    from payments

),

stops as (

    select user_key, event_date, mrr, least(ends_on, coalesce(next_payment_date, ends_on)) as stop_date
    from windows

),

runs as (

    select
        stops.user_key,
        stops.event_date,
        stops.mrr,
        case
            when reporting_period.data_end_date < stops.stop_date
                then {{ periods_between('month', 'stops.event_date', 'reporting_period.data_end_date') }} + 1
            else {{ periods_between('month', 'stops.event_date', 'stops.stop_date') }}
        end as months
    from stops
    cross join reporting_period

)

select
    runs.user_key,
    {{ add_periods('month', 'series.n', trunc_date('month', 'runs.event_date')) }} as month,
    runs.mrr
from runs
cross join {{ integer_series('runs.months - 1') }} as series(n)
where runs.months > 0
