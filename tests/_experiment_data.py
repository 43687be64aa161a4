"""Hand-made dbt interface tables of the experiment engine, shared by the tests that need
experiment marts (the CLI, Dagster): the tables of test_experiment_engine with other rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from tests.test_experiment_engine import converters, make_warehouse, stat
from warehouse.connection import writing
from warehouse.settings import Settings

__all__ = ["converters", "plant_experiments", "stat", "two_arm_experiment"]


def plant_experiments(
    path: Path,
    experiments: Sequence[tuple[Any, ...]],
    variations: Sequence[tuple[Any, ...]],
    stats: Sequence[tuple[Any, ...]],
) -> Settings:
    """A warehouse at ``path`` whose interface tables hold these rows (in the column order of
    test_experiment_engine's INTERFACE_DDL), with its config row."""
    settings = make_warehouse(path, experiments=False)
    with writing(settings) as con:
        for table, rows in (
            ("int_experiments", experiments),
            ("int_experiment_variations", variations),
            ("int_experiment_metric_stats", stats),
        ):
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                con.executemany(f"insert into intermediate.{table} values ({marks})", list(rows))
    return settings


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
