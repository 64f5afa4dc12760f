"""Security-review fixtures: every logger at DEBUG, fast retries, Intuit's OAuth service on loopback."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator

import pytest
from security_support import PluggableApp

from paymo_qb_mcp.net import http as net_http
from paymo_qb_mcp.net.retry import RetryPolicy
from paymo_qb_mcp.sandbox.intuit_oauth import serve_on_loopback

LOGGERS = ("httpx", "httpcore", "mcp", "paymo_qb_mcp", "urllib3", "uvicorn", "anyio", "starlette")


@pytest.fixture
def every_log_record(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every record of every logger, down to DEBUG."""
    caplog.set_level(logging.DEBUG)
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@pytest.fixture
def fast_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Clients opened from now on retry once, without waiting, so faults turn into errors quickly."""
    monkeypatch.setattr(
        net_http,
        "RetryPolicy",
        functools.partial(RetryPolicy, max_attempts=2, base_delay=0.0, default_429_wait=0.0),
    )


@pytest.fixture(scope="module")
def intuit_loopback() -> Iterator[tuple[PluggableApp, str]]:
    app = PluggableApp()
    with serve_on_loopback(app) as url:
        yield app, url
