"""The Paymo emulator's in-memory tables, with an undo journal so a refused request leaves no trace."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from paymo_qb_mcp.sandbox.paymo.schema import RESOURCES
from paymo_qb_mcp.sandbox.paymo.wire import ApiError

Record = dict[str, Any]
Now = Callable[[], datetime]

# First id of each table. Ranges are far apart so an id used against the wrong collection is a 404,
# not a silent hit on an unrelated record.
ID_FLOORS: dict[str, int] = {
    "users": 1,
    "clients": 10001,
    "clientcontacts": 15001,
    "projects": 20001,
    "tasklists": 25001,
    "tasks": 30001,
    "entries": 40001,
    "invoices": 50001,
    "invoiceitems": 55001,
    "invoicepayments": 58001,
    "expenses": 60001,
    "estimates": 70001,
    "estimateitems": 75001,
    "hooks": 80001,
}


@dataclass
class Event:
    """A webhook-visible change. `snapshot` keeps a deleted record for `where` matching."""

    model: str
    action: str  # insert | update | delete | start | stop
    record_id: int
    collection: str
    snapshot: Record | None = None


@dataclass
class Session:
    id: str
    user_id: int
    ip: str
    expires_on: datetime
    created_on: datetime
    updated_on: datetime


@dataclass
class PaymoState:
    """All emulator data. Tests may read anything here; writes should go through the API."""

    now: Now
    tables: dict[str, dict[int, Record]] = field(default_factory=lambda: {name: {} for name in RESOURCES})
    company: Record = field(default_factory=dict)
    api_keys: dict[str, int] = field(default_factory=dict)
    passwords: dict[int, str] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    _last_ids: dict[str, int] = field(default_factory=dict)
    _journal: list[Callable[[], object]] | None = None
    _session_counter: int = 0

    # ------------------------------------------------------------------ reading

    def timestamp(self) -> datetime:
        return self.now().astimezone(UTC).replace(microsecond=0)

    def get(self, collection: str, record_id: int | None) -> Record | None:
        if record_id is None:
            return None
        return self.tables[collection].get(record_id)

    def require(self, collection: str, record_id: int) -> Record:
        record = self.get(collection, record_id)
        if record is None:
            # GUESS: the body of Paymo's 404 is undocumented; a message keeps clients' error paths uniform.
            raise ApiError(404, "Not Found")
        return record

    def rows(self, collection: str) -> list[Record]:
        table = self.tables[collection]
        return [table[key] for key in sorted(table)]

    def where_equal(self, collection: str, name: str, value: Any) -> list[Record]:
        return [record for record in self.rows(collection) if record.get(name) == value]

    # ------------------------------------------------------------------ transactions

    def begin(self) -> None:
        self._journal = []
        self.events = []

    def commit(self) -> list[Event]:
        self._journal = None
        events, self.events = _coalesce(self.events), []
        return events

    def rollback(self) -> None:
        journal, self._journal = self._journal or [], None
        for undo in reversed(journal):
            undo()
        self.events = []

    def _remember(self, undo: Callable[[], object]) -> None:
        if self._journal is not None:
            self._journal.append(undo)

    # ------------------------------------------------------------------ writing

    def next_id(self, collection: str) -> int:
        last = self._last_ids.get(collection)
        if last is None:
            last = max(self.tables[collection], default=ID_FLOORS[collection] - 1)
        self._last_ids[collection] = last + 1
        return last + 1

    def insert(self, collection: str, values: Record, *, event: bool = True) -> Record:
        """Add a record with every schema field present (defaults for the missing ones)."""
        resource = RESOURCES[collection]
        moment = self.timestamp()
        record: Record = {name: spec.initial() for name, spec in resource.fields.items()}
        record.update(values)
        if record.get("id") is None:
            record["id"] = self.next_id(collection)
        record["created_on"] = values.get("created_on") or moment
        record["updated_on"] = values.get("updated_on") or moment
        table = self.tables[collection]
        table[record["id"]] = record
        self._remember(lambda: table.pop(record["id"], None))
        if event and resource.model is not None:
            self.events.append(Event(resource.model, "insert", record["id"], collection))
        return record

    def update(self, collection: str, record_id: int, changes: Record, *, event: bool = True) -> Record:
        """Apply changes and bump `updated_on` (explicit and derived changes alike)."""
        record = self.require(collection, record_id)
        before = dict(record)
        record.update(changes)
        record["updated_on"] = self.timestamp()

        def undo() -> None:
            record.clear()
            record.update(before)

        self._remember(undo)
        model = RESOURCES[collection].model
        if event and model is not None:
            self.events.append(Event(model, "update", record_id, collection))
        return record

    def delete(self, collection: str, record_id: int) -> Record:
        table = self.tables[collection]
        record = table.pop(record_id)
        self._remember(lambda: table.__setitem__(record_id, record))
        model = RESOURCES[collection].model
        if model is not None:
            self.events.append(Event(model, "delete", record_id, collection, snapshot=dict(record)))
        return record

    def emit(self, collection: str, action: str, record_id: int) -> None:
        model = RESOURCES[collection].model
        if model is not None:
            self.events.append(Event(model, action, record_id, collection))

    def set_company(self, changes: Record) -> None:
        before = dict(self.company)

        def undo() -> None:
            self.company.clear()
            self.company.update(before)

        self.company.update(changes)
        self.company["updated_on"] = self.timestamp()
        self._remember(undo)

    def drop_session(self, session_id: str) -> None:
        session = self.sessions.pop(session_id)
        self._remember(lambda: self.sessions.__setitem__(session_id, session))

    def new_session_number(self) -> int:
        self._session_counter += 1
        return self._session_counter


def _coalesce(events: list[Event]) -> list[Event]:
    """One request → at most one event per record and action: an insert absorbs later updates, a delete
    absorbs everything before it. GUESS: Paymo's exact firing is undocumented beyond "one per change"."""
    result: list[Event] = []
    seen: dict[tuple[str, int], Event] = {}
    for event in events:
        if event.action in ("start", "stop"):
            result.append(event)
            continue
        key = (event.collection, event.record_id)
        earlier = seen.get(key)
        if event.action == "update" and earlier is not None and earlier.action in ("insert", "update"):
            continue
        if event.action == "delete":
            result = [
                e for e in result if (e.collection, e.record_id) != key or e.action in ("start", "stop")
            ]
            if earlier is not None and earlier.action == "insert":
                seen.pop(key, None)
                continue
        seen[key] = event
        result.append(event)
    return result
