"""`growth demo`: the whole pipeline on embedded defaults, run by Dagster as production runs it.

The demo owns its broker and its warehouse: Tansu keeps topics in memory only, so offsets
stored by an earlier demo would point past the end of a fresh broker's topic. Each demo
therefore starts a fresh broker and a fresh warehouse file, runs every asset once in one
Dagster run recorded in the instance `make ui` opens, and stops the broker again so nothing
is left running in the background.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb
from rich.console import Console

from analysts.report import headline_numbers
from devkit.broker import DEFAULT_PORT, EmbeddedBroker, free_port, port_is_open
from warehouse.connection import writing
from warehouse.errors import GrowthError
from warehouse.settings import Settings

T = TypeVar("T")


def _stage(console: Console, title: str, work: Callable[[], T]) -> T:
    started = time.monotonic()
    console.rule(f"[bold]{title}")
    result = work()
    console.print(f"[green]done[/green] {title} in {time.monotonic() - started:.1f} s")
    return result


DEMO_MARKER = "growth_demo_warehouse"


def _fresh_warehouse(settings: Settings) -> None:
    """Start from an empty warehouse, but never delete one the demo did not create."""
    warehouse = settings.warehouse
    if warehouse.exists():
        with duckdb.connect(str(warehouse)) as con:
            made_by_demo = con.execute(
                "select count(*) from information_schema.tables where table_name = ?", [DEMO_MARKER]
            ).fetchall()[0][0]
        if not made_by_demo:
            raise GrowthError(
                f"refusing to replace {warehouse}: it was not created by `growth demo`; "
                "point the demo elsewhere with --warehouse"
            )
    if settings.uses_lake:
        _fresh_lake(settings.lake)
    for path in (warehouse, warehouse.with_name(warehouse.name + ".wal")):
        path.unlink(missing_ok=True)
    with writing(settings, create=True) as con:
        con.execute(f"create table main.{DEMO_MARKER} as select now() as created_at")


def _fresh_lake(lake: Path) -> None:
    """With the spark engine, an empty lake too: the demo's broker starts its offsets at 0 again,
    and a lake resumes from the offsets its files name. Never one the demo did not create."""
    marker = lake / f".{DEMO_MARKER}"
    if lake.exists() and any(lake.iterdir()) and not marker.exists():
        raise GrowthError(
            f"refusing to replace the lake {lake}: it was not created by `growth demo`; point the demo elsewhere "
            "with GROWTH_LAKE"
        )
    shutil.rmtree(lake, ignore_errors=True)
    lake.mkdir(parents=True)
    marker.touch()


def run_demo(settings: Settings, *, users: int, days: int, seed: int, console: Console) -> Path:
    """Broker → simulate → one Dagster run (ingest, spend, build, transforms, snapshot, report)."""
    from devkit.simulator import simulate
    from orchestration.defs.run import materialize_everything

    _fresh_warehouse(settings)
    broker = EmbeddedBroker(settings.data_dir)
    broker.stop()
    port = DEFAULT_PORT if not port_is_open(DEFAULT_PORT) else free_port()
    info = broker.start(port)
    console.print(f"embedded broker on {info.bootstrap_servers} (pid {info.pid})")
    settings = settings.with_bootstrap(info.bootstrap_servers)
    try:
        sim = _stage(
            console,
            f"simulate {users} users over {days} days",
            lambda: simulate(settings, users=users, days=days, seed=seed, spend_dir=settings.spend_dir),
        )
        run = _stage(
            console,
            "Dagster run: ingest, spend, dbt build, predictive LTV, analyst snapshot, report",
            lambda: materialize_everything(settings),
        )
    finally:
        broker.stop()
    ingested = run.asset_materializations_for_node("raw_events")[0].metadata
    report_metadata = run.asset_materializations_for_node("growth_report")[0].metadata
    report = Path(str(report_metadata["path"].value))
    with duckdb.connect(str(settings.published), read_only=True) as con:
        numbers = headline_numbers(con)
    console.rule("[bold]summary")
    console.print(
        f"events produced {sim.events_produced:,}; accepted {ingested['accepted'].value:,}; "
        f"quarantined {ingested['quarantined'].value:,}"
    )
    console.print(
        f"users {numbers['users']:,}; customers {numbers['customers']:,}; revenue {numbers['revenue']:,.2f}; "
        f"on {numbers['as_of']}: DAU {numbers['dau']:,}, MAU {numbers['mau']:,}"
    )
    console.print(f"warehouse {settings.warehouse}; analyst snapshot {settings.published}")
    console.print(f"Dagster: `make ui` shows this run ({settings.dagster_instance_dir})")
    if "delivery" in report_metadata:  # offline unless GROWTH_* destinations are set (docs/delivery.md)
        console.print(f"delivery: {report_metadata['delivery'].value}", highlight=False, soft_wrap=True)
    for judged in run.asset_materializations_for_node("growth_alerts"):  # the monitors on the last complete day
        alerts, destinations = judged.metadata["alerts"].value, judged.metadata["destinations"].value
        console.print(f"alerts: {alerts} (destinations: {destinations}); `growth alerts --dry-run` lists them")
    console.print(f"[bold]report: {report.resolve()}")
    return report
