"""Budgets Paymo → QBO: a project budget as a QBO Estimate for the client or a PurchaseOrder to a vendor.

How a budget becomes lines (``budget_lines``, pure):

- **Time & materials** (billable, not flat): each billable hourly task with ``budget_hours`` is a
  line of hours × the task's rate (Paymo's ``hourly_billing_mode`` without the user level, since a
  budget is nobody's time: task → project → company by default); the project's ``budget_hours``
  left over after every task budget (billable or not — non-billable budgeted hours are part of the
  project's hours but never billed) is one project line at the project's rate; flat-rate tasks add
  their price. The budget is the sum of the lines.
- **Flat price**: the project's ``price``, split into one line per billable task with an
  ``estimated_price`` (its ``price`` otherwise) and a project line for what remains; when the tasks'
  prices exceed the project price, one line of the price (and a warning). The lines always add up
  to the price.
- No budget hours, no task budgets and no price → no budget: a finding and no change.

``estimate``: a QBO Estimate for the client's customer (``customer_for_invoice``, in the currency
and with the tax code Paymo would put on the client's next invoice; under US AST, Paymo's tax as the
``TotalTax`` override, as synced invoices carry it), sales lines on the policy's
service item, ``TxnDate`` today (Paymo's time zone) and ``ExpirationDate`` 30 days later (GUESS:
neither Paymo nor QBO defines an estimate's validity; 30 days matches the demo's payment terms).

``purchase_order``: a QBO PurchaseOrder to ``mappings.purchase_order_vendor`` (by Id, or by name
matched like customers: normalised and fuzzy, ambiguous → blocker), in that vendor's currency
(which must be the budget's), on the A/P account of that currency, with the same lines as item
lines when the service item can be purchased, else account lines on the default expense account.
PurchaseOrder needs QuickBooks Online Plus or Advanced (error 5020 otherwise): a company on another
plan, or with purchase orders turned off, gets a blocker.

Once per project and kind (ledger kinds ``budget_estimate`` / ``budget_po``, marker
``paymo:budget_estimate:<project id>`` / ``paymo:budget_po:<project id>`` in ``PrivateNote``): an
unchanged budget is a skip, a changed one a sparse update of the lines — unless the customer or
vendor already answered it (an accepted/closed estimate, a closed PO), which is then left alone —
and put to a human when it would overwrite what someone changed in QuickBooks since our last write
(``EDITED_IN_QUICKBOOKS``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal, TypeVar

from paymo_qb_mcp.domain.keys import add_marker, content_hash, marker
from paymo_qb_mcp.domain.matching import PaymoClientView, QboCustomerView, match_client
from paymo_qb_mcp.domain.money import ZERO, quantize
from paymo_qb_mcp.domain.plan import Change, FindingList, Plan
from paymo_qb_mcp.domain.tax import qty_and_unit_price
from paymo_qb_mcp.errors import NotFound
from paymo_qb_mcp.paymo import models as paymo_models
from paymo_qb_mcp.paymo.where import eq as paymo_eq
from paymo_qb_mcp.quickbooks import models as qbo_models
from paymo_qb_mcp.quickbooks.models import (
    CUSTOMER_MEMO_MAX_LENGTH,
    DESCRIPTION_MAX_LENGTH,
    PRIVATE_NOTE_MAX_LENGTH,
    PURCHASE_ORDER_MEMO_MAX_LENGTH,
)
from paymo_qb_mcp.sync.context import CompanyFacts, SyncContext
from paymo_qb_mcp.sync.customers import customer_for_invoice
from paymo_qb_mcp.sync.expenses import active_record
from paymo_qb_mcp.sync.invoices import exchange_rate_or_block
from paymo_qb_mcp.sync.qbo_edits import guard_overwrite
from paymo_qb_mcp.sync.timesheets import (
    ClientBilling,
    client_billing,
    expected_totals,
    hourly_rate,
    sales_tax,
    tax_override,
)

__all__ = [
    "BUDGET_TOOL",
    "ESTIMATE_LINK_KIND",
    "PO_LINK_KIND",
    "Budget",
    "BudgetKind",
    "BudgetLine",
    "budget_lines",
    "plan_budget",
]

BUDGET_TOOL: Final = "create_po_from_budget"
ESTIMATE_LINK_KIND: Final = "budget_estimate"
PO_LINK_KIND: Final = "budget_po"
BudgetKind = Literal["estimate", "purchase_order"]
Pushed = TypeVar("Pushed", qbo_models.Estimate, qbo_models.PurchaseOrder)

_ESTIMATE_VALID_DAYS: Final = 30
# What each ledger kind pushes: the entity a plan names and QBO's.
_RECORDS: Final = {
    ESTIMATE_LINK_KIND: ("estimate", "Estimate"),
    PO_LINK_KIND: ("purchase_order", "PurchaseOrder"),
}
# Plans whose API refuses purchase orders (error 5020); Plus and Advanced have them.
_NO_PURCHASE_ORDERS: Final = ("simple start", "essentials", "self-employed", "self employed")
# A customer or vendor has answered these; the budget no longer rewrites them.
_ANSWERED_ESTIMATE: Final = frozenset({"Accepted", "Closed", "Converted", "Rejected"})


# --------------------------------------------------------------------------------------------
# The budget (pure)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BudgetLine:
    """One line of a budget: hours × rate, or a fixed amount (``hours`` and ``rate`` None)."""

    description: str
    amount: Decimal
    hours: Decimal | None = None
    rate: Decimal | None = None
    task_id: int | None = None


@dataclass(frozen=True)
class Budget:
    """A project's budget as lines; ``total`` is their sum. ``problems`` block, ``notes`` inform."""

    kind: Literal["time_and_materials", "flat"]
    lines: tuple[BudgetLine, ...]
    notes: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()

    @property
    def total(self) -> Decimal:
        return sum((line.amount for line in self.lines), ZERO)


