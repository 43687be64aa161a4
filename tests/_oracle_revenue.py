"""An independent oracle for the marts of revenue.md (recurring revenue and campaign economics).

Written from the contract text alone (``revenue.md``, with the terms of ``metrics.md`` and
``events.md``), never from the dbt models: it reads only input tables the core checks already
cover (``int_events_attributed`` for identity, ``raw.events`` for payloads, ``raw.marketing_spend``,
the core columns of ``dim_users``, ``fct_acquisition`` and ``data_end_date``) and re-derives
revenue, billing intervals, MRR and campaign keys in Python.

``differences(con, mart)`` compares one mart row by row with the oracle and returns one
readable line per difference (an empty list when the mart meets the contract).
"""

from __future__ import annotations

import bisect
import calendar
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from tests._oracle_rows import Row, compare, project_vars, revenue_value

MARTS = ("fct_mrr", "fct_revenue_retention", "fct_campaign_acquisition")

# revenue.md "MRR": recognised interval spellings and the months `k` each covers.
INTERVAL_MONTHS = {"month": 1, "monthly": 1, "quarter": 3, "quarterly": 3, "year": 12, "yearly": 12, "annual": 12}

# events.md "Derived values": a string revenue after trimming white space.

NO_CAMPAIGN = "(none)"
UNATTRIBUTED = "(unattributed)"


@dataclass(frozen=True)
class Vars:
    """The dbt vars this page reads (metrics.md "Configuration" plus revenue.md's own)."""

    purchase_event: str = "Order Completed"
    reporting_timezone: str = "UTC"
    billing_interval_property: str = "interval"
    mrr_grace_days: int = 7

    @classmethod
    def from_project(cls) -> Vars:
        """The vars in force in ``dbt_project.yml`` (defaults for any it leaves out)."""
        declared = project_vars()
        fields = cls.__dataclass_fields__
        return cls(**{name: declared[name] for name in fields if declared.get(name) is not None})


@dataclass(frozen=True)
class Purchase:
    """A valid track ``purchase_event`` with revenue > 0 and a ``user_key`` (revenue.md "MRR")."""

    user_key: str
    at: datetime
    message_id: str
    day: date
    revenue: float
    months: int | None  # k for a recurring payment; None for one-time revenue
    unrecognised: bool


@dataclass(frozen=True)
class User:
    """The core ``dim_users`` columns this page reads (metrics.md "marts.dim_users")."""

    user_key: str
    signup_date: date
    channel: str
    campaign: str | None
    lifetime_revenue: float


# ---------------------------------------------------------------------------- calendar


def month_start(day: date) -> date:
    """metrics.md "Dates": a month is named by its first day."""
    return day.replace(day=1)


