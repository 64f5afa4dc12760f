"""The MCP tools: six governed write tools and two read-only ones, with schemas and annotations.

Each write tool has two resolvers the SDK runs before its body: ``plan_*`` (read both systems,
build the plan, ask the policy) and a confirm resolver (ask the human through elicitation when the
policy says confirm and the client can). The body (``governance.run_write``) applies or stores a
pending approval. Resolver annotations are real objects, not strings, because the SDK evaluates
them to build the dependency graph. What the annotations name is light; what a call needs (the sync
core, the selection logic) is imported by the call.
"""

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

from mcp.server import MCPServer
from mcp.server.elicitation import ElicitationResult
from mcp.server.mcpserver import Context, Elicit, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from paymo_qb_mcp.domain.money import quantize
from paymo_qb_mcp.errors import PaymoQbError
from paymo_qb_mcp.server.arguments import (
    DAY_RANGE,
    MAX_SELECTED_IDS,
    ApprovalIdText,
    Day,
    PaymoId,
    QboId,
)
from paymo_qb_mcp.server.governance import (
    Approval,
    NoQuestion,
    Prepared,
    ask_human,
    prepare,
    run_write,
    runtime_of,
)
from paymo_qb_mcp.server.outputs import (
    CandidateOut,
    ClientMatchResult,
    CustomerRefOut,
    InvoiceRecordResult,
    InvoiceSyncResult,
    SelectionWriteResult,
    WriteResult,
)
from paymo_qb_mcp.server.reports import ReconciliationOut, SyncStatusOut, reconciliation_out, status_out

if TYPE_CHECKING:
    from paymo_qb_mcp.domain.plan import Plan
    from paymo_qb_mcp.sync.executor import ApplyOutcome
    from paymo_qb_mcp.sync.items import ItemizedPlan

__all__ = ["MAX_SELECTED_IDS", "TOOL_NAMES", "register_tools"]

# Every argument's bounds are declared here, from `server.arguments` (ids, lengths, list sizes, dates), so
# clients see them in the input schemas and the SDK refuses what is out of bounds before a tool runs.

DryRun = Annotated[
    bool,
    Field(description="true: only plan and return the changes; nothing is written and no approval is asked."),
]
ApprovalId = Annotated[
    ApprovalIdText | None,
    Field(
        description="The id of an approval a human gave out of band (`paymo-qb-mcp approve ID`, an id such "
        "as apr_7K2M9Q). Pass it only when a previous call returned pending_approval and the human says it "
        "is approved."
    ),
]
DateFrom = Annotated[Day, Field(description=f"First day of the period (YYYY-MM-DD, {DAY_RANGE}), inclusive.")]
DateTo = Annotated[Day, Field(description=f"Last day of the period (YYYY-MM-DD, {DAY_RANGE}), inclusive.")]
# The groupings aggregate_time knows, and a list of them at most that long.
MAX_GROUPINGS: Final = 4
# The Paymo invoice statuses, and a list of them at most that long.
MAX_STATUSES: Final = 5

# Writes are safe to repeat: a re-sync never duplicates (idempotent).
WRITE_HINTS: dict[str, bool] = {
    "read_only_hint": False,
    "destructive_hint": False,
    "idempotent_hint": True,
    "open_world_hint": True,
}
READ_HINTS: dict[str, bool] = {
    "read_only_hint": True,
    "destructive_hint": False,
    "idempotent_hint": True,
    "open_world_hint": True,
}


def _money(value: Decimal | None, currency: str) -> str | None:
    """A decimal string in the currency's minor unit: 6898.5 from Paymo's JSON reads 6898.50."""
    return None if value is None else str(quantize(value, currency))