def _task_billable(task: paymo_models.Task, project: paymo_models.Project) -> bool:
    return task.billable if task.billable is not None else project.billable is not False


def _positive(value: Decimal | None) -> bool:
    return value is not None and value > 0


def budget_lines(
    project: paymo_models.Project,
    tasks: Sequence[paymo_models.Task],
    *,
    company_rate: Decimal | None,
    currency: str,
) -> Budget | None:
    """The budget of a Paymo project as lines (see the module docstring), or None when it has none."""
    ordered = sorted(tasks, key=lambda task: (task.seq or 0, task.id))
    if project.billable is False:
        return None
    if project.flat_billing:
        return _flat_budget(project, ordered, currency)
    return _hourly_budget(project, ordered, company_rate, currency)


def _flat_budget(
    project: paymo_models.Project, tasks: Sequence[paymo_models.Task], currency: str
) -> Budget | None:
    if not _positive(project.price):
        return None
    assert project.price is not None
    price = quantize(project.price, currency)
    priced = [
        (
            task,
            quantize(
                task.estimated_price if task.estimated_price is not None else task.price or ZERO, currency
            ),
        )
        for task in tasks
        if _task_billable(task, project) and (_positive(task.estimated_price) or _positive(task.price))
    ]
    split = sum((amount for _, amount in priced), ZERO)
    if not priced or split > price:
        notes: tuple[str, ...] = ()
        if priced:
            notes = (
                f"the tasks' prices add up to {split} {currency}, more than the project price {price}; the "
                "budget is one line of the project price",
            )
        hours = [f"{task.name} {task.budget_hours} h" for task in tasks if _positive(task.budget_hours)]
        text = f"{project.name}: fixed price"
        if hours:
            text += f" ({', '.join(hours)})"
        return Budget(kind="flat", lines=(BudgetLine(description=text, amount=price),), notes=notes)
    lines = [
        BudgetLine(
            description=f"{project.name}: {task.name or f'task {task.id}'}", amount=amount, task_id=task.id
        )
        for task, amount in priced
    ]
    if split < price:
        lines.append(BudgetLine(description=f"{project.name}: rest of the fixed price", amount=price - split))
    return Budget(kind="flat", lines=tuple(lines))


def _hourly_budget(
    project: paymo_models.Project,
    tasks: Sequence[paymo_models.Task],
    company_rate: Decimal | None,
    currency: str,
) -> Budget | None:
    lines: list[BudgetLine] = []
    notes: list[str] = []
    problems: list[str] = []
    budgeted = ZERO
    for task in tasks:
        name = task.name or f"task {task.id}"
        if task.flat_billing:
            if _task_billable(task, project) and _positive(task.price):
                assert task.price is not None
                lines.append(
                    BudgetLine(
                        description=f"{project.name}: {name} (fixed price)",
                        amount=quantize(task.price, currency),
                        task_id=task.id,
                    )
                )
            continue
        if not _positive(task.budget_hours):
            continue
        assert task.budget_hours is not None
        budgeted += task.budget_hours
        if not _task_billable(task, project):
            notes.append(f"{name}: {task.budget_hours} h budgeted on a non-billable task, not estimated")
            continue
        rate = hourly_rate(
            project.hourly_billing_mode,
            user=None,
            task=task.price_per_hour,
            project=project.price_per_hour,
            company=company_rate,
        )
        if rate is None:
            problems.append(f"task {name!r} has budget hours but no hourly rate (task, project or company)")
            continue
        lines.append(
            BudgetLine(
                description=f"{project.name}: {name}, {task.budget_hours} h",
                amount=quantize(task.budget_hours * rate[0], currency),
                hours=task.budget_hours,
                rate=rate[0],
                task_id=task.id,
            )
        )
    if _positive(project.budget_hours):
        assert project.budget_hours is not None
        remainder = project.budget_hours - budgeted
        if remainder < 0:
            notes.append(
                f"the tasks' budgets ({budgeted} h) exceed the project's {project.budget_hours} h; the "
                "estimate "
                "follows the tasks"
            )
        elif remainder > 0:
            rate = hourly_rate(
                project.hourly_billing_mode,
                user=None,
                task=None,
                project=project.price_per_hour,
                company=company_rate,
            )
            if rate is None:
                problems.append(
                    f"project {project.name!r} has budget hours but no hourly rate (project or company)"
                )
            else:
                label = "budget" if budgeted == 0 else "rest of the budget"
                lines.append(
                    BudgetLine(
                        description=f"{project.name}: {label}, {remainder} h",
                        amount=quantize(remainder * rate[0], currency),
                        hours=remainder,
                        rate=rate[0],
                    )
                )
    if not lines and not problems:
        return None
    return Budget(kind="time_and_materials", lines=tuple(lines), notes=tuple(notes), problems=tuple(problems))


