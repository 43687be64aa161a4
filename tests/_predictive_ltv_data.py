"""Warehouse fixtures for the predictive-LTV tests: the demo simulator's pure generator,
parsed by the ingester's own validation and writer into raw.events, then a real dbt build."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

from devkit.simulator import Simulation
from devkit.simulator.spend import write_spend_csvs
from ingest.batch import Batch
from ingest.spend import load_spend
from ingest.writer import write_batch
from orchestration.build import run_build
from warehouse.connection import connect, ensure_raw_schema
from warehouse.settings import Settings


def settings_for(root: Path) -> Settings:
    return Settings(
        warehouse=root / "data" / "warehouse.duckdb",
        spend_dir=root / "spend",
        report_dir=root / "reports",
        published=root / "data" / "published" / "warehouse.duckdb",
    )


def load_records(settings: Settings, records: list[bytes]) -> None:
    """Validate and write ``records`` as if consumed from one partition of topic ``events``."""
    with connect(settings.warehouse) as con:
        ensure_raw_schema(con)
    batch = Batch(ingested_at=datetime.now(UTC))
    for offset, value in enumerate(records):
        batch.add("events", 0, offset, value)
    write_batch(settings.warehouse, batch)


def simulated_warehouse(root: Path, *, users: int, days: int, seed: int, end_date: date) -> Settings:
    settings = settings_for(root)
    simulation = Simulation(users=users, days=days, seed=seed, end_date=end_date)
    load_records(settings, [value for _, value in simulation.records()])
    write_spend_csvs(simulation.plan(), settings.spend_dir)
    load_spend(settings, [settings.spend_dir])
    run_build(settings, quiet=True)
    return settings
