"""Shared fixtures: canary secrets and helpers to prove they never leak."""

from __future__ import annotations

import logging

import pytest

#: Distinctive values that must never appear in any repr, log record or error text.
CANARY_SECRET = "canary-SECRET-7f3a9c"
CANARY_CLIENT = "canaryclient"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Capture every tokenprovider log record at DEBUG."""
    caplog.set_level(logging.DEBUG, logger="tokenprovider")
    caplog.set_level(logging.DEBUG)
    return caplog


def assert_no_leak(text: str, *secrets: str) -> None:
    """Fail if any secret occurs in ``text``."""
    for secret in secrets:
        assert secret not in text, f"secret leaked into: {text!r}"


def all_log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every captured record, formatted with arguments and exception text."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    parts = []
    for record in caplog.records:
        parts.append(formatter.format(record))
        if record.exc_info:
            parts.append(formatter.formatException(record.exc_info))
    return "\n".join(parts)
