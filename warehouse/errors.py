"""Expected failures: the CLI prints these as one line (no traceback unless --debug)."""


class GrowthError(Exception):
    """An expected, user-facing failure with a message that says what and where."""


class ConfigError(GrowthError):
    """A setting is missing or malformed."""


class BrokerError(GrowthError):
    """The embedded broker could not be started, stopped or reached."""
