"""The writer process of `growth ingest`: validate, build Arrow tables, write DuckDB (or the lake).

kafka-python decodes records in pure Python, which alone keeps one core busy; validation
and the DuckDB write cost about as much again. Threads cannot overlap the two (the GIL),
so the consumer process streams what it polls (offsets and value bytes per partition)
to this process over a pipe and goes on polling, while this process validates the
records, turns them into Arrow tables and writes them. Only this process opens the
warehouse (and takes the writer lock), and only while it has work.

Exactly-once does not depend on this split: a batch is still written in ONE DuckDB
transaction (rows, quarantine, offsets, see :mod:`ingest.writer`), the consumer commits
to Kafka only after this process has answered that the transaction committed, and a
batch that is not answered for is simply read again from the offsets stored in DuckDB.
With the spark engine this process writes the Parquet lake instead (:mod:`ingest.lake`),
where each partition's events file is the commit and the file names hold the offsets.

Lifetime: the process is the consumer's child and must never outlive it holding the
DuckDB file. On Linux it asks the kernel for SIGKILL when its parent dies (an interrupted
transaction is rolled back by DuckDB like any crash); everywhere, end of input on its
pipe (the parent closed it or died) makes it roll back what is unfinished, release the
warehouse and exit. It ignores SIGINT/SIGTERM: Ctrl-C and a stop request reach the whole
process group, and the consumer decides when the current batch is finished.

Wire format, both directions: an 8-byte little-endian length, then a pickle. Requests:
``("records", ingested_at, topic, partition, offsets, values)`` (no answer),
``("commit", more_waiting)`` and ``("offsets", topic)``; answers are
``("ok", result)`` or ``("error", message, traceback_text)``. A reader thread drains
the pipe into a queue of at most ``QUEUE_BYTES`` of record values, so the consumer keeps
polling while a batch commits, and stops (blocked on the pipe) when this process is
that far behind.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from ingest.batch import BatchResult
from warehouse.errors import GrowthError

log = logging.getLogger(__name__)

HEADER = struct.Struct("<Q")
PR_SET_PDEATHSIG = 1
F_SETPIPE_SZ = 1031  # Linux fcntl: grow a pipe's buffer (fewer wake-ups per batch)
PROJECT_ROOT = Path(__file__).resolve().parent.parent
QUEUE_BYTES = 32 << 20


class WorkerError(GrowthError):
    """The writer process failed a request or died; the message says what happened."""


def _send(stream: IO[bytes], message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def _receive_frame(stream: IO[bytes]) -> bytes | None:
    """The next message's bytes, or None at end of input (the other side closed the pipe or died)."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (length,) = HEADER.unpack(header)
    data = stream.read(length)
    return data if len(data) == length else None


def _receive(stream: IO[bytes]) -> Any:
    data = _receive_frame(stream)
    return None if data is None else pickle.loads(data)


def _grow_pipe(fd: int) -> None:
    if sys.platform.startswith("linux"):
        import fcntl

        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, F_SETPIPE_SZ, 1 << 20)


# -- the consumer's side ------------------------------------------------------------------


