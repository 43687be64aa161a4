"""User properties with known truth: traits, platform, country, B2B accounts and features.

Every constant a test or an analysis of segments needs lives here (the tables in
docs/simulator.md are the same):

- ``identify`` traits: ``plan`` (``free`` at signup, the subscribed plan on a later identify
  when the user subscribes) and ``company_size``, now and then an unusable value;
- every event's ``context.device.type`` / ``context.os.name`` (one platform per user, none
  for web-only users) and ``context.location.country`` (ISO-2, absent for some users);
- ``group`` calls: accounts with several users, a few users moving to another account once;
- product features whose early use goes with week-4 retention (and one whose use does not).

Isolation: everything here is drawn from generators of its own, seeded by (seed, purpose,
user number), never from the generators of the rest of the simulation. Existing events
keep their type, name, timestamps, ids, properties and retries; they only gain context
fields and traits, and the new events (identify on subscribing, group calls, feature
events) come seconds after an existing event of the same user on the same day, so they
never make anyone active on a day they were not.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from devkit.simulator.events import Event, side_payload
from devkit.simulator.experiments import EXPOSURE_EVENT
from devkit.simulator.model import UserLife

# --- traits -------------------------------------------------------------------------------
SIGNUP_PLAN = "free"  # the plan trait every (non-alias) signup identify sends
ALIAS_SIGNUP_PLAN = "trial"  # users signing up under a temporary id are on a trial
PLAN_NAMES = {29.0: "starter", 99.0: "pro", 299.0: "business"}  # the plan trait after subscribing
COMPANY_SIZES = ("1-10", "11-50", "51-200", "200+")  # the spelling the signup form always used
UNUSABLE_PLAN_SHARE = 0.03  # of signup identifies: plan sent blank or null
UNUSABLE_COMPANY_SIZE_SHARE = 0.05  # of subscription identifies: company_size sent blank or null
UNUSABLE_TRAIT_VALUES: tuple[Any, ...] = ("", "  ", None)

# --- platform and country -----------------------------------------------------------------
# (device type or None, OS names, share of users). Web-only users send neither field; a few
# users' SDK sends only the OS name; the rest send both, the OS drawn once per user.
PLATFORMS: tuple[tuple[str | None, tuple[str, ...], float], ...] = (
    (None, (), 0.25),  # web only
    ("desktop", ("macOS", "Windows", "Linux"), 0.38),
    ("mobile", ("iOS", "Android"), 0.27),
    ("tablet", ("iPadOS", "Android"), 0.07),
    (None, ("Android",), 0.03),  # OS name only: the platform is the OS, "android"
)
WEB_ONLY_SHARE = PLATFORMS[0][2]
OS_ONLY_SHARE = PLATFORMS[-1][2]
CAPITALISED_DEVICE_SHARE = 0.05  # of users with a device type: their SDK spells it "Mobile", "Desktop"
COUNTRIES: tuple[tuple[str, float], ...] = (
    ("US", 0.34),
    ("GB", 0.10),
    ("DE", 0.09),
    ("IN", 0.08),
    ("FR", 0.06),
    ("CA", 0.05),
    ("BR", 0.05),
    ("AU", 0.04),
    ("NL", 0.04),
    ("ES", 0.03),
    ("JP", 0.03),
    ("SE", 0.03),
    ("PL", 0.02),
    ("MX", 0.02),
    ("SG", 0.02),
)
NO_COUNTRY_SHARE = 0.08  # users whose events carry no location
LOWERCASE_COUNTRY_SHARE = 0.03  # of users with a country: sent lowercase ("de")

# --- accounts (group calls) ---------------------------------------------------------------
NO_ACCOUNT_SHARE = 0.3  # users who never send a group call (personal use)
FOUNDER_SHARE = 0.15  # users who create a new account; the rest join an earlier founder's account
JOIN_LOOKBACK = 150  # joiners' candidate inviters are among the previous this-many users ...
JOIN_CANDIDATES = 16  # ... this many of them, tried in turn (with none taking them, they found one)
SWITCH_SHARE = 0.04  # of account members: move to another account once, a week or more later
NAMELESS_GROUP_SHARE = 0.03  # of group calls: traits without a name
PADDED_NAME_SHARE = 0.05  # of group calls: the name with a trailing space
NAME_FIRST = ("Acme", "Northwind", "Bluebird", "Granite", "Juniper", "Copperleaf", "Lumen", "Harbor", "Pinecrest")
NAME_SECOND = ("Analytics", "Labs", "Logistics", "Health", "Media", "Systems", "Studio", "Foods", "Robotics")
NAME_SUFFIX = ("", " Inc", " GmbH", " Ltd", " & Co")


# --- features -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Feature:
    """A product feature (a track event) and how its use relates to the user's engagement."""

    event: str
    early_engaged: float  # chance of a use in the first 7 days for users still engaged on day 35
    early_other: float  # the same chance for every other user
    reuse: float  # per later active day of a user who has used it: chance of another use
    late_adoption: float  # per later active day of a user who has not: chance of a first use
    truth: str


