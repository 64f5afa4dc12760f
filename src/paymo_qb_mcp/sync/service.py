"""The sync facade the MCP layer calls: one method per flow, delegating to the flow modules."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from paymo_qb_mcp.domain.plan import Plan
from paymo_qb_mcp.sync.budgets import BudgetKind, plan_budget
from paymo_qb_mcp.sync.context import SyncContext
from paymo_qb_mcp.sync.customers import ClientMatchPlan, plan_client_match
from paymo_qb_mcp.sync.executor import ApplyOutcome, Executor, Progress
from paymo_qb_mcp.sync.expenses import plan_expense_items, plan_expenses
from paymo_qb_mcp.sync.invoices import (
    InvoicePlan,
    InvoiceSelection,
    SelectionPlan,
    plan_invoice,
    plan_invoice_selection,
)
from paymo_qb_mcp.sync.items import ItemizedPlan
from paymo_qb_mcp.sync.payments import Direction, plan_payment_items, plan_payments
from paymo_qb_mcp.sync.reconcile import reconciliation_report
from paymo_qb_mcp.sync.reports import LinkCount, ReconciliationReport, SyncStatus
from paymo_qb_mcp.sync.timesheets import GroupBy, TimeTarget, plan_time, plan_time_items
from paymo_qb_mcp.sync.writes import WriteObserver

__all__ = ["SyncService"]


class SyncService:
    """Plans (read-only) and applies (idempotent) every flow over one ``SyncContext``.

    Flow methods are added next to each other below, one per flow module; each only delegates.
    """

    def __init__(self, ctx: SyncContext) -> None:
        self.ctx = ctx
        self.executor = Executor(ctx)

    async def apply(
        self,
        plan: Plan,
        progress: Progress | None = None,
        *,
        isolate_failures: bool = False,
        observer: WriteObserver | None = None,
    ) -> ApplyOutcome:
        """Apply a plan made by one of the planners (the MCP layer decides whether it may); see
        ``Executor.apply`` for ``isolate_failures`` and ``observer``."""
        return await self.executor.apply(plan, progress, isolate_failures=isolate_failures, observer=observer)

    async def status(self) -> SyncStatus:
        """What the ledger holds: links per kind and creates that may need recovery.

        Read from the ledger's counts, so the answer costs the same for ten links or a million.
        """
        counts = self.ctx.ledger.counts()
        return SyncStatus(
            links=[LinkCount(kind=kind, links=count) for kind, count in sorted(counts.links.items())],
            pending_intents=counts.pending_intents,
        )

    # --- flows: each plans inside the company data's plan scope (``sync.company``) -----------------

    async def plan_client_match(
        self,
        paymo_client_id: int,
        *,
        create_if_missing: bool = False,
        update_details: bool = False,
        qbo_customer_id: str | None = None,
    ) -> ClientMatchPlan:
        """Match a Paymo client to a QBO customer; plan the link, create, reactivation or detail update."""
        with self.ctx.data.plan_scope():
            return await plan_client_match(
                self.ctx,
                paymo_client_id,
                create_if_missing=create_if_missing,
                update_details=update_details,
                qbo_customer_id=qbo_customer_id,
            )

    async def plan_invoice(self, paymo_invoice_id: int) -> InvoicePlan:
        """Plan the create, sparse update, void or skip of one Paymo invoice in QBO, cent-exact."""
        with self.ctx.data.plan_scope():
            return await plan_invoice(self.ctx, paymo_invoice_id)

    async def plan_invoice_selection(self, selection: InvoiceSelection) -> SelectionPlan:
        """Plan each invoice of a list or a period as ``plan_invoice`` would, reading both systems in bulk."""
        with self.ctx.data.plan_scope():
            return await plan_invoice_selection(self.ctx, selection)

    async def plan_payments(
        self,
        *,
        paymo_invoice_id: int | None = None,
        since: dt.date | None = None,
        direction: Direction = "both",
    ) -> Plan:
        """Plan the payments each side lacks on synced invoices (Paymo ⇄ QBO), never one twice."""
        with self.ctx.data.plan_scope():
            return await plan_payments(
                self.ctx, paymo_invoice_id=paymo_invoice_id, since=since, direction=direction
            )

    async def plan_payment_items(
        self,
        *,
        paymo_invoice_id: int | None = None,
        since: dt.date | None = None,
        direction: Direction = "both",
    ) -> ItemizedPlan:
        """``plan_payments`` with each invoice's payments (those one QBO payment joins: together) an item."""
        with self.ctx.data.plan_scope():
            return await plan_payment_items(
                self.ctx, paymo_invoice_id=paymo_invoice_id, since=since, direction=direction
            )

    async def reconciliation_report(self, *, date_from: dt.date, date_to: dt.date) -> ReconciliationReport:
        """What differs between the two systems for the period: invoices, payments, time, expenses."""
        with self.ctx.data.plan_scope():
            return await reconciliation_report(self.ctx, date_from=date_from, date_to=date_to)

    async def plan_expenses(
        self,
        *,
        expense_ids: Sequence[int] | None = None,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
    ) -> Plan:
        """Plan each selected Paymo expense as a QBO Purchase or Bill (per the mappings), pushed once."""
        with self.ctx.data.plan_scope():
            return await plan_expenses(
                self.ctx, expense_ids=expense_ids, date_from=date_from, date_to=date_to
            )

    async def plan_expense_items(
        self,
        *,
        expense_ids: Sequence[int] | None = None,
        date_from: dt.date | None = None,
        date_to: dt.date | None = None,
    ) -> ItemizedPlan:
        """``plan_expenses`` with each expense an item of its own."""
        with self.ctx.data.plan_scope():
            return await plan_expense_items(
                self.ctx, expense_ids=expense_ids, date_from=date_from, date_to=date_to
            )

    async def plan_time(
        self,
        *,
        date_from: dt.date,
        date_to: dt.date,
        group_by: Sequence[GroupBy] = ("client", "project"),
        target: TimeTarget = "time_activity",
    ) -> Plan:
        """Plan the period's billable, unbilled Paymo time as QBO TimeActivities or draft invoice lines."""
        with self.ctx.data.plan_scope():
            return await plan_time(
                self.ctx, date_from=date_from, date_to=date_to, group_by=group_by, target=target
            )

    async def plan_time_items(
        self,
        *,
        date_from: dt.date,
        date_to: dt.date,
        group_by: Sequence[GroupBy] = ("client", "project"),
        target: TimeTarget = "time_activity",
    ) -> ItemizedPlan:
        """``plan_time`` with each group (TimeActivity) or each client's draft invoice an item."""
        with self.ctx.data.plan_scope():
            return await plan_time_items(
                self.ctx, date_from=date_from, date_to=date_to, group_by=group_by, target=target
            )

    async def plan_budget(self, *, paymo_project_id: int, kind: BudgetKind = "estimate") -> Plan:
        """Plan a Paymo project's budget as a QBO Estimate for the client or a PurchaseOrder to a vendor."""
        with self.ctx.data.plan_scope():
            return await plan_budget(self.ctx, paymo_project_id=paymo_project_id, kind=kind)
