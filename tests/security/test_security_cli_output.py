"""What the commands print: `doctor` never shows a key, token or secret — not when everything works, not
when the services refuse the credentials and quote them back — and the `demo` prints and logs none of
the sandbox's credentials (only the `sandbox` command prints those, on purpose)."""

from __future__ import annotations

import io
import secrets
from pathlib import Path
from typing import Any

import pytest
from security_support import EchoingTransport, Exposure, secret_forms

from paymo_qb_mcp.cli import connect, demo_cmd
from paymo_qb_mcp.cli.doctor_cmd import render, run_checks
from paymo_qb_mcp.config.settings import ENVIRONMENT_VARIABLES
from paymo_qb_mcp.sandbox import Sandbox


async def test_doctor_shows_no_credential_when_all_is_well_or_refused(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    every_log_record: pytest.LogCaptureFixture,
    fast_retries: None,
) -> None:
    sandbox = Sandbox.create("demo", "global", "relaxed")
    client_secret, http_token = f"cs-{secrets.token_hex(20)}", f"ht-{secrets.token_hex(20)}"
    for name in ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    environment = {
        "PAYMO_QB_DATA_DIR": str(tmp_path / "data"),
        "PAYMO_QB_TOKEN_STORE": "file",
        "QBO_ENVIRONMENT": "sandbox",
        "PAYMO_API_KEY": sandbox.paymo.api_key,
        "QBO_REALM_ID": sandbox.qbo.realm_id,
        "QBO_ACCESS_TOKEN": sandbox.qbo.access_token,
        "QBO_CLIENT_ID": "ABsecurityreview",
        "QBO_CLIENT_SECRET": client_secret,
        "PAYMO_QB_HTTP_TOKEN": http_token,
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)

    healthy = render(
        await run_checks(paymo_transport=sandbox.paymo_transport(), qbo_transport=sandbox.qbo_transport())
    )
    sandbox.paymo.faults.fail_next(1, status=401)
    sandbox.qbo.faults.fail_next(1, status=401)
    refused = render(
        await run_checks(
            paymo_transport=EchoingTransport(sandbox.paymo_transport(), "paymo"),
            qbo_transport=EchoingTransport(sandbox.qbo_transport(), "quickbooks"),
        )
    )
    assert "FAIL" not in healthy
    assert "refused" in refused
    exposure = Exposure()
    exposure.add("doctor report", healthy)
    exposure.add("doctor report with refusals", refused)
    exposure.add_logs(every_log_record.records)
    secret_values = {
        **secret_forms("paymo api key", sandbox.paymo.api_key, basic_password="X"),
        "qbo access token": sandbox.qbo.access_token,
        "intuit client secret": client_secret,
        "http bearer token": http_token,
    }
    assert exposure.leaks(secret_values) == []


async def test_the_demo_prints_and_logs_no_sandbox_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, every_log_record: pytest.LogCaptureFixture
) -> None:
    started: list[Sandbox] = []
    real_sandbox_connection = connect.sandbox_connection

    def remembered(**options: Any) -> Any:
        connection, sandbox = real_sandbox_connection(**options)
        started.append(sandbox)
        return connection, sandbox

    monkeypatch.setattr(connect, "sandbox_connection", remembered)
    printed = io.StringIO()
    assert await demo_cmd._demo(tmp_path / "demo", "global", printed) == 0
    [sandbox] = started
    exposure = Exposure()
    exposure.add("demo output", printed.getvalue())
    exposure.add_logs(every_log_record.records)
    exposure.add_files(tmp_path / "demo")
    assert "hash chain intact" in printed.getvalue()
    secret_values = {
        **secret_forms("paymo api key", sandbox.paymo.api_key, basic_password="X"),
        "qbo access token": sandbox.qbo.access_token,
    }
    assert exposure.leaks(secret_values) == []
