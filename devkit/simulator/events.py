"""Segment-spec payloads for the simulated product (see docs/events.md).

Each function replays a drawn life into the records a tracking library would send: the
anonymous visit with UTM context, identify + ``Signed Up`` (or an alias for some users),
onboarding toward ``Project Created``, sessions of page views and feature events, and
``Order Completed`` payments: subscription renewals (monthly or annual, carrying their
billing ``interval``, a declined card retried a few days later, now and then a move to the
next plan up or down) and add-ons at random times (no interval: one-time revenue), with rare
``Order Refunded``.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

from devkit.simulator.model import (
    DAYS_PER_MONTH,
    DOWNGRADE_SHARE,
    FEATURES,
    PAGES,
    PLAN_PRICES,
    UPGRADE_SHARE,
    Channel,
    UserLife,
    active_probability,
)

Event = dict[str, Any]
LIBRARY = {"name": "analytics.js", "version": "4.1.0"}
PAYMENT_DECLINE_SHARE = 0.08  # renewals whose first charge attempt is declined
PAYMENT_RETRIES = 3  # retries 2-5 days apart before the subscription is given up


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def side_payload(rng: random.Random, at: datetime, actor: Event, kind: str, **fields: Any) -> Event:
    """A payload beside the actor's own events (exposures, traits, group calls, features).

    It carries the ids ``actor`` has (anonymousId, userId) and draws its messageId and
    sentAt from ``rng``, a generator of its own, so adding such events shifts no other event.
    """
    payload: Event = {
        "type": kind,
        "messageId": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "timestamp": iso(at),
        "sentAt": iso(at + timedelta(milliseconds=rng.randint(20, 900))),
        "anonymousId": actor["anonymousId"],
    }
    if actor.get("userId") is not None:
        payload["userId"] = actor["userId"]
    payload.update(fields)
    payload["context"] = {"library": LIBRARY}
    return payload


class Recorder:
    """Builds payloads for one actor with deterministic message ids and times."""

    def __init__(self, rng: random.Random, anonymous_id: str, horizon: datetime) -> None:
        self.rng = rng
        self.anonymous_id = anonymous_id
        self.user_id: str | None = None
        self.horizon = horizon  # nothing may happen after the simulated period ends
        self.events: list[Event] = []

    def emit(self, kind: str, at: datetime, **fields: Any) -> None:
        if at >= self.horizon:
            return
        sent = at + timedelta(milliseconds=self.rng.randint(20, 900))
        payload: Event = {
            "type": kind,
            "messageId": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "timestamp": iso(at),
            "sentAt": iso(sent),
            "anonymousId": self.anonymous_id,
        }
        if self.user_id is not None:
            payload["userId"] = self.user_id
        payload.update(fields)
        payload.setdefault("context", {"library": LIBRARY})
        self.events.append(payload)


def campaign_context(channel: Channel, campaign: str | None, rng: random.Random) -> dict[str, Any]:
    context: dict[str, Any] = {"library": LIBRARY, "page": {"path": "/"}}
    if channel.source is not None:
        # Tag hygiene in real life is imperfect: some links carry capitalised sources.
        source = channel.source.capitalize() if rng.random() < 0.1 else channel.source
        context["campaign"] = {"source": source, "medium": channel.medium, "name": campaign}
    return context


def anonymous_visit(rng: random.Random, at: datetime, channel: Channel, horizon: datetime) -> list[Event]:
    """A visitor who looks around and leaves without signing up."""
    rec = Recorder(rng, str(uuid.UUID(int=rng.getrandbits(128), version=4)), horizon)
    context = campaign_context(channel, rng.choice(channel.campaigns) if channel.campaigns else None, rng)
    for step, page in enumerate(("Home", "Pricing", "Features")[: rng.randint(1, 3)]):
        rec.emit(
            "page",
            at + timedelta(seconds=40 * step),
            name=page,
            properties={"path": f"/{page.lower()}"},
            context=context,
        )
    return rec.events


def _session(rec: Recorder, start: datetime) -> datetime:
    """Page views and feature events a few seconds to minutes apart; returns the last time."""
    at = start
    for _ in range(rec.rng.randint(2, 9)):
        if rec.rng.random() < 0.45:
            page = rec.rng.choice(PAGES)
            rec.emit("page", at, name=page, properties={"path": "/" + page.lower().replace(" ", "-")})
        else:
            rec.emit("track", at, event=rec.rng.choice(FEATURES), properties={"source": "web"})
        at += timedelta(seconds=rec.rng.randint(5, 600))
    return at


def user_events(seed: int, life: UserLife, last_day: date) -> list[Event]:
    """Every event of one signed-up user, in time order."""
    rng = random.Random(f"{seed}:events:{life.number}")
    horizon = datetime.combine(last_day + timedelta(days=1), datetime.min.time(), UTC)
    rec = Recorder(rng, str(uuid.UUID(int=rng.getrandbits(128), version=4)), horizon)
    signup_at = datetime.combine(life.signup_day, datetime.min.time(), UTC) + timedelta(
        seconds=rng.randint(7 * 3600, 22 * 3600)
    )
    # The first visit, with its UTM context, happened minutes to days before the signup.
    landing = signup_at - timedelta(seconds=rng.randint(120, 3 * 86400))
    context = campaign_context(life.channel, life.campaign, rng)
    rec.emit("page", landing, name="Home", properties={"path": "/"}, context=context)
    rec.emit("page", landing + timedelta(seconds=35), name="Pricing", properties={"path": "/pricing"}, context=context)

    user_id = f"u_{life.number:07d}"
    if life.uses_alias:
        # Signed up under a temporary id, then merged: an alias links the old id to the final one.
        rec.user_id = f"tmp_{life.number:07d}"
        rec.emit("identify", signup_at, traits={"plan": "trial"})
        rec.emit("track", signup_at + timedelta(seconds=2), event="Signed Up", properties={"method": "email"})
        rec.user_id = user_id
        rec.emit("alias", signup_at + timedelta(seconds=60), previousId=f"tmp_{life.number:07d}")
    else:
        rec.user_id = user_id
        traits = {"email": f"{user_id}@example.com", "company_size": rng.choice(["1-10", "11-50", "51-200", "200+"])}
        rec.emit("identify", signup_at, traits=traits)
        rec.emit(
            "track",
            signup_at + timedelta(seconds=2),
            event="Signed Up",
            properties={"method": "email"},
            context=context,
        )

    if life.activates_after_hours is not None:
        rec.emit("track", signup_at + timedelta(hours=life.activates_after_hours), event="Project Created")
    _payments(rec, life, signup_at, random.Random(f"{seed}:plan_changes:{life.number}"))
    _daily_activity(rec, life, signup_at, last_day)
    rec.events.sort(key=lambda event: event["timestamp"])
    return rec.events


def add_months(moment: datetime, months: int) -> datetime:
    """The same day of a later month (the month's last day when it is shorter), as billing does."""
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    last_day = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))


