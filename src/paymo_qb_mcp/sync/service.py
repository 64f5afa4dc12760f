"""The sync facade the MCP layer calls: one method per flow, delegating to the flow modules."""

from __future__ import annotations

from paymo_qb_mcp.domain.plan import Plan
from paymo_qb_mcp.sync.context import SyncContext
from paymo_qb_mcp.sync.customers import ClientMatchPlan, plan_client_match
from paymo_qb_mcp.sync.executor import ApplyOutcome, Executor, Progress
from paymo_qb_mcp.sync.invoices import InvoicePlan, plan_invoice
from paymo_qb_mcp.sync.reports import LinkCount, SyncStatus

__all__ = ["SyncService"]


class SyncService:
    """Plans (read-only) and applies (idempotent) every flow over one ``SyncContext``.

    Flow methods are added next to each other below, one per flow module; each only delegates.
    """

    def __init__(self, ctx: SyncContext) -> None:
        self.ctx = ctx
        self.executor = Executor(ctx)

    async def apply(self, plan: Plan, progress: Progress | None = None) -> ApplyOutcome:
        """Apply a plan made by one of the planners (the MCP layer decides whether it may)."""
        return await self.executor.apply(plan, progress)

    async def status(self) -> SyncStatus:
        """What the ledger holds: links per kind and creates that may need recovery."""
        ledger = self.ctx.ledger
        counts: dict[str, int] = {}
        for link in ledger.links():
            counts[link.kind] = counts.get(link.kind, 0) + 1
        return SyncStatus(
            links=[LinkCount(kind=kind, links=count) for kind, count in sorted(counts.items())],
            pending_intents=len(ledger.pending_intents()),
        )

    # --- flows (each engineer adds the methods of their flow modules here) ---------------------

    async def plan_client_match(
        self, paymo_client_id: int, *, create_if_missing: bool = False, update_details: bool = False
    ) -> ClientMatchPlan:
        """Match a Paymo client to a QBO customer; plan the link, create, reactivation or detail update."""
        return await plan_client_match(
            self.ctx, paymo_client_id, create_if_missing=create_if_missing, update_details=update_details
        )

    async def plan_invoice(self, paymo_invoice_id: int) -> InvoicePlan:
        """Plan the create, sparse update, void or skip of one Paymo invoice in QBO, cent-exact."""
        return await plan_invoice(self.ctx, paymo_invoice_id)
