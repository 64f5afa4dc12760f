"""Plans: typed changes, findings, totals, summaries and the content hash an approval binds to."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from pydantic import ValidationError

from paymo_qb_mcp.domain.plan import Change, Finding, FindingList, Plan, compute_plan_hash, summarize_plan
from paymo_qb_mcp.errors import InputError


def invoice_change(total: str = "5089.52", summary: str = "Create invoice INV-2026-1035") -> Change:
    return Change(
        action="create",
        entity="invoice",
        paymo_id=1035,
        after={"TotalAmt": Decimal(total)},
        payload={
            "DocNumber": "INV-2026-1035",
            "TxnDate": dt.date(2026, 11, 2),
            "Line": [{"Amount": Decimal("3000.00")}],
        },
        summary=summary,
        reason="not in QuickBooks yet",
    )


def customer_skip() -> Change:
    return Change(
        action="skip", entity="customer", paymo_id=1, qbo_id="58", summary="ACME Corp. already linked"
    )


def test_build_quantizes_totals_and_summarises() -> None:
    plan = Plan.build(
        "sync_invoice",
        [invoice_change(), customer_skip()],
        totals={"CAD": Decimal("5089.5200"), "US$": Decimal("12")},
        findings=[Finding(severity="warning", code="TAX_OVERRIDE", message="GST forced to 219.38")],
    )
    assert plan.totals == {"CAD": "5089.52", "USD": "12.00"}
    assert plan.summary == (
        "sync_invoice: 1 create, 1 skip (invoice ×1). Totals: CAD 5,089.52; USD 12.00. 1 warning."
    )
    assert plan.counts() == {"create": 1, "skip": 1}
    assert [change.entity for change in plan.writes] == ["invoice"]
    assert not plan.blocked
    assert not plan.is_noop
    assert len(plan.plan_hash) == 64


def test_hash_ignores_prose_and_findings_but_not_writes() -> None:
    base = Plan.build("sync_invoice", [invoice_change()], totals={"CAD": Decimal("5089.52")})
    reworded = Plan.build(
        "sync_invoice",
        [invoice_change(summary="Create INV-2026-1035 for ACME")],
        totals={"CAD": Decimal("5089.520")},
        findings=[Finding(severity="info", code="X", message="note")],
        summary="A human wording",
    )
    assert reworded.plan_hash == base.plan_hash
    assert (
        Plan.build("sync_invoice", [invoice_change("5089.53")]).plan_hash
        != Plan.build("sync_invoice", [invoice_change()]).plan_hash
    )
    assert (
        Plan.build("sync_payment", [invoice_change()]).plan_hash
        != Plan.build("sync_invoice", [invoice_change()]).plan_hash
    )
    assert base.plan_hash == compute_plan_hash("sync_invoice", base.changes, base.totals)


def test_blocker_blocks_and_is_named_in_the_summary() -> None:
    plan = Plan.build(
        "sync_invoice",
        [invoice_change()],
        findings=[
            Finding(severity="blocker", code="CLOSED_PERIOD", message="2025-12-15 is before the book close")
        ],
    )
    assert plan.blocked
    assert "Blocked (1): 2025-12-15 is before the book close." in plan.summary


def test_finding_list_shorthands_set_the_severity_and_tell_which_records_are_blocked() -> None:
    findings = FindingList()
    findings.inform("AUTO_NUMBERED", "QuickBooks numbers invoices itself")
    findings.warn("DOCNUMBER_ALTERED", "shortened", "paymo:invoice:1")
    assert not findings.blocked
    findings.block("CLOSED_PERIOD", "in the closed books", "paymo:invoice:2")
    assert [(f.severity, f.code, f.record) for f in findings] == [
        ("info", "AUTO_NUMBERED", None),
        ("warning", "DOCNUMBER_ALTERED", "paymo:invoice:1"),
        ("blocker", "CLOSED_PERIOD", "paymo:invoice:2"),
    ]
    assert findings.blocked
    assert findings.blocks("paymo:invoice:2")
    assert not findings.blocks("paymo:invoice:1")
    assert Plan.build("sync_invoice", [], findings=findings).blocked


def test_empty_plan_is_a_noop() -> None:
    plan = Plan.build("reconcile", [])
    assert plan.is_noop
    assert plan.summary == "reconcile: nothing to do."


def test_json_round_trip_keeps_the_hash_and_tampering_is_detected() -> None:
    plan = Plan.build("sync_invoice", [invoice_change(), customer_skip()], totals={"CAD": Decimal("5089.52")})
    text = plan.to_json()
    assert '"TotalAmt":5089.52' in text  # Decimals stay numbers
    restored = Plan.from_json(text)
    assert restored.plan_hash == plan.plan_hash
    with pytest.raises(ValidationError, match="plan_hash does not match"):
        Plan.from_json(text.replace("5089.52", "5089.53"))


def test_changes_and_findings_are_closed_vocabularies() -> None:
    with pytest.raises(ValidationError):
        Change(action="upsert", entity="invoice", summary="x")
    with pytest.raises(ValidationError):
        Finding(severity="fatal", code="X", message="x")
    with pytest.raises(ValidationError):
        Change(action="create", entity="invoice", summary="x", surprise=1)  # type: ignore[call-arg]


def test_totals_reject_unknown_currencies() -> None:
    with pytest.raises(InputError):
        Plan.build("sync_invoice", [], totals={"XYZ": Decimal("1")})


def test_summarize_plan_pluralises_and_sorts_entities() -> None:
    changes = [
        Change(action="update", entity="invoice", summary="a"),
        Change(action="update", entity="invoice", summary="b"),
        Change(action="link", entity="customer", summary="c"),
    ]
    assert (
        summarize_plan("sync_all", changes, {}, [])
        == "sync_all: 2 updates, 1 link (customer ×1, invoice ×2)."
    )


def test_how_a_change_is_applied_is_part_of_the_hash() -> None:
    update = Change(action="update", entity="invoice", qbo_id="130", sync_token="3", summary="Update INV-7")
    stale = update.model_copy(update={"sync_token": "4"})
    other_target = update.model_copy(update={"target": "paymo"})
    hashes = {Plan.build("sync_invoice", [change]).plan_hash for change in (update, stale, other_target)}
    assert len(hashes) == 3


def test_a_change_names_its_record_by_paymo_id_else_done_marker_else_content() -> None:
    def paymo_copy(done_key: str | None, amount: int = 10) -> Change:
        return Change(
            action="create",
            entity="payment",
            summary="Record a QuickBooks payment in Paymo",
            target="paymo",
            link_kind="payment_to_paymo",
            lookup={"done_key": done_key} if done_key else None,
            payload={"amount": amount},
        )

    assert Change(action="create", entity="invoice", paymo_id=50001, summary="x").record_key == "50001"
    assert paymo_copy("101:5").record_key == "done:101:5"
    assert paymo_copy("101:5").record_key != paymo_copy("102:6").record_key
    assert paymo_copy(None).record_key.startswith("content:")
    assert paymo_copy(None).record_key == paymo_copy(None).record_key != paymo_copy(None, 20).record_key