def month_end(month: date) -> date:
    """The last day of the month holding ``month``."""
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def add_months(day: date, months: int) -> date:
    """revenue.md "MRR": ``k`` calendar months later, same day of month, clamped to its last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def months_between(a: date, b: date) -> int:
    """metrics.md "Dates": ``periods_between(month, a, b)``."""
    return (b.year - a.year) * 12 + b.month - a.month


def month_range(first: date, last: date) -> list[date]:
    """Every month from ``first``'s to ``last``'s, inclusive."""
    return [add_months(month_start(first), n) for n in range(months_between(first, last) + 1)]


# ---------------------------------------------------------------------------- inputs


def parse_revenue(properties: Any) -> float | None:
    """events.md "Derived values": ``properties.revenue``."""
    return revenue_value(properties.get("revenue")) if isinstance(properties, dict) else None


def parse_interval(properties: dict[str, Any], name: str) -> tuple[int | None, bool]:
    """revenue.md "MRR": ``(k, unrecognised)`` from ``properties.<billing_interval_property>``.

    Absent or null is one-time revenue; a string that lowercased and trimmed (spaces only)
    is a known spelling is recurring; anything else present is an unrecognised interval.
    """
    value = properties.get(name)
    if value is None:
        return None, False
    if isinstance(value, str) and value.lower().strip(" ") in INTERVAL_MONTHS:
        return INTERVAL_MONTHS[value.lower().strip(" ")], False
    return None, True


def winning_payloads(con: duckdb.DuckDBPyConnection, message_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """events.md "De-duplication": per messageId, the first stored copy in ingestion order."""
    wanted = set(message_ids)
    records = con.execute(
        "select message_id, payload::varchar, ingested_at, kafka_partition, kafka_offset from raw.events"
        " where type = 'track'"
    ).fetchall()
    chosen: dict[str, tuple[Any, ...]] = {}
    for message_id, payload, ingested_at, partition, offset in records:
        if message_id not in wanted:
            continue
        order = (ingested_at, partition, offset)
        if message_id not in chosen or order < chosen[message_id][0]:
            chosen[message_id] = (order, payload)
    return {message_id: json.loads(payload) for message_id, (_, payload) in chosen.items()}


def load_purchases(con: duckdb.DuckDBPyConnection, vars_: Vars) -> list[Purchase]:
    """revenue.md "MRR": every purchase with revenue > 0 and a user, in (timestamp, messageId) order."""
    events = con.execute(
        "select message_id, user_key, event_at from intermediate.int_events_attributed"
        " where event_type = 'track' and event_name = ? and user_key is not null",
        [vars_.purchase_event],
    ).fetchall()
    payloads = winning_payloads(con, (row[0] for row in events))
    zone = ZoneInfo(vars_.reporting_timezone)
    purchases = []
    for message_id, user_key, at in events:
        properties = payloads[message_id].get("properties")
        revenue = parse_revenue(properties)
        if not isinstance(properties, dict) or revenue is None or revenue <= 0:
            continue
        months, unrecognised = parse_interval(properties, vars_.billing_interval_property)
        day = at.astimezone(zone).date()
        purchases.append(Purchase(user_key, at, message_id, day, revenue, months, unrecognised))
    return sorted(purchases, key=lambda p: (p.at, p.message_id))


def load_users(con: duckdb.DuckDBPyConnection) -> list[User]:
    """The core ``dim_users`` columns (already verified by the core's checks)."""
    rows = con.execute(
        "select user_key, signup_date, acquisition_channel, acquisition_campaign, lifetime_revenue from marts.dim_users"
    ).fetchall()
    return [User(*row) for row in rows]


def data_end_date(con: duckdb.DuckDBPyConnection) -> date:
    """metrics.md "Data end"."""
    [(end,)] = con.execute("select data_end_date from intermediate.int_reporting_period").fetchall()
    return end


# ---------------------------------------------------------------------------- MRR


def snapshot_date(month: date, end: date) -> date:
    """revenue.md "MRR": a month's last day, or ``data_end_date`` for the month holding it."""
    return min(month_end(month), end)


def user_mrr(payments: list[Purchase], snapshot: date, grace_days: int) -> float:
    """revenue.md "MRR": the latest recurring payment dated ≤ snapshot, while not yet lapsed.

    ``payments`` are one user's recurring payments in (timestamp, messageId) order.
    """
    index = bisect.bisect_right(payments, snapshot, key=lambda p: p.day)
    if not index:
        return 0.0
    latest = payments[index - 1]
    assert latest.months is not None
    lapses = add_months(latest.day, latest.months) + timedelta(days=grace_days)
    return latest.revenue / latest.months if snapshot < lapses else 0.0


def mrr_matrix(purchases: list[Purchase], months: list[date], end: date, grace_days: int) -> dict[str, list[float]]:
    """Each user's MRR in each of ``months`` (users with a recurring payment only)."""
    if grace_days < 0:
        raise ValueError("mrr_grace_days must be >= 0 (revenue.md: negative is a build error)")
    by_user: dict[str, list[Purchase]] = defaultdict(list)
    for purchase in purchases:  # (timestamp, messageId) order, see load_purchases
        if purchase.months is not None:
            by_user[purchase.user_key].append(purchase)
    return {
        user: [user_mrr(payments, snapshot_date(month, end), grace_days) for month in months]
        for user, payments in by_user.items()
    }


def mrr_months(purchases: list[Purchase], end: date, grace_days: int) -> list[date]:
    """revenue.md ``fct_mrr``: from the earliest month holding MRR or an unrecognised interval
    to the month of ``data_end_date``."""
    if not purchases:
        return []
    candidates = month_range(min(p.day for p in purchases), end)
    matrix = mrr_matrix(purchases, candidates, end, grace_days)
    holding = {m for i, m in enumerate(candidates) if any(row[i] > 0 for row in matrix.values())}
    holding |= {month_start(p.day) for p in purchases if p.unrecognised}
    return month_range(min(holding), end) if holding else []


def movements(current: float, previous: float, ever_before: bool) -> dict[str, float]:
    """revenue.md ``fct_mrr``: one user's contribution to the MRR movement columns."""
    both = current > 0 and previous > 0
    return {
        "new_mrr": current if current > 0 and not ever_before else 0.0,
        "expansion_mrr": max(current - previous, 0.0) if both else 0.0,
        "contraction_mrr": max(previous - current, 0.0) if both else 0.0,
        "churned_mrr": previous if previous > 0 and current == 0 else 0.0,
        "reactivation_mrr": current if current > 0 and previous == 0 and ever_before else 0.0,
    }


def fct_mrr(purchases: list[Purchase], end: date, vars_: Vars) -> list[Row]:
    """revenue.md ``marts.fct_mrr``: one row per month with MRR, customers and movements."""
    months = mrr_months(purchases, end, vars_.mrr_grace_days)
    matrix = mrr_matrix(purchases, months, end, vars_.mrr_grace_days)
    unrecognised: dict[date, int] = defaultdict(int)
    for purchase in purchases:
        unrecognised[month_start(purchase.day)] += purchase.unrecognised
    rows = []
    for i, month in enumerate(months):
        totals = dict.fromkeys(("new_mrr", "expansion_mrr", "contraction_mrr", "churned_mrr", "reactivation_mrr"), 0.0)
        for series in matrix.values():
            previous = series[i - 1] if i else 0.0
            for column, value in movements(series[i], previous, any(v > 0 for v in series[:i])).items():
                totals[column] += value
        mrr = sum(series[i] for series in matrix.values())
        customers = sum(series[i] > 0 for series in matrix.values())
        rows.append(
            {
                "month": month,
                "mrr": mrr,
                "customers": customers,
                "arpu": mrr / customers if customers else None,
                **totals,
                "unrecognized_intervals": unrecognised[month],
                "is_complete": month_end(month) <= end,
            }
        )
    return rows


def fct_revenue_retention(purchases: list[Purchase], end: date, vars_: Vars) -> list[Row]:
    """revenue.md ``marts.fct_revenue_retention``: MRR kept by first-MRR-month cohort."""
    months = mrr_months(purchases, end, vars_.mrr_grace_days)
    matrix = mrr_matrix(purchases, months, end, vars_.mrr_grace_days)
    cohorts: dict[int, list[list[float]]] = defaultdict(list)
    for series in matrix.values():
        first = next((i for i, value in enumerate(series) if value > 0), None)
        if first is not None:
            cohorts[first].append(series)
    rows = []
    for start, members in sorted(cohorts.items()):
        starting = sum(series[start] for series in members)
        for k in range(len(months) - start):
            mrr = sum(series[start + k] for series in members)
            kept = sum(min(series[start + k], series[start]) for series in members)
            rows.append(
                {
                    "cohort_month": months[start],
                    "months_since_start": k,
                    "customers": len(members),
                    "starting_mrr": starting,
                    "mrr": mrr,
                    "retained_customers": sum(series[start + k] > 0 for series in members),
                    "net_revenue_retention": mrr / starting,
                    "gross_revenue_retention": kept / starting,
                    "is_complete": month_end(months[start + k]) <= end,
                }
            )
    return rows


# ---------------------------------------------------------------------------- campaigns


def user_campaign_key(campaign: str | None) -> str:
    """revenue.md "Campaign economics": ``lower(trim(acquisition_campaign))``, ``(none)`` if null/blank."""
    key = (campaign or "").strip(" ").lower()
    return key or NO_CAMPAIGN


def spend_campaign_key(campaign: str | None) -> str:
    """revenue.md "Campaign economics": ``lower(trim(campaign))``, ``(unattributed)`` when blank."""
    key = (campaign or "").strip(" ").lower()
    return key or UNATTRIBUTED


def first_purchase_dates(purchases: list[Purchase]) -> dict[str, date]:
    """metrics.md ``first_purchase_at``: the date of a user's earliest purchase with revenue > 0."""
    first: dict[str, date] = {}
    for purchase in purchases:  # (timestamp, messageId) order
        first.setdefault(purchase.user_key, purchase.day)
    return first


def fct_campaign_acquisition(con: duckdb.DuckDBPyConnection, purchases: list[Purchase], end: date) -> list[Row]:
    """revenue.md ``marts.fct_campaign_acquisition``: spend, signups and CAC per campaign."""
    last_month = month_start(end)
    spend: dict[tuple[date, str, str], float] = defaultdict(float)
    for day, channel, campaign, amount in con.execute(
        "select spend_date, channel, campaign, spend from raw.marketing_spend"
    ).fetchall():
        if month_start(day) <= last_month:  # metrics.md fct_acquisition: later spend is not shown
            spend[(month_start(day), channel.strip(" ").lower(), spend_campaign_key(campaign))] += amount
    signups: dict[tuple[date, str, str], list[User]] = defaultdict(list)
    new_customers: dict[tuple[date, str, str], int] = defaultdict(int)
    first_purchase = first_purchase_dates(purchases)
    for user in load_users(con):
        campaign = user_campaign_key(user.campaign)
        signups[(month_start(user.signup_date), user.channel, campaign)].append(user)
        if user.user_key in first_purchase:
            new_customers[(month_start(first_purchase[user.user_key]), user.channel, campaign)] += 1
    rows = []
    for key in sorted(set(spend) | set(signups) | set(new_customers)):
        cost = spend.get(key)
        users, customers = len(signups.get(key, [])), new_customers.get(key, 0)
        rows.append(
            {
                "month": key[0],
                "channel": key[1],
                "campaign": key[2],
                "spend": cost,
                "signups": users,
                "new_customers": customers,
                "cost_per_signup": cost / users if cost is not None and users else None,
                "cac": cost / customers if cost is not None and customers else None,
                "revenue_to_date": sum((user.lifetime_revenue for user in signups.get(key, [])), 0.0),
            }
        )
    return rows


# ---------------------------------------------------------------------------- oracle + comparison


KEYS = {
    "fct_mrr": ("month",),
    "fct_revenue_retention": ("cohort_month", "months_since_start"),
    "fct_campaign_acquisition": ("month", "channel", "campaign"),
}

# metrics.md "Numbers": ratios and MRR are doubles, compared tightly; other money (spend,
# revenue) may be a decimal with 2 decimal places, so it may differ by half a cent.
TIGHT = (1e-9, 1e-9)
CENT = (0.0, 0.005)
MONEY_COLUMNS = {"spend", "revenue_to_date"}
INTEGER_COLUMNS = {"customers", "unrecognized_intervals", "months_since_start", "retained_customers"}
INTEGER_COLUMNS |= {"signups", "new_customers"}


def expected(con: duckdb.DuckDBPyConnection, mart: str, vars_: Vars | None = None) -> list[Row]:
    """The oracle's rows of ``marts.<mart>``."""
    vars_ = vars_ or Vars.from_project()
    purchases, end = load_purchases(con, vars_), data_end_date(con)
    builders: dict[str, Callable[[], list[Row]]] = {
        "fct_mrr": lambda: fct_mrr(purchases, end, vars_),
        "fct_revenue_retention": lambda: fct_revenue_retention(purchases, end, vars_),
        "fct_campaign_acquisition": lambda: fct_campaign_acquisition(con, purchases, end),
    }
    return builders[mart]()


def actual(con: duckdb.DuckDBPyConnection, mart: str) -> list[Row]:
    """The product's rows of ``marts.<mart>``."""
    relation = con.execute(f"select * from marts.{mart}")
    names = [column[0] for column in relation.description]
    return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]