def _confirm_resolver(
    plan_resolver: Callable[..., Awaitable[Prepared]],
) -> Callable[..., Elicit[Approval] | NoQuestion]:
    """The confirm step of one tool: depends on that tool's planning resolver."""

    def confirm(prepared: Prepared, ctx: Context) -> Elicit[Approval] | NoQuestion:
        return ask_human(ctx, prepared)

    confirm.__annotations__ = {
        "prepared": Annotated[Prepared, Resolve(plan_resolver)],
        "ctx": Context,
        "return": Elicit[Approval] | NoQuestion,
    }
    confirm.__qualname__ = f"confirm_{plan_resolver.__name__}"
    return confirm


def _tool_error(error: PaymoQbError) -> ToolError:
    return ToolError(error.for_agent())


async def _prepare_set(
    ctx: Context,
    tool: str,
    arguments: dict[str, Any],
    planner: "Callable[[], Awaitable[ItemizedPlan]]",
) -> Prepared:
    """A tool over a set (payments, expenses, time): planned item by item, decided per item, combined."""
    from paymo_qb_mcp.server.selection import prepare_items

    return await prepare_items(ctx, tool, arguments, planner)


async def _run_set(ctx: Context, prepared: Prepared, confirmation: Any) -> SelectionWriteResult:
    """The body of a tool over a set: the common result, with ``results`` item by item."""
    combined = prepared.extra["selection"]

    def fields(outcome: "ApplyOutcome | None", base: dict[str, Any]) -> dict[str, Any]:
        from paymo_qb_mcp.server.selection import item_results

        return {"results": item_results(combined, outcome, str(base["status"]))}

    result = await run_write(ctx, prepared, confirmation, SelectionWriteResult, fields)
    assert isinstance(result, SelectionWriteResult)
    return result


# --- find_client_match ------------------------------------------------------------------------


async def plan_find_client_match(
    paymo_client_id: int,
    create_if_missing: bool,
    update_details: bool,
    qbo_customer_id: str | None,
    dry_run: bool,
    approval_id: str | None,
    ctx: Context,
) -> Prepared:
    service = (await runtime_of(ctx)).service

    async def planner() -> "tuple[Plan, dict[str, Any]]":
        found = await service.plan_client_match(
            paymo_client_id,
            create_if_missing=create_if_missing,
            update_details=update_details,
            qbo_customer_id=qbo_customer_id,
        )
        return found.plan, {"match": found.match}

    return await prepare(
        ctx,
        "find_client_match",
        {
            "paymo_client_id": paymo_client_id,
            "create_if_missing": create_if_missing,
            "update_details": update_details,
            "qbo_customer_id": qbo_customer_id,
            "dry_run": dry_run,
            "approval_id": approval_id,
        },
        planner,
    )


async def find_client_match(
    paymo_client_id: Annotated[PaymoId, Field(description="The Paymo client id.")],
    prepared: Annotated[Prepared, Resolve(plan_find_client_match)],
    confirmation: Annotated[ElicitationResult[Approval], Resolve(_confirm_resolver(plan_find_client_match))],
    ctx: Context,
    create_if_missing: Annotated[
        bool,
        Field(description="Create the QuickBooks customer when no candidate matches (never when ambiguous)."),
    ] = False,
    update_details: Annotated[
        bool, Field(description="Also update the linked customer's e-mail, phone and address from Paymo.")
    ] = False,
    qbo_customer_id: Annotated[
        QboId | None,
        Field(
            description="Link to this QuickBooks customer id — only when the human chose it, e.g. among "
            "the candidates of an ambiguous result."
        ),
    ] = None,
    dry_run: DryRun = False,
    approval_id: ApprovalId = None,
) -> ClientMatchResult:
    """Find the QuickBooks Online customer that is the same organisation as a Paymo client.

    Ranks customers by, in order of strength: a stored link, a Paymo marker in the customer's notes,
    the primary e-mail, the normalised name (case, accents, '&'/'and', legal suffixes) and fuzzy
    similarity; every candidate has a 0–1 score and its reasons. decision is 'matched' only when one
    candidate is unambiguous ('ambiguous' lists the close ones; 'none' when nothing fits). Customers
    sharing a name but with different e-mail domains or addresses are different organisations and
    are never matched. Without dry_run a match is stored as a link; with create_if_missing=true a
    missing customer is created (usually needs human approval); with qbo_customer_id the customer the
    human picked is linked. Reading is always allowed.
    """
    match = prepared.extra["match"]

    def fields(_outcome: "ApplyOutcome | None", _base: dict[str, Any]) -> dict[str, Any]:
        customer = match.customer
        return {
            "decision": match.decision,
            "customer": None
            if customer is None
            else CustomerRefOut(id=customer.id, display_name=customer.display_name),
            "candidates": [
                CandidateOut(id=c.id, display_name=c.display_name, score=c.score, reasons=list(c.reasons))
                for c in match.candidates
            ],
        }

    result = await run_write(
        ctx, prepared, confirmation, ClientMatchResult, fields, blocked_noop_is_answer=True
    )
    assert isinstance(result, ClientMatchResult)
    return result


