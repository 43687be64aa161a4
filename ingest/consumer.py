"""`growth ingest`: consume → batch → write → commit, exactly once.

The loop (in the spirit of Sentry's arroyo) keeps each step to one job:

* **consume**: poll records; the Kafka client never commits on its own.
* **batch**: validate records into a :class:`~ingest.batch.Batch` until it is big or old.
* **write**: one DuckDB transaction appends rows and quarantine and stores the offsets.
* **commit**: only then are offsets committed to Kafka, for lag tooling; DuckDB is the truth.

The consumer process only polls: kafka-python's record decoding is pure Python and keeps
one core busy on its own. What it polls streams to a writer process (:mod:`ingest.worker`,
the only process that opens the warehouse), which validates and writes while this
process polls on, so both cores work (threads could not: the GIL). This process decides
where a batch ends; at most one batch is committing at a time, and it is finished
(written, accounted, committed) before anything that needs the warehouse or the true
position: a rebalance, the caught-up test, the end. Before positions move (a rebalance,
a reset), the batch read so far is written first, so a batch never holds a record twice.

Batches close at ``batch_max_records``, ``batch_max_bytes`` or ``batch_max_seconds``; while
a backlog drains, the age limit stretches to ``hold_seconds`` (the span a backlog may keep
the warehouse anyway), so DuckDB receives large transactions, which it writes as whole row
groups, compressed once. Memory does not grow with the batch: records are in the writer
process, which keeps at most ~50,000 of them before it streams them into the open
transaction.

On every partition assignment the consumer seeks to the offsets stored in DuckDB, and on
revocation it first writes the batch read so far (records of the lost partitions included:
they were read while it owned them; the new owner starts from the offsets stored with
them, and the writer's offset guard skips anything a late writer would repeat). A bad
record is a data problem and goes to quarantine; an unreachable broker is an operational
problem: the loop waits and retries, loudly.

"Caught up" is decided from the high watermarks of fetch responses, not from
``end_offsets()``: the embedded Tansu broker answers ListOffsets wrongly when the last
record batch holds several records (see FACTS.md); fetch high watermarks are right on
every broker.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from kafka import ConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.errors import CommitFailedError, KafkaError, KafkaTimeoutError, OffsetOutOfRangeError
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ingest.batch import BatchCursor, BatchResult
from ingest.worker import WriterProcess
from warehouse.errors import BrokerError, GrowthError
from warehouse.settings import Settings

log = logging.getLogger(__name__)
Mode = Literal["until-caught-up", "follow"]


@dataclass(frozen=True)
class IngestConfig:
    """Tuning knobs; defaults keep `--until-caught-up` quick against a small broker."""

    # 200,000: one DuckDB row group (122,880 rows) and a last one more than half full, which
    # DuckDB writes at commit instead of re-compressing it at the next checkpoint.
    batch_max_records: int = 200_000
    batch_max_bytes: int = 128 << 20
    batch_max_seconds: float = 1.0  # while a backlog drains: up to hold_seconds
    hold_seconds: float = 5.0  # longest a backlog keeps the warehouse (and its lock) to itself
    session_timeout_ms: int = 6000
    heartbeat_interval_ms: int = 2000
    idle_caught_up_seconds: float = 3.0
    reject_share_limit: float = 0.5
    reject_batches_limit: int = 5
    reject_min_batch: int = 20
    memory_limit: str = "128MB"  # DuckDB buffer pool of the writer process (spills beyond)
    stream_rows: int = 50_000  # records the writer keeps in memory before it opens the batch's transaction

    @classmethod
    def from_settings(cls, settings: Settings) -> IngestConfig:
        """The defaults above, each overridable with its ``GROWTH_*`` variable."""
        knobs = {
            "batch_max_records": "GROWTH_INGEST_BATCH_RECORDS",
            "batch_max_seconds": "GROWTH_INGEST_BATCH_SECONDS",
            "hold_seconds": "GROWTH_INGEST_HOLD_SECONDS",
            "session_timeout_ms": "GROWTH_KAFKA_SESSION_TIMEOUT_MS",
            "heartbeat_interval_ms": "GROWTH_KAFKA_HEARTBEAT_MS",
            "reject_share_limit": "GROWTH_INGEST_REJECT_SHARE",
            "reject_batches_limit": "GROWTH_INGEST_REJECT_BATCHES",
            "memory_limit": "GROWTH_INGEST_MEMORY_LIMIT",
            "stream_rows": "GROWTH_INGEST_STREAM_ROWS",
        }
        return cls(**{name: settings.tuned(var, getattr(cls, name)) for name, var in knobs.items()})


@dataclass
class IngestSummary:
    records: int = 0
    accepted: int = 0
    quarantined: int = 0
    batches: int = 0
    seconds: float = 0.0
    codes: Counter[str] = field(default_factory=Counter)
    next_offsets: dict[int, int] = field(default_factory=dict)
    waited_for_writer: float = 0.0  # seconds the consumer waited for (or sent to) the writer process

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


class _Rebalance(ConsumerRebalanceListener):
    """Write what was read before partitions move; seek newly assigned ones to DuckDB's offsets."""

    def __init__(self, ingester: Ingester) -> None:
        self.ingester = ingester

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # Stored before the next owner reads the offsets (records read while we owned the
        # partitions are ours to write; the offset guard covers a zombie that writes late).
        self.ingester.settle()
        for tp in revoked:
            self.ingester.targets.pop(tp, None)

    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.ingester.seek_to_stored(assigned)


