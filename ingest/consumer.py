"""`growth ingest`: consume → batch → write → commit, exactly once.

The loop (in the spirit of Sentry's arroyo) keeps each step to one job, each in a module
of its own:

* **consume** (:mod:`ingest.source`): poll records; the Kafka client never commits on its own.
* **batch** (:mod:`ingest.policy`): stream records to the writer process until the batch is
  big or old.
* **write** (:mod:`ingest.pipeline`, :mod:`ingest.worker`, :mod:`ingest.writer`): one DuckDB
  transaction appends rows and quarantine and stores the offsets.
* **commit** (:mod:`ingest.pipeline`): only then are offsets committed to Kafka, for lag
  tooling; DuckDB is the truth.

Two kinds of trouble take different paths: a bad record is a data problem and goes to
quarantine (too many of them stop the run, :mod:`ingest.rejects`); an unreachable broker
is an operational problem: the loop waits and retries, loudly (:mod:`ingest.broker_watch`).
When the run ends is for :mod:`ingest.stop` to say. A stop request (SIGTERM, Ctrl-C) is
looked at once per pass of the loop, and no pass waits on the broker for more than about a
second, broker down or not (:mod:`ingest.stop_request`, :mod:`ingest.source`); the batch in
hand is then written and the run ends.

This module only composes them, and decides the order: at most one batch is committing at a
time, and it is finished (written, accounted, committed) before anything that needs the
warehouse or the true position: a rebalance, the caught-up test, the end. Before positions
move (a rebalance, a reset), the batch read so far is written first, so a batch never holds
a record twice. On every partition assignment the consumer seeks to the offsets stored in
DuckDB, and on revocation it first writes the batch read so far (records of the lost
partitions included: they were read while it owned them; the new owner starts from the
offsets stored with them, and the writer's offset guard skips anything a late writer would
repeat).

With the spark engine the writer process writes the Parquet lake instead of the DuckDB file
(:mod:`ingest.lake`); everything said here about DuckDB's offsets holds for the offsets the
lake's file names give.
"""

from __future__ import annotations

import logging
import time

from kafka import ConsumerRebalanceListener, TopicPartition
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from ingest.broker_watch import BrokerWatch
from ingest.config import IngestConfig
from ingest.pipeline import IngestSummary, WritePipeline
from ingest.policy import BatchPolicy
from ingest.rejects import RejectLimit
from ingest.source import EventSource
from ingest.stop import Mode, StopRules, lagging
from ingest.stop_request import Stopped, StopRequest, stop_on_signal
from ingest.worker import WriterProcess
from warehouse.settings import Settings

log = logging.getLogger(__name__)


