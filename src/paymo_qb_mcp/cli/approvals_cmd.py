"""The `pending`, `approve` and `reject` commands: the human's side of out-of-band approvals, all audited.

These run in a terminal the agent does not control; no MCP tool can approve. `approvals` is an alias
of `pending`.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from paymo_qb_mcp.errors import PaymoQbError

if TYPE_CHECKING:
    from paymo_qb_mcp.config.settings import Settings
    from paymo_qb_mcp.store.approvals import Approval

CHANNEL = "out_of_band"


def add_parser(subparsers: Any) -> None:
    pending = subparsers.add_parser(
        "pending",
        aliases=["approvals"],
        help="list the approvals waiting for a human",
        description="Lists pending approvals (id, tool, summary, totals, expiry) in the data directory.",
    )
    pending.add_argument("--json", action="store_true", help="one JSON object per approval")
    pending.set_defaults(handler=run, approvals_action="pending")

    approve = subparsers.add_parser(
        "approve",
        help="approve a pending plan so the agent can apply it",
        description="Shows what the plan will do, asks for confirmation, and records you (the OS user).",
    )
    approve.add_argument("approval_id", metavar="ID", help="the approval id, e.g. apr_7K2M9Q")
    approve.add_argument("--yes", "-y", action="store_true", help="approve without asking")
    approve.set_defaults(handler=run, approvals_action="approve")

    reject = subparsers.add_parser(
        "reject",
        help="reject a pending plan",
        description="Rejects an approval so it can never be used; the agent is told who rejected it and why.",
    )
    reject.add_argument("approval_id", metavar="ID", help="the approval id, e.g. apr_7K2M9Q")
    reject.add_argument("--reason", help="why, shown to the agent and kept in the audit log")
    reject.set_defaults(handler=run, approvals_action="reject")


def run(args: argparse.Namespace) -> int:
    action: str = args.approvals_action
    try:
        if action == "pending":
            return _pending(as_json=args.json)
        if action == "approve":
            return _approve(args.approval_id, assume_yes=args.yes)
        return _reject(args.approval_id, reason=args.reason)
    except PaymoQbError as exc:
        print(f"paymo-qb-mcp {action}: {exc}", file=sys.stderr)
        return 1


def _settings() -> Settings:
    from paymo_qb_mcp.config.settings import load_settings

    return load_settings()


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return os.environ.get("USER") or os.environ.get("USERNAME") or f"uid-{os.getuid()}"


def _relative(moment: datetime, now: datetime) -> str:
    seconds = int((moment - now).total_seconds())
    if seconds <= 0:
        return "expired"
    if seconds < 60:
        return f"in {seconds}s"
    minutes = seconds // 60
    return f"in {minutes}m" if minutes < 120 else f"in {minutes // 60}h{minutes % 60:02d}m"


def _totals_text(totals: Mapping[str, Any]) -> str:
    return ", ".join(f"{name} {value}" for name, value in totals.items()) or "none"


def _describe(approval: Approval, now: datetime) -> list[str]:
    expires = approval.expires_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"{approval.id}  {approval.tool}  expires {expires} ({_relative(approval.expires_at, now)})",
        f"    {approval.summary}",
        f"    totals: {_totals_text(approval.totals)}",
    ]
    if approval.requests > 1 and approval.last_requested_at is not None:
        # The same plan asked for again shares this approval: one decision, however often it was asked.
        last = approval.last_requested_at.astimezone(UTC).strftime("%H:%M:%S UTC")
        lines.append(f"    asked {approval.requests} times by the agent, last at {last} (one approval)")
    if approval.arguments:
        arguments = ", ".join(
            f"{name}={value!r}" for name, value in approval.arguments.items() if value is not None
        )
        lines.append(f"    arguments: {arguments}")
    question = approval.details.get("question")
    if isinstance(question, str):
        # A selection (a month of invoices): counts, totals, which need a human and why, the first few.
        lines += [f"    {line}" for line in question.splitlines()[1:]]
    lines.append(f"    plan hash: {approval.plan_hash}")
    return lines


def _pending(*, as_json: bool) -> int:
    from paymo_qb_mcp.store.approvals import ApprovalStore
    from paymo_qb_mcp.store.audit import canonical_json

    settings = _settings()
    with ApprovalStore(settings.ensure_data_dir(), known_secrets=settings.secret_values()) as store:
        waiting = store.list_pending()
    if as_json:
        for approval in waiting:
            print(canonical_json(approval.to_row()).decode("ascii"))
        return 0
    if not waiting:
        print("No approvals are waiting.")
        return 0
    now = datetime.now(UTC)
    for approval in waiting:
        print("\n".join(_describe(approval, now)))
    print()
    cap = _max_pending_per_tool(settings)
    for tool, count in sorted(Counter(approval.tool for approval in waiting).items()):
        limit = f" (at most {cap} at once: approvals.max_pending_per_tool)" if cap is not None else ""
        waits = f"{count} approvals of {tool} wait" if count != 1 else f"1 approval of {tool} waits"
        print(f"{waits}{limit}.")
    print("Approve with `paymo-qb-mcp approve ID`, or reject with `paymo-qb-mcp reject ID --reason ...`.")
    return 0


def _max_pending_per_tool(settings: Settings) -> int | None:
    """The policy's cap, for the listing; a policy that does not load only leaves the cap unsaid."""
    from paymo_qb_mcp.config.policy import load_policy

    try:
        return load_policy(settings.policy_path()).approvals.max_pending_per_tool
    except PaymoQbError:
        return None


