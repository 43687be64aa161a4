"""The simulated product: a B2B SaaS tool with four acquisition channels and direct traffic.

The model is deliberately simple but has the shapes growth metrics exist to measure:
paid channels whose daily spend buys signups at a channel-specific cost, channel-specific
activation and paying quality, retention that decays with occasional resurrection,
weekday seasonality, and subscriptions that renew (monthly or yearly) until the customer
cancels, with add-ons bought now and then.

Paying follows what a growth team sees in its billing data rather than a fixed schedule:
at each renewal a subscriber cancels with a probability of their own (so the number of
paid periods is geometric, the lifetime memoryless), and that probability is lower for
users who stay engaged longer (channel quality carries through to revenue) and for
bigger plans. Add-ons arrive as a Poisson process while the subscription runs.

Everything is derived from seeded RNGs: the daily plan from one generator, each user's
life from a generator seeded by (seed, user number), so the same seed gives the same
events regardless of how the work is split.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

WEEKDAY_FACTOR = (1.1, 1.15, 1.15, 1.1, 1.0, 0.55, 0.5)  # Monday .. Sunday


@dataclass(frozen=True)
class Channel:
    """An acquisition channel: where its traffic comes from and how good its users are."""

    source: str | None  # utm_source; None for organic/direct (no campaign context)
    medium: str | None
    campaigns: tuple[str, ...]
    share: float  # share of signups
    cost_per_signup: float  # 0 for unpaid channels
    spend_label: str | None  # how the ad platform's export spells the channel
    activation_rate: float
    paying_rate: float  # share of activated users who subscribe
    daily_activity: float  # probability of being active on a weekday while engaged
    mean_engaged_days: float  # mean of the exponential engaged lifetime
    plan_mix: tuple[float, float, float]  # shares of subscribers on each of PLAN_PRICES


# fmt: off
CHANNELS: tuple[Channel, ...] = (
    # source, medium, campaigns, share, cost per signup, spend label,
    # activation, paying, daily activity, engaged days, plan mix (29 / 99 / 299)
    Channel("google", "cpc", ("brand_search", "generic_search"), 0.30, 38.0, "Google",
            0.55, 0.30, 0.45, 70.0, (0.55, 0.35, 0.10)),
    Channel("facebook", "paid_social", ("lookalike_q3", "retargeting"), 0.18, 22.0, "Facebook",
            0.32, 0.14, 0.30, 30.0, (0.75, 0.22, 0.03)),
    Channel("linkedin", "paid_social", ("b2b_decision_makers",), 0.10, 85.0, " LinkedIn",
            0.62, 0.40, 0.50, 90.0, (0.30, 0.45, 0.25)),
    Channel("partner", "referral", ("partner_program",), 0.10, 30.0, "Partner",
            0.58, 0.33, 0.45, 75.0, (0.45, 0.40, 0.15)),
    Channel(None, None, (), 0.32, 0.0, None,
            0.50, 0.25, 0.40, 60.0, (0.55, 0.35, 0.10)),
)
# fmt: on
PAID = tuple(channel for channel in CHANNELS if channel.cost_per_signup > 0)
PLAN_PRICES = (29.0, 99.0, 299.0)  # monthly list prices
PLAN_LOYALTY = {29.0: 1.0, 99.0: 1.2, 299.0: 1.5}  # paying lifetime multiplier: bigger plans churn less
PLAN_ADD_ONS = {29.0: 0.3, 99.0: 0.6, 299.0: 1.0}  # mean add-on purchases (seats, credits) per month
ANNUAL_SHARE = 0.2  # subscribers who pay a year up front ...
ANNUAL_MONTHS_CHARGED = 10  # ... at 10 monthly prices (two months free)
# At a renewal a subscriber may move one plan up or down (docs/revenue.md's expansion and
# contraction); drawn from a generator of their own, so the rest of the life is unchanged.
UPGRADE_SHARE = 0.04
DOWNGRADE_SHARE = 0.02
# Paying outlasts heavy use (seats stay booked, contracts run on): the mean paying lifetime is
# this many days per day of engaged lifetime (at least 20 engaged days are counted).
PAID_LIFETIME_PER_ENGAGED_DAY = 5.0
DAYS_PER_MONTH = 365.25 / 12
FEATURES = ("Task Added", "Task Completed", "Comment Posted", "File Uploaded", "Report Viewed", "Invite Sent")
PAGES = ("Dashboard", "Projects", "Project Detail", "Settings", "Billing", "Docs")


@dataclass(frozen=True)
class DayPlan:
    """What the marketing team bought on one day and the signups it brought."""

    day: date
    spend: dict[str, float]  # channel source -> spend
    campaign_spend: dict[tuple[str, str], float]  # (source, campaign) -> spend
    signups: dict[str | None, int]  # channel source (None = direct) -> signups
    anonymous_visitors: int


def plan_days(users: int, days: int, seed: int, end_date: date) -> list[DayPlan]:
    """Daily spend and signups per channel; paid signups are Poisson(spend / cost per signup)."""
    rng = np.random.default_rng([seed, 0])
    start = end_date - timedelta(days=days - 1)
    dates = [start + timedelta(days=i) for i in range(days)]
    growth = np.linspace(0.8, 1.2, days)  # the product grows over the period
    weights = growth * np.array([WEEKDAY_FACTOR[d.weekday()] for d in dates])
    per_day = users * weights / weights.sum()
    plans: list[DayPlan] = []
    for i, day in enumerate(dates):
        spend: dict[str, float] = {}
        campaign_spend: dict[tuple[str, str], float] = {}
        signups: dict[str | None, int] = {}
        for channel in CHANNELS:
            expected = per_day[i] * channel.share
            if channel.cost_per_signup > 0:
                assert channel.source is not None
                budget = round(float(expected * channel.cost_per_signup * rng.uniform(0.6, 1.4)), 2)
                spend[channel.source] = budget
                split = rng.dirichlet(np.ones(len(channel.campaigns)))
                for campaign, part in zip(channel.campaigns, split, strict=True):
                    campaign_spend[(channel.source, campaign)] = round(budget * float(part), 2)
                expected = budget / channel.cost_per_signup
            signups[channel.source] = int(rng.poisson(expected))
        visitors = int(rng.poisson(per_day[i] * 2.5))
        plans.append(DayPlan(day, spend, campaign_spend, signups, visitors))
    _settle_referral_payouts(plans)
    return plans


def _settle_referral_payouts(plans: list[DayPlan]) -> None:
    """Partners are paid a bounty per signup they actually referred, not a bought budget."""
    partner = next(channel for channel in CHANNELS if channel.source == "partner")
    for plan in plans:
        bounty = plan.signups.get("partner", 0) * partner.cost_per_signup
        plan.spend["partner"] = bounty
        plan.campaign_spend[("partner", partner.campaigns[0])] = bounty


@dataclass(frozen=True)
class Effects:
    """What the experiments a user is in change in their life (planted in experiments.py).

    The defaults change nothing, and a user in every control variation draws exactly the life
    they would draw without experiments: each effect moves the threshold of a draw the life
    makes anyway, so the generator consumes the same random numbers.
    """

    activation_factor: float = 1.0  # multiplies the activation probability
    annual_share: float = ANNUAL_SHARE  # share of subscribers who pay a year up front
    plan_factors: tuple[float, float, float] = (1.0, 1.0, 1.0)  # multiply the plan mix weights


NO_EFFECTS = Effects()


@dataclass(frozen=True)
class UserLife:
    """One signed-up user's fate, drawn once so event generation is a pure replay."""

    number: int
    channel: Channel
    campaign: str | None
    signup_day: date
    activates_after_hours: float | None
    subscribes_after_days: float | None
    plan_price: float  # monthly list price of the plan
    engaged_days: float
    uses_alias: bool
    billing_months: int  # 1 (monthly) or 12 (annual, ANNUAL_MONTHS_CHARGED prices up front)
    renewal_churn: float  # probability of cancelling at each renewal
    add_ons_per_month: float  # rate of the Poisson add-on purchases while subscribed

    @property
    def charge(self) -> float:
        """What one billing period of the plan drawn at signup costs."""
        return self.charge_of(self.plan_price)

    def charge_of(self, plan_price: float) -> float:
        """What one billing period of a plan of this monthly price costs on this billing interval."""
        return plan_price * (ANNUAL_MONTHS_CHARGED if self.billing_months == 12 else 1)