class Ingester:
    def __init__(self, settings: Settings, mode: Mode, max_events: int | None, config: IngestConfig) -> None:
        self.settings = settings
        self.mode = mode
        self.max_events = max_events
        self.config = config
        self.summary = IngestSummary()
        self.batch = BatchCursor(datetime.now(UTC), time.monotonic())
        self.failure: Exception | None = None  # raised in a rebalance callback, re-raised by run()
        self.targets: dict[TopicPartition, int] = {}
        self.stopping = False
        self.bad_batches = 0
        self.quiet_since: float | None = None  # start of the current run of empty polls
        self.last_probe = time.monotonic()
        self.broker_down = False
        self.in_flight: BatchCursor | None = None
        self.backlog = False
        self.poll_size = min(config.batch_max_records, 5_000)
        self.requested = self.poll_size
        # Started first: it boots (imports, opens nothing yet) while the consumer joins the group.
        self.writer = WriterProcess(
            settings.warehouse,
            hold_seconds=config.hold_seconds,
            memory_limit=config.memory_limit,
            stream_rows=config.stream_rows,
        )
        try:
            self.consumer = self._connect()
        except BaseException:
            self.writer.kill()
            raise

    def _connect(self) -> KafkaConsumer:
        client: dict[str, Any] = {
            **self.settings.kafka_client_config(),
            "group_id": self.settings.group_id,
            "enable_auto_commit": False,
            "auto_offset_reset": "none",  # an offset outside the log is an error, never a silent jump
            "session_timeout_ms": self.config.session_timeout_ms,
            "heartbeat_interval_ms": self.config.heartbeat_interval_ms,
            "max_poll_records": self.poll_size,
            # Small fetches and polls keep this process lean (~70 MB) at no cost in speed:
            # kafka-python's per-record decoding, not the round trips, sets the pace.
            "fetch_max_bytes": 8 << 20,
            "max_partition_fetch_bytes": 2 << 20,
            "reconnect_backoff_max_ms": 2000,
            "bootstrap_timeout_ms": 10_000,
        }
        delay = 1.0
        while True:
            try:
                return KafkaConsumer(**client)
            except KafkaTimeoutError as exc:
                if self.mode != "follow" or self.stopping:
                    raise BrokerError(f"no Kafka broker reachable at {self.settings.bootstrap_servers}") from exc
                log.warning("Kafka broker %s unreachable; retrying in %.0f s", self.settings.bootstrap_servers, delay)
                time.sleep(delay)
                delay = min(delay * 2, 30.0)

    def seek_to_stored(self, partitions: set[TopicPartition]) -> None:
        self.quiet_since = None  # idleness counts from the moment we own partitions
        self.wait_in_flight()
        stored = self.writer.offsets(self.settings.topic)
        log.debug("assigned %s; stored next offsets %s", sorted(tp.partition for tp in partitions), stored)
        for tp in partitions:
            if tp.partition in stored:
                self.consumer.seek(tp, stored[tp.partition])
            else:
                self.consumer.seek_to_beginning(tp)

    # -- consume -------------------------------------------------------------------------

    def _poll(self) -> dict[TopicPartition, list[Any]]:
        budget = self.config.batch_max_records - len(self.batch)
        if self.max_events is not None:
            in_flight = len(self.in_flight) if self.in_flight else 0
            budget = min(budget, self.max_events - self.summary.records - in_flight - len(self.batch))
        self.requested = max(1, min(budget, self.poll_size))
        try:
            return self.consumer.poll(timeout_ms=200, max_records=self.requested)
        except OffsetOutOfRangeError as exc:
            self._reset_out_of_range(exc.args[0] if exc.args and isinstance(exc.args[0], dict) else {})
            return {}

    def _check_positions(self) -> None:
        """Catch a position past the log end, which some brokers (Tansu) answer with silence."""
        beyond = {}
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            if highwater is not None and self.consumer.position(tp) > highwater:
                beyond[tp] = self.consumer.position(tp)
        if beyond:
            self._reset_out_of_range(beyond)

    def _reset_out_of_range(self, positions: dict[TopicPartition, int]) -> None:
        """A stored offset outside the broker's log: say so loudly, then read from the earliest offset.

        Past the log end means the topic was deleted and recreated (or, with the embedded
        broker, which keeps everything in memory, that the broker restarted); before the log
        start means retention deleted records before they were ingested. Either way the
        earliest offset is the only place to go on from. Records of the new log below the
        stored offset are then skipped by the writer's offset guard, as already stored: right
        when the producer replayed the log, a loss of new records otherwise, hence the warning.
        """
        for tp, offset in positions.items():
            try:
                start = self.consumer.beginning_offsets([tp])[tp]
                end = self.consumer.highwater(tp)
                end = self.consumer.end_offsets([tp])[tp] if end is None else end
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
            self.targets.pop(tp, None)
            self.flush()  # what was read before the reset is written first: no record twice in a batch
            self.finish_in_flight()
            self.consumer.seek_to_beginning(tp)

    # -- batch ---------------------------------------------------------------------------

    def _add(self, polled: dict[TopicPartition, list[Any]]) -> None:
        batch = self.batch
        for tp, records in polled.items():
            first, last = records[0].offset, records[-1].offset
            # Usually consecutive: a range pickles in a few bytes (gaps: compaction, transactions).
            offsets = range(first, last + 1) if last - first + 1 == len(records) else [r.offset for r in records]
            values = [record.value for record in records]
            sending = time.perf_counter()
            self.writer.records(batch.ingested_at, tp.topic, tp.partition, offsets, values)
            self.summary.waited_for_writer += time.perf_counter() - sending
            batch.note(tp.topic, tp.partition, offsets, values)
        self.backlog = sum(len(records) for records in polled.values()) >= self.requested or self._lagging()
        if polled:
            self.quiet_since = None
        elif self.quiet_since is None:
            self.quiet_since = time.monotonic()

    def _lagging(self) -> bool:
        """More records are known to wait on the broker (fetch high watermarks past our positions)."""
        consumer = self.consumer
        return any((consumer.highwater(tp) or 0) > consumer.position(tp) for tp in consumer.assignment())

    def _batch_due(self) -> bool:
        if not len(self.batch):
            return False
        max_age = self.config.batch_max_seconds
        if self.backlog:  # large transactions while a backlog drains; the writer holds the file anyway
            max_age = max(max_age, self.config.hold_seconds)
        return (
            len(self.batch) >= self.config.batch_max_records
            or self.batch.size_bytes >= self.config.batch_max_bytes
            or time.monotonic() - self.batch.started >= max_age
            or self._quota_reached(pending=True)
            or (self.mode == "until-caught-up" and not self.backlog and self._positions_done())
        )

    # -- write + commit ------------------------------------------------------------------

    def flush(self, more_waiting: bool = False) -> None:
        """Close the batch: the writer commits it (after the previous one is done); start a new one."""
        self.finish_in_flight()
        batch = self.batch
        if len(batch):
            self.writer.commit(more_waiting=more_waiting)
            self.in_flight = batch
        self.batch = BatchCursor(datetime.now(UTC), time.monotonic())

    def settle(self) -> None:
        """Write everything read so far and wait for it, for rebalance callbacks.

        A callback runs inside the client's event loop: it must not call the client (no
        offset commit to Kafka, which is only for lag tools anyway: DuckDB holds the truth),
        and a failure is kept and raised by :meth:`run` rather than left to the client.
        """
        try:
            self.finish_in_flight(commit_to_kafka=False)
            if len(self.batch):
                self.writer.commit(more_waiting=False)
                self.in_flight, self.batch = self.batch, BatchCursor(datetime.now(UTC), time.monotonic())
                self.finish_in_flight(commit_to_kafka=False)
        except Exception as exc:
            self.failure = self.failure or exc

    def wait_in_flight(self) -> None:
        """Let the batch being written finish, without raising (for rebalance callbacks, whose
        exceptions the client swallows); :meth:`finish_in_flight` then reports the outcome."""
        if self.in_flight is not None:
            self.writer.wait()

    def finish_in_flight(self, commit_to_kafka: bool = True) -> None:
        """Wait for the batch being written; only then count it and commit its offsets to Kafka."""
        if self.in_flight is None:
            return
        batch, self.in_flight = self.in_flight, None
        waiting = time.perf_counter()
        result = self.writer.result()
        self.summary.waited_for_writer += time.perf_counter() - waiting
        self._account(batch, result)
        if commit_to_kafka:
            self._commit_to_kafka(result.stored)
        self._check_rejections(result)

    def _account(self, batch: BatchCursor, result: BatchResult) -> None:
        s = self.summary
        s.records += len(batch)
        s.accepted += result.accepted
        s.quarantined += result.rejected
        s.batches += 1
        s.codes.update(result.codes)
        for (_topic, partition), offset in batch.next_offsets.items():
            s.next_offsets[partition] = offset

    def _commit_to_kafka(self, stored: dict[tuple[str, int], int]) -> None:
        offsets = {
            TopicPartition(topic, partition): OffsetAndMetadata(offset, "", -1)
            for (topic, partition), offset in stored.items()
            if TopicPartition(topic, partition) in self.consumer.assignment()
        }
        try:
            self.consumer.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:  # harmless: DuckDB holds the truth
            log.info("offset commit to Kafka skipped: %s", exc)

    def _check_rejections(self, result: BatchResult) -> None:
        limit = self.config
        records = result.accepted + result.rejected
        if records >= limit.reject_min_batch and result.rejected / records > limit.reject_share_limit:
            self.bad_batches += 1
        else:
            self.bad_batches = 0
        if self.bad_batches >= limit.reject_batches_limit:
            code, _ = Counter(result.codes).most_common(1)[0]
            raise GrowthError(
                f"topic {self.settings.topic}: more than {limit.reject_share_limit:.0%} of records rejected in "
                f"{self.bad_batches} consecutive batches (commonest code {code}); is a producer misconfigured? "
                "Everything read so far is stored in raw.events_quarantine."
            )

    # -- stopping ------------------------------------------------------------------------

    def _quota_reached(self, pending: bool = False) -> bool:
        if self.max_events is None:
            return False
        in_flight = len(self.in_flight) if self.in_flight else 0
        return self.summary.records + in_flight + (len(self.batch) if pending else 0) >= self.max_events

    def _positions_done(self) -> bool:
        """Every assigned partition is read up to the high watermark first seen for it."""
        assignment = self.consumer.assignment()
        if not assignment:
            return False
        for tp in assignment:
            if tp not in self.targets:
                highwater = self.consumer.highwater(tp)
                if highwater is None:
                    return False
                self.targets[tp] = highwater
        return all(self.consumer.position(tp) >= target for tp, target in self.targets.items() if tp in assignment)

    def _caught_up(self) -> bool:
        return not len(self.batch) and self._positions_done()

    def _watch_broker(self) -> None:
        """In follow mode, say so (once per outage) when no broker answers; the client retries itself."""
        if self.mode != "follow" or time.monotonic() - self.last_probe < 5.0:
            return
        self.last_probe = time.monotonic()
        reachable = any(_tcp_reachable(server) for server in self.settings.require_bootstrap().split(","))
        if not reachable and not self.broker_down:
            log.warning("Kafka broker %s unreachable; waiting and retrying", self.settings.bootstrap_servers)
        elif reachable and self.broker_down:
            log.warning("Kafka broker %s reachable again; resuming", self.settings.bootstrap_servers)
        self.broker_down = not reachable

    def _idle(self) -> bool:
        """Polls have come back empty for a while (only polling time counts, not slow writes)."""
        assignment = self.consumer.assignment()
        if self.quiet_since is None or not assignment:
            return False
        if any((self.consumer.highwater(tp) or 0) > self.consumer.position(tp) for tp in assignment):
            return False  # a known backlog is never cut short by a quiet spell
        return time.monotonic() - self.quiet_since >= self.config.idle_caught_up_seconds

    def run(self, progress: Progress | None = None) -> IngestSummary:
        started = time.monotonic()
        self._require_topic()
        self.consumer.subscribe([self.settings.topic], listener=_Rebalance(self))
        task = progress.add_task("ingest", total=None) if progress else None
        try:
            while not self.stopping:
                polled = self._poll()
                if self.failure is not None:  # from a rebalance callback
                    raise self.failure
                self._add(polled)
                if self._batch_due():
                    # A backlog: keep the warehouse open for the next batch (up to hold_seconds).
                    self.flush(more_waiting=self.backlog)
                    if progress is not None and task is not None:
                        progress.update(task, completed=self.summary.records)
                if self._quota_reached():
                    break
                if not polled:
                    self._watch_broker()
                    self._check_positions()
                if self.mode == "until-caught-up" and not len(self.batch) and (self._caught_up() or self._idle()):
                    break
            self.flush()
            self.finish_in_flight()
        finally:
            # A commit in progress completes (or fails) whole; an unclosed batch is rolled
            # back (it is read again next time); then the file is let go.
            self.writer.close()
            self.consumer.close(autocommit=False)
        self.summary.seconds = time.monotonic() - started
        log.debug(
            "%d records in %.1f s; %.1f s of it sending to or waiting for the writer process",
            self.summary.records,
            self.summary.seconds,
            self.summary.waited_for_writer,
        )
        return self.summary

    def _require_topic(self) -> None:
        try:
            topics = self.consumer.topics()
        except KafkaError as exc:
            raise BrokerError(f"cannot list topics on {self.settings.bootstrap_servers}: {exc}") from exc
        if self.settings.topic not in topics and self.mode == "until-caught-up":
            raise GrowthError(f"topic '{self.settings.topic}' does not exist on {self.settings.bootstrap_servers}")


