"""Independent oracle for the experiment marts, written from docs/experiments.md alone.

Every function cites the section of the contract (the contract's `experiments.md`,
"experiments.md" below; terms from metrics.md and events.md) it implements. Inputs are only
the tables the core's checks verify: `intermediate.int_events_attributed` (valid events,
one per messageId, with their stitched `user_key`), `raw.events.payload` (exposure
properties), `marts.dim_users` (`acquisition_channel`) and
`intermediate.int_reporting_period.data_end_date`. DuckDB only reads them; everything else
is Python / polars, and the statistics use scipy's reference routines where one exists.

`differences(con, mart)` compares one mart with the oracle, one readable line per difference.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import polars as pl
from scipy import stats

from tests._oracle_rows import project_vars

MARTS = ("fct_experiment_assignments", "dim_experiments", "fct_experiment_results")
REL_TOL = 1e-9
# Columns that are differences of nearby numbers (cancellation): also an absolute tolerance.
ABS_TOL = 1e-12
ABS_TOL_COLUMNS = frozenset(
    {"cuped_mean", "absolute_lift", "relative_lift", "ci_low", "ci_high", "seq_ci_low", "seq_ci_high"}
    | {"variance_reduction"}
)
V_ZERO_TOL = 1e-12


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class Metric:
    """One entry of `experiment_metrics` (experiments.md "Configuration")."""

    name: str
    type: str
    event: str | None = None
    window_days: float | None = None
    start_day: int | None = None
    end_day: int | None = None
    revenue_positive: bool = False
    goal: str = "increase"
    guardrail: bool = False


@dataclass(frozen=True)
class ExperimentConfig:
    """One entry of the `experiments` var: `{control, weights, metrics}`, all optional."""

    control: str | None = None
    weights: dict[str, float] | None = None
    metrics: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Vars:
    """The dbt vars in force (dbt_project.yml `vars:`), defaults per experiments.md."""

    exposure_event: str
    experiments: dict[str, ExperimentConfig]
    metrics: tuple[Metric, ...]
    alpha: float
    srm_p_threshold: float
    tuning_n: float
    lookback_days: int
    min_nonzero: int
    inactive_events: tuple[str, ...]
    timezone: str


def default_metrics(v: dict[str, Any]) -> tuple[Metric, ...]:
    """experiments.md "Configuration": the default `experiment_metrics` table."""
    return (
        Metric("activation", "conversion", v["activation_event"], float(v["activation_window_days"])),
        Metric("purchase", "conversion", v["purchase_event"], 14.0, revenue_positive=True),
        Metric("revenue", "revenue", None, 14.0),
        Metric("week_2_retention", "retention", start_day=7, end_day=13),
    )


def parse_metric(m: dict[str, Any]) -> Metric:
    """A metric object of `experiment_metrics` (keys as listed in experiments.md)."""
    window = m.get("window_days")
    return Metric(
        name=str(m["name"]),
        type=str(m["type"]),
        event=m.get("event"),
        window_days=None if window is None else float(window),
        start_day=m.get("start_day"),
        end_day=m.get("end_day"),
        revenue_positive=bool(m.get("revenue_positive", False)),
        goal=str(m.get("goal") or "increase"),
        guardrail=bool(m.get("guardrail", False)),
    )


def parse_experiment(raw: Any) -> ExperimentConfig:
    """experiments.md "Configuration": empty lists/mappings count as not configured."""
    raw = raw or {}
    weights = raw.get("weights") or None
    metrics = raw.get("metrics") or None
    return ExperimentConfig(
        control=None if raw.get("control") is None else str(raw["control"]),
        weights=None if weights is None else {str(k): float(w) for k, w in weights.items()},
        metrics=None if metrics is None else tuple(str(m) for m in metrics),
    )


def load_vars(overrides: dict[str, Any] | None = None) -> Vars:
    """Read dbt_project.yml `vars:` (plus optional overrides, as `--vars` would)."""
    v = project_vars()
    v.update(overrides or {})
    raw_metrics = v.get("experiment_metrics")
    metrics = tuple(parse_metric(m) for m in raw_metrics) if raw_metrics else default_metrics(v)
    return Vars(
        exposure_event=v.get("experiment_exposure_event") or "Experiment Viewed",
        experiments={str(k): parse_experiment(c) for k, c in (v.get("experiments") or {}).items()},
        metrics=metrics,
        alpha=float(v.get("experiment_alpha", 0.05)),
        srm_p_threshold=float(v.get("srm_p_threshold", 0.001)),
        tuning_n=float(v.get("sequential_tuning_n", 5000)),
        lookback_days=int(v.get("cuped_lookback_days", 14)),
        min_nonzero=int(v.get("experiment_min_nonzero", 5)),
        inactive_events=tuple(v.get("inactive_events") or ()),
        timezone=str(v.get("reporting_timezone") or "UTC"),
    )


# --------------------------------------------------------------------------- inputs


@dataclass
class Inputs:
    """The allowed input tables, read once."""

    events: pl.DataFrame  # valid events: message_id, user_key, event_type, event_name, event_at, revenue
    payloads: dict[str, str]  # message_id -> raw JSON payload of exposure events
    channels: pl.DataFrame  # user_key, acquisition_channel
    data_end_date: date
    data_end_at: datetime


def read_inputs(con: duckdb.DuckDBPyConnection, exposure_event: str) -> Inputs:
    """Read inputs; raw payloads of duplicated messageIds are the first copy in ingestion order
    (events.md "De-duplication": offset order within a partition; `ingested_at` across)."""
    events = con.sql(
        "select message_id, user_key, event_type, event_name, event_at, revenue from intermediate.int_events_attributed"
    ).pl()
    payload_rows = con.execute(
        "select r.message_id, r.payload::varchar from raw.events r "
        "join intermediate.int_events_attributed e using (message_id) "
        "where e.event_type = 'track' and e.event_name = ? "
        "order by r.ingested_at desc, r.kafka_partition desc, r.kafka_offset desc",
        [exposure_event],
    ).fetchall()
    payloads = {mid: p for mid, p in payload_rows}  # last write wins = first copy ingested
    channels = con.sql("select user_key, acquisition_channel from marts.dim_users").pl()
    [(end_date,)] = con.sql("select data_end_date from intermediate.int_reporting_period").fetchall()
    return Inputs(events, payloads, channels, end_date, events["event_at"].max())  # type: ignore[arg-type]


# --------------------------------------------------------------------------- exposures


def local_date(column: str, cfg: Vars) -> pl.Expr:
    """metrics.md "Dates": the timestamp converted to `reporting_timezone`, cut to the date."""
    return pl.col(column).dt.convert_time_zone(cfg.timezone).dt.date()


def usable_id(value: Any) -> str | None:
    """experiments.md "Exposures": a string non-empty after trimming U+0020 (kept untrimmed)
    or a JSON integer (kept as its decimal string); anything else is not usable."""
    if isinstance(value, str):
        return value if value.strip(" ") else None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def non_blank(value: Any) -> str | None:
    """A label value: a string that is non-blank after trimming, else None."""
    return value if isinstance(value, str) and value.strip(" ") else None


def exposures(inp: Inputs, cfg: Vars) -> pl.DataFrame:
    """experiments.md "Exposures": every exposure event with a usable experiment id, flagged
    `usable` (user_key, usable variation id, among configured weights' keys if any)."""
    ev = inp.events.filter((pl.col("event_type") == "track") & (pl.col("event_name") == cfg.exposure_event))
    rows: list[dict[str, Any]] = []
    for mid, user_key, at in ev.select("message_id", "user_key", "event_at").iter_rows():
        props = json.loads(inp.payloads[mid]).get("properties")
        props = props if isinstance(props, dict) else {}
        exp_id = usable_id(props.get("experiment_id"))
        if exp_id is None:
            continue
        var_id = usable_id(props.get("variation_id"))
        weights = cfg.experiments.get(exp_id, ExperimentConfig()).weights
        usable = user_key is not None and var_id is not None and (weights is None or var_id in weights)
        rows.append(
            {
                "message_id": mid,
                "user_key": user_key,
                "event_at": at,
                "experiment_id": exp_id,
                "variation_id": var_id,
                "experiment_name": non_blank(props.get("experiment_name")),
                "variation_name": non_blank(props.get("variation_name")),
                "usable": usable,
            }
        )
    schema = {
        "message_id": pl.String,
        "user_key": pl.String,
        "event_at": ev.schema["event_at"],
        "experiment_id": pl.String,
        "variation_id": pl.String,
        "experiment_name": pl.String,
        "variation_name": pl.String,
        "usable": pl.Boolean,
    }
    return pl.DataFrame(rows, schema=schema).with_columns(exposure_date=local_date("event_at", cfg))


def assignments(exp: pl.DataFrame, inp: Inputs, cfg: Vars) -> pl.DataFrame:
    """experiments.md "Exposures" + "Marts": first usable exposure (timestamp, messageId) per
    (experiment, user); users with two or more variations are multiple-exposure (null variation)."""
    usable = exp.filter("usable").sort("event_at", "message_id")
    per_user = usable.group_by("experiment_id", "user_key").agg(
        pl.col("variation_id").first().alias("first_variation"),
        pl.col("event_at").first().alias("exposed_at"),
        pl.col("variation_id").n_unique().alias("n_variations"),
    )
    return (
        per_user.with_columns(is_multiple_exposure=pl.col("n_variations") >= 2)
        .with_columns(
            variation_id=pl.when("is_multiple_exposure").then(None).otherwise(pl.col("first_variation")),
            exposure_date=local_date("exposed_at", cfg),
        )
        .join(inp.channels, on="user_key", how="left")
        .select(
            "experiment_id",
            "user_key",
            "variation_id",
            "exposed_at",
            "exposure_date",
            "is_multiple_exposure",
            "acquisition_channel",
        )
    )


# --------------------------------------------------------------------------- experiments


@dataclass
class Experiment:
    """Resolved design of one experiment (experiments.md "Configuration")."""

    experiment_id: str
    variations: list[str]
    control: str | None
    weights: dict[str, float]  # normalised
    metrics: list[Metric]
    users: dict[str, int] = field(default_factory=dict)


def resolve(exp_id: str, asg: pl.DataFrame, cfg: Vars) -> Experiment:
    """Variations (weights' keys, else assigned non-multiple variations), control (configured,
    else `control` when present, else the smallest id in byte order), normalised weights."""
    conf = cfg.experiments.get(exp_id, ExperimentConfig())
    mine = asg.filter((pl.col("experiment_id") == exp_id) & ~pl.col("is_multiple_exposure"))
    counts = dict(mine.group_by("variation_id").len().iter_rows())
    variations = list(conf.weights) if conf.weights else sorted(counts)
    if conf.control is not None:
        control: str | None = conf.control
        if control not in variations:
            variations.append(control)
    elif "control" in variations:
        control = "control"
    else:
        control = min(variations, key=lambda s: s.encode()) if variations else None
    raw_w = conf.weights or dict.fromkeys(variations, 1.0)
    total = sum(raw_w.get(v, 0.0) for v in variations)
    weights = {v: raw_w.get(v, 0.0) / total for v in variations} if total > 0 else {}
    by_name = {m.name: m for m in cfg.metrics}
    metrics = [by_name[n] for n in conf.metrics] if conf.metrics else list(cfg.metrics)
    users = {v: int(counts.get(v, 0)) for v in variations}
    return Experiment(exp_id, variations, control, weights, metrics, users)


def srm_p_value(e: Experiment) -> float | None:
    """experiments.md "Sample-ratio mismatch": chi-square goodness of fit (scipy.stats.chisquare) of
    users per variation against the normalised weights, k - 1 df; null when k < 2 or no users."""
    total = sum(e.users.values())
    if len(e.variations) < 2 or total == 0:
        return None
    observed = [e.users[v] for v in e.variations]
    expected = [total * e.weights[v] for v in e.variations]
    return float(stats.chisquare(observed, expected).pvalue)


def latest_label(rows: pl.DataFrame, column: str) -> str | None:
    """experiments.md "Labels": the value of the latest usable exposure (timestamp, then
    messageId) whose value is a non-blank string."""
    named = rows.filter(pl.col(column).is_not_null()).sort("event_at", "message_id")
    return named[column][-1] if named.height else None


def dim_experiments(exp: pl.DataFrame, asg: pl.DataFrame, inp: Inputs, cfg: Vars) -> pl.DataFrame:
    """experiments.md "Marts": marts.dim_experiments, one row per experiment id seen."""
    running_from = inp.data_end_date - timedelta(days=1)
    out = []
    for exp_id in sorted(exp["experiment_id"].unique()):
        e = resolve(exp_id, asg, cfg)
        usable = exp.filter((pl.col("experiment_id") == exp_id) & pl.col("usable"))
        mine = asg.filter(pl.col("experiment_id") == exp_id)
        p = srm_p_value(e)
        out.append(
            {
                "experiment_id": exp_id,
                "experiment_name": latest_label(usable, "experiment_name"),
                "control_id": e.control,
                "variations": len(e.variations),
                "first_exposure_date": usable["exposure_date"].min(),
                "last_exposure_date": usable["exposure_date"].max(),
                "users": int((~mine["is_multiple_exposure"]).sum()),
                "multiple_exposure_users": int(mine["is_multiple_exposure"].sum()),
                "unusable_exposures": int(exp.filter((pl.col("experiment_id") == exp_id) & ~pl.col("usable")).height),
                "srm_p_value": p,
                "srm_flag": p is not None and p < cfg.srm_p_threshold,
                "is_running": bool((usable["exposure_date"] >= running_from).any()),
            }
        )
    return pl.DataFrame(out)


# --------------------------------------------------------------------------- per-user outcomes


def activity_dates(inp: Inputs, cfg: Vars) -> pl.DataFrame:
    """metrics.md "Activity events": valid track/page/screen events with a user_key, minus
    `inactive_events` and the exposure event; (user_key, date) pairs, dates in UTC."""
    excluded = [*cfg.inactive_events, cfg.exposure_event]
    return (
        inp.events.filter(
            pl.col("user_key").is_not_null()
            & pl.col("event_type").is_in(["track", "page", "screen"])
            & ~((pl.col("event_type") == "track") & pl.col("event_name").is_in(excluded))
        )
        .select("user_key", date=local_date("event_at", cfg))
        .unique()
    )


def window_outcomes(users: pl.DataFrame, tracks: pl.DataFrame, m: Metric, lookback: int) -> pl.DataFrame:
    """experiments.md "Metric types" and "Covariate (CUPED)" for conversion, count and revenue:
    y over the closed `[exposed_at, exposed_at + window_days * 24 h]`, x over the half-open
    `[exposed_at - lookback * 24 h, exposed_at)`."""
    window = timedelta(days=m.window_days or 0.0)
    ev = tracks
    if m.type in ("conversion", "count"):
        ev = ev.filter(pl.col("event_name") == m.event)
        if m.revenue_positive:
            ev = ev.filter(pl.col("revenue") > 0)
        value = pl.lit(1.0)
    else:
        value = pl.col("revenue").fill_null(0.0)
    joined = users.join(ev.select("user_key", "event_at", value.alias("v")), on="user_key", how="left")
    in_y = (pl.col("event_at") >= pl.col("exposed_at")) & (pl.col("event_at") <= pl.col("exposed_at") + window)
    in_x = (pl.col("event_at") >= pl.col("exposed_at") - timedelta(days=lookback)) & (
        pl.col("event_at") < pl.col("exposed_at")
    )
    agg = joined.group_by("user_key").agg(
        y=pl.col("v").filter(in_y).sum(),
        x=pl.col("v").filter(in_x).sum(),
    )
    out = users.join(agg, on="user_key", how="left").with_columns(pl.col("y", "x").fill_null(0.0))
    if m.type == "conversion":
        out = out.with_columns(pl.col("y", "x").clip(upper_bound=1.0))
    return out


def retention_outcomes(users: pl.DataFrame, active: pl.DataFrame, m: Metric, lookback: int) -> pl.DataFrame:
    """experiments.md "Metric types" (retention: active on d with start ≤ d - exposure_date ≤
    end) and "Covariate" (active dates in [exposure_date - lookback, exposure_date - 1])."""
    joined = users.join(active, on="user_key", how="left").with_columns(
        offset=(pl.col("date") - pl.col("exposure_date")).dt.total_days()
    )
    agg = joined.group_by("user_key").agg(
        y=pl.col("offset").is_between(m.start_day, m.end_day).any().cast(pl.Float64),
        x=pl.col("offset").is_between(-lookback, -1).sum().cast(pl.Float64),
    )
    return users.join(agg, on="user_key", how="left").with_columns(pl.col("y", "x").fill_null(0.0))


def is_mature(m: Metric, inp: Inputs) -> pl.Expr:
    """experiments.md "Maturity": the window is over (`exposed_at + window ≤ data_end_at`;
    retention: `exposure_date + end_day < data_end_date`)."""
    if m.type == "retention":
        return pl.col("exposure_date") + timedelta(days=m.end_day or 0) < inp.data_end_date
    return pl.col("exposed_at") + timedelta(days=m.window_days or 0.0) <= inp.data_end_at


# --------------------------------------------------------------------------- statistics


@dataclass
class Arm:
    """Sufficient statistics of one variation (experiments.md "Statistics")."""

    n: int
    nonzero: int
    y_mean: float | None
    y_var: float | None
    x_mean: float | None
    x_var: float | None
    cov: float | None
    adj_mean: float | None = None
    adj_var: float | None = None


def sample_cov(a: list[float], b: list[float]) -> float | None:
    """Sample covariance, divisor n - 1 (numpy.cov with ddof=1); None below 2 values."""
    if len(a) < 2:
        return None
    return float(np.cov(a, b, ddof=1)[0, 1])


def arm_stats(y: list[float], x: list[float]) -> Arm:
    """n, means, sample variances (divisor n - 1) of y and x, and their covariance."""
    n = len(y)
    return Arm(
        n=n,
        nonzero=sum(1 for v in y if v != 0),
        y_mean=sum(y) / n if n else None,
        y_var=sample_cov(y, y),
        x_mean=sum(x) / n if n else None,
        x_var=sample_cov(x, x),
        cov=sample_cov(x, y),
    )


def cuped(arms: dict[str, Arm], pooled_y: list[float], pooled_x: list[float]) -> None:
    """experiments.md "CUPED adjustment": theta = cov(x, y)/var(x) over pooled users (0 when
    var(x) = 0 or n < 2); ȳ' = ȳ - theta(x̄_v - x̄_pooled); s'² = s²_y + theta² s²_x - 2theta cov."""
    var_x = sample_cov(pooled_x, pooled_x)
    theta = 0.0
    if var_x is not None and var_x != 0:
        theta = (sample_cov(pooled_x, pooled_y) or 0.0) / var_x
    x_pooled = sum(pooled_x) / len(pooled_x) if pooled_x else 0.0
    for a in arms.values():
        if a.n:
            a.adj_mean = a.y_mean - theta * (a.x_mean - x_pooled)  # type: ignore[operator]
        if a.y_var is not None:
            a.adj_var = a.y_var + theta**2 * a.x_var - 2 * theta * a.cov  # type: ignore[operator]


def seq_half_width(v: float, n: int, alpha: float, tuning_n: float) -> float:
    """experiments.md "Always-valid interval" (Howard et al. 2021; Waudby-Smith et al.):
    sigma² = N·V, rho² = (-2 ln alpha + ln(-2 ln alpha + 1)) / tuning_n,
    half = sigma √( 2(Nrho² + 1)/(N²rho²) · ln(√(Nrho² + 1)/alpha) )."""
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / tuning_n
    sigma = math.sqrt(n * v)
    return sigma * math.sqrt(2 * (n * rho2 + 1) / (n * n * rho2) * math.log(math.sqrt(n * rho2 + 1) / alpha))


def compare(t: Arm, c: Arm, cfg: Vars, goal: str, srm_flag: bool) -> dict[str, Any]:
    """experiments.md "Statistics" for one treatment against the control: lifts, the delta-method
    V, fixed interval / p (scipy.stats.norm), the sequential interval and the decision."""
    out: dict[str, Any] = dict.fromkeys(
        ("absolute_lift", "relative_lift", "ci_low", "ci_high", "p_value", "seq_ci_low", "seq_ci_high")
    )
    out["variance_reduction"] = variance_reduction(t, c)
    if t.n and c.n:
        out["absolute_lift"] = t.adj_mean - c.adj_mean  # type: ignore[operator]
    v = delta_variance(t, c, cfg)
    if v is not None:
        rl = t.adj_mean / c.adj_mean - 1  # type: ignore[operator]
        se = math.sqrt(v)
        z = float(stats.norm.ppf(1 - cfg.alpha / 2))
        half = seq_half_width(v, t.n + c.n, cfg.alpha, cfg.tuning_n)
        out |= {
            "relative_lift": rl,
            "ci_low": rl - z * se,
            "ci_high": rl + z * se,
            "p_value": float(2 * stats.norm.sf(abs(rl / se))),
            "seq_ci_low": rl - half,
            "seq_ci_high": rl + half,
        }
    out["decision"] = decision(out["seq_ci_low"], out["seq_ci_high"], goal, srm_flag)
    return out


def delta_variance(t: Arm, c: Arm, cfg: Vars) -> float | None:
    """V = s'²_t/(n_t ȳ'_c²) + ȳ'_t² s'²_c/(n_c ȳ'_c⁴); None where experiments.md nulls the
    comparison (n < 2, ȳ_c ≤ 0 or ȳ'_c ≤ 0, V ≤ 0 within 1e-12 relative, too few non-zeros)."""
    if t.n < 2 or c.n < 2 or t.nonzero < cfg.min_nonzero or c.nonzero < cfg.min_nonzero:
        return None
    if c.y_mean <= 0 or c.adj_mean <= 0:  # type: ignore[operator]
        return None
    term_t = t.adj_var / (t.n * c.adj_mean**2)  # type: ignore[operator]
    term_c = t.adj_mean**2 * c.adj_var / (c.n * c.adj_mean**4)  # type: ignore[operator]
    v = term_t + term_c
    scale = (abs(t.y_var) / (t.n * c.adj_mean**2)) + t.adj_mean**2 * abs(c.y_var) / (c.n * c.adj_mean**4)  # type: ignore[arg-type,operator]
    return None if v <= V_ZERO_TOL * scale else v


def variance_reduction(t: Arm, c: Arm) -> float | None:
    """1 - (s'²_c/n_c + s'²_t/n_t) / (s²_c/n_c + s²_t/n_t); null when undefined or the
    denominator is 0 (metrics.md "Numbers")."""
    if t.y_var is None or c.y_var is None:
        return None
    denom = c.y_var / c.n + t.y_var / t.n
    if denom == 0:
        return None
    return 1 - (c.adj_var / c.n + t.adj_var / t.n) / denom  # type: ignore[operator]


def decision(lo: float | None, hi: float | None, goal: str, srm_flag: bool) -> str:
    """experiments.md "Decision" on the sequential interval."""
    if srm_flag:
        return "invalid"
    if lo is None or hi is None:
        return "inconclusive"
    win, loss = (lo > 0, hi < 0) if goal == "increase" else (hi < 0, lo > 0)
    return "win" if win else "loss" if loss else "inconclusive"


def results(exp: pl.DataFrame, asg: pl.DataFrame, dim: pl.DataFrame, inp: Inputs, cfg: Vars) -> pl.DataFrame:
    """experiments.md "Marts": marts.fct_experiment_results, one row per experiment * metric *
    variation, the control's comparison columns null."""
    tracks = inp.events.filter((pl.col("event_type") == "track") & pl.col("user_key").is_not_null()).select(
        "user_key", "event_name", "event_at", "revenue"
    )
    active = activity_dates(inp, cfg)
    labels = (
        exp.filter("usable")
        .filter(pl.col("variation_name").is_not_null())
        .sort("event_at", "message_id")
        .group_by("experiment_id", "variation_id")
        .agg(pl.col("variation_name").last())
    )
    names = {(e, v): n for e, v, n in labels.iter_rows()}
    srm = dict(dim.select("experiment_id", "srm_flag").iter_rows())
    out: list[dict[str, Any]] = []
    for exp_id in dim["experiment_id"]:
        e = resolve(exp_id, asg, cfg)
        users = asg.filter((pl.col("experiment_id") == exp_id) & ~pl.col("is_multiple_exposure")).select(
            "user_key", "variation_id", "exposed_at", "exposure_date"
        )
        for m in e.metrics:
            if m.type == "retention":
                o = retention_outcomes(users, active, m, cfg.lookback_days)
            else:
                o = window_outcomes(users, tracks, m, cfg.lookback_days)
            o = o.with_columns(mature=is_mature(m, inp))
            counted = o.filter("mature")
            arms = {}
            for v in e.variations:
                sub = counted.filter(pl.col("variation_id") == v)
                arms[v] = arm_stats(sub["y"].to_list(), sub["x"].to_list())
            cuped(arms, counted["y"].to_list(), counted["x"].to_list())
            for v in e.variations:
                a = arms[v]
                row: dict[str, Any] = {
                    "experiment_id": exp_id,
                    "metric_name": m.name,
                    "variation_id": v,
                    "variation_name": names.get((exp_id, v)),
                    "is_control": v == e.control,
                    "metric_type": m.type,
                    "is_guardrail": m.guardrail,
                    "users": a.n,
                    "users_in_progress": int(o.filter((pl.col("variation_id") == v) & ~pl.col("mature")).height),
                    "mean": a.y_mean,
                    "variance": a.y_var,
                    "cuped_mean": a.adj_mean,
                }
                if v == e.control or e.control is None:
                    row |= dict.fromkeys(COMPARISON_COLUMNS)
                else:
                    row |= compare(a, arms[e.control], cfg, m.goal, bool(srm[exp_id]))
                out.append(row)
    return pl.DataFrame(out, infer_schema_length=None)


COMPARISON_COLUMNS = (
    "absolute_lift",
    "relative_lift",
    "ci_low",
    "ci_high",
    "p_value",
    "seq_ci_low",
    "seq_ci_high",
    "variance_reduction",
    "decision",
)


# --------------------------------------------------------------------------- oracle + comparison

KEYS = {
    "fct_experiment_assignments": ("experiment_id", "user_key"),
    "dim_experiments": ("experiment_id",),
    "fct_experiment_results": ("experiment_id", "metric_name", "variation_id"),
}


def oracle(con: duckdb.DuckDBPyConnection, overrides: dict[str, Any] | None = None) -> dict[str, pl.DataFrame]:
    """All three experiment marts as experiments.md defines them."""
    cfg = load_vars(overrides)
    inp = read_inputs(con, cfg.exposure_event)
    exp = exposures(inp, cfg)
    asg = assignments(exp, inp, cfg)
    dim = dim_experiments(exp, asg, inp, cfg)
    return {
        "fct_experiment_assignments": asg,
        "dim_experiments": dim,
        "fct_experiment_results": results(exp, asg, dim, inp, cfg),
    }


@lru_cache(maxsize=4)
def _cached_oracle(path: str, mtime_ns: int, overrides_json: str) -> dict[str, pl.DataFrame]:
    """The oracle of one warehouse file, computed once per file version and vars."""
    with duckdb.connect(path, read_only=True) as con:
        return oracle(con, json.loads(overrides_json))


def same(a: Any, b: Any, abs_tol: float = 0.0) -> bool:
    """Equality; floats within REL_TOL (exact formulas: only rounding differs) or abs_tol."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, bool) or isinstance(b, bool):
            return False
        fa, fb = float(a), float(b)
        if math.isnan(fa) or math.isnan(fb):
            return False
        return math.isclose(fa, fb, rel_tol=REL_TOL, abs_tol=abs_tol)
    return bool(a == b)


def differences(con: duckdb.DuckDBPyConnection, mart: str, overrides: dict[str, Any] | None = None) -> list[str]:
    """One line per missing/extra key and per differing (key, column) of `marts.<mart>`;
    `overrides` are the build's `--vars` on top of dbt_project.yml."""
    [(path,)] = con.sql("select path from duckdb_databases() where database_name = current_database()").fetchall()
    if path:
        expected = _cached_oracle(path, Path(path).stat().st_mtime_ns, json.dumps(overrides or {}, sort_keys=True))
    else:
        expected = oracle(con, overrides)
    exp_df = expected[mart]
    keys = KEYS[mart]
    actual = con.sql(f"select * from marts.{mart}").pl()
    lines: list[str] = []
    missing_cols = [c for c in exp_df.columns if c not in actual.columns]
    lines += [f"{mart}: column {c} missing" for c in missing_cols]
    exp_rows = {tuple(r[k] for k in keys): r for r in exp_df.iter_rows(named=True)}
    act_rows = {tuple(r[k] for k in keys): r for r in actual.iter_rows(named=True)}
    if len(act_rows) != actual.height:
        lines.append(f"{mart}: {actual.height - len(act_rows)} duplicate keys {keys}")
    for key in sorted(exp_rows.keys() - act_rows.keys(), key=str):
        lines.append(f"{mart} {key}: missing row")
    for key in sorted(act_rows.keys() - exp_rows.keys(), key=str):
        lines.append(f"{mart} {key}: unexpected row")
    for key in sorted(exp_rows.keys() & act_rows.keys(), key=str):
        e, a = exp_rows[key], act_rows[key]
        for col in exp_df.columns:
            if col in keys or col in missing_cols:
                continue
            if not same(e[col], a[col], ABS_TOL if col in ABS_TOL_COLUMNS else 0.0):
                lines.append(f"{mart} {key} {col}: mart={a[col]!r} oracle={e[col]!r}")
    return lines