ENGAGED_THROUGH_DAYS = 35.0  # "engaged on day 35": the user's engaged lifetime reaches past week 4
EARLY_DAYS = 7  # the early window after signing up (the warehouse's feature_early_days default)

# fmt: off
AUTOMATIONS = Feature(
    "Automation Created", early_engaged=0.55, early_other=0.08, reuse=0.06, late_adoption=0.004,
    truth="strong association: early users are mostly those who stay engaged, so adopters retain at week 4 "
          "far more than non-adopters",
)
SHARING = Feature(
    "Dashboard Shared", early_engaged=0.30, early_other=0.12, reuse=0.04, late_adoption=0.004,
    truth="moderate association: early use is 2.5 times as likely for users who stay engaged",
)
THEMES = Feature(
    "Theme Changed", early_engaged=0.20, early_other=0.20, reuse=0.0, late_adoption=0.002,
    truth="no association: early use is a coin flip (20%) for every user, whatever their engagement",
)
# fmt: on
FEATURES: tuple[Feature, ...] = (AUTOMATIONS, SHARING, THEMES)
RETAINING_FEATURES = (AUTOMATIONS, SHARING)
NON_RETAINING_FEATURE = THEMES


@dataclass(frozen=True)
class Profile:
    """What a user's (or visitor's) events say about where they are and what they use."""

    device_type: str | None
    os_name: str | None
    country: str | None

    def context(self) -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if self.device_type is not None:
            extra["device"] = {"type": self.device_type}
        if self.os_name is not None:
            extra["os"] = {"name": self.os_name}
        if self.country is not None:
            extra["location"] = {"country": self.country}
        return extra


def draw_profile(rng: random.Random) -> Profile:
    device_type, os_names, _ = rng.choices(PLATFORMS, weights=[share for _, _, share in PLATFORMS])[0]
    os_name = rng.choice(os_names) if os_names else None
    if device_type is not None and rng.random() < CAPITALISED_DEVICE_SHARE:
        device_type = device_type.capitalize()
    country: str | None = None
    if rng.random() >= NO_COUNTRY_SHARE:
        country = rng.choices([code for code, _ in COUNTRIES], weights=[share for _, share in COUNTRIES])[0]
        if rng.random() < LOWERCASE_COUNTRY_SHARE:
            country = country.lower()
    return Profile(device_type, os_name, country)


def user_profile(seed: int, number: int) -> Profile:
    """User ``number``'s platform and country, the same on every one of their events."""
    return draw_profile(random.Random(f"{seed}:profile:{number}"))


def decorate(events: list[Event], profile: Profile) -> None:
    """Give every event the profile's context fields (a new context dict per event)."""
    extra = profile.context()
    if not extra:
        return
    for event in events:
        event["context"] = {**(event.get("context") or {}), **extra}


