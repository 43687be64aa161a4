"""An independent oracle for the marts of docs/spec `segments.md`, written from the spec text alone.

It recomputes, in plain Python, every column that page defines (the user-property columns of
`marts.dim_users`, the breakdowns, feature adoption and accounts) from trusted inputs only:

- `intermediate.int_events_attributed`: each valid event's `user_key` (identity stitching),
  `message_id`, `event_type`, `event_name`, `event_at` and `is_activity` (metrics.md);
- `raw.events.payload`: the event as sent (context, traits, groupId), first copy per
  `messageId` in ingestion order (events.md, "De-duplication");
- the core columns of `marts.dim_users` (`signed_up_at`, `signup_date`,
  `acquisition_channel`, `activated_at`, `is_customer`, `lifetime_revenue`);
- `intermediate.int_reporting_period.data_end_date`.

It never reads the project's models or macros. `differences(con, mart)` compares one mart
row by row with the oracle and returns one readable line per difference.
"""

from __future__ import annotations

import json
import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from typing import Any, TypeVar

import duckdb
import polars as pl

from tests._oracle_rows import periods_between, trunc

Row = dict[str, Any]
Key = tuple[Any, ...]
Mart = dict[Key, Row]
Oracle = dict[str, Mart]

T = TypeVar("T")

NONE_LABEL = "(none)"
OTHER_LABEL = "(other)"
SEGMENT_GRAINS = ("week", "month")


@dataclass(frozen=True)
class Config:
    """The vars in force (dbt_project.yml `vars:`; metrics.md and segments.md defaults)."""

    signup_event: str = "Signed Up"
    purchase_event: str = "Order Completed"
    activation_window_days: int = 7
    user_traits: tuple[str, ...] = ("plan", "company_size")
    breakdown_dimensions: tuple[str, ...] = ("acquisition_channel", "platform", "trait_plan")
    breakdown_max_values: int = 10
    features: tuple[tuple[str, str], ...] = ()  # (name, event); empty selects them from the data
    feature_early_days: int = 7


class _IntToken(str):
    """A JSON integer token kept exactly as its digits (segments.md: "stored as its digits")."""


@dataclass
class Event:
    """One valid event; its payload fields are parsed on first use (most are never needed)."""

    message_id: str
    user_key: str | None
    event_type: str
    event_name: str | None
    event_at: datetime
    day: date
    is_activity: bool
    payload_text: str

    @cached_property
    def payload(self) -> dict[str, Any]:
        """The event as sent, JSON integers kept as their tokens."""
        parsed = json.loads(self.payload_text, parse_int=_IntToken)
        return parsed if isinstance(parsed, dict) else {}

    def may_hold(self, key: str) -> bool:
        """False when the payload text cannot hold `key` (a shortcut that spares most parses)."""
        return f'"{key}"' in self.payload_text or "\\u" in self.payload_text

    @property
    def device_type(self) -> str | None:
        """Non-blank `context.device.type`, trimmed."""
        if not self.may_hold("device"):
            return None
        return non_blank(_obj(_obj(self.payload, "context"), "device").get("type"))

    @property
    def os_name(self) -> str | None:
        """Non-blank `context.os.name`, trimmed."""
        if not self.may_hold("os"):
            return None
        return non_blank(_obj(_obj(self.payload, "context"), "os").get("name"))

    @property
    def country(self) -> str | None:
        """Non-blank `context.location.country`, trimmed."""
        if not self.may_hold("country"):
            return None
        return non_blank(_obj(_obj(self.payload, "context"), "location").get("country"))

    def trait(self, name: str) -> str | None:
        """The usable value of `traits.<name>` of an identify event."""
        return usable_trait(_obj(self.payload, "traits").get(name)) if self.event_type == "identify" else None

    @property
    def group_id(self) -> str | None:
        """`groupId` of a group event, as text."""
        return id_text(self.payload.get("groupId")) if self.event_type == "group" else None

    @property
    def group_name(self) -> str | None:
        """Non-blank `traits.name` of a group event, trimmed."""
        return non_blank(_obj(self.payload, "traits").get("name")) if self.event_type == "group" else None


