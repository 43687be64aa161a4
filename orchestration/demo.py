"""`growth demo`: the whole pipeline on embedded defaults, in the order production runs it.

The demo owns its broker and its warehouse: Tansu keeps topics in memory only, so offsets
stored by an earlier demo would point past the end of a fresh broker's topic. Each demo
therefore starts a fresh broker and a fresh warehouse file, runs every stage once, and
stops the broker again so nothing is left running in the background.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb
from rich.console import Console

from analysts.report import headline_numbers
from devkit.broker import DEFAULT_PORT, EmbeddedBroker, free_port, port_is_open
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


def _fresh_warehouse(warehouse: Path) -> None:
    """Start from an empty file, but never delete a warehouse the demo did not create."""
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
    for path in (warehouse, warehouse.with_name(warehouse.name + ".wal")):
        path.unlink(missing_ok=True)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse)) as con:
        con.execute(f"create table main.{DEMO_MARKER} as select now() as created_at")


def run_demo(settings: Settings, *, users: int, days: int, seed: int, console: Console) -> Path:
    """Broker → simulate → ingest → spend → build → predictive LTV → publish → report."""
    from analysts.report import render_report
    from devkit.simulator import simulate
    from ingest.consumer import run_ingest
    from ingest.spend import load_spend
    from orchestration.pipeline import run_pipeline

    _fresh_warehouse(settings.warehouse)
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
        ingested = _stage(
            console, "ingest until caught up", lambda: run_ingest(settings, mode="until-caught-up", show_progress=True)
        )
    finally:
        broker.stop()
    _stage(console, "load spend", lambda: load_spend(settings, [settings.spend_dir]))
    run_pipeline(settings, stage=lambda title, work: _stage(console, title, work))
    report = _stage(console, "growth report", lambda: render_report(settings))
    with duckdb.connect(str(settings.published), read_only=True) as con:
        numbers = headline_numbers(con)
    console.rule("[bold]summary")
    console.print(
        f"events produced {sim.events_produced:,}; accepted {ingested.accepted:,}; quarantined {ingested.quarantined:,}"
    )
    console.print(
        f"users {numbers['users']:,}; customers {numbers['customers']:,}; revenue {numbers['revenue']:,.2f}; "
        f"on {numbers['as_of']}: DAU {numbers['dau']:,}, MAU {numbers['mau']:,}"
    )
    console.print(f"warehouse {settings.warehouse}; analyst snapshot {settings.published}")
    console.print(f"[bold]report: {report.resolve()}")
    return report