# --- sync_invoice -----------------------------------------------------------------------------

InvoiceStatusName = Literal["draft", "sent", "viewed", "paid", "void"]


async def plan_sync_invoice(
    paymo_invoice_id: int | None,
    paymo_invoice_ids: list[int] | None,
    date_from: dt.date | None,
    date_to: dt.date | None,
    statuses: list[InvoiceStatusName] | None,
    dry_run: bool,
    approval_id: str | None,
    ctx: Context,
) -> Prepared:
    service = (await runtime_of(ctx)).service
    ways = [
        paymo_invoice_id is not None,
        bool(paymo_invoice_ids),
        date_from is not None or date_to is not None,
    ]
    if sum(ways) != 1:
        raise ToolError(
            "INPUT: give exactly one of paymo_invoice_id (one invoice), paymo_invoice_ids (a list of "
            "invoices) or date_from and date_to (every invoice dated in that period)"
        )
    if paymo_invoice_id is not None:
        if statuses:
            raise ToolError("INPUT: statuses narrows a period (date_from/date_to); drop it for one invoice")

        async def planner() -> "tuple[Plan, dict[str, Any]]":
            found = await service.plan_invoice(paymo_invoice_id)
            return found.plan, {"invoice": found}

        return await prepare(
            ctx,
            "sync_invoice",
            {"paymo_invoice_id": paymo_invoice_id, "dry_run": dry_run, "approval_id": approval_id},
            planner,
        )
    from paymo_qb_mcp.server.selection import prepare_selection, selection_question
    from paymo_qb_mcp.sync.invoices import InvoiceSelection

    try:
        selection = InvoiceSelection(
            paymo_invoice_ids=tuple(paymo_invoice_ids or ()),
            date_from=date_from,
            date_to=date_to,
            statuses=tuple(statuses) if statuses else None,
        )
    except PaymoQbError as error:
        raise _tool_error(error) from None
    arguments: dict[str, Any] = {
        "paymo_invoice_ids": list(paymo_invoice_ids) if paymo_invoice_ids else None,
        "date_from": date_from.isoformat() if date_from else None,
        "date_to": date_to.isoformat() if date_to else None,
        "statuses": list(statuses) if statuses else None,
        "dry_run": dry_run,
        "approval_id": approval_id,
    }
    prepared = await prepare_selection(
        ctx, "sync_invoice", arguments, lambda: service.plan_invoice_selection(selection)
    )
    prepared.question = selection_question(prepared, prepared.extra["selection"])
    return prepared