def _payments(rec: Recorder, life: UserLife, signup_at: datetime, changes: random.Random) -> None:
    """Renewals on the billing anchor's day until the subscriber cancels, plus add-ons.

    Each renewal's charge can be declined and retried a few days later (a dunning run); when
    every retry fails the subscription ends (involuntary churn). After each paid period the
    subscriber cancels with ``life.renewal_churn``. At a renewal the plan may move one step
    up or down, drawn from ``changes`` so that every other draw of the life stays as it was.
    Add-ons are a Poisson process over the paid span.
    """
    if life.subscribes_after_days is None:
        return
    anchor = signup_at + timedelta(days=life.subscribes_after_days)
    period = 0
    paid_until = anchor
    plan = PLAN_PRICES.index(life.plan_price)
    while True:
        due = add_months(anchor, period * life.billing_months)
        if due >= rec.horizon:
            break
        charged_at: datetime | None = due
        if rec.rng.random() < PAYMENT_DECLINE_SHARE and period > 0:
            charged_at = None
            retry_at = due
            for _ in range(PAYMENT_RETRIES):
                retry_at += timedelta(days=rec.rng.randint(2, 5), hours=rec.rng.uniform(-3, 3))
                if rec.rng.random() < 0.6:
                    charged_at = retry_at
                    break
        if charged_at is None:  # involuntary churn: the card never went through
            break
        if period > 0:
            plan = _plan_change(changes, plan)
        _charge(rec, life, PLAN_PRICES[plan], charged_at)
        period += 1
        paid_until = add_months(anchor, period * life.billing_months)
        if rec.rng.random() < life.renewal_churn:
            break
    # Add-ons while the subscription runs, at exponential gaps (a Poisson process).
    rate_per_day = life.add_ons_per_month / DAYS_PER_MONTH
    at = anchor
    while rate_per_day > 0:
        at += timedelta(days=rec.rng.expovariate(rate_per_day))
        if at >= min(paid_until, rec.horizon):
            break
        extra = round(life.plan_price * rec.rng.uniform(0.2, 0.8), 2)
        rec.emit(
            "track", at, event="Order Completed", properties={"revenue": extra, "currency": "USD", "kind": "add_on"}
        )


