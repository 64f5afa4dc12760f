"""How records look through the API: computed fields, `where` lookups, `include` trees and rendering."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from paymo_qb_mcp.sandbox.paymo.schema import RESOURCES, Kind, Resource
from paymo_qb_mcp.sandbox.paymo.state import PaymoState, Record
from paymo_qb_mcp.sandbox.paymo.where import Condition, check_operands, invalid_where, matches, parse_where
from paymo_qb_mcp.sandbox.paymo.wire import (
    parse_datetime,
    plus_seconds,
    render_value,
    start_of_utc_day,
    unknown_reference,
)

# Included collections are capped per resource type per response (staff answer, issue #68).
INCLUDE_CAP = 2500


@dataclass
class IncludeNode:
    """One level of an `include` request: which own fields, which relations, which child filters."""

    collection: str
    fields: list[str] = field(default_factory=list)
    star: bool = False
    relations: dict[str, IncludeNode] = field(default_factory=dict)
    conditions: list[Condition] = field(default_factory=list)

    def shows_all_fields(self) -> bool:
        return self.star or not self.fields


def parse_include(collection: str, text: str | None) -> IncludeNode:
    """`tasklists,tasklists.tasks`, `project.name,project.client.name`, `*,project.name`, `name,client`."""
    root = IncludeNode(collection)
    if not text:
        return root
    for raw_path in text.split(","):
        path = raw_path.strip()
        if not path:
            continue
        node = root
        segments = path.split(".")
        for index, segment in enumerate(segments):
            last = index == len(segments) - 1
            resource = RESOURCES[node.collection]
            if segment == "*" and last:
                node.star = True
            elif segment in resource.relations:
                relation = resource.relations[segment]
                child = node.relations.get(segment)
                if child is None:
                    child = node.relations[segment] = IncludeNode(relation.target)
                if last:
                    # A bare relation key asks for the whole object, even next to `key.field`.
                    child.star = True
                node = child
            elif last and segment in resource.fields:
                if segment not in node.fields:
                    node.fields.append(segment)
            else:
                raise unknown_reference(segment)
    return root


class Reader:
    """Reads the state on behalf of one request (one authenticated user, one include budget)."""

    def __init__(
        self,
        state: PaymoState,
        current_user_id: int,
        *,
        public_host: str,
        include_cap: int = INCLUDE_CAP,
    ) -> None:
        self.state = state
        self.current_user_id = current_user_id
        self.public_host = public_host
        self._include_budget: dict[str, int] = {}
        self._child_index: dict[tuple[str, str], dict[Any, list[Record]]] = {}
        self._include_cap = include_cap

    # ------------------------------------------------------------------ values

    def value(self, collection: str, record: Record, name: str) -> Any:
        """A field as the API shows it, computed fields included."""
        if collection == "users" and name in ("assigned_projects", "managed_projects"):
            list_field = "users" if name == "assigned_projects" else "managers"
            return [p["id"] for p in self.state.rows("projects") if record["id"] in p[list_field]]
        if name in ("permalink", "pdf_link") and collection in ("invoices", "estimates"):
            file_format = "html" if name == "permalink" else "pdf"
            link = f"{self.public_host}/api/{collection}/{record['id']}/"
            return f"{link}?token={record['token']}&format={file_format}"
        if collection == "expenses" and name == "price":
            return record.get("amount")
        if collection == "entries" and name == "duration" and _is_running(record):
            # GUESS: a running timer has no duration yet.
            return None
        return record.get(name)

    def filter_value(self, collection: str, record: Record, name: str) -> tuple[Kind, Any]:
        resource = RESOURCES[collection]
        if collection == "entries" and name in ("start_time", "end_time") and record.get("is_bulk"):
            # GUESS: a date+duration entry filters as if it ran from 00:00 UTC of its date, which is how
            # one live client found `time_interval` to behave ("matched in UTC").
            start = start_of_utc_day(record["date"])
            moment = start if name == "start_time" else plus_seconds(start, record.get("duration") or 0)
            return Kind.DATETIME, moment
        if collection == "entries" and name == "client_id":
            project = self.state.get("projects", record.get("project_id"))
            return Kind.INT, project.get("client_id") if project else None
        if name in resource.fields:
            return resource.fields[name].kind, self.value(collection, record, name)
        raise unknown_reference(name)

    # ------------------------------------------------------------------ where

    def validate_conditions(self, collection: str, conditions: list[Condition]) -> None:
        """Check field names up front so an unknown field is a 400 even when the table is empty."""
        for condition in conditions:
            resource = RESOURCES[collection]
            for segment in condition.path[:-1]:
                relation = resource.relations.get(segment)
                if relation is None or relation.parent:
                    # Filtering a list by a property of an included parent is not possible (issue #8).
                    raise unknown_reference(".".join(condition.path))
                resource = RESOURCES[relation.target]
            name = condition.field
            if name not in resource.fields and name not in resource.filter_only:
                raise unknown_reference(name)
            if name == "time_interval":
                if condition.operator != "in" or len(condition.operands) != 2:
                    raise invalid_where(condition.source)
                for operand in condition.operands:
                    try:
                        parse_datetime(operand.text)
                    except ValueError:
                        raise invalid_where(condition.source) from None
                continue
            kind = resource.fields[name].kind if name in resource.fields else resource.filter_only[name]
            check_operands(condition, kind)

    def holds(self, collection: str, record: Record, condition: Condition) -> bool:
        if collection == "entries" and condition.field == "time_interval":
            return self._in_time_interval(record, condition)
        if collection == "tasks" and condition.field == "mytasks":
            mine = self.current_user_id in (record.get("users") or [])
            return matches(condition, Kind.BOOL, mine)
        kind, value = self.filter_value(collection, record, condition.field)
        return matches(condition, kind, value)

    def _in_time_interval(self, record: Record, condition: Condition) -> bool:
        try:
            start, end = (parse_datetime(operand.text) for operand in condition.operands)
        except ValueError:
            raise invalid_where(condition.source) from None
        _, moment = self.filter_value("entries", record, "start_time")
        # GUESS: the interval is half-open, [start, end): the docs' example spans Dec 1 .. Jan 1.
        return moment is not None and start <= moment < end

    def select(self, collection: str, where: str | None) -> tuple[list[Record], list[Condition]]:
        """Rows of a list request, filtered by the own-field conditions; returns the child conditions."""
        conditions = parse_where(where) if where else []
        self.validate_conditions(collection, conditions)
        own = [c for c in conditions if len(c.path) == 1]
        nested = [c for c in conditions if len(c.path) > 1]
        rows = [r for r in self.visible_rows(collection) if all(self.holds(collection, r, c) for c in own)]
        return rows, nested

    def visible_rows(self, collection: str) -> list[Record]:
        rows = self.state.rows(collection)
        if collection == "hooks":
            # You only see the hooks you created.
            return [r for r in rows if r.get("owner_id") == self.current_user_id]
        return rows

    # ------------------------------------------------------------------ rendering

    def render(self, collection: str, record: Record, node: IncludeNode | None = None) -> dict[str, Any]:
        node = node or IncludeNode(collection)
        resource = RESOURCES[collection]
        names = list(resource.fields) if node.shows_all_fields() else list(node.fields)
        out: dict[str, Any] = {}
        for name in names:
            if _omitted(resource, record, name):
                continue
            out[name] = render_value(resource.fields[name].kind, self.value(collection, record, name))
        for key, child_node in node.relations.items():
            relation = resource.relations[key]
            if relation.parent:
                target = self.state.get(relation.target, record.get(relation.local))
                out[key] = None if target is None else self.render(relation.target, target, child_node)
            else:
                out[key] = self._render_children(record, relation.target, relation.remote, child_node)
        return out

    def _children_of(self, target: str, remote: str, parent_id: int) -> list[Record]:
        # One pass per (table, key) and request, so including lines on thousands of invoices stays linear.
        index = self._child_index.get((target, remote))
        if index is None:
            index = self._child_index[(target, remote)] = {}
            for row in self.state.rows(target):
                index.setdefault(row.get(remote), []).append(row)
        return index.get(parent_id, [])

    def _render_children(self, record: Record, target: str, remote: str, node: IncludeNode) -> list[Any]:
        children = [
            child
            for child in self._children_of(target, remote, record["id"])
            if all(self.holds(target, child, c) for c in node.conditions)
        ]
        # Beyond the cap Paymo silently returns short or empty arrays (issue #68).
        left = self._include_budget.setdefault(target, self._include_cap)
        kept = children[: max(left, 0)]
        self._include_budget[target] = left - len(kept)
        return [self.render(target, child, node) for child in kept]


def attach_child_conditions(root: IncludeNode, conditions: list[Condition]) -> None:
    """`where=projects.active=true` filters the included projects of each client (staff, issue #8)."""
    for condition in conditions:
        node: IncludeNode | None = root
        for segment in condition.path[:-1]:
            node = node.relations.get(segment) if node is not None else None
        if node is not None:
            # GUESS: a condition on a child that is not included is ignored rather than refused.
            node.conditions.append(
                Condition(condition.path[-1:], condition.operator, condition.operands, condition.source)
            )


def _is_running(record: Record) -> bool:
    return not record.get("is_bulk") and record.get("end_time") is None


def _omitted(resource: Resource, record: Record, name: str) -> bool:
    """Entries: `start_time`/`end_time` are absent on date+duration entries, `date` on start/end ones."""
    if resource.collection != "entries":
        return False
    if record.get("is_bulk"):
        return name in ("start_time", "end_time")
    return name == "date"
