"""What a run prints by default: syncode's lines, and other libraries only when they warn."""

from __future__ import annotations

import logging
import os

import pytest

from ledger.logs import LAUNCHER_PID_ENV, LEVEL_ENV, OURS, ShowFilter, configure_worker_logging, level_number


def _record(name: str, level: int, message: str = "m") -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, (), None)


@pytest.mark.parametrize(("level", "name", "record_level", "message", "shown"), [
    ("info", "syncode.progress", logging.INFO, "progress ReadWarc in=3", True),
    ("info", "syncode", logging.DEBUG, "detail", False),
    ("info", "apache_beam.runners.worker.sdk_worker", logging.INFO, "Control channel established.", False),
    ("info", "httpx", logging.INFO, 'HTTP Request: POST http://127.0.0.1:8000/v1/chat/completions', False),
    ("info", "apache_beam.io", logging.WARNING, "a real warning", True),
    ("info", "apache_beam.runners.portability.local_job_service", logging.WARNING,
     'Worker: severity: WARN message: "No semi_persistent_directory found: ..."', False),
    ("warning", "syncode.progress", logging.INFO, "progress ReadWarc in=3", False),
    ("warning", "syncode", logging.ERROR, "failed", True),
    ("debug", "apache_beam.runners.worker.sdk_worker", logging.DEBUG, "anything", True),
])
def test_show_filter_keeps_our_lines_and_library_warnings(level, name, record_level, message, shown):
    assert ShowFilter(level_number(level)).filter(_record(name, record_level, message)) is shown


def test_unknown_level_is_a_clear_error():
    with pytest.raises(ValueError, match="expected one of debug, info, warning, error"):
        level_number("verbose")


@pytest.fixture
def clean_loggers():
    ours = logging.getLogger(OURS)
    saved = (list(ours.handlers), ours.level, ours.propagate, logging.getLogger("httpx").level)
    yield ours
    ours.handlers[:] = saved[0]
    ours.setLevel(saved[1])
    ours.propagate = saved[2]
    logging.getLogger("httpx").setLevel(saved[3])


def test_a_local_worker_prints_our_lines_once_and_quiets_http_clients(monkeypatch, clean_loggers):
    monkeypatch.setenv(LEVEL_ENV, "info")
    monkeypatch.setenv(LAUNCHER_PID_ENV, str(os.getpid() + 1))  # this process is not the launcher
    logging.getLogger("httpx").setLevel(logging.NOTSET)
    configure_worker_logging()
    configure_worker_logging()  # idempotent: one handler however many stages set up in this worker
    assert [getattr(h, "_syncode", False) for h in clean_loggers.handlers].count(True) == 1
    assert clean_loggers.propagate is False and clean_loggers.level == logging.INFO
    assert logging.getLogger("httpx").level == logging.WARNING


def test_in_the_launcher_or_on_dataflow_records_keep_the_runners_handlers(monkeypatch, clean_loggers):
    monkeypatch.setenv(LEVEL_ENV, "info")
    monkeypatch.setenv(LAUNCHER_PID_ENV, str(os.getpid()))
    configure_worker_logging()
    monkeypatch.delenv(LEVEL_ENV)
    configure_worker_logging()
    assert not any(getattr(h, "_syncode", False) for h in clean_loggers.handlers)
    assert clean_loggers.propagate is True
    assert logging.getLogger("httpx").level == logging.WARNING  # no env (Dataflow): per-request lines still off
