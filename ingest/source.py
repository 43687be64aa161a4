"""The consume step: the events topic, read by a group consumer that never commits on its own.

Where to read is DuckDB's to say (raw.kafka_offsets, stored with the rows): the ingester
seeks every assigned partition there, and the offsets committed to Kafka after each batch
are only for lag tooling. A stored offset the broker's log no longer holds is reported
loudly, then reading starts at the earliest offset (see :meth:`EventSource.explain_out_of_range`).

No call made here waits long for the broker: a stop request (SIGTERM) must be noticed
within about a second even while the broker is away, so every blocking client call gets a
short timeout (kafka-python's default is ``request_timeout_ms``, 30 s, per call), and
positions are read without waiting (:class:`BoundedPositions`). The calls that take no
timeout go through :class:`~ingest.broker_watch.BrokerWatch`.
"""

from __future__ import annotations

import logging
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.errors import CommitFailedError, KafkaError, KafkaTimeoutError, OffsetOutOfRangeError

from ingest.batch import Partition
from ingest.broker_watch import BrokerWatch
from ingest.config import IngestConfig
from ingest.stop import Positions
from warehouse.errors import BrokerError, GrowthError
from warehouse.settings import Settings

log = logging.getLogger(__name__)
Polled = dict[TopicPartition, list[Any]]

POLL_TIMEOUT_MS = 200
# The offset commit is for lag tools only (DuckDB holds the truth): a slow broker skips one,
# the next batch's commit covers it.
COMMIT_TIMEOUT_MS = 1000
CLOSE_TIMEOUT_MS = 1000  # leaving the group is a courtesy; the session timeout does it too
DIAGNOSE_TIMEOUT_MS = 1000  # the log bounds a warning names


class BoundedPositions:
    """The consumer's view of positions for the stop rules, never waiting for the broker.

    ``KafkaConsumer.position()`` waits for a reset the broker has not answered (after a
    seek to the beginning), up to ``request_timeout_ms`` (30 s) when the broker is away;
    here such a position is None (unknown), and the next poll drives the reset.
    """

    def __init__(self, consumer: KafkaConsumer) -> None:
        self.consumer = consumer

    def assignment(self) -> set[TopicPartition]:
        assigned: set[TopicPartition] = self.consumer.assignment()
        return assigned

    def highwater(self, partition: TopicPartition) -> int | None:
        highwater: int | None = self.consumer.highwater(partition)
        return highwater

    def position(self, partition: TopicPartition) -> int | None:
        try:
            position: int | None = self.consumer.position(partition, timeout_ms=0)
        except KafkaTimeoutError:
            return None
        return position


