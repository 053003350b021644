"""What a run prints: syncode's own lines (progress, summaries) at `--log_level`, other libraries when they warn."""

from __future__ import annotations

import logging
import os
import sys

LOG_LEVELS = ("debug", "info", "warning", "error")
OURS = "syncode"  # every logger of ours is named syncode.*
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Set by the launcher; the local runner's worker processes inherit it and print our lines on the same console.
LEVEL_ENV = "SYNCODE_LOG_LEVEL"
LAUNCHER_PID_ENV = "SYNCODE_LOG_PID"
# Beam prints these for every local worker; they say nothing about the job.
NOISE = ("No semi_persistent_directory found", "No session file found")
CHATTY = ("httpx", "httpcore", "openai")  # one INFO line per request: millions at scale


class ShowFilter(logging.Filter):
    """Passes syncode's records at `level` and up, other libraries' at warning and up (everything at debug)."""

    def __init__(self, level: int):
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        if self.level <= logging.DEBUG:
            return True
        if record.name == OURS or record.name.startswith(OURS + "."):
            return record.levelno >= self.level
        return record.levelno >= max(self.level, logging.WARNING) and not _is_noise(record)


def _is_noise(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    return any(n in message for n in NOISE)


def level_number(name: str) -> int:
    """The logging level for a `--log_level` name."""
    if name not in LOG_LEVELS:
        raise ValueError(f"unknown log level {name!r}; expected one of {', '.join(LOG_LEVELS)}")
    return getattr(logging, name.upper())


def configure_logging(name: str = "info") -> None:
    """The launcher's console: one stderr handler behind ShowFilter; worker processes it starts inherit the level."""
    level = level_number(name)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(ShowFilter(level))
    logging.basicConfig(level=min(level, logging.INFO) if level > logging.DEBUG else logging.DEBUG,
                        handlers=[handler], force=True)
    os.environ[LEVEL_ENV] = name
    os.environ[LAUNCHER_PID_ENV] = str(os.getpid())


def configure_worker_logging() -> None:
    """In a local worker process the launcher started: print syncode's lines on the console it inherited.

    Elsewhere (Dataflow, or a worker inside the launcher) records keep going to the handlers the runner set up.
    Everywhere, the HTTP clients' per-request lines stay off unless the level is debug."""
    name = os.environ.get(LEVEL_ENV, "")
    if name != "debug":
        for library in CHATTY:
            logging.getLogger(library).setLevel(logging.WARNING)
    if name not in LOG_LEVELS or os.environ.get(LAUNCHER_PID_ENV) == str(os.getpid()):
        return
    ours = logging.getLogger(OURS)
    if any(getattr(h, "_syncode", False) for h in ours.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    handler._syncode = True  # type: ignore[attr-defined]
    ours.addHandler(handler)
    ours.setLevel(level_number(name))
    ours.propagate = False  # the runner would print it a second time, as "Worker: severity: ..."