def _budget_hash(
    kind: BudgetKind,
    project: paymo_models.Project,
    tasks: Sequence[paymo_models.Task],
    company_rate: Decimal | None,
) -> str:
    """What the budget is made of in Paymo (never QBO ids or today's date)."""
    return content_hash(
        {
            "kind": kind,
            "project": {
                "name": project.name,
                "client_id": project.client_id,
                "billable": project.billable,
                "flat_billing": project.flat_billing,
                "price": project.price,
                "price_per_hour": project.price_per_hour,
                "budget_hours": project.budget_hours,
                "hourly_billing_mode": project.hourly_billing_mode,
            },
            "tasks": [
                {
                    "id": task.id,
                    "name": task.name,
                    "billable": task.billable,
                    "flat_billing": task.flat_billing,
                    "budget_hours": task.budget_hours,
                    "price_per_hour": task.price_per_hour,
                    "estimated_price": task.estimated_price,
                    "price": task.price,
                }
                for task in sorted(tasks, key=lambda task: task.id)
            ],
            "company_rate": company_rate,
        }
    )


# --------------------------------------------------------------------------------------------
# The planner
# --------------------------------------------------------------------------------------------


@dataclass
class _Context:
    ctx: SyncContext
    facts: CompanyFacts
    project: paymo_models.Project
    budget: Budget
    billing: ClientBilling
    kind: BudgetKind
    digest: str
    findings: FindingList
    record: str
    txn_date: dt.date


async def plan_budget(ctx: SyncContext, *, paymo_project_id: int, kind: BudgetKind = "estimate") -> Plan:
    """Plan the QBO Estimate or PurchaseOrder of one Paymo project's budget; writes nothing.

    First time → create; unchanged budget → skip; changed → sparse update of the lines (unless the
    QBO record was answered); no budget → a finding and no change.
    """
    findings = FindingList()
    record = f"paymo:project:{paymo_project_id}"
    try:
        project = await ctx.paymo.get_project(paymo_project_id)
    except NotFound:
        findings.block("NOT_FOUND", f"Paymo has no project {paymo_project_id}", record)
        return Plan.build(BUDGET_TOOL, [], findings=findings)
    if project.client_id is None:
        findings.block("NO_CLIENT", f"Paymo project {project.name!r} has no client", record)
        return Plan.build(BUDGET_TOOL, [], findings=findings)
    facts = await ctx.facts()
    tasks = await ctx.paymo.list_tasks(where=paymo_eq("project_id", project.id))
    company = await ctx.data.paymo_company()
    company_rate = company.default_hourly_rate
    billing = await client_billing(ctx, project.client_id)
    budget = budget_lines(project, tasks, company_rate=company_rate, currency=billing.currency)
    if budget is None:
        findings.warn(
            "NO_BUDGET",
            f"Paymo project {project.name!r} has no budget (no budget hours, no task budgets, no fixed price)"
            + (" and is not billable" if project.billable is False else "")
            + "; there is nothing to turn into a QuickBooks "
            + ("estimate" if kind == "estimate" else "purchase order"),
            record,
        )
        return Plan.build(BUDGET_TOOL, [], findings=findings)
    for problem in budget.problems:
        findings.block("NO_RATE", f"Paymo project {project.name!r}: {problem}; set it in Paymo", record)
    for note in budget.notes:
        findings.inform("BUDGET_NOTE", f"Paymo project {project.name!r}: {note}", record)
    txn_date = ctx.now().astimezone(facts.paymo_timezone).date()
    run = _Context(
        ctx=ctx,
        facts=facts,
        project=project,
        budget=budget,
        billing=billing,
        kind=kind,
        digest=_budget_hash(kind, project, tasks, company_rate),
        findings=findings,
        record=record,
        txn_date=txn_date,
    )
    if facts.in_closed_period(txn_date):
        findings.block(
            "CLOSED_PERIOD",
            f"today ({txn_date}) is on or before the QuickBooks book close date {facts.book_close_date} "
            "(error "
            "6210)",
            record,
        )
    changes = await (_plan_estimate(run) if kind == "estimate" else _plan_purchase_order(run))
    totals = {billing.currency: budget.total} if any(change.writes for change in changes) else {}
    return Plan.build(BUDGET_TOOL, changes, findings=findings, totals=totals)


