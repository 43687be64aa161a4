"""Experiments with known truth: who is in which variation, what it changes, what is broken.

Every constant a test or an analysis needs to check the warehouse against lives here (the
table in docs/simulator.md is the same). Exposures are ``track`` events named
``Experiment Viewed`` with ``experiment_id``, ``experiment_name``, ``variation_id`` and
``variation_name`` (the Segment A/B-testing spec).

Everything experiment-related comes from one generator per (seed, experiment, user number),
separate from the generators of the rest of the simulation, so adding exposures shifts no
other event. A planted effect moves the threshold of a draw a user's life makes anyway
(``model.Effects``): a user in every control variation lives exactly the life they would live
without experiments, and only treated users whose draw falls between the two thresholds
change.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from devkit.simulator.events import Event, iso, side_payload
from devkit.simulator.model import ANNUAL_SHARE, NO_EFFECTS, PAGES, Effects

EXPOSURE_EVENT = "Experiment Viewed"
PRE_LOGIN_SHARE = 0.3  # of onboarding_checklist users: exposed on the signup form, before identify
UNUSABLE_SHARE = 0.01  # of exposures: followed by a broken second call without a usable variation_id
MISSING = object()  # a variation_id key left out of the properties
UNUSABLE_VARIATION_IDS: tuple[Any, ...] = (None, "", "  ", MISSING)
NO_PLAN_CHANGE = NO_EFFECTS.plan_factors


@dataclass(frozen=True)
class Variation:
    """One arm of an experiment and the effect planted in it (the defaults plant none)."""

    id: str
    name: str
    weight: float = 1.0  # traffic share, relative to the experiment's other variations
    activation_factor: float = 1.0  # multiplies the probability of activating (Project Created)
    annual_share: float = ANNUAL_SHARE  # share of its subscribers who pay a year up front
    plan_factors: tuple[float, float, float] = NO_PLAN_CHANGE  # multiply the 29 / 99 / 299 plan mix weights
    lost_exposures: float = 0.0  # share of its users whose exposure calls are never sent (a bug)


@dataclass(frozen=True)
class Experiment:
    """An experiment: its variations, who sees it and where, and what is true about it."""

    id: str
    name: str
    variations: tuple[Variation, ...]  # the first is the control
    allocation: float  # share of signed-up users who are in it (traffic allocation)
    trigger_pages: frozenset[str]  # page views that show it; each is a chance of a (repeat) exposure
    at_signup: bool  # first shown at signup (before the trigger pages)
    repeat_probability: float  # chance that a later trigger page view logs a repeat exposure
    max_repeats: int
    repeat_days: float | None = None  # repeats only this many days after signup (None: any time)
    multiple_exposure_share: float = 0.0  # users later shown a second, different variation once
    broken: bool = False  # its assignment data cannot be trusted (the analysis should say so)
    truth: str = ""  # the planted truth in one sentence

    @property
    def control(self) -> Variation:
        return self.variations[0]

    @property
    def weights(self) -> dict[str, float]:
        """The configured traffic split, normalised: what an analysis should be told."""
        total = sum(variation.weight for variation in self.variations)
        return {variation.id: variation.weight / total for variation in self.variations}

    @property
    def expected_split(self) -> dict[str, float]:
        """The expected share of exposed users per variation, lost exposures taken into account."""
        kept = {variation.id: variation.weight * (1 - variation.lost_exposures) for variation in self.variations}
        total = sum(kept.values())
        return {variation_id: share / total for variation_id, share in kept.items()}

    def variation(self, variation_id: str) -> Variation:
        return next(variation for variation in self.variations if variation.id == variation_id)


# fmt: off
ONBOARDING = Experiment(
    "onboarding_checklist", "Onboarding checklist",
    (Variation("control", "No checklist"),
     Variation("treatment", "Checklist", activation_factor=1.3)),
    allocation=0.4, trigger_pages=frozenset({"Dashboard"}), at_signup=True,
    repeat_probability=0.1, max_repeats=2, repeat_days=7, multiple_exposure_share=0.015,
    truth="the checklist multiplies the probability of activating by 1.3 (relative lift +30%); "
          "only activated users subscribe, so the paying share is x1.3 too",
)
PRICING = Experiment(
    "pricing_page", "Pricing page",
    (Variation("control", "Current pricing page"),
     Variation("annual_discount", "Annual toggle by default", annual_share=0.6),
     Variation("premium_anchor", "Premium plan first", plan_factors=(1.0, 1.5, 4.0))),
    allocation=0.45, trigger_pages=frozenset({"Pricing", "Billing"}), at_signup=False,
    repeat_probability=0.03, max_repeats=1,
    truth="annual_discount: 60% of subscribers pay a year up front (control 20%), first charge x2.29; "
          "premium_anchor: plan mix weights x1 / x1.5 / x4 for the 29 / 99 / 299 plans, mean monthly "
          "price x1.55; neither changes who subscribes",
)
AA_CHECK = Experiment(
    "aa_check", "A/A check",
    (Variation("control", "A"),
     Variation("treatment", "A (identical)")),
    allocation=0.1, trigger_pages=frozenset(PAGES), at_signup=False,
    repeat_probability=0.03, max_repeats=1,
    truth="two identical variations: no effect, an even split",
)
SEARCH_RANKING = Experiment(
    "search_ranking", "Search ranking",
    (Variation("control", "Recency ranking"),
     Variation("treatment", "Relevance ranking", lost_exposures=0.4)),
    allocation=0.4, trigger_pages=frozenset({"Projects"}), at_signup=False,
    repeat_probability=0.1, max_repeats=1,
    broken=True,
    truth="BROKEN: configured 50/50, but 40% of treatment users never send their exposure, so exposed "
          "users split 62.5/37.5 (a sample-ratio mismatch); no effect planted",
)
# fmt: on
EXPERIMENTS: tuple[Experiment, ...] = (ONBOARDING, PRICING, AA_CHECK, SEARCH_RANKING)
BY_ID = {experiment.id: experiment for experiment in EXPERIMENTS}


def dbt_experiments_var() -> dict[str, dict[str, Any]]:
    """The warehouse's ``experiments`` var as the experiments' owners would configure it."""
    return {
        experiment.id: {"control": experiment.control.id, "weights": experiment.weights} for experiment in EXPERIMENTS
    }


@dataclass(frozen=True)
class Assignment:
    """A user's variation in one experiment, and the experiment's generator for that user."""

    experiment: Experiment
    variation: Variation
    rng: random.Random


def assign(seed: int, number: int) -> list[Assignment]:
    """The experiments user ``number`` is in, each drawn from its own generator."""
    assignments = []
    for experiment in EXPERIMENTS:
        rng = random.Random(f"{seed}:experiment:{experiment.id}:{number}")
        if rng.random() < experiment.allocation:
            weights = [variation.weight for variation in experiment.variations]
            assignments.append(Assignment(experiment, rng.choices(experiment.variations, weights=weights)[0], rng))
    return assignments


def effects_of(assignments: list[Assignment]) -> Effects:
    """What the user's variations change in their life (nothing when every one is a control)."""
    activation_factor, annual_share, plan_factors = 1.0, ANNUAL_SHARE, NO_PLAN_CHANGE
    for assignment in assignments:
        variation = assignment.variation
        activation_factor *= variation.activation_factor
        if variation.annual_share != ANNUAL_SHARE:
            annual_share = variation.annual_share
        if variation.plan_factors != NO_PLAN_CHANGE:
            plan_factors = variation.plan_factors
    if activation_factor == 1.0 and annual_share == ANNUAL_SHARE and plan_factors == NO_PLAN_CHANGE:
        return NO_EFFECTS
    return Effects(activation_factor, annual_share, plan_factors)


