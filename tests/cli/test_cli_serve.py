"""`paymo-qb-mcp serve`: what it checks at start-up (settings, policy) and what waits for the first call
(the credential store, the clients, the sandbox's emulators), whose coded error a missing credential is;
credentials the connection brings are masked in the logs from the moment it is made."""

from __future__ import annotations

import argparse
import io
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from paymo_qb_mcp.cli import main, serve_cmd
from paymo_qb_mcp.cli.connect import SANDBOX_PAYMO_API_KEY
from paymo_qb_mcp.config.settings import ENVIRONMENT_VARIABLES
from paymo_qb_mcp.net.redact import RedactingFilter
from paymo_qb_mcp.sandbox import Sandbox
from paymo_qb_mcp.store.tokens import PaymoCredentials, open_credential_store

STORED_PAYMO_KEY = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PAYMO_QB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PAYMO_QB_TOKEN_STORE", "file")
    return tmp_path


@pytest.fixture
def serve_stderr() -> Iterator[io.StringIO]:
    """A root handler standing in for the one `serve` configures on stderr; filters removed afterwards."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        for each in [*root.handlers, logging.getLogger("uvicorn.error"), logging.getLogger("uvicorn.access")]:
            for log_filter in [f for f in each.filters if isinstance(f, RedactingFilter)]:
                each.removeFilter(log_filter)


def serve_args(*, sandbox: bool) -> argparse.Namespace:
    return argparse.Namespace(
        transport="stdio",
        host="127.0.0.1",
        port=8000,
        sandbox=sandbox,
        tax_model="global",
        empty=False,
        log_level="WARNING",
    )


def first_text(result: Any) -> str:
    return str(getattr(result.content[0], "text", ""))


def test_the_key_masked_before_the_sandbox_exists_is_the_one_it_gives_out() -> None:
    assert Sandbox.create("demo").paymo.api_key == SANDBOX_PAYMO_API_KEY
    assert Sandbox.create("empty").paymo.api_key == SANDBOX_PAYMO_API_KEY


async def test_a_live_server_without_credentials_starts_and_its_first_call_says_what_is_missing(
    data_dir: Path, serve_stderr: io.StringIO
) -> None:
    server, http = serve_cmd._build(serve_args(sandbox=False))
    assert not http
    async with Client(server) as client:
        assert (await client.list_tools()).tools
        result = await client.call_tool("sync_status", {})
        assert result.is_error
        assert first_text(result).startswith("CONFIG: No Paymo API key: set PAYMO_API_KEY or run"), (
            first_text(result)
        )
        # Nothing is cached: the next call looks again (the human may have run `auth paymo` meanwhile).
        again = await client.call_tool("sync_status", {})
        assert first_text(again).startswith("CONFIG: No Paymo API key")


async def test_a_stored_credential_is_masked_in_the_logs_once_the_first_call_connects(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, serve_stderr: io.StringIO
) -> None:
    store = open_credential_store(data_dir, "file")
    store.save_paymo(
        PaymoCredentials(api_key=STORED_PAYMO_KEY, verified_at=datetime(2026, 11, 2, tzinfo=UTC))
    )
    monkeypatch.setenv("QBO_REALM_ID", "9130")
    monkeypatch.setenv("QBO_ENVIRONMENT", "sandbox")
    monkeypatch.setenv("QBO_ACCESS_TOKEN", "static-access-token-for-this-test")
    server, _ = serve_cmd._build(serve_args(sandbox=False))
    log = logging.getLogger("paymo_qb_mcp.anything")
    async with Client(server) as client:
        status = await client.call_tool("sync_status", {})  # reads the ledger only: no request leaves
        assert not status.is_error, status.content
        assert status.structured_content is not None
        assert status.structured_content["connection"] == "live (sandbox)"
        log.warning("the agent pasted %s", STORED_PAYMO_KEY)
    assert "the agent pasted ***" in serve_stderr.getvalue()
    assert STORED_PAYMO_KEY not in serve_stderr.getvalue()


def test_a_bad_policy_still_fails_at_start_up(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = data_dir / "policies.yaml"
    policy.write_text("version: 1\nrules:\n  - name: typo\n    tools: [sync_everything]\n    effect: deny\n")
    monkeypatch.setenv("PAYMO_QB_POLICY", str(policy))
    assert main(["serve", "--sandbox"]) == 2
    assert "CONFIG: policies.yaml names tools that do not exist: sync_everything" in capsys.readouterr().err
