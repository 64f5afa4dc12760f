"""What every Paymo write needs: the acting user, field coercion, references, permissions, "today"."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from paymo_qb_mcp.sandbox.paymo.schema import RESOURCES, Resource
from paymo_qb_mcp.sandbox.paymo.state import PaymoState, Record
from paymo_qb_mcp.sandbox.paymo.wire import ApiError, coerce, invalid_value, missing_params

# GUESS: the wording of Paymo's permission refusal is undocumented (only its status, 403).
NO_RIGHTS = "You don't have the rights to perform this action."


@dataclass(frozen=True)
class Actor:
    """The authenticated user behind a request."""

    user_id: int
    is_admin: bool
    ip: str = "127.0.0.1"


class WriteContext:
    """Shared by the record rules (`operations`) and the billing rules (`billing`)."""

    def __init__(self, state: PaymoState) -> None:
        self.state = state

    # ------------------------------------------------------------------ request bodies

    @staticmethod
    def writable(resource: Resource, body: dict[str, Any], *, skip: Iterable[str] = ()) -> dict[str, Any]:
        """The body's writable fields, coerced; unknown and read-only fields are silently dropped."""
        skipped = set(skip)
        return {
            name: coerce(name, spec.kind, body[name])
            for name, spec in resource.fields.items()
            if name in body and spec.writable and name not in skipped
        }

    @staticmethod
    def require_params(body: dict[str, Any], names: Iterable[str]) -> None:
        missing = [name for name in names if body.get(name) is None or body.get(name) == ""]
        if missing:
            raise missing_params(missing)

    def reference(self, collection: str, record_id: Any, field_name: str) -> Record:
        """The record a body field points at; a dangling reference is a 400 naming the field."""
        target_id = coerce(field_name, RESOURCES[collection].fields["id"].kind, record_id)
        record = self.state.get(collection, target_id)
        if record is None:
            # GUESS: Paymo's answer to a dangling reference is undocumented; we refuse it as invalid.
            raise invalid_value(field_name)
        return record

    # ------------------------------------------------------------------ permissions

    @staticmethod
    def require_admin(actor: Actor) -> None:
        # GUESS: which roles may write what is configurable in Paymo; we let Admins write everything and
        # Employees only their own time, tasks, expenses, hooks and projects they manage.
        if not actor.is_admin:
            raise ApiError(403, NO_RIGHTS)

    # ------------------------------------------------------------------ time and tokens

    def company_zone(self) -> tzinfo:
        try:
            return ZoneInfo(str(self.state.company.get("timezone") or "UTC"))
        except (ZoneInfoNotFoundError, ValueError):
            return UTC

    def today(self) -> date:
        """Date-only defaults are calendar dates in the company's time zone."""
        return self.state.timestamp().astimezone(self.company_zone()).date()

    @staticmethod
    def token(kind: str, record_id: int) -> str:
        # Deterministic so seeded and replayed runs print identical permalinks.
        return hashlib.sha256(f"paymo-sandbox:{kind}:{record_id}".encode()).hexdigest()[:40]
