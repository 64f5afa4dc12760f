"""A call that stops on a service error still tells the agent and the audit log the truth: a read that runs
out of retries while the company data is read side by side ends the call as TRANSIENT (not INTERNAL), and
a batch written just before the error is audited by that call, not at the next start."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from e2e_support import call_error, e2e_env, limit_retries

from paymo_qb_mcp.errors import Transient
from paymo_qb_mcp.quickbooks.models import Customer, Invoice
from paymo_qb_mcp.sandbox.paymo import seed
from paymo_qb_mcp.sync import batches

INVOICES = [seed.INVOICE_IDS[number] for number in ("INV-2026-1037", "INV-2026-1039", "INV-2026-1041")]


async def test_a_read_that_runs_out_of_retries_beside_others_is_transient(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit_retries(monkeypatch, 2)
    env = e2e_env(tmp_path)
    # QuickBooks is down: the period's invoices and the company's lists are read side by side.
    env.sandbox.qbo.faults.error_rate = 1.0
    async with env.client() as client:
        text = await call_error(client, "sync_invoice", date_from="2026-10-01", date_to="2026-11-30")
        assert text.startswith("TRANSIENT: QuickBooks"), text
        env.sandbox.qbo.faults.clear()
        again = await client.call_tool("sync_invoice", {"paymo_invoice_ids": INVOICES[:1]})
        assert not again.is_error


async def test_a_batch_written_before_the_call_stopped_is_audited_by_that_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def read_back_runs_out_of_retries(*args: Any, **kwargs: Any) -> Any:
        raise Transient("QuickBooks query Invoice failed: 503 (after 5 attempts)", service="quickbooks")

    monkeypatch.setattr(batches.BatchWriter, "_read_back", read_back_runs_out_of_retries)
    env = e2e_env(tmp_path)

    async def records() -> set[tuple[str, str]]:
        return {
            (model.entity_name, str(record.Id))
            for model in (Invoice, Customer)
            for record in await env.qbo_all(model)
        }

    before = await records()
    async with env.client() as client:
        text = await call_error(client, "sync_invoice", paymo_invoice_ids=INVOICES)
        assert text.startswith("TRANSIENT: "), text

    # The first wave's batch: two invoices and the customer the third one needs (which never went out).
    written = await records() - before
    assert sorted(entity for entity, _ in written) == ["Customer", "Invoice", "Invoice"]
    audit = env.audit()
    recovered = [entry for entry in audit if entry["event"] == "write_recovered"]
    named = {
        ("Customer" if entry["ids"]["entity"] == "customer" else "Invoice", str(entry["ids"]["quickbooks"]))
        for entry in recovered
        if entry["outcome"] == "written"
    }
    assert written == named
    assert all("TRANSIENT" in entry["message"] for entry in recovered)
    # Each intent of the call has its outcome, so a later start has nothing left to settle.
    keys = [entry["details"]["write"] for entry in audit if entry["event"] == "write_intent"]
    closed = {entry["details"]["write"] for entry in audit if entry["event"] in ("write", "write_recovered")}
    assert set(keys) <= closed
