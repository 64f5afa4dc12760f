"""Pending approvals bound to a plan hash: create, approve or reject out of band, consume once, expire.

The server creates an approval when the policy says `confirm` and the client cannot ask the human
itself; the human approves with `paymo-qb-mcp approve ID` in another process; the agent re-calls the
tool with the id, the server recomputes the plan, and `consume` lets it through only if the tool and
the plan hash are the ones approved. Every state change is one SQLite transaction, so two processes
can never both consume an approval. No MCP tool can approve: only this store's `approve`, called by
the command line.

An approval presented with another tool or another plan is refused and left as it was: the agent
cannot spend or throw away the human's decision. Asking again for a plan that is already waiting
(same tool, same plan hash, pending, not expired) returns that approval — counted, its expiry
unchanged, so repeating a call never extends the time a plan can be approved in — and the number of
approvals waiting per tool can be capped, so an agent cannot bury the human in requests.

The ids of the approvals still waiting are kept in one index row, changed in the same transaction as
the approval itself, so listing what is pending reads those few rows, never every approval ever
requested. A store written before the index existed has it built once, when it is first opened.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal

from paymo_qb_mcp.errors import ApprovalError
from paymo_qb_mcp.store._diskstore import Clock, DiskStore, utc_now
from paymo_qb_mcp.store._redact import Redactor

__all__ = ["Approval", "ApprovalStatus", "ApprovalStore", "TooManyPending", "normalize_approval_id"]

ApprovalStatus = Literal["pending", "approved", "rejected", "used", "void"]

_PREFIX: Final = "apr_"
# Crockford's base32: no I, L, O or U, so an id read aloud or copied by hand survives.
_ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_ID_LENGTH: Final = 6
_TYPO_FIXES: Final = str.maketrans({"I": "1", "L": "1", "O": "0"})
# Not an approval id: those always start with _PREFIX (normalize_approval_id adds it).
_PENDING_KEY: Final = "index:pending"
_PENDING_VERSION: Final = 1


def normalize_approval_id(text: str) -> str:
    """`apr_7k2m9q`, `7K2M9Q` and `APR_7K2M9O` (O for 0) all name `apr_7K2M9Q`-style ids."""
    body = text.strip()
    if body.lower().startswith(_PREFIX):
        body = body[len(_PREFIX) :]
    return _PREFIX + body.upper().translate(_TYPO_FIXES)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


class TooManyPending(ApprovalError):
    """A tool already has as many approvals waiting as allowed; nothing was stored."""

    def __init__(self, tool: str, waiting: int, first_expiry: datetime) -> None:
        self.tool = tool
        self.waiting = waiting
        self.first_expiry = first_expiry
        super().__init__(self.explain())

    def explain(self, command: str = "paymo-qb-mcp") -> str:
        """The refusal, naming the cap and how to clear it (``command``: how the human runs the CLI)."""
        return (
            f"{self.tool} already has {self.waiting} approvals waiting for a human, the most "
            f"policies.yaml allows (approvals.max_pending_per_tool); nothing was stored or written. "
            f"Ask the human to review them with `{command} pending`, then approve with "
            f"`{command} approve ID` or clear with `{command} reject ID`, or wait until they expire "
            f"(the first at {_stamp(self.first_expiry)}); the same plan asked for again keeps its "
            f"approval id"
        )


@dataclass(frozen=True)
class Approval:
    """One approval request and its fate. `arguments` are stored redacted; `details` is more for the human."""

    id: str
    tool: str
    arguments: Mapping[str, Any]
    plan_hash: str
    summary: str
    totals: Mapping[str, Any]
    created_at: datetime
    expires_at: datetime
    status: ApprovalStatus = "pending"
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None
    used_at: datetime | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    # How many calls asked for this same plan while it waited (1: only the first), and the latest.
    requests: int = 1
    last_requested_at: datetime | None = None

    def is_expired(self, now: datetime) -> bool:
        return now >= self.expires_at

    def closed_reason(self, now: datetime) -> str | None:
        """Why this approval can no longer be approved, rejected or used (used, rejected, void, expired)."""
        if self.status == "used":
            return (
                f"approval {self.id} was already used at {_stamp(self.used_at or now)}; approvals are "
                "single-use, ask for a new one"
            )
        if self.status == "rejected":
            because = f": {self.reason}" if self.reason else ""
            return f"approval {self.id} was rejected by {self.decided_by}{because}"
        if self.status == "void":
            return (
                f"approval {self.id} is void: the plan changed after it was requested; ask for a new approval"
            )
        if self.is_expired(now):
            return f"approval {self.id} expired at {_stamp(self.expires_at)}; ask for a new approval"
        return None

    def approve_refusal(self, now: datetime) -> str | None:
        """Why a human cannot approve this now, or None when they can."""
        if self.status == "approved":
            decided_at = _stamp(self.decided_at or now)
            return f"approval {self.id} was already approved by {self.decided_by} at {decided_at}"
        return self.closed_reason(now)

    def to_row(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "tool": self.tool,
            "arguments": dict(self.arguments),
            "plan_hash": self.plan_hash,
            "summary": self.summary,
            "totals": dict(self.totals),
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "status": self.status,
            "decided_by": self.decided_by,
            "decided_at": self.decided_at.isoformat() if self.decided_at else None,
            "reason": self.reason,
            "used_at": self.used_at.isoformat() if self.used_at else None,
            "details": dict(self.details),
            "requests": self.requests,
            "last_requested_at": self.last_requested_at.isoformat() if self.last_requested_at else None,
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Approval:
        def when(name: str) -> datetime | None:
            value = row.get(name)
            return datetime.fromisoformat(value) if value else None

        return cls(
            id=row["id"],
            tool=row["tool"],
            arguments=row["arguments"],
            plan_hash=row["plan_hash"],
            summary=row["summary"],
            totals=row["totals"],
            created_at=datetime.fromisoformat(row["created_at"]),
            expires_at=datetime.fromisoformat(row["expires_at"]),
            status=row["status"],
            decided_by=row.get("decided_by"),
            decided_at=when("decided_at"),
            reason=row.get("reason"),
            used_at=when("used_at"),
            details=row.get("details") or {},
            # Rows written before repeated requests were counted: asked once, when created.
            requests=row.get("requests") or 1,
            last_requested_at=when("last_requested_at") or datetime.fromisoformat(row["created_at"]),
        )


def _index_current(row: Any) -> bool:
    return isinstance(row, dict) and row.get("version") == _PENDING_VERSION


class ApprovalStore(DiskStore):
    """Approvals of one data directory; safe to open from several processes at once."""

    def __init__(self, data_dir: Path, *, clock: Clock = utc_now, known_secrets: Iterable[str] = ()) -> None:
        super().__init__(data_dir / "approvals", clock=clock)
        self._redact = Redactor(known_secrets)
        self._ensure_pending_index()

    def create(
        self,
        tool: str,
        arguments: Mapping[str, Any],
        plan_hash: str,
        summary: str,
        totals: Mapping[str, Any],
        expires_at: datetime,
        *,
        details: Mapping[str, Any] | None = None,
        max_pending: int | None = None,
    ) -> Approval:
        """A pending approval for this exact plan (its id is short and typable).

        When this tool's same plan already waits (pending, not expired), that approval is returned
        instead, with `requests` counted up and its expiry unchanged. Otherwise a new one is stored,
        unless `max_pending` approvals of this tool already wait: ApprovalError says how to clear them.
        """
        now = self._now()
        if expires_at.tzinfo is None or expires_at <= now:
            raise ValueError("expires_at must be a timezone-aware moment in the future")
        if max_pending is not None and max_pending < 1:
            raise ValueError("max_pending must be at least 1")
        with self._cache.transact():
            waiting = self._waiting(tool, now)
            same = next((approval for approval in waiting if approval.plan_hash == plan_hash), None)
            if same is not None:
                again = replace(same, requests=same.requests + 1, last_requested_at=now)
                self._cache.set(again.id, again.to_row())
                return again
            if max_pending is not None and len(waiting) >= max_pending:
                refusal = TooManyPending(tool, len(waiting), min(a.expires_at for a in waiting))
            else:
                refusal = None
                approval = self._new(tool, arguments, plan_hash, summary, totals, expires_at, details, now)
                self._cache.set(approval.id, approval.to_row())
                self._index_pending(add=approval.id)
        # Raised after the transaction: raising inside transact() would roll back the index clean-up.
        if refusal is not None:
            raise refusal
        return approval

    def _new(
        self,
        tool: str,
        arguments: Mapping[str, Any],
        plan_hash: str,
        summary: str,
        totals: Mapping[str, Any],
        expires_at: datetime,
        details: Mapping[str, Any] | None,
        now: datetime,
    ) -> Approval:
        while True:
            candidate = _PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(_ID_LENGTH))
            if candidate not in self._cache:
                break
        return Approval(
            id=candidate,
            tool=tool,
            arguments=self._redact(dict(arguments)),
            plan_hash=plan_hash,
            summary=self._redact.text(summary),
            totals=self._redact(dict(totals)),
            created_at=now,
            expires_at=expires_at,
            details=self._redact(dict(details or {})),
            last_requested_at=now,
        )

    def _waiting(self, tool: str, now: datetime) -> list[Approval]:
        """This tool's approvals waiting for a human, oldest first, inside the caller's transaction.

        Reads the pending index; the approvals it finds closed or expired leave it, as in `list_pending`.
        """
        found: list[Approval] = []
        for key in self._pending_ids():
            row = self._cache.get(key)
            approval = Approval.from_row(row) if row is not None else None
            if approval is None or approval.status != "pending" or approval.is_expired(now):
                self._index_pending(remove=key)
            elif approval.tool == tool:
                found.append(approval)
        return sorted(found, key=lambda approval: approval.created_at)

    def get(self, approval_id: str) -> Approval | None:
        row = self._cache.get(normalize_approval_id(approval_id))
        return Approval.from_row(row) if row is not None else None

    def require(self, approval_id: str) -> Approval:
        """Like `get`, but an unknown id raises ApprovalError with the usual message."""
        return self._load(normalize_approval_id(approval_id))

    def list_pending(self) -> list[Approval]:
        """Approvals still waiting for a human and not expired, oldest first.

        Reads the pending index, not the store; approvals found expired leave the index for good.
        """
        now = self._now()
        found: list[Approval] = []
        closed: list[str] = []
        for key in self._pending_ids():
            row = self._cache.get(key)
            approval = Approval.from_row(row) if row is not None else None
            if approval is not None and approval.status == "pending" and not approval.is_expired(now):
                found.append(approval)
            else:
                closed.append(key)
        if closed:
            with self._cache.transact():
                for key in closed:
                    self._index_pending(remove=key)
        return sorted(found, key=lambda approval: approval.created_at)

    def approve(self, approval_id: str, approver: str) -> Approval:
        """A human says yes (out of band). Only a pending, unexpired approval can be approved."""
        return self._decide(approval_id, "approved", approver, reason=None)

    def reject(self, approval_id: str, approver: str, reason: str | None = None) -> Approval:
        """A human says no. Pending or approved-but-unused approvals can be rejected."""
        return self._decide(approval_id, "rejected", approver, reason=reason)

    def consume(self, approval_id: str, tool: str, plan_hash: str) -> Approval:
        """Use an approval once, for this tool and this exact plan; raises ApprovalError saying why not.

        Presented with another tool or another plan hash, it is refused and left untouched: approved
        stays approved (for its own plan), pending stays pending. Whether the plan changed since the
        human saw it or the agent brought the wrong plan, only the plan the human saw can use it.
        """
        key = normalize_approval_id(approval_id)
        now = self._now()
        with self._cache.transact():
            approval = self._load(key)
            if approval.tool != tool:
                raise ApprovalError(
                    f"approval {key} was given for {approval.tool}, not {tool}; nothing was written and "
                    f"the approval is unchanged; ask for a new approval for this call"
                )
            self._refuse_closed(approval, now)
            if approval.plan_hash != plan_hash:
                raise ApprovalError(self._mismatch(approval, plan_hash))
            if approval.status == "pending":
                raise ApprovalError(
                    f"approval {key} is still waiting for a human: they must run "
                    f"`paymo-qb-mcp approve {key}` before it expires at {_stamp(approval.expires_at)}"
                )
            outcome = replace(approval, status="used", used_at=now)
            self._cache.set(key, outcome.to_row())
            self._index_pending(remove=key)
        return outcome

    @staticmethod
    def _mismatch(approval: Approval, plan_hash: str) -> str:
        given = "approved" if approval.status == "approved" else "requested"
        state = (
            "it is still approved for that plan"
            if approval.status == "approved"
            else "it still waits for a human for that plan"
        )
        return (
            f"approval {approval.id} was {given} for another plan (plan hash {approval.plan_hash[:12]}…, "
            f"this call's plan is {plan_hash[:12]}…): the plan changed since the human saw it, or these "
            f"are not the arguments it was given for. Nothing was written; {state}, until "
            f"{_stamp(approval.expires_at)}. Call again with the arguments it was given for, or ask for "
            f"a new approval for this plan"
        )

    def _decide(
        self, approval_id: str, status: Literal["approved", "rejected"], approver: str, *, reason: str | None
    ) -> Approval:
        key = normalize_approval_id(approval_id)
        if not approver.strip():
            raise ApprovalError("an approval decision needs the name of the human who made it")
        now = self._now()
        with self._cache.transact():
            approval = self._load(key)
            refusal = approval.approve_refusal(now) if status == "approved" else approval.closed_reason(now)
            if refusal is not None:
                raise ApprovalError(refusal)
            decided = replace(approval, status=status, decided_by=approver, decided_at=now, reason=reason)
            self._cache.set(key, decided.to_row())
            self._index_pending(remove=key)
        return decided

    def _pending_ids(self) -> list[str]:
        row = self._cache.get(_PENDING_KEY)
        if not _index_current(row):
            self._ensure_pending_index()
            row = self._cache.get(_PENDING_KEY)
        return [str(key) for key in row["ids"]]

    def _ensure_pending_index(self) -> None:
        """Build the pending index from every approval when it is missing (a store from before it)."""
        if _index_current(self._cache.get(_PENDING_KEY)):
            return  # the usual case, without taking SQLite's write lock
        with self._cache.transact():
            if _index_current(self._cache.get(_PENDING_KEY)):
                return
            ids = [
                key
                for key in self._cache.iterkeys()
                if isinstance(key, str)
                and key.startswith(_PREFIX)
                and (self._cache.get(key) or {}).get("status") == "pending"
            ]
            self._cache.set(_PENDING_KEY, {"version": _PENDING_VERSION, "ids": sorted(ids)})

    def _index_pending(self, *, add: str | None = None, remove: str | None = None) -> None:
        """Change the pending index inside the caller's transaction."""
        row = self._cache.get(_PENDING_KEY)
        if not _index_current(row):
            self._ensure_pending_index()  # counts what the caller's transaction already wrote
            row = self._cache.get(_PENDING_KEY)
        ids = set(row["ids"])
        if add is not None:
            ids.add(add)
        if remove is not None:
            ids.discard(remove)
        if ids != set(row["ids"]):
            self._cache.set(_PENDING_KEY, {"version": _PENDING_VERSION, "ids": sorted(ids)})

    def _load(self, key: str) -> Approval:
        row = self._cache.get(key)
        if row is None:
            raise ApprovalError(f"there is no approval {key}; check the id, or ask for a new approval")
        return Approval.from_row(row)

    @staticmethod
    def _refuse_closed(approval: Approval, now: datetime) -> None:
        reason = approval.closed_reason(now)
        if reason is not None:
            raise ApprovalError(reason)
