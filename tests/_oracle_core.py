"""An independent oracle for the core marts of metrics.md.

Written from the contract text alone (``metrics.md`` and ``events.md``), never from the dbt
models: it reads only ``raw.events`` (the payload JSON and the Kafka position of each stored
copy), ``raw.marketing_spend`` and the dbt vars, and re-derives de-duplication, identity
stitching, activity, dates, ``data_end_date``, sessions and every core mart in Python.

``differences(con, mart)`` compares one mart row by row with the oracle and returns one
readable line per difference (an empty list when the mart meets the contract).
"""

from __future__ import annotations

import calendar
import json
import math
import re
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import duckdb

from tests._oracle_rows import Row, compare, periods_between, project_vars, revenue_value, trunc

MARTS = (
    "dim_users",
    "fct_daily_active_users",
    "fct_retention",
    "fct_growth_accounting",
    "fct_activation",
    "fct_funnel",
    "fct_sessions",
    "fct_engagement_daily",
    "fct_acquisition",
    "fct_ltv_cohorts",
    "fct_channel_economics",
)

GRAINS = ("day", "week", "month")
ALL = "(all)"
DIRECT = "direct"
MAX_ALIAS_HOPS = 10  # metrics.md "Identity" step 4

# events.md "Fields": the timestamp forms accepted (fraction up to 9 digits, optional offset).
TIMESTAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})?$")
# events.md "Derived values": a string revenue after trimming white space.


@dataclass(frozen=True)
class Vars:
    """The dbt vars of metrics.md "Configuration" (defaults for any the project leaves out)."""

    signup_event: str = "Signed Up"
    activation_event: str = "Project Created"
    activation_window_days: int = 7
    purchase_event: str = "Order Completed"
    funnel_steps: tuple[str, ...] | None = None
    funnel_window_days: int = 14
    session_timeout_minutes: int = 30
    churn_inactivity_days: int = 30
    ltv_horizon_months: int = 12
    reporting_timezone: str = "UTC"
    inactive_events: tuple[str, ...] = ()
    experiment_exposure_event: str = "Experiment Viewed"

    @classmethod
    def from_project(cls) -> Vars:
        """The vars in force in ``dbt_project.yml``."""
        declared = project_vars()
        values = {name: declared[name] for name in cls.__dataclass_fields__ if declared.get(name) is not None}
        for name in ("funnel_steps", "inactive_events"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)

    @property
    def steps(self) -> tuple[str, ...]:
        """metrics.md: ``funnel_steps`` defaults to [signup_event, activation_event, purchase_event]."""
        return self.funnel_steps or (self.signup_event, self.activation_event, self.purchase_event)


@dataclass(slots=True)
class Event:
    """One valid event (the winning copy of its messageId), with the values derived from it."""

    message_id: str
    type: str
    at: datetime
    user_id: str | None
    anonymous_id: str | None
    previous_id: str | None
    event: str | None
    revenue: float | None
    source: str | None
    campaign: str | None
    day: date = date.min
    user_key: str | None = None
    is_activity: bool = False


# ---------------------------------------------------------------------------- calendar


def shift(grain: str, start: date, n: int) -> date:
    """The start of the period ``n`` grain steps after the period starting at ``start``."""
    if grain == "month":
        year, month = divmod(start.year * 12 + start.month - 1 + n, 12)
        return date(year, month + 1, 1)
    return start + timedelta(days=n * (7 if grain == "week" else 1))


def period_last_day(grain: str, start: date) -> date:
    """The last day of the period starting at ``start``."""
    if grain == "month":
        return start.replace(day=calendar.monthrange(start.year, start.month)[1])
    return shift(grain, start, 1) - timedelta(days=1)


def period_range(grain: str, first: date, last: date) -> list[date]:
    """Every period start from the period of ``first`` to the period of ``last``."""
    start = trunc(grain, first)
    return [shift(grain, start, n) for n in range(periods_between(grain, first, last) + 1)]


def median(values: list[float]) -> float | None:
    """Interpolated median (metrics.md engagement/activation); null over no values."""
    return float(statistics.median(values)) if values else None


