"""The warehouse writer lock: a second writer waits (visibly) instead of failing."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from warehouse.lock import lock_path, writer_lock

HOLDER = """
import sys, time
from pathlib import Path
from warehouse.lock import writer_lock
with writer_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_second_writer_waits_until_the_first_releases(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(warehouse), "1.0"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    messages: list[str] = []
    started = time.monotonic()
    with writer_lock(warehouse, on_wait=messages.append):
        waited = time.monotonic() - started
    holder.wait(10)
    assert waited >= 0.5, "the second writer got the lock while the first still held it"
    assert len(messages) == 1 and str(lock_path(warehouse)) in messages[0]


def test_lock_of_a_killed_holder_is_released(tmp_path: Path) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(warehouse), "60"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    holder.kill()
    holder.wait(10)
    messages: list[str] = []
    with writer_lock(warehouse, on_wait=messages.append):
        pass
    assert messages == []
