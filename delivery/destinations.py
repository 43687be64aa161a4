"""Where reports and alerts go: the destinations of delivery.md, read from the settings.

``warehouse/settings.py`` is the only reader of the environment; the ``GROWTH_*`` variables
reach this module through ``Settings.tuning`` and are parsed here, where their meaning lives.
A destination that is not configured is absent (skipped silently, as delivery.md says); one
that is configured wrongly is a one-line :class:`ConfigError` naming the variable and never
repeating its value when that value may hold a secret (the SMTP password, the token in a
Slack or webhook URL path).

Every destination has a public ``name`` that is safe to print and log; it is also the
``destination`` column of ``ops.deliveries``, so it must be stable: one email destination per
recipient (``email:ops@example.com``, so a new recipient is sent what the others already
have), ``slack`` for the one Slack webhook, ``webhook:host:port`` for the generic webhook.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import formataddr, getaddresses, parseaddr
from typing import Literal
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from warehouse.errors import ConfigError
from warehouse.settings import Settings

SMTP_URL = "GROWTH_SMTP_URL"
MAIL_FROM = "GROWTH_MAIL_FROM"
REPORT_RECIPIENTS = "GROWTH_REPORT_RECIPIENTS"
ALERT_RECIPIENTS = "GROWTH_ALERT_RECIPIENTS"
SLACK_WEBHOOK_URL = "GROWTH_SLACK_WEBHOOK_URL"
WEBHOOK_URL = "GROWTH_WEBHOOK_URL"
REPORT_URL = "GROWTH_REPORT_URL"

SMTP_URL_FORM = "smtp://[user:password@]host[:port][?starttls=true] or smtps://[user:password@]host[:port]"
TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
FALSE_WORDS = frozenset({"false", "0", "no", "off"})


@dataclass(frozen=True)
class SmtpServer:
    """The mail server of GROWTH_SMTP_URL. The password never appears in its repr."""

    host: str
    port: int
    security: Literal["plain", "ssl", "starttls"] = "plain"
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def name(self) -> str:
        """``smtp:host:port``, safe to print."""
        return f"smtp:{self.host}:{self.port}"


@dataclass(frozen=True)
class EmailDestination:
    """One recipient of mail through the configured server: its own row in ops.deliveries."""

    server: SmtpServer
    sender: str  # the From header, possibly "Name <address>"
    recipient: str  # a bare address

    @property
    def name(self) -> str:
        """``email:<address>`` in lower case: a change of case in the settings is not a new recipient."""
        return f"email:{self.recipient.lower()}"


@dataclass(frozen=True)
class SlackDestination:
    """A Slack incoming webhook. Its URL is a secret (the path is the token): never printed."""

    url: str = field(repr=False)

    @property
    def name(self) -> str:
        return "slack"


@dataclass(frozen=True)
class WebhookDestination:
    """A generic HTTP endpoint that receives the JSON document. Only its host and port are public."""

    url: str = field(repr=False)
    host: str
    port: int

    @property
    def name(self) -> str:
        return f"webhook:{self.host}:{self.port}"


Destination = EmailDestination | SlackDestination | WebhookDestination


@dataclass(frozen=True)
class Destinations:
    """The configured destinations of reports and of alerts, and the public report folder."""

    report: tuple[Destination, ...] = ()
    alert: tuple[Destination, ...] = ()
    report_url: str | None = None

    def for_kind(self, kind: str) -> tuple[Destination, ...]:
        """The destinations of a message of ``kind`` ('report' or 'alert')."""
        if kind == "report":
            return self.report
        if kind == "alert":
            return self.alert
        raise ValueError(f"a message is a report or an alert, not {kind!r}")


def _set(tuning: Mapping[str, str], name: str) -> str | None:
    """The variable's value, or None when unset or blank (blank reads as unset, like ``tuned``)."""
    value = tuning.get(name, "").strip()
    return value or None


def _truthy(variable: str, key: str, value: str) -> bool:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(f"{variable}: {key} must be true or false")


def _split_url(raw: str, variable: str, schemes: tuple[str, ...], expected: str) -> tuple[SplitResult, int | None]:
    """The URL's parts and port, with one of ``schemes`` and a host; errors never echo the URL."""
    try:
        parts = urlsplit(raw.strip())
        port = parts.port
    except ValueError:
        raise ConfigError(f"{variable} is not a valid URL ({expected})") from None
    if parts.scheme.lower() not in schemes:
        starts = " or ".join(f"{scheme}://" for scheme in schemes)
        raise ConfigError(f"{variable} must start with {starts} ({expected})")
    if not parts.hostname:
        raise ConfigError(f"{variable} has no host ({expected})")
    return parts, port