@dataclass
class User:
    """The core `dim_users` columns this page builds on (metrics.md, dim_users)."""

    user_key: str
    signed_up_at: datetime
    signup_date: date
    acquisition_channel: str | None
    activated_at: datetime | None
    is_customer: bool
    lifetime_revenue: float
    events: list[Event] = field(default_factory=list)

    @cached_property
    def active_dates(self) -> set[date]:
        """Dates with an activity event (metrics.md, "Activity events")."""
        return {e.day for e in self.events if e.is_activity}


# ---------------------------------------------------------------------------------------------
# Conventions (segments.md, introduction; metrics.md, "Dates")


def trim(text: str) -> str:
    """Remove leading and trailing U+0020 only, as SQL's trim() does."""
    return text.strip(" ")


def non_blank(value: object) -> str | None:
    """A JSON string non-empty after trimming, returned trimmed; None otherwise."""
    if type(value) is str and trim(value):
        return trim(value)
    return None


def simple_upper(text: str) -> str:
    """Each character's simple uppercase (a character whose full mapping expands is kept)."""
    return "".join(u if len(u := c.upper()) == 1 else c for c in text)


def usable_trait(value: object) -> str | None:
    """A usable trait value as stored: trimmed non-blank string, integer digits, true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, _IntToken):
        return str(value)
    return non_blank(value)


def id_text(value: object) -> str | None:
    """An id field (groupId): a string, or an integer as its decimal string; "" counts as absent."""
    if isinstance(value, _IntToken):
        return str(int(value))
    if type(value) is str and value != "":
        return value
    return None


def add_periods(grain: str, start: date, n: int) -> date:
    """The period start `n` grain steps after `start` (a period start)."""
    if grain == "week":
        return start + timedelta(days=7 * n)
    if grain == "month":
        months = start.year * 12 + start.month - 1 + n
        return date(months // 12, months % 12 + 1, 1)
    return start + timedelta(days=n)


def period_last_day(grain: str, start: date, n: int = 0) -> date:
    """Last day of the `n`-th period after the period starting at `start`."""
    return add_periods(grain, start, n + 1) - timedelta(days=1)


def ratio(numerator: int, denominator: int) -> float | None:
    """metrics.md "Numbers": a ratio whose denominator is 0 is null."""
    return numerator / denominator if denominator else None


# ---------------------------------------------------------------------------------------------
# Inputs

_EVENTS_SQL = """
    select a.message_id, a.user_key, a.event_type, a.event_name, a.event_at, a.is_activity,
           r.payload::varchar as payload
    from intermediate.int_events_attributed a
    join (
        select message_id, payload
        from raw.events
        qualify row_number() over (
            partition by message_id order by ingested_at, kafka_partition, kafka_offset) = 1
    ) r using (message_id)
"""

_USERS_SQL = """
    select user_key, signed_up_at, signup_date, acquisition_channel, activated_at, is_customer,
           lifetime_revenue
    from marts.dim_users
