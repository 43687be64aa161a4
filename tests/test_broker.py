"""The embedded broker: the fixture's broker answers Kafka, the CLI starts/stops/reports it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from devkit.broker import BrokerInfo, free_port, port_is_open

GROWTH = [sys.executable, "-m", "orchestration.cli"]


def growth(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GROWTH_WAREHOUSE": str(data_dir / "warehouse.duckdb")}
    return subprocess.run([*GROWTH, *args], capture_output=True, text=True, env=env, timeout=60)


def test_session_broker_speaks_kafka(broker: BrokerInfo) -> None:
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap_servers, request_timeout_ms=5000)
    try:
        admin.create_topics([NewTopic(name="broker_smoke", num_partitions=2, replication_factor=1)])
        assert "broker_smoke" in admin.list_topics()
    finally:
        admin.close()


def test_cli_start_status_stop(tmp_path: Path) -> None:
    port = free_port()
    started = growth("broker", "start", "--port", str(port), data_dir=tmp_path)
    assert started.returncode == 0, started.stderr
    assert f"127.0.0.1:{port}" in started.stdout
    pid = json.loads((tmp_path / "broker.pid").read_text())["pid"]
    try:
        assert port_is_open(port)
        status = growth("broker", "status", data_dir=tmp_path)
        assert status.returncode == 0 and f"pid {pid}" in status.stdout
    finally:
        stopped = growth("broker", "stop", data_dir=tmp_path)
    assert stopped.returncode == 0 and f"pid {pid}" in stopped.stdout
    assert not port_is_open(port)
    assert not (tmp_path / "broker.pid").exists()
    after = growth("broker", "status", data_dir=tmp_path)
    assert after.returncode == 1 and "not running" in after.stdout


def test_port_taken_is_a_one_line_error(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = growth("broker", "start", "--port", str(port), data_dir=tmp_path)
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is already taken" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