def ratio(numerator: float, denominator: float | None) -> float | None:
    """metrics.md "Numbers": a ratio whose denominator is 0 (or null) is null."""
    return numerator / denominator if denominator else None


# ---------------------------------------------------------------------------- parsing


def parse_timestamp(text: Any) -> datetime:
    """events.md "Fields": ISO timestamp, offset honoured, UTC without one (to microseconds)."""
    match = TIMESTAMP.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"a stored valid event has an invalid timestamp: {text!r}")
    try:  # the fast path: Python 3.11 reads every form TIMESTAMP accepts (fraction truncated)
        moment = datetime.fromisoformat(text)
    except ValueError:
        year, month, day, hour, minute, second, fraction, offset = match.groups()
        zone = UTC
        if offset and offset != "Z":
            sign = -1 if offset[0] == "-" else 1
            zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6])))
        micros = int((fraction or "0").ljust(9, "0")[:6])
        moment = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micros, zone)
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def parse_id(raw: str | None) -> str | None:
    """events.md "Fields": an integer id becomes its decimal string; ``""`` and null are absent."""
    if raw is not None and len(raw) > 2 and raw[0] == '"' and "\\" not in raw:
        return raw[1:-1]  # a plain JSON string: no need to decode
    value = json.loads(raw) if raw is not None else None
    if isinstance(value, bool) or value is None or value == "":
        return None
    return str(value) if isinstance(value, int | str) else None


def parse_revenue(raw: str | None) -> float | None:
    """events.md "Derived values": ``properties.revenue``, still JSON text."""
    return revenue_value(json.loads(raw) if raw is not None else None)


def parse_campaign(raw: str | None, lower: bool) -> str | None:
    """events.md "Derived values": a string non-empty after trimming; source lowercased, name as is."""
    value = json.loads(raw) if raw is not None else None
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip().lower() if lower else value.strip()


# One JSON parse per payload; ids, names, revenue and campaign stay JSON for the rules above.
PAYLOAD_SHAPE = json.dumps(
    {
        "messageId": "VARCHAR",
        "type": "VARCHAR",
        "timestamp": "VARCHAR",
        "userId": "JSON",
        "anonymousId": "JSON",
        "previousId": "JSON",
        "event": "JSON",
        "properties": "JSON",
        "context": "JSON",
    }
)
LOAD_SQL = """
with parsed as (select json_transform(payload, ?) as p, * from raw.events)
select p.messageId, p.type, p.timestamp, p.userId, p.anonymousId, p.previousId, p.event,
       p.properties->'$.revenue', p.context->'$.campaign.source', p.context->'$.campaign.name',
       epoch_us(ingested_at), kafka_topic, kafka_partition, kafka_offset
from parsed
"""


def parse_event_name(raw: str | None) -> str | None:
    """events.md "Fields": ``event``, a non-empty string for ``track``."""
    value = json.loads(raw) if raw is not None else None
    return value if isinstance(value, str) and value else None


def load_events(con: duckdb.DuckDBPyConnection) -> list[Event]:
    """events.md "De-duplication": per messageId the first valid copy in ingestion order
    (ingestion time, then offset order within a partition), sorted by (timestamp, messageId)."""
    winners: dict[str, tuple[tuple[Any, ...], tuple[Any, ...]]] = {}
    for row in con.execute(LOAD_SQL, [PAYLOAD_SHAPE]).fetchall():
        order = (row[10], row[11], row[12], row[13])
        if row[0] not in winners or order < winners[row[0]][0]:
            winners[row[0]] = (order, row)
    events = []
    for _, row in winners.values():
        kind = row[1]
        events.append(
            Event(
                message_id=row[0],
                type=kind,
                at=parse_timestamp(row[2]),
                user_id=parse_id(row[3]),
                anonymous_id=parse_id(row[4]),
                previous_id=parse_id(row[5]) if kind == "alias" else None,
                event=parse_event_name(row[6]) if kind == "track" else None,
                revenue=parse_revenue(row[7]) if kind == "track" else None,
                source=parse_campaign(row[8], lower=True),
                campaign=parse_campaign(row[9], lower=False),
            )
        )
    events.sort(key=lambda e: (e.at, e.message_id))
    return events