# --- accounts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _AccountDraw:
    """User ``number``'s own account draw (from its account generator, never anything else's)."""

    founds: bool  # creates an account (its id is the founder's number)
    joins: bool  # joins the account of one of the candidates (an earlier founder)
    appeal: float  # as a founder: chance that an invited candidate's account takes a joiner
    candidates: tuple[tuple[int, float], ...]  # (earlier user number, acceptance draw)


@lru_cache(maxsize=4096)  # joiners look back at most 4 * JOIN_LOOKBACK users
def _account_draw(seed: int, number: int) -> _AccountDraw:
    rng = random.Random(f"{seed}:account:{number}")
    draw = rng.random()
    appeal = 0.2 + 0.8 * rng.random()
    candidates = tuple((number - rng.randint(1, JOIN_LOOKBACK), rng.random()) for _ in range(JOIN_CANDIDATES))
    founds = NO_ACCOUNT_SHARE <= draw < NO_ACCOUNT_SHARE + FOUNDER_SHARE
    return _AccountDraw(founds, draw >= NO_ACCOUNT_SHARE + FOUNDER_SHARE, appeal, candidates)


def _first_founder(seed: int, candidates: tuple[tuple[int, float], ...], exclude: int | None) -> int | None:
    for candidate, draw in candidates:
        if candidate >= 1 and candidate != exclude:
            other = _account_draw(seed, candidate)
            if other.founds and draw < other.appeal:
                return candidate
    return None


def account_of(seed: int, number: int) -> int | None:
    """The founder number of the account user ``number`` first joins (None: no account).

    A joiner is invited into the account of the first of their candidates (earlier users) who
    founded one and whose account takes them (its appeal); with none, they found their own.
    """
    draw = _account_draw(seed, number)
    if draw.founds:
        return number
    if not draw.joins:
        return None
    return _first_founder(seed, draw.candidates, None) or number


def account_id(founder: int) -> str:
    return f"acct_{founder:06d}"


def account_name(seed: int, founder: int) -> str:
    rng = random.Random(f"{seed}:company:{founder}")
    return f"{rng.choice(NAME_FIRST)} {rng.choice(NAME_SECOND)}{rng.choice(NAME_SUFFIX)}"


def switch_of(seed: int, number: int) -> int | None:
    """The account user ``number`` later moves to, if they are one of the few who switch."""
    first = account_of(seed, number)
    if first is None:
        return None
    rng = random.Random(f"{seed}:account-switch:{number}")
    if rng.random() >= SWITCH_SHARE:
        return None
    candidates = tuple((number - rng.randint(1, 4 * JOIN_LOOKBACK), rng.random()) for _ in range(4 * JOIN_CANDIDATES))
    return _first_founder(seed, candidates, first)


# --- new events -----------------------------------------------------------------------------


def _moment(event: Event) -> datetime:
    return datetime.fromisoformat(event["timestamp"])


def _after(anchor: Event, rng: random.Random, limit: datetime | None = None) -> datetime:
    """A moment seconds after ``anchor``, on the same day and before ``limit``."""
    start = _moment(anchor)
    end_of_day = datetime.combine(start.date() + timedelta(days=1), datetime.min.time(), UTC)
    latest = end_of_day if limit is None else min(limit, end_of_day)
    return max(start, min(start + timedelta(seconds=rng.uniform(0.5, 20)), latest - timedelta(milliseconds=1)))


def _is_activity(event: Event) -> bool:
    return event["type"] == "page" or (event["type"] == "track" and event.get("event") != EXPOSURE_EVENT)


