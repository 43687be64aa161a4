"""Hand-made experiment data for tests: the dbt interface tables, written by hand.

The experiment engine (``transforms.experiments``) reads four intermediate tables that the
dbt models produce; tests write them here instead, run the engine on them and get real
``marts.dim_experiments`` and ``marts.fct_experiment_results`` from known sums. Shared by
the engine, report, notebook and CLI tests (one builder, no copies).

- :func:`make_warehouse` -- a warehouse file holding only the interface tables;
- :func:`plant_experiments` / :func:`two_arm_experiment` -- the same from bare rows (CLI tests);
- :func:`build_experiment_marts` -- the interface tables, the engine run and a hand-made
  ``marts.fct_experiment_assignments`` (one row per assigned user);
- :func:`copy_experiment_marts` -- the three marts into another DuckDB file (a snapshot).

:data:`READOUT` is a small set of experiments as a report reader meets them: a win with a
guardrail loss, a broken split, three arms. Its expected texts are worked out by hand in the
tests that use it (tests/test_report.py, tests/test_notebooks.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb

from transforms.experiments import build_experiment_results
from warehouse.connection import writing
from warehouse.settings import Settings

__all__ = [
    "INTERFACE_DDL",
    "READOUT",
    "ExperimentData",
    "build_experiment_marts",
    "converters",
    "copy_experiment_marts",
    "make_warehouse",
    "plant_experiments",
    "spread",
    "stat",
    "two_arm_experiment",
    "user_sums",
]

INTERFACE_DDL = """
create schema if not exists intermediate;
create table intermediate.int_metric_config (
    purchase_event varchar, ltv_horizon_months integer, experiment_alpha double,
    srm_p_threshold double, sequential_tuning_n bigint, experiment_min_nonzero bigint
);
create table intermediate.int_experiments (
    experiment_id varchar, experiment_name varchar, first_exposure_date date, last_exposure_date date,
    multiple_exposure_users bigint, unusable_exposures bigint, is_running boolean
);
create table intermediate.int_experiment_variations (
    experiment_id varchar, variation_id varchar, variation_name varchar, is_control boolean,
    weight double, assigned_users bigint
);
create table intermediate.int_experiment_metric_stats (
    experiment_id varchar, metric_name varchar, variation_id varchar, metric_type varchar, goal varchar,
    is_guardrail boolean, users bigint, users_in_progress bigint, nonzero_users bigint,
    sum_y double, sum_y2 double, sum_x double, sum_x2 double, sum_xy double
);
"""

EXPERIMENT_MARTS = ("dim_experiments", "fct_experiment_results", "fct_experiment_assignments")

Sums = tuple[int, int, float, float, float, float, float]


def user_sums(y: Sequence[float], x: Sequence[float]) -> Sums:
    """(users, nonzero_users, Σy, Σy², Σx, Σx², Σxy) of a few users, as the dbt model sums them."""
    return (
        len(y),
        sum(1 for v in y if v != 0),
        sum(y),
        sum(v * v for v in y),
        sum(x),
        sum(v * v for v in x),
        sum(a * b for a, b in zip(x, y, strict=True)),
    )


def converters(users: int, converted: int) -> Sums:
    """Sums of a 0/1 metric without covariate: y² = y."""
    return (users, converted, converted, converted, 0.0, 0.0, 0.0)


def spread(users: int, nonzero: int, mean: float, variance: float) -> Sums:
    """Sums of ``users`` values with this mean and sample variance, no covariate."""
    total = users * mean
    return (users, nonzero, total, variance * (users - 1) + total * total / users, 0.0, 0.0, 0.0)


def stat(
    experiment: str,
    metric: str,
    variation: str,
    sums: Sums,
    *,
    metric_type: str = "conversion",
    goal: str = "increase",
    guardrail: bool = False,
    in_progress: int = 0,
) -> tuple[Any, ...]:
    """A row of ``intermediate.int_experiment_metric_stats``."""
    users, nonzero, *moments = sums
    return (experiment, metric, variation, metric_type, goal, guardrail, users, in_progress, nonzero, *moments)


@dataclass(frozen=True)
class ExperimentData:
    """The rows of the interface tables (tuples in INTERFACE_DDL's column order) and the vars."""

    experiments: Sequence[tuple[Any, ...]]
    variations: Sequence[tuple[Any, ...]]
    stats: Sequence[tuple[Any, ...]]
    alpha: float = 0.05
    srm_p_threshold: float = 0.001
    tuning_n: int = 5000
    min_nonzero: int = 5


# --- READOUT: experiments as a report reader meets them -----------------------------------------
#
# onboarding_checklist (healthy split 5000 / 5010 of 50/50, p = 0.92):
#   activation  conversion  control 4800 users, 960 converted (20 %); checklist 4800, 1200 (25 %):
#               lift +25 %: a win. 200 + 210 users still inside their window.
#   revenue     revenue     means 10 and 10.3, variance 400 each: +3 %, inconclusive.
#   support_tickets count, goal decrease, guardrail: 480 vs 720 of 4800 (0.10 vs 0.15): +50 %, a loss.
#   40 unusable exposures (anonymous visitors never identified), 10 multiple-exposure users.
# pricing_page (three arms, equal weights, 600 / 590 / 610: healthy):
#   purchase    conversion: control 600 / 60, annual_first 590 / 66 (inconclusive),
#               monthly_first 610 / 4 (4 < experiment_min_nonzero = 5: no interval).
# search_ranking (broken split 1000 / 1300 of 50/50: χ² = 2 · 150² / 1150, p = 4.0e-10):
#   activation  conversion  1000 / 200 and 1300 / 390: +50 %, but invalid.
READOUT = ExperimentData(
    experiments=[
        ("onboarding_checklist", "Onboarding checklist", date(2026, 4, 1), date(2026, 5, 26), 10, 40, True),
        ("pricing_page", "Pricing page", date(2026, 4, 15), date(2026, 5, 20), 0, 0, False),
        ("search_ranking", "Search ranking", date(2026, 5, 1), date(2026, 5, 26), 0, 3, True),
    ],
    variations=[
        ("onboarding_checklist", "checklist", "Checklist", False, 0.5, 5010),
        ("onboarding_checklist", "control", "Control", True, 0.5, 5000),
        ("pricing_page", "annual_first", "Annual first", False, 1.0, 590),
        ("pricing_page", "control", None, True, 1.0, 600),
        ("pricing_page", "monthly_first", None, False, 1.0, 610),
        ("search_ranking", "control", None, True, 0.5, 1000),
        ("search_ranking", "ml", "ML ranking", False, 0.5, 1300),
    ],
    stats=[
        stat("onboarding_checklist", "activation", "control", converters(4800, 960), in_progress=200),
        stat("onboarding_checklist", "activation", "checklist", converters(4800, 1200), in_progress=210),
        stat(
            "onboarding_checklist",
            "revenue",
            "control",
            spread(4800, 900, 10.0, 400.0),
            metric_type="revenue",
            in_progress=200,
        ),
        stat(
            "onboarding_checklist",
            "revenue",
            "checklist",
            spread(4800, 950, 10.3, 400.0),
            metric_type="revenue",
            in_progress=210,
        ),
        stat(
            "onboarding_checklist",
            "support_tickets",
            "control",
            converters(4800, 480),
            metric_type="count",
            goal="decrease",
            guardrail=True,
            in_progress=200,
        ),
        stat(
            "onboarding_checklist",
            "support_tickets",
            "checklist",
            converters(4800, 720),
            metric_type="count",
            goal="decrease",
            guardrail=True,
            in_progress=210,
        ),
        stat("pricing_page", "purchase", "control", converters(600, 60)),
        stat("pricing_page", "purchase", "annual_first", converters(590, 66)),
        stat("pricing_page", "purchase", "monthly_first", converters(610, 4)),
        stat("search_ranking", "activation", "control", converters(1000, 200)),
        stat("search_ranking", "activation", "ml", converters(1300, 390)),
    ],
)


def write_interface(con: duckdb.DuckDBPyConnection, data: ExperimentData) -> None:
    """Create the interface tables and fill them with ``data`` (empty rows: no experiments)."""
    con.execute(INTERFACE_DDL)
    con.execute(
        "insert into intermediate.int_metric_config values ('Order Completed', 12, ?, ?, ?, ?)",
        [data.alpha, data.srm_p_threshold, data.tuning_n, data.min_nonzero],
    )
    for table, rows in (
        ("int_experiments", data.experiments),
        ("int_experiment_variations", data.variations),
        ("int_experiment_metric_stats", data.stats),
    ):
        if rows:
            marks = ", ".join("?" * len(rows[0]))
            con.executemany(f"insert into intermediate.{table} values ({marks})", list(rows))


def make_warehouse(path: Path, data: ExperimentData = READOUT) -> Settings:
    """A warehouse file with the raw schema and the interface tables holding ``data``."""
    settings = Settings(warehouse=path)
    with writing(settings, create=True) as con:
        write_interface(con, data)
    return settings


ASSIGNMENTS_SQL = """
create or replace table marts.fct_experiment_assignments as
with users as (
    select v.experiment_id, v.variation_id, i.i,
           e.first_exposure_date + cast(i.i % (e.last_exposure_date - e.first_exposure_date + 1) as integer) as day
    from intermediate.int_experiment_variations v
    join intermediate.int_experiments e using (experiment_id)
    join range(0, (select coalesce(max(assigned_users), 0) from intermediate.int_experiment_variations)) i(i)
        on i.i < v.assigned_users
), multiple as (
    select e.experiment_id, null::varchar as variation_id, i.i, e.first_exposure_date as day
    from intermediate.int_experiments e
    join range(0, (select coalesce(max(multiple_exposure_users), 0) from intermediate.int_experiments)) i(i)
        on i.i < e.multiple_exposure_users
)
select experiment_id, experiment_id || '/' || coalesce(variation_id, '(multiple)') || '/' || i as user_key,
       variation_id, day + interval 9 hour as exposed_at, day as exposure_date,
       variation_id is null as is_multiple_exposure,
       ['organic', 'paid_search', 'referral'][1 + i % 3] as acquisition_channel
from (select * from users union all select * from multiple)
order by experiment_id, user_key
"""


def build_experiment_marts(path: Path, data: ExperimentData = READOUT) -> Settings:
    """A warehouse with the interface tables, the engine's two marts and a hand-made assignments
    mart (one row per assigned user, exposure dates spread over the experiment's days)."""
    settings = make_warehouse(path, data)
    build_experiment_results(settings)
    with writing(settings) as con:
        con.execute(ASSIGNMENTS_SQL)
    return settings


def copy_experiment_marts(source: Path, target: Path) -> None:
    """Replace (or add) the experiment marts of the DuckDB file ``target`` with those of ``source``."""
    with duckdb.connect(str(target)) as con:
        con.execute(f"attach '{source}' as experiment_source (read_only)")
        con.execute("create schema if not exists marts")
        for table in EXPERIMENT_MARTS:
            con.execute(f"create or replace table marts.{table} as select * from experiment_source.marts.{table}")
        con.execute("detach experiment_source")


# --- bare rows (tests/test_experiments_cli.py) ---------------------------------------------------


def plant_experiments(
    path: Path,
    experiments: Sequence[tuple[Any, ...]],
    variations: Sequence[tuple[Any, ...]],
    stats: Sequence[tuple[Any, ...]],
) -> Settings:
    """A warehouse at ``path`` whose interface tables hold these rows, with the config of
    test_experiment_engine (experiment_min_nonzero 3)."""
    return make_warehouse(path, ExperimentData(experiments, variations, stats, min_nonzero=3))


def two_arm_experiment(path: Path, control_users: int, treatment_users: int, experiment: str = "banner") -> Settings:
    """One experiment configured 50/50 with these assigned users, each converting at 10 %."""
    return plant_experiments(
        path,
        [(experiment, "Banner", date(2026, 6, 1), date(2026, 6, 30), 0, 0, True)],
        [
            (experiment, "control", None, True, 0.5, control_users),
            (experiment, "treatment", None, False, 0.5, treatment_users),
        ],
        [
            stat(experiment, "activation", "control", converters(control_users, control_users // 10)),
            stat(experiment, "activation", "treatment", converters(treatment_users, treatment_users // 10)),
        ],
    )