# ---------------------------------------------------------------------------- identity


def identity_links(events: list[Event]) -> tuple[dict[str, str], dict[str, str]]:
    """metrics.md "Identity" steps 1-2: ``anon_link`` and ``alias_link`` (earliest event wins;
    ``events`` are in (timestamp, messageId) order)."""
    anon_link: dict[str, str] = {}
    alias_link: dict[str, str] = {}
    for e in events:
        if e.anonymous_id is not None and e.user_id is not None:
            anon_link.setdefault(e.anonymous_id, e.user_id)
        if e.type == "alias" and e.previous_id is not None and e.user_id is not None:
            alias_link.setdefault(e.previous_id, e.user_id)
    return anon_link, alias_link


def follow_aliases(base: str, alias_link: dict[str, str]) -> str:
    """metrics.md "Identity" step 4: follow ``alias_link`` (≤ 10 hops, never to a visited id)."""
    visited, current = {base}, base
    for _ in range(MAX_ALIAS_HOPS):
        following = alias_link.get(current)
        if following is None or following in visited:
            break
        visited.add(following)
        current = following
    return current


def is_visit(e: Event, inactive: set[str]) -> bool:
    """metrics.md "Activity events": a track, page or screen event, except inactive track events."""
    return e.type in ("track", "page", "screen") and not (e.type == "track" and e.event in inactive)


def stitch(events: list[Event], vars_: Vars) -> None:
    """metrics.md "Identity", "Dates" and "Activity events": set user_key, day, is_activity."""
    anon_link, alias_link = identity_links(events)
    zone = ZoneInfo(vars_.reporting_timezone)
    inactive = {*vars_.inactive_events, vars_.experiment_exposure_event}
    keys: dict[str, str] = {}
    for e in events:
        base = e.user_id
        if base is None and e.anonymous_id is not None:
            base = anon_link.get(e.anonymous_id) or alias_link.get(e.anonymous_id)
        if base is not None:
            if base not in keys:
                keys[base] = follow_aliases(base, alias_link)
            e.user_key = keys[base]
        e.day = e.at.astimezone(zone).date()
        e.is_activity = e.user_key is not None and is_visit(e, inactive)


# ---------------------------------------------------------------------------- users and sessions


@dataclass
class User:
    """metrics.md ``marts.dim_users`` plus the per-user facts the other marts need."""

    user_key: str
    events: list[Event] = field(default_factory=list)
    row: Row = field(default_factory=dict)
    activity_days: set[date] = field(default_factory=set)


@dataclass(frozen=True)
class Session:
    """metrics.md ``marts.fct_sessions``: one session."""

    user_key: str
    start: datetime
    end: datetime
    day: date
    event_count: int


def sessionize(activity: list[Event], timeout: timedelta) -> list[Session]:
    """metrics.md ``fct_sessions``: a gap of more than the timeout starts a new session."""
    sessions: list[Session] = []
    group: list[Event] = []
    for e in activity:
        if group and e.at - group[-1].at > timeout:
            sessions.append(Session(e.user_key or "", group[0].at, group[-1].at, group[0].day, len(group)))
            group = []
        group.append(e)
    if group:
        sessions.append(Session(group[0].user_key or "", group[0].at, group[-1].at, group[0].day, len(group)))
    return sessions