def _traits(seed: int, life: UserLife, events: list[Event], horizon: datetime) -> list[Event]:
    """Add ``plan`` (and ``company_size``) to the signup identify; a new identify on subscribing."""
    rng = random.Random(f"{seed}:traits:{life.number}")
    signup = next(event for event in events if event["type"] == "identify")
    traits = signup["traits"] = dict(signup.get("traits") or {})
    if life.uses_alias:  # the trial identify (plan "trial") gets a company size too
        traits["company_size"] = rng.choice(COMPANY_SIZES)
    else:
        traits["plan"] = rng.choice(UNUSABLE_TRAIT_VALUES) if rng.random() < UNUSABLE_PLAN_SHARE else SIGNUP_PLAN
    first_charge = next(
        (
            event
            for event in events
            if event.get("event") == "Order Completed" and event["properties"].get("kind") == "subscription"
        ),
        None,
    )
    if first_charge is None:
        return []
    size: Any = traits["company_size"]
    if rng.random() < UNUSABLE_COMPANY_SIZE_SHARE:
        size = rng.choice(UNUSABLE_TRAIT_VALUES)
    at = _after(first_charge, rng, horizon)
    return [
        side_payload(
            rng, at, first_charge, "identify", traits={"plan": PLAN_NAMES[life.plan_price], "company_size": size}
        )
    ]


def _group_call(seed: int, rng: random.Random, at: datetime, actor: Event, founder: int) -> Event:
    traits: dict[str, Any] = {}
    if rng.random() >= NAMELESS_GROUP_SHARE:
        name = account_name(seed, founder)
        traits["name"] = name + " " if rng.random() < PADDED_NAME_SHARE else name
    return side_payload(rng, at, actor, "group", groupId=account_id(founder), traits=traits)


def _groups(seed: int, life: UserLife, events: list[Event], signed_up: Event, horizon: datetime) -> list[Event]:
    founder = account_of(seed, life.number)
    if founder is None:
        return []
    rng = random.Random(f"{seed}:account-calls:{life.number}")
    out = [_group_call(seed, rng, _after(signed_up, rng, horizon), signed_up, founder)]
    other = switch_of(seed, life.number)
    if other is not None:
        later = _moment(signed_up) + timedelta(days=7)
        anchors = [event for event in events if _is_activity(event) and _moment(event) >= later]
        if anchors:
            anchor = rng.choice(anchors)
            out.append(_group_call(seed, rng, _after(anchor, rng, horizon), anchor, other))
    return out


def _features(seed: int, life: UserLife, events: list[Event], signed_up: Event, horizon: datetime) -> list[Event]:
    start = _moment(signed_up)
    window_end = start + timedelta(days=EARLY_DAYS)
    activity = [event for event in events if _is_activity(event) and _moment(event) >= start]
    early = [event for event in activity if _moment(event) < window_end]
    later_days: dict[str, list[Event]] = {}
    for event in activity:
        if _moment(event) >= window_end:
            later_days.setdefault(event["timestamp"][:10], []).append(event)
    engaged = life.engaged_days >= ENGAGED_THROUGH_DAYS
    out: list[Event] = []
    for feature in FEATURES:
        rng = random.Random(f"{seed}:feature:{feature.event}:{life.number}")
        used = False
        if early and rng.random() < (feature.early_engaged if engaged else feature.early_other):
            anchor = rng.choice(early)
            out.append(
                side_payload(rng, _after(anchor, rng, min(window_end, horizon)), anchor, "track", event=feature.event)
            )
            used = True
        for day_events in later_days.values():
            if rng.random() < (feature.reuse if used else feature.late_adoption):
                anchor = rng.choice(day_events)
                out.append(side_payload(rng, _after(anchor, rng, horizon), anchor, "track", event=feature.event))
                used = True
    return out


def property_events(seed: int, life: UserLife, events: list[Event], horizon: datetime) -> list[Event]:
    """Add traits to ``events`` (one signed-up user's, time order) and return the new events.

    The new events are an identify when the user subscribes, group calls and feature events;
    ``events`` keeps its events and order (their context is decorated by the caller).
    """
    signed_up = next(event for event in events if event.get("event") == "Signed Up")
    new = _traits(seed, life, events, horizon)
    new += _groups(seed, life, events, signed_up, horizon)
    new += _features(seed, life, events, signed_up, horizon)
    return [event for event in new if _moment(event) < horizon]
