"""End to end: a full MCP session on the sandbox — every tool, approvals both ways, a QuickBooks token
refresh through Intuit's OAuth service, upstream faults on both sides and bad arguments — lets no secret
out: not in any log record (every logger at DEBUG, httpx's own included), not in a tool result, error
or resource, and not in the audit log, the approvals database or the link ledger on disk.

The QuickBooks tokens are real OAuth tokens: issued by the local Intuit emulator to an app with a client
secret, kept by the product's credential store and refreshed by its token provider, as in a live run.
"""

from __future__ import annotations

import base64
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.types import CallToolResult
from security_support import (
    Exposure,
    PluggableApp,
    RecordingStore,
    accept,
    sandbox_connection,
    secret_forms,
)

from paymo_qb_mcp.config.policy import load_policy
from paymo_qb_mcp.config.settings import shipped_policy_path
from paymo_qb_mcp.quickbooks.oauth import (
    IntuitOAuthClient,
    OAuthApp,
    OAuthTokenProvider,
    new_state,
    parse_redirect,
)
from paymo_qb_mcp.sandbox import Sandbox
from paymo_qb_mcp.sandbox.intuit_oauth import IntuitOAuthEmulator
from paymo_qb_mcp.sandbox.paymo import seed
from paymo_qb_mcp.server.app import build_server
from paymo_qb_mcp.server.runtime import open_runtime
from paymo_qb_mcp.store.approvals import ApprovalStore
from paymo_qb_mcp.store.tokens import open_credential_store

CLIENT_ID = "ABsecurityreviewclient"
REDIRECT_URI = "http://localhost:8765/callback"
PERIOD = {"date_from": "2026-10-01", "date_to": "2026-11-30"}
INV_1035 = seed.INVOICE_IDS["INV-2026-1035"]
INV_1039 = seed.INVOICE_IDS["INV-2026-1039"]
INV_1040 = seed.INVOICE_IDS["INV-2026-1040"]
INV_1041 = seed.INVOICE_IDS["INV-2026-1041"]


@dataclass
class Session:
    sandbox: Sandbox
    intuit: IntuitOAuthEmulator
    store: RecordingStore
    client_secret: str
    http_token: str
    authorization_code: str
    data_dir: Path
    ledger_dir: Path
    server: Any

    def secret_values(self) -> dict[str, str]:
        values: dict[str, str] = {}
        values.update(secret_forms("paymo api key", self.sandbox.paymo.api_key, basic_password="X"))
        values["intuit client secret"] = self.client_secret
        values["http bearer token"] = self.http_token
        values["authorization code"] = self.authorization_code
        for number, record in enumerate(self.store.saved):
            values[f"qbo access token #{number}"] = record.access_token
            values[f"qbo refresh token #{number}"] = record.refresh_token
        return values


@pytest.fixture
async def session(tmp_path: Path, intuit_loopback: tuple[PluggableApp, str], fast_retries: None) -> Session:
    sandbox = Sandbox.create("demo", "global", "relaxed")
    client_secret = f"cs-{secrets.token_hex(20)}"
    http_token = f"ht-{secrets.token_hex(20)}"

    # Connect the QuickBooks company as `paymo-qb-mcp auth quickbooks` does; every refresh rotates.
    intuit = IntuitOAuthEmulator(realm_id=sandbox.qbo.realm_id, rotation_cadence=timedelta(0))
    intuit.register_app(client_id=CLIENT_ID, client_secret=client_secret, redirect_uris=[REDIRECT_URI])
    plug, base_url = intuit_loopback
    plug.target = intuit.app
    sandbox.qbo.token_realm = intuit.access_token_realm
    oauth = IntuitOAuthClient(
        OAuthApp(
            client_id=CLIENT_ID,
            client_secret=client_secret,
            redirect_uri=REDIRECT_URI,
            environment="sandbox",
            discovery_url=f"{base_url}/.well-known/openid_configuration",
        )
    )
    state = new_state()
    async with httpx.AsyncClient() as browser:
        location = (await browser.get(await oauth.authorization_url(state))).headers["location"]
    redirect = parse_redirect(location)
    store = RecordingStore(open_credential_store(tmp_path / "credentials", "file"))
    store.save_qbo_tokens(await oauth.exchange_code(redirect))

    data_dir, ledger_dir = tmp_path / "data", tmp_path / "ledger"
    tokens = OAuthTokenProvider(
        oauth=oauth, store=store, realm_id=sandbox.qbo.realm_id, environment="sandbox"
    )
    connection = sandbox_connection(sandbox, tokens, ledger_dir=ledger_dir)
    policy_path = shipped_policy_path()
    policy = load_policy(policy_path)

    def factory() -> Any:
        # What `serve` passes when the key and tokens come from the credential store: the settings'
        # secrets only (here the client secret and the HTTP token), not the Paymo key or any token.
        return open_runtime(
            connection, policy=policy, data_dir=data_dir, known_secrets=(client_secret, http_token)
        )

    server = build_server(factory, policy_path=policy_path)
    return Session(
        sandbox=sandbox,
        intuit=intuit,
        store=store,
        client_secret=client_secret,
        http_token=http_token,
        authorization_code=redirect.code,
        data_dir=data_dir,
        ledger_dir=ledger_dir,
        server=server,
    )


