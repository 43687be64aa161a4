"""A broker that does not answer: wait and retry, and say so in one clear line.

An unreachable broker is an operational problem, not a data one: nothing goes to
quarantine and nothing is skipped. ``--follow`` waits for the broker (backing off while it
connects, and relying on the client's own reconnects once it runs) and logs one warning
when an outage starts and one when it ends; ``--until-caught-up`` has nothing to wait for
and fails at once.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from typing import TypeVar

from kafka.errors import KafkaTimeoutError

from warehouse.errors import BrokerError

log = logging.getLogger(__name__)
T = TypeVar("T")

PROBE_SECONDS = 5.0  # between reachability probes while polls come back empty
MAX_BACKOFF_SECONDS = 30.0


class BrokerWatch:
    """Backs off while no broker answers at start, and reports outages of a running ingester."""

    def __init__(self, servers: str, *, follow: bool) -> None:
        self.servers = servers
        self.follow = follow
        self.down = False
        self._last_probe = time.monotonic()

    def connect(self, open_client: Callable[[], T]) -> T:
        """``open_client()``, retried with exponential back-off in follow mode."""
        delay = 1.0
        while True:
            try:
                return open_client()
            except KafkaTimeoutError as exc:
                if not self.follow:
                    raise BrokerError(f"no Kafka broker reachable at {self.servers}") from exc
                log.warning("Kafka broker %s unreachable; retrying in %.0f s", self.servers, delay)
                time.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF_SECONDS)

    def probe(self) -> None:
        """After an empty poll: in follow mode, tell an outage from a quiet topic (the client only retries)."""
        if not self.follow or time.monotonic() - self._last_probe < PROBE_SECONDS:
            return
        self._last_probe = time.monotonic()
        reachable = any(_tcp_reachable(server) for server in self.servers.split(","))
        if not reachable and not self.down:
            log.warning("Kafka broker %s unreachable; waiting and retrying", self.servers)
        elif reachable and self.down:
            log.warning("Kafka broker %s reachable again; resuming", self.servers)
        self.down = not reachable


def _tcp_reachable(server: str) -> bool:
    host, _, port = server.strip().rpartition(":")
    try:
        with socket.create_connection((host or "localhost", int(port or 9092)), timeout=1.0):
            return True
    except OSError:
        return False