async def sync_invoice(
    prepared: Annotated[Prepared, Resolve(plan_sync_invoice)],
    confirmation: Annotated[ElicitationResult[Approval], Resolve(_confirm_resolver(plan_sync_invoice))],
    ctx: Context,
    paymo_invoice_id: Annotated[PaymoId | None, Field(description="One Paymo invoice id.")] = None,
    paymo_invoice_ids: Annotated[
        list[PaymoId] | None,
        Field(
            description="Or: several Paymo invoice ids, planned and approved as one plan.",
            min_length=1,
            max_length=MAX_SELECTED_IDS,
        ),
    ] = None,
    date_from: Annotated[
        Day | None,
        Field(
            description=f"Or: every Paymo invoice dated from this day (YYYY-MM-DD, {DAY_RANGE}, inclusive)..."
        ),
    ] = None,
    date_to: Annotated[Day | None, Field(description="...to this day (inclusive), as one plan.")] = None,
    statuses: Annotated[
        list[InvoiceStatusName] | None,
        Field(
            description="With a period: the Paymo statuses to take (default sent, viewed, paid and void: "
            "drafts are not billed yet).",
            min_length=1,
            max_length=MAX_STATUSES,
        ),
    ] = None,
    dry_run: DryRun = False,
    approval_id: ApprovalId = None,
) -> InvoiceSyncResult:
    """Post Paymo invoices to QuickBooks Online as invoices — create, update, or void — each exactly once.

    One invoice (paymo_invoice_id), a list (paymo_invoice_ids) or a whole period (date_from and
    date_to, e.g. a month; Paymo drafts are left out unless statuses asks for them). Maps the customer
    (matching or creating it per policy), lines, discount, due date, currency and tax so that the
    QuickBooks total equals the Paymo total to the cent; if it cannot, the invoice is blocked with the
    exact difference. A re-sync of an unchanged invoice does nothing; a changed one becomes an update;
    a voided Paymo invoice is voided in QuickBooks. policies.yaml decides per invoice: invoices it
    denies or a guard blocks are listed in results and left out, the rest is one plan a human
    approves once when any of it needs approval (status pending_approval with an approve_command for
    the human). For a list or period, results hold one entry per invoice (paymo_invoice_id,
    qbo_invoice_id, status, paymo_total, qbo_total, reason); amounts are decimal strings.
    """
    invoice = prepared.extra.get("invoice")
    combined = prepared.extra.get("selection")

    def fields(outcome: "ApplyOutcome | None", base: dict[str, Any]) -> dict[str, Any]:
        if combined is not None:
            from paymo_qb_mcp.server.selection import selection_results

            return {"results": selection_results(combined, outcome, str(base["status"]))}
        results = [InvoiceRecordResult(**result.model_dump()) for result in base.get("results", [])]
        assert invoice is not None  # one invoice's call
        qbo_id = invoice.qbo_invoice_id
        qbo_total = invoice.qbo_total
        if outcome is not None:
            for item in outcome.applied:
                if item.change.entity == "invoice" and item.qbo_id:
                    qbo_id = item.qbo_id
                    record_total = getattr(item.record, "TotalAmt", None)
                    if record_total is not None:
                        qbo_total = Decimal(str(record_total))
        return {
            "results": results,
            "qbo_invoice_id": qbo_id,
            "paymo_total": _money(invoice.paymo_total, invoice.currency),
            "qbo_total": _money(qbo_total, invoice.currency),
        }

    result = await run_write(ctx, prepared, confirmation, InvoiceSyncResult, fields)
    assert isinstance(result, InvoiceSyncResult)
    return result


# --- mark_paid --------------------------------------------------------------------------------

Direction = Literal["both", "to_paymo", "to_quickbooks"]


async def plan_mark_paid(
    paymo_invoice_id: int | None,
    since: dt.date | None,
    direction: Direction,
    dry_run: bool,
    approval_id: str | None,
    ctx: Context,
) -> Prepared:
    if paymo_invoice_id is None and since is None:
        raise ToolError(
            "INPUT: give paymo_invoice_id (one invoice) or since (every synced invoice with payments "
            "on or after that date)"
        )
    service = (await runtime_of(ctx)).service

    async def planner() -> "ItemizedPlan":
        return await service.plan_payment_items(
            paymo_invoice_id=paymo_invoice_id, since=since, direction=direction
        )

    return await _prepare_set(
        ctx,
        "mark_paid",
        {
            "paymo_invoice_id": paymo_invoice_id,
            "since": since.isoformat() if since else None,
            "direction": direction,
            "dry_run": dry_run,
            "approval_id": approval_id,
        },
        planner,
    )