def user_row(user: User, sessions: int, end: date, vars_: Vars) -> Row:
    """metrics.md ``marts.dim_users``: the contract columns of one user."""
    events = user.events  # (timestamp, messageId) order
    tracks = [e for e in events if e.type == "track"]
    first_seen = events[0].at
    signed_up = next((e.at for e in tracks if e.event == vars_.signup_event), first_seen)
    acquired = next((e for e in events if e.source is not None and e.at <= signed_up), None)
    window = signed_up + timedelta(days=vars_.activation_window_days)
    activated = next((e.at for e in tracks if e.event == vars_.activation_event and signed_up <= e.at <= window), None)
    purchase = next((e for e in tracks if e.event == vars_.purchase_event and (e.revenue or 0) > 0), None)
    activity = [e for e in events if e.is_activity]
    last_active = activity[-1] if activity else None
    return {
        "user_key": user.user_key,
        "first_seen_at": first_seen,
        "signed_up_at": signed_up,
        "signup_date": signed_up.astimezone(ZoneInfo(vars_.reporting_timezone)).date(),
        "acquisition_channel": acquired.source if acquired else DIRECT,
        "acquisition_campaign": acquired.campaign if acquired else None,
        "activated_at": activated,
        "is_activated": activated is not None,
        "first_purchase_at": purchase.at if purchase else None,
        "first_purchase_date": purchase.day if purchase else None,
        "is_customer": purchase is not None,
        "last_active_at": last_active.at if last_active else None,
        "is_churned": last_active is None or (end - last_active.day).days > vars_.churn_inactivity_days,
        "lifetime_revenue": sum((e.revenue for e in tracks if e.revenue is not None), 0.0),
        "activity_events": len(activity),
        "sessions": sessions,
    }


# ---------------------------------------------------------------------------- the oracle


