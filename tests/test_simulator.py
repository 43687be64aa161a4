"""The simulator: exact counts through a real broker, determinism, and the product's shape.

Shape checks recompute what they need from the raw payloads here, independently of the
simulator's own model code.
"""

from __future__ import annotations

import csv
from calendar import monthrange
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition

from devkit.simulator import Simulation, simulate
from warehouse.settings import Settings

END = date(2026, 6, 30)


@pytest.fixture(scope="module")
def events() -> list[dict]:
    return list(Simulation(users=1500, days=120, seed=7, end_date=END).events())


def consume_all(settings: Settings, expected: int) -> int:
    consumer = KafkaConsumer(**settings.kafka_client_config(), enable_auto_commit=False)
    try:
        partitions = [TopicPartition(settings.topic, p) for p in consumer.partitions_for_topic(settings.topic) or ()]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        count, idle = 0, 0
        while idle < 3:  # a few empty polls after the last record: nothing more is coming
            batch = consumer.poll(timeout_ms=500, max_records=10_000)
            got = sum(len(records) for records in batch.values())
            count += got
            idle = idle + 1 if got == 0 and count >= expected else 0
        return count
    finally:
        consumer.close()


def test_simulate_produces_exactly_what_it_reports(settings: Settings) -> None:
    summary = simulate(settings, users=60, days=20, seed=3, end_date=END, show_progress=False)
    assert summary.events_produced > 1000
    assert consume_all(settings, summary.events_produced) == summary.events_produced
    assert summary.spend_files and all(path.parent == settings.spend_dir for path in summary.spend_files)


def test_same_seed_gives_byte_identical_records() -> None:
    first = list(Simulation(users=80, days=30, seed=11, end_date=END).records())
    again = list(Simulation(users=80, days=30, seed=11, end_date=END).records())
    other = list(Simulation(users=80, days=30, seed=12, end_date=END).records())
    assert first == again
    assert first != other


def test_every_timestamp_is_inside_the_simulated_period(events: list[dict]) -> None:
    # 120 days ending 2026-06-30 start on 2026-03-03; first visits come up to 3 days before a signup.
    first = datetime(2026, 2, 28).isoformat()
    assert all(first <= event["timestamp"] < "2026-07-01T00:00:00" for event in events)


def _signups_by_source_and_day(events: list[dict]) -> dict[tuple[str, str], int]:
    first_source: dict[str, str] = {}
    for event in events:
        campaign = (event.get("context") or {}).get("campaign")
        if campaign and event["anonymousId"] not in first_source:
            first_source[event["anonymousId"]] = campaign["source"].strip().lower()
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for event in events:
        if event.get("event") == "Signed Up":
            counts[(first_source.get(event["anonymousId"], "direct"), event["timestamp"][:10])] += 1
    return counts


def test_paid_channels_with_more_spend_bring_more_signups(events: list[dict], tmp_path: Path) -> None:
    from devkit.simulator.spend import write_spend_csvs

    simulation = Simulation(users=1500, days=120, seed=7, end_date=END)
    spend: dict[tuple[str, str], float] = defaultdict(float)
    for path in write_spend_csvs(simulation.plan(), tmp_path):
        with path.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert rows and list(rows[0]) == ["date", "channel", "campaign", "spend"]
        for row in rows:
            spend[(row["channel"].strip().lower(), row["date"])] += float(row["spend"])
    signups = _signups_by_source_and_day(events)
    for source in ("google", "facebook", "linkedin"):
        days = sorted((amount, day) for (channel, day), amount in spend.items() if channel == source)
        half = len(days) // 2
        low = sum(signups[(source, day)] for _, day in days[:half])
        high = sum(signups[(source, day)] for _, day in days[half:])
        assert high > 1.3 * low, f"{source}: the bigger-budget days should bring clearly more signups"
    assert sum(n for (channel, _), n in signups.items() if channel == "direct") > 0
    assert not any(channel == "direct" for channel, _ in spend)


def test_week_four_activity_is_below_week_one(events: list[dict]) -> None:
    signup_day: dict[str, date] = {}
    for event in events:
        if event.get("event") == "Signed Up":
            signup_day.setdefault(event["anonymousId"], date.fromisoformat(event["timestamp"][:10]))
    week1, week4 = set(), set()
    for event in events:
        day0 = signup_day.get(event["anonymousId"])
        if day0 is None or day0 > END - timedelta(days=28) or event["type"] not in ("track", "page"):
            continue
        offset = (date.fromisoformat(event["timestamp"][:10]) - day0).days
        if 0 <= offset <= 6:
            week1.add(event["anonymousId"])
        elif 21 <= offset <= 27:
            week4.add(event["anonymousId"])
    assert len(week4) < 0.7 * len(week1)


def test_weekends_are_quieter_than_weekdays(events: list[dict]) -> None:
    per_weekday: dict[int, int] = defaultdict(int)
    for event in events:
        per_weekday[date.fromisoformat(event["timestamp"][:10]).weekday()] += 1
    assert max(per_weekday[5], per_weekday[6]) < min(per_weekday[d] for d in range(5))


def test_a_small_share_of_records_are_retries_or_malformed() -> None:
    seen: set[str] = set()
    total = duplicates = malformed = 0
    for _key, value in Simulation(users=400, days=60, seed=5, end_date=END).records():
        total += 1
        try:
            message_id = orjson.loads(value)["messageId"]
        except (orjson.JSONDecodeError, KeyError):
            malformed += 1
            continue
        duplicates += message_id in seen
        seen.add(message_id)
    assert 0.003 < duplicates / total < 0.012
    assert 0 < malformed / total < 0.002


