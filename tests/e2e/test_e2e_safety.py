"""Idempotency and crash safety at the tool level, for every write tool: called twice in a row, the second
call writes nothing; when QuickBooks (or Paymo) applied a write but its answer was lost and the client
gave up, the tool reports an error and calling it again leaves exactly one record — found by requestid
replay or by its marker, never created twice. Counts are read over both APIs before and after."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from e2e_support import E2eEnv, call, call_error, e2e_env, limit_retries, paymo_client
from mcp import Client

from paymo_qb_mcp.quickbooks import models as qbo
from paymo_qb_mcp.sandbox.paymo import seed

OCTOBER_1, NOVEMBER_30 = dt.date(2026, 10, 1), dt.date(2026, 11, 30)
QBO_MODELS: tuple[type[qbo.QboEntity], ...] = (
    qbo.Customer,
    qbo.Employee,
    qbo.Vendor,
    qbo.Invoice,
    qbo.Payment,
    qbo.Purchase,
    qbo.Bill,
    qbo.TimeActivity,
    qbo.Estimate,
    qbo.PurchaseOrder,
)


async def record_counts(env: E2eEnv) -> dict[str, int]:
    """How many records of each kind both systems hold, read over their APIs."""
    counts = {model.entity_name: len(await env.qbo_all(model)) for model in QBO_MODELS}
    async with paymo_client(env.server_env) as paymo:
        counts["paymo invoice payments"] = len(await paymo.list_invoice_payments())
        counts["paymo clients"] = len(await paymo.list_clients())
        counts["paymo billed entries"] = sum(1 for e in await paymo.list_time_entries() if e.billed)
        counts["paymo invoiced expenses"] = sum(1 for e in await paymo.list_expenses() if e.invoiced)
    return counts


def grown(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {kind: after[kind] - before[kind] for kind in after if after[kind] != before[kind]}


Setup = Callable[[Client, E2eEnv], Awaitable[None]]


async def nothing(client: Client, env: E2eEnv) -> None:
    return None


async def sync_acme_invoice(client: Client, env: E2eEnv) -> None:
    await call(client, "sync_invoice", paymo_invoice_id=seed.INVOICE_IDS["INV-2026-1035"])


async def sync_smith_invoice_and_receive_in_quickbooks(client: Client, env: E2eEnv) -> None:
    out = await call(client, "sync_invoice", paymo_invoice_id=seed.INVOICE_IDS["INV-2026-1039"])
    invoice = await env.qbo_read(qbo.Invoice, out["qbo_invoice_id"])
    assert invoice.CustomerRef is not None
    payment = qbo.Payment(
        CustomerRef=qbo.Ref(value=invoice.CustomerRef.value),
        TotalAmt=Decimal("300.00"),
        TxnDate=dt.date(2026, 11, 12),
        Line=[
            qbo.Line(
                Amount=Decimal("300.00"), LinkedTxn=[qbo.LinkedTxn(TxnId=str(invoice.Id), TxnType="Invoice")]
            )
        ],
    )
    await env.qbo_create(payment, request_id=str(uuid.uuid4()))


async def add_chloe(client: Client, env: E2eEnv) -> None:
    employee = qbo.Employee.model_validate(
        {"DisplayName": "Chloé Gagnon", "GivenName": "Chloé", "FamilyName": "Gagnon"}
    )
    await env.qbo_create(employee, request_id="bookkeeper-adds-chloe")


@dataclass(frozen=True)
class Scenario:
    """One write tool, what must exist first, and what its first successful call adds to each system."""

    name: str
    tool: str
    arguments: dict[str, Any]
    creates: dict[str, int]
    setup: Setup = nothing
    # The request whose answer is lost: (service, HTTP method, a piece of its path).
    lost: tuple[str, str, str] = ("qbo", "POST", "")
    policy: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.name


SCENARIOS = (
    Scenario(
        "find_client_match creates a customer",
        "find_client_match",
        {"paymo_client_id": seed.STARK, "create_if_missing": True},
        {"Customer": 1},
        lost=("qbo", "POST", "/customer"),
    ),
    Scenario(
        "sync_invoice creates an invoice",
        "sync_invoice",
        {"paymo_invoice_id": seed.INVOICE_IDS["INV-2026-1039"]},
        {"Invoice": 1},
        lost=("qbo", "POST", "/invoice"),
    ),
    Scenario(
        "mark_paid copies a Paymo payment to QuickBooks",
        "mark_paid",
        {"paymo_invoice_id": seed.INVOICE_IDS["INV-2026-1035"], "direction": "to_quickbooks"},
        {"Payment": 1},
        setup=sync_acme_invoice,
        lost=("qbo", "POST", "/payment"),
    ),
    Scenario(
        "mark_paid copies a QuickBooks payment to Paymo",
        "mark_paid",
        {"paymo_invoice_id": seed.INVOICE_IDS["INV-2026-1039"], "direction": "to_paymo"},
        {"paymo invoice payments": 1},
        setup=sync_smith_invoice_and_receive_in_quickbooks,
        lost=("paymo", "POST", "/invoicepayments"),
    ),
    Scenario(
        "push_expenses creates purchases",
        "push_expenses",
        {"expense_ids": [seed.EXPENSE_SOFTWARE, seed.EXPENSE_TRAVEL]},
        {"Purchase": 2, "Customer": 1},  # the Travel expense is Stark's, who has no customer yet
        lost=("qbo", "POST", "/purchase"),
    ),
    Scenario(
        "push_expenses creates bills",
        "push_expenses",
        {"expense_ids": [seed.EXPENSE_MILEAGE]},
        {"Bill": 1},
        lost=("qbo", "POST", "/bill"),
        policy={"expense_target": {"type": "bill", "vendor": {"id": "3", "name": "Adobe"}}},
    ),
    Scenario(
        "aggregate_time creates time activities",
        "aggregate_time",
        {"date_from": OCTOBER_1, "date_to": NOVEMBER_30},
        {"TimeActivity": 7},  # per client, project and user (and rate)
        setup=add_chloe,
        lost=("qbo", "POST", "/batch"),  # the seven go to QBO in one batch request
    ),
    Scenario(
        "aggregate_time creates draft invoices",
        "aggregate_time",
        {"date_from": OCTOBER_1, "date_to": NOVEMBER_30, "target": "invoice_lines"},
        {"Invoice": 3},
        lost=("qbo", "POST", "/batch"),  # one draft invoice per client, in one batch request
    ),
    Scenario(
        "create_po_from_budget creates an estimate",
        "create_po_from_budget",
        {"paymo_project_id": seed.ACME_WEBSITE, "kind": "estimate"},
        {"Estimate": 1},
        lost=("qbo", "POST", "/estimate"),
    ),
    Scenario(
        "create_po_from_budget creates a purchase order",
        "create_po_from_budget",
        {"paymo_project_id": seed.STARK_PROTOTYPE, "kind": "purchase_order"},
        {"PurchaseOrder": 1},
        lost=("qbo", "POST", "/purchaseorder"),
    ),
)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
async def test_every_write_tool_called_twice_in_a_row_writes_once(tmp_path: Path, scenario: Scenario) -> None:
    env = e2e_env(tmp_path, mappings=scenario.policy)
    async with env.client() as client:
        await scenario.setup(client, env)
        baseline = await record_counts(env)
        first = await call(client, scenario.tool, **scenario.arguments)
        after_first = await record_counts(env)
        audit_size = len(env.audit())
        second = await call(client, scenario.tool, **scenario.arguments)
        after_second = await record_counts(env)
    assert first["status"] == "applied", first
    assert grown(baseline, after_first) == scenario.creates
    assert second["status"] == "unchanged", second
    assert after_second == after_first
    assert env.writes(since=audit_size) == []


@pytest.mark.parametrize("retries", ["disabled", "exhausted"])
@pytest.mark.parametrize("scenario", SCENARIOS, ids=str)
async def test_a_lost_answer_is_an_error_and_calling_again_leaves_exactly_one_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scenario: Scenario, retries: str
) -> None:
    attempts = 1 if retries == "disabled" else 3
    limit_retries(monkeypatch, attempts)
    env = e2e_env(tmp_path, mappings=scenario.policy)
    service, method, path = scenario.lost
    emulator = env.sandbox.qbo if service == "qbo" else env.sandbox.paymo
    async with env.client() as client:
        await scenario.setup(client, env)
        baseline = await record_counts(env)
        # Every try of the request is applied (or replayed) upstream and answers 502 — the client gives
        # up after its last attempt without ever seeing the answer.
        emulator.faults.fail_next(attempts, status=502, method=method, path_contains=path, after_commit=True)
        error = await call_error(client, scenario.tool, **scenario.arguments)
        assert error.startswith("TRANSIENT: "), error
        assert "502" in error
        assert "Traceback" not in error
        [failed] = [e for e in env.audit() if e["event"] == "error" and e.get("outcome") == "failed"]
        if service == "qbo":
            # The upstream request id a support ticket needs is in the answer and in the audit log.
            tid = re.search(r"intuit_tid ([0-9a-f-]+)", error)
            assert tid is not None, error
            assert failed["upstream_request_ids"] == [tid.group(1)]
        emulator.faults.clear()

        audit_size = len(env.audit())
        again = await call(client, scenario.tool, **scenario.arguments)
        assert again["status"] == "applied", again
        # The record whose answer was lost is found again — by its marker at plan time (linked), by
        # requestid replay, or by its note in Paymo (recovered) — never created a second time.
        found_again = {"linked", "replayed", "recovered"}
        assert found_again & {w["outcome"] for w in env.writes(since=audit_size)}
        third = await call(client, scenario.tool, **scenario.arguments)
        assert third["status"] == "unchanged", third
    assert grown(baseline, await record_counts(env)) == scenario.creates