async def _exchange(run: _Context) -> tuple[bool, Decimal | None]:
    """Whether the currency can be used, and its exchange rate when foreign (blockers otherwise)."""
    currency, facts = run.billing.currency, run.facts
    if currency == facts.home_currency:
        return True, None
    if not facts.multicurrency:
        run.findings.block(
            "MULTICURRENCY_OFF",
            f"the budget of {run.project.name!r} is in {currency}, but QuickBooks multicurrency is off; "
            "turn it "
            "on in QuickBooks first",
            run.record,
        )
        return False, None
    rate = await exchange_rate_or_block(
        run.ctx, currency, run.txn_date, run.findings, carrier="the record", record=run.record
    )
    if rate is None:
        return False, None
    return True, rate


def _private_note(run: _Context, link_kind: str) -> str:
    """The record's PrivateNote: what it is, with the marker that links it to the project."""
    project = run.project
    return add_marker(
        f"Budget of Paymo project {project.name} ({project.id})",
        link_kind,
        project.id,
        max_length=PRIVATE_NOTE_MAX_LENGTH,
    )


def _add_currency(
    run: _Context, rate: Decimal | None, payload: dict[str, Any], expect: dict[str, Any]
) -> None:
    """The budget's currency (in a multicurrency company) and exchange rate, sent and read back."""
    if run.facts.multicurrency:
        payload["CurrencyRef"] = {"value": run.billing.currency}
        expect["CurrencyRef.value"] = run.billing.currency
    if rate is not None:
        payload["ExchangeRate"] = rate
        expect["ExchangeRate"] = rate


def _existing(run: _Context, link_kind: str) -> tuple[Literal["create", "skip", "update"], str | None]:
    link = run.ctx.ledger.link(link_kind, run.project.id)
    if link is None:
        return "create", None
    if link.content_hash == run.digest:
        return "skip", link.qbo_id
    return "update", link.qbo_id


def _skip(run: _Context, link_kind: str, qbo_id: str, reason: str) -> Change:
    entity, _ = _RECORDS[link_kind]
    return Change(
        action="skip",
        entity=entity,
        paymo_id=run.project.id,
        qbo_id=qbo_id,
        summary=f"The budget of Paymo project {run.project.name!r} is QuickBooks {entity} {qbo_id}",
        reason=reason,
        link_kind=link_kind,
    )


def _create(
    run: _Context,
    link_kind: str,
    *,
    payload: dict[str, Any],
    after: dict[str, Any],
    expect: dict[str, Any],
    summary: str,
) -> Change:
    entity, wire_entity = _RECORDS[link_kind]
    return Change(
        action="create",
        entity=entity,
        paymo_id=run.project.id,
        after=after,
        payload=payload,
        summary=summary,
        reason="the budget was never pushed",
        wire_entity=wire_entity,
        link_kind=link_kind,
        content_hash=run.digest,
        lookup={"where": {"TxnDate": run.txn_date.isoformat()}, "marker": marker(link_kind, run.project.id)},
        expect=expect,
    )


def _update(
    run: _Context,
    link_kind: str,
    current: Pushed,
    *,
    before: dict[str, Any],
    after: dict[str, Any],
    payload: dict[str, Any],
    expect: dict[str, Any],
    summary: str,
) -> Change:
    """The sparse update of ``current``, put to a human when it would overwrite an edit made in QuickBooks."""
    assert current.Id is not None
    entity, wire_entity = _RECORDS[link_kind]
    after = dict(after)
    guard_overwrite(
        run.ctx.ledger.link(link_kind, run.project.id),
        current,
        payload,
        before=before,
        after=after,
        target=f"QuickBooks {entity.replace('_', ' ')} {current.Id}",
        source=f"the budget of Paymo project {run.project.name!r}",
        record=run.record,
        findings=run.findings,
    )
    return Change(
        action="update",
        entity=entity,
        paymo_id=run.project.id,
        qbo_id=current.Id,
        before=before,
        after=after,
        payload=payload,
        summary=summary,
        reason="the budget changed in Paymo since it was pushed",
        wire_entity=wire_entity,
        link_kind=link_kind,
        content_hash=run.digest,
        sync_token=current.SyncToken,
        expect=expect,
    )


