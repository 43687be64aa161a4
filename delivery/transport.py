"""Getting a message accepted: retries with exponential backoff, and JSON over HTTP with httpx.

delivery.md: a configured destination that is unreachable or refuses is an error of the run
that names the destination, never its secret, after retries with backoff. Each channel says
per attempt whether a failure is worth another try (:class:`Transient`: the connection
failed, HTTP 5xx or 429, an SMTP 4xx) or final (:class:`Refused`: any other answer);
:func:`with_retries` turns the outcome into a :class:`DeliveryError` with the public name.

Secrets leave no trace here: reasons are scrubbed of every secret the channel names, errors
are raised ``from None`` (a traceback would otherwise print the library's exception), and
httpx's own request log line, which holds the full URL (a Slack webhook's path is its
token), is rewritten to keep only the scheme and host.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from delivery.errors import DeliveryError
from warehouse.errors import ConfigError
from warehouse.settings import Settings

log = logging.getLogger(__name__)

ATTEMPTS = "GROWTH_DELIVERY_ATTEMPTS"
BACKOFF = "GROWTH_DELIVERY_BACKOFF_SECONDS"
TIMEOUT = "GROWTH_DELIVERY_TIMEOUT_SECONDS"
REASON_CHARS = 160  # enough for "HTTP 403 Forbidden: invalid_token"; a response page is cut


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try one destination: attempts, the first backoff (doubling), its cap, a timeout."""

    attempts: int = 4
    base_delay: float = 1.0
    max_delay: float = 30.0
    timeout: float = 10.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ConfigError(f"{ATTEMPTS} must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0:
            raise ConfigError(f"{BACKOFF} must not be negative")
        if self.timeout <= 0:
            raise ConfigError(f"{TIMEOUT} must be positive")

    def delay(self, failed_attempts: int, retry_after: float | None = None) -> float:
        """Seconds to wait after ``failed_attempts`` failures: 1, 2, 4, ... x base, capped.

        A server's Retry-After (HTTP 429/503) is honoured up to the cap.
        """
        backoff = self.base_delay * 2 ** (failed_attempts - 1)
        if retry_after is not None:
            backoff = max(backoff, retry_after)
        return min(backoff, self.max_delay)


def retry_policy(settings: Settings) -> RetryPolicy:
    """The policy of the settings (GROWTH_DELIVERY_ATTEMPTS, _BACKOFF_SECONDS, _TIMEOUT_SECONDS)."""
    default = RetryPolicy()
    return RetryPolicy(
        attempts=settings.tuned(ATTEMPTS, default.attempts),
        base_delay=settings.tuned(BACKOFF, default.base_delay),
        max_delay=default.max_delay,
        timeout=settings.tuned(TIMEOUT, default.timeout),
    )


class Transient(Exception):
    """This attempt failed in a way another attempt may not: retry after the backoff."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class Refused(Exception):
    """The destination answered no: retrying would get the same answer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def scrub(text: str, secrets: Iterable[str | None]) -> str:
    """``text`` on one line, shortened, with every secret (longest first) replaced by ``***``."""
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, "***")
    line = " ".join(text.split())
    return line if len(line) <= REASON_CHARS else line[: REASON_CHARS - 1] + "…"


def with_retries(
    name: str,
    attempt: Callable[[], None],
    policy: RetryPolicy,
    *,
    secrets: Iterable[str | None] = (),
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Run ``attempt`` until it succeeds; return the number of attempts it took.

    Raises DeliveryError naming ``name`` (the public name) when the destination refuses or
    every attempt failed. Reasons are scrubbed of ``secrets`` before they are logged or raised.
    """
    hidden = tuple(secrets)
    reason = "no attempt made"
    for number in range(1, policy.attempts + 1):
        try:
            attempt()
        except Refused as exc:
            raise DeliveryError(f"{name} refused the message: {scrub(exc.reason, hidden)}") from None
        except Transient as exc:
            reason = scrub(exc.reason, hidden)
            if number == policy.attempts:
                break
            delay = policy.delay(number, exc.retry_after)
            log.warning(
                "delivery to %s failed (%s); attempt %d of %d in %.1f s",
                name,
                reason,
                number + 1,
                policy.attempts,
                delay,
            )
            sleep(delay)
        else:
            return number
    tries = "attempt" if policy.attempts == 1 else f"{policy.attempts} attempts"
    raise DeliveryError(f"{name} did not accept the message: {reason} (gave up after {tries})")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "").strip()
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None  # an HTTP date: the backoff decides


def _json_default(value: Any) -> Any:
    isoformat = getattr(value, "isoformat", None)
    if callable(isoformat):  # dates and datetimes the monitors may put into alert data
        return isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_bytes(document: Mapping[str, Any]) -> bytes:
    """The UTF-8 JSON body of a document; dates become ISO 8601 strings."""
    return json.dumps(document, ensure_ascii=False, default=_json_default).encode()


def post_json(
    name: str,
    url: str,
    document: Mapping[str, Any],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """POST ``document`` to ``url`` until a 2xx; return the attempts it took.

    Connection errors, timeouts, 5xx and 429 are retried; any other status (including a
    redirect, which is not followed: a webhook that moved is a configuration to fix) is a
    refusal. The URL is a secret: only ``name`` and the scrubbed reason leave this function.
    """
    body = json_bytes(document)
    parsed = httpx.URL(url)
    secrets = (url, parsed.path if len(parsed.path) > 1 else None, parsed.query.decode("ascii", "replace"))

    def attempt() -> None:
        try:
            response = client.post(url, content=body, headers={"content-type": "application/json"})
        except httpx.TransportError as exc:
            raise Transient(f"unreachable ({type(exc).__name__}: {exc})") from None
        if response.is_success:
            return
        reason = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
        detail = response.text.strip()
        if detail:
            reason = f"{reason}: {detail}"
        if response.status_code == 429 or response.status_code >= 500:
            raise Transient(reason, _retry_after(response))
        raise Refused(reason)

    with httpx.Client(timeout=policy.timeout, follow_redirects=False) as client:
        return with_retries(name, attempt, policy, secrets=secrets, sleep=sleep)


_URL = re.compile(r"(?P<origin>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s\"'?#]+)[^\s\"']*")


class _RedactUrls(logging.Filter):
    """httpx logs every request with its full URL at INFO: keep the origin, hide path and query."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        redacted = _URL.sub(lambda m: m["origin"] + ("/***" if len(m[0]) > len(m["origin"]) else ""), text)
        if redacted != text:
            record.msg, record.args = redacted, None
        return True


for _logger in ("httpx", "httpcore"):
    if not any(isinstance(f, _RedactUrls) for f in logging.getLogger(_logger).filters):
        logging.getLogger(_logger).addFilter(_RedactUrls())
