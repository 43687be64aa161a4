"""The cross-process warehouse writer lock of docs/interface.md.

DuckDB allows one writing process per file. Every writer takes this lock for the span of
its write only, so a following ingester, a build and a spend load interleave instead of
failing. ``flock`` is released by the kernel when a process dies, so a kill -9 never
leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


class WarehouseBusy(Exception):
    """A writer held the lock for longer than the caller was willing to wait."""


@contextmanager
def writer_lock(
    warehouse: Path,
    *,
    on_wait: Callable[[str], None] | None = None,
    wait_seconds: float | None = None,
) -> Iterator[None]:
    """Hold the writer lock of ``warehouse`` for the ``with`` block.

    A writer queues behind the holder (visibly, through ``on_wait``). A reader that must not
    queue behind a long build passes ``wait_seconds`` and gets WarehouseBusy instead.
    """
    path = lock_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, path, on_wait, wait_seconds)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(fd: int, path: Path, on_wait: Callable[[str], None] | None, wait_seconds: float | None) -> None:
    if _try_lock(fd):
        return
    if wait_seconds is None:
        (on_wait or log.info)(f"waiting for the warehouse writer lock {path} (another writer is busy)")
        fcntl.flock(fd, fcntl.LOCK_EX)  # the kernel wakes us as soon as the holder lets go
        return
    deadline = time.monotonic() + wait_seconds
    while time.monotonic() < deadline:
        time.sleep(0.1)
        if _try_lock(fd):
            return
    raise WarehouseBusy(f"a writer holds {path}")


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True
