"""The cross-process warehouse writer lock of interface.md.

DuckDB allows one writing process per file. Every writer takes this lock for the span of
its write only, so a following ingester, a build and a spend load interleave instead of
failing. ``flock`` is released by the kernel when a process dies, so a kill -9 never
leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)


def lock_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + ".lock")


@contextmanager
def writer_lock(
    warehouse: Path,
    *,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the writer lock of ``warehouse`` for the ``with`` block; wait (visibly) if taken."""
    path = lock_path(warehouse)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            (on_wait or log.info)(f"waiting for the warehouse writer lock {path} (another writer is busy)")
            fcntl.flock(fd, fcntl.LOCK_EX)  # the kernel wakes us as soon as the holder lets go
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
