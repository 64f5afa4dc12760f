"""Outputs of the read-only tools: the reconciliation report and the sync status."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from paymo_qb_mcp.server.outputs import UNTRUSTED_TEXT_NOTICE

# Only the report models (pydantic, no I/O): the tools' output schemas are built from them.
from paymo_qb_mcp.sync.reports import LinkCount, ReconciliationReport, SyncStatus

if TYPE_CHECKING:
    from paymo_qb_mcp.server.runtime import Runtime

__all__ = ["ReconciliationOut", "SyncStatusOut", "reconciliation_out", "status_out"]


class ReconciliationOut(ReconciliationReport):
    """The report, with the reminder that record text is data."""

    clean_period: bool = Field(description="true when nothing differs.")
    notice: str = UNTRUSTED_TEXT_NOTICE


class PendingApprovalOut(BaseModel):
    approval_id: str
    tool: str
    summary: str
    totals: dict[str, str]
    expires_at: dt.datetime


class RunOut(BaseModel):
    tool: str
    status: str
    plan_hash: str | None
    at: dt.datetime
    summary: str


class SyncStatusOut(BaseModel):
    connection: str = Field(description="live, or sandbox (local emulators seeded with a demo agency).")
    links: list[LinkCount]
    pending_intents: int = Field(description="Creates that may have reached QuickBooks but were not linked.")
    pending_approvals: list[PendingApprovalOut]
    last_runs: list[RunOut]
    writes_per_minute: int


def reconciliation_out(report: ReconciliationReport) -> ReconciliationOut:
    return ReconciliationOut(**report.model_dump(), clean_period=report.clean)


def status_out(runtime: Runtime, status: SyncStatus) -> SyncStatusOut:
    return SyncStatusOut(
        connection=runtime.connection_label,
        links=status.links,
        pending_intents=status.pending_intents,
        pending_approvals=[
            PendingApprovalOut(
                approval_id=approval.id,
                tool=approval.tool,
                summary=approval.summary,
                totals={str(k): str(v) for k, v in approval.totals.items()},
                expires_at=approval.expires_at,
            )
            for approval in runtime.approvals.list_pending()
        ],
        last_runs=[
            RunOut(tool=run.tool, status=run.status, plan_hash=run.plan_hash, at=run.at, summary=run.summary)
            for run in runtime.last_runs
        ],
        writes_per_minute=runtime.write_budget.per_minute,
    )