async def run_every_tool(session: Session, exposure: Exposure) -> None:
    """Every tool, with and without approval, through upstream faults and bad arguments."""
    qbo_faults, paymo_faults = session.sandbox.qbo.faults, session.sandbox.paymo.faults

    async with Client(session.server, elicitation_callback=accept) as client:

        async def call(tool: str, arguments: dict[str, Any]) -> CallToolResult:
            return exposure.add_result(tool, await client.call_tool(tool, arguments))

        await call("sync_status", {})
        await call("reconciliation_report", PERIOD)
        await call("find_client_match", {"paymo_client_id": seed.ACME, "dry_run": True})
        await call("find_client_match", {"paymo_client_id": seed.ACME})
        await call("find_client_match", {"paymo_client_id": seed.UMBRELLA})
        # An hour passes: Intuit's access tokens expire and the next QBO call is answered 401.
        session.intuit.expire_access_tokens()
        await call("sync_invoice", {"paymo_invoice_id": INV_1035, "dry_run": True})
        await call("sync_invoice", {"paymo_invoice_id": INV_1035})
        await call("mark_paid", {"paymo_invoice_id": INV_1035})
        await call("push_expenses", PERIOD)
        await call("aggregate_time", PERIOD)
        await call("create_po_from_budget", {"paymo_project_id": seed.STARK_PROTOTYPE})
        await call(
            "create_po_from_budget", {"paymo_project_id": seed.STARK_PROTOTYPE, "kind": "purchase_order"}
        )
        await call("find_client_match", {"paymo_client_id": seed.STARK, "create_if_missing": True})

        # Upstream failures: a retried 500, then errors that reach the agent.
        qbo_faults.fail_next(1, status=500, method="GET")
        await call("reconciliation_report", PERIOD)
        qbo_faults.fail_next(2, status=503)
        await call("reconciliation_report", PERIOD)
        qbo_faults.fail_next(1, status=400, method="POST")
        await call("sync_invoice", {"paymo_invoice_id": INV_1039})
        qbo_faults.fail_next(2, status=401)
        await call("sync_invoice", {"paymo_invoice_id": INV_1041, "dry_run": True})
        qbo_faults.fail_next(1, status=429)
        await call("find_client_match", {"paymo_client_id": seed.HOOLI, "dry_run": True})
        paymo_faults.fail_next(1, status=401)
        await call("sync_invoice", {"paymo_invoice_id": INV_1041, "dry_run": True})
        paymo_faults.fail_next(2, status=500, method="GET")
        await call("push_expenses", {"expense_ids": [seed.EXPENSE_TRAVEL]})
        paymo_faults.fail_next(1, status=403)
        await call("find_client_match", {"paymo_client_id": seed.GLOBEX})

        # Bad arguments.
        await call("sync_invoice", {"paymo_invoice_id": 999999})
        await call("sync_invoice", {"paymo_invoice_id": "abc"})
        await call("mark_paid", {"direction": "both"})
        await call("push_expenses", {"date_from": "2026-11-30", "date_to": "2026-11-01"})
        await call("aggregate_time", {"date_from": "2026-11-01", "date_to": "2026-10-01"})
        await call("sync_invoice", {"paymo_invoice_id": INV_1040, "approval_id": "apr_ZZZZZZ"})
        await call("find_client_match", {"paymo_client_id": seed.WAYNE, "qbo_customer_id": "99999"})
        await call("no_such_tool", {})

        for uri in ("paymo-qb://policy", "paymo-qb://audit/recent", "paymo-qb://approvals/pending"):
            exposure.add(f"resource {uri}", (await client.read_resource(uri)).model_dump_json())

    # A client that cannot ask the human: the approval goes out of band, to the `approve` command.
    async with Client(session.server) as client:
        pending = exposure.add_result(
            "sync_invoice", await client.call_tool("sync_invoice", {"paymo_invoice_id": INV_1040})
        )
        assert pending.structured_content is not None
        approval_id = pending.structured_content["approval_id"]
        exposure.add(
            "resource paymo-qb://approvals/pending",
            (await client.read_resource("paymo-qb://approvals/pending")).model_dump_json(),
        )
        with ApprovalStore(session.data_dir) as approvals:
            approvals.approve(approval_id, "carol")
        exposure.add_result(
            "sync_invoice",
            await client.call_tool(
                "sync_invoice", {"paymo_invoice_id": INV_1040, "approval_id": approval_id}
            ),
        )
        exposure.add_result("sync_status", await client.call_tool("sync_status", {}))
        exposure.add(
            "resource paymo-qb://audit/recent",
            (await client.read_resource("paymo-qb://audit/recent")).model_dump_json(),
        )