async def mark_paid(
    prepared: Annotated[Prepared, Resolve(plan_mark_paid)],
    confirmation: Annotated[ElicitationResult[Approval], Resolve(_confirm_resolver(plan_mark_paid))],
    ctx: Context,
    paymo_invoice_id: Annotated[
        PaymoId | None, Field(description="One Paymo invoice (already synced to QuickBooks).")
    ] = None,
    since: Annotated[
        Day | None,
        Field(description=f"Or: every synced invoice with payments on/after this date ({DAY_RANGE})."),
    ] = None,
    direction: Annotated[
        Direction,
        Field(
            description="to_paymo: QuickBooks payments → Paymo invoice payments; to_quickbooks: Paymo "
            "payments → QuickBooks Payments linked to the invoice; both."
        ),
    ] = "both",
    dry_run: DryRun = False,
    approval_id: ApprovalId = None,
) -> SelectionWriteResult:
    """Record payments on both sides so Paymo and QuickBooks agree on what is paid.

    Partial payments, several payments per invoice and one QuickBooks payment across several
    invoices are handled; a payment is never recorded twice, and a payment this server wrote is
    never copied back to the side it came from. policies.yaml decides per invoice (its payments'
    amounts, currency and dates; invoices one QuickBooks payment pays together go together): invoices
    it denies or a guard blocks are listed in results and left out, the rest is one plan a human
    approves once when any of it needs approval. Each entry of results carries its invoice's key,
    status, reason and total.
    """
    return await _run_set(ctx, prepared, confirmation)


# --- push_expenses ----------------------------------------------------------------------------


async def plan_push_expenses(
    expense_ids: list[int] | None,
    date_from: dt.date | None,
    date_to: dt.date | None,
    dry_run: bool,
    approval_id: str | None,
    ctx: Context,
) -> Prepared:
    if not expense_ids and (date_from is None or date_to is None):
        raise ToolError("INPUT: give expense_ids, or both date_from and date_to")
    if date_from is not None and date_to is not None and date_from > date_to:
        raise ToolError(f"INPUT: date_from {date_from} is after date_to {date_to}")
    service = (await runtime_of(ctx)).service

    async def planner() -> "ItemizedPlan":
        return await service.plan_expense_items(expense_ids=expense_ids, date_from=date_from, date_to=date_to)

    return await _prepare_set(
        ctx,
        "push_expenses",
        {
            "expense_ids": expense_ids,
            "date_from": date_from.isoformat() if date_from else None,
            "date_to": date_to.isoformat() if date_to else None,
            "dry_run": dry_run,
            "approval_id": approval_id,
        },
        planner,
    )


async def push_expenses(
    prepared: Annotated[Prepared, Resolve(plan_push_expenses)],
    confirmation: Annotated[ElicitationResult[Approval], Resolve(_confirm_resolver(plan_push_expenses))],
    ctx: Context,
    expense_ids: Annotated[
        list[PaymoId] | None,
        Field(description="Paymo expense ids to push.", min_length=1, max_length=MAX_SELECTED_IDS),
    ] = None,
    date_from: Annotated[
        Day | None, Field(description=f"Or: expenses dated from this day ({DAY_RANGE})...")
    ] = None,
    date_to: Annotated[Day | None, Field(description="...to this day, inclusive.")] = None,
    dry_run: DryRun = False,
    approval_id: ApprovalId = None,
) -> SelectionWriteResult:
    """Push Paymo expenses to QuickBooks Online as Purchases or Bills (per policies.yaml mappings).

    Each expense maps to an expense account by its Paymo tags, is linked to the client's customer
    and carries the receipt reference; foreign-currency expenses carry an exchange rate. Each
    expense is pushed once, however often this runs. policies.yaml decides per expense (its own
    amount, currency and date): expenses it denies or a guard blocks are listed in results and left
    out, the rest is one plan a human approves once when any of it needs approval; a missing mapping
    blocks them all. Each entry of results carries its expense's key, status, reason and total.
    """
    return await _run_set(ctx, prepared, confirmation)


