"""Paymo webhook delivery: event matching (wildcards, `where`), payloads, HMAC-SHA1 signatures, 410 Gone."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

import httpx

from paymo_qb_mcp.sandbox.paymo.schema import WEBHOOK_INCLUDES
from paymo_qb_mcp.sandbox.paymo.state import Event, PaymoState, Record
from paymo_qb_mcp.sandbox.paymo.views import Reader, parse_include
from paymo_qb_mcp.sandbox.paymo.where import parse_where
from paymo_qb_mcp.sandbox.paymo.wire import ApiError, dumps

DELIVERY_TIMEOUT_S = 10.0


@dataclass
class WebhookDelivery:
    """One notification: what was sent where, and how the target answered (None = no answer)."""

    hook_id: int
    event: str
    target_url: str
    body: bytes
    headers: dict[str, str]
    status: int | None = None
    error: str | None = None


def event_name(event: Event) -> str:
    return f"model.{event.action}.{event.model}"


def hook_listens(pattern: str, name: str) -> bool:
    """`*`, `model.insert.*`, `*.Task` or an exact event name."""
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return name.startswith(pattern[:-1])
    if pattern.startswith("*."):
        return name.endswith(pattern[1:])
    return pattern == name


def signature(secret: str, body: bytes) -> str:
    """`X-Paymo-Signature`: `sha1=` + lowercase hex HMAC-SHA1 of the exact body bytes."""
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def plan_deliveries(state: PaymoState, events: list[Event], public_host: str) -> list[WebhookDelivery]:
    """Computed right after the commit, so each payload is the record as that request left it."""
    deliveries: list[WebhookDelivery] = []
    for event in events:
        name = event_name(event)
        record = event.snapshot if event.action == "delete" else state.get(event.collection, event.record_id)
        if record is None:
            continue
        for hook in state.rows("hooks"):
            if not hook_listens(str(hook["event"]), name):
                continue
            reader = Reader(state, int(hook.get("owner_id") or 0), public_host=public_host)
            if hook.get("where") and not _where_holds(reader, event.collection, record, str(hook["where"])):
                continue
            body = dumps(_payload(reader, event, record))
            headers = {
                "Content-Type": "application/json",
                "X-Paymo-Webhook": str(hook["id"]),
                "X-Paymo-Event": name,
            }
            if hook.get("secret"):
                headers["X-Paymo-Signature"] = signature(str(hook["secret"]), body)
            deliveries.append(WebhookDelivery(hook["id"], name, str(hook["target_url"]), body, headers))
    return deliveries


def _where_holds(reader: Reader, collection: str, record: Record, where: str) -> bool:
    # A `where` that does not parse (possible with wildcard events) silently stops the hook firing.
    try:
        conditions = parse_where(where)
        reader.validate_conditions(collection, conditions)
        return all(reader.holds(collection, record, c) for c in conditions if len(c.path) == 1)
    except ApiError:
        return False


def _payload(reader: Reader, event: Event, record: Record) -> dict[str, object]:
    """Insert/update: the object at the JSON root with the model's extra includes; delete: only the id."""
    if event.action == "delete":
        return {"id": event.record_id}
    include = parse_include(event.collection, WEBHOOK_INCLUDES.get(event.model))
    return reader.render(event.collection, record, include)


async def send_deliveries(
    state: PaymoState,
    deliveries: list[WebhookDelivery],
    transport: httpx.AsyncBaseTransport | None,
    log: list[WebhookDelivery],
) -> None:
    """POST each notification; record the target's status on the hook; a 410 Gone deletes the hook.
    GUESS: no retries (Paymo's retry policy is undocumented)."""
    if not deliveries:
        return
    async with httpx.AsyncClient(transport=transport, timeout=DELIVERY_TIMEOUT_S) as client:
        for delivery in deliveries:
            try:
                response = await client.post(
                    delivery.target_url, content=delivery.body, headers=delivery.headers
                )
            except httpx.HTTPError as exc:
                delivery.error = type(exc).__name__
                log.append(delivery)
                continue
            delivery.status = response.status_code
            log.append(delivery)
            hook = state.get("hooks", delivery.hook_id)
            if hook is None:
                continue
            if response.status_code == 410:
                state.tables["hooks"].pop(delivery.hook_id, None)
            else:
                hook["last_status_code"] = response.status_code