def _plan_change(rng: random.Random, plan: int) -> int:
    """The plan (an index of PLAN_PRICES) after a renewal: one step up, one down, or the same."""
    draw = rng.random()
    if draw < UPGRADE_SHARE:
        return min(plan + 1, len(PLAN_PRICES) - 1)
    if draw < UPGRADE_SHARE + DOWNGRADE_SHARE:
        return max(plan - 1, 0)
    return plan


def _charge(rec: Recorder, life: UserLife, plan_price: float, at: datetime) -> None:
    charge = life.charge_of(plan_price)
    revenue: float | str = charge if rec.rng.random() < 0.9 else f"{charge:.2f}"
    props = {
        "revenue": revenue,
        "currency": "USD",
        "order_id": f"o_{rec.rng.getrandbits(40):x}",
        "kind": "subscription",
        "plan": "annual" if life.billing_months == 12 else "monthly",
        "interval": "year" if life.billing_months == 12 else "month",
    }
    rec.emit("track", at, event="Order Completed", properties=props)
    if rec.rng.random() < 0.01:  # a rare refund
        refund = {"revenue": -charge, "currency": "USD", "kind": "refund"}
        rec.emit("track", at + timedelta(days=2), event="Order Refunded", properties=refund)


def _daily_activity(rec: Recorder, life: UserLife, signup_at: datetime, last_day: date) -> None:
    day = life.signup_day
    index = 0
    while day <= last_day:
        if rec.rng.random() < active_probability(life, index, day.weekday()):
            start = datetime.combine(day, datetime.min.time(), UTC) + timedelta(
                seconds=rec.rng.randint(8 * 3600, 20 * 3600)
            )
            if day == life.signup_day:
                start = signup_at + timedelta(minutes=5)
            for _ in range(1 if rec.rng.random() < 0.7 else 2):
                end = _session(rec, start)
                start = end + timedelta(hours=rec.rng.uniform(1, 4))
        day += timedelta(days=1)
        index += 1


def visitor_events(
    seed: int, day: date, count: int, channels: tuple[Channel, ...], horizon: datetime
) -> Iterator[Event]:
    """Anonymous visitors of one day who never sign up."""
    rng = random.Random(f"{seed}:visitors:{day.isoformat()}")
    weights = [channel.share for channel in channels]
    for _ in range(count):
        at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(seconds=rng.randint(0, 86399 - 200))
        yield from anonymous_visit(rng, at, rng.choices(channels, weights=weights)[0], horizon)
