"""The simulator: exact counts through a real broker, determinism, and the product's shape.

Shape checks recompute what they need from the raw payloads here, independently of the
simulator's own model code.
"""

from __future__ import annotations

import csv
import math
from calendar import monthrange
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition

from devkit.simulator import Simulation, simulate
from devkit.simulator.experiments import (
    AA_CHECK,
    BY_ID,
    EXPOSURE_EVENT,
    ONBOARDING,
    PRE_LOGIN_SHARE,
    PRICING,
    SEARCH_RANKING,
    assign,
)
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


# Experiments: the known truth of devkit/simulator/experiments.py, checked on the raw payloads.


def _usable(value: object) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _exposures(events: list[dict]) -> list[dict]:
    return [event for event in events if event.get("event") == EXPOSURE_EVENT]


def _seen(events: list[dict]) -> dict[str, dict[str, list[str]]]:
    """experiment id -> anonymousId -> variation ids of its usable exposures, in time order.

    The simulator gives each signed-up user one anonymousId that their identify carries, so
    keying by it is identity stitching: exposures sent before login count for the user.
    """
    seen: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for event in _exposures(events):
        properties = event["properties"]
        if _usable(properties.get("variation_id")):
            seen[properties["experiment_id"]][event["anonymousId"]].append(properties["variation_id"])
    return seen


def _arms(events: list[dict], experiment_id: str) -> dict[str, list[str]]:
    """variation id -> users whose usable exposures all show it (multiple-exposure users left out)."""
    arms: dict[str, list[str]] = defaultdict(list)
    for user, variations in _seen(events)[experiment_id].items():
        if len(set(variations)) == 1:
            arms[variations[0]].append(user)
    return arms


def _rate(hits: int, n: int) -> tuple[float, float]:
    """A share and its binomial standard error."""
    share = hits / n
    return share, math.sqrt(share * (1 - share) / n)


def test_exposures_follow_the_ab_testing_spec_and_stay_a_small_share(events: list[dict]) -> None:
    exposures = _exposures(events)
    assert 0.005 < len(exposures) / len(events) < 0.025
    keys = {"experiment_id", "experiment_name", "variation_id", "variation_name"}
    unusable = 0
    for event in exposures:
        assert event["type"] == "track" and event["anonymousId"]
        properties = event["properties"]
        experiment = BY_ID[properties["experiment_id"]]
        assert properties["experiment_name"] == experiment.name
        if _usable(properties.get("variation_id")):
            assert set(properties) == keys
            assert properties["variation_name"] == experiment.variation(properties["variation_id"]).name
        else:  # a broken call: the variation_id missing, null or blank
            unusable += 1
            assert set(properties) <= keys and properties.get("variation_id") in (None, "", "  ")
    assert 0 < unusable < 0.03 * len(exposures)
    assert {event["properties"]["experiment_id"] for event in exposures} == set(BY_ID)


def _user_number(events: list[dict]) -> dict[str, int]:
    """anonymousId -> the simulator's user number, from the ids identify sends (u_0000042, tmp_0000042)."""
    return {event["anonymousId"]: int(event["userId"].split("_")[1]) for event in events if event["type"] == "identify"}


def test_assignment_is_deterministic_per_seed_and_is_the_known_truth(events: list[dict]) -> None:
    def first_variations(sample: list[dict]) -> dict[tuple[str, int], str]:
        numbers = _user_number(sample)
        return {
            (experiment_id, numbers[user]): variations[0]
            for experiment_id, users in _seen(sample).items()
            for user, variations in users.items()
        }

    small = first_variations(list(Simulation(users=80, days=30, seed=11, end_date=END).events()))
    assert small == first_variations(list(Simulation(users=80, days=30, seed=11, end_date=END).events()))
    assert small != first_variations(list(Simulation(users=80, days=30, seed=12, end_date=END).events()))
    # What the events show is what experiments.assign() says: end-to-end tests can rely on it.
    for (experiment_id, number), variation_id in first_variations(events).items():
        truth = {assignment.experiment.id: assignment.variation.id for assignment in assign(7, number)}
        assert truth[experiment_id] == variation_id