class WriterProcess:
    """Handle on the writer process: records stream in; at most one commit in flight.

    A commit's answer is read when the consumer waits for it and kept until it is taken,
    so a rebalance can wait for the commit, ask for the stored offsets, and leave the
    commit's outcome for :meth:`result` to report.
    """

    def __init__(
        self,
        warehouse: Path,
        *,
        hold_seconds: float,
        memory_limit: str | None = None,
        stream_rows: int = 50_000,
        lake: Path | None = None,
    ) -> None:
        """``lake``: write batches into that Parquet lake (the spark engine) instead of ``warehouse``."""
        level = log.getEffectiveLevel()  # the worker logs as verbosely as this module would
        code = f"import sys; sys.path.insert(0, {str(PROJECT_ROOT)!r}); from ingest.worker import main; main()"
        target = [str(lake.resolve())] if lake is not None else []
        args = [str(warehouse), str(hold_seconds), str(level), memory_limit or "", str(stream_rows), *target]
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=0,
        )
        assert self.process.stdin is not None
        _grow_pipe(self.process.stdin.fileno())
        self._commit_pending = False  # a commit was sent and its answer not read yet
        self._commit_answer: Any = None  # read, not yet taken by result()

    def _send(self, message: object) -> None:
        assert self.process.stdin is not None
        try:
            _send(self.process.stdin, message)
        except OSError as exc:  # BrokenPipeError: the process is gone
            raise self._died() from exc

    def _receive(self) -> Any:
        assert self.process.stdout is not None
        answer = _receive(self.process.stdout)
        return ("died", self.process.wait()) if answer is None else answer

    def _died(self, code: int | None = None) -> WorkerError:
        code = self.process.wait() if code is None else code
        return WorkerError(f"the ingest writer process exited unexpectedly (exit code {code})")

    def _unwrap(self, answer: Any) -> Any:
        if answer[0] == "died":
            raise self._died(answer[1])
        if answer[0] == "error":
            log.debug("writer process traceback:\n%s", answer[2])
            raise WorkerError(answer[1])
        return answer[1]

    def _request(self, message: object) -> Any:
        self.wait()  # one answer in the pipe at a time
        self._send(message)
        return self._unwrap(self._receive())

    def records(
        self, ingested_at: datetime, topic: str, partition: int, offsets: Sequence[int], values: Sequence[bytes | None]
    ) -> None:
        """Add records of one partition (in offset order) to the current batch."""
        self._send(("records", ingested_at, topic, partition, offsets, values))

    def commit(self, *, more_waiting: bool) -> None:
        """Close the current batch: write it in one transaction; :meth:`result` says how it went."""
        if self._commit_pending or self._commit_answer is not None:
            raise RuntimeError("the previous commit was not finished with result()")
        self._send(("commit", more_waiting))
        self._commit_pending = True

    def wait(self) -> None:
        """Let the commit in flight finish without raising (see :meth:`result` for the outcome)."""
        if self._commit_pending:
            self._commit_answer = self._receive()
            self._commit_pending = False

    def result(self) -> BatchResult:
        """Outcome of the commit in flight: raises :class:`WorkerError` if it failed."""
        self.wait()
        answer, self._commit_answer = self._commit_answer, None
        if answer is None:
            raise RuntimeError("no commit in flight")
        result: BatchResult = self._unwrap(answer)
        return result

    def offsets(self, topic: str) -> dict[int, int]:
        """Stored next offsets per partition of ``topic`` (the writer lock is taken to read)."""
        stored: dict[int, int] = self._request(("offsets", topic))
        return stored

    def close(self, *, killed: bool = False) -> None:
        """End of input: the process rolls back an unfinished batch, releases the file and exits.

        An exit code other than 0 is worth a warning, unless we killed the process ourselves
        (the reason for that is already on its way to the user).
        """
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait()
        finally:
            if self.process.stdout is not None:
                self.process.stdout.close()
        if self.process.returncode not in (0, None) and not killed:
            log.warning("the ingest writer process exited with code %s", self.process.returncode)

    def kill(self) -> None:
        """For abnormal exits: stop the process now (an open transaction is rolled back)."""
        killed = self.process.poll() is None
        if killed:
            self.process.kill()
        self.close(killed=killed)


# -- the writer process -------------------------------------------------------------------


def _die_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when the parent goes (no orphan keeps the file)."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before the request above took effect
        os._exit(1)


