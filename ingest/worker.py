"""The writer process of `growth ingest`: validate, build Arrow tables, write DuckDB.

kafka-python decodes records in pure Python, which alone keeps one core busy; validation
and the DuckDB write cost about as much again. Threads cannot overlap the two (the GIL),
so the consumer process hands each :class:`~ingest.batch.RawBatch` to this process over a
pipe and polls the next one while this one validates and writes the previous. Only this
process opens the warehouse (and takes the writer lock), and only while it has work.

Exactly-once does not depend on this split: a batch is still written in ONE DuckDB
transaction (rows, quarantine, offsets), the consumer commits to Kafka only after this
process has answered that the transaction committed, and a batch that is not answered
for is simply read again from the offsets stored in DuckDB.

Lifetime: the process is the consumer's child and must never outlive it holding the
DuckDB file. On Linux it asks the kernel for SIGKILL when its parent dies (an interrupted
transaction is rolled back by DuckDB like any crash); everywhere, end of input on its
pipe (the parent closed it or died) makes it release the warehouse and exit. It ignores
SIGINT/SIGTERM: Ctrl-C and a stop request reach the whole process group, and the consumer
decides when the current batch is finished.

Wire format, both directions: an 8-byte little-endian length, then a pickle. Requests are
``("write", raw_batch, more_waiting)``, ``("offsets", topic)`` and ``("release",)``;
answers are ``("ok", result)`` or ``("error", message, traceback_text)``.
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
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ingest.errors import GrowthError

log = logging.getLogger(__name__)

HEADER = struct.Struct("<Q")
PR_SET_PDEATHSIG = 1
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class WorkerError(GrowthError):
    """The writer process failed a request or died; the message says what happened."""


@dataclass(frozen=True)
class WriteResult:
    """What the consumer needs from a written batch: the stored offsets and the counts."""

    stored: dict[tuple[str, int], int]
    accepted: int
    rejected: int
    codes: dict[str, int]


def _send(stream: IO[bytes], message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def _receive(stream: IO[bytes]) -> Any:
    """The next message, or None at end of input (the other side closed the pipe or died)."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (length,) = HEADER.unpack(header)
    data = stream.read(length)
    if len(data) < length:
        return None
    return pickle.loads(data)


# -- the consumer's side ------------------------------------------------------------------