def same(column: str, want: Any, got: Any) -> bool:
    """Equal under metrics.md "Numbers" (nulls equal only nulls; counts must be integers)."""
    if want is None or got is None:
        return want is None and got is None
    if column in INTEGER_COLUMNS:
        return isinstance(got, int) and not isinstance(got, bool) and got == want
    if isinstance(want, float):
        if not isinstance(got, int | float | Decimal) or isinstance(got, bool) or not math.isfinite(float(got)):
            return False
        rel, abs_ = CENT if column in MONEY_COLUMNS else TIGHT
        return math.isclose(float(got), want, rel_tol=rel, abs_tol=abs_)
    return bool(got == want) and type(got) is type(want)


def campaign_sums(con: duckdb.DuckDBPyConnection, got: list[Row]) -> list[str]:
    """revenue.md: summed over campaigns (null spend as 0), a (month, channel) gives
    ``fct_acquisition``'s spend and signups."""
    spend: dict[tuple[date, str], float] = defaultdict(float)
    signups: dict[tuple[date, str], int] = defaultdict(int)
    for row in got:
        spend[(row["month"], row["channel"])] += row["spend"] or 0.0
        signups[(row["month"], row["channel"])] += row["signups"]
    lines = []
    for month, channel, total_spend, total_signups in con.execute(
        "select month, channel, spend, signups from marts.fct_acquisition where channel <> '(all)'"
    ).fetchall():
        summed_spend, summed_signups = spend.pop((month, channel), 0.0), signups.pop((month, channel), 0)
        if not math.isclose(summed_spend, total_spend or 0.0, abs_tol=0.005) or summed_signups != total_signups:
            lines.append(
                f"fct_campaign_acquisition sums ({month}, {channel}): spend {summed_spend} vs {total_spend},"
                f" signups {summed_signups} vs {total_signups} in fct_acquisition"
            )
    lines += [f"fct_campaign_acquisition sums {key}: no fct_acquisition row" for key in spend]
    return lines


def mrr_invariant(got: list[Row]) -> list[str]:
    """revenue.md: ``mrr(m) = mrr(m-1) + new + expansion + reactivation - contraction - churned``."""
    lines, previous = [], 0.0
    for row in sorted(got, key=lambda r: r["month"]):
        moved = sum(row[c] or 0.0 for c in ("new_mrr", "expansion_mrr", "reactivation_mrr"))
        moved -= sum(row[c] or 0.0 for c in ("contraction_mrr", "churned_mrr"))
        if not math.isclose(previous + moved, row["mrr"] or 0.0, rel_tol=1e-9, abs_tol=1e-6):
            lines.append(f"fct_mrr ({row['month']},): invariant gives {previous + moved}, mrr is {row['mrr']}")
        previous = row["mrr"] or 0.0
    return lines


def differences(con: duckdb.DuckDBPyConnection, mart: str) -> list[str]:
    """Every way ``marts.<mart>`` departs from revenue.md, one readable line each."""
    got = actual(con, mart)
    lines = compare(mart, KEYS[mart], expected(con, mart), got, same)
    if mart == "fct_mrr":
        lines += mrr_invariant(got)
    if mart == "fct_campaign_acquisition":
        lines += campaign_sums(con, got)
    return lines
