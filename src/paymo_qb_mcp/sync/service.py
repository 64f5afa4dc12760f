"""The sync facade the MCP layer calls: one method per flow, delegating to the flow modules."""

from __future__ import annotations

from paymo_qb_mcp.domain.plan import Plan
from paymo_qb_mcp.sync.context import SyncContext
from paymo_qb_mcp.sync.executor import ApplyOutcome, Executor, Progress

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

    # --- flows (each engineer adds the methods of their flow modules here) ---------------------