class Ingester:
    """One run of the loop; the steps it composes each keep their own state."""

    def __init__(
        self, settings: Settings, mode: Mode, max_events: int | None, config: IngestConfig, request: StopRequest
    ) -> None:
        """Starts the writer process and connects to the broker (:class:`Stopped` if asked to stop first)."""
        self.settings = settings
        self.policy = BatchPolicy.from_config(config)
        self.stop = StopRules(mode, max_events, config.idle_caught_up_seconds, request)
        # Started first: it boots (imports, opens nothing yet) while the consumer joins the group.
        writer = WriterProcess(
            settings.warehouse,
            hold_seconds=config.hold_seconds,
            memory_limit=config.memory_limit,
            stream_rows=config.stream_rows,
            lake=settings.lake if settings.uses_lake else None,
        )
        try:
            self.watch = BrokerWatch(settings.require_bootstrap(), follow=mode == "follow", stop=request)
            self.source = EventSource(settings, config, poll_size=self.policy.poll_size, watch=self.watch)
        except BaseException:
            writer.kill()
            raise
        rejects = RejectLimit.from_config(settings.topic, config)
        self.pipeline = WritePipeline(writer, commit_offsets=self.source.commit, rejects=rejects)
        self.rebalance = _Rebalance(self)

    def run(self, progress: Progress | None = None) -> IngestSummary:
        started = time.monotonic()
        source, pipeline, stop = self.source, self.pipeline, self.stop
        task = progress.add_task("ingest", total=None) if progress else None
        try:
            source.subscribe(self.rebalance, must_exist=stop.mode == "until-caught-up")
            while not stop.requested:
                requested = self.policy.poll_records(pipeline.batch, stop.quota_left(pipeline.taken(pending=True)))
                polled, out_of_range = source.poll(requested)
                self._restart_from_earliest(out_of_range)
                self.rebalance.raise_failure()
                pipeline.send(polled)
                stop.polled(bool(polled))
                # A full poll, or records known to wait: keep the warehouse for the next batch.
                backlog = sum(map(len, polled.values())) >= requested or lagging(source.positions)
                if self._batch_due(backlog):
                    pipeline.flush(more_waiting=backlog)
                    if progress is not None and task is not None:
                        progress.update(task, completed=pipeline.summary.records)
                if stop.quota_reached(pipeline.taken()):
                    break
                if not polled:
                    self.watch.probe()
                    self._restart_from_earliest(source.beyond_log_end())
                if not len(pipeline.batch) and stop.done(source.positions):
                    break
            pipeline.flush()
            pipeline.finish()
        except Stopped:
            log.debug("stopped while waiting for the broker to list the topics; nothing was read")
        finally:
            # A commit in progress completes (or fails) whole; an unclosed batch is rolled
            # back (it is read again next time); then the file is let go.
            pipeline.writer.close()
            source.close()
        summary = pipeline.summary
        summary.seconds = time.monotonic() - started
        log.debug(
            "%d records in %.1f s; %.1f s of it sending to or waiting for the writer process",
            summary.records,
            summary.seconds,
            summary.waited_for_writer,
        )
        return summary

    def _batch_due(self, backlog: bool) -> bool:
        """The open batch is full or old, or the last the run needs."""
        batch = self.pipeline.batch
        if not len(batch):
            return False
        return self.policy.due(batch, backlog=backlog) or self.stop.ends_batch(
            self.pipeline.taken(pending=True), self.source.positions, backlog=backlog
        )

    def _restart_from_earliest(self, positions: dict[TopicPartition, int]) -> None:
        """Stored offsets outside the broker's log: say so, write what was read, then read from the start."""
        for tp, offset in positions.items():
            self.source.explain_out_of_range(tp, offset)
            self.stop.forget([tp])
            self.pipeline.flush()  # what was read before the reset is written first: no record twice in a batch
            self.pipeline.finish()
            self.source.seek_to_beginning(tp)


class _Rebalance(ConsumerRebalanceListener):
    """Write what was read before partitions move; seek newly assigned ones to DuckDB's offsets.

    The client swallows what a callback raises, so a failed write is kept and raised by the loop.
    """

    def __init__(self, ingester: Ingester) -> None:
        self.ingester = ingester
        self.failure: Exception | None = None

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        # Stored before the next owner reads the offsets (records read while we owned the
        # partitions are ours to write; the offset guard covers a zombie that writes late).
        try:
            self.ingester.pipeline.settle()
        except Exception as exc:
            self.failure = self.failure or exc
        self.ingester.stop.forget(revoked)

    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        ingester = self.ingester
        ingester.stop.assigned()
        ingester.source.seek_to_stored(assigned, ingester.pipeline.stored_offsets(ingester.settings.topic))

    def raise_failure(self) -> None:
        if self.failure is not None:
            raise self.failure


def run_ingest(
    settings: Settings,
    *,
    mode: Mode = "until-caught-up",
    max_events: int | None = None,
    show_progress: bool = False,
    config: IngestConfig | None = None,
) -> IngestSummary:
    """Consume the events topic into the warehouse exactly once; see the module docstring.

    The stop request is armed before the broker is first tried, so SIGTERM also ends a run
    that is still waiting for one (with nothing ingested).
    """
    config = config or IngestConfig.from_settings(settings)
    request = StopRequest()
    with stop_on_signal(request):
        try:
            ingester = Ingester(settings, mode, max_events, config, request)
        except Stopped:
            log.debug("stopped while waiting for the broker; nothing was read")
            return IngestSummary()
        with Progress(
            SpinnerColumn(),
            TextColumn("[bold]ingesting[/bold] {task.completed:,} records"),
            TimeElapsedColumn(),
            disable=not show_progress,
            transient=True,
        ) as progress:
            return ingester.run(progress)