def parse_smtp_url(raw: str, *, variable: str = SMTP_URL) -> SmtpServer:
    """``smtp://`` or ``smtps://`` with optional user:password and ``?starttls=true``.

    Errors name the variable and the part that is wrong, never the URL (it may hold the
    password).
    """
    parts, port = _split_url(raw, variable, ("smtp", "smtps"), f"expected {SMTP_URL_FORM}")
    scheme = parts.scheme.lower()
    if parts.path not in ("", "/") or parts.fragment:
        raise ConfigError(f"{variable} must not have a path or a fragment (expected {SMTP_URL_FORM})")
    starttls = False
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key != "starttls":
            raise ConfigError(f"{variable}: unknown parameter {key!r} (only starttls=true|false)")
        starttls = _truthy(variable, key, value)
    if scheme == "smtps" and starttls:
        raise ConfigError(f"{variable}: starttls applies to smtp://, smtps:// is already encrypted")
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if username and not password:
        raise ConfigError(f"{variable} has a user but no password")
    if password and not username:
        raise ConfigError(f"{variable} has a password but no user")
    security: Literal["plain", "ssl", "starttls"] = "ssl" if scheme == "smtps" else "starttls" if starttls else "plain"
    return SmtpServer(
        host=str(parts.hostname),
        port=port or (465 if scheme == "smtps" else 25),
        security=security,
        username=username,
        password=password,
    )


def parse_address(raw: str, *, variable: str) -> tuple[str, str]:
    """(display name, address) of one mail address; addresses are not secrets, so errors show them."""
    text = raw.strip()
    name, address = parseaddr(text)
    local, at, domain = address.rpartition("@")
    if (
        any(ord(ch) < 32 for ch in text)  # a line break would start a new header
        or len(getaddresses([text])) != 1
        or address not in text  # parseaddr glues "a@x.com junk" into one address
        or not at
        or not local
        or "." not in domain.strip(".")
        or any(ch.isspace() or ch in ',<>"' for ch in address)
    ):
        raise ConfigError(f"{variable}: {text!r} is not an email address")
    return name, address


def parse_recipients(raw: str, *, variable: str) -> tuple[str, ...]:
    """Comma-separated addresses, bare and deduplicated (case-insensitively), in the order given."""
    seen: dict[str, str] = {}
    for piece in raw.split(","):
        if not piece.strip():
            continue
        _, address = parse_address(piece, variable=variable)
        seen.setdefault(address.lower(), address)
    if not seen:
        raise ConfigError(f"{variable} holds no address")
    return tuple(seen.values())


def parse_http_url(raw: str, *, variable: str) -> tuple[str, str, int]:
    """(url, host, port) of an http(s) endpoint; errors never echo the URL (its path may be a token)."""
    url = raw.strip()
    parts, port = _split_url(url, variable, ("http", "https"), "expected http(s)://host[:port]/path")
    if any(ch.isspace() for ch in url):
        raise ConfigError(f"{variable} must not contain spaces")
    return url, str(parts.hostname), port or (443 if parts.scheme.lower() == "https" else 80)


def _email_destinations(tuning: Mapping[str, str]) -> tuple[tuple[Destination, ...], tuple[Destination, ...]]:
    """(report, alert) email destinations; none when no mail variable is set.

    Recipients without a server, or a server without a sender or any recipient, are
    configuration errors rather than silent skips: someone meant mail to go out.
    """
    smtp_raw = _set(tuning, SMTP_URL)
    sender_raw = _set(tuning, MAIL_FROM)
    report_raw = _set(tuning, REPORT_RECIPIENTS)
    alert_raw = _set(tuning, ALERT_RECIPIENTS)
    if smtp_raw is None:
        mail_only = {MAIL_FROM: sender_raw, REPORT_RECIPIENTS: report_raw, ALERT_RECIPIENTS: alert_raw}
        for variable, value in mail_only.items():
            if value is not None:
                raise ConfigError(f"{variable} is set but {SMTP_URL} is not: mail needs a server")
        return (), ()
    server = parse_smtp_url(smtp_raw)
    if sender_raw is None:
        raise ConfigError(f"{SMTP_URL} is set but {MAIL_FROM} is not: mail needs a sender address")
    sender = formataddr(parse_address(sender_raw, variable=MAIL_FROM))
    if report_raw is None and alert_raw is None:
        raise ConfigError(f"{SMTP_URL} is set but neither {REPORT_RECIPIENTS} nor {ALERT_RECIPIENTS} is")
    report = parse_recipients(report_raw, variable=REPORT_RECIPIENTS) if report_raw else ()
    alert = parse_recipients(alert_raw, variable=ALERT_RECIPIENTS) if alert_raw else report
    return (
        tuple(EmailDestination(server, sender, address) for address in report),
        tuple(EmailDestination(server, sender, address) for address in alert),
    )


def load_destinations(settings: Settings) -> Destinations:
    """Every configured destination, for reports and for alerts (Slack and webhook get both)."""
    tuning = settings.tuning
    report_mail, alert_mail = _email_destinations(tuning)
    shared: list[Destination] = []
    if (slack := _set(tuning, SLACK_WEBHOOK_URL)) is not None:
        shared.append(SlackDestination(parse_http_url(slack, variable=SLACK_WEBHOOK_URL)[0]))
    if (hook := _set(tuning, WEBHOOK_URL)) is not None:
        url, host, port = parse_http_url(hook, variable=WEBHOOK_URL)
        shared.append(WebhookDestination(url, host, port))
    report_url = _set(tuning, REPORT_URL)
    if report_url is not None:
        report_url = parse_http_url(report_url, variable=REPORT_URL)[0]
    return Destinations(
        report=(*report_mail, *shared),
        alert=(*alert_mail, *shared),
        report_url=report_url,
    )


def report_link(report_url: str | None, relative: str) -> str | None:
    """The public link of one report: GROWTH_REPORT_URL (a folder) joined with its path in it."""
    if not report_url:
        return None
    return report_url.rstrip("/") + "/" + relative.lstrip("/")