def test_some_exposures_are_sent_before_login_and_stitch_to_the_user(events: list[dict]) -> None:
    identified_at = {event["anonymousId"]: event["timestamp"] for event in events if event["type"] == "identify"}
    anonymous = [event for event in _exposures(events) if "userId" not in event]
    assert anonymous
    for event in anonymous:  # identify comes later on the same anonymousId: stitching attributes them
        assert event["timestamp"] < identified_at[event["anonymousId"]]
    first_onboarding: dict[str, dict] = {}
    for event in _exposures(events):
        if event["properties"]["experiment_id"] == ONBOARDING.id:
            first_onboarding.setdefault(event["anonymousId"], event)
    before_login = sum("userId" not in event for event in first_onboarding.values())
    share, se = _rate(before_login, len(first_onboarding))
    assert abs(share - PRE_LOGIN_SHARE) < 3 * se
    # The pricing page is first seen on the landing visit, before signing up.
    first_pricing: dict[str, dict] = {}
    for event in _exposures(events):
        if event["properties"]["experiment_id"] == PRICING.id:
            first_pricing.setdefault(event["anonymousId"], event)
    assert first_pricing and all("userId" not in event for event in first_pricing.values())


def test_exposures_repeat_and_a_few_users_see_two_variations(events: list[dict]) -> None:
    seen = _seen(events)
    repeated = sum(len(variations) > 1 for users in seen.values() for variations in users.values())
    multiple = {
        experiment_id: sum(len(set(variations)) > 1 for variations in users.values())
        for experiment_id, users in seen.items()
    }
    assert repeated > 100
    assert {experiment_id for experiment_id, count in multiple.items() if count} == {ONBOARDING.id}
    assert 0 < multiple[ONBOARDING.id] < 0.03 * len(seen[ONBOARDING.id])


def test_the_onboarding_checklist_raises_activation_by_the_planted_factor(events: list[dict]) -> None:
    activated = {event["anonymousId"] for event in events if event.get("event") == "Project Created"}
    arms = _arms(events, ONBOARDING.id)
    control, control_se = _rate(sum(user in activated for user in arms["control"]), len(arms["control"]))
    treated, treated_se = _rate(sum(user in activated for user in arms["treatment"]), len(arms["treatment"]))
    factor = ONBOARDING.variation("treatment").activation_factor
    ratio = treated / control
    ratio_se = ratio * math.hypot(treated_se / treated, control_se / control)  # delta method
    assert abs(ratio - factor) < 3 * ratio_se
    assert treated - control > 2 * math.hypot(treated_se, control_se)


def test_the_pricing_variations_change_what_subscribers_buy(events: list[dict]) -> None:
    first_charge: dict[str, dict] = {}
    for event in events:
        if event.get("event") == "Order Completed" and event["properties"]["kind"] == "subscription":
            first_charge.setdefault(event["anonymousId"], event["properties"])
    annual: dict[str, tuple[float, float]] = {}  # variation -> share of subscribers paying yearly, its SE
    monthly_price: dict[str, float] = {}
    for variation_id, users in _arms(events, PRICING.id).items():
        charges = [first_charge[user] for user in users if user in first_charge]
        annual[variation_id] = _rate(sum(charge["plan"] == "annual" for charge in charges), len(charges))
        prices = [float(charge["revenue"]) / (10 if charge["plan"] == "annual" else 1) for charge in charges]
        monthly_price[variation_id] = sum(prices) / len(prices)
        planted = PRICING.variation(variation_id).annual_share  # within 3 binomial SEs of the planted share
        assert abs(annual[variation_id][0] - planted) < 3 * math.sqrt(planted * (1 - planted) / len(charges))
    (control, control_se), (discount, discount_se) = annual["control"], annual["annual_discount"]
    assert discount - control > 3 * math.hypot(control_se, discount_se)
    # The premium plan shown first moves subscribers to bigger plans (planted: mean price x1.55).
    assert monthly_price["premium_anchor"] > 1.2 * monthly_price["control"]


def test_the_aa_split_is_even_and_the_broken_experiment_split_is_off_as_planted(events: list[dict]) -> None:
    for experiment in (AA_CHECK, SEARCH_RANKING):
        arms = _arms(events, experiment.id)
        n = sum(len(users) for users in arms.values())
        share = len(arms["control"]) / n
        expected = experiment.expected_split["control"]
        assert abs(share - expected) < 3 * math.sqrt(expected * (1 - expected) / n), experiment.id
        configured = experiment.weights["control"]
        z = (share - configured) / math.sqrt(configured * (1 - configured) / n)  # the SRM test, z^2 = chi^2
        if experiment is AA_CHECK:
            assert abs(z) < 3
        else:
            assert abs(z) > 3.29  # p < 0.001: a sample-ratio mismatch
