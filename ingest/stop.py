"""When `growth ingest` ends: caught up, a record quota, a quiet spell, or a stop signal.

``--until-caught-up`` ends once every assigned partition is read up to the high watermark
first seen for it, or once polls have come back empty for ``idle_caught_up_seconds`` with
no backlog known; ``max_events`` ends either mode after that many records; ``--follow``
otherwise runs until SIGTERM/SIGINT, which finish the current batch instead of killing
the process mid-write (the request itself, and the waits that give way to it, are
:mod:`ingest.stop_request`).

"Caught up" is decided from the high watermarks of fetch responses, not from
``end_offsets()``: the embedded Tansu broker answers ListOffsets wrongly when the last
record batch holds several records (it returns the first offset of that batch + 1); fetch
high watermarks are right on every broker.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Literal, Protocol

from kafka import TopicPartition

from ingest.stop_request import StopRequest

Mode = Literal["until-caught-up", "follow"]


class Positions(Protocol):
    """What the stop rules read of the consumer, without waiting for the broker.

    A position not known yet (a reset the broker has not answered) is None: asking the
    broker here could block the loop for as long as the broker is away.
    """

    def assignment(self) -> set[TopicPartition]: ...

    def highwater(self, partition: TopicPartition) -> int | None: ...

    def position(self, partition: TopicPartition) -> int | None: ...


def lagging(positions: Positions) -> bool:
    """More records may wait on the broker: fetch high watermarks past our positions, or a position unknown."""
    for tp in positions.assignment():
        position = positions.position(tp)
        if position is None or (positions.highwater(tp) or 0) > position:
            return True
    return False


class StopRules:
    """Decides when the run, and so its last batch, is over; reads positions, never moves them."""

    def __init__(self, mode: Mode, max_events: int | None, idle_seconds: float, request: StopRequest) -> None:
        self.mode = mode
        self.max_events = max_events
        self.idle_seconds = idle_seconds
        self.request = request  # by a signal: finish the current batch, then stop
        self._targets: dict[TopicPartition, int] = {}  # the high watermark first seen per partition
        self._quiet_since: float | None = None  # start of the current run of empty polls

    @property
    def requested(self) -> bool:
        return self.request.requested

    def quota_left(self, taken: int) -> int | None:
        """Records still wanted after ``taken`` (None: no quota)."""
        return None if self.max_events is None else self.max_events - taken

    def quota_reached(self, taken: int) -> bool:
        return self.max_events is not None and taken >= self.max_events

    def ends_batch(self, taken: int, positions: Positions, *, backlog: bool) -> bool:
        """The batch read so far is the last one needed: write it now, not when it is full or old."""
        return self.quota_reached(taken) or (
            self.mode == "until-caught-up" and not backlog and self._read_to_targets(positions)
        )

    def done(self, positions: Positions) -> bool:
        """Nothing is left to read; asked only when everything read is written."""
        return self.mode == "until-caught-up" and (self._read_to_targets(positions) or self._idle(positions))

    def polled(self, anything: bool) -> None:
        if anything:
            self._quiet_since = None
        elif self._quiet_since is None:
            self._quiet_since = time.monotonic()

    def assigned(self) -> None:
        self._quiet_since = None  # idleness counts from the moment we own partitions

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """Partitions lost or reset: a target is taken afresh should they come back."""
        for tp in partitions:
            self._targets.pop(tp, None)

    def _read_to_targets(self, positions: Positions) -> bool:
        """Every assigned partition is read up to the high watermark first seen for it."""
        assignment = positions.assignment()
        if not assignment:
            return False
        for tp in assignment:
            if tp not in self._targets:
                highwater = positions.highwater(tp)
                if highwater is None:
                    return False
                self._targets[tp] = highwater
        return all(
            (position := positions.position(tp)) is not None and position >= target
            for tp, target in self._targets.items()
            if tp in assignment
        )

    def _idle(self, positions: Positions) -> bool:
        """Polls have come back empty for a while (only polling time counts, not slow writes)."""
        if self._quiet_since is None or not positions.assignment():
            return False
        if lagging(positions):
            return False  # a known backlog is never cut short by a quiet spell
        return time.monotonic() - self._quiet_since >= self.idle_seconds
