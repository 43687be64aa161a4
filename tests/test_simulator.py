"""The simulator: exact counts through a real broker, determinism, and the product's shape.

Shape checks recompute what they need from the raw payloads here, independently of the
simulator's own model code.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import math
from calendar import monthrange
from collections import defaultdict
from dataclasses import replace
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
from devkit.simulator.properties import (
    ALIAS_SIGNUP_PLAN,
    AUTOMATIONS,
    COMPANY_SIZES,
    FEATURES,
    NO_ACCOUNT_SHARE,
    NO_COUNTRY_SHARE,
    PLAN_NAMES,
    SHARING,
    SIGNUP_PLAN,
    SWITCH_SHARE,
    THEMES,
    UNUSABLE_COMPANY_SIZE_SHARE,
    UNUSABLE_PLAN_SHARE,
    WEB_ONLY_SHARE,
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
        assert {p["plan"] for _, _, p in charges} == {props["plan"]}  # one billing interval each
        if props["plan"] == "annual":  # ten monthly prices a year up front; 120 days hold no renewal
            assert price in (290.0, 990.0, 2990.0) and len(charges) == 1
            continue
        # A renewal may move one plan up or down (tests/test_simulator_revenue.py).
        steps = [(29.0, 99.0, 299.0).index(amount) for _, amount, _ in charges]
        assert all(abs(later - earlier) <= 1 for earlier, later in itertools.pairwise(steps))
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


# User properties, accounts and features: the known truth of devkit/simulator/properties.py.


def _signed_up_users(events: list[dict]) -> dict[str, datetime]:
    """anonymousId -> the Signed Up instant (every signed-up user keeps one anonymousId)."""
    signed: dict[str, datetime] = {}
    for event in events:
        if event.get("event") == "Signed Up":
            signed.setdefault(event["anonymousId"], datetime.fromisoformat(event["timestamp"]))
    return signed


def _core(event: dict) -> list:
    keys = ("messageId", "type", "event", "timestamp", "userId", "anonymousId", "properties", "previousId", "groupId")
    return [event.get(key) for key in keys]


def _digests(simulation: Simulation, added: set[str]) -> tuple[str, str]:
    """Hashes of the events' core fields and of the record stream (keys, message ids, malformed
    records, retries), leaving out the events properties.py adds and their retries."""
    events = hashlib.sha256()
    for event in simulation.events():
        if event["messageId"] not in added:
            events.update(orjson.dumps(_core(event), option=orjson.OPT_SORT_KEYS))
    records = hashlib.sha256()
    after_added = False
    for key, value in simulation.records():
        try:
            message_id = orjson.loads(value)["messageId"]
        except (orjson.JSONDecodeError, KeyError):
            if after_added:  # a malformed record drawn by the added events' own generator
                continue
            message_id = value.decode("latin-1")
        else:
            after_added = message_id in added
            if after_added:
                continue
        records.update(orjson.dumps([key.decode() if key else None, message_id]))
    return events.hexdigest(), records.hexdigest()


def test_the_properties_change_no_existing_event() -> None:
    simulation = Simulation(users=300, days=60, seed=5, end_date=END)
    plain = list(replace(simulation, properties=False).events())
    rich = list(simulation.events())
    old = {event["messageId"] for event in plain}
    added = [event for event in rich if event["messageId"] not in old]
    # The same events in the same order, with the same ids, timestamps and properties; existing
    # traits kept (plan and company size are added); only context fields are new.
    assert [_core(event) for event in rich if event["messageId"] in old] == [_core(event) for event in plain]
    rich_by_id = {event["messageId"]: event for event in rich}
    for event in plain:
        for key, value in (event.get("traits") or {}).items():
            assert rich_by_id[event["messageId"]]["traits"][key] == value
        assert (event.get("context") or {}).items() <= rich_by_id[event["messageId"]]["context"].items()
    assert {event.get("event") or event["type"] for event in added} == {"identify", "group"} | {
        feature.event for feature in FEATURES
    }
    # The record stream is stored from the simulator before properties.py existed (commit
    # 615a613): the other events' ids, keys, retries and malformed records are exactly those of
    # that version. The events' own digest is that of #18, whose subscription charges carry
    # their billing interval and move plan at some renewals (same ids and times).
    assert _digests(simulation, {event["messageId"] for event in added}) == (
        "494503e58ef35842b912ded98b5b9fe5792fade5bdea46d93c1c84f78bc7bdf3",
        "6daa6afea15e23cb6e09be5642d41db09cb277d848274d9cc45ca35658a69e6c",
    )


def test_added_events_are_few_and_never_make_anyone_active(events: list[dict]) -> None:
    plain = {
        event["messageId"]
        for event in Simulation(users=1500, days=120, seed=7, end_date=END, properties=False).events()
    }
    added = [event for event in events if event["messageId"] not in plain]
    assert 0.01 < len(added) / len(events) < 0.03
    active_days: set[tuple[str, str]] = set()
    for event in events:
        if event["messageId"] in plain and event["type"] in ("track", "page") and event.get("event") != EXPOSURE_EVENT:
            active_days.add((event["anonymousId"], event["timestamp"][:10]))
    for event in added:  # every added event is on a day the user was already active
        assert (event["anonymousId"], event["timestamp"][:10]) in active_days


def _identifies(events: list[dict]) -> dict[str, list[dict]]:
    identifies: dict[str, list[dict]] = defaultdict(list)
    for event in events:
        if event["type"] == "identify":
            identifies[event["anonymousId"]].append(event)
    return identifies


def test_identify_traits_carry_a_plan_that_changes_for_upgraders(events: list[dict]) -> None:
    first_charge: dict[str, dict] = {}
    for event in events:
        if event.get("event") == "Order Completed" and event["properties"]["kind"] == "subscription":
            first_charge.setdefault(event["anonymousId"], event["properties"])
    identifies = _identifies(events)
    assert len(identifies) > 1000 and len(first_charge) > 100
    unusable_plans = unusable_sizes = changed = 0
    for user, calls in identifies.items():
        signup = calls[0]["traits"]
        alias = calls[0]["userId"].startswith("tmp_")
        if _usable(signup["plan"]):
            assert signup["plan"] == (ALIAS_SIGNUP_PLAN if alias else SIGNUP_PLAN)
        else:
            unusable_plans += 1
        assert signup["company_size"] in COMPANY_SIZES
        if user not in first_charge:
            assert len(calls) == 1
            continue
        assert len(calls) == 2 and calls[1]["timestamp"] >= calls[0]["timestamp"]
        charge = first_charge[user]
        monthly = float(charge["revenue"]) / (10 if charge["plan"] == "annual" else 1)
        assert calls[1]["traits"]["plan"] == PLAN_NAMES[monthly]
        changed += calls[1]["traits"]["plan"] != signup["plan"]
        size = calls[1]["traits"]["company_size"]
        if _usable(size):
            assert size == signup["company_size"]
        else:
            unusable_sizes += 1
    assert changed == len(first_charge)  # first and latest plan differ for every upgrader
    assert 0 < unusable_plans < 2 * UNUSABLE_PLAN_SHARE * len(identifies)
    assert 0 < unusable_sizes < 3 * UNUSABLE_COMPANY_SIZE_SHARE * len(first_charge)


def _profiles(events: list[dict]) -> dict[str, set[tuple]]:
    """anonymousId -> the distinct (device type, OS name, country) its events carry."""
    profiles: dict[str, set[tuple]] = defaultdict(set)
    for event in events:
        context = event.get("context") or {}
        profiles[event["anonymousId"]].add(
            (
                (context.get("device") or {}).get("type"),
                (context.get("os") or {}).get("name"),
                (context.get("location") or {}).get("country"),
            )
        )
    return profiles


def test_each_user_has_one_platform_and_country_and_some_are_web_only(events: list[dict]) -> None:
    users = _signed_up_users(events)
    profiles = _profiles(events)
    assert all(len(profiles[user]) == 1 for user in users)  # consistent on every event, exposures included
    user_profiles = [next(iter(profiles[user])) for user in users]
    n = len(user_profiles)
    web_only = sum(device is None and os is None for device, os, _ in user_profiles)
    assert abs(web_only / n - WEB_ONLY_SHARE) < 3 * math.sqrt(WEB_ONLY_SHARE * (1 - WEB_ONLY_SHARE) / n)
    assert any(device is None and os is not None for device, os, _ in user_profiles)  # OS name only
    devices = {device for device, _, _ in user_profiles if device is not None}
    assert {device.lower() for device in devices} == {"mobile", "desktop", "tablet"}
    assert devices != {device.lower() for device in devices}  # a few SDKs capitalise it
    no_country = sum(country is None for _, _, country in user_profiles)
    assert abs(no_country / n - NO_COUNTRY_SHARE) < 3 * math.sqrt(NO_COUNTRY_SHARE * (1 - NO_COUNTRY_SHARE) / n)
    countries = [country.upper() for _, _, country in user_profiles if country is not None]
    assert all(len(country) == 2 and country.isalpha() for country in countries)
    assert len(set(countries)) >= 10 and max(set(countries), key=countries.count) == "US"
    # Anonymous visitors carry a platform and a country too, one per visitor.
    visitors = [profile for user, profile in profiles.items() if user not in users]
    assert visitors and all(len(profile) == 1 for profile in visitors)


def test_accounts_have_several_users_and_a_few_users_switch(events: list[dict]) -> None:
    calls: dict[str, list[str]] = defaultdict(list)
    names: dict[str, set[str]] = defaultdict(set)
    for event in events:
        if event["type"] == "group":
            assert event["userId"] and event["groupId"].startswith("acct_")
            calls[event["anonymousId"]].append(event["groupId"])
            if _usable(event["traits"].get("name")):
                names[event["groupId"]].add(event["traits"]["name"].strip())
    users = _signed_up_users(events)
    assert set(calls) <= set(users)
    members = len(calls) / len(users)
    assert abs(members - (1 - NO_ACCOUNT_SHARE)) < 0.05
    switched = [groups for groups in calls.values() if len(groups) > 1]
    assert all(len(groups) == 2 and groups[0] != groups[1] for groups in switched)
    assert 0 < len(switched) < 2 * SWITCH_SHARE * len(calls)
    account_users: dict[str, int] = defaultdict(int)
    for groups in calls.values():
        account_users[groups[-1]] += 1  # the latest group call decides the account
    sizes = sorted(account_users.values())
    assert sum(sizes) / len(sizes) > 1.5 and sizes[-1] >= 5 and sum(size >= 3 for size in sizes) > 20
    assert all(len(spellings) == 1 for spellings in names.values())  # one company name per account


def _week_four_retention_by_early_use(events: list[dict], feature: str) -> tuple[float, float, float]:
    """Week-4 retention of early adopters minus non-adopters (segments.md), its SE and the adopters' share."""
    signed = _signed_up_users(events)
    qualifying = {user for user, at in signed.items() if at.date() + timedelta(days=34) <= END}
    retained, adopters = set(), set()
    for event in events:
        user = event["anonymousId"]
        if user not in qualifying or event["type"] not in ("track", "page") or event.get("event") == EXPOSURE_EVENT:
            continue
        at = datetime.fromisoformat(event["timestamp"])
        if 28 <= (at.date() - signed[user].date()).days <= 34:
            retained.add(user)
        if event.get("event") == feature and signed[user] <= at < signed[user] + timedelta(days=7):
            adopters.add(user)
    others = qualifying - adopters
    adopter_rate, adopter_se = _rate(len(adopters & retained), len(adopters))
    other_rate, other_se = _rate(len(others & retained), len(others))
    return adopter_rate - other_rate, math.hypot(adopter_se, other_se), len(adopters) / len(qualifying)


def test_early_use_of_the_planted_features_goes_with_week_four_retention(events: list[dict]) -> None:
    strong, strong_se, strong_share = _week_four_retention_by_early_use(events, AUTOMATIONS.event)
    assert strong > 0.25 and strong > 6 * strong_se and 0.15 < strong_share < 0.5
    moderate, moderate_se, _ = _week_four_retention_by_early_use(events, SHARING.event)
    assert moderate > 0.08 and moderate > 3 * moderate_se and moderate < strong
    none, none_se, none_share = _week_four_retention_by_early_use(events, THEMES.event)
    assert abs(none) < 3 * none_se and 0.1 < none_share < 0.3
