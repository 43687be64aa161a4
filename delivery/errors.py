"""The one failure of delivery: a configured destination that could not be reached or refused.

It is a :class:`GrowthError`, so the CLI and Dagster print it as one line. Its text names the
destination by its public name (``email:ops@example.com``, ``slack``, ``webhook:host:port``)
and never carries a secret: callers build it from public names and scrubbed reasons only.
"""

from __future__ import annotations

from warehouse.errors import GrowthError


class DeliveryError(GrowthError):
    """A destination was unreachable or refused the message after the retries."""