class Oracle:
    """Every core mart of metrics.md, derived from the raw tables."""

    def __init__(self, con: duckdb.DuckDBPyConnection, vars_: Vars | None = None) -> None:
        self.vars = vars_ or Vars.from_project()
        self.events = load_events(con)
        stitch(self.events, self.vars)
        self.spend_rows = con.execute("select spend_date, channel, spend from raw.marketing_spend").fetchall()
        self.end = max(e.day for e in self.events)  # metrics.md "Data end"
        self.users: dict[str, User] = {}
        for e in self.events:
            if e.user_key is not None:
                user = self.users.setdefault(e.user_key, User(e.user_key))
                user.events.append(e)
                if e.is_activity:
                    user.activity_days.add(e.day)
        timeout = timedelta(minutes=self.vars.session_timeout_minutes)
        self.sessions: list[Session] = []
        for user in self.users.values():
            sessions = sessionize([e for e in user.events if e.is_activity], timeout)
            self.sessions += sessions
            user.row = user_row(user, len(sessions), self.end, self.vars)

    # -- helpers

    def signup(self, user: User) -> date:
        """A user's ``signup_date``."""
        return user.row["signup_date"]

    def channel(self, user: User) -> str:
        """A user's ``acquisition_channel``."""
        return user.row["acquisition_channel"]

    def revenue_events(self, user: User) -> Iterable[Event]:
        """metrics.md ``lifetime_revenue``: the user's track events with a revenue."""
        return (e for e in user.events if e.type == "track" and e.revenue is not None)

    @cached_property
    def spend(self) -> list[tuple[date, str, float]]:
        """events.md "Marketing spend": channel matched after ``lower(trim(...))``."""
        return [(day, channel.strip().lower(), amount) for day, channel, amount in self.spend_rows]

    # -- marts

    def dim_users(self) -> list[Row]:
        """metrics.md ``marts.dim_users``."""
        return [{k: v for k, v in u.row.items() if k != "first_purchase_date"} for u in self.users.values()]

    def fct_sessions(self) -> list[Row]:
        """metrics.md ``marts.fct_sessions`` (keyed by user and start; session_id checked unique)."""
        return [
            {
                "user_key": s.user_key,
                "session_start": s.start,
                "session_end": s.end,
                "session_date": s.day,
                "duration_seconds": (s.end - s.start).total_seconds(),
                "event_count": s.event_count,
            }
            for s in self.sessions
        ]

    def fct_engagement_daily(self) -> list[Row]:
        """metrics.md ``marts.fct_engagement_daily``: one row per date with a session start."""
        by_day: dict[date, list[Session]] = defaultdict(list)
        for s in self.sessions:
            by_day[s.day].append(s)
        rows = []
        for day, sessions in sorted(by_day.items()):
            durations = [(s.end - s.start).total_seconds() for s in sessions]
            users = len({s.user_key for s in sessions})
            rows.append(
                {
                    "session_date": day,
                    "sessions": len(sessions),
                    "users": users,
                    "sessions_per_user": len(sessions) / users,
                    "avg_session_seconds": sum(durations) / len(durations),
                    "median_session_seconds": median(durations),
                    "events_per_session": sum(s.event_count for s in sessions) / len(sessions),
                }
            )
        return rows

    def fct_daily_active_users(self) -> list[Row]:
        """metrics.md ``marts.fct_daily_active_users``: dense over the activity dates."""
        active: dict[date, set[str]] = defaultdict(set)
        anonymous: dict[date, set[str]] = defaultdict(set)
        inactive = {*self.vars.inactive_events, self.vars.experiment_exposure_event}
        for e in self.events:
            if e.is_activity:
                active[e.day].add(e.user_key or "")
            elif e.user_key is None and e.anonymous_id is not None and is_visit(e, inactive):
                anonymous[e.day].add(e.anonymous_id)
        new: dict[date, int] = defaultdict(int)
        for user in self.users.values():
            new[self.signup(user)] += 1
        rows = []
        for day in period_range("day", min(active), max(active)):
            window = [active.get(day - timedelta(days=i), set()) for i in range(30)]
            mau = len(set().union(*window))
            rows.append(
                {
                    "activity_date": day,
                    "dau": len(window[0]),
                    "wau": len(set().union(*window[:7])),
                    "mau": mau,
                    "stickiness": ratio(len(window[0]), mau),
                    "new_users": new[day],
                    "anonymous_visitors": len(anonymous[day]),
                }
            )
        return rows

    def fct_retention(self) -> list[Row]:
        """metrics.md ``marts.fct_retention``: on and on-or-after retention by signup cohort."""
        rows = []
        for grain in GRAINS:
            cohorts: dict[date, list[set[int]]] = defaultdict(list)
            for user in self.users.values():
                signup = self.signup(user)
                periods = {periods_between(grain, signup, d) for d in user.activity_days if d >= signup}
                cohorts[trunc(grain, signup)].append(periods)
            for start, members in sorted(cohorts.items()):
                size = len(members)
                for n in range(periods_between(grain, start, self.end) + 1):
                    on = sum(n in periods for periods in members)
                    after = sum(any(p >= n for p in periods) for periods in members)
                    rows.append(
                        {
                            "grain": grain,
                            "cohort_start": start,
                            "period_number": n,
                            "cohort_size": size,
                            "retained_users": on,
                            "retention_rate": on / size,
                            "retained_users_unbounded": after,
                            "unbounded_retention_rate": after / size,
                            "is_complete": period_last_day(grain, shift(grain, start, n)) <= self.end,
                        }
                    )
        return rows

    def fct_growth_accounting(self) -> list[Row]:
        """metrics.md ``marts.fct_growth_accounting``: dense over the periods holding activity."""
        rows = []
        for grain in GRAINS:
            active: dict[date, set[str]] = defaultdict(set)
            first: dict[str, date] = {}
            for user in self.users.values():
                for d in user.activity_days:
                    active[trunc(grain, d)].add(user.user_key)
                if user.activity_days:
                    first[user.user_key] = trunc(grain, min(user.activity_days))
            periods = period_range(grain, min(active), max(active))
            for i, start in enumerate(periods):
                now, before = active.get(start, set()), active.get(periods[i - 1], set()) if i else set()
                new = sum(first[u] == start for u in now)
                retained = len(now & before)
                resurrected = sum(first[u] < start for u in now - before)
                churned = len(before - now)
                rows.append(
                    {
                        "grain": grain,
                        "period_start": start,
                        "active_users": len(now),
                        "new_users": new,
                        "retained_users": retained,
                        "resurrected_users": resurrected,
                        "churned_users": churned,
                        "churn_rate": ratio(churned, len(before)),
                        "quick_ratio": ratio(new + resurrected, churned),
                        "is_complete": period_last_day(grain, start) <= self.end,
                    }
                )
        return rows

    def fct_activation(self) -> list[Row]:
        """metrics.md ``marts.fct_activation``: activation by signup cohort."""
        rows = []
        window = timedelta(days=self.vars.activation_window_days)
        for grain in GRAINS:
            cohorts: dict[date, list[Row]] = defaultdict(list)
            for user in self.users.values():
                cohorts[trunc(grain, self.signup(user))].append(user.row)
            for start, members in sorted(cohorts.items()):
                hours = [
                    (r["activated_at"] - r["signed_up_at"]).total_seconds() / 3600 for r in members if r["is_activated"]
                ]
                rows.append(
                    {
                        "grain": grain,
                        "cohort_start": start,
                        "signups": len(members),
                        "activated_users": len(hours),
                        "activation_rate": len(hours) / len(members),
                        "median_hours_to_activate": median(hours),
                        "is_complete": period_last_day(grain, start) + window <= self.end,
                    }
                )
        return rows

    def funnel_reach(self, user: User) -> tuple[date, int] | None:
        """metrics.md ``fct_funnel``: (date of t1, steps reached) of one user; None without step 1."""
        steps = self.vars.steps
        tracks = [e for e in user.events if e.type == "track"]
        t1 = next((e for e in tracks if e.event == steps[0]), None)
        if t1 is None:
            return None
        limit, previous, reached = t1.at + timedelta(days=self.vars.funnel_window_days), t1.at, 1
        for step in steps[1:]:
            tk = next((e.at for e in tracks if e.event == step and previous <= e.at <= limit), None)
            if tk is None:
                break
            previous, reached = tk, reached + 1
        return t1.day, reached

    def fct_funnel(self) -> list[Row]:
        """metrics.md ``marts.fct_funnel``: per cohort week and channel, plus ``(all)``."""
        steps = self.vars.steps
        reached: dict[tuple[date, str], list[int]] = defaultdict(lambda: [0] * len(steps))
        for user in self.users.values():
            reach = self.funnel_reach(user)
            if reach is None:
                continue
            week = trunc("week", reach[0])
            for channel in (self.channel(user), ALL):
                for k in range(reach[1]):
                    reached[(week, channel)][k] += 1
        rows = []
        for (week, channel), users in sorted(reached.items()):
            for k, step in enumerate(steps):
                rows.append(
                    {
                        "cohort_week": week,
                        "acquisition_channel": channel,
                        "step_number": k + 1,
                        "step_event": step,
                        "users": users[k],
                        "conversion_from_previous": 1.0 if k == 0 else ratio(users[k], users[k - 1]),
                        "conversion_from_start": ratio(users[k], users[0]),
                    }
                )
        return rows

    def channels(self) -> set[str]:
        """metrics.md: every channel seen in users' ``acquisition_channel`` or in spend."""
        return {self.channel(u) for u in self.users.values()} | {channel for _, channel, _ in self.spend}

    def fct_acquisition(self) -> list[Row]:
        """metrics.md ``marts.fct_acquisition``: spend, signups and CAC by month and channel."""
        last = trunc("month", self.end)
        spend: dict[tuple[date, str], float] = defaultdict(float)
        for day, channel, amount in self.spend:
            if trunc("month", day) <= last:
                for key in (channel, ALL):
                    spend[(trunc("month", day), key)] += amount
        signups: dict[tuple[date, str], int] = defaultdict(int)
        customers: dict[tuple[date, str], int] = defaultdict(int)
        for user in self.users.values():
            for key in (self.channel(user), ALL):
                signups[(trunc("month", self.signup(user)), key)] += 1
                if user.row["first_purchase_date"] is not None:
                    customers[(trunc("month", user.row["first_purchase_date"]), key)] += 1
        firsts = [trunc("month", self.signup(u)) for u in self.users.values()] + [d for d, _, _ in self.spend]
        rows = []
        for month in period_range("month", min(firsts), self.end):
            for channel in sorted(self.channels() | {ALL}):
                cost, users, buyers = spend[(month, channel)], signups[(month, channel)], customers[(month, channel)]
                rows.append(
                    {
                        "month": month,
                        "channel": channel,
                        "spend": cost,
                        "signups": users,
                        "new_customers": buyers,
                        "cost_per_signup": ratio(cost, users),
                        "cac": ratio(cost, buyers),
                    }
                )
        return rows

    def revenue_by_offset(self, user: User) -> dict[int, float]:
        """metrics.md ``fct_ltv_cohorts``: revenue at month offset ``max(0, periods_between)``."""
        cohort = trunc("month", self.signup(user))
        by_offset: dict[int, float] = defaultdict(float)
        for e in self.revenue_events(user):
            by_offset[max(0, periods_between("month", cohort, e.day))] += e.revenue or 0.0
        return by_offset

    def fct_ltv_cohorts(self) -> list[Row]:
        """metrics.md ``marts.fct_ltv_cohorts``: revenue per user by signup-month cohort."""
        cohorts: dict[date, list[User]] = defaultdict(list)
        for user in self.users.values():
            cohorts[trunc("month", self.signup(user))].append(user)
        rows = []
        for cohort, members in sorted(cohorts.items()):
            revenue: dict[int, float] = defaultdict(float)
            for user in members:
                for offset, amount in self.revenue_by_offset(user).items():
                    revenue[offset] += amount
            cumulative = 0.0
            for m in range(periods_between("month", cohort, self.end) + 1):
                cumulative += revenue[m]
                rows.append(
                    {
                        "cohort_month": cohort,
                        "months_since_signup": m,
                        "cohort_size": len(members),
                        "revenue": revenue[m],
                        "cumulative_revenue": cumulative,
                        "ltv_per_user": cumulative / len(members),
                        "is_complete": period_last_day("month", shift("month", cohort, m)) <= self.end,
                    }
                )
        return rows

    def ltv_at_month(self, users: list[User], m: int) -> float | None:
        """metrics.md ``fct_channel_economics``: mean revenue at offsets ≤ m over users aged ≥ m."""
        aged = [u for u in users if periods_between("month", trunc("month", self.signup(u)), self.end) - 1 >= m]
        total = sum(amount for u in aged for offset, amount in self.revenue_by_offset(u).items() if offset <= m)
        return total / len(aged) if aged else None

    def payback_months(self, users: list[User], cost_per_signup: float | None) -> int | None:
        """metrics.md: smallest m with ``ltv_at_month(m) ≥ cost_per_signup``, as ``m + 1``."""
        if cost_per_signup is None:
            return None
        if cost_per_signup == 0:
            return 0
        oldest = max(
            (periods_between("month", trunc("month", self.signup(u)), self.end) - 1 for u in users), default=-1
        )
        for m in range(oldest + 1):
            ltv = self.ltv_at_month(users, m)
            if ltv is not None and ltv >= cost_per_signup:
                return m + 1
        return None

    def fct_channel_economics(self) -> list[Row]:
        """metrics.md ``marts.fct_channel_economics``: all-time LTV, CAC and payback per channel."""
        rows = []
        for channel in sorted(self.channels() | {ALL}):
            users = [u for u in self.users.values() if channel in (ALL, self.channel(u))]
            spend = sum((a for d, c, a in self.spend if channel in (ALL, c) and d <= self.end), 0.0)
            customers = sum(u.row["is_customer"] for u in users)
            cost_per_signup = ratio(spend, len(users))
            ltv = self.ltv_at_month(users, self.vars.ltv_horizon_months - 1)
            rows.append(
                {
                    "channel": channel,
                    "signups": len(users),
                    "spend": spend,
                    "customers": customers,
                    "cost_per_signup": cost_per_signup,
                    "cac": ratio(spend, customers),
                    "revenue": sum((u.row["lifetime_revenue"] for u in users), 0.0),
                    "ltv": ltv,
                    "ltv_cac_ratio": ratio(ltv, cost_per_signup) if ltv is not None else None,
                    "payback_months": self.payback_months(users, cost_per_signup),
                }
            )
        return rows