# --------------------------------------------------------------------------------------------
# Estimate
# --------------------------------------------------------------------------------------------


async def _plan_estimate(run: _Context) -> list[Change]:
    ctx, findings, facts, project = run.ctx, run.findings, run.facts, run.project
    action, qbo_id = _existing(run, ESTIMATE_LINK_KIND)
    if action == "skip":
        assert qbo_id is not None
        return [_skip(run, ESTIMATE_LINK_KIND, qbo_id, "the budget is unchanged since it was pushed")]
    assert project.client_id is not None
    customer = await customer_for_invoice(ctx, project.client_id, run.billing.currency)
    findings.extend(customer.findings)
    tax = await sales_tax(ctx, facts, run.billing, findings, run.record)
    item = await active_record(
        ctx, qbo_models.Item, ctx.mappings.service_item, purpose="mappings.service_item", findings=findings
    )
    usable, rate = await _exchange(run)
    if (
        not usable
        or tax is None
        or item is None
        or item.Id is None
        or customer.blocked
        or customer.customer_ref is None
        or findings.blocks(run.record)
        or run.budget.problems
    ):
        return []
    currency = run.billing.currency
    lines = [_sales_line(line, item.Id, tax.code_id, currency) for line in run.budget.lines]
    totals = expected_totals(tax, [line.amount for line in run.budget.lines], currency)
    override = tax_override(tax, totals)
    note = _private_note(run, ESTIMATE_LINK_KIND)
    memo = f"Estimate for {project.name}"[:CUSTOMER_MEMO_MAX_LENGTH]
    expiry = run.txn_date + dt.timedelta(days=_ESTIMATE_VALID_DAYS)
    expect: dict[str, Any] = {"Line.count": len(lines) + 1}  # QBO appends its subtotal line
    if totals is not None:
        expect["TotalAmt"] = totals.total
        expect["TxnTaxDetail.TotalTax"] = totals.total_tax
    amount = totals.total if totals is not None else run.budget.total
    after: dict[str, Any] = {
        "amount": amount,
        "currency": currency,
        "txn_date": run.txn_date,
        "budget": run.budget.total,
        "budget_kind": run.budget.kind,
        "lines": len(lines),
        "taxes_from": run.billing.source,
    }
    if action == "update":
        assert qbo_id is not None
        return await _update_estimate(run, qbo_id, lines, override, memo, note, expiry, expect, after)
    payload: dict[str, Any] = {
        "CustomerRef": {"value": customer.customer_ref},
        "TxnDate": run.txn_date.isoformat(),
        "ExpirationDate": expiry.isoformat(),
        "TxnStatus": "Pending",
        "EmailStatus": "NotSet",
        "PrintStatus": "NotSet",
        "CustomerMemo": {"value": memo},
        "PrivateNote": note,
        "Line": lines,
    }
    if override is not None:
        payload["TxnTaxDetail"] = override
    _add_currency(run, rate, payload, expect)
    if facts.tax_model == "global":
        # Paymo rates and prices are net of tax.
        payload["GlobalTaxCalculation"] = "TaxExcluded"
    if customer.customer_id is not None:
        expect["CustomerRef.value"] = customer.customer_id
    create = _create(
        run,
        ESTIMATE_LINK_KIND,
        payload=payload,
        after=after,
        expect=expect,
        summary=(
            f"Create a QuickBooks estimate from the budget of Paymo project {project.name!r}: {currency} "
            f"{run.budget.total} before tax in {len(lines)} line{'' if len(lines) == 1 else 's'}"
        ),
    )
    return [*customer.changes, create]


async def _update_estimate(
    run: _Context,
    qbo_id: str,
    lines: list[dict[str, Any]],
    override: dict[str, Any] | None,
    memo: str,
    note: str,
    expiry: dt.date,
    expect: dict[str, Any],
    after: dict[str, Any],
) -> list[Change]:
    current = await _linked(run, qbo_models.Estimate, qbo_id, ESTIMATE_LINK_KIND)
    if current is None:
        return []
    if current.TxnStatus in _ANSWERED_ESTIMATE:
        run.findings.warn(
            "ANSWERED",
            f"the budget of {run.project.name!r} changed, but QuickBooks estimate {qbo_id} is "
            f"{current.TxnStatus}; it is left as it is (create a new estimate in QuickBooks if the client "
            "must see the new budget)",
            run.record,
        )
        return [_skip(run, ESTIMATE_LINK_KIND, qbo_id, f"the estimate is {current.TxnStatus}")]
    if not _same_currency(run, current.CurrencyRef, qbo_id):
        return []
    payload: dict[str, Any] = {
        "Line": lines,
        "ExpirationDate": expiry.isoformat(),
        "CustomerMemo": {"value": memo},
        "PrivateNote": note,
        # QBO recomputes tax from the new lines, so a US override travels with them.
        **({"TxnTaxDetail": override} if override is not None else {}),
    }
    before: dict[str, Any] = {"TotalAmt": current.TotalAmt, "ExpirationDate": current.ExpirationDate}
    update = _update(
        run,
        ESTIMATE_LINK_KIND,
        current,
        before=before,
        after=after,
        payload=payload,
        expect=expect,
        summary=(
            f"Update QuickBooks estimate {qbo_id} to the new budget of Paymo project {run.project.name!r}: "
            f"{run.billing.currency} {run.budget.total} before tax"
        ),
    )
    return [update]