def _after(event: Event, rng: random.Random) -> datetime:
    """A moment just after ``event``: when what it showed logs its exposure."""
    return datetime.fromisoformat(event["timestamp"]) + timedelta(milliseconds=rng.randint(80, 900))


def _exposure(
    rng: random.Random, at: datetime, actor: Event, experiment: Experiment, variation: Variation, variation_id: Any
) -> Event:
    """One ``Experiment Viewed`` payload, sent with the ids ``actor`` has (anonymousId, userId)."""
    properties: dict[str, Any] = {"experiment_id": experiment.id, "experiment_name": experiment.name}
    if variation_id is not MISSING:
        properties["variation_id"] = variation_id
    properties["variation_name"] = variation.name
    return side_payload(rng, at, actor, "track", event=EXPOSURE_EVENT, properties=properties)


View = tuple[datetime, Event]  # when the user saw an experiment, and the event whose ids the exposure carries


def _views(events: list[Event], signup: Event, experiment: Experiment, rng: random.Random) -> list[View]:
    """When the user saw the experiment and with which ids: the first view, then the repeats."""
    signup_at = datetime.fromisoformat(signup["timestamp"])
    views: list[View] = []
    if experiment.at_signup:
        if rng.random() < PRE_LOGIN_SHARE:  # on the signup form, before identify: the anonymousId only
            views.append((signup_at - timedelta(seconds=rng.uniform(5, 90)), {"anonymousId": signup["anonymousId"]}))
        else:
            views.append((signup_at + timedelta(seconds=rng.uniform(3, 10)), signup))
    last = None if experiment.repeat_days is None else iso(signup_at + timedelta(days=experiment.repeat_days))
    for event in events:
        if event["type"] != "page" or event.get("name") not in experiment.trigger_pages:
            continue
        if (last is not None and event["timestamp"] > last) or len(views) > experiment.max_repeats:
            break
        if not views or rng.random() < experiment.repeat_probability:
            views.append((_after(event, rng), event))
    return views