# --- aggregate_time ---------------------------------------------------------------------------

GroupBy = Literal["client", "project", "task", "user"]
TimeTarget = Literal["time_activity", "invoice_lines"]


async def plan_aggregate_time(
    date_from: dt.date,
    date_to: dt.date,
    group_by: list[GroupBy],
    target: TimeTarget,
    dry_run: bool,
    approval_id: str | None,
    ctx: Context,
) -> Prepared:
    if date_from > date_to:
        raise ToolError(f"INPUT: date_from {date_from} is after date_to {date_to}")
    service = (await runtime_of(ctx)).service

    async def planner() -> "ItemizedPlan":
        return await service.plan_time_items(
            date_from=date_from, date_to=date_to, group_by=group_by, target=target
        )

    return await _prepare_set(
        ctx,
        "aggregate_time",
        {
            "date_from": date_from.isoformat(),
            "date_to": date_to.isoformat(),
            "group_by": list(group_by),
            "target": target,
            "dry_run": dry_run,
            "approval_id": approval_id,
        },
        planner,
    )


async def aggregate_time(
    date_from: DateFrom,
    date_to: DateTo,
    prepared: Annotated[Prepared, Resolve(plan_aggregate_time)],
    confirmation: Annotated[ElicitationResult[Approval], Resolve(_confirm_resolver(plan_aggregate_time))],
    ctx: Context,
    group_by: Annotated[
        list[GroupBy],
        Field(
            description="How to group billable hours: client and project, optionally task/user.",
            max_length=MAX_GROUPINGS,
        ),
    ] = ["client", "project"],  # noqa: B006 - pydantic copies defaults; the schema shows it
    target: Annotated[
        TimeTarget,
        Field(
            description="time_activity: QuickBooks TimeActivity records; invoice_lines: draft invoice lines."
        ),
    ] = "time_activity",
    dry_run: DryRun = False,
    approval_id: ApprovalId = None,
) -> SelectionWriteResult:
    """Push billable, not-yet-billed Paymo time for a period to QuickBooks, grouped by client/project.

    Hours are summed per group in seconds and rounded once to hundredths of an hour (half-up). An
    entry is never pushed twice, even when periods overlap between runs; time added to an entry after
    it was pushed is pushed once as an adjustment, and time taken off is reported, never undone.
    policies.yaml decides per group (per client's draft invoice with invoice_lines): groups it denies
    or a guard blocks (say, a person with no QuickBooks employee) are listed in results and left out,
    the rest is one plan a human approves once when any of it needs approval; a missing mapping or an
    unfinished earlier push blocks them all. Each entry of results carries its group's key, status,
    reason and total.
    """
    return await _run_set(ctx, prepared, confirmation)


# --- create_po_from_budget --------------------------------------------------------------------

BudgetKind = Literal["estimate", "purchase_order"]


async def plan_create_po_from_budget(
    paymo_project_id: int, kind: BudgetKind, dry_run: bool, approval_id: str | None, ctx: Context
) -> Prepared:
    service = (await runtime_of(ctx)).service

    async def planner() -> "tuple[Plan, dict[str, Any]]":
        plan = await service.plan_budget(paymo_project_id=paymo_project_id, kind=kind)
        return plan, {}

    return await prepare(
        ctx,
        "create_po_from_budget",
        {"paymo_project_id": paymo_project_id, "kind": kind, "dry_run": dry_run, "approval_id": approval_id},
        planner,
    )


