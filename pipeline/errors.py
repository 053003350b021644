"""The errors a job ends with and the exit codes they map to, importable by the launcher and every job alike."""

from __future__ import annotations

EXIT_OK = 0
EXIT_MISMATCH = 1  # `verify`: the output does not match its manifest
EXIT_USAGE = 2  # a usage, config or input error: the message says what to pass instead
EXIT_UNBALANCED = 3  # a stage lost or invented records


class UsageError(ValueError):
    """A job cannot start with the flags given; the message says what to pass instead."""


class ConfigError(ValueError):
    """A config file or override that cannot be used, with the key that is wrong."""


class AccountingError(RuntimeError):
    """A stage lost or invented records: in != kept + dropped, or a hand-off does not match."""
