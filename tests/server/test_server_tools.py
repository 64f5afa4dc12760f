"""The tool surface: names, annotations, schemas; read-only tools never ask a human."""

from __future__ import annotations

from typing import Any

import pytest

WRITE_TOOLS = {
    "find_client_match": {
        "paymo_client_id",
        "create_if_missing",
        "update_details",
        "qbo_customer_id",
        "dry_run",
        "approval_id",
    },
    "sync_invoice": {
        "paymo_invoice_id",
        "paymo_invoice_ids",
        "date_from",
        "date_to",
        "statuses",
        "dry_run",
        "approval_id",
    },
    "mark_paid": {"paymo_invoice_id", "since", "direction", "dry_run", "approval_id"},
    "push_expenses": {"expense_ids", "date_from", "date_to", "dry_run", "approval_id"},
    "aggregate_time": {"date_from", "date_to", "group_by", "target", "dry_run", "approval_id"},
    "create_po_from_budget": {"paymo_project_id", "kind", "dry_run", "approval_id"},
}
READ_TOOLS = {"reconciliation_report": {"date_from", "date_to"}, "sync_status": set()}
WRITE_RESULT_FIELDS = {"status", "plan_hash", "summary", "approval_id", "results"}


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_tool_list_is_exactly_the_documented_surface(server_env: Any, mode: str) -> None:
    async with server_env.client(mode=mode) as client:
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(listed) == set(WRITE_TOOLS) | set(READ_TOOLS)
    for name, arguments in {**WRITE_TOOLS, **READ_TOOLS}.items():
        tool = listed[name]
        properties = set(tool.input_schema.get("properties", {}))
        assert properties == arguments, name
        # Resolver parameters (the plan, the confirmation) are hidden from the agent.
        assert not {"prepared", "confirmation", "ctx"} & properties
        assert tool.description is not None
        assert len(tool.description) > 80, name
        annotations = tool.annotations
        assert annotations is not None
        assert annotations.title, name
        for hint in ("read_only_hint", "destructive_hint", "idempotent_hint", "open_world_hint"):
            assert getattr(annotations, hint) is not None, (name, hint)
        assert tool.output_schema is not None, name
        assert annotations.read_only_hint is (name in READ_TOOLS)
        assert annotations.idempotent_hint is True
    for name in WRITE_TOOLS:
        assert set(listed[name].output_schema["properties"]) >= WRITE_RESULT_FIELDS, name  # type: ignore[index]
    invoice_fields = set(listed["sync_invoice"].output_schema["properties"])  # type: ignore[index]
    assert {"qbo_invoice_id", "paymo_total", "qbo_total"} <= invoice_fields
    match_fields = set(listed["find_client_match"].output_schema["properties"])  # type: ignore[index]
    assert {"decision", "customer", "candidates"} <= match_fields
    assert listed["sync_invoice"].annotations.destructive_hint is True  # type: ignore[union-attr]
    assert listed["push_expenses"].annotations.destructive_hint is False  # type: ignore[union-attr]


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_read_only_tools_never_trigger_approval(server_env: Any, mode: str) -> None:
    asked: list[Any] = []

    async def human(context: Any, params: Any) -> Any:  # pragma: no cover - must not be called
        asked.append(params)
        raise AssertionError("a read-only tool asked the human")

    async with server_env.client(mode=mode, human=human) as client:
        status = await client.call_tool("sync_status", {})
    assert not status.is_error, status.content
    assert status.structured_content is not None
    assert status.structured_content["connection"] == "sandbox (test)"
    assert status.structured_content["pending_approvals"] == []
    assert asked == []


async def test_resources_and_prompts(server_env: Any) -> None:
    async with server_env.client() as client:
        resources = {str(r.uri) for r in (await client.list_resources()).resources}
        assert {"paymo-qb://policy", "paymo-qb://audit/recent", "paymo-qb://approvals/pending"} <= resources
        policy = await client.read_resource("paymo-qb://policy")
        assert "version: 1" in policy.contents[0].text  # type: ignore[union-attr]
        prompts = {p.name for p in (await client.list_prompts()).prompts}
        assert {"month_end_reconciliation", "onboard_new_client"} <= prompts
        prompt = await client.get_prompt("month_end_reconciliation", {"month": "November 2026"})
        text = prompt.messages[0].content.text  # type: ignore[union-attr]
        assert "reconciliation_report" in text
        assert "never approve" in text
