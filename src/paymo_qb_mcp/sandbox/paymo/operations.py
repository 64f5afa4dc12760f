"""Paymo write rules per collection: validation, derived fields, time entries, cascades, hooks, company."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from paymo_qb_mcp.sandbox.paymo.billing import ESTIMATE, INVOICE, Billing
from paymo_qb_mcp.sandbox.paymo.context import NO_RIGHTS, Actor
from paymo_qb_mcp.sandbox.paymo.schema import (
    COMPANY_IDENTITY_KEYS,
    COMPANY_SETTING_KEYS,
    MODEL_COLLECTIONS,
    PAYMO_CURRENCIES,
    RESOURCES,
    USER_TYPES,
    WEBHOOK_EVENTS,
    Kind,
)
from paymo_qb_mcp.sandbox.paymo.state import Record
from paymo_qb_mcp.sandbox.paymo.views import Reader
from paymo_qb_mcp.sandbox.paymo.where import parse_where
from paymo_qb_mcp.sandbox.paymo.wire import ApiError, coerce, invalid_value, money_out

MINIMUM_TIMED_ENTRY_S = 60
SAMPLE_CLIENT_NAME = "Sample Client"
DEFAULT_TASKLIST_NAME = "Default Task List"


class Writer(Billing):
    """Creates, updates and deletes records the way Paymo does, for one request at a time."""

    def create(self, collection: str, body: dict[str, Any], actor: Actor) -> Record:
        handler = getattr(self, f"_create_{collection}", None)
        if handler is None or RESOURCES[collection].read_only_endpoint:
            # GUESS: lines change through their document; direct writes are refused as not allowed.
            raise ApiError(405, "Method Not Allowed")
        record: Record = handler(body, actor)
        return record

    def update(self, collection: str, record_id: int, body: dict[str, Any], actor: Actor) -> Record:
        handler = getattr(self, f"_update_{collection}", None)
        if handler is None or RESOURCES[collection].read_only_endpoint:
            raise ApiError(405, "Method Not Allowed")
        record: Record = handler(record_id, body, actor)
        return record

    def delete(self, collection: str, record_id: int, actor: Actor) -> None:
        handler = getattr(self, f"_delete_{collection}", None)
        if handler is None or RESOURCES[collection].read_only_endpoint:
            raise ApiError(405, "Method Not Allowed")
        handler(record_id, actor)

    # ------------------------------------------------------------------ clients and contacts

    def _create_clients(self, body: dict[str, Any], actor: Actor) -> Record:
        self.require_admin(actor)
        self.require_params(body, RESOURCES["clients"].required)
        return self.state.insert("clients", self.writable(RESOURCES["clients"], body))

    def _update_clients(self, record_id: int, body: dict[str, Any], actor: Actor) -> Record:
        self.require_admin(actor)
        self.state.require("clients", record_id)
        changes = self.writable(RESOURCES["clients"], body)
        if "name" in changes and not changes["name"]:
            raise invalid_value("name")
        return self.state.update("clients", record_id, changes)

    def _delete_clients(self, record_id: int, actor: Actor) -> None:
        """Deleting a client cascades to its projects, task lists, tasks and time entries (clients.md).
        GUESS: its contacts go too; invoices, estimates and expenses stay (financial records)."""
        self.require_admin(actor)
        self.state.require("clients", record_id)
        for project in self.state.where_equal("projects", "client_id", record_id):
            self._cascade_project(project["id"])
        for contact in self.state.where_equal("clientcontacts", "client_id", record_id):
            self.state.delete("clientcontacts", contact["id"])
        self.state.delete("clients", record_id)

    def _create_clientcontacts(self, body: dict[str, Any], actor: Actor) -> Record:
        self.require_admin(actor)
        self.require_params(body, RESOURCES["clientcontacts"].required)
        values = self.writable(RESOURCES["clientcontacts"], body)
        self.reference("clients", values["client_id"], "client_id")
        contact = self.state.insert("clientcontacts", values)
        self._single_main_contact(contact)
        return contact

    def _update_clientcontacts(self, record_id: int, body: dict[str, Any], actor: Actor) -> Record:
        self.require_admin(actor)
        self.state.require("clientcontacts", record_id)
        changes = self.writable(RESOURCES["clientcontacts"], body)
        if "client_id" in changes:
            self.reference("clients", changes["client_id"], "client_id")
        contact = self.state.update("clientcontacts", record_id, changes)
        self._single_main_contact(contact)
        return contact

    def _single_main_contact(self, contact: Record) -> None:
        # GUESS: `is_main` marks *the* main contact, so setting it clears it on the client's others.
        if not contact.get("is_main"):
            return
        for other in self.state.where_equal("clientcontacts", "client_id", contact["client_id"]):
            if other["id"] != contact["id"] and other.get("is_main"):
                self.state.update("clientcontacts", other["id"], {"is_main": False})

    def _delete_clientcontacts(self, record_id: int, actor: Actor) -> None:
        self.require_admin(actor)
        self.state.require("clientcontacts", record_id)
        self.state.delete("clientcontacts", record_id)

    # ------------------------------------------------------------------ projects, task lists, tasks

    def _create_projects(self, body: dict[str, Any], actor: Actor) -> Record:
        self.require_admin(actor)
        limit = self.state.company.get("max_projects")
        if limit is not None and len(self.state.tables["projects"]) >= int(limit):
            raise ApiError(403, "Adding projects denied. Projects limit reached.")
        self.require_params(body, RESOURCES["projects"].required)
        values = self.writable(RESOURCES["projects"], body)
        if values.get("client_id") is None:
            values["client_id"] = self._sample_client()["id"]
        else:
            self.reference("clients", values["client_id"], "client_id")
        if "users" not in values:
            # GUESS: the creator is assigned to a project created without a user list.
            values["users"] = [actor.user_id]
        self._check_project_people(values)
        if not values.get("code"):
            values["code"] = _project_code(values["name"])
        return self.state.insert("projects", values)

    def _sample_client(self) -> Record:
        """A project created without `client_id` goes to a "Sample Client" (projects.md)."""
        for client in self.state.where_equal("clients", "name", SAMPLE_CLIENT_NAME):
            return client
        return self.state.insert("clients", {"name": SAMPLE_CLIENT_NAME})

    def _check_project_people(self, values: dict[str, Any]) -> None:
        users = list(values.get("users") or [])
        managers = list(values.get("managers") or [])
        for user_id in [*users, *managers]:
            self.reference("users", user_id, "users")
        # Managers are a subset of users.
        values["users"] = users + [m for m in managers if m not in users]
        if "managers" in values:
            values["managers"] = managers

    def _update_projects(self, record_id: int, body: dict[str, Any], actor: Actor) -> Record:
        project = self.state.require("projects", record_id)
        if not actor.is_admin and actor.user_id not in project.get("managers", []):
            # projects.md: a user without rights gets 403 on project update.
            raise ApiError(403, NO_RIGHTS)
        changes = self.writable(RESOURCES["projects"], body)
        if "client_id" in changes:
            self.reference("clients", changes["client_id"], "client_id")
        if "users" in changes or "managers" in changes:
            people = {
                "users": changes.get("users", project["users"]),
                "managers": changes.get("managers", project["managers"]),
            }
            self._check_project_people(people)
            changes.update(people)
        return self.state.update("projects", record_id, changes)

    def _delete_projects(self, record_id: int, actor: Actor) -> None:
        self.require_admin(actor)
        self.state.require("projects", record_id)
        self._cascade_project(record_id)

    def _cascade_project(self, project_id: int) -> None:
        """A project takes its task lists, tasks and time entries with it (projects.md)."""
        for tasklist in self.state.where_equal("tasklists", "project_id", project_id):
            self._cascade_tasklist(tasklist["id"])
        for task in self.state.where_equal("tasks", "project_id", project_id):
            self._cascade_task(task["id"])
        self.state.delete("projects", project_id)

    def _create_tasklists(self, body: dict[str, Any], actor: Actor) -> Record:
        self.require_params(body, RESOURCES["tasklists"].required)
        values = self.writable(RESOURCES["tasklists"], body)
        self.reference("projects", values["project_id"], "project_id")
        if values.get("seq") is None:
            values["seq"] = len(self.state.where_equal("tasklists", "project_id", values["project_id"])) + 1
        return self.state.insert("tasklists", values)

    def _update_tasklists(self, record_id: int, body: dict[str, Any], actor: Actor) -> Record:
        self.state.require("tasklists", record_id)
        # GUESS: moving a task list to another project is not supported; `project_id` is ignored.
        changes = self.writable(RESOURCES["tasklists"], body, skip=("project_id",))
        return self.state.update("tasklists", record_id, changes)

    def _delete_tasklists(self, record_id: int, actor: Actor) -> None:
        self.state.require("tasklists", record_id)
        self._cascade_tasklist(record_id)

    def _cascade_tasklist(self, tasklist_id: int) -> None:
        for task in self.state.where_equal("tasks", "tasklist_id", tasklist_id):
            self._cascade_task(task["id"])
        self.state.delete("tasklists", tasklist_id)

    def _create_tasks(self, body: dict[str, Any], actor: Actor) -> Record:
        self.require_params(body, RESOURCES["tasks"].required)
        values = self.writable(RESOURCES["tasks"], body)
        if values.get("tasklist_id") is not None:
            tasklist = self.reference("tasklists", values["tasklist_id"], "tasklist_id")
        elif values.get("project_id") is not None:
            project = self.reference("projects", values["project_id"], "project_id")
            tasklist = self._default_tasklist(project)
        else:
            raise ApiError(400, "Missing required params: tasklist_id")
        project = self.state.require("projects", tasklist["project_id"])
        values["tasklist_id"] = tasklist["id"]
        values["project_id"] = project["id"]
        for user_id in values.get("users") or []:
            self.reference("users", user_id, "users")
        if values.get("billable") is None:
            # GUESS: a new task follows its project's billability.
            values["billable"] = bool(project.get("billable"))
        if values.get("seq") is None:
            values["seq"] = len(self.state.where_equal("tasks", "tasklist_id", tasklist["id"])) + 1
        increment = int(project.get("task_code_increment") or 0) + 1
        self.state.update("projects", project["id"], {"task_code_increment": increment}, event=False)
        values["code"] = f"{project.get('code') or ''}-{increment}"
        values["user_id"] = actor.user_id
        return self.state.insert("tasks", values)

    def _default_tasklist(self, project: Record) -> Record:
        """A task created with only `project_id` lands in "Default Task List", created if missing."""
        for tasklist in self.state.where_equal("tasklists", "project_id", project["id"]):
            if tasklist["name"] == DEFAULT_TASKLIST_NAME:
                return tasklist
        seq = len(self.state.where_equal("tasklists", "project_id", project["id"])) + 1
        return self.state.insert(
            "tasklists", {"name": DEFAULT_TASKLIST_NAME, "project_id": project["id"], "seq": seq}
        )

    def _update_tasks(self, record_id: int, body: dict[str, Any], actor: Actor) -> Record:
        task = self.state.require("tasks", record_id)
        # `project_id` is read-only on the object: a task moves by changing its task list.
        changes = self.writable(RESOURCES["tasks"], body, skip=("project_id",))
        if changes.get("tasklist_id") is not None:
            tasklist = self.reference("tasklists", changes["tasklist_id"], "tasklist_id")
            changes["project_id"] = tasklist["project_id"]
        elif "tasklist_id" in changes:
            changes.pop("tasklist_id")
        for user_id in changes.get("users") or []:
            self.reference("users", user_id, "users")
        if "complete" in changes and changes["complete"] != task.get("complete"):
            done = bool(changes["complete"])
            changes["completed_on"] = self.state.timestamp() if done else None
            changes["completed_by"] = actor.user_id if done else None
        updated = self.state.update("tasks", record_id, changes)
        if "project_id" in changes:
            for entry in self.state.where_equal("entries", "task_id", record_id):
                self.state.update("entries", entry["id"], {"project_id": changes["project_id"]})
        return updated

    def _delete_tasks(self, record_id: int, actor: Actor) -> None:
        self.state.require("tasks", record_id)
        self._cascade_task(record_id)

    def _cascade_task(self, task_id: int) -> None:
        for entry in self.state.where_equal("entries", "task_id", task_id):
            self.state.delete("entries", entry["id"])
        self.state.delete("tasks", task_id)

    # ------------------------------------------------------------------ time entries

    def _create_entries(self, body: dict[str, Any], actor: Actor) -> Record:
        """Two shapes: (`task_id`, `start_time`, `end_time`) ≥ 1 minute, or (`task_id`, `date`, `duration`).
        `start_time` without `end_time` starts a timer; one running timer per user (409)."""
        self.require_params(body, RESOURCES["entries"].required)
        values = self.writable(RESOURCES["entries"], body)
        task = self.reference("tasks", values["task_id"], "task_id")
        project = self.state.require("projects", task["project_id"])
        if not project.get("active", True):
            # GUESS: wording; projects.md says archived projects take no time.
            raise ApiError(400, "Time cannot be added to an archived project.")
        values["project_id"] = project["id"]
        if values.get("user_id") is None:
            values["user_id"] = actor.user_id
        else:
            self.reference("users", values["user_id"], "user_id")
            if values["user_id"] != actor.user_id and not actor.is_admin:
                raise ApiError(403, NO_RIGHTS)
        timer = False
        if values.get("start_time") is not None:
            values["is_bulk"] = False
            values.pop("date", None)
            if values.get("end_time") is None:
                timer = True
                self._refuse_second_timer(values["user_id"])
                values["duration"] = None
                if "added_manually" not in body:
                    values["added_manually"] = False
            else:
                values["duration"] = self._timed_duration(values["start_time"], values["end_time"])
        elif values.get("date") is not None or values.get("duration") is not None:
            self.require_params(values, ("date", "duration"))
            self._check_bulk_duration(values["duration"])
            values["is_bulk"] = True
            values["start_time"] = values["end_time"] = None
        else:
            raise ApiError(400, "Missing required params: start_time, end_time")
        entry = self.state.insert("entries", values)
        if timer:
            self.state.emit("entries", "start", entry["id"])
        return entry

    def _refuse_second_timer(self, user_id: int, *, except_id: int | None = None) -> None:
        for entry in self.state.where_equal("entries", "user_id", user_id):
            running = not entry.get("is_bulk") and entry.get("end_time") is None
            if running and entry["id"] != except_id:
                # GUESS: wording; entries.md documents the 409 only.
                raise ApiError(409, "A timer is already running for this user.")

    @staticmethod
    def _timed_duration(start: Any, end: Any) -> int:
        seconds = int((end - start).total_seconds())
        if seconds < MINIMUM_TIMED_ENTRY_S:
            # GUESS: wording; entries.md: "the minimal time entry duration is 1 minute".
            raise ApiError(400, "The time entry must be at least 1 minute long.")
        return seconds

    @staticmethod
    def _check_bulk_duration(duration: Any) -> None:
        if duration is None or duration <= 0:
            # GUESS: a bulk entry needs a positive duration.
            raise invalid_value("duration")

    def _update_entries(self, record_id: int, body: dict[str, Any], actor: Actor) -> Record:
        entry = self.state.require("entries", record_id)
        if entry["user_id"] != actor.user_id and not actor.is_admin:
            raise ApiError(403, NO_RIGHTS)
        changes = self.writable(RESOURCES["entries"], body)
        if changes.get("task_id") is not None:
            task = self.reference("tasks", changes["task_id"], "task_id")
            changes["project_id"] = task["project_id"]
        else:
            changes.pop("task_id", None)
        if "user_id" in changes:
            if changes["user_id"] is None:
                changes.pop("user_id")
            else:
                self.reference("users", changes["user_id"], "user_id")
        stopped = False
        if entry.get("is_bulk"):
            # `duration` changes only on date+duration entries; their times are not theirs to set.
            # GUESS: start/end values sent to a bulk entry are ignored.
            changes.pop("start_time", None)
            changes.pop("end_time", None)
            if "date" in changes and changes["date"] is None:
                changes.pop("date")
            if "duration" in changes:
                self._check_bulk_duration(changes["duration"])
        else:
            # Start/end entries change through `end_time`; `duration` follows it (entries.md).
            changes.pop("duration", None)
            changes.pop("date", None)
            if changes.get("start_time") is None:
                changes.pop("start_time", None)
            if changes.get("end_time") is None:
                # GUESS: clearing `end_time` does not restart a stopped entry.
                changes.pop("end_time", None)
            start = changes.get("start_time", entry["start_time"])
            end = changes.get("end_time", entry["end_time"])
            if end is not None:
                changes["duration"] = self._timed_duration(start, end)
                stopped = entry.get("end_time") is None
        updated = self.state.update("entries", record_id, changes)
        if stopped:
            self.state.emit("entries", "stop", record_id)
        return updated

    def _delete_entries(self, record_id: int, actor: Actor) -> None:
        entry = self.state.require("entries", record_id)
        if entry["user_id"] != actor.user_id and not actor.is_admin:
            raise ApiError(403, NO_RIGHTS)
        self.state.delete("entries", record_id)

    # ------------------------------------------------------------------ users

    def _create_users(self, body: dict[str, Any], actor: Actor) -> Record:
        self.require_admin(actor)
        limit = self.state.company.get("max_users")
        if limit is not None and len(self.state.tables["users"]) >= int(limit):
            raise ApiError(403, "Could not add user. Maximum number of users reached.")
        self.require_params(body, RESOURCES["users"].required)
        values = self.writable(RESOURCES["users"], body)
        self._check_user_values(values, None)
        if values.get("price_per_hour") is None:
            default_rate = self.state.company.get("default_price_per_hour")
            values["price_per_hour"] = Decimal(str(default_rate)) if default_rate not in (None, "") else None
        if values.get("timezone") is None:
            values["timezone"] = self.state.company.get("timezone")
        user = self.state.insert("users", values)
        if body.get("password"):
            self.state.passwords[user["id"]] = coerce("password", Kind.TEXT, body["password"])
        return user

    def _check_user_values(self, values: dict[str, Any], user_id: int | None) -> None:
        if "type" in values and values["type"] not in USER_TYPES:
            raise invalid_value("type")
        email = values.get("email")
        if email is not None:
            for other in self.state.rows("users"):
                if other["id"] != user_id and str(other.get("email", "")).casefold() == email.casefold():
                    # GUESS: wording; e-mail addresses identify Paymo users, so duplicates are refused.
                    raise ApiError(400, "A user with this email already exists.")

    def _update_users(self, record_id: int, body: dict[str, Any], actor: Actor) -> Record:
        self.state.require("users", record_id)
        if record_id != actor.user_id:
            self.require_admin(actor)
        changes = self.writable(RESOURCES["users"], body)
        if "type" in changes and not actor.is_admin:
            raise ApiError(403, NO_RIGHTS)
        self._check_user_values(changes, record_id)
        if body.get("password"):
            self.state.passwords[record_id] = coerce("password", Kind.TEXT, body["password"])
        return self.state.update("users", record_id, changes)

    def _delete_users(self, record_id: int, actor: Actor) -> None:
        """Deleting a user deletes their time (users.md) and their ways in (keys, sessions)."""
        self.require_admin(actor)
        self.state.require("users", record_id)
        if record_id == actor.user_id:
            # GUESS: nobody deletes the account they are using.
            raise ApiError(403, NO_RIGHTS)
        for entry in self.state.where_equal("entries", "user_id", record_id):
            self.state.delete("entries", entry["id"])
        for project in self.state.rows("projects"):
            if record_id in project["users"] or record_id in project["managers"]:
                self.state.update(
                    "projects",
                    project["id"],
                    {
                        "users": [u for u in project["users"] if u != record_id],
                        "managers": [m for m in project["managers"] if m != record_id],
                    },
                )
        for key in [k for k, owner in self.state.api_keys.items() if owner == record_id]:
            del self.state.api_keys[key]
        for session_id in [s.id for s in self.state.sessions.values() if s.user_id == record_id]:
            self.state.drop_session(session_id)
        self.state.delete("users", record_id)

    # ------------------------------------------------------------------ billing

    def _create_invoices(self, body: dict[str, Any], actor: Actor) -> Record:
        return self.create_document(INVOICE, body, actor)

    def _update_invoices(self, record_id: int, body: dict[str, Any], actor: Actor) -> Record:
        return self.update_document(INVOICE, record_id, body, actor)

    def _delete_invoices(self, record_id: int, actor: Actor) -> None:
        self.delete_document(INVOICE, record_id, actor)

    def _create_estimates(self, body: dict[str, Any], actor: Actor) -> Record:
        return self.create_document(ESTIMATE, body, actor)

    def _update_estimates(self, record_id: int, body: dict[str, Any], actor: Actor) -> Record:
        return self.update_document(ESTIMATE, record_id, body, actor)

    def _delete_estimates(self, record_id: int, actor: Actor) -> None:
        self.delete_document(ESTIMATE, record_id, actor)

    def _create_invoicepayments(self, body: dict[str, Any], actor: Actor) -> Record:
        return self.create_payment(body, actor)

    def _update_invoicepayments(self, record_id: int, body: dict[str, Any], actor: Actor) -> Record:
        return self.update_payment(record_id, body, actor)

    def _delete_invoicepayments(self, record_id: int, actor: Actor) -> None:
        self.delete_payment(record_id, actor)

    # ------------------------------------------------------------------ expenses

    def _create_expenses(self, body: dict[str, Any], actor: Actor) -> Record:
        self.require_params(body, RESOURCES["expenses"].required)
        values = self.writable(RESOURCES["expenses"], body)
        self._check_expense_values(values)
        if values.get("user_id") is None:
            values["user_id"] = actor.user_id
        if values.get("date") is None:
            values["date"] = self.today()
        values["id"] = self.state.next_id("expenses")
        values["download_token"] = self.token("expenses-download", values["id"])
        return self.state.insert("expenses", values)

    def _check_expense_values(self, values: dict[str, Any]) -> None:
        if values.get("client_id") is not None:
            self.reference("clients", values["client_id"], "client_id")
        if values.get("project_id") is not None:
            self.reference("projects", values["project_id"], "project_id")
        if values.get("user_id") is not None:
            self.reference("users", values["user_id"], "user_id")
        if "currency" in values and values["currency"] not in PAYMO_CURRENCIES:
            raise invalid_value("currency")
        if "amount" in values and values["amount"] is None:
            raise invalid_value("amount")

    def _update_expenses(self, record_id: int, body: dict[str, Any], actor: Actor) -> Record:
        expense = self.state.require("expenses", record_id)
        if expense.get("user_id") != actor.user_id and not actor.is_admin:
            raise ApiError(403, NO_RIGHTS)
        changes = self.writable(RESOURCES["expenses"], body)
        if "client_id" in changes and changes["client_id"] is None:
            raise ApiError(400, "Missing required params: client_id")
        self._check_expense_values(changes)
        if changes.get("invoiced") is False and "invoice_item_id" not in changes:
            # Un-invoicing by hand also drops the link to the line that billed it.
            changes["invoice_item_id"] = None
        return self.state.update("expenses", record_id, changes)

    def _delete_expenses(self, record_id: int, actor: Actor) -> None:
        expense = self.state.require("expenses", record_id)
        if expense.get("user_id") != actor.user_id and not actor.is_admin:
            raise ApiError(403, NO_RIGHTS)
        self.state.delete("expenses", record_id)

    # ------------------------------------------------------------------ webhooks

    def _create_hooks(self, body: dict[str, Any], actor: Actor) -> Record:
        self.require_params(body, RESOURCES["hooks"].required)
        values = self.writable(RESOURCES["hooks"], body)
        self._check_hook(values.get("event"), values.get("where"))
        values["owner_id"] = actor.user_id
        values["secret"] = coerce("secret", Kind.TEXT, body.get("secret")) or None
        return self.state.insert("hooks", values)

    def _own_hook(self, record_id: int, actor: Actor) -> Record:
        hook = self.state.require("hooks", record_id)
        if hook.get("owner_id") != actor.user_id:
            # You only see hooks you created.
            raise ApiError(404, "Not Found")
        return hook

    def _update_hooks(self, record_id: int, body: dict[str, Any], actor: Actor) -> Record:
        hook = self._own_hook(record_id, actor)
        changes = self.writable(RESOURCES["hooks"], body)
        if changes.get("target_url") == "" or ("event" in changes and not changes["event"]):
            raise invalid_value("event" if "event" in changes else "target_url")
        self._check_hook(changes.get("event", hook["event"]), changes.get("where", hook["where"]))
        if "secret" in body:
            changes["secret"] = coerce("secret", Kind.TEXT, body["secret"]) or None
        # webhooks.md: "On update the webhook's last_response_code will be reset."
        changes["last_status_code"] = None
        return self.state.update("hooks", record_id, changes)

    def _delete_hooks(self, record_id: int, actor: Actor) -> None:
        self._own_hook(record_id, actor)
        self.state.delete("hooks", record_id)

    def _check_hook(self, event: Any, where: Any) -> None:
        if not _valid_event(str(event)):
            # GUESS: wording; an event outside the documented list is refused.
            raise ApiError(400, f"Invalid event: {event}")
        if where and "*" not in str(event):
            # With an exact event the `where` is validated at creation; with wildcards it is not.
            collection = MODEL_COLLECTIONS.get(str(event).rsplit(".", 1)[-1])
            conditions = parse_where(str(where))
            if collection is not None:
                Reader(self.state, 0, public_host="").validate_conditions(collection, conditions)

    # ------------------------------------------------------------------ company

    def update_company(self, body: dict[str, Any], actor: Actor) -> Record:
        """Settings are stored as strings, as Paymo returns them; read-only counters are ignored."""
        self.require_admin(actor)
        changes: dict[str, Any] = {}
        for key in (*COMPANY_SETTING_KEYS, *COMPANY_IDENTITY_KEYS):
            if key in body:
                changes[key] = _setting_string(key, body[key])
        if "default_currency" in changes and changes["default_currency"] not in PAYMO_CURRENCIES:
            raise invalid_value("default_currency")
        for key in ("next_invoice_number", "next_estimate_number"):
            if key in changes and not changes[key].isdigit():
                raise invalid_value(key)
        self.state.set_company(changes)
        return self.state.company


_EVENT_ACTIONS = ("insert", "update", "delete", "start", "stop")


def _valid_event(event: str) -> bool:
    """Exact documented events, or wildcards `*`, `model.<action>.*`, `*.<Model>`."""
    if event in WEBHOOK_EVENTS or event == "*":
        return True
    if event.startswith("model.") and event.endswith(".*"):
        return event[len("model.") : -2] in _EVENT_ACTIONS
    if event.startswith("*."):
        model = event[2:]
        return any(known.endswith(f".{model}") for known in WEBHOOK_EVENTS)
    return False


def _setting_string(key: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        return str(money_out(value))
    if isinstance(value, int | str):
        return str(value)
    raise invalid_value(key)


def _project_code(name: str) -> str:
    # GUESS: Paymo derives the code from the name's initials (its examples: "Sample Project" → "SP").
    initials = "".join(word[0] for word in re.findall(r"[A-Za-z0-9]+", name)).upper()
    return initials[:6] or "P"