"""


def _obj(parent: object, key: str) -> dict[str, Any]:
    """`parent[key]` when both are JSON objects, else an empty object."""
    child = parent.get(key) if isinstance(parent, dict) else None
    return child if isinstance(child, dict) else {}


@dataclass
class Inputs:
    """Everything the oracle reads, events sorted in (timestamp, messageId) order."""

    events: list[Event]
    users: dict[str, User]
    data_end_date: date


def load_inputs(con: duckdb.DuckDBPyConnection) -> Inputs:
    """Read the trusted input tables (never the page's own marts), events in (timestamp, messageId) order."""
    frame = (
        con.sql(_EVENTS_SQL)
        .pl()
        .with_columns(pl.col("event_at").dt.convert_time_zone("UTC"))
        .with_columns(pl.col("event_at").dt.date().alias("day"))
        .sort("event_at", "message_id")
    )
    columns = ("message_id", "user_key", "event_type", "event_name", "event_at", "day", "is_activity", "payload")
    events = [Event(*row) for row in frame.select(columns).iter_rows()]
    users = {
        key: User(key, at.astimezone(UTC), day, channel, act.astimezone(UTC) if act else None, bool(cust), float(rev))
        for key, at, day, channel, act, cust, rev in con.execute(_USERS_SQL).fetchall()
    }
    for event in events:
        if event.user_key is not None:
            users[event.user_key].events.append(event)
    [(data_end_date,)] = con.execute("select data_end_date from intermediate.int_reporting_period").fetchall()
    return Inputs(events, users, data_end_date)


# ---------------------------------------------------------------------------------------------
# User properties (segments.md, "User properties")


def _first(items: Iterable[T]) -> T | None:
    """The earliest item (inputs are in (timestamp, messageId) order)."""
    return next(iter(items), None)


def _last(items: Sequence[T]) -> T | None:
    """The latest item."""
    return items[-1] if items else None


def platform_of(user: User) -> str:
    """Earliest activity event with a device type or OS name; else `web` / `unknown`."""
    source = _first(e for e in user.events if e.is_activity and (e.device_type or e.os_name))
    if source is not None:
        return (source.device_type or source.os_name or "").lower()
    if any(e.is_activity and e.event_type == "page" for e in user.events):
        return "web"
    return "unknown"


def user_properties(user: User, config: Config) -> Row:
    """The new `dim_users` columns for one user."""
    row: Row = {}
    identifies = [e for e in user.events if e.event_type == "identify"]
    for name in config.user_traits:
        values = [value for e in identifies if (value := e.trait(name)) is not None]
        row[f"trait_{name}"] = _first(values)
        row[f"latest_trait_{name}"] = _last(values)
    row["platform"] = platform_of(user)
    with_country = _first(e for e in user.events if e.country)
    row["country"] = simple_upper(with_country.country) if with_country and with_country.country else None
    latest_group = _last([e for e in user.events if e.event_type == "group"])
    row["account_id"] = latest_group.group_id if latest_group else None
    return row


def dim_users(inputs: Inputs, config: Config) -> Mart:
    """marts.dim_users, keyed by user_key, with this page's columns only."""
    return {(key,): user_properties(user, config) for key, user in inputs.users.items()}


# ---------------------------------------------------------------------------------------------
# Breakdowns (segments.md, "Breakdowns")


def as_segment_text(value: object) -> str:
    """A column value as text: booleans true/false, integers as digits, null as `(none)`."""
    if value is None:
        return NONE_LABEL
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def segment_labels(values: Mapping[str, object], max_values: int) -> dict[str, str]:
    """Keep the `max_values` segments with most users (ties: byte order); others -> `(other)`."""
    text = {key: as_segment_text(value) for key, value in values.items()}
    counts = Counter(text.values())
    ranked = sorted((label for label in counts if label != OTHER_LABEL), key=lambda s: (-counts[s], s.encode()))
    kept = set(ranked[:max_values])
    return {key: label if label in kept else OTHER_LABEL for key, label in text.items()}


def user_segments(inputs: Inputs, config: Config, properties: Mart) -> dict[str, dict[str, str]]:
    """dimension -> user_key -> segment."""
    result: dict[str, dict[str, str]] = {}
    for dimension in config.breakdown_dimensions:
        values: dict[str, object] = {}
        for key, user in inputs.users.items():
            values[key] = properties[(key,)][dimension] if dimension in properties[(key,)] else getattr(user, dimension)
        result[dimension] = segment_labels(values, config.breakdown_max_values)
    return result


def cohort_retention(members: Iterable[tuple[Key, date, set[date]]], grain: str, data_end: date) -> dict[Key, Row]:
    """fct_retention's definition for any population (metrics.md, "fct_retention").

    Each member is (group, anchor date, active dates); its cohort is trunc(grain, anchor); it
    is retained in period n when active on d >= anchor with periods_between(anchor, d) = n.
    Returns rows keyed by group + (cohort_start, period_number).
    """
    size: Counter[Key] = Counter()
    on: Counter[Key] = Counter()
    on_or_after: Counter[Key] = Counter()
    for group, anchor, dates in members:
        cohort = (*group, trunc(grain, anchor))
        size[cohort] += 1
        periods = {periods_between(grain, anchor, d) for d in dates if d >= anchor}
        for n in periods:
            on[(*cohort, n)] += 1
        for n in range(max(periods, default=-1) + 1):
            on_or_after[(*cohort, n)] += 1
    rows: dict[Key, Row] = {}
    for cohort, cohort_size in size.items():
        start = cohort[-1]
        for n in range(periods_between(grain, start, data_end) + 1):
            retained, unbounded = on[(*cohort, n)], on_or_after[(*cohort, n)]
            rows[(*cohort, n)] = {
                "cohort_size": cohort_size,
                "retained": retained,
                "retention_rate": ratio(retained, cohort_size),
                "retained_unbounded": unbounded,
                "unbounded_retention_rate": ratio(unbounded, cohort_size),
                "is_complete": period_last_day(grain, start, n) <= data_end,
            }
    return rows


def fct_retention_by_segment(inputs: Inputs, segments: Mapping[str, Mapping[str, str]]) -> Mart:
    """fct_retention restricted to each (dimension, segment), grains week and month."""
    mart: Mart = {}
    for grain in SEGMENT_GRAINS:
        for dimension, labels in segments.items():
            members = (
                ((dimension, labels[key]), user.signup_date, user.active_dates) for key, user in inputs.users.items()
            )
            for (dim, seg, start, n), row in cohort_retention(members, grain, inputs.data_end_date).items():
                mart[(grain, dim, seg, start, n)] = {
                    "cohort_size": row["cohort_size"],
                    "retained_users": row["retained"],
                    "retention_rate": row["retention_rate"],
                    "retained_users_unbounded": row["retained_unbounded"],
                    "unbounded_retention_rate": row["unbounded_retention_rate"],
                    "is_complete": row["is_complete"],
                }
    return mart


def activation_row(users: Sequence[User], grain: str, start: date, config: Config, data_end: date) -> Row:
    """fct_activation's columns for one cohort of users (metrics.md, "fct_activation")."""
    hours = [(u.activated_at - u.signed_up_at).total_seconds() / 3600 for u in users if u.activated_at is not None]
    return {
        "signups": len(users),
        "activated_users": len(hours),
        "activation_rate": ratio(len(hours), len(users)),
        "median_hours_to_activate": statistics.median(hours) if hours else None,
        "is_complete": period_last_day(grain, start) + timedelta(days=config.activation_window_days) <= data_end,
    }


def fct_activation_by_segment(inputs: Inputs, config: Config, segments: Mapping[str, Mapping[str, str]]) -> Mart:
    """fct_activation restricted to each (dimension, segment), grains week and month."""
    mart: Mart = {}
    for grain in SEGMENT_GRAINS:
        for dimension, labels in segments.items():
            cohorts: dict[Key, list[User]] = defaultdict(list)
            for key, user in inputs.users.items():
                cohorts[(labels[key], trunc(grain, user.signup_date))].append(user)
            for (segment, start), members in cohorts.items():
                mart[(grain, dimension, segment, start)] = activation_row(
                    members, grain, start, config, inputs.data_end_date
                )
    return mart


# ---------------------------------------------------------------------------------------------
# Feature adoption (segments.md, "Feature adoption")


def feature_uses(inputs: Inputs) -> dict[str, list[Event]]:
    """Activity track events per event name (a use of a feature is one of these)."""
    uses: dict[str, list[Event]] = defaultdict(list)
    for event in inputs.events:
        if event.is_activity and event.event_type == "track" and event.event_name is not None:
            uses[event.event_name].append(event)
    return uses


def select_features(inputs: Inputs, config: Config, uses: Mapping[str, list[Event]]) -> list[tuple[str, str]]:
    """Configured features, or the <= 20 track events used by >= 1% of dim_users' users."""
    if config.features:
        return list(config.features)
    user_count = len(inputs.users)
    reach = {
        name: len({e.user_key for e in events})
        for name, events in uses.items()
        if name not in (config.signup_event, config.purchase_event)
    }
    eligible = [name for name, users in reach.items() if 100 * users >= user_count]
    eligible.sort(key=lambda name: (-reach[name], name.encode()))
    return [(name, name) for name in eligible[:20]]


def fct_feature_adoption(inputs: Inputs, features: Sequence[tuple[str, str]], uses: Mapping[str, list[Event]]) -> Mart:
    """One row per (week_start, feature), dense over the weeks holding activity."""
    active: dict[date, set[str | None]] = defaultdict(set)
    for event in inputs.events:
        if event.is_activity:
            active[trunc("week", event.day)].add(event.user_key)
    mart: Mart = {}
    if not active:
        return mart
    first_week, last_week = min(active), max(active)
    for name, event_name in features:
        weekly: dict[date, set[str | None]] = defaultdict(set)
        first_use: dict[str | None, date] = {}
        for event in uses.get(event_name, []):
            week = trunc("week", event.day)
            weekly[week].add(event.user_key)
            first_use.setdefault(event.user_key, week)
        new_adopters = Counter(first_use.values())
        week = first_week
        while week <= last_week:
            active_users, feature_users = len(active[week]), len(weekly[week])
            mart[(week, name)] = {
                "active_users": active_users,
                "feature_users": feature_users,
                "adoption_rate": ratio(feature_users, active_users),
                "new_adopters": new_adopters[week],
                "is_complete": week + timedelta(days=6) <= inputs.data_end_date,
            }
            week += timedelta(days=7)
    return mart


def week_4_retained(user: User) -> bool:
    """Active on a date d with 28 <= d - signup_date <= 34."""
    return any(28 <= (d - user.signup_date).days <= 34 for d in user.active_dates)


def fct_feature_retention(
    inputs: Inputs, config: Config, features: Sequence[tuple[str, str]], uses: Mapping[str, list[Event]]
) -> Mart:
    """One row per feature: early adopters' vs non-adopters' week-4 retention."""
    qualifying = [u for u in inputs.users.values() if u.signup_date + timedelta(days=34) <= inputs.data_end_date]
    retained = {u.user_key: week_4_retained(u) for u in qualifying}
    early = timedelta(hours=24 * config.feature_early_days)
    mart: Mart = {}
    for name, event_name in features:
        used_at: dict[str | None, list[datetime]] = defaultdict(list)
        for event in uses.get(event_name, []):
            used_at[event.user_key].append(event.event_at)
        adopters = [
            u
            for u in qualifying
            if any(u.signed_up_at <= at < u.signed_up_at + early for at in used_at.get(u.user_key, []))
        ]
        adopter_keys = {u.user_key for u in adopters}
        others = [u for u in qualifying if u.user_key not in adopter_keys]
        a_rate = ratio(sum(retained[u.user_key] for u in adopters), len(adopters))
        n_rate = ratio(sum(retained[u.user_key] for u in others), len(others))
        mart[(name,)] = {
            "adopters": len(adopters),
            "non_adopters": len(others),
            "adopter_week_4_retention": a_rate,
            "non_adopter_week_4_retention": n_rate,
            "retention_difference": a_rate - n_rate if a_rate is not None and n_rate is not None else None,
        }
    return mart


# ---------------------------------------------------------------------------------------------
# Accounts (segments.md, "Accounts (B2B)")


def account_members(inputs: Inputs, properties: Mart) -> dict[str, list[User]]:
    """account_id -> its users (by dim_users.account_id)."""
    members: dict[str, list[User]] = defaultdict(list)
    for key, user in inputs.users.items():
        account = properties[(key,)]["account_id"]
        if account is not None:
            members[account].append(user)
    return members


def account_dates(members: Sequence[User]) -> set[date]:
    """An account is active on a date when one of its users is."""
    return set().union(*(u.active_dates for u in members))


def dim_accounts(inputs: Inputs, members: Mapping[str, list[User]]) -> Mart:
    """One row per account that has at least one user."""
    names: dict[str, str] = {}
    for event in inputs.events:  # (timestamp, messageId) order: the last one wins
        if event.event_type == "group" and event.group_id is not None and event.group_name is not None:
            names[event.group_id] = event.group_name
    window_start = inputs.data_end_date - timedelta(days=29)
    mart: Mart = {}
    for account, users in members.items():
        dates = account_dates(users)
        mart[(account,)] = {
            "account_name": names.get(account),
            "users": len(users),
            "first_activity_date": min(dates, default=None),
            "active_users_30d": sum(
                any(window_start <= d <= inputs.data_end_date for d in u.active_dates) for u in users
            ),
            "lifetime_revenue": sum(u.lifetime_revenue for u in users),
            "customers": sum(u.is_customer for u in users),
        }
    return mart


def fct_account_retention(inputs: Inputs, members: Mapping[str, list[User]]) -> Mart:
    """fct_retention with accounts in place of users, anchored at first_activity_date."""
    mart: Mart = {}
    population = [dates for users in members.values() if (dates := account_dates(users))]
    for grain in SEGMENT_GRAINS:
        rows = cohort_retention((((), min(d), d) for d in population), grain, inputs.data_end_date)
        for (start, n), row in rows.items():
            mart[(grain, start, n)] = {
                "cohort_accounts": row["cohort_size"],
                "retained_accounts": row["retained"],
                "retention_rate": row["retention_rate"],
                "retained_accounts_unbounded": row["retained_unbounded"],
                "unbounded_retention_rate": row["unbounded_retention_rate"],
                "is_complete": row["is_complete"],
            }
    return mart


# ---------------------------------------------------------------------------------------------
# The oracle and the comparison

KEYS: dict[str, tuple[str, ...]] = {
    "dim_users": ("user_key",),
    "fct_retention_by_segment": ("grain", "dimension", "segment", "cohort_start", "period_number"),
    "fct_activation_by_segment": ("grain", "dimension", "segment", "cohort_start"),
    "fct_feature_adoption": ("week_start", "feature"),
    "fct_feature_retention": ("feature",),
    "dim_accounts": ("account_id",),
    "fct_account_retention": ("grain", "cohort_start", "period_number"),
}
MARTS = tuple(KEYS)
MONEY_COLUMNS = frozenset({"lifetime_revenue"})


def build_oracle(con: duckdb.DuckDBPyConnection, config: Config | None = None) -> Oracle:
    """Every mart of segments.md, recomputed; keyed by the mart's key columns (KEYS)."""
    config = config or Config()
    inputs = load_inputs(con)
    properties = dim_users(inputs, config)
    segments = user_segments(inputs, config, properties)
    uses = feature_uses(inputs)
    features = select_features(inputs, config, uses)
    members = account_members(inputs, properties)
    return {
        "dim_users": properties,
        "fct_retention_by_segment": fct_retention_by_segment(inputs, segments),
        "fct_activation_by_segment": fct_activation_by_segment(inputs, config, segments),
        "fct_feature_adoption": fct_feature_adoption(inputs, features, uses),
        "fct_feature_retention": fct_feature_retention(inputs, config, features, uses),
        "dim_accounts": dim_accounts(inputs, members),
        "fct_account_retention": fct_account_retention(inputs, members),
    }


def _value_difference(column: str, expected: object, actual: object) -> bool:
    """True when `actual` breaks `expected` (metrics.md "Numbers": ints exact, ratios unrounded)."""
    if expected is None or actual is None:
        return expected is not actual
    if isinstance(expected, bool):
        return not isinstance(actual, bool) or actual != expected
    if isinstance(expected, int):
        return isinstance(actual, bool) or not isinstance(actual, int) or actual != expected
    if isinstance(expected, float):
        if not isinstance(actual, float) and column not in MONEY_COLUMNS:
            return True  # a ratio must be a double
        value = float(actual)  # type: ignore[arg-type]
        abs_tol = 0.005 if column in MONEY_COLUMNS and not isinstance(actual, float) else 1e-9
        return not math.isfinite(value) or not math.isclose(value, expected, rel_tol=1e-9, abs_tol=abs_tol)
    return bool(actual != expected)


def read_mart(con: duckdb.DuckDBPyConnection, mart: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """All rows of marts.<mart> with its column names."""
    cursor = con.execute(f"select * from marts.{mart}")
    return [d[0] for d in cursor.description], cursor.fetchall()


def differences(con: duckdb.DuckDBPyConnection, mart: str, oracle: Mapping[str, Mart] | None = None) -> list[str]:
    """One line per missing, extra, duplicated or differing row/column of marts.<mart>."""
    expected = (oracle or build_oracle(con))[mart]
    key_columns = KEYS[mart]
    columns, rows = read_mart(con, mart)
    out: list[str] = []
    value_columns = sorted({c for row in expected.values() for c in row})
    missing_columns = [c for c in (*key_columns, *value_columns) if c not in columns]
    if missing_columns:
        return [f"{mart}: missing columns {missing_columns}"]
    actual: Mart = {}
    for values in rows:
        record = dict(zip(columns, values, strict=True))
        key = tuple(record[c] for c in key_columns)
        if key in actual:
            out.append(f"{mart} {key}: duplicated key")
        actual[key] = record
    for key in sorted(expected.keys() - actual.keys(), key=repr):
        out.append(f"{mart} {key}: missing row, expected {expected[key]}")
    for key in sorted(actual.keys() - expected.keys(), key=repr):
        out.append(f"{mart} {key}: unexpected row { ({c: actual[key][c] for c in value_columns}) }")
    for key in sorted(expected.keys() & actual.keys(), key=repr):
        for column in value_columns:
            want, got = expected[key][column], actual[key][column]
            if _value_difference(column, want, got):
                out.append(f"{mart} {key} {column}: expected {want!r}, got {got!r}")
    return out
