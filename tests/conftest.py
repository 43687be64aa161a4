"""Shared fixtures: one real Tansu broker for the whole run, fresh warehouse files per test,
one demo warehouse built once per run, and a real SMTP server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from devkit.broker import BrokerInfo, free_port, spawn, terminate
from tests._mail import Mailbox, serving
from tests._mail import free_port as free_smtp_port
from warehouse.settings import Settings

DEMO_END = date(2026, 12, 3)  # a Thursday: data_end_date of the demo warehouse


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerInfo]:
    """A real Kafka-protocol broker on a free loopback port, started once per test run."""
    port = free_port()
    log = tmp_path_factory.mktemp("broker") / "broker.log"
    process = spawn(port, log)
    yield BrokerInfo(pid=process.pid, port=port)
    terminate(process)


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """Path of a warehouse file that does not exist yet, in a directory of its own."""
    return tmp_path / "data" / "warehouse.duckdb"


@pytest.fixture
def settings(tmp_path: Path, warehouse: Path, broker: BrokerInfo, request: pytest.FixtureRequest) -> Settings:
    """Settings for one test: its own warehouse, spend and report dirs, and its own topic."""
    topic = "t_" + "".join(ch if ch.isalnum() else "_" for ch in request.node.name)[:80]
    return Settings(
        warehouse=warehouse,
        bootstrap_servers=broker.bootstrap_servers,
        topic=topic,
        group_id=f"g_{topic}",
        spend_dir=tmp_path / "spend",
        report_dir=tmp_path / "reports",
        published=tmp_path / "data" / "published" / "warehouse.duckdb",
    )


@pytest.fixture(scope="session")
def demo_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A warehouse the way the demo leaves it, built once per run: simulated events through the
    ingester's validation and writer, spend, dbt build, predictive LTV, experiment results and
    the analyst snapshot. 400 users over 75 days ending Thursday 2026-12-03 (so the last complete
    day is 2026-12-02 and the last complete week starts Monday 2026-11-23).

    Shared: treat it as read-only; a test that writes copies it first (:func:`copy_warehouse`).
    """
    from analysts.publish import publish_snapshot
    from orchestration.pipeline import run_experiment_results, run_transforms
    from tests._predictive_ltv_data import simulated_warehouse

    settings = simulated_warehouse(
        tmp_path_factory.mktemp("demo_warehouse"), users=400, days=75, seed=7, end_date=DEMO_END
    )
    run_transforms(settings)
    run_experiment_results(settings)
    publish_snapshot(settings)
    return settings


def copy_warehouse(source: Settings, root: Path) -> Settings:
    """A private copy of ``source``'s warehouse and snapshot under ``root`` (reports go to root/reports)."""
    import shutil
    from dataclasses import replace

    warehouse = root / "data" / "warehouse.duckdb"
    published = root / "data" / "published" / "warehouse.duckdb"
    published.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source.warehouse, warehouse)
    shutil.copy(source.published, published)
    return replace(source, warehouse=warehouse, published=published, report_dir=root / "reports", tuning={})


@pytest.fixture(scope="session")
def httpserver_listen_address() -> tuple[str, int]:
    """pytest-httpserver on 127.0.0.1 (not "localhost"), so a webhook's public name is stable."""
    return ("127.0.0.1", 0)


@pytest.fixture
def smtp() -> Iterator[Mailbox]:
    """A plain SMTP server without AUTH on a free loopback port (aiosmtpd)."""
    with serving(Mailbox("127.0.0.1", free_smtp_port())) as box:
        yield box