class WriterProcess:
    """Handle on the writer process: at most one write in flight, other requests in between.

    A write's answer is read when the consumer waits for it and kept until it is taken,
    so a rebalance can wait for the write, ask for the stored offsets, and leave the
    write's outcome for :meth:`result` to report.
    """

    def __init__(self, warehouse: Path, *, hold_seconds: float, memory_limit: str | None = None) -> None:
        level = log.getEffectiveLevel()  # the worker logs as verbosely as this module would
        code = f"import sys; sys.path.insert(0, {str(PROJECT_ROOT)!r}); from ingest.worker import main; main()"
        args = [str(warehouse), str(hold_seconds), str(level), memory_limit or ""]
        self.process = subprocess.Popen(
            [sys.executable, "-c", code, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            bufsize=1 << 20,
        )
        self._write_pending = False  # a write was sent and its answer not read yet
        self._write_answer: Any = None  # read, not yet taken by result()

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
        self.wait()  # the pipe carries one conversation at a time
        self._send(message)
        return self._unwrap(self._receive())

    def submit(self, batch: Any, *, more_waiting: bool) -> None:
        """Start writing ``batch`` (a :class:`~ingest.batch.RawBatch`); :meth:`result` ends it."""
        if self._write_pending or self._write_answer is not None:
            raise RuntimeError("the previous write was not finished with result()")
        self._send(("write", batch, more_waiting))
        self._write_pending = True

    def wait(self) -> None:
        """Let the write in flight finish without raising (see :meth:`result` for the outcome)."""
        if self._write_pending:
            self._write_answer = self._receive()
            self._write_pending = False

    def result(self) -> WriteResult:
        """Outcome of the write in flight: raises :class:`WorkerError` if it failed."""
        self.wait()
        answer, self._write_answer = self._write_answer, None
        if answer is None:
            raise RuntimeError("no write in flight")
        result: WriteResult = self._unwrap(answer)
        return result

    def offsets(self, topic: str) -> dict[int, int]:
        """Stored next offsets per partition of ``topic`` (the writer lock is taken to read)."""
        stored: dict[int, int] = self._request(("offsets", topic))
        return stored

    def release(self) -> None:
        """Close the warehouse file and let go of the writer lock until the next write."""
        self._request(("release",))

    def close(self) -> None:
        """End of input: the process finishes what it is doing, releases the file and exits."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait()
        finally:
            if self.process.stdout is not None:
                self.process.stdout.close()
        if self.process.returncode not in (0, None):
            log.warning("the ingest writer process exited with code %s", self.process.returncode)

    def kill(self) -> None:
        """For abnormal exits: stop the process now (an open transaction is rolled back)."""
        if self.process.poll() is None:
            self.process.kill()
        self.close()


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


def _serve(
    requests: IO[bytes], answers: IO[bytes], handlers: dict[str, Callable[..., Any]], after: Callable[[], None]
) -> None:
    while (message := _receive(requests)) is not None:
        kind, *args = message
        try:
            answer: tuple[Any, ...] = ("ok", handlers[kind](*args))
        except Exception as exc:
            detail = str(exc) if isinstance(exc, GrowthError) else f"{type(exc).__name__}: {exc}"
            answer = ("error", f"writing the warehouse failed: {detail}", traceback.format_exc())
        _send(answers, answer)
        after()


def _resident() -> str:
    """Resident memory of this process, for debug logs (Linux; elsewhere a placeholder)."""
    try:
        with open("/proc/self/statm") as statm:
            return f"{int(statm.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') >> 20} MB"
    except (OSError, ValueError, IndexError):
        return "?"


def _collect() -> None:
    gc.collect()


def main() -> None:
    """Entry point of the writer process: ``WAREHOUSE HOLD_SECONDS LOG_LEVEL [MEMORY_LIMIT]``."""
    parent = os.getppid()
    _die_with_parent(parent)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    warehouse, hold_seconds, level, memory_limit = Path(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s", stream=sys.stderr)
    # The pipes are the protocol: keep them on private descriptors, so that nothing a
    # library prints can corrupt a message.
    requests = os.fdopen(os.dup(0), "rb", buffering=1 << 20)
    answers = os.fdopen(os.dup(1), "wb", buffering=1 << 20)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    # Validation allocates millions of small acyclic objects: collecting per batch, not
    # every 700 allocations, saves a third of its time.
    gc.disable()

    from ingest.writer import WarehouseWriter, read_offsets_with

    writer = WarehouseWriter(warehouse, hold_seconds=hold_seconds, memory_limit=memory_limit or None)

    def write(batch: Any, more_waiting: bool) -> WriteResult:
        started, cpu_started = time.perf_counter(), time.process_time()
        validated = batch.validated()
        del batch
        checked, cpu_checked = time.perf_counter(), time.process_time()
        stored = writer.write(validated, more_waiting=more_waiting)
        log.debug(
            "batch of %d records: validated in %.3f s (cpu %.3f s), written in %.3f s (cpu %.3f s); resident %s",
            len(validated),
            checked - started,
            cpu_checked - cpu_started,
            time.perf_counter() - checked,
            time.process_time() - cpu_checked,
            _resident(),
        )
        return WriteResult(stored, validated.accepted_count, validated.rejected_count, dict(validated.codes))

    def offsets(topic: str) -> dict[int, int]:
        return read_offsets_with(writer, topic)

    try:
        _serve(requests, answers, {"write": write, "offsets": offsets, "release": writer.release}, _collect)
    finally:
        writer.release()
