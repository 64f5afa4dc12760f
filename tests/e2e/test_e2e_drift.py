"""Records changed after they were synced, as happens between two month ends: a bookkeeper edits the
QuickBooks copy, a Paymo user corrects a time entry or deletes a payment. What the tools do about it
must be visible — a change is never silently overwritten, lost or left unexplained."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from e2e_support import E2eEnv, Human, call, e2e_env, money, paymo_client, qbo_client
from mcp import Client

from paymo_qb_mcp.quickbooks.models import Invoice, Payment, Purchase
from paymo_qb_mcp.sandbox.paymo import seed

SMITH_1039 = seed.INVOICE_IDS["INV-2026-1039"]
ACME_1035 = seed.INVOICE_IDS["INV-2026-1035"]
OCTOBER_1, NOVEMBER_30 = dt.date(2026, 10, 1), dt.date(2026, 11, 30)
EXTENDED, PAYMO_DUE = dt.date(2027, 1, 15), dt.date(2026, 12, 2)  # INV-2026-1039's due date in each system
PUSHED_ENTRY = 40005  # Alice, 1 h of Smith & Sons strategy on 2026-11-03, billable and unbilled


async def test_a_changed_expense_updates_its_one_purchase(tmp_path: Path) -> None:
    env = e2e_env(tmp_path)
    async with env.client() as client:
        first = await call(client, "push_expenses", expense_ids=[seed.EXPENSE_SOFTWARE])
        [purchase_id] = [r["qbo_id"] for r in first["results"] if r["entity"] == "expense"]
        async with paymo_client(env.server_env) as paymo:
            await paymo.update_expense(seed.EXPENSE_SOFTWARE, {"amount": Decimal("80.00")})
        second = await call(client, "push_expenses", expense_ids=[seed.EXPENSE_SOFTWARE])
    assert second["status"] == "applied"
    assert [(r["action"], r["qbo_id"]) for r in second["results"]] == [("update", purchase_id)]
    [purchase] = await env.qbo_all(Purchase)
    assert (purchase.Id, purchase.TotalAmt) == (purchase_id, Decimal("80.00"))


async def test_time_entered_late_in_a_pushed_period_is_reported_and_pushed_once(tmp_path: Path) -> None:
    env = e2e_env(tmp_path)
    period = {"date_from": OCTOBER_1, "date_to": NOVEMBER_30, "target": "invoice_lines"}
    async with env.client() as client:
        await call(client, "aggregate_time", **period)
        async with paymo_client(env.server_env) as paymo:
            late = await paymo.get_time_entry(PUSHED_ENTRY)
        # Someone logs half an hour they forgot, on a day that was already pushed.
        created = await env.paymo_post(
            "entries",
            {"task_id": late.task_id, "user_id": late.user_id, "date": "2026-11-04", "duration": 1800},
        )
        report = await call(client, "reconciliation_report", date_from=OCTOBER_1, date_to=NOVEMBER_30)
        assert [(row["entries"], row["hours"]) for row in report["unbilled_time"]] == [(1, "0.50")]
        pushed = await call(client, "aggregate_time", **period)
        assert pushed["status"] == "applied"
        [draft] = [r["qbo_id"] for r in pushed["results"] if r["action"] == "create"]
        again = await call(client, "aggregate_time", **period)
        assert again["status"] == "unchanged"
        after = await call(client, "reconciliation_report", date_from=OCTOBER_1, date_to=NOVEMBER_30)
    assert after["unbilled_time"] == []
    invoice = await env.qbo_read(Invoice, draft)
    [line] = [line for line in invoice.Line or [] if line.SalesItemLineDetail is not None]
    assert line.SalesItemLineDetail is not None
    assert money(line.SalesItemLineDetail.Qty) == Decimal("0.50")
    assert str(created["id"]) in (invoice.PrivateNote or "")


async def _edit_in_quickbooks_then_in_paymo(env: E2eEnv, client: Client) -> str:
    """INV-2026-1039 synced; then its due date extended in QuickBooks and a quantity fixed in Paymo."""
    created = await call(client, "sync_invoice", paymo_invoice_id=SMITH_1039)
    async with qbo_client(env.server_env) as qbo:
        record = await qbo.read(Invoice, created["qbo_invoice_id"])
        # The client asked the bookkeeper for more time to pay.
        extended = Invoice(Id=record.Id, SyncToken=record.SyncToken, DueDate=EXTENDED)
        await qbo.update(extended, request_id="bookkeeper-extends-due-date")
    async with paymo_client(env.server_env) as paymo:
        # Meanwhile the account manager fixes a quantity in Paymo.
        invoice = await paymo.get_invoice(SMITH_1039, include=["invoiceitems"])
        items = sorted(invoice.invoiceitems or [], key=lambda item: item.seq or 0)
        await paymo.update_invoice(
            SMITH_1039,
            {"items": [{"id": items[0].id, "quantity": Decimal("3")}] + [{"id": i.id} for i in items[1:]]},
        )
    return str(created["qbo_invoice_id"])


def _first_quantity(record: Invoice) -> Decimal:
    detail = (record.Line or [])[0].SalesItemLineDetail
    assert detail is not None
    return money(detail.Qty)


async def test_a_bookkeepers_edit_in_quickbooks_is_not_silently_overwritten(tmp_path: Path) -> None:
    # Fixed bug: the re-sync overwrote the due date the bookkeeper had extended, with no finding or question.
    env = e2e_env(tmp_path)  # the policy allows this invoice (CAD 623.62) without a human
    async with env.client() as client:
        qbo_id = await _edit_in_quickbooks_then_in_paymo(env, client)
        asked_before, audit_size = len(env.human.seen), len(env.audit())
        resync = await call(client, "sync_invoice", paymo_invoice_id=SMITH_1039)
    record = await env.qbo_read(Invoice, qbo_id)
    flagged = [f for f in resync["findings"] if "DueDate" in f["message"] or "QuickBooks" in f["code"]]
    assert record.DueDate == EXTENDED or flagged, (record.DueDate, resync["findings"])
    # The update is still offered, but put to the human with what it would overwrite, although the policy
    # alone would have allowed it.
    [edited] = [f for f in resync["findings"] if f["code"] == "EDITED_IN_QUICKBOOKS"]
    assert edited["severity"] == "warning"
    assert "DueDate (QuickBooks: 2027-01-15, Paymo: 2026-12-02)" in edited["message"]
    [question] = env.human.seen[asked_before:]
    assert "EDITED_IN_QUICKBOOKS" in question.message
    assert "DueDate (QuickBooks: 2027-01-15, Paymo: 2026-12-02)" in question.message
    [decision] = [event for event in env.audit()[audit_size:] if event["event"] == "decision"]
    assert decision["decision"] == "confirm"
    assert "the default is allow, but a human must confirm" in decision["message"]
    # The human approved: Paymo's version is in QuickBooks, read back through its API.
    assert resync["status"] == "applied"
    assert (record.DueDate, _first_quantity(record)) == (PAYMO_DUE, Decimal("3"))


@pytest.mark.parametrize("answer", [Human("accept", approve=False), Human("decline")], ids=["no", "decline"])
async def test_a_human_who_declines_keeps_the_bookkeepers_edit(tmp_path: Path, answer: Human) -> None:
    env = e2e_env(tmp_path, human=answer)
    async with env.client() as client:
        qbo_id = await _edit_in_quickbooks_then_in_paymo(env, client)
        edited = await env.qbo_read(Invoice, qbo_id)
        audit_size = len(env.audit())
        resync = await call(client, "sync_invoice", paymo_invoice_id=SMITH_1039)
        again = await call(client, "sync_invoice", paymo_invoice_id=SMITH_1039, dry_run=True)
    assert resync["status"] == "declined"
    assert [f["code"] for f in resync["findings"] if f["code"] == "EDITED_IN_QUICKBOOKS"] == [
        "EDITED_IN_QUICKBOOKS"
    ]
    assert env.writes(since=audit_size) == []
    record = await env.qbo_read(Invoice, qbo_id)
    assert (record.DueDate, record.SyncToken, record.Line) == (EXTENDED, edited.SyncToken, edited.Line)
    assert _first_quantity(record) == Decimal("3.5")  # as first synced; Paymo's 3 was not pushed
    # Nothing was settled, so the next run asks again rather than overwriting.
    assert "EDITED_IN_QUICKBOOKS" in [f["code"] for f in again["findings"]]


async def test_without_elicitation_the_overwrite_waits_for_an_approval(tmp_path: Path) -> None:
    env = e2e_env(tmp_path)
    async with env.client() as client:
        qbo_id = await _edit_in_quickbooks_then_in_paymo(env, client)
    async with env.server_env.client() as client:  # a client that cannot ask the human
        pending = await call(client, "sync_invoice", paymo_invoice_id=SMITH_1039)
    assert pending["status"] == "pending_approval"
    assert "EDITED_IN_QUICKBOOKS" in [f["code"] for f in pending["findings"]]
    assert (await env.qbo_read(Invoice, qbo_id)).DueDate == EXTENDED
    with env.server_env.approvals() as approvals:
        # What `paymo-qb-mcp pending` and `approve` show the human says what the approval overwrites.
        [waiting] = approvals.list_pending()
        assert "EDITED_IN_QUICKBOOKS" in waiting.summary
        assert "DueDate (QuickBooks: 2027-01-15, Paymo: 2026-12-02)" in waiting.summary
        approvals.approve(pending["approval_id"], "bookkeeper")
    async with env.server_env.client() as client:
        applied = await call(
            client, "sync_invoice", paymo_invoice_id=SMITH_1039, approval_id=pending["approval_id"]
        )
    assert applied["status"] == "applied"
    assert (await env.qbo_read(Invoice, qbo_id)).DueDate == PAYMO_DUE


async def test_an_invoice_changed_in_quickbooks_is_explained_not_silently_skipped(tmp_path: Path) -> None:
    # Fixed bug: reconciliation_report listed total_differs, and sync_invoice answered a bare 'unchanged'.
    env = e2e_env(tmp_path)
    async with env.client() as client:
        created = await call(client, "sync_invoice", paymo_invoice_id=SMITH_1039)
        async with qbo_client(env.server_env) as qbo:
            record = await qbo.read(Invoice, created["qbo_invoice_id"])
            lines = [line for line in record.Line or [] if line.SalesItemLineDetail is not None]
            detail = lines[0].SalesItemLineDetail
            assert detail is not None
            lines[0] = lines[0].model_copy(
                update={
                    "Amount": Decimal("480.00"),
                    "SalesItemLineDetail": detail.model_copy(update={"Qty": Decimal(4)}),
                }
            )
            await qbo.update(
                Invoice(Id=record.Id, SyncToken=record.SyncToken, Line=lines),
                request_id="bookkeeper-adds-hour",
            )
        report = await call(client, "reconciliation_report", date_from=OCTOBER_1, date_to=NOVEMBER_30)
        assert [row["kind"] for row in report["invoices"] if row["paymo_invoice_id"] == SMITH_1039] == [
            "total_differs"
        ]
        audit_size = len(env.audit())
        resync = await call(client, "sync_invoice", paymo_invoice_id=SMITH_1039)
    # Paymo's invoice did not change: nothing is written, and the answer says why the totals differ.
    assert resync["status"] == "unchanged"
    assert [(f["severity"], f["code"]) for f in resync["findings"]] == [("warning", "CHANGED_IN_QUICKBOOKS")]
    assert "692.61" in resync["findings"][0]["message"]
    assert "623.62" in resync["findings"][0]["message"]
    assert env.writes(since=audit_size) == []
    assert (await env.qbo_read(Invoice, created["qbo_invoice_id"])).TotalAmt == Decimal("692.61")


async def test_an_invoice_voided_in_quickbooks_is_explained_not_silently_skipped(tmp_path: Path) -> None:
    env = e2e_env(tmp_path)
    async with env.client() as client:
        created = await call(client, "sync_invoice", paymo_invoice_id=SMITH_1039)
        async with qbo_client(env.server_env) as qbo:
            record = await qbo.read(Invoice, created["qbo_invoice_id"])
            await qbo.void(Invoice, str(record.Id), str(record.SyncToken), request_id="bookkeeper-voids")
        resync = await call(client, "sync_invoice", paymo_invoice_id=SMITH_1039)
    assert resync["status"] == "unchanged"
    assert [f["code"] for f in resync["findings"]] == ["VOIDED_IN_QUICKBOOKS"]
    assert (await env.qbo_read(Invoice, created["qbo_invoice_id"])).TotalAmt == 0


async def test_time_added_to_an_entry_after_its_push_is_not_silently_lost(tmp_path: Path) -> None:
    # Fixed bug: the done-marker recorded only the QBO id, so aggregate_time answered 'unchanged' and the
    # report listed nothing — the extra billable hour was silently never billed.
    env = e2e_env(tmp_path)
    period = {"date_from": OCTOBER_1, "date_to": NOVEMBER_30, "target": "invoice_lines"}
    async with env.client() as client:
        await call(client, "aggregate_time", **period)
        async with paymo_client(env.server_env) as paymo:
            entry = await paymo.get_time_entry(PUSHED_ENTRY)
            assert entry.duration == 3600
            await paymo.update_time_entry(PUSHED_ENTRY, {"duration": 7200})  # it was two hours, not one
        report = await call(client, "reconciliation_report", date_from=OCTOBER_1, date_to=NOVEMBER_30)
        assert [(row["entries"], row["hours"]) for row in report["unbilled_time"]] == [(1, "1.00")]
        again = await call(client, "aggregate_time", **period)
        third = await call(client, "aggregate_time", **period)
        after = await call(client, "reconciliation_report", date_from=OCTOBER_1, date_to=NOVEMBER_30)
    assert again["status"] == "applied"
    [draft] = [r["qbo_id"] for r in again["results"] if r["action"] == "create"]
    [told] = [f for f in again["findings"] if f["code"] == "TIME_EXTENDED_AFTER_PUSH"]
    assert told["severity"] == "info"
    assert str(PUSHED_ENTRY) in told["message"]
    assert "1.00 h" in told["message"]
    # Exactly the added hour, once: a further run writes nothing and the report is clear.
    invoice = await env.qbo_read(Invoice, draft)
    [line] = [line for line in invoice.Line or [] if line.SalesItemLineDetail is not None]
    assert line.SalesItemLineDetail is not None
    assert money(line.SalesItemLineDetail.Qty) == Decimal("1.00")
    assert str(PUSHED_ENTRY) in (line.Description or "")
    assert third["status"] == "unchanged"
    assert [f["code"] for f in third["findings"] if "AFTER_PUSH" in f["code"]] == []
    assert after["unbilled_time"] == []


async def test_time_removed_from_an_entry_after_its_push_is_reported_not_taken_back(tmp_path: Path) -> None:
    env = e2e_env(tmp_path)
    period = {"date_from": OCTOBER_1, "date_to": NOVEMBER_30, "target": "invoice_lines"}
    async with env.client() as client:
        await call(client, "aggregate_time", **period)
        async with paymo_client(env.server_env) as paymo:
            await paymo.update_time_entry(PUSHED_ENTRY, {"duration": 1800})  # only half an hour after all
        audit_size = len(env.audit())
        again = await call(client, "aggregate_time", **period)
    assert again["status"] == "unchanged"
    assert env.writes(since=audit_size) == []
    [warned] = [f for f in again["findings"] if f["code"] == "TIME_REDUCED_AFTER_PUSH"]
    assert warned["severity"] == "warning"
    assert str(PUSHED_ENTRY) in warned["message"]
    assert "0.50 h" in warned["message"]


async def test_a_payment_deleted_in_paymo_after_its_push_is_flagged_by_mark_paid(tmp_path: Path) -> None:
    env = e2e_env(tmp_path)
    async with env.client() as client:
        await call(client, "sync_invoice", paymo_invoice_id=ACME_1035)
        await call(client, "mark_paid", paymo_invoice_id=ACME_1035)
        async with paymo_client(env.server_env) as paymo:
            await paymo.delete_invoice_payment(seed.PAYMENT_IDS[0])  # entered on the wrong invoice
        audit_size = len(env.audit())
        again = await call(client, "mark_paid", paymo_invoice_id=ACME_1035)
        report = await call(client, "reconciliation_report", date_from=OCTOBER_1, date_to=NOVEMBER_30)
    # Fixed bug: this was a bare 'unchanged'. Nothing is written (which side is right is a human's call),
    # and both the tool and the report say what happened.
    assert again["status"] == "unchanged"
    assert env.writes(since=audit_size) == []
    [finding] = again["findings"]
    assert (finding["severity"], finding["code"]) == ("warning", "PUSHED_PAYMENT_DELETED")
    assert str(seed.PAYMENT_IDS[0]) in finding["message"]
    assert [
        (row["kind"], row["paymo_payment_id"])
        for row in report["payments"]
        if row["kind"] != "balance_differs"
    ] == [("only_in_quickbooks", seed.PAYMENT_IDS[0])]
    [gone] = [row for row in report["payments"] if row["kind"] == "only_in_quickbooks"]
    assert "void it in QuickBooks" in gone["note"]
    [qbo_payment] = await env.qbo_all(Payment)
    assert qbo_payment.TotalAmt == Decimal("2035.81")  # still there: nothing was undone unasked
