"""Warehouse fixtures for the predictive-LTV tests: the demo simulator's pure generator,
parsed by the ingester's own validation and writer into raw.events, then a real dbt build."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import orjson

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


def load_records(settings: Settings, records: list[bytes], first_offset: int = 0) -> None:
    """Validate and write ``records`` as if consumed from one partition of topic ``events``,
    the first at ``first_offset``."""
    with connect(settings.warehouse) as con:
        ensure_raw_schema(con)
    batch = Batch(ingested_at=datetime.now(UTC))
    for offset, value in enumerate(records, start=first_offset):
        batch.add("events", 0, offset, value)
    write_batch(settings.warehouse, batch)


def simulated_warehouse(
    root: Path, *, users: int, days: int, seed: int, end_date: date, built_through: Sequence[date] = ()
) -> Settings:
    """The simulation ingested and built; with ``built_through``, as the pipeline meets it
    day by day: the records of events up to each of those dates are ingested and built in
    turn (incrementally), then the rest, and records without a readable date come last."""
    settings = settings_for(root)
    simulation = Simulation(users=users, days=days, seed=seed, end_date=end_date)
    write_spend_csvs(simulation.plan(), settings.spend_dir)
    load_spend(settings, [settings.spend_dir])
    records = [value for _, value in simulation.records()]
    loaded = 0
    for chunk in _by_date(records, built_through):
        load_records(settings, chunk, first_offset=loaded)
        loaded += len(chunk)
        run_build(settings, quiet=True)
    return settings


def _by_date(records: list[bytes], cuts: Sequence[date]) -> list[list[bytes]]:
    """``records`` in len(cuts) + 1 chunks: events dated up to each cut, then the rest, each in
    the simulator's order."""
    chunks: list[list[bytes]] = [[] for _ in range(len(cuts) + 1)]
    for value in records:
        chunks[_chunk_of(value, cuts)].append(value)
    return chunks


def _chunk_of(value: bytes, cuts: Sequence[date]) -> int:
    try:
        day = date.fromisoformat(orjson.loads(value)["timestamp"][:10])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return len(cuts)
    return next((index for index, cut in enumerate(cuts) if day <= cut), len(cuts))