def test_spend_files_pass_the_loader_and_name_the_campaign_sources(events: list[dict], tmp_path: Path) -> None:
    from devkit.simulator.spend import write_spend_csvs
    from ingest.spend import parse_spend_file

    files = write_spend_csvs(Simulation(users=1500, days=120, seed=7, end_date=END).plan(), tmp_path)
    # 120 days ending 2026-06-30 span March..June: four paid channels (partner bounties included) x 4 months.
    assert len(files) == 16
    for path in files:
        assert path.read_bytes().splitlines()[0].decode() == "date,channel,campaign,spend"
    channels = {row.channel.strip().lower() for path in files for row in parse_spend_file(path)}
    sources = {
        event["context"]["campaign"]["source"].strip().lower()
        for event in events
        if "campaign" in (event.get("context") or {})
    }
    assert channels == sources == {"google", "facebook", "linkedin", "partner"}


def _orders(events: list[dict], kind: str) -> dict[str, list[tuple[datetime, float, dict]]]:
    orders: dict[str, list[tuple[datetime, float, dict]]] = defaultdict(list)
    for event in events:
        if event.get("event") == "Order Completed" and event["properties"]["kind"] == kind:
            at = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
            orders[event["userId"]].append((at, float(event["properties"]["revenue"]), event["properties"]))
    return {user: sorted(rows, key=lambda row: row[0]) for user, rows in orders.items()}


def _months_later(start: datetime, months: int) -> datetime:
    """The billing day ``months`` later: the same day of the month, or that month's last day."""
    year, month = divmod(start.year * 12 + start.month - 1 + months, 12)
    return start.replace(year=year, month=month + 1, day=min(start.day, monthrange(year, month + 1)[1]))


def test_subscriptions_renew_on_their_billing_day_until_cancelled(events: list[dict]) -> None:
    subscriptions = _orders(events, "subscription")
    assert len(subscriptions) > 100
    renewals = retried = 0
    for charges in subscriptions.values():
        first, price, props = charges[0]
        assert {(amount, p["plan"]) for _, amount, p in charges} == {(price, props["plan"])}  # one plan each
        if props["plan"] == "annual":  # ten monthly prices a year up front; 120 days hold no renewal
            assert price in (290.0, 990.0, 2990.0) and len(charges) == 1
            continue
        assert price in (29.0, 99.0, 299.0)
        for number, (at, _, _) in enumerate(charges[1:], start=1):
            due = _months_later(first, number)
            renewals += 1
            if at != due:  # a declined card, charged again by a retry 2-5 days (± 3 hours) apart, up to 3 times
                retried += 1
                assert due + timedelta(hours=45) <= at <= due + timedelta(days=15, hours=9), (due, at)
    # About 8% of renewals are declined at first; nearly all of them succeed on a retry.
    assert renewals > 100 and 0.01 < retried / renewals < 0.2
    # Subscribers cancel at any renewal, not after a fixed time: of the monthly subscribers
    # who started in the first two months, some paid once, some twice, and some still pay.
    early = [charges for charges in subscriptions.values() if charges[0][2]["plan"] == "monthly"]
    early = [charges for charges in early if charges[0][0].date() < END - timedelta(days=65)]
    paid = [len(charges) for charges in early]
    still_paying = [charges for charges in early if charges[-1][0].date() > END - timedelta(days=31)]
    assert 1 in paid and 2 in paid and 0 < len(still_paying) < len(early)


def test_add_ons_come_at_random_times_while_subscribed(events: list[dict]) -> None:
    subscriptions = _orders(events, "subscription")
    add_ons = _orders(events, "add_on")
    count = sum(len(rows) for rows in add_ons.values())
    assert count > 50 and set(add_ons) <= set(subscriptions)  # only subscribers buy add-ons
    on_billing_day = 0
    for user, rows in add_ons.items():
        first, price, props = subscriptions[user][0]
        monthly = price / (10 if props["plan"] == "annual" else 1)
        for at, amount, _ in rows:
            assert at > first and 0.2 * monthly <= amount <= 0.8 * monthly
            on_billing_day += at.day == first.day
    # Poisson timing: spread over the month, not tied to the billing day (about 1 in 30 by chance).
    assert on_billing_day < 0.15 * count
    # Between 0.3 and 1 add-on a month by plan: the monthly subscribers buy about one for every
    # two to three paid months.
    monthly = [user for user, charges in subscriptions.items() if charges[0][2]["plan"] == "monthly"]
    ratio = sum(len(add_ons.get(user, [])) for user in monthly) / sum(len(subscriptions[user]) for user in monthly)
    assert 0.2 < ratio < 0.8


def test_linkedin_brings_the_most_revenue_per_signup_and_facebook_the_least(events: list[dict]) -> None:
    source_of: dict[str, str] = {}
    for event in events:
        campaign = (event.get("context") or {}).get("campaign")
        if campaign and event["anonymousId"] not in source_of:
            source_of[event["anonymousId"]] = campaign["source"].strip().lower()
    signups: dict[str, int] = defaultdict(int)
    revenue: dict[str, float] = defaultdict(float)
    for event in events:
        source = source_of.get(event["anonymousId"], "direct")
        if event.get("event") == "Signed Up":
            signups[source] += 1
        elif event.get("event") in ("Order Completed", "Order Refunded"):
            revenue[source] += float(event["properties"]["revenue"])
    per_signup = {source: revenue[source] / signups[source] for source in signups}
    # By hand from the documented channel quality: activation x paying share x mean plan
    # price is about 0.62 * 0.40 * 128 = 32 a month for LinkedIn, 0.32 * 0.14 * 52 = 2.3 for Facebook.
    assert max(per_signup, key=lambda source: per_signup[source]) == "linkedin"
    assert min(per_signup, key=lambda source: per_signup[source]) == "facebook"
    assert per_signup["linkedin"] > 5 * per_signup["facebook"]
