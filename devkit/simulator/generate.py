"""The simulator's pure core: (users, days, seed, end date) → Kafka records and spend rows.

No Kafka and no files here, so tests, benchmarks and other modules can use the same
stream. Records are (key, value) byte pairs exactly as they will be produced: a small
share are duplicate retries (the same bytes again, sometimes under another key so they
land in another partition) and, optionally, malformed records for the quarantine.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import orjson

from devkit.simulator.events import Event, user_events, visitor_events
from devkit.simulator.experiments import EXPOSURE_EVENT, assign, effects_of, exposures
from devkit.simulator.incidents import Incident, apply_outages, regressed
from devkit.simulator.model import CHANNELS, DayPlan, draw_life, plan_days
from devkit.simulator.properties import decorate, draw_profile, property_events, user_profile

DUPLICATE_SHARE = 0.007
MALFORMED_SHARE = 0.0005
MALFORMED_SAMPLES = (
    b'{"type": "track", "event": "Task Added"',  # truncated JSON
    b'{"type": "track", "event": "Task Added", "timestamp": "2024-01-01T00:00:00Z", "userId": "x"}',  # no messageId
    b"\xff\xfe not utf-8",
)

Record = tuple[bytes | None, bytes]


@dataclass(frozen=True)
class Simulation:
    """A deterministic simulated history: its daily plan and its record stream."""

    users: int
    days: int
    seed: int
    end_date: date
    duplicate_share: float = DUPLICATE_SHARE
    malformed_share: float = MALFORMED_SHARE
    properties: bool = True  # traits, platform, country, accounts and features (properties.py)
    incidents: tuple[Incident, ...] = ()  # planted signup outages and activation regressions (incidents.py)

    @property
    def first_date(self) -> date:
        return self.end_date - timedelta(days=self.days - 1)

    def plan(self) -> list[DayPlan]:
        return apply_outages(plan_days(self.users, self.days, self.seed, self.end_date), self.incidents, self.seed)

    def events(self) -> Iterator[Event]:
        """Every event payload (no duplicates, no malformed records), user by user."""
        for event, _ in self._stream():
            yield event

    def _stream(self) -> Iterator[tuple[Event, bool]]:
        """Every event payload, each with whether it is one of the events properties.py adds.

        Without ``properties`` the stream is the events without traits, context fields, group
        calls and feature events: the same events, ids and timestamps, all marked False.
        """
        horizon = datetime.combine(self.end_date + timedelta(days=1), datetime.min.time(), UTC)
        channels = {channel.source: channel for channel in CHANNELS}
        number = 0
        for plan in self.plan():
            visitors = visitor_events(self.seed, plan.day, plan.anonymous_visitors, CHANNELS, horizon)
            if self.properties:
                visitors = self._decorated_visitors(visitors, plan.day.isoformat())
            for event in visitors:
                yield event, False
            for source, count in plan.signups.items():
                for _ in range(count):
                    number += 1
                    rng = random.Random(f"{self.seed}:life:{number}")
                    assignments = assign(self.seed, number)
                    effects = regressed(effects_of(assignments), self.incidents, source, plan.day)
                    life = draw_life(number, channels[source], plan.day, rng, effects)
                    events = user_events(self.seed, life, self.end_date)
                    if assignments:
                        events.extend(exposures(events, assignments, horizon))
                        events.sort(key=lambda event: event["timestamp"])
                    if not self.properties:
                        for event in events:
                            yield event, False
                        continue
                    added = property_events(self.seed, life, events, horizon)
                    new_ids = {event["messageId"] for event in added}
                    events.extend(added)
                    events.sort(key=lambda event: event["timestamp"])
                    decorate(events, user_profile(self.seed, number))
                    for event in events:
                        yield event, event["messageId"] in new_ids

    def _decorated_visitors(self, visitors: Iterator[Event], day: str) -> Iterator[Event]:
        """Visitors' events with a platform and country per visitor, from a generator of their own."""
        rng = random.Random(f"{self.seed}:visitor-profiles:{day}")
        visitor, extra = None, {}
        for event in visitors:
            if event["anonymousId"] != visitor:
                visitor, extra = event["anonymousId"], draw_profile(rng).context()
            if extra:
                event["context"] = {**(event.get("context") or {}), **extra}
            yield event

    def records(self) -> Iterator[Record]:
        """The bytes to produce, retries and malformed records included.

        Exposures and the events properties.py adds draw their retries from generators of their
        own, so adding them moves no retry or malformed record of the other events.
        """
        transport = random.Random(f"{self.seed}:transport")
        exposure_transport = random.Random(f"{self.seed}:transport:experiments")
        property_transport = random.Random(f"{self.seed}:transport:properties")
        for event, added in self._stream():
            if added:
                rng = property_transport
            else:
                rng = exposure_transport if event.get("event") == EXPOSURE_EVENT else transport
            key = (event.get("userId") or event["anonymousId"]).encode()
            value = orjson.dumps(event)
            yield key, value
            if rng.random() < self.duplicate_share:
                yield (key if rng.random() < 0.7 else event["messageId"].encode()), value
            if rng.random() < self.malformed_share:
                yield None, rng.choice(MALFORMED_SAMPLES)


def generate_records(
    users: int,
    days: int,
    seed: int = 42,
    end_date: date | None = None,
    *,
    duplicate_share: float = DUPLICATE_SHARE,
    malformed_share: float = MALFORMED_SHARE,
) -> Iterator[Record]:
    """The (key, value) records `growth simulate` produces, lazily, without Kafka."""
    simulation = Simulation(
        users=users,
        days=days,
        seed=seed,
        end_date=end_date or default_end_date(),
        duplicate_share=duplicate_share,
        malformed_share=malformed_share,
    )
    return simulation.records()


def default_end_date() -> date:
    """Yesterday (UTC): the simulated history looks current and never reaches the future."""
    return datetime.now(UTC).date() - timedelta(days=1)