class _Inbox:
    """Messages read from the pipe by a thread, at most ``limit`` bytes of them waiting."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self.stream = stream
        self.limit = limit
        self.waiting = 0
        self.messages: deque[tuple[int, Any]] = deque()
        self.changed = threading.Condition()
        threading.Thread(target=self._read, name="growth-writer-inbox", daemon=True).start()

    def _read(self) -> None:
        while True:
            data = _receive_frame(self.stream)
            message = None if data is None else pickle.loads(data)
            size = 0 if data is None else len(data)
            del data
            with self.changed:
                # One message always fits, however large: the limit bounds the backlog, not a batch.
                while self.messages and self.waiting + size > self.limit:
                    self.changed.wait()
                self.messages.append((size, message))
                self.waiting += size
                self.changed.notify_all()
            if message is None:
                return

    def get(self) -> Any:
        with self.changed:
            self.changed.wait_for(lambda: bool(self.messages))
            size, message = self.messages.popleft()
            self.waiting -= size
            self.changed.notify_all()
            return message


def _resident() -> str:
    """Resident memory of this process, for debug logs (Linux; elsewhere a placeholder)."""
    try:
        with open("/proc/self/statm") as statm:
            return f"{int(statm.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') >> 20} MB"
    except (OSError, ValueError, IndexError):
        return "?"


def _describe(exc: BaseException) -> str:
    detail = str(exc) if isinstance(exc, GrowthError) else f"{type(exc).__name__}: {exc}"
    return f"writing the warehouse failed: {detail}"


def main() -> None:
    """Entry point of the writer process: ``WAREHOUSE HOLD_SECONDS LOG_LEVEL MEMORY_LIMIT STREAM_ROWS [LAKE]``."""
    parent = os.getppid()
    _die_with_parent(parent)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    warehouse, hold_seconds, level = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    memory_limit, stream_rows = sys.argv[4], int(sys.argv[5])
    lake = Path(sys.argv[6]) if len(sys.argv) > 6 else None
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr)
    # The pipes are the protocol: keep them on private descriptors, so that nothing a
    # library prints can corrupt a message.
    requests = os.fdopen(os.dup(0), "rb", buffering=1 << 20)
    answers = os.fdopen(os.dup(1), "wb", buffering=1 << 16)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    # Validation allocates millions of small acyclic objects: collecting once per batch,
    # not every 700 allocations, saves a third of its time.
    gc.disable()

    from ingest.batch import Batch
    from ingest.writer import BatchWriter, WarehouseWriter

    writer: BatchWriter
    if lake is not None:
        from ingest.lake import LakeWriter

        writer = LakeWriter(lake, hold_seconds=hold_seconds, memory_limit=memory_limit or None, stream_rows=stream_rows)
    else:
        writer = WarehouseWriter(
            warehouse, hold_seconds=hold_seconds, memory_limit=memory_limit or None, stream_rows=stream_rows
        )
    inbox = _Inbox(requests, QUEUE_BYTES)
    failure: tuple[str, str] | None = None  # why the batch in progress cannot be written (told at its commit)
    cpu = time.process_time()
    try:
        while (message := inbox.get()) is not None:
            kind = message[0]
            answer: tuple[Any, ...] | None = None
            try:
                if kind == "records":
                    if failure is None:
                        _, ingested_at, topic, partition, offsets, values = message
                        part = Batch(ingested_at)
                        part.extend(topic, partition, offsets, values)
                        del message, values
                        writer.add(part)
                elif kind == "commit":
                    if failure is not None:
                        answer, failure = ("error", *failure), None
                    else:
                        result = writer.commit(more_waiting=message[1])
                        answer = ("ok", result)
                        records = result.accepted + result.rejected
                        log.debug(
                            "batch of %d records committed; %.1f µs of cpu per record; resident %s",
                            records,
                            (time.process_time() - cpu) / max(records, 1) * 1e6,
                            _resident(),
                        )
                    gc.collect()
                    cpu = time.process_time()
                elif kind == "offsets":
                    answer = ("ok", writer.offsets(message[1]))
            except Exception as exc:
                if kind == "records":
                    failure = (_describe(exc), traceback.format_exc())
                    writer.abort()
                else:
                    answer = ("error", _describe(exc), traceback.format_exc())
            if answer is not None:
                _send(answers, answer)
    finally:
        writer.abort()  # a batch without its commit is not written: it will be read again
        writer.release()
