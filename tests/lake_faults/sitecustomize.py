"""Fault injection for tests/test_lake_crash.py, in every Python process started with this
folder on PYTHONPATH (the ingester and its writer process alike), driven by ``LAKE_FAULT``.

``LAKE_FAULT`` is a comma-separated list of:

* ``crash:<point>:<n>``: SIGKILL the ingester and its writer process at the ``n``-th time the
  writer reaches ``point``: ``before-quarantine`` / ``before-events`` (the file is written and
  fsynced under its temporary name, half of it cut off as if the kill landed mid-write, not
  renamed yet), ``after-quarantine`` / ``after-events`` (renamed into place, nothing after).
* ``naive-offsets``: a broken writer that takes the next offset from the files of both tables
  and keeps every quarantine file (no commit file: what the events file is to the real one).
* ``in-place``: a broken writer that writes each file under its final name (no temporary
  name, no rename); with ``crash:before-<table>:<n>`` the kill then lands mid-write of the
  final file.

Production code has no hook for any of this: the faults wrap ``os.replace`` and replace
methods of :class:`warehouse.lake.Lake`, here only.
"""

from __future__ import annotations

import os

_FAULTS = [fault for fault in os.environ.get("LAKE_FAULT", "").split(",") if fault]


def _install() -> None:
    import signal
    from collections import Counter
    from pathlib import Path
    from typing import Any

    import warehouse.lake as lake_module

    crashes = {}
    for fault in _FAULTS:
        if fault.startswith("crash:"):
            _, point, n = fault.split(":")
            crashes[point] = int(n)
    reached: Counter[str] = Counter()

    def at(point: str, path: Path) -> None:
        reached[point] += 1
        if crashes.get(point) != reached[point]:
            return
        if point.startswith("before-") and path.exists():
            with open(path, "r+b") as file:  # the kill landed in the middle of writing it
                file.truncate(path.stat().st_size // 2)
        os.kill(os.getppid(), signal.SIGKILL)
        os.kill(os.getpid(), signal.SIGKILL)

    def table_of(path: Path) -> str:
        return "quarantine" if lake_module.QUARANTINE in path.parts else "events"

    real_replace = os.replace

    lake = Path(os.environ["GROWTH_LAKE"]).resolve()

    def replace(source: Any, target: Any) -> None:
        target_path = Path(target)
        if not target_path.is_relative_to(lake):  # only the lake's files, never anything else's
            real_replace(source, target)
            return
        at(f"before-{table_of(target_path)}", Path(source))
        real_replace(source, target)
        at(f"after-{table_of(target_path)}", target_path)

    os.replace = replace

    if "naive-offsets" in _FAULTS:

        def next_offset(self: Any, topic: str, partition: int) -> int | None:
            ends = [
                lake_module.parse_range(path.name)
                for table in (lake_module.EVENTS, lake_module.QUARANTINE)
                for path in self._batch_files(self.partition_dir(table, topic, partition))
            ]
            return max((last + 1 for _, last in filter(None, ends)), default=None)

        def settle(self: Any, topic: str, partition: int) -> int | None:
            return self.next_offset(topic, partition)

        lake_module.Lake.next_offset = next_offset
        lake_module.Lake.settle = settle

    if "in-place" in _FAULTS:

        def publish(self: Any, con: Any, query: str, params: Any, final: Path) -> None:
            self._make_dirs(final.parent)
            con.execute(f"copy ({query}) to '{final}' (format parquet, compression zstd)", list(params))
            at(f"before-{table_of(final)}", final)

        lake_module.Lake.publish = publish


if _FAULTS:
    _install()
