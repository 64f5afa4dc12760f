"""Many writes at once (sync.batches): dependency waves, batch requests of at most 30 items, a refusal that
fails one item alone, and a crash in the middle of a batch healed by the next run — each Paymo invoice
ends with exactly one QuickBooks invoice, and the write observer (the audit log) hears of every record a
replayed batch links."""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import AsyncIterator, Sequence
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
from paymo_qb_mcp.sync.writes import AppliedChange

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


class Observer:
    """Records what it is told, and how many QuickBooks requests had been sent when each intent came."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.intents: dict[str, int] = {}
        self.outcomes: dict[str, AppliedChange] = {}

    async def intend(self, changes: Sequence[Change]) -> None:
        for change in changes:
            self.intents.setdefault(str(change.paymo_id), len(self.sandbox.qbo.request_log))

    async def done(self, applied: Sequence[AppliedChange]) -> None:
        for item in applied:
            self.outcomes[str(item.change.paymo_id)] = item


# A recorded batch replayed for one of its records links every record it created, so the write observer
# must hear of all of them: the records beyond the change at hand get their intents before the replay's
# request leaves and their outcomes after it. Before, only the change at hand was reported, and a process
# killed before the others came up in its plan left records written to QuickBooks and linked in the
# ledger that no audit entry named (found by the reliability suite's crash storm: 6 expenses).
async def test_a_replayed_batch_reports_every_record_it_links(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with volume(tmp_path, 40) as (sandbox, dataset, service):
        # QBO numbers invoices itself, so a batch the dead process sent is healed by replaying it.
        sandbox.qbo.state.tables["Preferences"]["1"]["SalesFormsPrefs"]["CustomTxnNumbers"] = False
        plan = _merged(await service.plan_invoice_selection(month(dataset)))
        real = Executor.remember_write

        def dies_at_the_first_invoice(self: Executor, change: Change, *args: Any, **kwargs: Any) -> None:
            # QBO created a batch of invoices; the process dies before linking any of them.
            if change.entity == "invoice":
                raise SystemExit("killed")
            real(self, change, *args, **kwargs)

        monkeypatch.setattr(Executor, "remember_write", dies_at_the_first_invoice)
        with pytest.raises(SystemExit):
            await service.apply(plan, isolate_failures=True)
        monkeypatch.setattr(Executor, "remember_write", real)
        ledger = service.ctx.ledger
        in_batch = sorted(str(i.paymo_id) for i in ledger.pending_intents("invoice"))
        assert len(in_batch) > 1  # one batch (invoices of customers QBO had go with the customers)

        # The next call is about one invoice of that batch: replaying the batch links all of them.
        at_hand = in_batch[0]
        one = _merged(
            await service.plan_invoice_selection(InvoiceSelection(paymo_invoice_ids=(int(at_hand),)))
        )
        observer = Observer(sandbox)
        requests_before = len(sandbox.qbo.request_log)
        outcome = await service.apply(one, isolate_failures=True, observer=observer)
        replay = next(
            index
            for index, entry in enumerate(sandbox.qbo.request_log)
            if index >= requests_before and entry.path.endswith("/batch")
        )
        linked = {paymo_id: ledger.link("invoice", paymo_id) for paymo_id in in_batch}

        # A later call over the month writes the rest; each Paymo invoice has one QuickBooks invoice.
        month_after = await service.apply(
            _merged(await service.plan_invoice_selection(month(dataset))), isolate_failures=True
        )
        invoices = list(sandbox.qbo.state.tables["Invoice"].values())

    assert [item.outcome for item in outcome.applied if item.change.entity == "invoice"] == ["replayed"]
    assert all(link is not None for link in linked.values())
    # Every record the replay linked was intended before its request left, and reported after.
    assert set(observer.intents) >= set(in_batch)
    assert all(observer.intents[paymo_id] <= replay for paymo_id in in_batch)
    for paymo_id in in_batch:
        reported = observer.outcomes[paymo_id]
        link = linked[paymo_id]
        assert link is not None
        assert (reported.outcome, reported.qbo_id) == ("replayed", link.qbo_id)
    assert not month_after.failures
    notes = Counter(str(row.get("PrivateNote")).rsplit("paymo:invoice:", 1)[-1] for row in invoices)
    assert len(notes) == 40
    assert set(notes.values()) == {1}


class Sequenced:
    """A write observer that notes, in one list with the ledger's saved links, what it is told and when."""

    def __init__(self, events: list[tuple[str, str]]) -> None:
        self.events = events
        self.intend_calls: list[list[Change]] = []

    async def intend(self, changes: Sequence[Change]) -> None:
        self.intend_calls.append(list(changes))
        self.events.extend(("intend", f"{change.link_kind}:{change.paymo_id}") for change in changes)

    async def done(self, applied: Sequence[AppliedChange]) -> None:
        self.events.extend(("done", f"{item.change.link_kind}:{item.change.paymo_id}") for item in applied)


# A change that only links a record found in QuickBooks (a customer QuickBooks had, what a dead process
# created) is intended before the ledger saves the link, a wave's links in one durable write. Before,
# only its outcome was recorded, after the link was saved and in the call's next write of the audit log:
# a process killed in between left a record linked that no audit entry named (found by the reliability
# suite's crash storm: invoices a killed run had created, linked by the next run, which was killed too).
async def test_ledger_links_are_intended_before_they_are_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, str]] = []
    real = Ledger.save_link

    def save_link(self: Ledger, kind: str, paymo_id: str | int, *args: Any, **kwargs: Any) -> Any:
        events.append(("saved", f"{kind}:{paymo_id}"))
        return real(self, kind, paymo_id, *args, **kwargs)

    async with volume(tmp_path, 40) as (_, dataset, service):
        plan = _merged(await service.plan_invoice_selection(month(dataset)))
        links = [change for change in plan.writes if change.target == "ledger"]
        assert len(links) > 1  # customers QuickBooks already had
        monkeypatch.setattr(Ledger, "save_link", save_link)
        observer = Sequenced(events)
        outcome = await service.apply(plan, isolate_failures=True, observer=observer)

    assert not outcome.failures
    for change in links:
        key = f"{change.link_kind}:{change.paymo_id}"
        assert events.index(("intend", key)) < events.index(("saved", key)) < events.index(("done", key))
    intended_together = [call for call in observer.intend_calls if all(c.target == "ledger" for c in call)]
    assert len(intended_together) < len(links)


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
