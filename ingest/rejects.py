"""The reject limit: a producer that sends mostly garbage stops the ingester.

One bad record is a data problem and goes to quarantine; a large share of bad records,
batch after batch, is a misconfigured producer, and quarantining it all would only hide
that. So ingest stops with an error once more than ``reject_share_limit`` of the records
of ``reject_batches_limit`` consecutive batches (of at least ``reject_min_batch`` records)
were rejected. What was read up to then is stored, in raw.events_quarantine.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ingest.batch import BatchResult
from ingest.config import IngestConfig
from warehouse.errors import GrowthError


@dataclass
class RejectLimit:
    """Counts consecutive mostly-rejected batches; raises when there are too many."""

    topic: str
    share: float
    batches: int
    min_batch: int
    bad_batches: int = 0

    @classmethod
    def from_config(cls, topic: str, config: IngestConfig) -> RejectLimit:
        return cls(topic, config.reject_share_limit, config.reject_batches_limit, config.reject_min_batch)

    def check(self, result: BatchResult) -> None:
        """Account for a committed batch (small batches say too little, and reset the count)."""
        records = result.accepted + result.rejected
        if records >= self.min_batch and result.rejected / records > self.share:
            self.bad_batches += 1
        else:
            self.bad_batches = 0
        if self.bad_batches >= self.batches:
            code, _ = Counter(result.codes).most_common(1)[0]
            raise GrowthError(
                f"topic {self.topic}: more than {self.share:.0%} of records rejected in "
                f"{self.bad_batches} consecutive batches (commonest code {code}); is a producer misconfigured? "
                "Everything read so far is stored in raw.events_quarantine."
            )
