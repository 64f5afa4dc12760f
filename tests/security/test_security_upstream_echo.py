"""Upstream errors that quote our own credentials back (a careless gateway, a proxy's error page, a service
that says "invalid API key 5c2a…") never carry them further: not into the tool error the agent reads,
not into a log line, not into the audit log — and the server's own credentials are masked by value in
the audit log and approvals even when only the credential store, not the settings, knew them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult
from security_support import EchoingTransport, Exposure, accept, sandbox_connection, secret_forms

from paymo_qb_mcp.config.policy import load_policy
from paymo_qb_mcp.config.settings import shipped_policy_path
from paymo_qb_mcp.quickbooks.tokens import StaticTokenProvider
from paymo_qb_mcp.sandbox import Sandbox
from paymo_qb_mcp.sandbox.paymo import seed
from paymo_qb_mcp.server.app import build_server
from paymo_qb_mcp.server.runtime import open_runtime

INV_1035 = seed.INVOICE_IDS["INV-2026-1035"]
INV_1039 = seed.INVOICE_IDS["INV-2026-1039"]
INV_1041 = seed.INVOICE_IDS["INV-2026-1041"]
PERIOD = {"date_from": "2026-10-01", "date_to": "2026-11-30"}


async def test_credentials_echoed_by_upstream_errors_go_no_further(
    tmp_path: Path, every_log_record: pytest.LogCaptureFixture, fast_retries: None
) -> None:
    sandbox = Sandbox.create("demo", "global", "relaxed")
    paymo_echo = EchoingTransport(sandbox.paymo_transport(), "paymo")
    qbo_echo = EchoingTransport(sandbox.qbo_transport(), "quickbooks")
    connection = sandbox_connection(
        sandbox,
        StaticTokenProvider(sandbox.qbo.access_token),
        ledger_dir=tmp_path / "ledger",
        paymo_transport=paymo_echo,
        qbo_transport=qbo_echo,
    )
    policy = load_policy(shipped_policy_path())
    data_dir = tmp_path / "data"

    def factory() -> Any:
        # The key and token came from the credential store: the settings know no secret at all.
        return open_runtime(connection, policy=policy, data_dir=data_dir, known_secrets=())

    server = build_server(factory, policy_path=shipped_policy_path())
    exposure = Exposure()
    paymo_faults, qbo_faults = sandbox.paymo.faults, sandbox.qbo.faults
    async with Client(server, elicitation_callback=accept) as client:

        async def call(tool: str, arguments: dict[str, Any]) -> CallToolResult:
            return exposure.add_result(tool, await client.call_tool(tool, arguments))

        # Reads: 4xx answers at once, a 500 after its one retry.
        for status, answers in ((401, 1), (403, 1), (404, 1), (500, 2), (401, 1)):
            paymo_faults.fail_next(answers, status=status)
            await call("sync_invoice", {"paymo_invoice_id": INV_1041, "dry_run": True})
        await call("sync_invoice", {"paymo_invoice_id": 999999})
        for status, answers in ((401, 1), (400, 1), (503, 2), (401, 1)):
            qbo_faults.fail_next(answers, status=status)
            await call("reconciliation_report", PERIOD)
        await call("sync_invoice", {"paymo_invoice_id": INV_1035})
        # A failure while applying is audited with its message.
        qbo_faults.fail_next(1, status=400, method="POST")
        await call("sync_invoice", {"paymo_invoice_id": INV_1039})
        exposure.add(
            "resource audit", (await client.read_resource("paymo-qb://audit/recent")).model_dump_json()
        )

    async with open_runtime(connection, policy=policy, data_dir=data_dir) as runtime:
        # A message quoting the Paymo key or the QBO token, however it got there, is masked by value.
        runtime.audit.append("error", tool="sync_invoice", message=f"seen {sandbox.paymo.api_key}")
        runtime.approvals.create(
            "sync_invoice",
            {"note": f"token {sandbox.qbo.access_token}"},
            "ab" * 32,
            f"summary with {sandbox.paymo.api_key}",
            {},
            runtime.now() + dt.timedelta(minutes=15),
        )
    exposure.add_logs(every_log_record.records)
    exposure.add_files(data_dir)

    assert paymo_echo.echoed >= 7
    assert qbo_echo.echoed >= 6
    assert {"AUTH", "REJECTED", "NOT_FOUND", "TRANSIENT"} <= set(exposure.error_codes)
    assert any(event["event"] == "error" for event in map(json.loads, (data_dir / "audit.jsonl").open()))
    secret_values = {
        **secret_forms("paymo api key", sandbox.paymo.api_key, basic_password="X"),
        "qbo access token": sandbox.qbo.access_token,
    }
    assert exposure.leaks(secret_values) == []
