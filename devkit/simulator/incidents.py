"""Incidents the simulator can plant, so the alerts of delivery.md have something to find.

Two incidents, each off unless asked for (``Simulation(..., incidents=(...))`` or
``growth simulate --signup-outage`` / ``--activation-regression``):

- :class:`SignupOutage`: on one day the signup form is down, worst behind one acquisition
  channel's landing page. That channel loses ``channel_loss`` of its signups (default all),
  every other channel ``other_loss`` (default 60%): with google, about 72% of the day's
  signups. The spend was bought all the same, so the day's cost per signup jumps. The drop is
  this large because the simulated signups are noisy (each paid channel's daily budget varies
  ±40%, and the product grows 50% over the history): delivery.md's rule at threshold 3 catches
  a one-day drop reliably only past about 60-70% (docs/delivery.md, "Planted incidents").
- :class:`ActivationRegression`: from a date on, users of one channel activate less often:
  the probability of activating is multiplied by ``factor`` (default 0.4), as a broken
  onboarding step for that channel's landing flow would do.

Both act on draws the simulation makes anyway: the outage thins the day's planned signups
with a binomial draw from a generator of its own (``seed:incident:signup-outage:<day>``),
and the regression moves the threshold of the activation draw (as an experiment's
``activation_factor`` does), so the days before an incident are byte-identical to a run
without it. Users after an outage day are numbered on from the thinner day, so their lives
(seeded by user number) differ from an untouched run's.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date

from devkit.simulator.model import CHANNELS, DayPlan, Effects

DIRECT = "direct"  # how people name the channel without campaign context (source None)
CHANNEL_NAMES = tuple(channel.source or DIRECT for channel in CHANNELS)


def channel_source(name: str) -> str | None:
    """The simulator's source of a channel name (``direct`` is None); a ValueError names the choices."""
    if name not in CHANNEL_NAMES:
        raise ValueError(f"unknown channel {name!r}: one of {', '.join(CHANNEL_NAMES)}")
    return None if name == DIRECT else name


def _share(value: float, what: str) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{what} is a share between 0 and 1, not {value}")
    return value


@dataclass(frozen=True)
class SignupOutage:
    """One day on which signups drop by a large share, most of it in one channel."""

    day: date
    channel: str = "google"
    channel_loss: float = 1.0
    other_loss: float = 0.6

    def __post_init__(self) -> None:
        channel_source(self.channel)
        _share(self.channel_loss, "the outage channel's loss")
        _share(self.other_loss, "the other channels' loss")

    def apply(self, plan: DayPlan, seed: int) -> None:
        """Thin ``plan``'s signups in place when it is the outage day (binomial per channel)."""
        if plan.day != self.day:
            return
        rng = random.Random(f"{seed}:incident:signup-outage:{self.day.isoformat()}")
        source = channel_source(self.channel)
        for channel, count in plan.signups.items():
            loss = self.channel_loss if channel == source else self.other_loss
            plan.signups[channel] = sum(rng.random() >= loss for _ in range(count))


@dataclass(frozen=True)
class ActivationRegression:
    """From ``start`` on, the users of ``channel`` activate ``factor`` times as often."""

    start: date
    channel: str = "facebook"
    factor: float = 0.4

    def __post_init__(self) -> None:
        channel_source(self.channel)
        if not 0.0 <= self.factor <= 1.0:
            raise ValueError(f"an activation regression's factor is between 0 and 1, not {self.factor}")

    def effects(self, effects: Effects, source: str | None, signup_day: date) -> Effects:
        """The user's effects with the regression applied when it concerns them."""
        if signup_day < self.start or source != channel_source(self.channel):
            return effects
        return replace(effects, activation_factor=effects.activation_factor * self.factor)


Incident = SignupOutage | ActivationRegression


def apply_outages(plans: list[DayPlan], incidents: Sequence[Incident], seed: int) -> list[DayPlan]:
    """The plan with every signup outage applied; partner bounties follow the signups left."""
    outages = [incident for incident in incidents if isinstance(incident, SignupOutage)]
    if not outages:
        return plans
    partner = next(channel for channel in CHANNELS if channel.source == "partner")
    for plan in plans:
        for outage in outages:
            outage.apply(plan, seed)
        bounty = plan.signups.get("partner", 0) * partner.cost_per_signup
        plan.spend["partner"] = bounty
        plan.campaign_spend[("partner", partner.campaigns[0])] = bounty
    return plans


def regressed(effects: Effects, incidents: Sequence[Incident], source: str | None, signup_day: date) -> Effects:
    """``effects`` with every activation regression that concerns this user applied."""
    for incident in incidents:
        if isinstance(incident, ActivationRegression):
            effects = incident.effects(effects, source, signup_day)
    return effects


def parse_incident(kind: type[SignupOutage] | type[ActivationRegression], text: str) -> Incident:
    """``DATE[:CHANNEL[:SHARE]]`` as the CLI takes it: a signup outage's day, channel and the
    channel's loss (default 1.0), or an activation regression's first day, channel and factor
    (default 0.4). A ValueError says what is wrong."""
    parts = text.strip().split(":")
    if not 1 <= len(parts) <= 3:
        raise ValueError(f"{text!r} is not DATE[:CHANNEL[:SHARE]]")
    try:
        day = date.fromisoformat(parts[0])
    except ValueError:
        raise ValueError(f"{parts[0]!r} is not a date (YYYY-MM-DD)") from None
    options: dict[str, object] = {}
    if len(parts) >= 2 and parts[1]:
        options["channel"] = parts[1]
    if len(parts) == 3:
        try:
            number = float(parts[2])
        except ValueError:
            raise ValueError(f"{parts[2]!r} is not a number") from None
        options["channel_loss" if kind is SignupOutage else "factor"] = number
    if kind is SignupOutage:
        return SignupOutage(day, **options)  # type: ignore[arg-type]
    return ActivationRegression(day, **options)  # type: ignore[arg-type]
