"""Paymo emulator webhooks: CRUD with a never-echoed secret, event matching, signed deliveries, 410 Gone."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from paymo_qb_mcp.sandbox.paymo import PaymoEmulator
from paymo_qb_mcp.sandbox.paymo import seed as facts
from paymo_qb_mcp.sandbox.paymo.webhooks import hook_listens, signature

BASE = "https://app.paymoapp.com"
TARGET = "https://receiver.example/paymo"


class Receiver:
    """Stands in for the webhook target; answers with a configurable status."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.status = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status)

    def events(self) -> list[str]:
        return [r.headers["X-Paymo-Event"] for r in self.requests]


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def emu(receiver: Receiver) -> PaymoEmulator:
    emulator = PaymoEmulator(rate_limits="relaxed")
    emulator.webhook_transport = httpx.MockTransport(receiver)
    return emulator


@pytest.fixture
async def api(emu: PaymoEmulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url=BASE, auth=(emu.api_key, "X")
    ) as client:
        yield client


def test_signature_matches_the_documented_example() -> None:
    assert signature("secret", b'{"id":"1679584"}') == "sha1=dc03736e396e70138bf7af4ffaa2948cde42dcf1"


@pytest.mark.parametrize(
    ("pattern", "event", "expected"),
    [
        ("*", "model.delete.Task", True),
        ("model.insert.*", "model.insert.Invoice", True),
        ("model.insert.*", "model.update.Invoice", False),
        ("*.Task", "model.update.Task", True),
        ("*.Task", "model.update.Tasklist", False),
        ("model.update.Invoice", "model.update.Invoice", True),
    ],
)
def test_event_patterns(pattern: str, event: str, expected: bool) -> None:
    assert hook_listens(pattern, event) is expected


async def test_hook_crud_never_echoes_the_secret(api: httpx.AsyncClient) -> None:
    created = await api.post(
        "/api/hooks", json={"target_url": TARGET, "event": "model.insert.Invoice", "secret": "s3cr3t"}
    )
    assert created.status_code == 201
    hook = created.json()["hooks"][0]
    assert set(hook) == {"id", "target_url", "event", "where", "last_status_code", "created_on", "updated_on"}
    assert b"s3cr3t" not in created.content
    listed = await api.get("/api/hooks")
    assert [h["id"] for h in listed.json()["hooks"]] == [hook["id"]]
    assert b"s3cr3t" not in listed.content
    updated = await api.put(f"/api/hooks/{hook['id']}", json={"target_url": TARGET + "/v2"})
    assert updated.json()["hooks"][0]["target_url"] == TARGET + "/v2"
    assert (await api.get(f"/api/hooks/{hook['id']}", params={"include": "secret"})).status_code == 400
    assert (await api.delete(f"/api/hooks/{hook['id']}")).status_code == 200
    assert (await api.get("/api/hooks")).json() == {"hooks": []}


async def test_hook_validation(api: httpx.AsyncClient) -> None:
    missing = await api.post("/api/hooks", json={"event": "model.insert.Task"})
    assert missing.json() == {"message": "Missing required params: target_url"}
    bad_event = await api.post("/api/hooks", json={"target_url": TARGET, "event": "model.explode.Task"})
    assert bad_event.status_code == 400
    bad_where = await api.post(
        "/api/hooks", json={"target_url": TARGET, "event": "model.insert.Task", "where": "project_id=="}
    )
    assert bad_where.status_code == 400
    # With a wildcard event the `where` is not checked at creation.
    wildcard = await api.post(
        "/api/hooks", json={"target_url": TARGET, "event": "*.Task", "where": "project_id=="}
    )
    assert wildcard.status_code == 201


async def test_hooks_are_private_to_their_creator(emu: PaymoEmulator, api: httpx.AsyncClient) -> None:
    hook_id = (await api.post("/api/hooks", json={"target_url": TARGET, "event": "*"})).json()["hooks"][0][
        "id"
    ]
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=emu.app), base_url=BASE, auth=(facts.BEN_API_KEY, "X")
    ) as ben:
        assert (await ben.get("/api/hooks")).json() == {"hooks": []}
        assert (await ben.get(f"/api/hooks/{hook_id}")).status_code == 404
        assert (await ben.delete(f"/api/hooks/{hook_id}")).status_code == 404