def _qty_and_price(line: BudgetLine, currency: str) -> tuple[Decimal, Decimal]:
    """An item line's Qty and UnitPrice: hours × rate as QBO's rule 6070 takes them, else 1 × the amount."""
    if line.hours is not None and line.rate is not None:
        qty, unit_price, _ = qty_and_unit_price(line.hours, line.rate, line.amount, currency)
        return qty, unit_price
    return Decimal(1), line.amount


def _sales_line(line: BudgetLine, item_id: str, tax_code_id: str, currency: str) -> dict[str, Any]:
    qty, unit_price = _qty_and_price(line, currency)
    return {
        "DetailType": "SalesItemLineDetail",
        "Amount": line.amount,
        "Description": line.description[:DESCRIPTION_MAX_LENGTH],
        "SalesItemLineDetail": {
            "ItemRef": {"value": item_id},
            "Qty": qty,
            "UnitPrice": unit_price,
            "TaxCodeRef": {"value": tax_code_id},
        },
    }


async def _linked(run: _Context, model: type[Pushed], qbo_id: str, link_kind: str) -> Pushed | None:
    """The linked QBO record, when it still exists and still carries our marker (blockers otherwise)."""
    try:
        current = await run.ctx.qbo.read(model, qbo_id)
    except NotFound:
        run.findings.block(
            "LINKED_RECORD_MISSING",
            f"the budget of {run.project.name!r} was pushed as QuickBooks {model.entity_name} {qbo_id}, "
            "which no "
            f"longer exists; remove the link (kind {link_kind}) to push it again",
            run.record,
        )
        return None
    tag = marker(link_kind, run.project.id)
    if tag not in (current.PrivateNote or ""):
        run.findings.block(
            "LINKED_RECORD_NOT_OURS",
            f"QuickBooks {model.entity_name} {qbo_id} no longer carries the marker {tag}; it is not updated. "
            "Check which record belongs to the budget and fix the link",
            run.record,
        )
        return None
    return current


def _same_currency(run: _Context, ref: qbo_models.Ref | None, qbo_id: str) -> bool:
    current = run.facts.currency_of(ref)
    if current == run.billing.currency:
        return True
    run.findings.block(
        "CURRENCY_CHANGED",
        f"the budget of {run.project.name!r} is now in {run.billing.currency}, but QuickBooks record "
        f"{qbo_id} is in "
        f"{current}, and a transaction's currency cannot change",
        run.record,
    )
    return False


# --------------------------------------------------------------------------------------------
# PurchaseOrder
# --------------------------------------------------------------------------------------------