def exposures(events: list[Event], assignments: list[Assignment], horizon: datetime) -> list[Event]:
    """The exposure events of one signed-up user, whose other events are ``events`` (time order).

    The first exposure is at signup or at the first trigger page view; later trigger page
    views repeat it now and then (the same variation). Some onboarding exposures are sent
    before ``identify``, with the anonymousId only; a few users are later shown a second,
    different variation once; a few exposures are followed by a broken call without a usable
    ``variation_id``. Users of a variation with ``lost_exposures`` may send none at all.
    """
    signup_index = next(index for index, event in enumerate(events) if event["type"] == "identify")
    out: list[Event] = []
    for assignment in assignments:
        experiment, variation, rng = assignment.experiment, assignment.variation, assignment.rng
        if variation.lost_exposures and rng.random() < variation.lost_exposures:
            continue
        views = [(at, actor, variation) for at, actor in _views(events, events[signup_index], experiment, rng)]
        if views and experiment.multiple_exposure_share and rng.random() < experiment.multiple_exposure_share:
            # A bucketing slip: once, some time after the first view, another variation is shown.
            other = rng.choice([candidate for candidate in experiment.variations if candidate is not variation])
            first = iso(views[0][0])
            later = [event for event in events[signup_index + 1 :] if event["timestamp"] > first]
            if later:
                event = rng.choice(later)
                views.append((_after(event, rng), event, other))
        for at, actor, shown in views:
            if at >= horizon:
                continue
            out.append(_exposure(rng, at, actor, experiment, shown, shown.id))
            if rng.random() < UNUSABLE_SHARE:  # a second, broken tracking call
                broken_at = at + timedelta(milliseconds=rng.randint(1, 50))
                if broken_at < horizon:
                    out.append(_exposure(rng, broken_at, actor, experiment, shown, rng.choice(UNUSABLE_VARIATION_IDS)))
    return out