# ---------------------------------------------------------------------------- comparison


KEYS = {
    "dim_users": ("user_key",),
    "fct_sessions": ("user_key", "session_start"),
    "fct_engagement_daily": ("session_date",),
    "fct_daily_active_users": ("activity_date",),
    "fct_retention": ("grain", "cohort_start", "period_number"),
    "fct_growth_accounting": ("grain", "period_start"),
    "fct_activation": ("grain", "cohort_start"),
    "fct_funnel": ("cohort_week", "acquisition_channel", "step_number"),
    "fct_acquisition": ("month", "channel"),
    "fct_ltv_cohorts": ("cohort_month", "months_since_signup"),
    "fct_channel_economics": ("channel",),
}

# metrics.md "Numbers": counts are integers; money may be a decimal with 2 decimal places.
INTEGER_COLUMNS = {
    "sessions",
    "activity_events",
    "event_count",
    "users",
    "dau",
    "wau",
    "mau",
    "new_users",
    "anonymous_visitors",
    "period_number",
    "cohort_size",
    "retained_users",
    "retained_users_unbounded",
    "active_users",
    "resurrected_users",
    "churned_users",
    "signups",
    "activated_users",
    "step_number",
    "new_customers",
    "months_since_signup",
    "customers",
    "payback_months",
}
MONEY_COLUMNS = {"lifetime_revenue", "spend", "revenue", "cumulative_revenue"}


