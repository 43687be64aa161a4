"""The revenue marts of tests/test_dbt_revenue.py's events, worked out by hand, shared.

tests/test_dbt_revenue.py builds them from its hand-written events and compares; the report's
test (tests/test_report_revenue.py) writes them as marts and checks the sections drawn from
them. The users (a, c, e, f, g, h, i) and their payments are described in
tests/test_dbt_revenue.py; the arithmetic is in the comments below. The data ends on 15 June
2026, so June is running.
"""

from __future__ import annotations

from datetime import date
from typing import Any

DEC = date(2025, 12, 1)
JAN, FEB, MAR, APR, MAY, JUN = (date(2026, month, 1) for month in range(1, 7))

# fct_mrr: month, mrr, customers, arpu, new, expansion, contraction, churned, reactivation,
# unrecognized_intervals, is_complete
MRR: list[tuple[Any, ...]] = [
    # a 30 + c 20 + g 30, all new; arpu 80 / 3
    (JAN, 80.0, 3, 80 / 3, 80.0, 0.0, 0.0, 0.0, 0.0, 0, True),
    # + e's 10 (new); h's "weekly" and "" purchases are unrecognised; arpu 90 / 4
    (FEB, 90.0, 4, 22.5, 10.0, 0.0, 0.0, 0.0, 0.0, 2, True),
    # + f's 100 (new), e 10 -> 40 (expansion 30): 90 + 100 + 30 = 220 over a, c, e, f, g;
    # h's number and object are unrecognised, its null is not
    (MAR, 220.0, 5, 44.0, 100.0, 30.0, 0.0, 0.0, 0.0, 2, True),
    # e 40 -> 25 (contraction 15); a 30, c 20, g 30 churn: 220 - 15 - 80 = 125 over e, f;
    # h's "weekly" refund is no purchase
    (APR, 125.0, 2, 62.5, 0.0, 0.0, 15.0, 80.0, 0.0, 0, True),
    # i's 80 (new), g's 35 (reactivation): 125 + 80 + 35 = 240 over e, f, g, i
    (MAY, 240.0, 4, 60.0, 80.0, 0.0, 0.0, 0.0, 35.0, 0, True),
    # nothing moves; e's renewal is not due yet; the running month is not complete; no
    # row after June although f's year runs to March 2027
    (JUN, 240.0, 4, 60.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0, False),
]

# fct_revenue_retention: cohort_month, months_since_start, customers, starting_mrr, mrr,
# retained_customers, net_revenue_retention, gross_revenue_retention, is_complete
RETENTION: list[tuple[Any, ...]] = [
    # January: a 30, c 20, g 30 = 80 for three months, none in April; in May and June only
    # g's 35: NRR 35 / 80 = 0.4375; GRR caps g at its January 30: 30 / 80 = 0.375
    (JAN, 0, 3, 80.0, 80.0, 3, 1.0, 1.0, True),
    (JAN, 1, 3, 80.0, 80.0, 3, 1.0, 1.0, True),
    (JAN, 2, 3, 80.0, 80.0, 3, 1.0, 1.0, True),
    (JAN, 3, 3, 80.0, 0.0, 0, 0.0, 0.0, True),
    (JAN, 4, 3, 80.0, 35.0, 1, 0.4375, 0.375, True),
    (JAN, 5, 3, 80.0, 35.0, 1, 0.4375, 0.375, False),
    # February: e alone, 10; then 40 (NRR 4.0) and 25 (2.5); GRR caps every month at 10: 1.0
    (FEB, 0, 1, 10.0, 10.0, 1, 1.0, 1.0, True),
    (FEB, 1, 1, 10.0, 40.0, 1, 4.0, 1.0, True),
    (FEB, 2, 1, 10.0, 25.0, 1, 2.5, 1.0, True),
    (FEB, 3, 1, 10.0, 25.0, 1, 2.5, 1.0, True),
    (FEB, 4, 1, 10.0, 25.0, 1, 2.5, 1.0, False),
    # March: f's 100 every month
    (MAR, 0, 1, 100.0, 100.0, 1, 1.0, 1.0, True),
    (MAR, 1, 1, 100.0, 100.0, 1, 1.0, 1.0, True),
    (MAR, 2, 1, 100.0, 100.0, 1, 1.0, 1.0, True),
    (MAR, 3, 1, 100.0, 100.0, 1, 1.0, 1.0, False),
    # May: i's 80 (the later payment of the same instant by messageId)
    (MAY, 0, 1, 80.0, 80.0, 1, 1.0, 1.0, True),
    (MAY, 1, 1, 80.0, 80.0, 1, 1.0, 1.0, False),
]

# fct_campaign_acquisition: month, channel, campaign, spend, signups, new_customers,
# cost_per_signup, cac, revenue_to_date (by month, channel, campaign)
CAMPAIGNS: list[tuple[Any, ...]] = [
    (DEC, "google", "brand search", 20.0, 0, 0, None, None, 0.0),
    # users of the month: h (direct, no campaign: (none)); first purchase Jan 12. Its
    # revenue: 50 + 60 + 70 + 12 + 8 + 5 - 5 (the refund) = 200
    (JAN, "direct", "(none)", None, 1, 1, None, None, 200.0),
    # g's "(None)" is the label (none); no spend row matches it: spend null, no ratios.
    # g's revenue 90 + 35 = 125, first purchase Jan 15
    (JAN, "google", "(none)", None, 1, 1, None, None, 125.0),
    # blank and missing campaigns: 40 + 10, never charged to the (none) users above
    (JAN, "google", "(unattributed)", 50.0, 0, 0, None, None, 0.0),
    # 100 + 50 (" Google ", "brand search ") = 150 for a and c (" BRAND search "), both
    # first paying in January (Jan 10, Jan 31): 150 / 2 = 75 each; revenue a 90 + c 40 = 130
    (JAN, "google", "brand search", 150.0, 2, 2, 75.0, 75.0, 130.0),
    (FEB, "facebook", "lookalike", 30.0, 0, 0, None, None, 0.0),
    # a zero spend row makes spend 0 (not null): cost per signup 0 / 1 = 0; f pays only in
    # March (cac 0 / 0 is null); f's revenue 1200
    (FEB, "facebook", "retargeting", 0.0, 1, 0, 0.0, None, 1200.0),
    # e (no campaign), first purchase Feb 5; revenue 10 + 10 + 40 + 25 + 25 - 10 + 15 = 115
    (FEB, "google", "(none)", None, 1, 1, None, None, 115.0),
    # f's first purchase: a new customer of the row, with no signup in it
    (MAR, "facebook", "retargeting", None, 0, 1, None, None, 0.0),
    # i's "(Unattributed)" is spelled like the spend label and merges with it: 80 / 1
    # signup; revenue 80 + 60 = 140
    (MAY, "linkedin", "(unattributed)", 80.0, 1, 1, 80.0, 80.0, 140.0),
]