async def _plan_purchase_order(run: _Context) -> list[Change]:
    findings, facts, project = run.findings, run.facts, run.project
    action, qbo_id = _existing(run, PO_LINK_KIND)
    if action == "skip":
        assert qbo_id is not None
        return [_skip(run, PO_LINK_KIND, qbo_id, "the budget is unchanged since it was pushed")]
    if not await _purchase_orders_available(run):
        return []
    vendor = await _vendor(run)
    if vendor is None or vendor.Id is None:
        return []
    currency = run.billing.currency
    vendor_currency = facts.currency_of(vendor.CurrencyRef)
    if vendor_currency != currency:
        findings.block(
            "VENDOR_CURRENCY",
            f"the budget of {project.name!r} is in {currency}, but vendor {vendor.DisplayName!r} is in "
            f"{vendor_currency}, and a purchase order is always in its vendor's currency: map a {currency} "
            "vendor in mappings.purchase_order_vendor",
            run.record,
        )
        return []
    usable, rate = await _exchange(run)
    payable = await _payable_account(run, currency)
    line_kind = await _po_lines(run)
    if (
        not usable
        or payable is None
        or line_kind is None
        or findings.blocks(run.record)
        or run.budget.problems
    ):
        return []
    lines = [line_kind(line) for line in run.budget.lines]
    note = _private_note(run, PO_LINK_KIND)
    memo = f"Purchase order for {project.name}: budget {currency} {run.budget.total}"
    memo = memo[:PURCHASE_ORDER_MEMO_MAX_LENGTH]
    expect: dict[str, Any] = {
        "TotalAmt": run.budget.total,
        "Line.count": len(lines),
        "VendorRef.value": vendor.Id,
    }
    after: dict[str, Any] = {
        "amount": run.budget.total,
        "currency": currency,
        "txn_date": run.txn_date,
        "vendor": vendor.DisplayName,
        "budget_kind": run.budget.kind,
        "lines": len(lines),
    }
    if action == "update":
        assert qbo_id is not None
        current = await _linked(run, qbo_models.PurchaseOrder, qbo_id, PO_LINK_KIND)
        if current is None:
            return []
        if current.POStatus == "Closed":
            findings.warn(
                "ANSWERED",
                f"the budget of {project.name!r} changed, but QuickBooks purchase order {qbo_id} is "
                "closed; it is "
                "left as it is",
                run.record,
            )
            return [_skip(run, PO_LINK_KIND, qbo_id, "the purchase order is closed")]
        if not _same_currency(run, current.CurrencyRef, qbo_id):
            return []
        update = _update(
            run,
            PO_LINK_KIND,
            current,
            before={"TotalAmt": current.TotalAmt, "VendorRef.value": vendor.Id},
            after=after,
            payload={"Line": lines, "Memo": memo, "PrivateNote": note},
            expect=expect,
            summary=(
                f"Update QuickBooks purchase order {qbo_id} to the new budget of Paymo project "
                f"{project.name!r}: {currency} {run.budget.total}"
            ),
        )
        return [update]
    payload: dict[str, Any] = {
        "VendorRef": {"value": vendor.Id},
        "APAccountRef": {"value": payable},
        "TxnDate": run.txn_date.isoformat(),
        "POStatus": "Open",
        "Memo": memo,
        "PrivateNote": note,
        "Line": lines,
    }
    _add_currency(run, rate, payload, expect)
    if facts.tax_model == "global":
        # A budget carries no purchase tax; the vendor's bill will.
        payload["GlobalTaxCalculation"] = "NotApplicable"
    create = _create(
        run,
        PO_LINK_KIND,
        payload=payload,
        after=after,
        expect=expect,
        summary=(
            f"Create a QuickBooks purchase order to {vendor.DisplayName!r} from the budget of Paymo project "
            f"{project.name!r}: {currency} {run.budget.total} in {len(lines)} "
            f"line{'' if len(lines) == 1 else 's'}"
        ),
    )
    return [create]


async def _purchase_orders_available(run: _Context) -> bool:
    """False with a blocker when the company's plan or settings refuse purchase orders (error 5020)."""
    info = await run.ctx.data.company_info()
    sku = next((pair.Value or "" for pair in info.NameValue or [] if pair.Name == "OfferingSku"), "")
    if any(name in sku.lower() for name in _NO_PURCHASE_ORDERS):
        run.findings.block(
            "FEATURE_UNAVAILABLE",
            f"this QuickBooks company is on {sku}, which has no purchase orders (error 5020: they need "
            "QuickBooks Online Plus or Advanced); create an estimate instead, or upgrade the plan",
            run.record,
        )
        return False
    prefs = await run.ctx.data.preferences()
    others = prefs.OtherPrefs.NameValue if prefs.OtherPrefs is not None else None
    enabled = next(
        (pair.Value for pair in others or [] if pair.Name == "VendorAndPurchasesPrefs.PurchaseOrderEnabled"),
        None,
    )
    if enabled is not None and enabled.strip().lower() == "false":
        run.findings.block(
            "FEATURE_UNAVAILABLE",
            "purchase orders are turned off in this QuickBooks company (Settings → Account and settings → "
            "Expenses → Purchase orders); turn them on to create one",
            run.record,
        )
        return False
    return True


