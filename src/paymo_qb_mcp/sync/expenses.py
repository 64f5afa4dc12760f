"""Expenses Paymo → QBO: each Paymo expense becomes a QBO Purchase or Bill, pushed once, updated if changed.

What an expense becomes (``mappings.expense_target``):

- ``purchase`` (the shipped default): a Purchase paid from ``payment_account`` with ``payment_type``;
  the payee (``EntityRef``) is ``expense_target.vendor`` when one is mapped in the expense's
  currency;
- ``bill``: a Bill owed to ``expense_target.vendor`` (QBO bills are always owed to a vendor).

Either way the record has one ``AccountBasedExpenseLineDetail`` line on the expense account the
first mapped Paymo tag names (``mappings.expense_accounts``), the expense's notes as description,
the client's QBO customer as ``CustomerRef`` and ``BillableStatus`` ``Billable`` when the expense
is to be re-billed; the ``PrivateNote`` carries the receipt's URL and the marker
``paymo:expense:<id>``. Foreign-currency expenses carry ``CurrencyRef`` and QBO's own exchange
rate for the expense date; without a known rate the expense is blocked, never sent with a silent 1.

Choices worth knowing:

- **Already-invoiced expenses are still pushed.** Paymo marks an expense ``invoiced`` when it was
  re-billed on a Paymo invoice; the money was spent all the same, so the books need the cost.
  It goes in with ``BillableStatus`` ``NotBillable`` (QBO refuses ``HasBeenBilled`` from the API)
  so QBO never offers to bill it a second time, and an ``info`` finding says so.
- **Billable unless Paymo says otherwise.** Paymo's undocumented ``billable`` key is honoured when
  present; absent, an expense recorded against a client is taken as re-billable (GUESS: the key is
  missing from the documented API and from most live responses).
- **No input tax is split out.** Paymo amounts are what was paid, with no tax breakdown, so global
  (VAT/GST) companies get ``GlobalTaxCalculation`` ``NotApplicable``: the whole amount is the cost.
- **Foreign-currency purchases need a payee in that currency.** QBO takes a transaction's currency
  from its payee; a Purchase with no payee is in the home currency. Without a mapped vendor in the
  expense's currency, the payee is the client's customer (already in that currency, and the party
  the expense is re-billed to); with neither, the expense is blocked with what to map.

Item by item (``plan_expense_items``, what ``push_expenses`` decides on): each expense is an item
carrying its customer's changes and its own findings, so one blocked expense is left out alone; the
target and the expense-account mappings are the run's.

Ledger kind ``expense`` links Paymo expense id → QBO Purchase/Bill Id; the content hash covers the
Paymo expense and the target type, so an unchanged expense is a ``skip`` and a changed one a sparse
update against the current SyncToken (put to a human when it would overwrite what someone changed in
QuickBooks since our last write: ``EDITED_IN_QUICKBOOKS``). Guards found here rather than as a 400
from QBO: closed period (6210), inactive account or vendor (610), multicurrency off, unknown or
withdrawn currency codes, a vendor in another currency, and customer matching problems (from
``customer_for_invoice``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final, Literal, TypeVar

from paymo_qb_mcp.config.policy import QboRef
from paymo_qb_mcp.domain.keys import add_marker, content_hash, marker
from paymo_qb_mcp.domain.money import normalize_currency, quantize
from paymo_qb_mcp.domain.plan import Change, Finding, FindingList, Plan
from paymo_qb_mcp.errors import ConfigError, InputError, NotFound
from paymo_qb_mcp.paymo import models as paymo_models
from paymo_qb_mcp.paymo.where import ge, in_, le
from paymo_qb_mcp.quickbooks import models as qbo_models
from paymo_qb_mcp.quickbooks.models import DESCRIPTION_MAX_LENGTH, PRIVATE_NOTE_MAX_LENGTH
from paymo_qb_mcp.store.ledger import Link
from paymo_qb_mcp.sync.context import CompanyFacts, SyncContext
from paymo_qb_mcp.sync.customers import CustomerResolution, customer_for_invoice
from paymo_qb_mcp.sync.invoices import exchange_rate_or_block
from paymo_qb_mcp.sync.items import ItemDraft, ItemizedPlan, PlannedItem
from paymo_qb_mcp.sync.qbo_edits import guard_overwrite

__all__ = [
    "EXPENSE_LINK_KIND",
    "EXPENSE_TOOL",
    "active_record",
    "expense_content_hash",
    "plan_expense_items",
    "plan_expenses",
]

EXPENSE_TOOL: Final = "push_expenses"
EXPENSE_LINK_KIND: Final = "expense"

Referenced = TypeVar(
    "Referenced",
    qbo_models.Account,
    qbo_models.Vendor,
    qbo_models.Item,
    qbo_models.Employee,
    qbo_models.TaxCode,
)


async def active_record(
    ctx: SyncContext,
    model: type[Referenced],
    ref: QboRef,
    *,
    purpose: str,
    findings: FindingList,
    cache: dict[tuple[str, str], Referenced | None] | None = None,
) -> Referenced | None:
    """The QBO record a mapping names, or None with a blocker when it is missing or inactive (610)."""
    try:
        qbo_id = await ctx.resolve(model, ref, purpose=purpose)
    except ConfigError as exc:
        findings.block("MAPPING_UNRESOLVED", exc.message)
        return None
    key = (model.entity_name, qbo_id)
    if cache is not None and key in cache:
        return cache[key]
    found: Referenced | None = await ctx.data.record(model, qbo_id)
    try:
        if found is None:
            found = await ctx.qbo.read(model, qbo_id)
    except NotFound:
        found = None
        findings.block(
            "MAPPING_UNRESOLVED",
            f"policies.yaml mappings: {purpose} names QuickBooks {model.entity_name} {ref.describe()}, which "
            "does not exist; run `paymo-qb-mcp doctor --list-mappings` to see what the company has",
        )
    if found is not None and found.Active is False:
        label = getattr(found, "DisplayName", None) or getattr(found, "Name", None) or qbo_id
        findings.block(
            "INACTIVE_REF",
            f"QuickBooks {model.entity_name} {label!r} (Id {qbo_id}), used as {purpose}, is inactive and "
            "QuickBooks refuses transactions that use it (error 610): reactivate it in QuickBooks or change "
            "the mapping in policies.yaml",
            f"quickbooks:{model.entity_name.lower()}:{qbo_id}",
        )
        found = None
    if cache is not None:
        cache[key] = found
    return found


def expense_content_hash(expense: paymo_models.Expense, target: str) -> str:
    """Hash of what an expense push carries from Paymo (and which QBO record type it becomes)."""
    return content_hash(
        {
            "target": target,
            "client_id": expense.client_id,
            "project_id": expense.project_id,
            "amount": expense.amount,
            "currency": expense.currency,
            "date": expense.date,
            "name": expense.name,
            "notes": expense.notes,
            "tags": sorted(expense.tags),
            "file": expense.file or None,
            "invoiced": bool(expense.invoiced),
            "billable": expense.billable,
        }
    )


@dataclass(frozen=True)
class _Target:
    """The resolved ``expense_target``: the QBO entity and what pays for it or is owed."""

    entity: Literal["Purchase", "Bill"]
    payment_type: str
    payment_account_id: str | None
    vendor: qbo_models.Vendor | None
    vendor_currency: str | None


# An expense account looked up, and what its lookup found wrong.
_Lookup = tuple[qbo_models.Account | None, tuple[Finding, ...]]


@dataclass
class _Run:
    """State shared by the expenses of one plan; ``item`` is the expense being planned (its changes,
    findings and totals)."""

    ctx: SyncContext
    facts: CompanyFacts
    target: _Target
    item: ItemDraft
    accounts: dict[tuple[str | None, str | None, str], _Lookup] = field(default_factory=dict)
    customers: dict[tuple[int, str], CustomerResolution] = field(default_factory=dict)
    rates: dict[tuple[str, dt.date], Decimal | None] = field(default_factory=dict)

    @property
    def findings(self) -> FindingList:
        return self.item.findings

    @property
    def changes(self) -> list[Change]:
        return self.item.changes


@dataclass
class _Planned:
    """The run's own findings (selection, target), each expense's draft, and the ids Paymo lacks."""

    common: FindingList
    items: list[ItemDraft]
    missing: list[int]


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


async def plan_expenses(
    ctx: SyncContext,
    *,
    expense_ids: Sequence[int] | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> Plan:
    """Plan the QBO Purchase/Bill of each selected Paymo expense; writes nothing.

    Select by ``expense_ids``, or by expense date (``date_from``/``date_to``, inclusive, either
    optional); with neither, every expense is considered. Never pushed → create (after the
    customer's create or link when needed); pushed and unchanged → skip; changed in Paymo → one
    sparse update. A blocker on any expense blocks this plan: ``plan_expense_items`` plans each expense
    on its own, so that the others can go ahead.
    """
    planned = await _plan(ctx, expense_ids, date_from, date_to)
    common = FindingList(planned.common)
    if planned.missing and date_from is None and date_to is None:
        common.insert(0, _not_found(planned.missing))
    items = [draft.build(EXPENSE_TOOL) for draft in planned.items]
    itemized = ItemizedPlan(EXPENSE_TOOL, "", tuple(items), Plan.build(EXPENSE_TOOL, [], findings=common))
    return itemized.merged()


async def plan_expense_items(
    ctx: SyncContext,
    *,
    expense_ids: Sequence[int] | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> ItemizedPlan:
    """``plan_expenses`` expense by expense: each expense one item (``paymo:expense:<id>``) with its
    customer's changes and its own findings, an id Paymo lacks a blocked item of its own; the missing
    mappings and an unusable paying account or vendor stay the run's (they block every expense)."""
    planned = await _plan(ctx, expense_ids, date_from, date_to)
    common = FindingList(planned.common)
    items: list[PlannedItem] = []
    if date_from is None and date_to is None:
        for missing in planned.missing:
            items.append(
                PlannedItem(
                    key=_record(missing),
                    kind="expense",
                    label=f"Paymo expense {missing}",
                    plan=Plan.build(EXPENSE_TOOL, [], findings=[_not_found([missing])]),
                )
            )
    items += [draft.build(EXPENSE_TOOL, common) for draft in planned.items]
    items.sort(key=lambda item: int(item.paymo_id))
    return ItemizedPlan(
        tool=EXPENSE_TOOL,
        description=_describe_selection(expense_ids, date_from, date_to),
        items=tuple(items),
        common=Plan.build(EXPENSE_TOOL, [], findings=common),
        noun="expense",
        nouns="expenses",
    )


def _describe_selection(
    expense_ids: Sequence[int] | None, date_from: dt.date | None, date_to: dt.date | None
) -> str:
    if expense_ids is not None:
        count = len(set(expense_ids))
        text = f"{count} Paymo expense{'' if count == 1 else 's'} chosen by id"
        if date_from is not None or date_to is not None:
            text += f", dated {date_from or '…'} to {date_to or '…'}"
        return text
    if date_from is None and date_to is None:
        return "every Paymo expense"
    return f"Paymo expenses dated {date_from or '…'} to {date_to or '…'}"


def _record(expense_id: int) -> str:
    return f"paymo:expense:{expense_id}"


def _not_found(missing: Sequence[int]) -> Finding:
    return Finding(
        severity="blocker",
        code="NOT_FOUND",
        message=f"Paymo has no expense with id {', '.join(str(n) for n in missing)}",
    )


async def _plan(
    ctx: SyncContext,
    expense_ids: Sequence[int] | None,
    date_from: dt.date | None,
    date_to: dt.date | None,
) -> _Planned:
    if date_from is not None and date_to is not None and date_to < date_from:
        raise InputError(f"date_to {date_to} is before date_from {date_from}", field_name="date_to")
    findings = FindingList()
    expenses, missing = await _load_expenses(ctx, expense_ids, date_from, date_to)
    if not expenses:
        return _Planned(findings, [], missing)
    facts = await ctx.facts()
    target = await _resolve_target(ctx, facts, findings)
    if target is None or ctx.mappings.expense_accounts is None:
        if ctx.mappings.expense_accounts is None:
            findings.block(
                "MAPPING_MISSING",
                "policies.yaml has no mappings.expense_accounts: add the Paymo tag → QuickBooks expense "
                "account mapping (with a default) before pushing expenses",
            )
        return _Planned(findings, [], missing)
    drafts: list[ItemDraft] = []
    run: _Run | None = None
    for expense in expenses:
        draft = ItemDraft(key=_record(expense.id), kind="expense", label=f"Paymo expense {_label(expense)}")
        try:
            draft.currency = normalize_currency(expense.currency or "")
            draft.total = quantize(expense.amount, draft.currency) if expense.amount is not None else None
        except InputError:
            draft.currency = None
        if run is None:
            run = _Run(ctx=ctx, facts=facts, target=target, item=draft)
        run.item = draft
        await _plan_expense(run, expense)
        drafts.append(draft)
    return _Planned(findings, drafts, missing)


async def _load_expenses(
    ctx: SyncContext,
    expense_ids: Sequence[int] | None,
    date_from: dt.date | None,
    date_to: dt.date | None,
) -> tuple[list[paymo_models.Expense], list[int]]:
    """The selected expenses (by id), and the ids asked for that Paymo does not have."""
    conditions = []
    if expense_ids is not None:
        wanted = sorted(set(expense_ids))
        if not wanted:
            return [], []
        conditions.append(in_("id", wanted))
    if date_from is not None:
        conditions.append(ge("date", date_from))
    if date_to is not None:
        conditions.append(le("date", date_to))
    expenses = await ctx.paymo.list_expenses(where=conditions or None, include=("project",))
    missing: list[int] = []
    if expense_ids is not None:
        missing = sorted(set(expense_ids) - {expense.id for expense in expenses})
    return sorted(expenses, key=lambda expense: expense.id), missing


async def _resolve_target(ctx: SyncContext, facts: CompanyFacts, findings: FindingList) -> _Target | None:
    setting = ctx.mappings.expense_target
    if setting is None:
        findings.block(
            "MAPPING_MISSING",
            "policies.yaml has no mappings.expense_target: say whether expenses become purchases (with the "
            "paying account) or bills (with the vendor)",
        )
        return None
    vendor: qbo_models.Vendor | None = None
    if setting.vendor is not None:
        vendor = await active_record(
            ctx,
            qbo_models.Vendor,
            setting.vendor,
            purpose="mappings.expense_target.vendor",
            findings=findings,
        )
        if vendor is None:
            return None
    payment_account_id: str | None = None
    if setting.type == "purchase":
        assert setting.payment_account is not None  # ExpenseTarget guarantees it
        account = await active_record(
            ctx,
            qbo_models.Account,
            setting.payment_account,
            purpose="mappings.expense_target.payment_account",
            findings=findings,
        )
        if account is None:
            return None
        payment_account_id = account.Id
    return _Target(
        entity="Purchase" if setting.type == "purchase" else "Bill",
        payment_type=setting.payment_type,
        payment_account_id=payment_account_id,
        vendor=vendor,
        vendor_currency=facts.currency_of(vendor.CurrencyRef) if vendor is not None else None,
    )


# --------------------------------------------------------------------------------------------
# One expense
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Built:
    payload: dict[str, Any]
    amount: Decimal
    currency: str
    txn_date: dt.date
    rate: Decimal | None
    account_name: str
    billable_status: str
    customer: CustomerResolution


async def _plan_expense(run: _Run, expense: paymo_models.Expense) -> None:
    record = f"paymo:expense:{expense.id}"
    entity = run.target.entity
    digest = expense_content_hash(expense, entity)
    link = run.ctx.ledger.link(EXPENSE_LINK_KIND, expense.id)
    label = _label(expense)
    if link is not None and link.content_hash == digest:
        run.changes.append(
            Change(
                action="skip",
                entity="expense",
                paymo_id=expense.id,
                qbo_id=link.qbo_id,
                summary=f"Paymo expense {label} is already QuickBooks {entity} {link.qbo_id}",
                reason="unchanged since it was pushed",
                link_kind=EXPENSE_LINK_KIND,
            )
        )
        return
    built = await _build(run, expense, record)
    if built is None or run.findings.blocks(record):
        return
    tag = marker(EXPENSE_LINK_KIND, expense.id)
    after: dict[str, Any] = {
        "amount": built.amount,
        "currency": built.currency,
        "txn_date": built.txn_date,
        "expense_account": built.account_name,
        "BillableStatus": built.billable_status,
        "receipt": expense.file or None,
    }
    if built.rate is not None:
        after["exchange_rate"] = built.rate
    expect: dict[str, Any] = {"TotalAmt": built.amount, "TxnDate": built.txn_date, "Line.count": 1}
    if "CurrencyRef" in built.payload:
        expect["CurrencyRef.value"] = built.currency
    if built.rate is not None:
        expect["ExchangeRate"] = built.rate
    if link is None:
        change = Change(
            action="create",
            entity="expense",
            paymo_id=expense.id,
            after=after,
            payload=built.payload,
            summary=(
                f"Create QuickBooks {entity} for Paymo expense {label}: {built.currency} {built.amount} "
                f"on {built.account_name}"
            ),
            reason="never pushed",
            wire_entity=entity,
            link_kind=EXPENSE_LINK_KIND,
            content_hash=digest,
            lookup={"where": {"TxnDate": built.txn_date.isoformat()}, "marker": tag},
            expect=expect,
        )
    else:
        updated = await _update(
            run, expense, built, link=link, tag=tag, after=after, digest=digest, expect=expect
        )
        if updated is None:
            return
        change = updated
    # The customer's create or link goes first, and only with a change that needs it (each expense
    # carries it; one plan of several writes it once).
    run.item.add_once(built.customer.changes)
    run.changes.append(change)
    run.item.add_total(built.currency, built.amount)


def _label(expense: paymo_models.Expense) -> str:
    text = (expense.name or expense.notes or "").strip()
    return f"{expense.id} ({text!r})" if text else str(expense.id)


async def _update(
    run: _Run,
    expense: paymo_models.Expense,
    built: _Built,
    *,
    link: Link,
    tag: str,
    after: dict[str, Any],
    digest: str,
    expect: dict[str, Any],
) -> Change | None:
    """A sparse update of the linked record, refused when it is not ours or cannot change currency."""
    qbo_id = link.qbo_id
    entity = run.target.entity
    record = f"paymo:expense:{expense.id}"
    model: type[qbo_models.Purchase] | type[qbo_models.Bill] = (
        qbo_models.Purchase if entity == "Purchase" else qbo_models.Bill
    )
    try:
        current = await run.ctx.qbo.read(model, qbo_id)
    except NotFound:
        run.findings.block(
            "LINKED_RECORD_MISSING",
            f"Paymo expense {expense.id} was pushed as QuickBooks record {qbo_id}, which cannot be read as a "
            f"{entity} (deleted, or pushed earlier as another type). Check QuickBooks, then remove the link "
            "(kind expense) so it can be pushed again",
            record,
        )
        return None
    if tag not in (current.PrivateNote or ""):
        run.findings.block(
            "LINKED_RECORD_NOT_OURS",
            f"QuickBooks {entity} {qbo_id} linked to Paymo expense {expense.id} no longer carries the marker "
            f"{tag}; it is not updated. Check which record belongs to the expense and fix the link",
            record,
        )
        return None
    current_currency = run.facts.currency_of(current.CurrencyRef)
    if current_currency != built.currency:
        run.findings.block(
            "CURRENCY_CHANGED",
            f"Paymo expense {expense.id} is now in {built.currency}, but QuickBooks {entity} {qbo_id} is in "
            f"{current_currency}, and a transaction's currency cannot change: delete the QuickBooks record "
            "and remove the link (kind expense) to push the expense again",
            record,
        )
        return None
    before: dict[str, Any] = {
        "TotalAmt": current.TotalAmt,
        "TxnDate": current.TxnDate,
        "PrivateNote": current.PrivateNote,
    }
    after = dict(after)
    guard_overwrite(
        link,
        current,
        built.payload,
        before=before,
        after=after,
        target=f"QuickBooks {entity} {qbo_id}",
        source=f"Paymo expense {_label(expense)}",
        record=record,
        findings=run.findings,
    )
    return Change(
        action="update",
        entity="expense",
        paymo_id=expense.id,
        qbo_id=qbo_id,
        before=before,
        after=after,
        payload=built.payload,
        summary=(
            f"Update QuickBooks {entity} {qbo_id} from Paymo expense {_label(expense)}: {built.currency} "
            f"{built.amount} on {built.account_name}"
        ),
        reason="the expense changed in Paymo since it was pushed",
        wire_entity=entity,
        link_kind=EXPENSE_LINK_KIND,
        content_hash=digest,
        sync_token=current.SyncToken,
        expect=expect,
    )


async def _build(run: _Run, expense: paymo_models.Expense, record: str) -> _Built | None:
    ctx, facts, findings, target = run.ctx, run.facts, run.findings, run.target
    try:
        currency = normalize_currency(expense.currency or "")
    except InputError as exc:
        findings.block("CURRENCY_UNUSABLE", f"Paymo expense {expense.id}: {exc.message}", record)
        return None
    if expense.amount is None or expense.amount <= 0:
        findings.block(
            "AMOUNT_UNUSABLE",
            f"Paymo expense {expense.id} has amount {expense.amount}; QuickBooks expense lines need a "
            "positive amount",
            record,
        )
        return None
    amount = quantize(expense.amount, currency)
    if amount != expense.amount:
        findings.warn(
            "AMOUNT_ROUNDED",
            f"Paymo expense {expense.id} is {expense.amount} {currency}; {currency} has fewer decimals, so "
            f"QuickBooks gets {amount}",
            record,
        )
    txn_date = expense.date or (
        expense.created_on.astimezone(facts.paymo_timezone).date() if expense.created_on else None
    )
    if txn_date is None:
        findings.block("NO_DATE", f"Paymo expense {expense.id} has no date", record)
        return None
    if facts.in_closed_period(txn_date):
        findings.block(
            "CLOSED_PERIOD",
            f"Paymo expense {expense.id} is dated {txn_date}, on or before the QuickBooks book close date "
            f"{facts.book_close_date}; QuickBooks refuses transactions in a closed period (error 6210). "
            "Reopen the period in QuickBooks or leave this expense out",
            record,
        )
    foreign = currency != facts.home_currency
    if foreign and not facts.multicurrency:
        findings.block(
            "MULTICURRENCY_OFF",
            f"Paymo expense {expense.id} is in {currency}, but QuickBooks multicurrency is off (home "
            f"currency {facts.home_currency}); turn it on in QuickBooks before pushing it",
            record,
        )
        return None
    if expense.client_id is None:
        findings.block("NO_CLIENT", f"Paymo expense {expense.id} has no client", record)
        return None

    account = await _account(run, expense)
    customer = await _customer(run, expense.client_id, currency)
    run.item.add_findings(customer.findings)
    rate: Decimal | None = None
    if foreign:
        rate = await exchange_rate_or_block(
            ctx,
            currency,
            txn_date,
            findings,
            carrier=f"Paymo expense {expense.id}",
            record=record,
            known=run.rates,
        )
    party = _party(run, expense, currency, customer, record)
    if account is None or customer.blocked or customer.customer_ref is None or party is None:
        return None
    if findings.blocks(record):
        return None

    billable = expense.billable is not False and not expense.invoiced
    if expense.invoiced:
        line_text = f" (line {expense.invoice_item_id})" if expense.invoice_item_id else ""
        findings.inform(
            "ALREADY_INVOICED",
            f"Paymo expense {expense.id} was already re-billed on a Paymo invoice{line_text}; it is "
            "pushed as a cost with BillableStatus NotBillable, so QuickBooks does not offer to bill it "
            "a second time",
            record,
        )
    billable_status = "Billable" if billable else "NotBillable"
    detail: dict[str, Any] = {
        "AccountRef": {"value": account.Id},
        "CustomerRef": {"value": customer.customer_ref},
        "BillableStatus": billable_status,
    }
    line: dict[str, Any] = {"DetailType": "AccountBasedExpenseLineDetail", "Amount": amount}
    description = _description(expense)
    if description:
        line["Description"] = description
    line["AccountBasedExpenseLineDetail"] = detail
    payload: dict[str, Any] = {}
    if target.entity == "Purchase":
        payload["PaymentType"] = target.payment_type
        payload["AccountRef"] = {"value": target.payment_account_id}
        if party:
            payload["EntityRef"] = party
    else:
        payload["VendorRef"] = party
    payload["TxnDate"] = txn_date.isoformat()
    if facts.multicurrency:
        payload["CurrencyRef"] = {"value": currency}
    if rate is not None:
        payload["ExchangeRate"] = rate
    if facts.tax_model == "global":
        payload["GlobalTaxCalculation"] = "NotApplicable"
    payload["PrivateNote"] = _private_note(expense)
    payload["Line"] = [line]
    return _Built(
        payload=payload,
        amount=amount,
        currency=currency,
        txn_date=txn_date,
        rate=rate,
        account_name=account.FullyQualifiedName or account.Name or str(account.Id),
        billable_status=billable_status,
        customer=customer,
    )


async def _account(run: _Run, expense: paymo_models.Expense) -> qbo_models.Account | None:
    """The expense account the expense's tags map to, looked up once per mapping and purpose; what the
    lookup found wrong (an inactive account) is each of those expenses' finding."""
    assert run.ctx.mappings.expense_accounts is not None  # checked by the caller
    ref = run.ctx.mappings.expense_accounts.account_for(expense.tags)
    purpose = f"the expense account for tags {expense.tags or '[]'}"
    key = (ref.id, ref.name, purpose)
    if key not in run.accounts:
        found = FindingList()
        account = await active_record(run.ctx, qbo_models.Account, ref, purpose=purpose, findings=found)
        run.accounts[key] = (account, tuple(found))
    account, findings = run.accounts[key]
    run.item.add_findings(findings)
    return account


async def _customer(run: _Run, client_id: int, currency: str) -> CustomerResolution:
    key = (client_id, currency)
    if key not in run.customers:
        run.customers[key] = await customer_for_invoice(run.ctx, client_id, currency)
    return run.customers[key]


def _party(
    run: _Run, expense: paymo_models.Expense, currency: str, customer: CustomerResolution, record: str
) -> dict[str, Any] | None:
    """The Purchase payee or Bill vendor as a wire ref: ``{}`` for no payee, None when blocked."""
    target, facts = run.target, run.facts
    vendor = target.vendor
    if target.entity == "Bill":
        # ExpenseTarget requires a vendor for bills, and a record read from QBO has an Id.
        assert vendor is not None
        assert vendor.Id is not None
        if target.vendor_currency != currency:
            run.findings.block(
                "VENDOR_CURRENCY",
                f"Paymo expense {expense.id} is in {currency}, but the bill vendor {vendor.DisplayName!r} "
                f"is in {target.vendor_currency}, and a QuickBooks bill is always in its vendor's currency: "
                f"map a vendor in {currency} (mappings.expense_target.vendor) or leave this expense out",
                record,
            )
            return None
        return {"value": vendor.Id}
    if vendor is not None and vendor.Id is not None and target.vendor_currency == currency:
        return {"value": vendor.Id, "type": "Vendor"}
    if currency == facts.home_currency:
        return {}
    if customer.customer_ref is not None and customer.currency == currency:
        run.findings.inform(
            "PAYEE_IS_CUSTOMER",
            f"Paymo expense {expense.id} is in {currency}; QuickBooks takes a purchase's currency from its "
            f"payee, and no vendor in {currency} is mapped, so the payee is the client's customer (in "
            f"{currency}). Map mappings.expense_target.vendor to a {currency} vendor to change this",
            record,
        )
        return {"value": customer.customer_ref, "type": "Customer"}
    run.findings.block(
        "FOREIGN_CURRENCY_PAYEE",
        f"Paymo expense {expense.id} is in {currency}, which a QuickBooks purchase only takes from a payee "
        f"in {currency}: map mappings.expense_target.vendor to a {currency} vendor",
        record,
    )
    return None


def _description(expense: paymo_models.Expense) -> str:
    text = (expense.notes or expense.name or "").strip()
    project = expense.project.name if expense.project is not None else None
    if project:
        text = f"{text} (project {project})" if text else f"Project {project}"
    return text[:DESCRIPTION_MAX_LENGTH]


def _private_note(expense: paymo_models.Expense) -> str:
    text = f"Paymo expense {expense.id}"
    name = (expense.name or "").strip()
    if name:
        text += f": {name}"
    if expense.file:
        text += f"\nReceipt: {expense.file}"
    return add_marker(text, EXPENSE_LINK_KIND, expense.id, max_length=PRIVATE_NOTE_MAX_LENGTH)