class EventSource:
    """The Kafka consumer of one ingest run: polls, positions, and offset commits for lag tools."""

    def __init__(self, settings: Settings, config: IngestConfig, *, poll_size: int, watch: BrokerWatch) -> None:
        self.settings = settings
        client: dict[str, Any] = {
            **settings.kafka_client_config(),
            "group_id": settings.group_id,
            "enable_auto_commit": False,
            "auto_offset_reset": "none",  # an offset outside the log is an error, never a silent jump
            "session_timeout_ms": config.session_timeout_ms,
            "heartbeat_interval_ms": config.heartbeat_interval_ms,
            "max_poll_records": poll_size,
            # Small fetches and polls keep this process lean (~70 MB) at no cost in speed:
            # kafka-python's per-record decoding, not the round trips, sets the pace.
            "fetch_max_bytes": 8 << 20,
            "max_partition_fetch_bytes": 2 << 20,
            "reconnect_backoff_max_ms": 2000,
            "bootstrap_timeout_ms": 10_000,
        }
        self.watch = watch
        self.consumer = watch.connect(lambda: KafkaConsumer(**client), _close)
        self.positions: Positions = BoundedPositions(self.consumer)

    def subscribe(self, listener: ConsumerRebalanceListener, *, must_exist: bool) -> None:
        """Join the group for the topic; a missing topic is an error unless the run waits for it."""
        try:
            topics = self.watch.ask(self.consumer.topics, "listing topics")
        except KafkaError as exc:
            raise BrokerError(f"cannot list topics on {self.settings.bootstrap_servers}: {exc}") from exc
        if must_exist and self.settings.topic not in topics:
            raise GrowthError(f"topic '{self.settings.topic}' does not exist on {self.settings.bootstrap_servers}")
        self.consumer.subscribe([self.settings.topic], listener=listener)

    def poll(self, max_records: int) -> tuple[Polled, dict[TopicPartition, int]]:
        """Records per partition, and the positions the broker called out of range (to reset)."""
        try:
            return self.consumer.poll(timeout_ms=POLL_TIMEOUT_MS, max_records=max_records), {}
        except OffsetOutOfRangeError as exc:
            return {}, exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {}

    def beyond_log_end(self) -> dict[TopicPartition, int]:
        """Positions past the log end, which some brokers (Tansu) answer with silence, not an error."""
        positions = self.positions
        return {
            tp: position
            for tp in positions.assignment()
            if (highwater := positions.highwater(tp)) is not None
            and (position := positions.position(tp)) is not None
            and position > highwater
        }

    def explain_out_of_range(self, tp: TopicPartition, offset: int) -> None:
        """Say loudly why a stored offset lies outside the broker's log, before reading from its start.

        Past the log end means the topic was deleted and recreated (or, with the embedded
        broker, which keeps everything in memory, that the broker restarted); before the log
        start means retention deleted records before they were ingested. Either way the
        earliest offset is the only place to go on from. Records of the new log below the
        stored offset are then skipped by the writer's offset guard, as already stored: right
        when the producer replayed the log, a loss of new records otherwise, hence the warning.
        """
        try:
            start = self.consumer.beginning_offsets([tp], timeout_ms=DIAGNOSE_TIMEOUT_MS)[tp]
            end = self.consumer.highwater(tp)
            end = self.consumer.end_offsets([tp], timeout_ms=DIAGNOSE_TIMEOUT_MS)[tp] if end is None else end
        except KafkaError:
            start = end = None
        if start is not None and offset < start:
            why = f"retention deleted offsets {offset}..{start - 1} before they were ingested"
        else:
            why = f"the topic was recreated (or the broker lost its data); records below {offset} are skipped"
        log.warning(
            "topic %s partition %d: stored next offset %d lies outside the broker's log (start %s, end %s): "
            "%s. Resetting to the earliest offset.",
            tp.topic,
            tp.partition,
            offset,
            start,
            end,
            why,
        )

    def seek_to_beginning(self, tp: TopicPartition) -> None:
        self.consumer.seek_to_beginning(tp)

    def seek_to_stored(self, partitions: set[TopicPartition], stored: dict[int, int]) -> None:
        """Start each partition at DuckDB's next offset; one never ingested at its beginning."""
        log.debug("assigned %s; stored next offsets %s", sorted(tp.partition for tp in partitions), stored)
        for tp in partitions:
            if tp.partition in stored:
                self.consumer.seek(tp, stored[tp.partition])
            else:
                self.consumer.seek_to_beginning(tp)

    def commit(self, stored: dict[Partition, int]) -> None:
        """Tell Kafka the offsets DuckDB stored, for lag tools; a failure is harmless, so only logged."""
        assignment = self.consumer.assignment()
        offsets = {
            tp: OffsetAndMetadata(offset, "", -1)
            for (topic, partition), offset in stored.items()
            if (tp := TopicPartition(topic, partition)) in assignment
        }
        try:
            self.consumer.commit(offsets, timeout_ms=COMMIT_TIMEOUT_MS)
        except (CommitFailedError, KafkaError) as exc:
            log.info("offset commit to Kafka skipped: %s", exc)

    def close(self) -> None:
        _close(self.consumer)


def _close(consumer: KafkaConsumer) -> None:
    """Close a consumer within ``CLOSE_TIMEOUT_MS`` even when no broker answers."""
    consumer.close(autocommit=False, timeout_ms=CLOSE_TIMEOUT_MS)