async def test_invoice_insert_delivery_is_signed_root_object(
    api: httpx.AsyncClient, receiver: Receiver, emu: PaymoEmulator
) -> None:
    hook = await api.post(
        "/api/hooks", json={"target_url": TARGET, "event": "model.insert.Invoice", "secret": "topsecret"}
    )
    hook_id = hook.json()["hooks"][0]["id"]
    created = await api.post(
        "/api/invoices",
        json={
            "client_id": facts.ACME,
            "currency": "CAD",
            "items": [{"item": "A", "price_unit": 10, "quantity": 1}],
        },
    )
    assert len(receiver.requests) == 1
    delivery = receiver.requests[0]
    raw = delivery.content
    assert delivery.headers["X-Paymo-Webhook"] == str(hook_id)
    assert delivery.headers["X-Paymo-Event"] == "model.insert.Invoice"
    expected = "sha1=" + hmac.new(b"topsecret", raw, hashlib.sha1).hexdigest()
    assert delivery.headers["X-Paymo-Signature"] == expected
    payload = json.loads(raw)
    assert payload["id"] == created.json()["invoices"][0]["id"]
    assert payload["client"] == {"name": "Acme Corporation"}
    assert [line["item"] for line in payload["invoiceitems"]] == ["A"]
    assert "invoices" not in payload
    assert emu.state.tables["hooks"][hook_id]["last_status_code"] == 200
    assert emu.webhook_deliveries[0].status == 200


async def test_payment_fires_payment_insert_and_invoice_update(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    await api.post("/api/hooks", json={"target_url": TARGET, "event": "*"})
    invoice_id = facts.INVOICE_IDS["INV-2026-1041"]
    await api.post("/api/invoicepayments", json={"invoice_id": invoice_id, "amount": "2874.38"})
    assert receiver.events() == ["model.insert.InvoicePayment", "model.update.Invoice"]
    assert json.loads(receiver.requests[1].content)["status"] == "paid"
    assert "X-Paymo-Signature" not in receiver.requests[0].headers


async def test_where_restricts_and_delete_body_is_only_the_id(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    await api.post(
        "/api/hooks",
        json={"target_url": TARGET, "event": "*.Task", "where": f"project_id={facts.SMITH_RETAINER}"},
    )
    await api.post("/api/tasks", json={"name": "Elsewhere", "project_id": facts.ACME_WEBSITE})
    assert receiver.requests == []
    created = await api.post("/api/tasks", json={"name": "Here", "project_id": facts.SMITH_RETAINER})
    task_id = created.json()["tasks"][0]["id"]
    assert receiver.events() == ["model.insert.Task"]
    task_payload = json.loads(receiver.requests[0].content)
    assert task_payload["project"] == {"name": "Smith & Sons Retainer"}
    assert task_payload["tasklist"] == {"name": "Default Task List"}
    await api.delete(f"/api/tasks/{task_id}")
    assert receiver.events()[-1] == "model.delete.Task"
    assert json.loads(receiver.requests[-1].content) == {"id": task_id}


async def test_timer_start_and_stop_events(api: httpx.AsyncClient, receiver: Receiver) -> None:
    await api.post("/api/hooks", json={"target_url": TARGET, "event": "*.Entry"})
    timer = await api.post(
        "/api/entries", json={"task_id": facts.TASK_DESIGN, "start_time": "2026-11-20T14:00:00Z"}
    )
    await api.put(
        f"/api/entries/{timer.json()['entries'][0]['id']}", json={"end_time": "2026-11-20T15:00:00Z"}
    )
    assert receiver.events() == [
        "model.insert.Entry",
        "model.start.Entry",
        "model.update.Entry",
        "model.stop.Entry",
    ]
    assert json.loads(receiver.requests[0].content)["task"] == {"name": "Design"}


async def test_update_resets_last_status_and_410_deletes_the_hook(
    emu: PaymoEmulator, api: httpx.AsyncClient, receiver: Receiver
) -> None:
    hook_id = (await api.post("/api/hooks", json={"target_url": TARGET, "event": "*.Client"})).json()[
        "hooks"
    ][0]["id"]
    receiver.status = 500
    await api.put(f"/api/clients/{facts.HOOLI}", json={"phone": "555"})
    assert emu.state.tables["hooks"][hook_id]["last_status_code"] == 500
    reset = await api.put(f"/api/hooks/{hook_id}", json={"where": "active=true"})
    assert reset.json()["hooks"][0]["last_status_code"] is None
    receiver.status = 410
    await api.put(f"/api/clients/{facts.HOOLI}", json={"phone": "556"})
    assert hook_id not in emu.state.tables["hooks"]


async def test_refused_write_fires_nothing(api: httpx.AsyncClient, receiver: Receiver) -> None:
    await api.post("/api/hooks", json={"target_url": TARGET, "event": "*"})
    await api.post(
        "/api/invoices", json={"client_id": facts.ACME, "currency": "CAD", "number": "INV-2026-1035"}
    )
    assert receiver.requests == []