async def create_po_from_budget(
    paymo_project_id: Annotated[PaymoId, Field(description="The Paymo project with a budget.")],
    prepared: Annotated[Prepared, Resolve(plan_create_po_from_budget)],
    confirmation: Annotated[
        ElicitationResult[Approval], Resolve(_confirm_resolver(plan_create_po_from_budget))
    ],
    ctx: Context,
    kind: Annotated[
        BudgetKind,
        Field(
            description="estimate: a QuickBooks Estimate for the client; purchase_order: a PO to the vendor."
        ),
    ] = "estimate",
    dry_run: DryRun = False,
    approval_id: ApprovalId = None,
) -> WriteResult:
    """Turn a Paymo project budget (hours × rate, or fixed price) into a QuickBooks Estimate or PurchaseOrder.

    Lines come from the budget and the task list; the vendor of a purchase order is matched like
    customers are. Created once per project.
    """
    return await run_write(ctx, prepared, confirmation, WriteResult)


# --- read-only --------------------------------------------------------------------------------


async def reconciliation_report(date_from: DateFrom, date_to: DateTo, ctx: Context) -> ReconciliationOut:
    """Read-only: what differs between Paymo and QuickBooks Online for a period.

    Lists invoices missing on either side, totals or statuses that disagree, payments recorded on
    one side only, unbilled billable time and expenses not pushed — as structured data an agent can
    turn into plans with the write tools. Never writes and never needs approval.
    """
    if date_from > date_to:
        raise ToolError(f"INPUT: date_from {date_from} is after date_to {date_to}")
    runtime = await runtime_of(ctx)
    runtime.audit.append(
        "tool_call",
        tool="reconciliation_report",
        arguments={"date_from": date_from.isoformat(), "date_to": date_to.isoformat()},
        details={"connection": runtime.connection_label},
    )
    await ctx.report_progress(0, 1, "reading both systems")
    try:
        report = await runtime.service.reconciliation_report(date_from=date_from, date_to=date_to)
    except PaymoQbError as error:
        raise _tool_error(error) from None
    await ctx.report_progress(1, 1, "done")
    return reconciliation_out(report)


async def sync_status(ctx: Context) -> SyncStatusOut:
    """Read-only: what is linked, which approvals are pending, and the last runs of this server."""
    runtime = await runtime_of(ctx)
    try:
        status = await runtime.service.status()
    except PaymoQbError as error:
        raise _tool_error(error) from None
    return status_out(runtime, status)


# (tool, title, destructive): sync_invoice may void a QuickBooks invoice and find_client_match may
# overwrite a customer's contact details, so those two say they can be destructive.
WRITE_TOOLS: Sequence[tuple[Callable[..., Any], str, bool]] = (
    (find_client_match, "Match a Paymo client to a QuickBooks customer", True),
    (sync_invoice, "Sync Paymo invoices to QuickBooks", True),
    (mark_paid, "Record payments both ways", False),
    (push_expenses, "Push Paymo expenses to QuickBooks", False),
    (aggregate_time, "Push billable Paymo time to QuickBooks", False),
    (create_po_from_budget, "Budget to Estimate or Purchase Order", False),
)
READ_TOOLS: Sequence[tuple[Callable[..., Any], str]] = (
    (reconciliation_report, "Reconciliation report"),
    (sync_status, "Sync status"),
)
TOOL_NAMES = tuple(fn.__name__ for fn, _, _ in WRITE_TOOLS) + tuple(fn.__name__ for fn, _ in READ_TOOLS)


def register_tools(server: MCPServer) -> None:
    for fn, title, destructive in WRITE_TOOLS:
        hints = {**WRITE_HINTS, "destructive_hint": destructive}
        server.add_tool(fn, title=title, annotations=ToolAnnotations(title=title, **hints))
    for fn, title in READ_TOOLS:
        server.add_tool(fn, title=title, annotations=ToolAnnotations(title=title, **READ_HINTS))
