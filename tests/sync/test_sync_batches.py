"""Many writes at once (sync.batches): dependency waves, batch requests of at most 30 items, a refusal that
fails one item alone, and a crash in the middle of a batch healed by the next run — each Paymo invoice
ends with exactly one QuickBooks invoice."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from paymo_qb_mcp.config.policy import load_policy
from paymo_qb_mcp.domain.plan import Change
from paymo_qb_mcp.net.ratelimit import UnlimitedLimiter
from paymo_qb_mcp.paymo.client import PaymoClient
from paymo_qb_mcp.quickbooks.client import QboClient
from paymo_qb_mcp.quickbooks.models import Invoice
from paymo_qb_mcp.quickbooks.tokens import StaticTokenProvider
from paymo_qb_mcp.sandbox import Sandbox
from paymo_qb_mcp.store.ledger import Ledger
from paymo_qb_mcp.sync.batches import dependency_waves
from paymo_qb_mcp.sync.context import SyncContext
from paymo_qb_mcp.sync.executor import Executor
from paymo_qb_mcp.sync.invoices import InvoiceSelection
from paymo_qb_mcp.sync.service import SyncService

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.seeding import Dataset, seed_volume  # noqa: E402 - the benchmark's generated company

POLICY = REPO / "policies.yaml"


def change(**fields: Any) -> Change:
    return Change(summary="a change", **fields)


def test_a_change_waits_for_what_it_refers_to_and_nothing_else() -> None:
    changes = [
        change(
            action="create", entity="customer", link_kind="customer", paymo_id=1, payload={"DisplayName": "A"}
        ),
        change(
            action="create",
            entity="invoice",
            link_kind="invoice",
            paymo_id=10,
            payload={"CustomerRef": {"value": "@link:customer:1"}},
        ),
        change(
            action="link", entity="customer", link_kind="customer", paymo_id=2, qbo_id="7", target="ledger"
        ),
        change(
            action="create",
            entity="invoice",
            link_kind="invoice",
            paymo_id=11,
            payload={"CustomerRef": {"value": "7"}},
        ),
        change(
            action="update",
            entity="customer",
            link_kind="customer",
            paymo_id=3,
            qbo_id="8",
            payload={"Active": True},
        ),
        change(
            action="create",
            entity="invoice",
            link_kind="invoice",
            paymo_id=12,
            payload={"CustomerRef": {"value": "8"}},
        ),
        change(action="void", entity="invoice", link_kind="invoice", paymo_id=10, qbo_id="99"),
    ]
    dependencies, waves = dependency_waves(changes)
    # The invoice of a customer created in the plan waits for it; one of a linked customer does not (a
    # link writes nothing to QBO); one of a reactivated customer waits for the reactivation; a second
    # change on the same record waits for the first.
    assert dependencies == [[], [0], [], [], [], [4], [1]]
    assert waves == [[0, 2, 3, 4], [1, 5], [6]]


@asynccontextmanager
async def volume(tmp_path: Path, n: int) -> AsyncIterator[tuple[Sandbox, Dataset, SyncService]]:
    sandbox = Sandbox.create("empty", "global", "relaxed")
    dataset = seed_volume(sandbox, n, seed=11)
    async with (
        PaymoClient(
            api_key=sandbox.paymo.api_key, transport=sandbox.paymo_transport(), limiter=UnlimitedLimiter()
        ) as paymo,
        QboClient(
            base_url="https://sandbox-quickbooks.api.intuit.com",
            realm_id=sandbox.qbo.realm_id,
            token_provider=StaticTokenProvider(sandbox.qbo.access_token),
            transport=sandbox.qbo_transport(),
            limiter=UnlimitedLimiter(),
            batch_limiter=UnlimitedLimiter(),
        ) as qbo,
    ):
        with Ledger(tmp_path / "data") as ledger:
            ctx = SyncContext(paymo=paymo, qbo=qbo, ledger=ledger, mappings=load_policy(POLICY).mappings)
            yield sandbox, dataset, SyncService(ctx)


def month(dataset: Dataset) -> InvoiceSelection:
    return InvoiceSelection(date_from=dataset.date_from, date_to=dataset.date_to)


def qbo_invoices_per_number(sandbox: Sandbox) -> Counter[str]:
    return Counter(str(row.get("DocNumber")) for row in sandbox.qbo.state.tables["Invoice"].values())


def batch_sizes(sandbox: Sandbox, since: int = 0) -> list[int]:
    return [
        len(json.loads(entry.body)["BatchItemRequest"])
        for entry in sandbox.qbo.request_log[since:]
        if entry.path.endswith("/batch")
    ]


async def test_a_month_is_written_in_batches_of_at_most_thirty_exactly_once(tmp_path: Path) -> None:
    async with volume(tmp_path, 70) as (sandbox, dataset, service):
        selected = await service.plan_invoice_selection(month(dataset))
        plan = _merged(selected)
        # A customer two invoices need is created once.
        creates = Counter(change.entity for change in plan.writes if change.action == "create")
        assert creates["invoice"] == 70
        assert 0 < creates["customer"] < 70
        before = len(sandbox.qbo.request_log)
        outcome = await service.apply(plan, isolate_failures=True)

    assert not outcome.failures
    sizes = batch_sizes(sandbox, before)
    assert max(sizes) <= 30
    # Customers in one wave, invoices in the next: ceil(count / 30) requests each, every item once.
    assert sum(sizes) == creates["invoice"] + creates["customer"]
    assert len(sizes) == -(-creates["invoice"] // 30) + -(-creates["customer"] // 30)
    single_posts = [
        e for e in sandbox.qbo.request_log[before:] if e.method == "POST" and "/batch" not in e.path
    ]
    assert not [e for e in single_posts if not e.path.endswith("/query")]
    per_number = qbo_invoices_per_number(sandbox)
    assert len(per_number) == 70
    assert set(per_number.values()) == {1}
    for item in selected.items:
        written = [i for i in sandbox.qbo.state.tables["Invoice"].values() if i["DocNumber"] == item.number]
        assert written[0]["TotalAmt"] == item.paymo_total
    # What each outcome keeps of a record written in a batch is its identity and totals, not its lines
    # (thousands of full invoices would otherwise be held until the call returns).
    invoices = [item for item in outcome.applied if item.change.entity == "invoice"]
    totals = {item.number: item.paymo_total for item in selected.items}
    for item in invoices:
        assert isinstance(item.record, Invoice)
        assert item.record.Id == item.qbo_id
        assert item.record.TotalAmt == totals[item.record.DocNumber or ""]
        assert not item.record.Line


async def test_a_refused_item_fails_alone(tmp_path: Path) -> None:
    async with volume(tmp_path, 12) as (sandbox, dataset, service):
        selected = await service.plan_invoice_selection(month(dataset))
        victim = selected.items[3]
        # Someone posts an invoice with the same number in QuickBooks after the plan was made (6140).
        async with httpx.AsyncClient(transport=sandbox.qbo_transport(), base_url="https://x") as http:
            customer_ref = next(iter(sandbox.qbo.state.tables["Customer"]))
            response = await http.post(
                f"/v3/company/{sandbox.qbo.realm_id}/invoice",
                headers={"Authorization": f"Bearer {sandbox.qbo.access_token}", "Accept": "application/json"},
                json={
                    "DocNumber": victim.number,
                    "CustomerRef": {"value": customer_ref},
                    "Line": [
                        {
                            "Amount": 10,
                            "DetailType": "SalesItemLineDetail",
                            "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "TaxCodeRef": {"value": "3"}},
                        }
                    ],
                },
            )
        assert response.status_code == 200, response.text
        outcome = await service.apply(_merged(selected), isolate_failures=True)

    [failed] = outcome.failures
    assert failed.change.paymo_id == victim.paymo_invoice_id
    assert failed.error is not None
    assert failed.error.code == "DUPLICATE_DOCNUMBER"
    assert sum(1 for item in outcome.applied if item.change.entity == "invoice" and item.wrote) == 11


@pytest.mark.parametrize(
    ("numbering", "healed_by"),
    [
        # QBO takes Paymo's numbers: the next plan finds what the dead process created by number and
        # marker, and links it.
        ("custom", "linked"),
        # QBO numbers invoices itself, so nothing can be found by number: the recorded batch is sent again
        # with its requestid, and QBO replays its answer.
        ("automatic", "replayed"),
    ],
)
async def test_a_crash_in_the_middle_of_a_batch_leaves_exactly_one_record_per_invoice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, numbering: str, healed_by: str
) -> None:
    async with volume(tmp_path, 40) as (sandbox, dataset, service):
        if numbering == "automatic":
            sandbox.qbo.state.tables["Preferences"]["1"]["SalesFormsPrefs"]["CustomTxnNumbers"] = False
        plan = _merged(await service.plan_invoice_selection(month(dataset)))
        real = Executor.remember_write
        linked: list[str] = []

        def dies_midway(self: Executor, change: Change, *args: Any, **kwargs: Any) -> None:
            # QBO created the first batch (customers, and the invoices of customers QBO already had);
            # the process dies while linking what it created.
            if len(linked) == 10:
                raise SystemExit("killed")
            linked.append(change.entity)
            real(self, change, *args, **kwargs)

        monkeypatch.setattr(Executor, "remember_write", dies_midway)
        with pytest.raises(SystemExit):
            await service.apply(plan, isolate_failures=True)
        monkeypatch.setattr(Executor, "remember_write", real)
        unlinked = len(sandbox.qbo.state.tables["Invoice"]) - linked.count("invoice")
        assert unlinked > 0

        again = _merged(await service.plan_invoice_selection(month(dataset)))
        outcome = await service.apply(again, isolate_failures=True)
        final = await service.plan_invoice_selection(month(dataset))

    assert not outcome.failures
    healed = Counter(item.outcome for item in outcome.applied if item.change.entity == "invoice")
    assert healed[healed_by] == unlinked
    assert sum(healed.values()) == 40 - linked.count("invoice")
    invoices = sandbox.qbo.state.tables["Invoice"].values()
    assert len(invoices) == 40
    notes = Counter(str(row.get("PrivateNote")).rsplit("paymo:invoice:", 1)[-1] for row in invoices)
    assert set(notes.values()) == {1}  # one QBO invoice per Paymo invoice
    names = Counter(row.get("DisplayName") for row in sandbox.qbo.state.tables["Customer"].values())
    assert set(names.values()) == {1}
    assert all(item.plan.is_noop for item in final.items)


def _merged(selected: Any) -> Any:
    """The selection's plan as the server builds it (every invoice allowed)."""
    from paymo_qb_mcp.server.selection import combine_selection

    policy = load_policy(POLICY).model_copy(update={"rules": (), "default": "allow"})
    return combine_selection("sync_invoice", selected, policy).plan


async def test_the_qbo_invoices_match_paymo_to_the_cent(tmp_path: Path) -> None:
    async with volume(tmp_path, 30) as (sandbox, dataset, service):
        selected = await service.plan_invoice_selection(month(dataset))
        await service.apply(_merged(selected), isolate_failures=True)
        async with QboClient(
            base_url="https://sandbox-quickbooks.api.intuit.com",
            realm_id=sandbox.qbo.realm_id,
            token_provider=StaticTokenProvider(sandbox.qbo.access_token),
            transport=sandbox.qbo_transport(),
            limiter=UnlimitedLimiter(),
        ) as qbo:
            written = {invoice.DocNumber: invoice for invoice in await qbo.query_all(Invoice)}
    for item in selected.items:
        assert written[item.number].TotalAmt == item.paymo_total
