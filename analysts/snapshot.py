"""The analyst snapshot as notebooks (and any analyst Python) open it: one place, read-only.

``GROWTH_PUBLISHED`` (read by :func:`warehouse.settings.load_settings`) names the snapshot.
A relative path is resolved against the project root (the nearest folder, walking up from
the current directory, that holds ``pyproject.toml``), not against the current directory: a
Jupyter kernel starts in ``notebooks/``, while the documented paths are relative to the root.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from warehouse.errors import GrowthError
from warehouse.settings import Settings, load_settings

PROJECT_MARKER = "pyproject.toml"


class SnapshotNotFoundError(GrowthError, FileNotFoundError):
    """No analyst snapshot where ``GROWTH_PUBLISHED`` points."""


def project_root(start: Path | None = None) -> Path:
    """The nearest folder at or above ``start`` (default: the current directory) holding
    ``pyproject.toml``; ``start`` itself when there is none."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_MARKER).is_file():
            return folder
    return here


def snapshot_path(settings: Settings | None = None, *, start: Path | None = None) -> Path:
    """Absolute path of the snapshot ``GROWTH_PUBLISHED`` names (default
    ``data/published/warehouse.duckdb``), a relative one taken from the project root."""
    published = (settings or load_settings()).published.expanduser()
    return published if published.is_absolute() else project_root(start) / published


def open_snapshot(settings: Settings | None = None, *, start: Path | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the snapshot; :class:`SnapshotNotFoundError` when it is missing."""
    settings = settings or load_settings()
    path = snapshot_path(settings, start=start)
    if not path.is_file():
        named = settings.tuning.get("GROWTH_PUBLISHED")
        source = f"GROWTH_PUBLISHED={named}" if named else f"GROWTH_PUBLISHED unset, default {settings.published}"
        raise SnapshotNotFoundError(
            f"no analyst snapshot at {path} ({source}, relative paths taken from the project root "
            f"{project_root(start)}): run `growth demo` or `growth publish`, or point GROWTH_PUBLISHED at one"
        )
    return duckdb.connect(str(path), read_only=True)