def _tcp_reachable(server: str) -> bool:
    host, _, port = server.strip().rpartition(":")
    try:
        with socket.create_connection((host or "localhost", int(port or 9092)), timeout=1.0):
            return True
    except OSError:
        return False


@contextmanager
def _graceful_stop(ingester: Ingester) -> Iterator[None]:
    """SIGTERM/SIGINT finish the current batch instead of killing the process mid-write."""

    def stop(signum: int, _frame: object) -> None:
        log.warning("signal %d received: finishing the current batch", signum)
        ingester.stopping = True

    if threading.current_thread() is not threading.main_thread():  # e.g. inside a Dagster thread
        yield
        return
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run_ingest(
    settings: Settings,
    *,
    mode: Mode = "until-caught-up",
    max_events: int | None = None,
    show_progress: bool = False,
    config: IngestConfig | None = None,
) -> IngestSummary:
    """Consume the events topic into the warehouse exactly once; see the module docstring."""
    ingester = Ingester(settings, mode, max_events, config or IngestConfig.from_settings(settings))
    with (
        _graceful_stop(ingester),
        Progress(
            SpinnerColumn(),
            TextColumn("[bold]ingesting[/bold] {task.completed:,} records"),
            TimeElapsedColumn(),
            disable=not show_progress,
            transient=True,
        ) as progress,
    ):
        return ingester.run(progress)
