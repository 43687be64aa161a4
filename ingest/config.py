"""The ingester's tuning knobs, in one place for every step that reads them."""

from __future__ import annotations

from dataclasses import dataclass

from warehouse.settings import Settings


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