async def test_a_whole_session_lets_no_secret_out(
    session: Session, every_log_record: pytest.LogCaptureFixture
) -> None:
    exposure = Exposure()
    await run_every_tool(session, exposure)
    exposure.add_logs(every_log_record.records)
    exposure.add_files(session.data_dir)
    exposure.add_files(session.ledger_dir)

    # The session really did what it claims, so an empty leak list means something.
    assert exposure.applied >= 5
    assert {"TRANSIENT", "AUTH", "REJECTED", "NOT_FOUND", "INPUT", "APPROVAL"} <= set(exposure.error_codes)
    assert session.intuit.token_calls("refresh_token") >= 2
    assert len({record.refresh_token for record in session.store.saved}) >= 3
    logged_by = {record.name for record in every_log_record.records}
    assert {"httpx", "paymo_qb_mcp.net.http"} <= logged_by
    assert (session.data_dir / "audit.jsonl").stat().st_size > 0
    assert any((session.data_dir / "approvals").iterdir())

    assert exposure.leaks(session.secret_values()) == []


def test_the_leak_finder_sees_a_secret_wherever_it_went(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    secret = f"cs-{secrets.token_hex(20)}"
    caplog.set_level(logging.DEBUG)
    try:
        raise RuntimeError(f"refresh failed with {secret}")
    except RuntimeError:
        logging.getLogger("paymo_qb_mcp.anything").debug("refreshing", exc_info=True)
    logging.getLogger("httpx").info("HTTP Request: %s %s", "GET", f"https://h/?k={secret}")
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / "db.sqlite").write_bytes(b"\x00\x01" + secret.encode() + b"\xff")
    exposure = Exposure()
    exposure.add_logs(caplog.records)
    exposure.add_files(tmp_path)
    result = CallToolResult(content=[], structured_content={"note": secret}, is_error=False)
    exposure.add_result("sync_status", result)
    found = set(exposure.leaks({"secret": secret}))
    assert {
        "secret in log paymo_qb_mcp.anything",
        "secret in log httpx",
        f"secret in file {tmp_path.name}/nested/db.sqlite",
        "secret in structured result of sync_status",
    } <= found
    basic = base64.b64encode(b"5c2a1e7b94d04f3e8a61b7d2c9f0e4a8:X").decode()
    forms = secret_forms("paymo api key", "5c2a1e7b94d04f3e8a61b7d2c9f0e4a8", basic_password="X")
    assert forms["paymo api key as Basic credentials"] == basic
