"""Shared fixtures: one real Tansu broker for the whole run, fresh warehouse files per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from devkit.broker import BrokerInfo, free_port, spawn, terminate
from warehouse.settings import Settings


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