def expected(con: duckdb.DuckDBPyConnection, mart: str, oracle: Oracle | None = None) -> list[Row]:
    """The oracle's rows of ``marts.<mart>``."""
    oracle = oracle or Oracle(con)
    builder: Callable[[], list[Row]] = getattr(oracle, mart)
    return builder()


def actual(con: duckdb.DuckDBPyConnection, mart: str) -> list[Row]:
    """The product's rows of ``marts.<mart>``."""
    relation = con.execute(f"select * from marts.{mart}")
    names = [column[0] for column in relation.description]
    return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]


def same(column: str, want: Any, got: Any) -> bool:
    """Equal under metrics.md "Numbers" (nulls equal only nulls; counts are integers; doubles
    to 1e-9 relative; money may be a 2-decimal decimal, so half a cent)."""
    if want is None or got is None:
        return want is None and got is None
    if column in INTEGER_COLUMNS:
        return isinstance(got, int) and not isinstance(got, bool) and got == want
    if isinstance(want, bool):
        return isinstance(got, bool) and got == want
    if isinstance(want, float):
        if not isinstance(got, int | float | Decimal) or isinstance(got, bool) or not math.isfinite(float(got)):
            return False
        tolerance = 0.005 if column in MONEY_COLUMNS and isinstance(got, Decimal) else 1e-9
        return math.isclose(float(got), want, rel_tol=1e-9, abs_tol=tolerance)
    if isinstance(want, datetime):
        return isinstance(got, datetime) and got.tzinfo is not None and got == want
    return bool(got == want) and type(got) is type(want)


def session_ids(got: list[Row]) -> list[str]:
    """metrics.md ``fct_sessions``: ``session_id`` is unique (and present)."""
    ids = [row.get("session_id") for row in got]
    lines = ["fct_sessions: a session_id is null"] if None in ids else []
    if len(set(ids)) != len(ids):
        lines.append(f"fct_sessions: {len(ids) - len(set(ids))} duplicated session_id")
    return lines


def differences(con: duckdb.DuckDBPyConnection, mart: str, oracle: Oracle | None = None) -> list[str]:
    """Every way ``marts.<mart>`` departs from metrics.md, one readable line each (pass one
    ``Oracle(con)`` to check several marts without re-deriving it)."""
    got = actual(con, mart)
    lines = compare(mart, KEYS[mart], expected(con, mart, oracle), got, same)
    if mart == "fct_sessions":
        lines += session_ids(got)
    return lines
