"""`growth simulate`: produce the simulated stream to Kafka and write the spend CSVs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from devkit.simulator.generate import MALFORMED_SHARE, Simulation, default_end_date
from devkit.simulator.incidents import Incident
from devkit.simulator.spend import write_spend_csvs
from warehouse.errors import BrokerError
from warehouse.settings import Settings

PARTITIONS = 4
PRODUCER_SETTINGS: dict[str, Any] = {
    "linger_ms": 20,
    "batch_size": 1 << 20,
    "acks": 1,
    "enable_idempotence": False,  # the retries it guards against are part of the simulation
    "max_request_size": 2 << 20,
}


@dataclass
class SimulationSummary:
    events_produced: int
    users: int
    first_date: date
    last_date: date
    seconds: float
    spend_files: list[Path] = field(default_factory=list)

    @property
    def events_per_second(self) -> float:
        return self.events_produced / self.seconds if self.seconds else 0.0


def ensure_topic(settings: Settings, partitions: int = PARTITIONS) -> None:
    """Create the events topic if it is missing (an existing topic is left as it is)."""
    try:
        admin = KafkaAdminClient(**settings.kafka_client_config(), request_timeout_ms=10_000)
    except KafkaError as exc:
        raise BrokerError(f"no Kafka broker reachable at {settings.bootstrap_servers}") from exc
    try:
        if settings.topic not in admin.list_topics():
            admin.create_topics([NewTopic(settings.topic, num_partitions=partitions, replication_factor=1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()


def simulate(
    settings: Settings,
    *,
    users: int,
    days: int,
    seed: int = 42,
    end_date: date | None = None,
    spend_dir: Path | None = None,
    show_progress: bool = True,
    malformed_share: float = MALFORMED_SHARE,
    incidents: tuple[Incident, ...] = (),
) -> SimulationSummary:
    """Produce every simulated record (retries and malformed ones included) and write spend.

    ``malformed_share`` is the share of extra malformed records (invalid JSON, no messageId,
    not UTF-8) mixed in so the quarantine has something to show; 0 turns them off.
    ``incidents`` plants signup outages and activation regressions (incidents.py); none by default.
    """
    simulation = Simulation(
        users=users,
        days=days,
        seed=seed,
        end_date=end_date or default_end_date(),
        malformed_share=malformed_share,
        incidents=incidents,
    )
    started = time.monotonic()
    spend_files = write_spend_csvs(simulation.plan(), spend_dir or settings.spend_dir)
    ensure_topic(settings)
    producer = KafkaProducer(**settings.kafka_client_config(), **PRODUCER_SETTINGS)
    failures: list[BaseException] = []
    produced = 0
    try:
        with Progress(
            TextColumn("[bold]producing"),
            BarColumn(),
            TextColumn("{task.completed:,} records"),
            TimeElapsedColumn(),
            disable=not show_progress,
            transient=True,
        ) as progress:
            task = progress.add_task("produce", total=None)
            for key, value in simulation.records():
                producer.send(settings.topic, key=key, value=value).add_errback(failures.append)
                produced += 1
                if produced % 5000 == 0:
                    progress.update(task, completed=produced)
            producer.flush()
    except KafkaError as exc:
        raise BrokerError(f"producing to {settings.topic} on {settings.bootstrap_servers} failed: {exc}") from exc
    finally:
        producer.close()
    if failures:
        raise BrokerError(f"{len(failures)} records were not delivered to {settings.topic}: {failures[0]}")
    return SimulationSummary(
        events_produced=produced,
        users=sum(sum(plan.signups.values()) for plan in simulation.plan()),
        first_date=simulation.first_date,
        last_date=simulation.end_date,
        seconds=time.monotonic() - started,
        spend_files=spend_files,
    )
