"""A broker that does not answer: wait and retry, and say so in one clear line.

An unreachable broker is an operational problem, not a data one: nothing goes to
quarantine and nothing is skipped. ``--follow`` waits for the broker (backing off while it
connects, and relying on the client's own reconnects once it runs) and logs one warning
when an outage starts and one when it ends; ``--until-caught-up`` has nothing to wait for
and fails at once (after the client's bootstrap timeout), or, when the broker goes away
midway, once it has been unreachable for ``ANSWER_SECONDS``.

Waiting never outlasts a stop request: the back-off sleeps on it, and the client calls
that know no timeout of their own run through
:func:`~ingest.stop_request.call_unless_stopped`, so SIGTERM is noticed within a fraction
of a second even while no broker answers.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from typing import TypeVar

from kafka.errors import KafkaTimeoutError

from ingest.stop_request import Stopped, StopRequest, call_unless_stopped
from warehouse.errors import BrokerError

log = logging.getLogger(__name__)
T = TypeVar("T")

PROBE_SECONDS = 5.0  # between reachability probes while polls come back empty
MAX_BACKOFF_SECONDS = 30.0
ANSWER_SECONDS = 10.0  # --until-caught-up: longest a client call without a timeout may wait for the broker


class BrokerWatch:
    """Backs off while no broker answers at start, and reports outages of a running ingester."""

    def __init__(self, servers: str, *, follow: bool, stop: StopRequest) -> None:
        self.servers = servers
        self.follow = follow
        self.stop = stop
        self.down = False
        self._last_probe = self._down_since = time.monotonic()

    def connect(self, open_client: Callable[[], T], close_client: Callable[[T], None]) -> T:
        """``open_client()``, retried with exponential back-off in follow mode.

        Raises :class:`~ingest.stop_request.Stopped` when a stop is requested meanwhile; a
        client that connects after that is closed by ``close_client``.
        """
        delay = 1.0
        while True:
            try:
                return call_unless_stopped(open_client, self.stop, abandon=close_client)
            except KafkaTimeoutError as exc:
                if not self.follow:
                    raise BrokerError(f"no Kafka broker reachable at {self.servers}") from exc
                log.warning("Kafka broker %s unreachable; retrying in %.0f s", self.servers, delay)
                if self.stop.wait(delay):
                    raise Stopped from None
                delay = min(delay * 2, MAX_BACKOFF_SECONDS)

    def ask(self, call: Callable[[], T], what: str) -> T:
        """A client call that has no timeout of its own: given up on a stop request, and in
        ``--until-caught-up`` after ``ANSWER_SECONDS`` (a :class:`BrokerError` naming ``what``)."""
        try:
            return call_unless_stopped(call, self.stop, limit=None if self.follow else ANSWER_SECONDS)
        except TimeoutError as exc:
            raise BrokerError(f"{what}: no answer from {self.servers} within {ANSWER_SECONDS:.0f} s") from exc

    def probe(self) -> None:
        """After an empty poll: tell an outage from a quiet topic (the client only retries).

        In follow mode an outage is waited out. In ``--until-caught-up`` one that lasts
        ``ANSWER_SECONDS`` ends the run with a :class:`BrokerError`: a scheduled run must end,
        and ending loses nothing (the open batch is read again next time, as offsets advance
        only with what was written).
        """
        now = time.monotonic()
        if now - self._last_probe < PROBE_SECONDS:
            return
        self._last_probe = now
        reachable = any(_tcp_reachable(server) for server in self.servers.split(","))
        if not reachable and not self.down:
            self._down_since = now
            log.warning("Kafka broker %s unreachable; waiting and retrying", self.servers)
        elif reachable and self.down:
            log.warning("Kafka broker %s reachable again; resuming", self.servers)
        self.down = not reachable
        if self.down and not self.follow and now - self._down_since >= ANSWER_SECONDS:
            raise BrokerError(
                f"Kafka broker {self.servers} unreachable for {ANSWER_SECONDS:.0f} s before the topic was read "
                "to its end: stopped (what was written is kept; run again once the broker is back)"
            )


def _tcp_reachable(server: str) -> bool:
    host, _, port = server.strip().rpartition(":")
    try:
        with socket.create_connection((host or "localhost", int(port or 9092)), timeout=1.0):
            return True
    except OSError:
        return False