def _confirmed(question: str) -> bool:
    try:
        answer = input(question)
    except EOFError:
        return False
    return answer.strip().lower() in {"y", "yes"}


def _approve(approval_id: str, *, assume_yes: bool) -> int:
    from paymo_qb_mcp.store.approvals import ApprovalStore
    from paymo_qb_mcp.store.audit import AuditLog

    settings = _settings()
    data_dir = settings.ensure_data_dir()
    secrets = settings.secret_values()
    with ApprovalStore(data_dir, known_secrets=secrets) as store:
        approval = store.require(approval_id)
        now = datetime.now(UTC)
        refusal = approval.approve_refusal(now)
        if refusal is not None:
            print(f"paymo-qb-mcp approve: {refusal}", file=sys.stderr)
            return 1
        print("\n".join(_describe(approval, now)))
        if not assume_yes and not _confirmed(f"Approve {approval.id}? [y/N] "):
            print("Not approved; nothing changed.")
            return 1
        approver = _os_user()
        approved = store.approve(approval.id, approver)
        try:
            AuditLog.in_data_dir(data_dir, known_secrets=secrets).append(
                "approval_granted",
                tool=approved.tool,
                plan_hash=approved.plan_hash,
                approval={"id": approved.id, "channel": CHANNEL, "by": approver},
            )
        except Exception:
            # An approval that is not in the audit log must not be usable.
            store.reject(approved.id, approver, "the approval could not be written to the audit log")
            raise
    print(
        f"Approved {approved.id} as {approver}. The agent can now re-call {approved.tool} with "
        f"approval_id={approved.id} (once, before {approved.expires_at.astimezone(UTC):%H:%M} UTC)."
    )
    return 0


def _reject(approval_id: str, *, reason: str | None) -> int:
    from paymo_qb_mcp.store.approvals import ApprovalStore
    from paymo_qb_mcp.store.audit import AuditLog

    settings = _settings()
    data_dir = settings.ensure_data_dir()
    secrets = settings.secret_values()
    approver = _os_user()
    with ApprovalStore(data_dir, known_secrets=secrets) as store:
        rejected = store.reject(approval_id, approver, reason)
    AuditLog.in_data_dir(data_dir, known_secrets=secrets).append(
        "approval_rejected",
        tool=rejected.tool,
        plan_hash=rejected.plan_hash,
        approval={"id": rejected.id, "channel": CHANNEL, "by": approver},
        message=reason,
    )
    print(f"Rejected {rejected.id} as {approver}; it can never be used.")
    return 0