async def _vendor(run: _Context) -> qbo_models.Vendor | None:
    """``mappings.purchase_order_vendor``: by Id, or by name matched like customers are."""
    ref = run.ctx.mappings.purchase_order_vendor
    findings = run.findings
    if ref is None:
        findings.block(
            "MAPPING_MISSING",
            "policies.yaml has no mappings.purchase_order_vendor: name the QuickBooks vendor that purchase "
            "orders from budgets go to",
            run.record,
        )
        return None
    if ref.id is not None:
        return await active_record(
            run.ctx, qbo_models.Vendor, ref, purpose="mappings.purchase_order_vendor", findings=findings
        )
    assert ref.name is not None  # QboRef guarantees an id or a name
    await run.ctx.data.confirm_current()
    vendors = await run.ctx.data.qbo_list(qbo_models.Vendor)
    views = [
        QboCustomerView(
            id=vendor.Id,
            display_name=vendor.DisplayName or vendor.CompanyName or "",
            company_name=vendor.CompanyName,
            email=vendor.PrimaryEmailAddr.Address if vendor.PrimaryEmailAddr else None,
            active=vendor.Active is not False,
            currency=vendor.CurrencyRef.value if vendor.CurrencyRef else None,
        )
        for vendor in vendors
        if vendor.Id is not None
    ]
    match = match_client(PaymoClientView(id=run.project.id, name=ref.name), views)
    if match.decision == "ambiguous":
        names = "; ".join(f"{c.display_name!r} (Id {c.id}, score {c.score:.2f})" for c in match.candidates)
        findings.block(
            "AMBIGUOUS_VENDOR",
            f"mappings.purchase_order_vendor {ref.name!r} could be any of these QuickBooks vendors: "
            f"{names}; give "
            "its id in policies.yaml",
            run.record,
        )
        return None
    if match.customer is None:
        findings.block(
            "NO_VENDOR",
            f"no QuickBooks vendor matches mappings.purchase_order_vendor {ref.name!r}; create it in "
            "QuickBooks or "
            "fix the name in policies.yaml",
            run.record,
        )
        return None
    chosen = next(vendor for vendor in vendors if vendor.Id == match.customer.id)
    if chosen.Active is False:
        findings.block(
            "INACTIVE_REF",
            f"QuickBooks vendor {chosen.DisplayName!r} (Id {chosen.Id}) is inactive and QuickBooks refuses "
            "purchase "
            "orders to it (error 610): reactivate it",
            run.record,
        )
        return None
    if (chosen.DisplayName or "") != ref.name:
        findings.inform(
            "VENDOR_MATCHED",
            f"mappings.purchase_order_vendor {ref.name!r} is QuickBooks vendor {chosen.DisplayName!r} (Id "
            f"{chosen.Id}): {'; '.join(match.candidates[0].reasons) if match.candidates else 'matched'}",
            run.record,
        )
    return chosen


async def _payable_account(run: _Context, currency: str) -> str | None:
    """The active A/P account in ``currency`` (QBO keeps one per currency), or None with a blocker."""
    accounts = await run.ctx.data.qbo_list(qbo_models.Account)
    usable = [
        account
        for account in accounts
        if account.AccountType == "Accounts Payable"
        and account.Active is not False
        and account.Id is not None
        and run.facts.currency_of(account.CurrencyRef) == currency
    ]
    if not usable:
        run.findings.block(
            "NO_PAYABLE_ACCOUNT",
            f"QuickBooks has no active Accounts Payable account in {currency} for the purchase order",
            run.record,
        )
        return None
    return min(usable, key=lambda account: int(account.Id or 0) if (account.Id or "").isdigit() else 0).Id


async def _po_lines(run: _Context) -> Callable[[BudgetLine], dict[str, Any]] | None:
    """A function building one PO line from a budget line: item lines when the service item can be
    bought, account lines on the default expense account otherwise; None with a blocker."""
    ctx, findings = run.ctx, run.findings
    item = await active_record(
        ctx, qbo_models.Item, ctx.mappings.service_item, purpose="mappings.service_item", findings=findings
    )
    if item is None or item.Id is None:
        return None
    currency = run.billing.currency
    if item.ExpenseAccountRef is not None:
        item_id = item.Id

        def item_line(line: BudgetLine) -> dict[str, Any]:
            qty, unit_price = _qty_and_price(line, currency)
            return {
                "DetailType": "ItemBasedExpenseLineDetail",
                "Amount": line.amount,
                "Description": line.description[:DESCRIPTION_MAX_LENGTH],
                "ItemBasedExpenseLineDetail": {
                    "ItemRef": {"value": item_id},
                    "Qty": qty,
                    "UnitPrice": unit_price,
                },
            }

        return item_line
    accounts = ctx.mappings.expense_accounts
    if accounts is None:
        findings.block(
            "MAPPING_MISSING",
            f"the service item {item.Name!r} cannot be purchased (it has no expense account) and "
            "policies.yaml "
            "has no mappings.expense_accounts.default for account lines",
            run.record,
        )
        return None
    account = await active_record(
        ctx,
        qbo_models.Account,
        accounts.default,
        purpose="mappings.expense_accounts.default",
        findings=findings,
    )
    if account is None or account.Id is None:
        return None
    findings.inform(
        "PO_ACCOUNT_LINES",
        f"the service item {item.Name!r} has no purchase details, so the purchase order's lines go to "
        "expense "
        f"account {account.FullyQualifiedName or account.Name!r}",
        run.record,
    )
    account_id = account.Id

    def account_line(line: BudgetLine) -> dict[str, Any]:
        return {
            "DetailType": "AccountBasedExpenseLineDetail",
            "Amount": line.amount,
            "Description": line.description[:DESCRIPTION_MAX_LENGTH],
            "AccountBasedExpenseLineDetail": {"AccountRef": {"value": account_id}},
        }

    return account_line