def draw_life(
    number: int, channel: Channel, signup_day: date, rng: random.Random, effects: Effects = NO_EFFECTS
) -> UserLife:
    """One user's fate from their own generator: activation, subscription, engagement, billing."""
    # / 0.85: most, not all, activators activate within the window
    activated = rng.random() < channel.activation_rate * effects.activation_factor / 0.85
    activation_hours: float | None = None
    if activated:
        # Most activators create their first project within a week; a tail comes later.
        activation_hours = rng.expovariate(1 / 30.0) if rng.random() < 0.85 else rng.uniform(170, 400)
        if rng.random() > 0.85:
            activation_hours = None
    subscribes = activation_hours is not None and rng.random() < channel.paying_rate
    mix: tuple[float, ...] = channel.plan_mix
    if effects.plan_factors != NO_EFFECTS.plan_factors:
        mix = tuple(share * factor for share, factor in zip(mix, effects.plan_factors, strict=True))
    price = rng.choices(PLAN_PRICES, weights=mix)[0]
    campaign = rng.choice(channel.campaigns) if channel.campaigns else None
    subscribes_after = rng.uniform(1, 25) if subscribes else None
    engaged_days = rng.expovariate(1 / channel.mean_engaged_days) * (1.6 if activation_hours is not None else 0.6)
    uses_alias = rng.random() < 0.05
    billing_months = 12 if rng.random() < effects.annual_share else 1
    # A memoryless paying lifetime whose mean grows with engagement and plan size: a constant
    # cancel probability at each renewal (a geometric number of paid periods), the one of an
    # exponential lifetime with that mean observed once per billing period.
    mean_paid_days = PAID_LIFETIME_PER_ENGAGED_DAY * max(engaged_days, 20.0) * PLAN_LOYALTY[price]
    renewal_churn = 1 - math.exp(-billing_months * DAYS_PER_MONTH / mean_paid_days)
    return UserLife(
        number=number,
        channel=channel,
        campaign=campaign,
        signup_day=signup_day,
        activates_after_hours=activation_hours,
        subscribes_after_days=subscribes_after,
        plan_price=price,
        engaged_days=engaged_days,
        uses_alias=uses_alias,
        billing_months=billing_months,
        renewal_churn=renewal_churn,
        add_ons_per_month=PLAN_ADD_ONS[price] * rng.gammavariate(2.0, 0.5),
    )


def active_probability(life: UserLife, day_index: int, weekday: int) -> float:
    """Chance of a visit on a day: high while engaged, small resurrection chance after."""
    base = life.channel.daily_activity * (1.3 if life.activates_after_hours is not None else 0.8)
    # Dormant users (past their engaged lifetime) still come back now and then: resurrection.
    level = base * math.exp(-day_index / 60.0) if day_index < life.engaged_days else 0.015
    return min(0.95, level * WEEKDAY_FACTOR[weekday])
