"""The audit log's write-ahead (server.write_audit): intents durable before the request, outcomes after, and
a start that finds intents without outcomes appends what the ledger shows — once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from paymo_qb_mcp.domain.plan import Change
from paymo_qb_mcp.server.write_audit import AuditedWrites, settle_open_intents, write_key
from paymo_qb_mcp.store.audit import AuditLog
from paymo_qb_mcp.store.ledger import Ledger
from paymo_qb_mcp.sync.writes import AppliedChange

PLAN = "f" * 64


def invoice(paymo_id: int) -> Change:
    return Change(
        action="create",
        entity="invoice",
        paymo_id=paymo_id,
        summary=f"Create invoice {paymo_id}",
        link_kind="invoice",
        wire_entity="Invoice",
        payload={"DocNumber": str(paymo_id)},
        content_hash="c",
    )


def paymo_payment(done_key: str) -> Change:
    return Change(
        action="create",
        entity="payment",
        paymo_id=done_key,
        summary="Record a payment in Paymo",
        target="paymo",
        link_kind="payment_to_paymo",
        wire_entity="invoicepayments",
        lookup={"done_key": done_key, "marker": "qbo:payment:9"},
        payload={"invoice_id": 1, "amount": 10},
    )


async def test_an_intent_is_durable_before_the_request_and_the_outcome_follows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    audit = AuditLog.in_data_dir(tmp_path)
    audit.append("tool_call", tool="sync_invoice")  # the log exists (creating it also syncs its folder)
    fsyncs: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (fsyncs.append(fd), real(fd))[1])
    with audit.group() as group:
        writes = AuditedWrites(group, tool="sync_invoice", plan_hash=PLAN, approval=None)
        await writes.intend([invoice(1), invoice(2)])
        assert [e["event"] for e in audit.tail(5)][-2:] == ["write_intent", "write_intent"]
        assert len(fsyncs) == 2  # one group: the log and the head
        await writes.done([AppliedChange(invoice(1), "created", qbo_id="41", paymo_id="1")])
        assert (
            audit.tail(1)[0]["event"] == "write_intent"
        )  # the outcome is written with the call's last group
    last = audit.tail(1)[0]
    assert last["event"] == "write"
    assert last["ids"] == {"paymo": "1", "quickbooks": "41", "entity": "invoice"}
    assert last["details"]["write"] == write_key(PLAN, invoice(1))


def test_a_start_appends_what_the_ledger_shows_for_each_open_intent_and_only_once(tmp_path: Path) -> None:
    audit = AuditLog.in_data_dir(tmp_path)
    with Ledger(tmp_path) as ledger:
        changes = [invoice(1), invoice(2), invoice(3), invoice(4), paymo_payment("9:1")]
        for change in changes:
            audit.append(
                "write_intent",
                tool="sync_invoice",
                plan_hash=PLAN,
                ids={
                    "entity": change.entity,
                    "kind": change.link_kind,
                    "target": change.target,
                    "paymo": str(change.paymo_id),
                    "done_key": (change.lookup or {}).get("done_key"),
                },
                details={"write": write_key(PLAN, change)},
            )
        # 1: written and linked before the crash; 2: sent, answer never linked (intent still pending);
        # 3: never sent; 4: its outcome reached the audit log; the Paymo payment was recorded.
        ledger.save_link("invoice", 1, "41", sync_token="0", content_hash="c", origin="ours")
        ledger.record_intent("invoice", 2, "rid-2", "c")
        audit.append(
            "write",
            tool="sync_invoice",
            plan_hash=PLAN,
            outcome="created",
            details={"write": write_key(PLAN, changes[3])},
        )
        ledger.mark_done("payment_to_paymo", "9:1", "58077")

        assert settle_open_intents(audit, ledger) == 4
        assert settle_open_intents(audit, ledger) == 0  # the mark: the next start looks no further back

    recovered = {e["ids"]["paymo"]: e for e in audit.tail(20) if e["event"] == "write_recovered"}
    assert {key: entry["outcome"] for key, entry in recovered.items()} == {
        "1": "written",
        "2": "unconfirmed",
        "3": "absent",
        "58077": "written",
    }
    assert recovered["1"]["ids"]["quickbooks"] == "41"
    assert [e["event"] for e in audit.tail(20)].count("intents_settled") == 2
    assert audit.verify().ok


def paymo_copy(qbo_payment: str, invoice_id: int) -> Change:
    """A QuickBooks payment copied to Paymo as mark_paid plans it: no Paymo id, a done-marker."""
    return Change(
        action="create",
        entity="payment",
        summary=f"Record QuickBooks payment {qbo_payment} in Paymo",
        target="paymo",
        link_kind="payment_to_paymo",
        wire_entity="invoicepayments",
        qbo_id=qbo_payment,
        lookup={"done_key": f"{qbo_payment}:{invoice_id}", "marker": f"qbo:payment:{qbo_payment}"},
        payload={"invoice_id": invoice_id, "amount": 10},
    )


def test_two_paymo_payments_of_one_plan_keep_their_own_intents(tmp_path: Path) -> None:
    first, second = paymo_copy("101", 1), paymo_copy("102", 2)
    assert write_key(PLAN, first) != write_key(PLAN, second)

    audit = AuditLog.in_data_dir(tmp_path)
    with Ledger(tmp_path) as ledger:
        for change in (first, second):
            audit.append(
                "write_intent",
                tool="mark_paid",
                plan_hash=PLAN,
                ids={
                    "entity": "payment",
                    "kind": change.link_kind,
                    "target": "paymo",
                    "paymo": None,
                    "done_key": (change.lookup or {})["done_key"],
                },
                details={"write": write_key(PLAN, change)},
            )
        # The first one's outcome reached the log; the process died while the second was on its way,
        # after Paymo had recorded it.
        audit.append(
            "write",
            tool="mark_paid",
            plan_hash=PLAN,
            outcome="created",
            details={"write": write_key(PLAN, first)},
        )
        ledger.mark_done("payment_to_paymo", "102:2", "58090")

        assert settle_open_intents(audit, ledger) == 1

    [recovered] = [e for e in audit.tail(10) if e["event"] == "write_recovered"]
    assert (recovered["outcome"], recovered["ids"]["paymo"], recovered["ids"]["done_key"]) == (
        "written",
        "58090",
        "102:2",
    )


def invoice_update(paymo_id: int, sync_token: str) -> Change:
    return Change(
        action="update",
        entity="invoice",
        paymo_id=paymo_id,
        qbo_id=f"4{paymo_id}",
        sync_token=sync_token,
        summary=f"Update invoice {paymo_id}",
        link_kind="invoice",
        wire_entity="Invoice",
        payload={"PrivateNote": "x"},
        content_hash="d",
    )


async def test_a_call_stopped_by_an_error_settles_its_own_open_intents_from_the_ledger(
    tmp_path: Path,
) -> None:
    audit = AuditLog.in_data_dir(tmp_path)
    with Ledger(tmp_path) as ledger, audit.group() as group:
        writes = AuditedWrites(group, tool="sync_invoice", plan_hash=PLAN, approval=None)
        changes = [
            invoice(1),  # linked: the batch reached QBO before the error
            invoice(2),  # its intent is pending in the ledger: sent, answer never seen
            invoice(3),  # never sent
            invoice_update(4, "3"),  # went out: the link has the SyncToken QBO answered with
            invoice_update(5, "3"),  # did not: the link still has the plan's SyncToken
            paymo_copy("101", 6),  # no done-marker: its answer may have been lost
            invoice(7),  # its outcome came before the error
        ]
        await writes.intend(changes)
        ledger.save_link("invoice", 1, "41", sync_token="0", content_hash="c", origin="ours")
        ledger.record_intent("invoice", 2, "rid-2", "c")
        ledger.save_link("invoice", 4, "44", sync_token="4", content_hash="d", origin="ours")
        ledger.save_link("invoice", 5, "45", sync_token="3", content_hash="c", origin="ours")
        await writes.done([AppliedChange(invoice(7), "created", qbo_id="47", paymo_id="7")])

        assert writes.settle(ledger, "TRANSIENT") == 6
        assert writes.settle(ledger, "TRANSIENT") == 0
        group.flush()  # as when the call's group closes
        with Ledger(tmp_path / "other") as fresh:
            assert settle_open_intents(audit, fresh) == 0  # nothing is left for the next start

    recovered = [e for e in audit.tail(30) if e["event"] == "write_recovered"]
    assert [(e["ids"]["paymo"], e["outcome"], e["ids"]["quickbooks"]) for e in recovered] == [
        ("1", "written", "41"),
        ("2", "unconfirmed", None),
        ("3", "absent", None),
        ("4", "written", "44"),
        ("5", "unconfirmed", "45"),
        (None, "unconfirmed", "101"),
    ]
    assert all("stopped on an error (TRANSIENT)" in e["message"] for e in recovered)
