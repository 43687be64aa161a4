"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, parsed.

Shared by the delivery tests (tests/test_delivery.py, tests/test_report_delivery.py): the
plain server is the ``smtp`` fixture of tests/conftest.py; tests that need AUTH or TLS start
their own :class:`Mailbox` with :func:`serving` and the controller options they need.
"""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Mailbox:
    """What the SMTP server received, and how it should answer the next DATA commands."""

    host: str
    port: int
    received: list[tuple[list[str], EmailMessage]] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)  # replies to DATA before accepting ("451 ...")
    logins: list[tuple[str, bytes, bytes]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.answers:
            return self.answers.pop(0)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append((list(envelope.rcpt_tos), parsed))
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [mail for rcpts, mail in self.received if address in rcpts]


@contextmanager
def serving(box: Mailbox, **options: Any) -> Iterator[Mailbox]:
    """Run an aiosmtpd server for ``box`` on its host and port until the block ends."""
    controller = Controller(box, hostname=box.host, port=box.port, **options)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()
